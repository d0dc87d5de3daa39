/*
 * The bulk writer: puts a batch of documents into a collection with insert or update commands,
 * through the job's governor, and finishes what a throttled or interrupted batch left undone.
 *
 * Cosmos DB applies part of a throttled bulk write: documents before the failing index are
 * written, the failing one carries 16500 in writeErrors, and (in an ordered write) the rest are
 * not attempted. The writer re-sends exactly the documents that are not known to be written:
 * the failed ones and the unattempted ones, never a document the server confirmed. A document
 * that meets a duplicate-key error (11000) on a re-send is counted as already written: the
 * earlier send reached the server even though its answer did not reach us. Upserts replace by
 * _id and are harmless to repeat.
 */
#ifndef CCOPY_WRITER_H
#define CCOPY_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "cosmocopy/error.h"
#include "request.h"
#include "retry.h"
#include "source.h"

typedef enum _ccopy_write_mode {
    CCOPY_WRITE_UPSERT = 0, /* update {_id} with the whole document, upsert: true */
    CCOPY_WRITE_INSERT = 1  /* insert; 11000 on a re-send means already written   */
} _ccopy_write_mode_t;

/* A document the server refused for good (too large, duplicate _id on a first insert, ...). */
typedef void (*_ccopy_reject_fn)(const bson_t *doc, int64_t code, const char *message,
                                 void *user_data);

typedef struct _ccopy_bulk_config {
    _ccopy_source_t *server;       /* names the host in messages */
    _ccopy_requester_t *requester; /* connection, session, governor, counters, cancel flag */
    const char *db, *coll;
    _ccopy_write_mode_t mode;
    int ordered;                   /* ordered writes stop at the first error; default unordered */
    int duplicate_is_written;      /* insert mode: 11000 even on a first send counts as already
                                    * written (an earlier run wrote it); otherwise it is rejected */
    int upsert_duplicates;         /* insert mode standing in for upserts (the collection was
                                    * empty): a document answered 11000 on its first send is
                                    * upserted over what holds its _id, as an upsert would have
                                    * done (on a re-send, the earlier send wrote it) */
    _ccopy_backoff_t backoff;      /* max_retries: failed sends in a row without progress */
    uint64_t *rng_state;
    _ccopy_reject_fn on_reject;    /* may be NULL */
    void *reject_data;
} _ccopy_bulk_config_t;

typedef struct _ccopy_bulk_result {
    int64_t written;    /* confirmed by the server                                 */
    int64_t already;    /* 11000 on a re-send: written by an earlier send           */
    int64_t resent;     /* document sends after the first one                      */
    int64_t rejected;   /* refused for good, each passed to on_reject              */
    int64_t throttled;  /* documents answered 16500 (inside writeErrors or not)    */
} _ccopy_bulk_result_t;

/* Write docs[0..count) (each with an _id) as one logical batch; *result accumulates. Returns 0
 * when every document is written or rejected (see result->rejected), ECANCELED, or the error
 * that made the batch fail (naming the collection, the host and the cause) once the retry
 * budget is spent or the error cannot be retried. */
int _ccopy_bulk_write(const _ccopy_bulk_config_t *config, const bson_t *const *docs, size_t count,
                      _ccopy_bulk_result_t *result, ccopy_error_t *error);

#endif
