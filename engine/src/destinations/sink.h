/*
 * The sink interface: where windows go and where the catalog of completed windows lives.
 * A sink stores named objects under (database, collection): large data objects written as a
 * stream and committed atomically, and small ones (manifests, metadata.json) written whole.
 * The window writer on top of it is shared by every sink: it streams documents through the
 * compressor into a data object, and writes the manifest only once the data is durable.
 */
#ifndef CCOPY_SINK_H
#define CCOPY_SINK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "cosmocopy/error.h"
#include "cosmocopy/manifest.h"
#include "cosmocopy/window.h"
#include "credentials.h"
#include "retry.h"
#include "settings.h"
#include "stream.h"

typedef struct _ccopy_sink _ccopy_sink_t;

/* for_writing of open: a writer without the lock, which another process holds for the job */
#define CCOPY_SINK_HELPER 2

typedef struct _ccopy_sink_ops {
    const char *scheme;
    /* Create what is missing and take the destination's lock (for_writing 1). for_writing
     * CCOPY_SINK_HELPER: write for a job that holds the lock in another process (a distributed
     * runner's worker): create what is missing, take no lock, leave temporaries alone. */
    int (*open)(_ccopy_sink_t *sink, int for_writing, ccopy_error_t *error);
    /* Names of the objects in a collection whose name ends with suffix (new array of new strings). */
    int (*list)(_ccopy_sink_t *sink, const char *db, const char *coll, const char *suffix,
                char ***out_names, size_t *out_count, ccopy_error_t *error);
    /* Databases, or collections of one database, that hold objects: their names, with the
     * components' escapes undone (_ccopy_sink_component_names). */
    int (*list_groups)(_ccopy_sink_t *sink, const char *db, char ***out_names, size_t *out_count,
                       ccopy_error_t *error);
    /* Read a small object whole (new NUL-terminated buffer). ENOTFOUND when absent. */
    int (*read_small)(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                      char **out, size_t *out_len, ccopy_error_t *error);
    /* Write a small object atomically and durably, replacing any older one. */
    int (*write_small)(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                       const char *data, size_t len, ccopy_error_t *error);
    /* Remove an object if present (durably). */
    int (*remove)(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                  ccopy_error_t *error);
    /* Stream a large object: begin, append, then commit (durable under its name) or abort. */
    int (*object_begin)(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                        void **out_object, ccopy_error_t *error);
    int (*object_append)(void *object, const uint8_t *data, size_t len, ccopy_error_t *error);
    int (*object_commit)(void *object, ccopy_error_t *error);
    void (*object_abort)(void *object);
    /* Stream the stored bytes of an object to out, in chunks of at most 1 MiB, in order.
     * ENOTFOUND naming the object when it is absent; a non-zero return of out stops the read
     * and is returned. Retryable failures (blob) resume where they stopped, never delivering a
     * byte twice. */
    int (*object_read)(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                       _ccopy_stream_out_fn out, void *user_data, ccopy_error_t *error);
    /* A human description of an object's location, for messages (new string). */
    char *(*describe)(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name);
    void (*close)(_ccopy_sink_t *sink);
} _ccopy_sink_ops_t;

struct _ccopy_sink {
    const _ccopy_sink_ops_t *ops;
    char *location; /* as the user wrote it, secrets masked */
    void *impl;
    int locked; /* opened for writing with the destination's lock: no other job writes here */
};

/* What a sink may need beyond its location (the blob sink; the folder sink needs none). */
typedef struct _ccopy_sink_settings {
    const char *blob_connection_string; /* NULL: $AZURE_STORAGE_CONNECTION_STRING */
    int create_container;
    int64_t block_size;                 /* first block size; doubles every 10,000 blocks */
    int blocks_in_flight;
    _ccopy_backoff_t backoff;           /* retries of one request */
    int64_t timeout_ms;                 /* of one request */
    atomic_int *canceled;               /* may be NULL */
    atomic_llong *retries;              /* may be NULL: counts retried requests */
    /* Key Vault references, Entra ID tokens and the HTTPS CA bundle (its canceled and retries
     * are the two above) */
    _ccopy_credential_settings_t credentials;
} _ccopy_sink_settings_t;

/* Defaults for every field (4 MiB blocks, 4 in flight, 10 retries from 200 ms up to 30 s,
 * 5 minutes a request). */
void _ccopy_sink_settings_default(_ccopy_sink_settings_t *settings);
/* The defaults, then what the settings say (block_size, blocks_in_flight, create_container,
 * blob_connection_string, blob_timeout_ms, the retry options, the credential options); settings
 * may be NULL.
 * blob_connection_string is borrowed from the settings. */
void _ccopy_sink_settings_from(_ccopy_sink_settings_t *out, const _ccopy_settings_t *settings);
/* The same from options (may be NULL), for callers that hold options rather than settings;
 * blob_connection_string is then borrowed from the options. */
void _ccopy_sink_settings_from_options(_ccopy_sink_settings_t *settings,
                                       const ccopy_options_t *options);

/* Open the sink named by a location: "dir:PATH", "azblob://CONTAINER[/PREFIX]" or a container
 * URL with a SAS. settings may be NULL (defaults). EINVAL names an unknown scheme. */
int _ccopy_sink_open(_ccopy_sink_t **out, const char *location, int for_writing,
                     const _ccopy_sink_settings_t *settings, ccopy_error_t *error);
void _ccopy_sink_close(_ccopy_sink_t *sink);
/* Why Blob Storage would refuse a container name, or NULL. */
const char *_ccopy_container_name_problem(const char *name);
/* Check a location's form without touching anything (EINVAL naming it). */
int _ccopy_sink_check_location(const char *location, ccopy_error_t *error);

/* A database or collection name as one folder or blob-name component (new string; NULL for
 * NULL). '/' cannot be in a file name and would nest blob names, Blob Storage reads '\' as '/'
 * and a blob name's segment must not end with '.', so a name holding '/' or '\' or ending with
 * '.' is percent-escaped (as mongodump escapes '/' in its file names): '%' as "%25", '/' as
 * "%2F", '\' as "%5C" and a last '.' as "%2E". A name that holds one of those escapes as written is
 * escaped too, so the escape stays reversible; every other name is its own component. */
char *_ccopy_sink_component(const char *name);
/* The name a component stands for (new string), and the same for each of names in place (what
 * list_groups returns). */
char *_ccopy_sink_component_name(const char *component);
void _ccopy_sink_component_names(char **names, size_t count);

/* The dir sink's constructor (sink_dir.c). */
int _ccopy_sink_dir_new(_ccopy_sink_t **out, const char *path, ccopy_error_t *error);
/* The blob sink's constructor (sink_blob.c): location is azblob://... or a SAS URL. */
int _ccopy_sink_blob_new(_ccopy_sink_t **out, const char *location,
                         const _ccopy_sink_settings_t *settings, ccopy_error_t *error);

/* Every manifest of a collection, sorted by window start (non-objectid last).
 * A manifest that cannot be parsed is ECORRUPT naming it. */
/* Remove the data objects of a collection that no manifest names: the data of a window that
 * failed before its manifest was written (a rerun may cut that time into windows of other
 * names, and the leftover would stay beside them for good, where a `cat *.bson` for stock
 * mongorestore reads it). Only with the destination's lock (sink opened for writing); objects
 * not named as a window writer names them are left alone. */
int _ccopy_sink_remove_orphans(_ccopy_sink_t *sink, const char *db, const char *coll,
                               const ccopy_manifest_t *manifests, size_t count,
                               ccopy_error_t *error);
int _ccopy_sink_read_manifests(_ccopy_sink_t *sink, const char *db, const char *coll,
                               ccopy_manifest_t **out, size_t *out_count, ccopy_error_t *error);
void _ccopy_manifests_free(ccopy_manifest_t *manifests, size_t count);

/* Object names of a window's data and manifest: "20260101T000000Z_20260101T040000Z.bson.zst",
 * "...manifest.json"; for the non-objectid pass "non-objectid.bson" / "non-objectid.manifest.json". */
char *_ccopy_window_data_name(ccopy_manifest_kind_t kind, const ccopy_window_t *window,
                              const char *format, _ccopy_compression_t compression);
char *_ccopy_window_manifest_name(ccopy_manifest_kind_t kind, const ccopy_window_t *window);

/* Writes one window. Not thread-safe; one per worker. */
typedef struct _ccopy_window_writer _ccopy_window_writer_t;

typedef struct _ccopy_window_writer_config {
    ccopy_manifest_kind_t kind;
    ccopy_window_t window;
    const char *db, *coll;
    const char *format; /* "bson" or "jsonl" */
    _ccopy_compression_t compression;
    int compress_level;
} _ccopy_window_writer_config_t;

int _ccopy_window_writer_new(_ccopy_window_writer_t **out, _ccopy_sink_t *sink,
                             const _ccopy_window_writer_config_t *config, ccopy_error_t *error);
/* Append one document exactly as the server returned it. */
int _ccopy_window_writer_add(_ccopy_window_writer_t *w, const bson_t *doc, ccopy_error_t *error);
/* Throw away what was written and start the window again (used when a pass must restart). */
int _ccopy_window_writer_restart(_ccopy_window_writer_t *w, ccopy_error_t *error);
/* Make the data durable, then write the manifest: only then is the window complete.
 * *out_manifest (optional) receives a copy of what was written. */
int _ccopy_window_writer_commit(_ccopy_window_writer_t *w, ccopy_manifest_t *out_manifest,
                                ccopy_error_t *error);
/* Abort (if not committed) and free. NULL is fine. */
void _ccopy_window_writer_destroy(_ccopy_window_writer_t *w);
uint64_t _ccopy_window_writer_documents(const _ccopy_window_writer_t *w);
uint64_t _ccopy_window_writer_stored_bytes(const _ccopy_window_writer_t *w);

#endif
