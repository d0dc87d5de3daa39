/*
 * What the two halves of the MongoDB/Cosmos destination share: dest_mongo.c (open/close,
 * sessions, windows and their batches, reading a window back, the ops table) and
 * dest_mongo_catalog.c (the catalog, metadata/indexes, preparing a collection). Private to
 * them; never installed.
 */
#ifndef CCOPY_DEST_MONGO_IMPL_H
#define CCOPY_DEST_MONGO_IMPL_H

#include <pthread.h>

#include "dest_mongo.h"

/* A collection noted empty by prepare_collection (upsert mode): written with inserts. */
typedef struct empty_coll {
    char *name;
    int insert_only;
} empty_coll_t;

typedef struct mongo {
    _ccopy_dest_mongo_config_t config; /* strings owned */
    _ccopy_dest_mongo_hooks_t hooks;
    pthread_mutex_t lock; /* colls */
    empty_coll_t *colls;
    size_t coll_count;
} mongo_t;

struct _ccopy_dest_session {
    _ccopy_dest_t *dest;
    mongoc_client_t *client;
    _ccopy_requester_t requester;
    uint64_t rng;
    int write_limit; /* documents per bulk write this session has learned (0: write_batch_size) */
};

static inline mongo_t *_ccopy_mongo_of(_ccopy_dest_t *dest)
{
    return dest->impl;
}

/* dest_mongo.c */

/* The collection coll is written to: target_coll when set, else coll itself. */
const char *_ccopy_mongo_target_coll(const mongo_t *m, const char *coll);
/* A bulk writer's config for writing coll of the target database in this session. */
void _ccopy_mongo_bulk_config(_ccopy_dest_session_t *session, _ccopy_bulk_config_t *config,
                              const char *coll, _ccopy_write_mode_t mode);

/* dest_mongo_catalog.c */

int _ccopy_mongo_catalog_read(_ccopy_dest_t *dest, _ccopy_dest_session_t *session, const char *db,
                              const char *coll, ccopy_manifest_t **out, size_t *out_count,
                              ccopy_error_t *error);
int _ccopy_mongo_catalog_list(_ccopy_dest_t *dest, const char *db, char ***out_names,
                              size_t *out_count, ccopy_error_t *error);
/* Record a completed window of target collection tcoll in the catalog. */
int _ccopy_mongo_catalog_write(_ccopy_dest_session_t *session, const char *tcoll,
                               const ccopy_manifest_t *manifest, ccopy_error_t *error);
int _ccopy_mongo_put_metadata(_ccopy_dest_t *dest, const char *db, const char *coll,
                              const char *metadata_json, ccopy_error_t *error);
int _ccopy_mongo_get_metadata(_ccopy_dest_t *dest, const char *db, const char *coll, char **out,
                              ccopy_error_t *error);
int _ccopy_mongo_prepare_collection(_ccopy_dest_t *dest, const char *db, const char *coll,
                                    int drop_it, const ccopy_manifest_t *catalog,
                                    size_t catalog_count, ccopy_error_t *error);
/* Whether prepare_collection found coll's target empty (upsert mode): then written with inserts. */
int _ccopy_mongo_insert_only(mongo_t *m, const char *coll);

#endif
