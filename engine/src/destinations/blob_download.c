/*
 * Reading a window's data back from a blob destination (restore, verify): Get Blob streamed to
 * the caller. A read cut short resumes from the first byte not yet delivered, on the condition
 * (If-Match) that the blob is still the version it started on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "blob_sink.h"
#include "common.h"
#include "sink.h"

/* Where an answer's body starts in the blob and how large the blob is. */
static int answer_start(_ccopy_blob_read_t *r, const _ccopy_http_response_t *res)
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

int _ccopy_blob_read_piece(const _ccopy_http_response_t *res, const uint8_t *data, size_t len,
                           void *user_data)
{
    _ccopy_blob_read_t *r = user_data;
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

int _ccopy_blob_object_read(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                            _ccopy_stream_out_fn out, void *user_data, ccopy_error_t *error)
{
    _ccopy_blob_sink_t *b = sink->impl;
    char *blob = _ccopy_blob_full_name(b, db, coll, name);
    char *where = _ccopy_strdup_printf("azblob://%s/%s", b->container, blob);
    char *what = _ccopy_strdup_printf("reading %s", where);
    char range[64];
    _ccopy_blob_client_t client;
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    _ccopy_blob_read_t r = {.where = where, .out = out, .user_data = user_data, .error = error,
                     .canceled = b->settings.canceled, .size = -1};
    int attempt = 0, rc = 0;

    /* a client of its own: reads of several windows run side by side */
    _ccopy_blob_client_init(&client, b);
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
        rc = _ccopy_blob_try_streamed(&client, &req, &res, _ccopy_blob_read_piece, &r, error);
        if (rc != 0)
            break; /* not authorised (no token could be had): nothing was sent */
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
        if (!_ccopy_http_retryable(&res)) {
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
        delay = _ccopy_backoff_delay_ms(&client.http.backoff, attempt, res.retry_after_ms, &client.http.rng);
        _ccopy_http_note_retry(&res, what, delay, attempt, b->settings.backoff.max_retries);
        if (_ccopy_sleep_ms(delay, client.http.canceled)) {
            rc = _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
            break;
        }
    }
    _ccopy_http_response_reset(&res);
    curl_easy_cleanup(client.http.curl);
    free(what);
    free(where);
    free(blob);
    return rc;
}
