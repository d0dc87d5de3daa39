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
void _ccopy_window_filter(bson_t *filter, const ccopy_window_t *window, const bson_value_t *last)
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
    char *what = retries ? _ccopy_strdup_printf("window %s failed after %d retr%s", where, retries,
                                                retries == 1 ? "y" : "ies")
                         : _ccopy_strdup_printf("window %s failed", where);
    int rc = _ccopy_source_error(c->source, error, e, what);
    free(where);
    free(what);
    return rc;
}

typedef struct read_state {
    const _ccopy_reader_config_t *c;
    _ccopy_doc_fn on_doc;
    void *user_data;
    bson_value_t last;
    int have_last;
    int attempts; /* failures in a row without a document delivered */
} read_state_t;

static int canceled(ccopy_error_t *error)
{
    return _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
}

/* Hand every document of a find/getMore reply's batch to on_doc, in order, remembering the last
 * _id; *cursor_id becomes the cursor's id (0 once the server has nothing more). A short or empty
 * batch with a live cursor is normal on Cosmos DB. */
static int deliver_batch(read_state_t *st, const bson_t *reply, int64_t *cursor_id,
                         ccopy_error_t *error)
{
    const _ccopy_reader_config_t *c = st->c;
    _ccopy_counters_t *counters = c->requester->counters;
    bson_iter_t it, cursor, batch;
    int have_batch = 0;
    bson_iter_t id;
    bson_t last_doc;
    const uint8_t *last_data = NULL;
    uint32_t last_len = 0;

    *cursor_id = 0;
    if (!bson_iter_init_find(&it, reply, "cursor") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
        !bson_iter_recurse(&it, &cursor))
        return _ccopy_error_set(error, CCOPY_ESERVER, CCOPY_DOMAIN_ENGINE, 0,
                                "%s answered a find/getMore on %s.%s without a cursor",
                                c->source->hosts, c->db, c->coll);
    while (bson_iter_next(&cursor)) {
        const char *key = bson_iter_key(&cursor);
        if (strcmp(key, "id") == 0)
            *cursor_id = bson_iter_as_int64(&cursor);
        else if ((strcmp(key, "firstBatch") == 0 || strcmp(key, "nextBatch") == 0) &&
                 BSON_ITER_HOLDS_ARRAY(&cursor)) {
            batch = cursor;
            have_batch = 1;
        }
    }
    if (!have_batch || !bson_iter_recurse(&batch, &it))
        return 0;
    while (bson_iter_next(&it)) {
        uint32_t len;
        const uint8_t *data;
        bson_t doc;
        int rc;

        if (!BSON_ITER_HOLDS_DOCUMENT(&it))
            continue;
        if (atomic_load(c->requester->canceled))
            return canceled(error);
        bson_iter_document(&it, &len, &data);
        if (!bson_init_static(&doc, data, len))
            return _ccopy_error_set(error, CCOPY_ESERVER, CCOPY_DOMAIN_ENGINE, 0,
                                    "%s sent a malformed document in %s.%s", c->source->hosts,
                                    c->db, c->coll);
        rc = st->on_doc(&doc, st->user_data, error);
        if (rc != 0)
            return rc;
        last_data = data;
        last_len = len;
        st->attempts = 0; /* progress: the budget counts failures in a row */
        atomic_fetch_add(&counters->documents, 1);
        atomic_fetch_add(&counters->bytes, (long long)len);
    }
    /* A read resumes after the batch's last _id (a failed on_doc stops the read: no resume), so
     * it is looked up and copied once per batch, not once per document. */
    if (last_data && bson_init_static(&last_doc, last_data, last_len) &&
        bson_iter_init_find(&id, &last_doc, "_id")) {
        if (st->have_last)
            bson_value_destroy(&st->last);
        bson_value_copy(bson_iter_value(&id), &st->last);
        st->have_last = 1;
    }
    return 0;
}

/* After a failed request: give up (non-retryable, or the budget is spent) or wait. */
static int back_off(read_state_t *st, const bson_error_t *e, ccopy_error_t *error)
{
    const _ccopy_reader_config_t *c = st->c;
    _ccopy_counters_t *counters = c->requester->counters;
    int64_t delay;

    if (_ccopy_source_error_class(e) == CCOPY_RETRY_NEVER)
        return failure(c, error, e, 0);
    if (++st->attempts > c->backoff.max_retries)
        return failure(c, error, e, st->attempts - 1);
    atomic_fetch_add(&counters->retries, 1);
    delay = _ccopy_request_backoff_ms(c->requester, &c->backoff, st->attempts,
                                      _ccopy_parse_retry_after_ms(e->message), c->rng_state);
    atomic_fetch_add(&counters->wait_ms, delay);
    if (_ccopy_source_error_class(e) != CCOPY_RETRY_THROTTLED) { /* throttling is counted */
        char *where = _ccopy_window_describe(c->db, c->coll, c->kind, &c->window);
        _ccopy_retry_note(delay, st->attempts, c->backoff.max_retries, "reading window %s: %s",
                          where, e->message);
        free(where);
    }
    if (_ccopy_sleep_ms(delay, c->requester->canceled))
        return canceled(error);
    return 0;
}

/* Best effort: free a cursor we are abandoning (after a timeout, say) on the server. */
static void kill_cursor(const _ccopy_reader_config_t *c, int64_t id)
{
    bson_t command = BSON_INITIALIZER, ids, opts = BSON_INITIALIZER, reply;
    BSON_APPEND_UTF8(&command, "killCursors", c->coll);
    BSON_APPEND_ARRAY_BEGIN(&command, "cursors", &ids);
    BSON_APPEND_INT64(&ids, "0", id);
    bson_append_array_end(&command, &ids);
    if (c->requester->session)
        mongoc_client_session_append(c->requester->session, &opts, NULL);
    mongoc_client_command_with_opts(c->requester->client, c->db, &command, NULL, &opts, &reply, NULL);
    bson_destroy(&reply);
    bson_destroy(&opts);
    bson_destroy(&command);
}

/* Read getMore after getMore until the cursor ends. Returns non-zero with *error set to stop
 * the window; *reopen is set when the cursor was lost and the read must start again after the
 * last _id delivered. */
static int drain_cursor(read_state_t *st, int64_t cursor_id, int *reopen, ccopy_error_t *error)
{
    const _ccopy_reader_config_t *c = st->c;
    int rc = 0;

    while (rc == 0 && cursor_id != 0) {
        bson_t command = BSON_INITIALIZER, reply;
        bson_error_t e;
        _ccopy_request_result_t res;

        BSON_APPEND_INT64(&command, "getMore", cursor_id);
        BSON_APPEND_UTF8(&command, "collection", c->coll);
        BSON_APPEND_INT32(&command, "batchSize",
                          _ccopy_request_read_batch(c->requester, c->batch_size));
        res = _ccopy_request_run(c->requester, c->db, &command, CCOPY_REQUEST_READ, 0, &reply, &e);
        bson_destroy(&command);
        if (res == CCOPY_REQUEST_OK) {
            rc = deliver_batch(st, &reply, &cursor_id, error);
        } else if (res == CCOPY_REQUEST_CANCELED) {
            rc = canceled(error);
        } else {
            _ccopy_retry_class_t cls = _ccopy_source_error_class(&e);
            rc = back_off(st, &e, error);
            /* a throttled getMore leaves its cursor alive: ask again; anything else reopens */
            if (rc == 0 && cls != CCOPY_RETRY_THROTTLED) {
                if (cls == CCOPY_RETRY_TIMEOUT || cls == CCOPY_RETRY_TRANSIENT)
                    kill_cursor(c, cursor_id);
                *reopen = 1;
            }
        }
        bson_destroy(&reply);
        if (*reopen)
            break;
    }
    return rc;
}

int _ccopy_reader_run(const _ccopy_reader_config_t *c, _ccopy_doc_fn on_doc,
                      _ccopy_restart_fn on_restart, void *user_data, ccopy_error_t *error)
{
    read_state_t st = {.c = c, .on_doc = on_doc, .user_data = user_data};
    int rc = 0;

    for (;;) {
        bson_t command = BSON_INITIALIZER, filter = BSON_INITIALIZER, reply;
        bson_error_t e;
        _ccopy_request_result_t res;
        int64_t cursor_id = 0;
        int reopen = 0;

        if (c->kind == CCOPY_MANIFEST_NON_OBJECTID)
            _ccopy_non_oid_filter(&filter);
        else
            _ccopy_window_filter(&filter, &c->window, st.have_last ? &st.last : NULL);
        BSON_APPEND_UTF8(&command, "find", c->coll);
        BSON_APPEND_DOCUMENT(&command, "filter", &filter);
        BCON_APPEND(&command, "sort", "{", "_id", BCON_INT32(1), "}");
        BSON_APPEND_INT32(&command, "batchSize",
                          _ccopy_request_read_batch(c->requester, c->batch_size));
        res = _ccopy_request_run(c->requester, c->db, &command, CCOPY_REQUEST_READ, 0, &reply, &e);
        bson_destroy(&command);
        bson_destroy(&filter);
        if (res == CCOPY_REQUEST_OK) {
            rc = deliver_batch(&st, &reply, &cursor_id, error);
            if (rc == 0)
                rc = drain_cursor(&st, cursor_id, &reopen, error);
        } else if (res == CCOPY_REQUEST_CANCELED) {
            rc = canceled(error);
        } else {
            rc = back_off(&st, &e, error);
            reopen = 1;
        }
        bson_destroy(&reply);
        if (rc != 0 || !reopen)
            break;
        if (c->kind == CCOPY_MANIFEST_NON_OBJECTID) {
            /* documents of mixed _id types cannot resume with $gt: start the pass again */
            if (st.have_last)
                bson_value_destroy(&st.last);
            st.have_last = 0;
            rc = on_restart(user_data, error);
            if (rc != 0)
                break;
        }
    }
    if (st.have_last)
        bson_value_destroy(&st.last);
    return rc;
}

int _ccopy_reader_count(const _ccopy_reader_config_t *config, int64_t *out_count,
                        ccopy_error_t *error)
{
    read_state_t st;
    int rc = 0;

    memset(&st, 0, sizeof st);
    st.c = config;
    *out_count = -1;
    for (;;) {
        bson_t command = BSON_INITIALIZER, query = BSON_INITIALIZER, reply;
        bson_error_t e;
        bson_iter_t it;
        _ccopy_request_result_t res;

        if (config->kind == CCOPY_MANIFEST_NON_OBJECTID)
            _ccopy_non_oid_filter(&query);
        else
            _ccopy_window_filter(&query, &config->window, NULL);
        BSON_APPEND_UTF8(&command, "count", config->coll);
        BSON_APPEND_DOCUMENT(&command, "query", &query);
        res = _ccopy_request_run(config->requester, config->db, &command, CCOPY_REQUEST_READ, 0,
                                 &reply, &e);
        bson_destroy(&command);
        bson_destroy(&query);
        if (res == CCOPY_REQUEST_OK) {
            if (bson_iter_init_find(&it, &reply, "n") && BSON_ITER_HOLDS_NUMBER(&it))
                *out_count = bson_iter_as_int64(&it);
            else
                rc = _ccopy_error_set(error, CCOPY_ESERVER, CCOPY_DOMAIN_ENGINE, 0,
                                      "%s answered a count on %s.%s without n",
                                      config->source->hosts, config->db, config->coll);
        } else if (res == CCOPY_REQUEST_CANCELED) {
            rc = canceled(error);
        } else {
            rc = back_off(&st, &e, error);
            if (rc == 0) {
                bson_destroy(&reply);
                continue;
            }
        }
        bson_destroy(&reply);
        return rc;
    }
}
