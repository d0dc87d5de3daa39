/*
 * The Azure Blob Storage sink. Objects are block blobs named PREFIX/<db>/<coll>/<name>, the
 * same names the folder sink uses for files, so the catalog, incremental runs and list work the
 * same on both.
 *
 * A window's data streams into blocks (Put Block, each with its Content-MD5), several in flight
 * at once on a libcurl multi handle, and is committed with Put Block List only when the window
 * is done. Memory is the blocks in flight, whatever the window's size. Block size doubles every
 * 10,000 blocks, so a window never needs more than 50,000. Data blobs and manifests are created
 * with If-None-Match: * (write-once); a window is complete when its manifest exists. A
 * half-written window (data without manifest, or uncommitted blocks) is redone from the start.
 * When a commit's answer is lost and the retry meets 409, the blob is ours if its
 * x-ms-meta-sha256 (or, for a manifest, its content) is what we sent. Data objects are read back
 * with Get Blob streamed to the caller; a read cut short resumes from the first byte not yet
 * delivered, on the condition (If-Match) that the blob is still the version it started on.
 *
 * A writing job holds a lease on PREFIX/.cosmocopy.lock (15 s), as the folder sink holds an
 * flock: a second job on the same destination is refused. A killed job's lease runs out by
 * itself; the next run waits up to 20 s for it. A thread renews the lease (blob.h says when and
 * how long each try may take) and keeps its deadline: 12 s after the start of the try that last
 * renewed it. Every write (Put Block, Put Block List, Put Blob, Delete) checks the lease first
 * and gets no more time than it has left; once a renewal is answered with anything but success
 * or a failure worth trying again (409: another job has the lock), or the deadline passes
 * without one, the lease is lost for good: transfers in flight are dropped, every write fails
 * with why, and the windows being written fail. A blob lease guards only the lock blob itself,
 * so this check on our side is what keeps a writer that lost the lock from committing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "blob.h"
#include "common.h"
#include "sink.h"

#define MAX_BLOCK_SIZE ((size_t)4000 << 20)
#define BLOCKS_PER_DOUBLING 10000

#define LEASE_WAIT_MS 20000     /* a killed job's lease runs out within 15 s */
#define LOCK_NAME ".cosmocopy.lock"

typedef struct blob_sink {
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
} blob_sink_t;

static char *full_name(const blob_sink_t *b, const char *db, const char *coll, const char *name)
{
    const char *sep = b->prefix[0] ? "/" : "";
    if (!coll)
        return _ccopy_strdup_printf("%s%s%s/%s", b->prefix, sep, db, name ? name : "");
    return _ccopy_strdup_printf("%s%s%s/%s/%s", b->prefix, sep, db, coll, name ? name : "");
}

static char *blob_describe(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name)
{
    blob_sink_t *b = sink->impl;
    char *path = full_name(b, db, coll, name);
    char *text = _ccopy_strdup_printf("azblob://%s/%s", b->container, path);
    free(path);
    return text;
}

static void client_init(_ccopy_blob_client_t *c, const blob_sink_t *b)
{
    memset(c, 0, sizeof *c);
    c->acct = &b->acct;
    c->curl = curl_easy_init();
    if (!c->curl) /* only without memory: the engine's rule for it (see _ccopy_malloc) */
        _ccopy_out_of_memory(sizeof(void *));
    c->backoff = b->settings.backoff;
    c->rng = (uint64_t)_ccopy_monotonic_ms() * 0x9E3779B97F4A7C15ULL + (uintptr_t)c;
    c->canceled = b->settings.canceled;
    c->timeout_ms = (long)b->settings.timeout_ms;
    c->retries = b->settings.retries;
}

/* One small request on the sink's shared client. */
static int small_send(blob_sink_t *b, const _ccopy_blob_request_t *req, _ccopy_blob_response_t *res,
                      const char *what, ccopy_error_t *error)
{
    int rc;
    pthread_mutex_lock(&b->lock);
    rc = _ccopy_blob_send(&b->client, req, res, what, error);
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* ---- the writer's lock ------------------------------------------------------------------ */

static int lease_guard(void *user_data, long *timeout_ms, ccopy_error_t *error);

/* One small write on the sink's shared client, made only while the lease is held. */
static int small_write(blob_sink_t *b, const _ccopy_blob_request_t *req, _ccopy_blob_response_t *res,
                       const char *what, ccopy_error_t *error)
{
    int rc;
    pthread_mutex_lock(&b->lock);
    b->client.guard = b->leased ? lease_guard : NULL;
    b->client.guard_data = b;
    rc = _ccopy_blob_send(&b->client, req, res, what, error);
    b->client.guard = NULL;
    pthread_mutex_unlock(&b->lock);
    return rc;
}

static int lease_request(blob_sink_t *b, _ccopy_blob_client_t *client, const char *action,
                         _ccopy_blob_response_t *res, ccopy_error_t *error)
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
static void lease_lose(blob_sink_t *b, const ccopy_error_t *why)
{
    if (b->lease_lost)
        return;
    b->lease_error = *why;
    b->lease_lost = 1;
    pthread_cond_broadcast(&b->lease_cond);
}

/* Under lease_lock: a lease whose deadline passed without a confirmed renewal is lost. */
static void lease_expire_if_due(blob_sink_t *b, int64_t now_ms)
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
static int lease_check(blob_sink_t *b, int64_t *left_ms, ccopy_error_t *error)
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
static int lease_guard(void *user_data, long *timeout_ms, ccopy_error_t *error)
{
    blob_sink_t *b = user_data;
    int64_t left = 0;
    int rc = lease_check(b, &left, error);
    if (rc == 0 && (*timeout_ms <= 0 || left < *timeout_ms))
        *timeout_ms = (long)left;
    return rc;
}

/* Under lease_lock: wait until at_ms (monotonic) or a signal. */
static void lease_wait_until(blob_sink_t *b, int64_t at_ms)
{
    struct timespec until;
    until.tv_sec = (time_t)(at_ms / 1000);
    until.tv_nsec = (long)(at_ms % 1000) * 1000000L;
    pthread_cond_timedwait(&b->lease_cond, &b->lease_lock, &until);
}

static void *renew_lease(void *arg)
{
    blob_sink_t *b = arg;
    _ccopy_blob_response_t res = {.body_limit = 1 << 20};

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
        b->lease_client.timeout_ms = _ccopy_blob_lease_try_timeout_ms(
            now, b->lease_deadline_ms, (long)b->settings.timeout_ms);
        b->renew_in_flight = 1;
        pthread_mutex_unlock(&b->lease_lock);
        /* one try: the lease's deadline, not a retry budget, says how long to go on */
        started = _ccopy_monotonic_ms();
        lease_request(b, &b->lease_client, "renew", &res, NULL);
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
            int code = _ccopy_blob_error(&b->acct, &res, "renewing it", &why);
            _ccopy_error_set(&e, res.status == 409 ? CCOPY_EBUSY : code, CCOPY_DOMAIN_HTTP,
                             res.status,
                             "the lease on %s was lost (%s%s): nothing more is written, run "
                             "again to resume",
                             b->lock_where, why.message,
                             res.status == 409 ? "; another job may have taken the lock"
                             : res.status == 404 ? "; the lock blob was deleted" : "");
            lease_lose(b, &e);
        }
        _ccopy_blob_response_reset(&res);
    }
    pthread_mutex_unlock(&b->lease_lock);
    _ccopy_blob_response_reset(&res);
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
static void release_once(blob_sink_t *b)
{
    _ccopy_blob_response_t res = {.body_limit = 1 << 20};
    b->lease_client.timeout_ms = _ccopy_blob_lease_try_timeout_ms(0, CCOPY_BLOB_LEASE_TRY_MS,
                                                                 (long)b->settings.timeout_ms);
    lease_request(b, &b->lease_client, "release", &res, NULL);
    _ccopy_blob_response_reset(&res);
}

/* Create the lock blob if needed and lease it, waiting out a lease left by a killed job; then
 * start the thread that renews it. */
static int take_lock(blob_sink_t *b, ccopy_error_t *error)
{
    _ccopy_blob_request_t create = {.method = "PUT", .container = b->container, .blob = b->lock_blob,
                                    .if_none_match = "*", .xms = {"x-ms-blob-type:BlockBlob"}};
    _ccopy_blob_response_t res = {.body_limit = 1 << 20};
    int64_t give_up = _ccopy_monotonic_ms() + LEASE_WAIT_MS;
    int rc = small_send(b, &create, &res, "creating the destination's lock", error), err;

    if (rc == 0 && res.status != 201 && res.status != 409)
        rc = _ccopy_blob_error(&b->acct, &res, "creating the destination's lock", error);
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
            b->lease_deadline_ms = _ccopy_blob_lease_deadline_ms(b->client.try_started_ms);
            b->lease_renew_at_ms = _ccopy_blob_lease_renew_at_ms(b->client.try_started_ms);
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
    _ccopy_blob_response_reset(&res);
    if (rc != 0 || !b->leased)
        return rc;
    client_init(&b->lease_client, b);
    b->lease_client.retries = NULL;
    b->lease_client.backoff.max_retries = 0;
    err = pthread_create(&b->renewer, NULL, renew_lease, b);
    if (err != 0) {
        /* without renewals the lease would run out under the windows being written */
        release_once(b);
        curl_easy_cleanup(b->lease_client.curl);
        b->lease_client.curl = NULL;
        b->leased = 0;
        return _ccopy_error_set(error, CCOPY_EIO, CCOPY_DOMAIN_OS, err,
                                "cannot start the thread that renews the lease on %s (%s): "
                                "nothing was written",
                                b->lock_where, strerror(err));
    }
    b->renewing = 1;
    return 0;
}

static void release_lock(blob_sink_t *b)
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
    curl_easy_cleanup(b->lease_client.curl);
    b->lease_client.curl = NULL;
    b->leased = 0;
}

static int blob_open(_ccopy_sink_t *sink, int for_writing, ccopy_error_t *error)
{
    blob_sink_t *b = sink->impl;
    _ccopy_blob_request_t req = {.method = "GET", .container = b->container,
                                 .query = "restype=container"};
    _ccopy_blob_response_t res = {.body_limit = 1 << 20};
    char *what = _ccopy_strdup_printf("checking container %s of account %s", b->container,
                                      b->acct.account);
    int rc = small_send(b, &req, &res, what, error);

    /* A SAS scoped to a container may not read the container's properties; listing it is the
     * check that such a SAS can pass. */
    if (rc == 0 && res.status == 403 && b->acct.key_len == 0) {
        _ccopy_blob_request_t list = {.method = "GET", .container = b->container,
                                      .query = "restype=container&comp=list&maxresults=1"};
        rc = small_send(b, &list, &res, what, error);
    }
    if (rc == 0 && res.status == 404 && strcmp(res.error_code, "ContainerNotFound") == 0) {
        if (!for_writing || !b->settings.create_container) {
            /* reading a backup: the container a person named is missing, as a folder can be */
            rc = _ccopy_error_set(error, for_writing ? CCOPY_ENOTFOUND : CCOPY_EINVAL, CCOPY_DOMAIN_HTTP, 404,
                                  "container %s does not exist in account %s%s", b->container,
                                  b->acct.account,
                                  for_writing ? " (option create_container creates it)" : "");
        } else {
            _ccopy_blob_request_t create = {.method = "PUT", .container = b->container,
                                            .query = "restype=container"};
            rc = small_send(b, &create, &res, what, error);
            if (rc == 0 && res.status != 201 && res.status != 409)
                rc = _ccopy_blob_error(&b->acct, &res, what, error);
        }
    } else if (rc == 0 && res.status != 200) {
        rc = _ccopy_blob_error(&b->acct, &res, what, error);
    }
    _ccopy_blob_response_reset(&res);
    free(what);
    if (rc == 0 && for_writing)
        rc = take_lock(b, error);
    return rc;
}

/* ---- listing ------------------------------------------------------------------------------ */

static char *xml_unescape(const char *s, size_t n)
{
    char *out = _ccopy_malloc(n + 1);
    size_t i = 0, o = 0;
    while (i < n) {
        if (s[i] == '&') {
            static const struct { const char *ent; char c; } ents[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
            size_t k, done = 0;
            for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
                size_t len = strlen(ents[k].ent);
                if (i + len <= n && strncmp(s + i, ents[k].ent, len) == 0) {
                    out[o++] = ents[k].c;
                    i += len;
                    done = 1;
                    break;
                }
            }
            if (done)
                continue;
        }
        out[o++] = s[i++];
    }
    out[o] = '\0';
    return out;
}

/* The text of every <tag>...</tag> inside each <within>...</within> of xml. */
static void xml_collect(const char *xml, const char *within, const char *tag, char ***names,
                        size_t *count, size_t *cap)
{
    char open_w[32], close_w[32], open_t[32], close_t[32];
    const char *p = xml;
    snprintf(open_w, sizeof open_w, "<%s>", within);
    snprintf(close_w, sizeof close_w, "</%s>", within);
    snprintf(open_t, sizeof open_t, "<%s>", tag);
    snprintf(close_t, sizeof close_t, "</%s>", tag);
    while ((p = strstr(p, open_w)) != NULL) {
        const char *end = strstr(p, close_w), *a, *z;
        if (!end)
            break;
        a = strstr(p, open_t);
        if (a && a < end) {
            a += strlen(open_t);
            z = strstr(a, close_t);
            if (z && z < end) {
                if (*count == *cap) {
                    *cap = *cap ? *cap * 2 : 64;
                    *names = _ccopy_realloc(*names, *cap * sizeof **names);
                }
                (*names)[(*count)++] = xml_unescape(a, (size_t)(z - a));
            }
        }
        p = end + strlen(close_w);
    }
}

/* Every blob (or, with a delimiter, every virtual folder) under `prefix`, paging by marker. */
static int list_prefix(blob_sink_t *b, const char *prefix, int folders, char ***out, size_t *out_count,
                       ccopy_error_t *error)
{
    char **names = NULL, *marker = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;

    do {
        char *ep = _ccopy_blob_encode_name(prefix), *em = marker ? _ccopy_blob_encode_name(marker) : NULL;
        char *query = _ccopy_strdup_printf("restype=container&comp=list&prefix=%s%s%s%s", ep,
                                           folders ? "&delimiter=%2F" : "", em ? "&marker=" : "",
                                           em ? em : "");
        _ccopy_blob_request_t req = {.method = "GET", .container = b->container, .query = query};
        _ccopy_blob_response_t res = {.body_limit = 64 << 20};
        char *what = _ccopy_strdup_printf("listing azblob://%s/%s", b->container, prefix);
        rc = small_send(b, &req, &res, what, error);
        if (rc == 0 && res.status != 200)
            rc = _ccopy_blob_error(&b->acct, &res, what, error);
        free(marker);
        marker = NULL;
        if (rc == 0 && res.body) {
            const char *m = strstr(res.body, "<NextMarker>");
            xml_collect(res.body, folders ? "BlobPrefix" : "Blob", "Name", &names, &count, &cap);
            if (m) {
                const char *z = strstr(m, "</NextMarker>");
                m += strlen("<NextMarker>");
                if (z && z > m)
                    marker = xml_unescape(m, (size_t)(z - m));
            }
        }
        _ccopy_blob_response_reset(&res);
        free(what);
        free(query);
        free(ep);
        free(em);
    } while (rc == 0 && marker);
    free(marker);
    if (rc != 0) {
        _ccopy_names_free(names, count);
        return rc;
    }
    *out = names;
    *out_count = count;
    return 0;
}

static int blob_list(_ccopy_sink_t *sink, const char *db, const char *coll, const char *suffix,
                     char ***out_names, size_t *out_count, ccopy_error_t *error)
{
    blob_sink_t *b = sink->impl;
    char *prefix = full_name(b, db, coll, NULL), **names = NULL;
    size_t count = 0, i, n = 0, plen = strlen(prefix), slen = strlen(suffix);
    int rc = list_prefix(b, prefix, 0, &names, &count, error);

    if (rc == 0) {
        for (i = 0; i < count; i++) {
            const char *rest = names[i] + plen;
            size_t rlen = strlen(rest);
            if (strncmp(names[i], prefix, plen) == 0 && !strchr(rest, '/') && rlen >= slen &&
                strcmp(rest + rlen - slen, suffix) == 0) {
                char *keep = _ccopy_strdup(rest);
                free(names[i]);
                names[n++] = keep;
            } else {
                free(names[i]);
            }
        }
        _ccopy_names_sort(names, n);
        *out_names = names;
        *out_count = n;
    }
    free(prefix);
    return rc;
}

static int blob_list_groups(_ccopy_sink_t *sink, const char *db, char ***out_names, size_t *out_count,
                            ccopy_error_t *error)
{
    blob_sink_t *b = sink->impl;
    char *prefix = db ? full_name(b, db, NULL, NULL)
                      : _ccopy_strdup_printf("%s%s", b->prefix, b->prefix[0] ? "/" : "");
    char **names = NULL;
    size_t count = 0, i, plen = strlen(prefix);
    int rc = list_prefix(b, prefix, 1, &names, &count, error);

    if (rc == 0) {
        for (i = 0; i < count; i++) {
            /* "prefix/db/" -> "db" */
            char *name = _ccopy_strdup(names[i] + (strncmp(names[i], prefix, plen) == 0 ? plen : 0));
            size_t n = strlen(name);
            if (n > 0 && name[n - 1] == '/')
                name[n - 1] = '\0';
            free(names[i]);
            names[i] = name;
        }
        _ccopy_names_sort(names, count);
        *out_names = names;
        *out_count = count;
    }
    free(prefix);
    return rc;
}

/* ---- small objects ------------------------------------------------------------------------ */

static int blob_read_small(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                           char **out, size_t *out_len, ccopy_error_t *error)
{
    blob_sink_t *b = sink->impl;
    char *blob = full_name(b, db, coll, name), *what = _ccopy_strdup_printf("reading %s", blob);
    _ccopy_blob_request_t req = {.method = "GET", .container = b->container, .blob = blob};
    _ccopy_blob_response_t res = {.body_limit = 64 << 20};
    int rc = small_send(b, &req, &res, what, error);

    if (rc == 0 && res.status == 404)
        rc = _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_HTTP, 404, "%s: not found", blob);
    else if (rc == 0 && res.status != 200)
        rc = _ccopy_blob_error(&b->acct, &res, what, error);
    if (rc == 0) {
        *out_len = res.body_len;
        *out = res.body ? res.body : _ccopy_strdup("");
        res.body = NULL;
    }
    _ccopy_blob_response_reset(&res);
    free(what);
    free(blob);
    return rc;
}

static int ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text), s = strlen(suffix);
    return n >= s && strcmp(text + n - s, suffix) == 0;
}

static int blob_write_small(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                            const char *data, size_t len, ccopy_error_t *error)
{
    blob_sink_t *b = sink->impl;
    char *blob = full_name(b, db, coll, name), *what = _ccopy_strdup_printf("writing %s", blob);
    char md5[32];
    /* manifests are write-once: one exists only when its window is complete */
    int once = ends_with(name, ".manifest.json");
    _ccopy_blob_request_t req = {.method = "PUT", .container = b->container, .blob = blob,
                                 .content_md5 = md5, .content_type = "application/json",
                                 .if_none_match = once ? "*" : NULL,
                                 .xms = {"x-ms-blob-type:BlockBlob"},
                                 .body = (const uint8_t *)data, .body_len = len};
    _ccopy_blob_response_t res = {.body_limit = 1 << 20};
    int rc;

    _ccopy_md5_base64((const uint8_t *)data, len, md5);
    rc = small_write(b, &req, &res, what, error);
    if (rc == 0 && res.status == 409 && once) {
        /* already there: ours if an earlier try of this very write went through */
        char *have = NULL;
        size_t have_len = 0;
        rc = blob_read_small(sink, db, coll, name, &have, &have_len, error);
        if (rc == 0 && (have_len != len || memcmp(have, data, len) != 0))
            rc = _ccopy_error_set(error, CCOPY_EBUSY, CCOPY_DOMAIN_HTTP, 409,
                                  "%s: another writer created it first", blob);
        free(have);
    } else if (rc == 0 && res.status != 201) {
        rc = _ccopy_blob_error(&b->acct, &res, what, error);
    }
    _ccopy_blob_response_reset(&res);
    free(what);
    free(blob);
    return rc;
}

static int delete_blob(blob_sink_t *b, _ccopy_blob_client_t *client, const char *blob,
                       ccopy_error_t *error)
{
    char *what = _ccopy_strdup_printf("removing %s", blob);
    _ccopy_blob_request_t req = {.method = "DELETE", .container = b->container, .blob = blob};
    _ccopy_blob_response_t res = {.body_limit = 1 << 20};
    int rc = client ? _ccopy_blob_send(client, &req, &res, what, error)
                    : small_write(b, &req, &res, what, error);
    if (rc == 0 && res.status != 202 && res.status != 200 && res.status != 404)
        rc = _ccopy_blob_error(&b->acct, &res, what, error);
    _ccopy_blob_response_reset(&res);
    free(what);
    return rc;
}

static int blob_remove(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                       ccopy_error_t *error)
{
    blob_sink_t *b = sink->impl;
    char *blob = full_name(b, db, coll, name);
    int rc = delete_blob(b, NULL, blob, error);
    free(blob);
    return rc;
}

/* ---- streamed objects --------------------------------------------------------------------- */

typedef struct slot {
    CURL *curl;
    struct curl_slist *headers;
    uint8_t *data;
    size_t len, cap;
    char id[24], query[96], md5[32];
    _ccopy_blob_request_t req;
    _ccopy_blob_response_t res;
    _ccopy_blob_body_cursor_t cursor;
    int state; /* 0 free/filling, 1 in flight, 2 waiting to retry */
    int attempt;
    int64_t retry_at_ms;
} slot_t;

typedef struct blob_object {
    blob_sink_t *b;
    char *blob;
    _ccopy_blob_client_t client; /* delete at begin, commit at the end */
    CURLM *multi;
    slot_t *slots;
    int nslots, filling;
    char **ids;
    size_t nids, ids_cap;
    EVP_MD_CTX *sha;
    uint64_t rng;
    int failed;
    ccopy_error_t failure;
} blob_object_t;

static size_t block_size_for(const blob_object_t *o)
{
    size_t size = (size_t)o->b->settings.block_size;
    size_t doublings = o->nids / BLOCKS_PER_DOUBLING;
    while (doublings-- > 0 && size < MAX_BLOCK_SIZE / 2)
        size *= 2;
    return size;
}

static void start_transfer(blob_object_t *o, slot_t *s)
{
    s->headers = _ccopy_blob_prepare(s->curl, &o->b->acct, &s->req, &s->res, &s->cursor,
                                     (long)o->b->settings.timeout_ms);
    curl_multi_add_handle(o->multi, s->curl);
    s->state = 1;
}

static void submit(blob_object_t *o, slot_t *s)
{
    char raw[16], *id, *enc;
    snprintf(raw, sizeof raw, "%08zu", o->nids); /* same length for every block of a blob */
    id = _ccopy_base64((const unsigned char *)raw, strlen(raw));
    snprintf(s->id, sizeof s->id, "%s", id);
    free(id);
    enc = _ccopy_blob_encode_name(s->id); /* '+', '/', '=' percent-encoded */
    snprintf(s->query, sizeof s->query, "comp=block&blockid=%s", enc);
    free(enc);
    if (o->nids == o->ids_cap) {
        o->ids_cap = o->ids_cap ? o->ids_cap * 2 : 64;
        o->ids = _ccopy_realloc(o->ids, o->ids_cap * sizeof *o->ids);
    }
    o->ids[o->nids++] = _ccopy_strdup(s->id);
    _ccopy_md5_base64(s->data, s->len, s->md5);
    s->req = (_ccopy_blob_request_t){.method = "PUT", .container = o->b->container, .blob = o->blob,
                                     .query = s->query, .content_md5 = s->md5,
                                     .body = s->data, .body_len = s->len};
    s->attempt = 0;
    start_transfer(o, s);
}

static void fail(blob_object_t *o, const ccopy_error_t *e)
{
    if (!o->failed) {
        o->failure = *e;
        o->failed = 1;
    }
}

/* Drop every transfer in flight or waiting to be retried: not another byte of them is sent. */
static void drop_transfers(blob_object_t *o)
{
    int i;
    for (i = 0; i < o->nslots; i++) {
        slot_t *s = &o->slots[i];
        if (s->state == 1)
            curl_multi_remove_handle(o->multi, s->curl);
        curl_slist_free_all(s->headers);
        s->headers = NULL;
        s->state = 0;
        s->len = 0;
    }
}

/* Move transfers along; wait up to wait_ms for something to happen. Blocks are sent only while
 * the lease is held: once it is lost, the object fails and its transfers are dropped. */
static void drive(blob_object_t *o, int wait_ms)
{
    CURLMsg *msg;
    int running = 0, left, i;
    int64_t now;

    if (o->b->leased) {
        ccopy_error_t e;
        if (lease_check(o->b, NULL, &e) != 0) {
            fail(o, &e);
            drop_transfers(o);
            return;
        }
    }
    curl_multi_perform(o->multi, &running);
    while ((msg = curl_multi_info_read(o->multi, &left)) != NULL) {
        slot_t *s = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (i = 0; i < o->nslots; i++)
            if (o->slots[i].curl == msg->easy_handle)
                s = &o->slots[i];
        if (!s)
            continue;
        s->res.curl_code = msg->data.result;
        if (s->res.curl_code == CURLE_OK)
            curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->res.status);
        curl_multi_remove_handle(o->multi, s->curl);
        curl_slist_free_all(s->headers);
        s->headers = NULL;
        if (s->res.curl_code == CURLE_OK && s->res.status == 201) {
            s->state = 0;
            s->len = 0;
        } else if (_ccopy_blob_retryable(&s->res) && ++s->attempt <= o->b->settings.backoff.max_retries) {
            int64_t delay = _ccopy_backoff_delay_ms(&o->b->settings.backoff, s->attempt,
                                                    s->res.retry_after_ms, &o->rng);
            if (o->b->settings.retries)
                atomic_fetch_add(o->b->settings.retries, 1);
            s->retry_at_ms = _ccopy_monotonic_ms() + delay;
            s->state = 2;
        } else {
            ccopy_error_t e;
            char *what = _ccopy_strdup_printf("writing block %s of %s", s->id, o->blob);
            _ccopy_blob_error(&o->b->acct, &s->res, what, &e);
            if (s->attempt > o->b->settings.backoff.max_retries)
                _ccopy_error_prefix(&e, "after %d retr%s", s->attempt - 1, s->attempt - 1 == 1 ? "y" : "ies");
            free(what);
            fail(o, &e);
            s->state = 0;
            s->len = 0;
        }
    }
    now = _ccopy_monotonic_ms();
    for (i = 0; i < o->nslots; i++)
        if (o->slots[i].state == 2 && o->slots[i].retry_at_ms <= now && !o->failed)
            start_transfer(o, &o->slots[i]); /* the same block id, the same bytes, signed anew */
    if (wait_ms > 0)
        curl_multi_poll(o->multi, NULL, 0, wait_ms, NULL);
}

static int busy_slots(const blob_object_t *o)
{
    int i, n = 0;
    for (i = 0; i < o->nslots; i++)
        n += o->slots[i].state != 0;
    return n;
}

static int canceled(const blob_object_t *o)
{
    return o->b->settings.canceled && atomic_load(o->b->settings.canceled);
}

/* A free slot to fill, waiting for one when all are busy. -1 on failure or cancel. */
static int next_slot(blob_object_t *o)
{
    for (;;) {
        int i;
        if (o->failed || canceled(o))
            return -1;
        for (i = 0; i < o->nslots; i++)
            if (o->slots[i].state == 0)
                return i;
        drive(o, 50);
    }
}

static int object_error(blob_object_t *o, ccopy_error_t *error)
{
    if (o->failed) {
        if (error)
            *error = o->failure;
        return o->failure.code;
    }
    return _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
}

static void object_free(blob_object_t *o)
{
    int i;
    size_t k;
    if (!o)
        return;
    for (i = 0; i < o->nslots; i++) {
        if (o->slots[i].state == 1)
            curl_multi_remove_handle(o->multi, o->slots[i].curl);
        curl_slist_free_all(o->slots[i].headers);
        curl_easy_cleanup(o->slots[i].curl);
        _ccopy_blob_response_reset(&o->slots[i].res);
        free(o->slots[i].data);
    }
    free(o->slots);
    if (o->multi)
        curl_multi_cleanup(o->multi);
    for (k = 0; k < o->nids; k++)
        free(o->ids[k]);
    free(o->ids);
    if (o->client.curl)
        curl_easy_cleanup(o->client.curl);
    if (o->sha)
        EVP_MD_CTX_free(o->sha);
    free(o->blob);
    free(o);
}

static int blob_object_begin(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                             void **out_object, ccopy_error_t *error)
{
    blob_sink_t *b = sink->impl;
    blob_object_t *o = _ccopy_calloc(1, sizeof *o);
    int i, rc;

    o->b = b;
    o->blob = full_name(b, db, coll, name);
    client_init(&o->client, b);
    if (b->leased) {
        /* the delete below and the commit: only while the lease is held */
        o->client.guard = lease_guard;
        o->client.guard_data = b;
    }
    /* each of these fails only without memory: the engine's rule for it (see _ccopy_malloc) */
    o->multi = curl_multi_init();
    o->nslots = b->settings.blocks_in_flight > 0 ? b->settings.blocks_in_flight : 1;
    o->slots = _ccopy_calloc((size_t)o->nslots, sizeof *o->slots);
    for (i = 0; i < o->nslots; i++) {
        o->slots[i].curl = curl_easy_init();
        o->slots[i].res.body_limit = 1 << 20;
        if (!o->slots[i].curl)
            _ccopy_out_of_memory(sizeof(void *));
    }
    o->sha = EVP_MD_CTX_new();
    if (!o->multi || !o->sha || !EVP_DigestInit_ex(o->sha, EVP_sha256(), NULL))
        _ccopy_out_of_memory(sizeof(void *));
    o->rng = (uint64_t)_ccopy_monotonic_ms() * 0xBF58476D1CE4E5B9ULL + (uintptr_t)o;
    /* a half-written window from an earlier run: its data goes, the window is redone */
    rc = delete_blob(b, &o->client, o->blob, error);
    if (rc != 0) {
        object_free(o);
        return rc;
    }
    *out_object = o;
    return 0;
}

static int blob_object_append(void *object, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    blob_object_t *o = object;
    EVP_DigestUpdate(o->sha, data, len);
    while (len > 0) {
        slot_t *s;
        size_t want, take;
        if (o->filling < 0 || o->slots[o->filling].state != 0)
            o->filling = next_slot(o);
        if (o->filling < 0)
            return object_error(o, error);
        s = &o->slots[o->filling];
        want = block_size_for(o);
        if (s->cap < want) {
            s->data = _ccopy_realloc(s->data, want);
            s->cap = want;
        }
        take = want - s->len < len ? want - s->len : len;
        memcpy(s->data + s->len, data, take);
        s->len += take;
        data += take;
        len -= take;
        if (s->len == want) {
            submit(o, s);
            o->filling = -1;
        }
        drive(o, 0);
    }
    return o->failed ? object_error(o, error) : 0;
}

static int commit_block_list(blob_object_t *o, const char *sha_hex, ccopy_error_t *error)
{
    char *xml = NULL, *what = _ccopy_strdup_printf("committing %s", o->blob);
    char md5[32], meta[96];
    size_t len = 0, cap = 0, k;
    _ccopy_blob_response_t res = {.body_limit = 1 << 20};
    int rc;

    cap = 64 + o->nids * 32;
    xml = _ccopy_malloc(cap);
    len = (size_t)snprintf(xml, cap, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for (k = 0; k < o->nids; k++)
        len += (size_t)snprintf(xml + len, cap - len, "<Latest>%s</Latest>", o->ids[k]);
    len += (size_t)snprintf(xml + len, cap - len, "</BlockList>");
    _ccopy_md5_base64((const uint8_t *)xml, len, md5);
    snprintf(meta, sizeof meta, "x-ms-meta-sha256:%s", sha_hex);
    {
        _ccopy_blob_request_t req = {.method = "PUT", .container = o->b->container, .blob = o->blob,
                                     .query = "comp=blocklist", .content_md5 = md5,
                                     .content_type = "application/xml", .if_none_match = "*",
                                     .xms = {meta, "x-ms-blob-content-type:application/octet-stream"},
                                     .body = (const uint8_t *)xml, .body_len = len};
        rc = _ccopy_blob_send(&o->client, &req, &res, what, error);
    }
    if (rc == 0 && res.status == 409) {
        /* an earlier try may have committed before its answer was lost: ours if it says so */
        _ccopy_blob_request_t head = {.method = "HEAD", .container = o->b->container, .blob = o->blob};
        rc = _ccopy_blob_send(&o->client, &head, &res, what, error);
        if (rc == 0 && !(res.status == 200 && strcmp(res.meta_sha256, sha_hex) == 0))
            rc = _ccopy_error_set(error, CCOPY_EBUSY, CCOPY_DOMAIN_HTTP, 409,
                                  "%s: another writer created it first", o->blob);
    } else if (rc == 0 && res.status != 201) {
        rc = _ccopy_blob_error(&o->b->acct, &res, what, error);
    }
    _ccopy_blob_response_reset(&res);
    free(xml);
    free(what);
    return rc;
}

static int blob_object_commit(void *object, ccopy_error_t *error)
{
    blob_object_t *o = object;
    unsigned char digest[32];
    unsigned int dlen = 0;
    char hex[65];
    int rc, i;

    if (o->filling >= 0 && o->slots[o->filling].len > 0) {
        submit(o, &o->slots[o->filling]);
        o->filling = -1;
    }
    while (busy_slots(o) > 0 && !o->failed && !canceled(o))
        drive(o, 50);
    if (o->failed || canceled(o)) {
        rc = object_error(o, error);
        object_free(o);
        return rc;
    }
    EVP_DigestFinal_ex(o->sha, digest, &dlen);
    for (i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    rc = commit_block_list(o, hex, error);
    object_free(o);
    return rc;
}

static void blob_object_abort(void *object)
{
    object_free(object);
}

/* ---- reading objects ---------------------------------------------------------------------- */

/* One read of a blob, across the tries it takes. A try that fails halfway is followed by one that
 * asks for the rest (x-ms-range: bytes=N-) of the same version (If-Match: the ETag of the first
 * answer), so out sees every byte once and never a mix of two versions. */
typedef struct blob_read {
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
} blob_read_t;

/* Where an answer's body starts in the blob and how large the blob is. */
static int answer_start(blob_read_t *r, const _ccopy_blob_response_t *res)
{
    if (res->status == 206) {
        unsigned long long first = 0, last = 0, total = 0;
        if (sscanf(res->content_range, "bytes %llu-%llu/%llu", &first, &last, &total) != 3)
            return _ccopy_error_set(r->error, CCOPY_ESERVER, CCOPY_DOMAIN_HTTP, res->status,
                                    "reading %s: a partial answer without a usable Content-Range "
                                    "(\"%s\")",
                                    r->where, res->content_range);
        r->position = first;
        r->size = (int64_t)total;
    } else {
        r->position = 0; /* the whole blob, even when a range was asked for */
        if (res->content_length >= 0)
            r->size = res->content_length;
    }
    if (r->position > r->delivered)
        return _ccopy_error_set(r->error, CCOPY_ESERVER, CCOPY_DOMAIN_HTTP, res->status,
                                "reading %s: asked for bytes from %llu, the answer starts at %llu",
                                r->where, (unsigned long long)r->delivered,
                                (unsigned long long)r->position);
    if (!r->etag[0])
        snprintf(r->etag, sizeof r->etag, "%s", res->etag);
    else if (res->etag[0] && strcmp(res->etag, r->etag) != 0)
        return _ccopy_error_set(r->error, CCOPY_ECORRUPT, CCOPY_DOMAIN_HTTP, res->status,
                                "%s changed while being read (its ETag went from %s to %s): "
                                "read it again",
                                r->where, r->etag, res->etag);
    return 0;
}

static int on_blob_piece(const _ccopy_blob_response_t *res, const uint8_t *data, size_t len,
                         void *user_data)
{
    blob_read_t *r = user_data;
    size_t skip;

    if (!r->answering) {
        r->answering = 1;
        if ((r->rc = answer_start(r, res)) != 0)
            return r->rc;
    }
    if (r->canceled && atomic_load(r->canceled))
        return r->rc = _ccopy_error_set(r->error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
    /* bytes an earlier try already delivered (a server that ignored the range resends them) */
    skip = r->position < r->delivered ? (size_t)(r->delivered - r->position) : 0;
    if (skip > len)
        skip = len;
    r->position += skip;
    if (len - skip == 0)
        return 0;
    if ((r->rc = r->out(data + skip, len - skip, r->user_data, r->error)) != 0)
        return r->rc;
    r->position += len - skip;
    r->delivered += len - skip;
    return 0;
}

static int blob_object_read(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                            _ccopy_stream_out_fn out, void *user_data, ccopy_error_t *error)
{
    blob_sink_t *b = sink->impl;
    char *blob = full_name(b, db, coll, name);
    char *where = _ccopy_strdup_printf("azblob://%s/%s", b->container, blob);
    char *what = _ccopy_strdup_printf("reading %s", where);
    char range[64];
    _ccopy_blob_client_t client;
    _ccopy_blob_response_t res = {.body_limit = 1 << 20};
    blob_read_t r = {.where = where, .out = out, .user_data = user_data, .error = error,
                     .canceled = b->settings.canceled, .size = -1};
    int attempt = 0, rc = 0;

    /* a client of its own: reads of several windows run side by side */
    client_init(&client, b);
    for (;;) {
        _ccopy_blob_request_t req = {.method = "GET", .container = b->container, .blob = blob};
        uint64_t before = r.delivered;
        int64_t delay;

        if (r.delivered > 0) {
            snprintf(range, sizeof range, "x-ms-range:bytes=%llu-", (unsigned long long)r.delivered);
            req.xms[0] = range;
        }
        if (r.etag[0])
            req.if_match = r.etag;
        r.answering = 0;
        _ccopy_blob_try_streamed(&client, &req, &res, on_blob_piece, &r);
        if (r.rc != 0) {
            rc = r.rc; /* out's own code and message, or the answer was not what was asked */
            break;
        }
        if (res.curl_code == CURLE_OK && (res.status == 200 || res.status == 206))
            break;
        if (r.size >= 0 && r.delivered == (uint64_t)r.size && (res.curl_code != CURLE_OK ||
                                                               res.status == 416))
            break; /* every byte arrived; only the end of the answer was lost */
        if (res.curl_code == CURLE_OK && res.status == 412 && req.if_match) {
            rc = _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_HTTP, 412,
                                  "%s changed while being read (its ETag is no longer %s): read "
                                  "it again",
                                  where, r.etag);
            break;
        }
        if (!_ccopy_blob_retryable(&res)) {
            rc = _ccopy_blob_error(&b->acct, &res, what, error);
            break;
        }
        if (r.delivered > 0 && !r.etag[0]) {
            rc = _ccopy_blob_error(&b->acct, &res, what, error);
            _ccopy_error_prefix(error, "cannot resume after %llu bytes (the answer had no ETag)",
                                (unsigned long long)r.delivered);
            break;
        }
        /* the budget is for tries in a row that failed: one that delivered bytes made progress */
        if (r.delivered > before)
            attempt = 0;
        if (++attempt > b->settings.backoff.max_retries) {
            rc = _ccopy_blob_error(&b->acct, &res, what, error);
            _ccopy_error_prefix(error, "after %d retr%s", attempt - 1, attempt - 1 == 1 ? "y" : "ies");
            break;
        }
        if (b->settings.retries)
            atomic_fetch_add(b->settings.retries, 1);
        delay = _ccopy_backoff_delay_ms(&client.backoff, attempt, res.retry_after_ms, &client.rng);
        if (_ccopy_sleep_ms(delay, client.canceled)) {
            rc = _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
            break;
        }
    }
    _ccopy_blob_response_reset(&res);
    curl_easy_cleanup(client.curl);
    free(what);
    free(where);
    free(blob);
    return rc;
}

static void blob_close(_ccopy_sink_t *sink)
{
    blob_sink_t *b = sink->impl;
    if (!b)
        return;
    release_lock(b);
    if (b->client.curl)
        curl_easy_cleanup(b->client.curl);
    pthread_mutex_destroy(&b->lock);
    pthread_mutex_destroy(&b->lease_lock);
    pthread_cond_destroy(&b->lease_cond);
    free(b->lock_blob);
    free(b->lock_where);
    _ccopy_blob_account_cleanup(&b->acct);
    free(b->container);
    free(b->prefix);
    free(b);
}

static const _ccopy_sink_ops_t blob_ops = {
    .scheme = "azblob",
    .open = blob_open,
    .list = blob_list,
    .list_groups = blob_list_groups,
    .read_small = blob_read_small,
    .write_small = blob_write_small,
    .remove = blob_remove,
    .object_begin = blob_object_begin,
    .object_append = blob_object_append,
    .object_commit = blob_object_commit,
    .object_abort = blob_object_abort,
    .object_read = blob_object_read,
    .describe = blob_describe,
    .close = blob_close,
};

static char *trim_slashes(const char *text)
{
    size_t n;
    while (*text == '/')
        text++;
    n = strlen(text);
    while (n > 0 && text[n - 1] == '/')
        n--;
    return _ccopy_strndup(text, n);
}

int _ccopy_sink_blob_new(_ccopy_sink_t **out, const char *location,
                         const _ccopy_sink_settings_t *settings, ccopy_error_t *error)
{
    blob_sink_t *b = _ccopy_calloc(1, sizeof *b);
    _ccopy_sink_t *sink;
    int rc;

    b->settings = *settings;
    if (strncmp(location, "azblob://", 9) == 0) {
        const char *rest = location + 9, *slash = strchr(rest, '/');
        const char *cs = settings->blob_connection_string;
        if (!cs || !*cs)
            cs = getenv("AZURE_STORAGE_CONNECTION_STRING");
        if (!cs || !*cs) {
            free(b);
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "no credentials for %s: give option blob_connection_string, set "
                                    "AZURE_STORAGE_CONNECTION_STRING, or use a container URL with a SAS",
                                    location);
        }
        rc = _ccopy_blob_account_from_connection_string(&b->acct, cs, error);
        if (rc != 0) {
            free(b);
            return rc;
        }
        b->container = slash ? _ccopy_strndup(rest, (size_t)(slash - rest)) : _ccopy_strdup(rest);
        b->prefix = trim_slashes(slash ? slash + 1 : "");
    } else {
        char *container = NULL, *prefix = NULL;
        rc = _ccopy_blob_account_from_sas_url(&b->acct, location, &container, &prefix, error);
        if (rc != 0) {
            free(b);
            return rc;
        }
        b->container = container;
        b->prefix = trim_slashes(prefix);
        free(prefix);
    }
    pthread_mutex_init(&b->lock, NULL);
    pthread_mutex_init(&b->lease_lock, NULL);
    {
        /* the renewer waits on the monotonic clock, as the lease's deadline is kept */
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&b->lease_cond, &attr);
        pthread_condattr_destroy(&attr);
    }
    b->lock_blob = _ccopy_strdup_printf("%s%s%s", b->prefix, b->prefix[0] ? "/" : "", LOCK_NAME);
    b->lock_where = _ccopy_strdup_printf("azblob://%s/%s", b->container, b->lock_blob);
    client_init(&b->client, b);
    sink = _ccopy_calloc(1, sizeof *sink);
    sink->ops = &blob_ops;
    sink->impl = b;
    if (strlen(b->container) < 3 || strlen(b->container) > 63) {
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                              "container name \"%s\" must be 3 to 63 characters", b->container);
        blob_close(sink);
        free(sink);
        return rc;
    }
    *out = sink;
    return 0;
}
