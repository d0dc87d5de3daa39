/*
 * Bulk writes that survive throttling (see writer.h). Each send carries the documents still
 * pending, in their original order; the answer's writeErrors (indices into that send) say which
 * of them are done, which must go again, and which the server refused for good.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "writer.h"

/* DUPLICATE: answered 11000 in insert mode with upsert_duplicates, to be upserted */
typedef enum doc_state { PENDING = 0, DONE, REJECTED, DUPLICATE } doc_state_t;

typedef struct bulk {
    const _ccopy_bulk_config_t *c;
    const bson_t *const *docs;
    size_t count;
    doc_state_t *state;
    unsigned char *sent; /* the document went out at least once */
    size_t *pending;     /* indices of PENDING documents, in order */
    size_t pending_count;
    _ccopy_bulk_result_t *result;
} bulk_t;

static void collect_pending(bulk_t *b)
{
    size_t i;
    b->pending_count = 0;
    for (i = 0; i < b->count; i++)
        if (b->state[i] == PENDING)
            b->pending[b->pending_count++] = i;
}

/* The command for the pending documents; *bytes gets the documents' total size. */
static void build_command(const bulk_t *b, bson_t *command, int64_t *bytes)
{
    const _ccopy_bulk_config_t *c = b->c;
    bson_t list;
    char key[16];
    const char *k;
    size_t i;

    *bytes = 0;
    if (c->mode == CCOPY_WRITE_INSERT) {
        BSON_APPEND_UTF8(command, "insert", c->coll);
        BSON_APPEND_ARRAY_BEGIN(command, "documents", &list);
    } else {
        BSON_APPEND_UTF8(command, "update", c->coll);
        BSON_APPEND_ARRAY_BEGIN(command, "updates", &list);
    }
    for (i = 0; i < b->pending_count; i++) {
        const bson_t *doc = b->docs[b->pending[i]];
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
        *bytes += doc->len;
        if (c->mode == CCOPY_WRITE_INSERT) {
            bson_append_document(&list, k, -1, doc);
        } else {
            bson_t statement, q;
            bson_iter_t id;
            bson_append_document_begin(&list, k, -1, &statement);
            BSON_APPEND_DOCUMENT_BEGIN(&statement, "q", &q);
            if (bson_iter_init_find(&id, doc, "_id"))
                bson_append_iter(&q, "_id", 3, &id);
            bson_append_document_end(&statement, &q);
            BSON_APPEND_DOCUMENT(&statement, "u", doc);
            BSON_APPEND_BOOL(&statement, "upsert", true);
            bson_append_document_end(&list, &statement);
        }
    }
    bson_append_array_end(command, &list);
    BSON_APPEND_BOOL(command, "ordered", c->ordered ? true : false);
}

static void reject(bulk_t *b, size_t doc_index, int64_t code, const char *message)
{
    b->state[doc_index] = REJECTED;
    b->result->rejected++;
    if (b->c->on_reject)
        b->c->on_reject(b->docs[doc_index], code, message, b->c->reject_data);
}

/* Apply an ok:1 answer's writeErrors to the documents of the send. Returns how many documents
 * became done; *throttled counts the entries answered 16500, *retry_after gets their largest
 * RetryAfterMs (or -1) and *last_error the first retryable entry, for the message if the budget
 * runs out. */
static int64_t apply_answer(bulk_t *b, const bson_t *reply, int64_t *retry_after,
                            int64_t *throttled, bson_error_t *last_error)
{
    size_t n = b->pending_count, i, first_error = n;
    unsigned char *failed = _ccopy_calloc(n ? n : 1, 1);
    bson_iter_t it, errors;
    int64_t done = 0;
    int have_last_error = 0;

    *retry_after = -1;
    *throttled = 0;
    if (bson_iter_init_find(&it, reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &errors)) {
        while (bson_iter_next(&errors)) {
            bson_iter_t e;
            int64_t index = -1, code = 0;
            const char *message = "";
            size_t doc_index;
            _ccopy_retry_class_t cls;

            if (!BSON_ITER_HOLDS_DOCUMENT(&errors) || !bson_iter_recurse(&errors, &e))
                continue;
            while (bson_iter_next(&e)) {
                if (strcmp(bson_iter_key(&e), "index") == 0)
                    index = bson_iter_as_int64(&e);
                else if (strcmp(bson_iter_key(&e), "code") == 0)
                    code = bson_iter_as_int64(&e);
                else if (strcmp(bson_iter_key(&e), "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&e))
                    message = bson_iter_utf8(&e, NULL);
            }
            if (index < 0 || (size_t)index >= n || failed[index])
                continue;
            failed[index] = 1;
            if ((size_t)index < first_error)
                first_error = (size_t)index;
            doc_index = b->pending[index];
            cls = _ccopy_classify_server_error(code, message);
            switch (cls) {
            case CCOPY_RETRY_THROTTLED:
            case CCOPY_RETRY_TIMEOUT:
            case CCOPY_RETRY_TRANSIENT:
            case CCOPY_RETRY_NETWORK:
                /* stays pending: sent again after the back-off */
                if (cls == CCOPY_RETRY_THROTTLED) {
                    int64_t ra = _ccopy_parse_retry_after_ms(message);
                    b->result->throttled++;
                    (*throttled)++;
                    if (ra > *retry_after)
                        *retry_after = ra;
                }
                if (!have_last_error) {
                    last_error->domain = MONGOC_ERROR_SERVER;
                    last_error->code = (uint32_t)code;
                    bson_strncpy(last_error->message, message, sizeof last_error->message);
                }
                have_last_error = 1;
                break;
            default:
                if (code == 11000 && b->c->upsert_duplicates && b->sent[doc_index] == 1) {
                    /* on a first send: another writer's, or an earlier try of the window's */
                    b->state[doc_index] = DUPLICATE;
                    done++;
                } else if (code == 11000 &&
                           (b->sent[doc_index] > 1 || b->c->duplicate_is_written)) {
                    /* an earlier send of this document reached the server (or, for
                     * duplicate_is_written, an earlier run did) */
                    b->state[doc_index] = DONE;
                    b->result->already++;
                    done++;
                } else {
                    reject(b, doc_index, code, message);
                }
                break;
            }
        }
    }
    for (i = 0; i < n; i++) {
        /* in an ordered write nothing after the first error was attempted */
        if (failed[i] || (b->c->ordered && i > first_error))
            continue;
        b->state[b->pending[i]] = DONE;
        b->result->written++;
        done++;
    }
    free(failed);
    return done;
}

static int fail(const bulk_t *b, ccopy_error_t *error, const bson_error_t *e, int retries)
{
    const char *s = b->pending_count == 1 ? "" : "s";
    char *what = retries ? _ccopy_strdup_printf("writing %zu document%s to %s.%s failed after %d retr%s",
                                                b->pending_count, s, b->c->db, b->c->coll, retries,
                                                retries == 1 ? "y" : "ies")
                         : _ccopy_strdup_printf("writing %zu document%s to %s.%s failed",
                                                b->pending_count, s, b->c->db, b->c->coll);
    int rc = _ccopy_source_error(b->c->server, error, e, what);
    free(what);
    return rc;
}

/* Of the pending documents, how many one request carries while the governor paces the job:
 * no more than _ccopy_request_write_most_ru allows (at least one). A batch made before the
 * pace was known (the first) then goes in paced requests once a throttle has set it, instead of
 * being cut again and again. */
static size_t paced_count(const bulk_t *b)
{
    double most = _ccopy_request_write_most_ru(b->c->requester);
    int64_t bytes = 0;
    size_t n;
    for (n = 0; n < b->pending_count; n++) {
        int64_t len = (int64_t)b->docs[b->pending[n]]->len;
        if (n > 0 && most > 0 && _ccopy_ru_estimate_write((int64_t)n + 1, bytes + len) > most)
            break;
        bytes += len;
    }
    return n;
}

static int send_pending(bulk_t *b, ccopy_error_t *error)
{
    const _ccopy_bulk_config_t *c = b->c;
    _ccopy_counters_t *counters = c->requester->counters;
    _ccopy_governor_t *governor = c->requester->shared->governor;
    size_t limit = b->count; /* documents a request carries: after a cut, what got through */
    int attempts = 0;

    for (collect_pending(b); b->pending_count > 0; collect_pending(b)) {
        bson_t command = BSON_INITIALIZER, reply;
        bson_error_t e = {0};
        _ccopy_request_result_t res;
        int64_t bytes, retry_after = -1, done = 0, throttled = 0;
        double estimate;
        size_t i, sent;

        if (b->pending_count > limit)
            b->pending_count = limit; /* the rest go in the next requests */
        b->pending_count = paced_count(b);
        sent = b->pending_count;
        build_command(b, &command, &bytes);
        estimate = _ccopy_ru_estimate_write((int64_t)b->pending_count, bytes);
        for (i = 0; i < b->pending_count; i++) {
            if (b->sent[b->pending[i]]++)
                b->result->resent++;
            if (b->sent[b->pending[i]] > 2)
                b->sent[b->pending[i]] = 2; /* 0 never, 1 once, 2 more than once */
        }
        res = _ccopy_request_run(c->requester, c->db, &command, CCOPY_REQUEST_WRITE, estimate,
                                 &reply, &e);
        bson_destroy(&command);
        if (res == CCOPY_REQUEST_CANCELED) {
            bson_destroy(&reply);
            return _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
        }
        if (res == CCOPY_REQUEST_OK || bson_has_field(&reply, "writeErrors")) {
            done = apply_answer(b, &reply, &retry_after, &throttled, &e);
            if (throttled > 0) {
                double pace = _ccopy_governor_stats(governor).rate;
                atomic_fetch_add(&counters->throttle_events, 1);
                if (pace > 0 && estimate > pace * CCOPY_GOVERNOR_BURST_SECONDS)
                    /* A batch costing more than a second of the pace is cut whatever the pace:
                     * its size's doing, not the pace's. Only this worker waits, and the rest
                     * goes in requests of what got through (and the worker's next batches are
                     * smaller). Cutting the pace for it, every request of a job that still
                     * had large batches was throttled, the cut was judged useless, and the
                     * job ran unpaced with half its writes throttled. */
                    c->requester->background_throttle = 1;
                else /* a partly throttled write: the governor slows every worker down */
                    c->requester->background_throttle =
                        _ccopy_governor_throttled(governor, 0, retry_after);
                limit = done > 0 ? (size_t)done : b->pending_count > 1 ? b->pending_count / 2 : 1;
            }
        } else {
            /* The whole command failed. After a timeout or a lost connection the write may
             * have happened anyway: the re-send sorts that out (11000, or an idempotent upsert). */
            if (_ccopy_source_error_class(&e) == CCOPY_RETRY_NEVER) {
                bson_destroy(&reply);
                return fail(b, error, &e, 0);
            }
            retry_after = _ccopy_parse_retry_after_ms(e.message);
        }
        bson_destroy(&reply);
        collect_pending(b);
        if (b->pending_count == 0)
            break;
        if (done > 0 && (size_t)done == sent && throttled == 0) {
            /* every document sent was written: the rest were held back by the limit, which
             * grows again by a quarter, as the worker's batches do */
            attempts = 0;
            limit += limit / 4 + 1;
            continue;
        }
        if (done > 0)
            attempts = 0;
        if (++attempts > c->backoff.max_retries)
            return fail(b, error, &e, attempts - 1);
        atomic_fetch_add(&counters->retries, 1);
        {
            int64_t delay = _ccopy_request_backoff_ms(c->requester, &c->backoff, attempts, retry_after,
                                                      c->rng_state);
            atomic_fetch_add(&counters->wait_ms, delay);
            if (throttled == 0 && _ccopy_source_error_class(&e) != CCOPY_RETRY_THROTTLED)
                _ccopy_retry_note(delay, attempts, c->backoff.max_retries,
                                  "writing %zu document%s to %s.%s: %s", sent, sent == 1 ? "" : "s",
                                  c->db, c->coll, e.message);
            if (_ccopy_sleep_ms(delay, c->requester->canceled))
                return _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
        }
    }
    return 0;
}

/* Upsert the documents an insert found taken (state DUPLICATE), as one more logical batch. */
static int upsert_duplicates(bulk_t *b, ccopy_error_t *error)
{
    _ccopy_bulk_config_t upsert = *b->c;
    const bson_t **docs = NULL;
    size_t i, n = 0;
    int rc;
    for (i = 0; i < b->count; i++)
        if (b->state[i] == DUPLICATE) {
            if (!docs)
                docs = _ccopy_calloc(b->count - i, sizeof *docs);
            docs[n++] = b->docs[i];
        }
    if (n == 0)
        return 0;
    upsert.mode = CCOPY_WRITE_UPSERT;
    upsert.upsert_duplicates = 0;
    upsert.duplicate_is_written = 0;
    rc = _ccopy_bulk_write(&upsert, docs, n, b->result, error);
    free(docs);
    return rc;
}

int _ccopy_bulk_write(const _ccopy_bulk_config_t *config, const bson_t *const *docs, size_t count,
                      _ccopy_bulk_result_t *result, ccopy_error_t *error)
{
    bulk_t b = {.c = config, .docs = docs, .count = count, .result = result};
    int rc;

    if (count == 0)
        return 0;
    b.state = _ccopy_calloc(count, sizeof *b.state);
    b.sent = _ccopy_calloc(count, 1);
    b.pending = _ccopy_calloc(count, sizeof *b.pending);
    rc = send_pending(&b, error);
    if (rc == 0)
        rc = upsert_duplicates(&b, error);
    free(b.state);
    free(b.sent);
    free(b.pending);
    return rc;
}
