/*
 * The writer's lock on a blob destination. A writing job holds a lease on PREFIX/.cosmocopy.lock
 * (15 s), as the folder sink holds an flock: a second job on the same destination is refused. A
 * killed job's lease runs out by itself; the next run waits up to 20 s for it. A thread renews
 * the lease (blob.h says when and how long each try may take) and keeps its deadline: 12 s after
 * the start of the try that last renewed it. Every write (Put Block, Put Block List, Put Blob,
 * Delete) checks the lease first and gets no more time than it has left; once a renewal is
 * answered with anything but success or a failure worth trying again (409: another job has the
 * lock), or the deadline passes without one, the lease is lost for good: transfers in flight are
 * dropped, every write fails with why, and the windows being written fail. A blob lease guards
 * only the lock blob itself, so this check on our side is what keeps a writer that lost the lock
 * from committing.
 *
 * The timing rules themselves (blob.h: deadline, renewal, try limits, verdicts) are the first
 * functions here, free of any sink, so unit tests reach them directly.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "blob.h"
#include "blob_sink.h"
#include "common.h"

#define LEASE_WAIT_MS 20000     /* a killed job's lease runs out within 15 s */

/* ---- the lease on a writer's lock --------------------------------------------------------- */

int64_t _ccopy_blob_lease_deadline_ms(int64_t started_ms)
{
    return started_ms + CCOPY_BLOB_LEASE_HELD_MS;
}

int64_t _ccopy_blob_lease_renew_at_ms(int64_t started_ms)
{
    return started_ms + CCOPY_BLOB_LEASE_RENEW_MS;
}

long _ccopy_blob_lease_try_timeout_ms(int64_t now_ms, int64_t deadline_ms, long timeout_ms)
{
    int64_t left = deadline_ms - now_ms, limit = CCOPY_BLOB_LEASE_TRY_MS;
    if (timeout_ms > 0 && timeout_ms < limit)
        limit = timeout_ms;
    if (left < limit)
        limit = left;
    return limit > 0 ? (long)limit : 0;
}

int64_t _ccopy_blob_lease_retry_at_ms(int64_t now_ms, int64_t deadline_ms, int64_t retry_after_ms)
{
    int64_t at = now_ms + CCOPY_BLOB_LEASE_RETRY_MS;
    /* a server's Retry-After is heeded while a try of CCOPY_BLOB_LEASE_RETRY_MS still fits after
     * it; the lease matters more than its wish */
    if (retry_after_ms > CCOPY_BLOB_LEASE_RETRY_MS &&
        now_ms + retry_after_ms + CCOPY_BLOB_LEASE_RETRY_MS <= deadline_ms)
        at = now_ms + retry_after_ms;
    return at;
}

_ccopy_blob_lease_verdict_t _ccopy_blob_lease_verdict(const _ccopy_http_response_t *res)
{
    if (res->curl_code == CURLE_OK && res->status == 200)
        return CCOPY_BLOB_LEASE_RENEWED;
    /* no answer at all says nothing about the lease: tried again until the deadline */
    if (res->curl_code != CURLE_OK || _ccopy_http_retryable(res))
        return CCOPY_BLOB_LEASE_TRY_AGAIN;
    return CCOPY_BLOB_LEASE_LOST;
}

/* ---- the sink's lease --------------------------------------------------------------------- */

static int lease_request(_ccopy_blob_sink_t *b, _ccopy_blob_client_t *client, const char *action,
                         _ccopy_http_response_t *res, ccopy_error_t *error)
{
    char act[48], dur[48], id[96];
    _ccopy_blob_request_t req = {.method = "PUT", .container = b->container, .blob = b->lock_blob,
                                 .query = "comp=lease"};
    int n = 0;
    snprintf(act, sizeof act, "x-ms-lease-action:%s", action);
    req.xms[n++] = act;
    if (strcmp(action, "acquire") == 0) {
        snprintf(dur, sizeof dur, "x-ms-lease-duration:%d", CCOPY_BLOB_LEASE_SECONDS);
        req.xms[n++] = dur;
        snprintf(id, sizeof id, "x-ms-proposed-lease-id:%s", b->lease_id);
    } else {
        snprintf(id, sizeof id, "x-ms-lease-id:%s", b->lease_id);
    }
    req.xms[n++] = id;
    return _ccopy_blob_send(client, &req, res, "taking the destination's lock", error);
}

/* Under lease_lock. The lease is lost for good: every write from now on fails with *why. */
static void lease_lose(_ccopy_blob_sink_t *b, const ccopy_error_t *why)
{
    if (b->lease_lost)
        return;
    b->lease_error = *why;
    b->lease_lost = 1;
    pthread_cond_broadcast(&b->lease_cond);
}

/* Under lease_lock: a lease whose deadline passed without a confirmed renewal is lost. */
static void lease_expire_if_due(_ccopy_blob_sink_t *b, int64_t now_ms)
{
    ccopy_error_t e;
    const char *why;
    if (b->lease_lost || now_ms < b->lease_deadline_ms)
        return;
    why = b->renew_failed      ? b->renew_failure.message
          : b->renew_in_flight ? "a renewal was still unanswered"
                               : "no renewal could be tried in time: was the process stalled?";
    _ccopy_error_set(&e, b->renew_failed ? b->renew_failure.code : CCOPY_ETIMEDOUT,
                     CCOPY_DOMAIN_HTTP, b->renew_failed ? b->renew_failure.cause : 0,
                     "the lease on %s could not be renewed in time (none confirmed within %d s of "
                     "the last; %s): nothing more is written, run again to resume",
                     b->lock_where, CCOPY_BLOB_LEASE_HELD_MS / 1000, why);
    lease_lose(b, &e);
}

/* 0 while the lease is held, with *left_ms (optional) what is left of it; else the code of
 * why it was lost, and why in *error. */
int _ccopy_blob_lease_check(_ccopy_blob_sink_t *b, int64_t *left_ms, ccopy_error_t *error)
{
    int64_t now = _ccopy_monotonic_ms();
    int rc = 0;
    pthread_mutex_lock(&b->lease_lock);
    lease_expire_if_due(b, now);
    if (b->lease_lost) {
        if (error)
            *error = b->lease_error;
        rc = b->lease_error.code;
    } else if (left_ms) {
        *left_ms = b->lease_deadline_ms - now;
    }
    pthread_mutex_unlock(&b->lease_lock);
    return rc;
}

/* Every try of a write: only while the lease is held, and for no longer than it has left. */
int _ccopy_blob_lease_guard(void *user_data, long *timeout_ms, ccopy_error_t *error)
{
    _ccopy_blob_sink_t *b = user_data;
    int64_t left = 0;
    int rc = _ccopy_blob_lease_check(b, &left, error);
    if (rc == 0 && (*timeout_ms <= 0 || left < *timeout_ms))
        *timeout_ms = (long)left;
    return rc;
}

/* Under lease_lock: wait until at_ms (monotonic) or a signal. */
static void lease_wait_until(_ccopy_blob_sink_t *b, int64_t at_ms)
{
    struct timespec until;
    until.tv_sec = (time_t)(at_ms / 1000);
    until.tv_nsec = (long)(at_ms % 1000) * 1000000L;
    pthread_cond_timedwait(&b->lease_cond, &b->lease_lock, &until);
}

static void *renew_lease(void *arg)
{
    _ccopy_blob_sink_t *b = arg;
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    ccopy_error_t not_sent;
    int unsent;

    pthread_mutex_lock(&b->lease_lock);
    while (!b->stop_renewing && !b->lease_lost) {
        int64_t now = _ccopy_monotonic_ms(), started;
        _ccopy_blob_lease_verdict_t verdict;

        lease_expire_if_due(b, now);
        if (b->lease_lost)
            break;
        if (now < b->lease_renew_at_ms) {
            lease_wait_until(b, b->lease_renew_at_ms);
            continue;
        }
        b->lease_client.http.timeout_ms = _ccopy_blob_lease_try_timeout_ms(
            now, b->lease_deadline_ms, (long)b->settings.timeout_ms);
        b->renew_in_flight = 1;
        pthread_mutex_unlock(&b->lease_lock);
        /* one try: the lease's deadline, not a retry budget, says how long to go on */
        started = _ccopy_monotonic_ms();
        unsent = lease_request(b, &b->lease_client, "renew", &res, &not_sent) != 0 &&
                 res.status == 0 && res.curl_code == CURLE_OK; /* no token could be had */
        verdict = _ccopy_blob_lease_verdict(&res);
        pthread_mutex_lock(&b->lease_lock);
        b->renew_in_flight = 0;
        if (verdict == CCOPY_BLOB_LEASE_RENEWED) {
            /* the server renewed it when it took the request, after `started` */
            b->lease_deadline_ms = _ccopy_blob_lease_deadline_ms(started);
            b->lease_renew_at_ms = _ccopy_blob_lease_renew_at_ms(started);
            b->renew_failed = 0;
        } else if (verdict == CCOPY_BLOB_LEASE_TRY_AGAIN) {
            _ccopy_blob_error(&b->acct, &res, "last try", &b->renew_failure);
            b->renew_failed = 1;
            b->lease_renew_at_ms = _ccopy_blob_lease_retry_at_ms(_ccopy_monotonic_ms(),
                                                                 b->lease_deadline_ms,
                                                                 res.retry_after_ms);
        } else {
            ccopy_error_t e, why;
            int code = unsent ? (why = not_sent).code
                              : _ccopy_blob_error(&b->acct, &res, "renewing it", &why);
            _ccopy_error_set(&e, res.status == 409 ? CCOPY_EBUSY : code, CCOPY_DOMAIN_HTTP,
                             res.status,
                             "the lease on %s was lost (%s%s): nothing more is written, run "
                             "again to resume",
                             b->lock_where, why.message,
                             res.status == 409 ? "; another job may have taken the lock"
                             : res.status == 404 ? "; the lock blob was deleted" : "");
            lease_lose(b, &e);
        }
        _ccopy_http_response_reset(&res);
    }
    pthread_mutex_unlock(&b->lease_lock);
    _ccopy_http_response_reset(&res);
    return NULL;
}

/* A lease id of our own (a version 4 UUID): acquiring again with it after an answer that was
 * lost gets the lease that try took. */
static void new_lease_id(char out[64])
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1) {
        uint64_t x = (uint64_t)_ccopy_monotonic_ms() * 0x9E3779B97F4A7C15ULL ^ (uintptr_t)out;
        size_t i;
        for (i = 0; i < sizeof r; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            r[i] = (unsigned char)x;
        }
    }
    r[6] = (unsigned char)((r[6] & 0x0F) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);
    snprintf(out, 64, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
}

/* One try at releasing the lease, bounded: a lease left behind runs out by itself in 15 s. */
static void release_once(_ccopy_blob_sink_t *b)
{
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    b->lease_client.http.timeout_ms = _ccopy_blob_lease_try_timeout_ms(0, CCOPY_BLOB_LEASE_TRY_MS,
                                                                 (long)b->settings.timeout_ms);
    lease_request(b, &b->lease_client, "release", &res, NULL);
    _ccopy_http_response_reset(&res);
}

/* Create the lock blob if needed and lease it, waiting out a lease left by a killed job; then
 * start the thread that renews it. */
int _ccopy_blob_lock_take(_ccopy_blob_sink_t *b, ccopy_error_t *error)
{
    _ccopy_blob_request_t create = {.method = "PUT", .container = b->container, .blob = b->lock_blob,
                                    .if_none_match = "*", .xms = {"x-ms-blob-type:BlockBlob"}};
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    int64_t give_up = _ccopy_monotonic_ms() + LEASE_WAIT_MS;
    int rc = _ccopy_blob_small_send(b, &create, &res, "creating the destination's lock", error);
    int err;

    if (rc == 0 && res.status != 201 && res.status != 409)
        rc = _ccopy_blob_error(&b->acct, &res, "creating the destination's lock", error);
    if (rc == 0) {
        /* Every later run reads the manifests back, as list, restore and verify do: a SAS
         * without read permission wrote a first backup, and every run after it failed. */
        _ccopy_blob_request_t read = {.method = "GET", .container = b->container,
                                      .blob = b->lock_blob};
        rc = _ccopy_blob_small_send(b, &read, &res, "reading the destination's lock", error);
        if (rc == 0 && res.status != 200)
            rc = _ccopy_blob_error(&b->acct, &res,
                                   "reading the destination's lock (a backup is read back by every "
                                   "later run: the SAS needs read permission too)",
                                   error);
    }
    new_lease_id(b->lease_id);
    while (rc == 0) {
        pthread_mutex_lock(&b->lock);
        rc = lease_request(b, &b->client, "acquire", &res, error);
        pthread_mutex_unlock(&b->lock);
        if (rc != 0)
            break;
        if (res.status == 201 || res.status == 200) {
            b->leased = 1;
            /* held from when the try that took it started */
            b->lease_deadline_ms = _ccopy_blob_lease_deadline_ms(b->client.http.try_started_ms);
            b->lease_renew_at_ms = _ccopy_blob_lease_renew_at_ms(b->client.http.try_started_ms);
            break;
        }
        if (res.status != 409) {
            rc = _ccopy_blob_error(&b->acct, &res, "taking the destination's lock", error);
            break;
        }
        if (_ccopy_monotonic_ms() >= give_up) {
            rc = _ccopy_error_set(error, CCOPY_EBUSY, CCOPY_DOMAIN_HTTP, 409,
                                  "another job is writing to azblob://%s/%s (it holds the lease on "
                                  "%s); run one job per destination, or break that lease if its "
                                  "job is gone",
                                  b->container, b->prefix, b->lock_blob);
            break;
        }
        if (_ccopy_sleep_ms(1000, b->settings.canceled)) {
            rc = _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
            break;
        }
    }
    _ccopy_http_response_reset(&res);
    if (rc != 0 || !b->leased)
        return rc;
    _ccopy_blob_client_init(&b->lease_client, b);
    b->lease_client.http.retries = NULL;
    b->lease_client.http.backoff.max_retries = 0;
    err = pthread_create(&b->renewer, NULL, renew_lease, b);
    if (err != 0) {
        /* without renewals the lease would run out under the windows being written */
        release_once(b);
        curl_easy_cleanup(b->lease_client.http.curl);
        b->lease_client.http.curl = NULL;
        b->leased = 0;
        return _ccopy_error_set(error, CCOPY_EIO, CCOPY_DOMAIN_OS, err,
                                "cannot start the thread that renews the lease on %s (%s): "
                                "nothing was written",
                                b->lock_where, strerror(err));
    }
    b->renewing = 1;
    return 0;
}

void _ccopy_blob_lock_release(_ccopy_blob_sink_t *b)
{
    if (!b->leased)
        return;
    if (b->renewing) {
        pthread_mutex_lock(&b->lease_lock);
        b->stop_renewing = 1;
        pthread_cond_broadcast(&b->lease_cond);
        pthread_mutex_unlock(&b->lease_lock);
        pthread_join(b->renewer, NULL);
        b->renewing = 0;
    }
    release_once(b);
    curl_easy_cleanup(b->lease_client.http.curl);
    b->lease_client.http.curl = NULL;
    b->leased = 0;
}
