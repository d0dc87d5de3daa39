/*
 * What the files of the blob sink share (sink_blob.c, blob_lease.c, blob_upload.c,
 * blob_download.c, blob_listing.c): the sink's state and the functions one file calls in
 * another. Private to the engine; the sink's face is _ccopy_sink_blob_new in sink.h.
 */
#ifndef CCOPY_BLOB_SINK_H
#define CCOPY_BLOB_SINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "cosmocopy/error.h"
#include "sink.h"

typedef struct _ccopy_blob_sink {
    _ccopy_blob_account_t acct;
    char *container;
    char *prefix; /* "" or "backups/daily" (no slashes at either end) */
    _ccopy_sink_settings_t settings;
    pthread_mutex_t lock; /* guards client: small requests go one at a time */
    _ccopy_blob_client_t client;
    /* the writer's lock: a lease on PREFIX/.cosmocopy.lock, renewed by a thread */
    char *lock_blob;
    char *lock_where;          /* azblob://CONTAINER/PREFIX/.cosmocopy.lock, for messages */
    char lease_id[64];         /* proposed by us: an acquire whose answer was lost gets it again */
    int leased;
    int renewing;              /* the renewer thread runs */
    pthread_t renewer;
    _ccopy_blob_client_t lease_client; /* the renewer's, one try per request */
    pthread_mutex_t lease_lock; /* guards what follows */
    pthread_cond_t lease_cond;  /* on CLOCK_MONOTONIC */
    int stop_renewing;
    int64_t lease_deadline_ms;  /* held while before this (monotonic) */
    int64_t lease_renew_at_ms;  /* the renewer's next try */
    int renew_in_flight;
    int renew_failed;           /* a try failed since the last renewal: renew_failure says how */
    ccopy_error_t renew_failure;
    int lease_lost;             /* for good: lease_error says why */
    ccopy_error_t lease_error;
} _ccopy_blob_sink_t;

/* ---- sink_blob.c ---- */

/* PREFIX/db/coll/name, db and coll as components (_ccopy_sink_component) (coll NULL:
 * PREFIX/db/name; name NULL: the folder, ending in '/'). New
 * string. */
char *_ccopy_blob_full_name(const _ccopy_blob_sink_t *b, const char *db, const char *coll,
                            const char *name);
/* A client of its own (new curl handle) with the sink's account, retries, timeout and cancel
 * flag. */
void _ccopy_blob_client_init(_ccopy_blob_client_t *c, const _ccopy_blob_sink_t *b);
/* One small request on the sink's shared client. */
int _ccopy_blob_small_send(_ccopy_blob_sink_t *b, const _ccopy_blob_request_t *req,
                           _ccopy_http_response_t *res, const char *what, ccopy_error_t *error);
/* Delete a blob (gone already is fine) on `client`, or on the sink's shared client under the
 * lease when client is NULL. */
int _ccopy_blob_delete(_ccopy_blob_sink_t *b, _ccopy_blob_client_t *client, const char *blob,
                       ccopy_error_t *error);

/* ---- blob_lease.c: the writer's lock ---- */

/* 0 while the lease is held, with *left_ms (optional) what is left of it; else the code of
 * why it was lost, and why in *error. */
int _ccopy_blob_lease_check(_ccopy_blob_sink_t *b, int64_t *left_ms, ccopy_error_t *error);
/* A _ccopy_blob_guard_fn (user_data: the sink) for every try of a write: only while the lease
 * is held, and for no longer than it has left. */
int _ccopy_blob_lease_guard(void *user_data, long *timeout_ms, ccopy_error_t *error);
/* Create the lock blob if needed and lease it, waiting out a lease left by a killed job; then
 * start the thread that renews it. */
int _ccopy_blob_lock_take(_ccopy_blob_sink_t *b, ccopy_error_t *error);
/* Stop renewing and release the lease, when held. */
void _ccopy_blob_lock_release(_ccopy_blob_sink_t *b);

/* ---- blob_listing.c: the ops list and list_groups ---- */

/* The text of every <tag>...</tag> inside each <within>...</within> of xml, unescaped, appended
 * to (*names, *count, *cap). */
void _ccopy_blob_xml_collect(const char *xml, const char *within, const char *tag, char ***names,
                             size_t *count, size_t *cap);
int _ccopy_blob_list(_ccopy_sink_t *sink, const char *db, const char *coll, const char *suffix,
                     char ***out_names, size_t *out_count, ccopy_error_t *error);
int _ccopy_blob_list_groups(_ccopy_sink_t *sink, const char *db, char ***out_names,
                            size_t *out_count, ccopy_error_t *error);

/* ---- blob_upload.c: the ops object_begin, object_append, object_commit, object_abort ---- */

int _ccopy_blob_object_begin(_ccopy_sink_t *sink, const char *db, const char *coll,
                             const char *name, void **out_object, ccopy_error_t *error);
int _ccopy_blob_object_append(void *object, const uint8_t *data, size_t len, ccopy_error_t *error);
int _ccopy_blob_object_commit(void *object, ccopy_error_t *error);
void _ccopy_blob_object_abort(void *object);

/* ---- blob_download.c: the op object_read ---- */

/* One read of a blob, across the tries it takes. A try that fails halfway is followed by one that
 * asks for the rest (x-ms-range: bytes=N-) of the same version (If-Match: the ETag of the first
 * answer), so out sees every byte once and never a mix of two versions. */
typedef struct _ccopy_blob_read {
    const char *where;        /* azblob://CONTAINER/BLOB, for messages */
    _ccopy_stream_out_fn out;
    void *user_data;
    ccopy_error_t *error;
    atomic_int *canceled;
    uint64_t delivered;       /* bytes handed to out, over every try */
    int64_t size;             /* the blob's size once an answer said it, else -1 */
    char etag[96];            /* of the first answer that carried a body */
    int answering;            /* the current try's answer has started */
    uint64_t position;        /* offset in the blob of the answer's next byte */
    int rc;                   /* why reading stopped from inside a transfer, or 0 */
} _ccopy_blob_read_t;

/* A _ccopy_http_data_fn (user_data: the read): takes one piece of an answer's body, judging the
 * answer by its first piece, and hands out the bytes not handed out before. */
int _ccopy_blob_read_piece(const _ccopy_http_response_t *res, const uint8_t *data, size_t len,
                           void *user_data);
int _ccopy_blob_object_read(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                            _ccopy_stream_out_fn out, void *user_data, ccopy_error_t *error);

#endif
