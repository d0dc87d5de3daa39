/*
 * Governed requests (see request.h): reservation, the command itself, the charge from
 * getLastRequestStatistics or the estimate model, and the settlement with the governor.
 */
#include <string.h>

#include "common.h"
#include "request.h"
#include "source.h"

#define READ_ESTIMATE_INITIAL_MRU 1000 /* 1 RU until the first read has been charged */

void _ccopy_request_shared_init(_ccopy_request_shared_t *shared, _ccopy_governor_t *governor)
{
    shared->governor = governor;
    atomic_init(&shared->stats_supported, -1);
    atomic_init(&shared->read_estimate_mru, READ_ESTIMATE_INITIAL_MRU);
    atomic_init(&shared->read_doc_mru, 0);
}

int _ccopy_request_read_batch(const _ccopy_requester_t *r, int configured)
{
    double pace = _ccopy_governor_stats(r->shared->governor).rate, n;
    long long per_doc = atomic_load(&r->shared->read_doc_mru);
    if (!(pace > 0))
        return configured;
    if (per_doc <= 0) /* nothing read yet: MongoDB's own first batch */
        return configured < CCOPY_READ_FIRST_BATCH ? configured : CCOPY_READ_FIRST_BATCH;
    n = pace * CCOPY_READ_BATCH_SECONDS;
    if (n < CCOPY_READ_BATCH_MIN_RU)
        n = CCOPY_READ_BATCH_MIN_RU;
    n = n * 1000.0 / (double)per_doc;
    if (n >= (double)configured)
        return configured;
    return n < 1.0 ? 1 : (int)n;
}

double _ccopy_request_write_most_ru(const _ccopy_requester_t *r)
{
    double pace = _ccopy_governor_stats(r->shared->governor).rate, most;
    if (!(pace > 0))
        return 0;
    most = pace * CCOPY_READ_BATCH_SECONDS;
    return most < CCOPY_READ_BATCH_MIN_RU ? CCOPY_READ_BATCH_MIN_RU : most;
}

void _ccopy_requester_init(_ccopy_requester_t *r, mongoc_client_t *client,
                           _ccopy_request_shared_t *shared, _ccopy_counters_t *counters,
                           atomic_int *canceled)
{
    mongoc_session_opt_t *opts = mongoc_session_opts_new();
    bson_error_t ignored;

    r->client = client;
    r->shared = shared;
    r->counters = counters;
    r->canceled = canceled;
    r->background_throttle = 0;
    /* Causal consistency would add afterClusterTime to reads: not wanted for a scan. */
    mongoc_session_opts_set_causal_consistency(opts, false);
    r->session = mongoc_client_start_session(client, opts, &ignored);
    mongoc_session_opts_destroy(opts);
}

void _ccopy_requester_cleanup(_ccopy_requester_t *r)
{
    if (r->session)
        mongoc_client_session_destroy(r->session);
    r->session = NULL;
}

double _ccopy_ru_estimate_read(int64_t documents, int64_t bytes)
{
    return 1.0 + 0.25 * (double)documents + 0.25 * (double)bytes / 1024.0;
}

double _ccopy_ru_estimate_write(int64_t documents, int64_t bytes)
{
    return 1.0 + 5.0 * (double)documents + 1.0 * (double)bytes / 1024.0;
}

void _ccopy_reply_batch_size(const bson_t *reply, int64_t *documents, int64_t *bytes)
{
    bson_iter_t it, batch;
    *documents = 0;
    *bytes = 0;
    if (!bson_iter_init_find(&it, reply, "cursor") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
        !bson_iter_recurse(&it, &it))
        return;
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if ((strcmp(key, "firstBatch") == 0 || strcmp(key, "nextBatch") == 0) &&
            BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &batch)) {
            while (bson_iter_next(&batch)) {
                uint32_t len = 0;
                const uint8_t *data = NULL;
                if (!BSON_ITER_HOLDS_DOCUMENT(&batch))
                    continue;
                bson_iter_document(&batch, &len, &data);
                (*documents)++;
                *bytes += len;
            }
            return;
        }
    }
}

static double number_value(const bson_iter_t *it)
{
    switch (bson_iter_type(it)) {
    case BSON_TYPE_DOUBLE: return bson_iter_double(it);
    case BSON_TYPE_INT32: return bson_iter_int32(it);
    case BSON_TYPE_INT64: return (double)bson_iter_int64(it);
    default: return -1;
    }
}

/* The charge of the connection's last request from getLastRequestStatistics, or -1 when the
 * server cannot say (remembering job-wide when it does not know the command at all). */
static double server_charge(_ccopy_requester_t *r, const char *db)
{
    bson_t command = BSON_INITIALIZER, reply, opts = BSON_INITIALIZER;
    bson_error_t e;
    bson_iter_t it;
    double charge = -1;

    if (atomic_load(&r->shared->stats_supported) == 0)
        return -1;
    BSON_APPEND_INT32(&command, "getLastRequestStatistics", 1);
    if (r->session)
        mongoc_client_session_append(r->session, &opts, NULL);
    if (mongoc_client_command_with_opts(r->client, db, &command, NULL, &opts, &reply, &e)) {
        if (bson_iter_init_find(&it, &reply, "RequestCharge"))
            charge = number_value(&it);
        atomic_store(&r->shared->stats_supported, 1);
    } else if (e.code == 59 || e.code == 115 || strstr(e.message, "no such command") ||
               strstr(e.message, "not supported")) {
        atomic_store(&r->shared->stats_supported, 0);
    }
    bson_destroy(&reply);
    bson_destroy(&command);
    bson_destroy(&opts);
    return charge;
}

_ccopy_request_result_t _ccopy_request_run(_ccopy_requester_t *r, const char *db,
                                           const bson_t *command, _ccopy_request_kind_t kind,
                                           double write_estimate, bson_t *reply, bson_error_t *e)
{
    _ccopy_governor_t *g = r->shared->governor;
    bson_t opts = BSON_INITIALIZER;
    double reserved, charge;
    int64_t documents = 0, bytes = 0;
    bool ok;

    r->background_throttle = 0;
    reserved = kind == CCOPY_REQUEST_WRITE
                   ? write_estimate
                   : (double)atomic_load(&r->shared->read_estimate_mru) / 1000.0;
    if (_ccopy_governor_acquire(g, reserved, r->canceled, NULL) != 0) {
        bson_destroy(&opts);
        bson_init(reply);
        return CCOPY_REQUEST_CANCELED;
    }
    if (r->session)
        mongoc_client_session_append(r->session, &opts, NULL);
    ok = mongoc_client_command_with_opts(r->client, db, command, NULL, &opts, reply, e);
    bson_destroy(&opts);
    if (!ok) {
        if (_ccopy_source_error_class(e) == CCOPY_RETRY_THROTTLED) {
            atomic_fetch_add(&r->counters->throttle_events, 1);
            r->background_throttle =
                _ccopy_governor_throttled(g, reserved, _ccopy_parse_retry_after_ms(e->message));
        } else {
            _ccopy_governor_release(g, reserved);
        }
        return CCOPY_REQUEST_FAILED;
    }

    if (kind == CCOPY_REQUEST_READ)
        _ccopy_reply_batch_size(reply, &documents, &bytes);
    charge = server_charge(r, db);
    if (charge >= 0) {
        _ccopy_governor_settle(g, reserved, charge, 1);
    } else {
        charge = kind == CCOPY_REQUEST_READ ? _ccopy_ru_estimate_read(documents, bytes)
                                            : write_estimate;
        _ccopy_governor_settle(g, reserved, charge, 0);
    }
    if (kind == CCOPY_REQUEST_READ) {
        /* smooth over the last few reads: the next one is most likely the same size */
        long long old = atomic_load(&r->shared->read_estimate_mru);
        long long now = (long long)(charge * 1000.0);
        atomic_store(&r->shared->read_estimate_mru, (3 * old + now) / 4);
        if (documents > 0) {
            /* the request's own cost spread over its documents: a smaller batch pays it
             * over fewer, so the figure errs towards smaller batches */
            long long per_doc = (long long)(charge * 1000.0 / (double)documents);
            old = atomic_load(&r->shared->read_doc_mru);
            if (per_doc < 1)
                per_doc = 1;
            atomic_store(&r->shared->read_doc_mru, old > 0 ? (3 * old + per_doc) / 4 : per_doc);
        }
    }
    return CCOPY_REQUEST_OK;
}

int64_t _ccopy_request_backoff_ms(const _ccopy_requester_t *r, const _ccopy_backoff_t *policy,
                                  int attempt, int64_t retry_after_ms, uint64_t *rng_state)
{
    int64_t delay = _ccopy_backoff_delay_ms(policy, attempt, retry_after_ms, rng_state);
    /* the generator advanced all the same, so schedules stay aligned */
    return r->background_throttle && retry_after_ms >= 0 ? retry_after_ms : delay;
}
