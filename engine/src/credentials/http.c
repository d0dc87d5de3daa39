/*
 * HTTPS requests to Azure services (see http.h): setting up one libcurl transfer, reading the
 * answer's headers and body as they arrive, judging whether it is worth another try, and the
 * retry loop with back-off shared by Blob Storage, Key Vault and the token endpoints.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common.h"
#include "http.h"

#define DEFAULT_BODY_LIMIT (64u << 20)

/* ---- answers ------------------------------------------------------------------------------ */

void _ccopy_http_response_reset(_ccopy_http_response_t *res)
{
    size_t limit = res->body_limit;
    free(res->body);
    memset(res, 0, sizeof *res);
    res->body_limit = limit;
    res->retry_after_ms = -1;
    res->content_length = -1;
}

void _ccopy_http_response_wipe(_ccopy_http_response_t *res)
{
    if (res->body)
        OPENSSL_cleanse(res->body, res->body_len);
    _ccopy_http_response_reset(res);
}

size_t _ccopy_http_on_body(char *data, size_t size, size_t n, void *user)
{
    _ccopy_http_response_t *res = user;
    size_t len = size * n, limit = res->body_limit ? res->body_limit : DEFAULT_BODY_LIMIT;
    if (res->body_len + len > limit)
        return 0; /* aborts the transfer: a body this large is not one we asked for */
    res->body = _ccopy_realloc(res->body, res->body_len + len + 1);
    memcpy(res->body + res->body_len, data, len);
    res->body_len += len;
    res->body[res->body_len] = '\0';
    return len;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name), v;
    if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return;
    line += n + 1;
    len -= n + 1;
    while (len > 0 && (*line == ' ' || *line == '\t'))
        line++, len--;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    v = len < cap - 1 ? len : cap - 1;
    memcpy(out, line, v);
    out[v] = '\0';
}

int64_t _ccopy_http_retry_after_ms(const char *value)
{
    long long seconds;
    if (!isdigit((unsigned char)value[0]))
        return -1;
    /* the server's number, of any size (strtoll stops at LLONG_MAX): 2^53 ms at most, so
     * neither this product nor a time plus it can overflow */
    seconds = strtoll(value, NULL, 10);
    return seconds > (INT64_C(1) << 53) / 1000 ? INT64_C(1) << 53 : (int64_t)seconds * 1000;
}

size_t _ccopy_http_on_header(char *data, size_t size, size_t n, void *user)
{
    _ccopy_http_response_t *res = user;
    size_t len = size * n;
    char retry_after[32] = "", content_length[32] = "";
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* a new answer (after a redirect or 100-continue): forget the previous headers */
        res->error_code[0] = '\0';
        res->meta_sha256[0] = '\0';
        res->lease_id[0] = '\0';
        res->etag[0] = '\0';
        res->content_range[0] = '\0';
        res->www_authenticate[0] = '\0';
        res->content_length = -1;
        res->retry_after_ms = -1;
    }
    header_value(data, len, "x-ms-error-code", res->error_code, sizeof res->error_code);
    header_value(data, len, "x-ms-meta-sha256", res->meta_sha256, sizeof res->meta_sha256);
    header_value(data, len, "x-ms-lease-id", res->lease_id, sizeof res->lease_id);
    header_value(data, len, "ETag", res->etag, sizeof res->etag);
    header_value(data, len, "Content-Range", res->content_range, sizeof res->content_range);
    header_value(data, len, "WWW-Authenticate", res->www_authenticate, sizeof res->www_authenticate);
    header_value(data, len, "Retry-After", retry_after, sizeof retry_after);
    if (retry_after[0])
        res->retry_after_ms = _ccopy_http_retry_after_ms(retry_after);
    header_value(data, len, "Content-Length", content_length, sizeof content_length);
    if (content_length[0] && isdigit((unsigned char)content_length[0]))
        res->content_length = strtoll(content_length, NULL, 10);
    return len;
}

int _ccopy_http_retryable(const _ccopy_http_response_t *res)
{
    switch (res->curl_code) {
    case CURLE_OK:
        break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
    switch (res->status) {
    case 408: case 429: case 502: case 503: case 504:
        return 1;
    case 500:
        return strcmp(res->error_code, "FeatureNotSupported") != 0;
    default:
        return 0;
    }
}

/* ---- one transfer ------------------------------------------------------------------------- */

/* curl_slist_append() returns NULL without memory and the list is lost: the engine's rule for
 * memory (see _ccopy_malloc) instead of a request sent without its headers. */
struct curl_slist *_ccopy_http_header_line(struct curl_slist *list, const char *line)
{
    struct curl_slist *next = curl_slist_append(list, line);
    if (!next)
        _ccopy_out_of_memory(strlen(line));
    return next;
}

struct curl_slist *_ccopy_http_header_add(struct curl_slist *list, const char *name, const char *value)
{
    char *line = _ccopy_strdup_printf("%s: %s", name, value);
    struct curl_slist *next = _ccopy_http_header_line(list, line);
    OPENSSL_cleanse(line, strlen(line)); /* it may be an Authorization header */
    free(line);
    return next;
}

static size_t on_read(char *buffer, size_t size, size_t n, void *user)
{
    _ccopy_http_body_cursor_t *c = user;
    size_t want = size * n, left = c->len - c->pos;
    if (want > left)
        want = left;
    memcpy(buffer, c->data + c->pos, want);
    c->pos += want;
    return want;
}

void _ccopy_http_setup(CURL *curl, const _ccopy_http_try_t *t, _ccopy_http_response_t *res,
                       _ccopy_http_body_cursor_t *cursor)
{
    long connect_ms = t->connect_timeout_ms > 0 ? t->connect_timeout_ms
                      : t->timeout_ms < 30000   ? t->timeout_ms
                                                : 30000L;
    _ccopy_http_response_reset(res);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, t->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, _ccopy_http_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, res);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, _ccopy_http_on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    /* certificates are always checked; a bundle replaces the system's store, never the check */
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (t->ca_file && *t->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, t->ca_file);
    if (t->no_proxy)
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    if (strcmp(t->method, "PUT") == 0 || strcmp(t->method, "POST") == 0) {
        cursor->data = t->body;
        cursor->len = t->body_len;
        cursor->pos = 0;
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, cursor);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->body_len);
        if (strcmp(t->method, "POST") == 0)
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
    } else if (strcmp(t->method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(t->method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, t->method);
    }
}

/* ---- requests ----------------------------------------------------------------------------- */

void _ccopy_http_client_init(_ccopy_http_client_t *c, const _ccopy_backoff_t *backoff,
                             long timeout_ms, atomic_int *canceled, atomic_llong *retries)
{
    memset(c, 0, sizeof *c);
    c->curl = curl_easy_init();
    if (!c->curl) /* only without memory: the engine's rule for it (see _ccopy_malloc) */
        _ccopy_out_of_memory(sizeof(void *));
    c->backoff = *backoff;
    c->rng = (uint64_t)_ccopy_monotonic_ms() * 0x9E3779B97F4A7C15ULL + (uintptr_t)c;
    c->canceled = canceled;
    c->timeout_ms = timeout_ms;
    c->retries = retries;
}

void _ccopy_http_client_cleanup(_ccopy_http_client_t *c)
{
    if (c->curl)
        curl_easy_cleanup(c->curl);
    c->curl = NULL;
}

void _ccopy_http_note_retry(const _ccopy_http_response_t *res, const char *what, int64_t delay_ms,
                            int attempt, int max_retries)
{
    if (res->curl_code != CURLE_OK)
        _ccopy_retry_note(delay_ms, attempt, max_retries, "%s: %s", what,
                          curl_easy_strerror(res->curl_code));
    else
        _ccopy_retry_note(delay_ms, attempt, max_retries, "%s: HTTP %ld%s%s", what, res->status,
                          res->error_code[0] ? " " : "", res->error_code);
}

int _ccopy_http_send(_ccopy_http_client_t *client, const _ccopy_http_call_t *call,
                     _ccopy_http_response_t *res, const char *what, ccopy_error_t *error)
{
    int attempt = 0;
    for (;;) {
        _ccopy_http_body_cursor_t cursor;
        struct curl_slist *headers;
        long timeout_ms = client->timeout_ms;
        int64_t delay;

        if (client->guard) {
            int rc = client->guard(client->guard_data, &timeout_ms, error);
            if (rc != 0) {
                _ccopy_http_response_reset(res);
                return rc;
            }
        }
        headers = call->build(call->user_data, client->curl, res, &cursor, timeout_ms, error);
        if (!headers) {
            _ccopy_http_response_reset(res);
            return error ? error->code : CCOPY_EAUTH;
        }
        client->try_started_ms = _ccopy_monotonic_ms();
        res->curl_code = curl_easy_perform(client->curl);
        if (res->curl_code == CURLE_OK)
            curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &res->status);
        curl_slist_free_all(headers);
        if (!_ccopy_http_retryable(res))
            return 0;
        if (++attempt > client->backoff.max_retries) {
            int rc = call->fail(call->user_data, res, what, error);
            _ccopy_error_prefix(error, "after %d retr%s", attempt - 1, attempt - 1 == 1 ? "y" : "ies");
            return rc;
        }
        if (client->retries)
            atomic_fetch_add(client->retries, 1);
        delay = _ccopy_backoff_delay_ms(&client->backoff, attempt, res->retry_after_ms, &client->rng);
        _ccopy_http_note_retry(res, what, delay, attempt, client->backoff.max_retries);
        if (_ccopy_sleep_ms(delay, client->canceled))
            return _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
    }
}

/* A streamed transfer: 2xx bodies go to the caller, any other body is buffered as usual. */
typedef struct streamed {
    CURL *curl;
    _ccopy_http_response_t *res;
    _ccopy_http_data_fn on_data;
    void *user_data;
} streamed_t;

static size_t on_streamed_body(char *data, size_t size, size_t n, void *user)
{
    streamed_t *st = user;
    size_t len = size * n;
    /* the status is known once the headers are in, which is before the first piece of body */
    curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &st->res->status);
    if (st->res->status < 200 || st->res->status > 299)
        return _ccopy_http_on_body(data, size, n, st->res);
    if (len > 0 && st->on_data(st->res, (const uint8_t *)data, len, st->user_data) != 0)
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    return len;
}

int _ccopy_http_try_streamed(_ccopy_http_client_t *client, const _ccopy_http_call_t *call,
                             _ccopy_http_response_t *res, _ccopy_http_data_fn on_data,
                             void *user_data, ccopy_error_t *error)
{
    _ccopy_http_body_cursor_t cursor;
    streamed_t st = {client->curl, res, on_data, user_data};
    struct curl_slist *headers =
        call->build(call->user_data, client->curl, res, &cursor, client->timeout_ms, error);

    if (!headers) {
        _ccopy_http_response_reset(res);
        return error ? error->code : CCOPY_EAUTH;
    }
    curl_easy_setopt(client->curl, CURLOPT_WRITEFUNCTION, on_streamed_body);
    curl_easy_setopt(client->curl, CURLOPT_WRITEDATA, &st);
    res->curl_code = curl_easy_perform(client->curl);
    /* as _ccopy_http_send: the status of an answer that did not arrive whole stays unread, so
     * _ccopy_http_retryable and the error judge the connection, not a half answer */
    if (res->curl_code == CURLE_OK)
        curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &res->status);
    else
        res->status = 0;
    curl_slist_free_all(headers);
    return 0;
}

/* ---- plain requests ----------------------------------------------------------------------- */

static struct curl_slist *plain_build(void *user_data, CURL *curl, _ccopy_http_response_t *res,
                                      _ccopy_http_body_cursor_t *cursor, long timeout_ms,
                                      ccopy_error_t *error)
{
    const _ccopy_http_plain_t *p = user_data;
    _ccopy_http_try_t t = p->options;
    struct curl_slist *headers = _ccopy_http_header_line(NULL, "Expect:");
    size_t i;
    for (i = 0; p->headers && p->headers[i]; i++)
        headers = _ccopy_http_header_line(headers, p->headers[i]);
    t.method = p->method;
    t.url = p->url;
    t.headers = headers;
    t.body = (const uint8_t *)p->body;
    t.body_len = p->body ? strlen(p->body) : 0;
    t.timeout_ms = timeout_ms;
    _ccopy_http_setup(curl, &t, res, cursor);
    return headers;
}

int _ccopy_http_plain_error(const char *host, const _ccopy_http_response_t *res, const char *what,
                            ccopy_error_t *error)
{
    if (res->curl_code == CURLE_COULDNT_RESOLVE_HOST)
        return _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_HTTP, res->curl_code,
                                "%s: host not found", host);
    if (res->curl_code == CURLE_PEER_FAILED_VERIFICATION || res->curl_code == CURLE_SSL_CACERT_BADFILE)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_TLS, res->curl_code,
                                "%s: %s: the server's certificate cannot be checked: %s (option "
                                "https_ca_file names the CA bundle that signs it)",
                                what, host, curl_easy_strerror(res->curl_code));
    if (res->curl_code != CURLE_OK)
        return _ccopy_error_set(error, CCOPY_ENETWORK, CCOPY_DOMAIN_HTTP, res->curl_code,
                                "%s: connection to %s failed: %s", what, host,
                                curl_easy_strerror(res->curl_code));
    return _ccopy_error_set(error, CCOPY_ESERVER, CCOPY_DOMAIN_HTTP, res->status,
                            "%s: %s answered %ld%s%s", what, host, res->status,
                            res->error_code[0] ? " " : "", res->error_code);
}

static int plain_fail(void *user_data, const _ccopy_http_response_t *res, const char *what,
                      ccopy_error_t *error)
{
    const _ccopy_http_plain_t *p = user_data;
    return _ccopy_http_plain_error(p->host, res, what, error);
}

int _ccopy_http_send_plain(_ccopy_http_client_t *client, const _ccopy_http_plain_t *plain,
                           _ccopy_http_response_t *res, const char *what, ccopy_error_t *error)
{
    _ccopy_http_call_t call = {plain_build, plain_fail, (void *)plain};
    return _ccopy_http_send(client, &call, res, what, error);
}

/* ---- encoding ----------------------------------------------------------------------------- */

char *_ccopy_http_encode(const char *text, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(text), i, o = 0;
    char *out = _ccopy_malloc(3 * n + 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c && strchr(keep, c))) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}
