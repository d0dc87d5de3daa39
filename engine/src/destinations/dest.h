/*
 * The destination interface: where a job's windows go and where the catalog of its completed
 * windows lives. Backup writes through it into a folder or a blob container, replicate and
 * restore into a MongoDB/Cosmos DB collection; plan, verify, restore and list read the catalog
 * through it. One copy task (reader -> destination window) serves backup and replicate.
 *
 * Implementations:
 * - dest_store.c: any object store (sink.h: dir: folders, azblob:// containers), windows written
 *   as data objects through the window writer, the catalog being their manifests. A new store
 *   (S3, say) is one new file implementing sink.h's operations.
 * - dest_mongo.c: a collection of a MongoDB-protocol server, written in unordered bulk batches
 *   through its own governor, the catalog being the target database's collection "cosmocopy".
 *
 * Names: a window is always named by the source's database and collection (as the catalog
 * knows it); the destination maps it to where it writes (target_db, target_collection).
 * Threads: the destination is shared by the workers; each worker opens its own session (its
 * connection), and a window is used by one thread. Catalog reads may run on any thread.
 */
#ifndef CCOPY_DEST_H
#define CCOPY_DEST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <bson/bson.h>

#include "cosmocopy/error.h"
#include "cosmocopy/manifest.h"
#include "cosmocopy/window.h"

typedef struct _ccopy_dest _ccopy_dest_t;
typedef struct _ccopy_dest_session _ccopy_dest_session_t; /* one worker's connection      */
typedef struct _ccopy_dest_window _ccopy_dest_window_t;   /* one window being written      */

/* A document read back from a destination's window (valid only during the call). */
typedef int (*_ccopy_dest_doc_fn)(const bson_t *doc, void *user_data, ccopy_error_t *error);
/* A read that cannot resume (mongodb: the non-ObjectId pass) starts over from the beginning. */
typedef int (*_ccopy_dest_restart_fn)(void *user_data, ccopy_error_t *error);

/* Which window to write or read, named as the catalog knows it. */
typedef struct _ccopy_dest_window_spec {
    ccopy_manifest_kind_t kind;
    ccopy_window_t window; /* {0, 0} for the non-ObjectId pass */
    const char *db, *coll; /* the source's names */
} _ccopy_dest_window_spec_t;

typedef struct _ccopy_dest_ops {
    const char *name; /* "folder", "blob", "mongodb": for messages */
    /* 1: a backup, whose windows are data objects that window_read checks against their
     * manifests (size, SHA-256, count); 0: a replica, whose windows are ranges of a collection
     * (verify counts them and says "replica"). */
    int is_backup;
    /* Every completed window of a collection, sorted by window start, the non-ObjectId pass
     * last (new array; free with _ccopy_manifests_free). A catalog entry that cannot be read is
     * ECORRUPT naming it. session may be NULL (the destination takes a connection itself). */
    int (*catalog_read)(_ccopy_dest_t *dest, _ccopy_dest_session_t *session, const char *db,
                        const char *coll, ccopy_manifest_t **out, size_t *out_count,
                        ccopy_error_t *error);
    /* Databases (db NULL) or collections of one database that the catalog holds windows of. */
    int (*catalog_list)(_ccopy_dest_t *dest, const char *db, char ***out_names, size_t *out_count,
                        ccopy_error_t *error);
    /* A collection's metadata (metadata.json: options and indexes, as the source describes it):
     * stored beside its windows (store), or its indexes created (mongodb). */
    int (*put_metadata)(_ccopy_dest_t *dest, const char *db, const char *coll, const char *json,
                        ccopy_error_t *error);
    /* The metadata stored by put_metadata (new text); ENOTFOUND when there is none. */
    int (*get_metadata)(_ccopy_dest_t *dest, const char *db, const char *coll, char **out,
                        ccopy_error_t *error);
    /* Before any window of a collection is written (planning thread), with the catalog read
     * for it (NULL for restore): mongodb notes whether the target collection is empty (then
     * inserts are used); drop: empty it first. A store removes the data a failed window left
     * without a manifest (_ccopy_sink_remove_orphans). */
    int (*prepare_collection)(_ccopy_dest_t *dest, const char *db, const char *coll, int drop,
                              const ccopy_manifest_t *catalog, size_t catalog_count,
                              ccopy_error_t *error);
    /* A worker's connection; session_close(NULL) is fine. */
    int (*session_open)(_ccopy_dest_t *dest, _ccopy_dest_session_t **out, ccopy_error_t *error);
    void (*session_close)(_ccopy_dest_session_t *session);
    /* Write a window: begin, add each document exactly as read, then commit (the window's data
     * is durable, then its catalog entry written: only then is it complete; *out receives the
     * manifest recorded) or abort. restart throws away the window's record so far (a pass that
     * must start over). */
    int (*window_begin)(_ccopy_dest_session_t *session, const _ccopy_dest_window_spec_t *spec,
                        _ccopy_dest_window_t **out, ccopy_error_t *error);
    int (*window_add)(_ccopy_dest_window_t *w, const bson_t *doc, ccopy_error_t *error);
    int (*window_restart)(_ccopy_dest_window_t *w, ccopy_error_t *error);
    int (*window_commit)(_ccopy_dest_window_t *w, ccopy_manifest_t *out, ccopy_error_t *error);
    void (*window_abort)(_ccopy_dest_window_t *w); /* frees; also after commit */
    /* Read a completed window back (restore, verify), checked against its manifest where the
     * destination can (store: size, SHA-256, count). on_doc NULL: check only, nothing decoded
     * (mongodb: nothing to check). on_restart may be NULL (store: never called). */
    int (*window_read)(_ccopy_dest_session_t *session, const ccopy_manifest_t *manifest,
                       _ccopy_dest_doc_fn on_doc, _ccopy_dest_restart_fn on_restart,
                       void *user_data, ccopy_error_t *error);
    /* The documents a completed window holds now: the manifest's count (store), or counted in
     * the collection (mongodb). */
    int (*window_count)(_ccopy_dest_session_t *session, const ccopy_manifest_t *manifest,
                        int64_t *out, ccopy_error_t *error);
    /* Where the catalog is, for messages (new text): the location (store), or "the target's
     * catalog" (mongodb). */
    char *(*describe)(_ccopy_dest_t *dest);
    void (*close)(_ccopy_dest_t *dest);
} _ccopy_dest_ops_t;

struct _ccopy_dest {
    const _ccopy_dest_ops_t *ops;
    char *location; /* as the user wrote it, secrets masked */
    void *impl;
};

/* Close a destination (its ops->close frees impl); NULL is fine. */
static inline void _ccopy_dest_close(_ccopy_dest_t *dest)
{
    if (!dest)
        return;
    dest->ops->close(dest);
    free(dest->location);
    free(dest);
}

#endif
