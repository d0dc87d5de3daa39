/*
 * Reading one window with a cursor that resumes after its last delivered _id. The cursor is
 * sorted by _id, so "everything after the last _id seen" is exactly what is left; retries never
 * deliver a document twice and never skip one. Short or empty batches are normal on Cosmos DB:
 * only the driver's end of cursor (cursor id 0) ends a read.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "reader.h"

char *_ccopy_window_describe(const char *db, const char *coll, ccopy_manifest_kind_t kind,
                             const ccopy_window_t *window)
{
    char a[CCOPY_TIME_TEXT_SIZE], b[CCOPY_TIME_TEXT_SIZE];
    if (kind == CCOPY_MANIFEST_NON_OBJECTID)
        return _ccopy_strdup_printf("%s.%s (pass for non-ObjectId _id)", db, coll);
    ccopy_time_format(a, window->start, NULL);
    ccopy_time_format(b, window->end, NULL);
    return _ccopy_strdup_printf("%s.%s [%s, %s)", db, coll, a, b);
}

static void append_oid_bound(bson_t *range, const char *op, int64_t t)
{
    uint8_t bytes[12];
    bson_oid_t oid;
    ccopy_oid_from_time(bytes, t, NULL);
    memcpy(oid.bytes, bytes, 12);
    bson_append_oid(range, op, -1, &oid);
}

/* {_id: {$gte: oid(start) | $gt: last, $lt: oid(end)}}; no upper bound for a window ending at 2^32. */
static void window_filter(bson_t *filter, const ccopy_window_t *window, const bson_value_t *last)
{
    bson_t range;
    BSON_APPEND_DOCUMENT_BEGIN(filter, "_id", &range);
    if (last)
        bson_append_value(&range, "$gt", 3, last);
    else
        append_oid_bound(&range, "$gte", window->start);
    if (window->end < CCOPY_TIME_LIMIT)
        append_oid_bound(&range, "$lt", window->end);
    bson_append_document_end(filter, &range);
}

static int failure(const _ccopy_reader_config_t *c, ccopy_error_t *error, const bson_error_t *e,
                   int retries)
{
    char *where = _ccopy_window_describe(c->db, c->coll, c->kind, &c->window);
    char *what = retries ? _ccopy_strdup_printf("window %s failed after %d retries", where, retries)
                         : _ccopy_strdup_printf("window %s failed", where);
    int rc = _ccopy_source_error(c->source, error, e, what);
    free(where);
    free(what);
    return rc;
}

int _ccopy_reader_run(const _ccopy_reader_config_t *c, _ccopy_doc_fn on_doc,
                      _ccopy_restart_fn on_restart, void *user_data, ccopy_error_t *error)
{
    mongoc_collection_t *collection = mongoc_client_get_collection(c->client, c->db, c->coll);
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "batchSize",
                            BCON_INT32(c->batch_size));
    bson_value_t last;
    int have_last = 0, attempts = 0, rc = 0;

    for (;;) {
        bson_t filter = BSON_INITIALIZER;
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t e;
        _ccopy_retry_class_t cls;
        int64_t delay;

        if (c->kind == CCOPY_MANIFEST_NON_OBJECTID)
            _ccopy_non_oid_filter(&filter);
        else
            window_filter(&filter, &c->window, have_last ? &last : NULL);
        cursor = mongoc_collection_find_with_opts(collection, &filter, opts, NULL);
        bson_destroy(&filter);

        while (rc == 0 && mongoc_cursor_next(cursor, &doc)) {
            bson_iter_t it;
            if (atomic_load(c->canceled)) {
                rc = _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
                break;
            }
            rc = on_doc(doc, user_data, error);
            if (rc != 0)
                break;
            if (bson_iter_init_find(&it, doc, "_id")) {
                if (have_last)
                    bson_value_destroy(&last);
                bson_value_copy(bson_iter_value(&it), &last);
                have_last = 1;
            }
            attempts = 0; /* progress: the budget counts failures in a row */
            atomic_fetch_add(&c->counters->documents, 1);
            atomic_fetch_add(&c->counters->bytes, (long long)doc->len);
        }
        if (rc != 0 || !mongoc_cursor_error(cursor, &e)) {
            mongoc_cursor_destroy(cursor);
            break;
        }
        mongoc_cursor_destroy(cursor);

        cls = _ccopy_source_error_class(&e);
        if (cls == CCOPY_RETRY_NEVER) {
            rc = failure(c, error, &e, 0);
            break;
        }
        if (++attempts > c->backoff.max_retries) {
            rc = failure(c, error, &e, attempts - 1);
            break;
        }
        if (cls == CCOPY_RETRY_THROTTLED)
            atomic_fetch_add(&c->counters->throttle_events, 1);
        atomic_fetch_add(&c->counters->retries, 1);
        delay = _ccopy_backoff_delay_ms(&c->backoff, attempts, _ccopy_parse_retry_after_ms(e.message),
                                        c->rng_state);
        atomic_fetch_add(&c->counters->wait_ms, delay);
        if (_ccopy_sleep_ms(delay, c->canceled)) {
            rc = _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
            break;
        }
        if (c->kind == CCOPY_MANIFEST_NON_OBJECTID) {
            /* documents of mixed _id types cannot resume with $gt: start the pass again */
            if (have_last)
                bson_value_destroy(&last);
            have_last = 0;
            rc = on_restart(user_data, error);
            if (rc != 0)
                break;
        }
    }
    if (have_last)
        bson_value_destroy(&last);
    bson_destroy(opts);
    mongoc_collection_destroy(collection);
    return rc;
}
