/*
 * The reader: one cursor per window, sorted by _id and pulled in batches, that survives network
 * errors, server restarts, CursorNotFound and throttling by reopening after the last _id it
 * delivered ({_id: {$gt: last, $lt: hi}}), never with skip. A throttled getMore is retried on
 * the same cursor. Every find and getMore goes through the job's governor. Each worker owns one
 * reader call at a time; the counters it updates are shared atomics.
 */
#ifndef CCOPY_READER_H
#define CCOPY_READER_H

#include <stdatomic.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "cosmocopy/error.h"
#include "cosmocopy/manifest.h"
#include "cosmocopy/window.h"
#include "request.h"
#include "retry.h"
#include "source.h"

/* Called for each document in _id order; a non-zero return stops the read with that code. */
typedef int (*_ccopy_doc_fn)(const bson_t *doc, void *user_data, ccopy_error_t *error);
/* Called when a pass that cannot resume (the non-ObjectId pass) starts over from the beginning. */
typedef int (*_ccopy_restart_fn)(void *user_data, ccopy_error_t *error);

typedef struct _ccopy_reader_config {
    _ccopy_source_t *source;       /* names the host in messages */
    _ccopy_requester_t *requester; /* the worker's connection, session and governor */
    const char *db, *coll;
    ccopy_manifest_kind_t kind;
    ccopy_window_t window; /* ignored for the non-objectid pass */
    int batch_size;
    _ccopy_backoff_t backoff;
    uint64_t *rng_state;
} _ccopy_reader_config_t;

/* Read the whole window (or pass). The retry budget counts consecutive failed attempts without
 * a document delivered in between; past it the window fails with an error naming the window and
 * the last cause. ECANCELED when *canceled became true. */
int _ccopy_reader_run(const _ccopy_reader_config_t *config, _ccopy_doc_fn on_doc,
                      _ccopy_restart_fn on_restart, void *user_data, ccopy_error_t *error);

/* Count the window's (or pass's) documents with a governed count command, retried like a read. */
int _ccopy_reader_count(const _ccopy_reader_config_t *config, int64_t *out_count,
                        ccopy_error_t *error);

/* The filter of a window: {_id: {$gte: oid(start) | $gt: last, $lt: oid(end)}}. */
void _ccopy_window_filter(bson_t *filter, const ccopy_window_t *window, const bson_value_t *last);

/* "shop.orders [2026-01-01T00:00:00Z, 2026-01-01T04:00:00Z)" or "shop.orders (non-ObjectId _id pass)" */
char *_ccopy_window_describe(const char *db, const char *coll, ccopy_manifest_kind_t kind,
                             const ccopy_window_t *window);

#endif
