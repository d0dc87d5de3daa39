/*
 * The source side: a pool of connections to a MongoDB-protocol server (Cosmos DB, MongoDB,
 * FerretDB), the checks made before a job starts, collection metadata, and the translation of
 * driver errors into ccopy codes that name the host and keep the server's own code as cause.
 */
#ifndef CCOPY_SOURCE_H
#define CCOPY_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "cosmocopy/error.h"
#include "cosmocopy/window.h"
#include "retry.h"
#include "settings.h"

typedef struct _ccopy_source {
    mongoc_uri_t *uri;
    mongoc_client_pool_t *pool;
    char *hosts; /* "host:port[,host:port...]" for messages; never holds credentials */
} _ccopy_source_t;

typedef struct _ccopy_source_settings {
    int64_t server_timeout_ms; /* connectTimeoutMS and serverSelectionTimeoutMS unless in the URI */
    int64_t socket_timeout_ms; /* socketTimeoutMS unless in the URI                             */
    const char *tls_ca_file;   /* NULL, or a PEM file of CA certificates: turns TLS on          */
    int max_clients;
} _ccopy_source_settings_t;

/* The connection settings a job's options give (server_timeout_ms, socket_timeout_ms,
 * tls_ca_file), with one connection per window read at once (option parallel) plus one for
 * planning. tls_ca_file is borrowed from the settings. */
void _ccopy_source_settings_from(_ccopy_source_settings_t *out, const _ccopy_settings_t *settings);

/* Parse the connection string, apply the settings (a URI's own options win, except that a TLS
 * CA file given here is used) and make a pool of at most max_clients connections. EINVAL for a
 * malformed string (secrets masked) or an unreadable CA file. */
int _ccopy_source_open(_ccopy_source_t **out, const char *uri_text,
                       const _ccopy_source_settings_t *settings, ccopy_error_t *error);
void _ccopy_source_close(_ccopy_source_t *source);

/* Translate a driver/server error into *error and return its ccopy code. `what` says what was
 * being done ("reading shop.orders"); the message names the host(s). */
int _ccopy_source_error(_ccopy_source_t *source, ccopy_error_t *error, const bson_error_t *e,
                        const char *what);

/* The retry class of a driver/server error (network errors are retryable). */
_ccopy_retry_class_t _ccopy_source_error_class(const bson_error_t *e);

/* Every collection of db (views and system.* left out), sorted. ENOTFOUND names the database when
 * it has none: a database without collections does not exist on MongoDB-protocol servers. */
int _ccopy_source_list_collections(_ccopy_source_t *source, mongoc_client_t *client, const char *db,
                                   char ***out_names, size_t *out_count, ccopy_error_t *error);

/* mongodump's <collection>.metadata.json for one collection (canonical Extended JSON). */
int _ccopy_source_metadata_json(_ccopy_source_t *source, mongoc_client_t *client, const char *db,
                                const char *coll, char **out_json, ccopy_error_t *error);

/* Creation time of the collection's oldest ObjectId _id, or -1 when it has none. */
int _ccopy_source_oldest_oid_time(_ccopy_source_t *source, mongoc_client_t *client, const char *db,
                                  const char *coll, int64_t *out_time, ccopy_error_t *error);

/* Whether any document has an ObjectId _id in the window (one index-served read). */
int _ccopy_source_window_has_documents(_ccopy_source_t *source, mongoc_client_t *client,
                                       const char *db, const char *coll,
                                       const ccopy_window_t *window, int *out_has,
                                       ccopy_error_t *error);

/* Whether any document has an _id that is not an ObjectId (two index-served reads). */
int _ccopy_source_has_non_oid(_ccopy_source_t *source, mongoc_client_t *client, const char *db,
                              const char *coll, int *out_has, ccopy_error_t *error);

/* Number of documents whose _id is not an ObjectId (a scan only when there are some). */
int _ccopy_source_count_non_oid(_ccopy_source_t *source, mongoc_client_t *client, const char *db,
                                const char *coll, int64_t *out_count, ccopy_error_t *error);

/* The filter for documents whose _id is not an ObjectId: {_id: {$not: {$type: 7}}}. */
void _ccopy_non_oid_filter(bson_t *filter);

#endif
