/*
 * The destination that is a collection of a MongoDB-protocol server (Cosmos DB, MongoDB,
 * FerretDB): replicate and restore write into it, verify reads a replica back from it. It
 * knows nothing of the job: what it needs comes in its config, what the job records goes out
 * through its hooks.
 */
#ifndef CCOPY_DEST_MONGO_H
#define CCOPY_DEST_MONGO_H

#include <stdatomic.h>

#include "cosmocopy/job.h"
#include "dest.h"
#include "request.h"
#include "retry.h"
#include "source.h"
#include "writer.h"

/* The collection of a replica's catalog, in the target database. */
#define _CCOPY_CATALOG_COLLECTION "cosmocopy"

typedef struct _ccopy_dest_mongo_config {
    _ccopy_source_t *server;      /* opened; the destination owns it from the open on */
    const char *target_db;        /* where the windows go (copied) */
    const char *target_coll;      /* NULL: each collection keeps its name (copied) */
    int record_windows;           /* replicate: each committed window is written to the catalog;
                                   * restore: the backup's catalog holds them */
    _ccopy_write_mode_t write_mode;
    int write_batch_size;
    int64_t write_batch_bytes;
    int read_batch_size;          /* window_read: documents per cursor batch */
    _ccopy_backoff_t backoff;
    _ccopy_request_shared_t *shared; /* the target's governor, shared by the sessions (borrowed) */
    _ccopy_counters_t *counters;  /* borrowed */
    atomic_int *canceled;         /* borrowed */
} _ccopy_dest_mongo_config_t;

/* What the caller records. Every hook may be NULL; data is passed to each. */
typedef struct _ccopy_dest_mongo_hooks {
    void (*log)(void *data, ccopy_log_level_t level, const char *line);
    /* A document the target refused for good: "_id X (N bytes) in db.coll: reason (code C)".
     * The caller counts it, keeps it and says so. */
    void (*rejected)(void *data, const char *line);
    /* Catalog reads, drops, index creation and the emptiness check survive lost connections
     * and throttling as planning does: non-zero when the call is to be made again (after its
     * back-off). Used as do rc = ...; while (again(data, rc, &attempt, error)); */
    int (*again)(void *data, int rc, int *attempt, ccopy_error_t *error);
    void *data;
} _ccopy_dest_mongo_hooks_t;

/* Open the destination and check, with one ping, that the server answers ("connecting to the
 * target"). The server is closed with the destination, also when this fails. */
int _ccopy_dest_mongo_open(_ccopy_dest_t **out, const _ccopy_dest_mongo_config_t *config,
                           const _ccopy_dest_mongo_hooks_t *hooks, ccopy_error_t *error);
/* Whether writing collection coll (NULL: several) of database db on source would write onto
 * itself: same hosts, same database, same collection. */
int _ccopy_dest_mongo_is_source(_ccopy_dest_t *dest, const _ccopy_source_t *source,
                                const char *db, const char *coll);

#endif
