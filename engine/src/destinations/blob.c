/*
 * Azure Blob Storage requests (see blob.h): one libcurl transfer per attempt, signed anew each
 * time (blob_auth.c makes the signature), the answer's headers and body read as they arrive, and
 * retries with back-off.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "blob.h"
#include "common.h"

#define DEFAULT_BODY_LIMIT (64u << 20)

/* ---- transfers ---------------------------------------------------------------------------- */

void _ccopy_blob_response_reset(_ccopy_blob_response_t *res)
{
    size_t limit = res->body_limit;
    free(res->body);
    memset(res, 0, sizeof *res);
    res->body_limit = limit;
    res->retry_after_ms = -1;
    res->content_length = -1;
}

size_t _ccopy_blob_on_body(char *data, size_t size, size_t n, void *user)
{
    _ccopy_blob_response_t *res = user;
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

int64_t _ccopy_blob_retry_after_ms(const char *value)
{
    long long seconds;
    if (!isdigit((unsigned char)value[0]))
        return -1;
    /* the server's number, of any size (strtoll stops at LLONG_MAX): 2^53 ms at most, so
     * neither this product nor a time plus it can overflow */
    seconds = strtoll(value, NULL, 10);
    return seconds > (INT64_C(1) << 53) / 1000 ? INT64_C(1) << 53 : (int64_t)seconds * 1000;
}

size_t _ccopy_blob_on_header(char *data, size_t size, size_t n, void *user)
{
    _ccopy_blob_response_t *res = user;
    size_t len = size * n;
    char retry_after[32] = "", content_length[32] = "";
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* a new answer (after a redirect or 100-continue): forget the previous headers */
        res->error_code[0] = '\0';
        res->meta_sha256[0] = '\0';
        res->lease_id[0] = '\0';
        res->etag[0] = '\0';
        res->content_range[0] = '\0';
        res->content_length = -1;
        res->retry_after_ms = -1;
    }
    header_value(data, len, "x-ms-error-code", res->error_code, sizeof res->error_code);
    header_value(data, len, "x-ms-meta-sha256", res->meta_sha256, sizeof res->meta_sha256);
    header_value(data, len, "x-ms-lease-id", res->lease_id, sizeof res->lease_id);
    header_value(data, len, "ETag", res->etag, sizeof res->etag);
    header_value(data, len, "Content-Range", res->content_range, sizeof res->content_range);
    header_value(data, len, "Retry-After", retry_after, sizeof retry_after);
    if (retry_after[0])
        res->retry_after_ms = _ccopy_blob_retry_after_ms(retry_after);
    header_value(data, len, "Content-Length", content_length, sizeof content_length);
    if (content_length[0] && isdigit((unsigned char)content_length[0]))
        res->content_length = strtoll(content_length, NULL, 10);
    return len;
}

static size_t on_read(char *buffer, size_t size, size_t n, void *user)
{
    _ccopy_blob_body_cursor_t *c = user;
    size_t want = size * n, left = c->len - c->pos;
    if (want > left)
        want = left;
    memcpy(buffer, c->data + c->pos, want);
    c->pos += want;
    return want;
}

static void http_date(char *out, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    gmtime_r(&now, &tm);
    snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* curl_slist_append() returns NULL without memory and the list is lost: the engine's rule for
 * memory (see _ccopy_malloc) instead of a request sent without its headers. */
static struct curl_slist *add_line(struct curl_slist *list, const char *line)
{
    struct curl_slist *next = curl_slist_append(list, line);
    if (!next)
        _ccopy_out_of_memory(strlen(line));
    return next;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *name, const char *value)
{
    char *line = _ccopy_strdup_printf("%s: %s", name, value);
    struct curl_slist *next = add_line(list, line);
    free(line);
    return next;
}

struct curl_slist *_ccopy_blob_prepare(CURL *curl, const _ccopy_blob_account_t *acct,
                                       const _ccopy_blob_request_t *req, _ccopy_blob_response_t *res,
                                       _ccopy_blob_body_cursor_t *cursor, long timeout_ms)
{
    char date[64], *path, *url, *encoded = NULL;
    struct curl_slist *headers = NULL;
    size_t i;

    _ccopy_blob_response_reset(res);
    curl_easy_reset(curl);
    if (req->blob) {
        encoded = _ccopy_blob_encode_name(req->blob);
        path = _ccopy_strdup_printf("%s/%s/%s", acct->path_prefix, req->container, encoded);
    } else if (req->container) {
        path = _ccopy_strdup_printf("%s/%s", acct->path_prefix, req->container);
    } else {
        path = _ccopy_strdup_printf("%s/", acct->path_prefix);
    }
    free(encoded);
    {
        const char *q = req->query && *req->query ? req->query : NULL;
        const char *sas = acct->key_len == 0 ? acct->sas : NULL;
        url = _ccopy_strdup_printf("%.*s%s%s%s%s%s", (int)(strlen(acct->endpoint) - strlen(acct->path_prefix)),
                                   acct->endpoint, path, q || sas ? "?" : "", q ? q : "",
                                   q && sas ? "&" : "", sas ? sas : "");
    }

    http_date(date, sizeof date);
    headers = add_header(headers, "x-ms-date", date);
    headers = add_header(headers, "x-ms-version", CCOPY_BLOB_API_VERSION);
    for (i = 0; i < 8 && req->xms[i]; i++)
        headers = add_line(headers, req->xms[i]); /* "name:value" is a valid header line */
    if (req->content_md5)
        headers = add_header(headers, "Content-MD5", req->content_md5);
    if (req->content_type)
        headers = add_header(headers, "Content-Type", req->content_type);
    if (req->if_match)
        headers = add_header(headers, "If-Match", req->if_match);
    if (req->if_none_match)
        headers = add_header(headers, "If-None-Match", req->if_none_match);
    headers = add_line(headers, "Expect:"); /* no 100-continue: Azure answers directly */
    if (acct->key_len > 0) {
        char *sts = _ccopy_blob_string_to_sign(acct, req, date, path);
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        char *signature, *auth;
        HMAC(EVP_sha256(), acct->key, (int)acct->key_len, (const unsigned char *)sts, strlen(sts), mac,
             &mac_len);
        signature = _ccopy_base64(mac, mac_len);
        auth = _ccopy_strdup_printf("SharedKey %s:%s", acct->account, signature);
        headers = add_header(headers, "Authorization", auth);
        free(auth);
        free(signature);
        free(sts);
    }

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, _ccopy_blob_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, res);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, _ccopy_blob_on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 30000 ? timeout_ms : 30000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    if (strcmp(req->method, "PUT") == 0) {
        cursor->data = req->body;
        cursor->len = req->body_len;
        cursor->pos = 0;
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, cursor);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    }
    free(url);
    free(path);
    return headers;
}

int _ccopy_blob_retryable(const _ccopy_blob_response_t *res)
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

int _ccopy_blob_error(const _ccopy_blob_account_t *acct, const _ccopy_blob_response_t *res,
                      const char *what, ccopy_error_t *error)
{
    const char *code = res->error_code[0] ? res->error_code : "no error code";
    if (res->curl_code != CURLE_OK)
        return _ccopy_error_set(error, CCOPY_ENETWORK, CCOPY_DOMAIN_HTTP, res->curl_code,
                                "%s: connection to %s failed: %s", what, acct->endpoint,
                                curl_easy_strerror(res->curl_code));
    if (res->status == 403) {
        if (acct->key_len == 0)
            return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, res->status,
                                    "%s: access refused for account %s (403 %s): the SAS is "
                                    "wrong, expired or lacks a permission this needs (read, add, "
                                    "create, write, delete, list)",
                                    what, acct->account, code);
        return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, res->status,
                                "%s: authentication failed for account %s (403 %s): check the "
                                "AccountKey",
                                what, acct->account, code);
    }
    if (res->status == 404)
        return _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_HTTP, res->status,
                                "%s: not found (404 %s)", what, code);
    return _ccopy_error_set(error, CCOPY_ESERVER, CCOPY_DOMAIN_HTTP, res->status,
                            "%s: %s answered %ld %s", what, acct->endpoint, res->status, code);
}

int _ccopy_blob_send(_ccopy_blob_client_t *client, const _ccopy_blob_request_t *req,
                     _ccopy_blob_response_t *res, const char *what, ccopy_error_t *error)
{
    int attempt = 0;
    for (;;) {
        _ccopy_blob_body_cursor_t cursor;
        struct curl_slist *headers;
        long timeout_ms = client->timeout_ms;
        int64_t delay;

        if (client->guard) {
            int rc = client->guard(client->guard_data, &timeout_ms, error);
            if (rc != 0) {
                _ccopy_blob_response_reset(res);
                return rc;
            }
        }
        headers = _ccopy_blob_prepare(client->curl, client->acct, req, res, &cursor, timeout_ms);
        client->try_started_ms = _ccopy_monotonic_ms();
        res->curl_code = curl_easy_perform(client->curl);
        if (res->curl_code == CURLE_OK)
            curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &res->status);
        curl_slist_free_all(headers);
        if (!_ccopy_blob_retryable(res))
            return 0;
        if (++attempt > client->backoff.max_retries) {
            int rc = _ccopy_blob_error(client->acct, res, what, error);
            _ccopy_error_prefix(error, "after %d retr%s", attempt - 1, attempt - 1 == 1 ? "y" : "ies");
            return rc;
        }
        if (client->retries)
            atomic_fetch_add(client->retries, 1);
        delay = _ccopy_backoff_delay_ms(&client->backoff, attempt, res->retry_after_ms, &client->rng);
        if (_ccopy_sleep_ms(delay, client->canceled))
            return _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
    }
}

/* A streamed transfer: 2xx bodies go to the caller, any other body is buffered as usual. */
typedef struct streamed {
    CURL *curl;
    _ccopy_blob_response_t *res;
    _ccopy_blob_data_fn on_data;
    void *user_data;
} streamed_t;

static size_t on_streamed_body(char *data, size_t size, size_t n, void *user)
{
    streamed_t *st = user;
    size_t len = size * n;
    /* the status is known once the headers are in, which is before the first piece of body */
    curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &st->res->status);
    if (st->res->status < 200 || st->res->status > 299)
        return _ccopy_blob_on_body(data, size, n, st->res);
    if (len > 0 && st->on_data(st->res, (const uint8_t *)data, len, st->user_data) != 0)
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    return len;
}

void _ccopy_blob_try_streamed(_ccopy_blob_client_t *client, const _ccopy_blob_request_t *req,
                              _ccopy_blob_response_t *res, _ccopy_blob_data_fn on_data,
                              void *user_data)
{
    _ccopy_blob_body_cursor_t cursor;
    streamed_t st = {client->curl, res, on_data, user_data};
    struct curl_slist *headers =
        _ccopy_blob_prepare(client->curl, client->acct, req, res, &cursor, client->timeout_ms);

    curl_easy_setopt(client->curl, CURLOPT_WRITEFUNCTION, on_streamed_body);
    curl_easy_setopt(client->curl, CURLOPT_WRITEDATA, &st);
    res->curl_code = curl_easy_perform(client->curl);
    /* as _ccopy_blob_send: the status of an answer that did not arrive whole stays unread, so
     * _ccopy_blob_retryable and _ccopy_blob_error judge the connection, not a half answer */
    if (res->curl_code == CURLE_OK)
        curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &res->status);
    else
        res->status = 0;
    curl_slist_free_all(headers);
}
