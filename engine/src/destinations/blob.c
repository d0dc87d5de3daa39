/*
 * Azure Blob Storage requests (see blob.h): connection strings and SAS URLs, Shared Key
 * signing, one libcurl transfer per attempt, and retries with back-off.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>

#include "blob.h"
#include "common.h"

#define DEV_ACCOUNT "devstoreaccount1"
#define DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define DEFAULT_BODY_LIMIT (64u << 20)

/* ---- encoding ----------------------------------------------------------------------------- */

char *_ccopy_base64(const unsigned char *data, size_t len)
{
    char *out = _ccopy_malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* Decode Base64 into out (at most cap bytes); -1 when malformed or too long. */
static long base64_decode(const char *text, unsigned char *out, size_t cap)
{
    size_t n = strlen(text), pad = 0;
    unsigned char *tmp;
    int got;
    if (n == 0 || n % 4 != 0)
        return -1;
    if (text[n - 1] == '=')
        pad++;
    if (n > 1 && text[n - 2] == '=')
        pad++;
    tmp = _ccopy_malloc(n / 4 * 3 + 1);
    got = EVP_DecodeBlock(tmp, (const unsigned char *)text, (int)n);
    if (got < 0 || (size_t)got - pad > cap) {
        free(tmp);
        return -1;
    }
    memcpy(out, tmp, (size_t)got - pad);
    free(tmp);
    return (long)((size_t)got - pad);
}

void _ccopy_md5_base64(const uint8_t *data, size_t len, char out[32])
{
    unsigned char digest[16];
    unsigned int dlen = 0;
    EVP_Digest(data, len, digest, &dlen, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)out, digest, 16);
}

static int unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

char *_ccopy_blob_encode_name(const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(name), i, o = 0;
    char *out = _ccopy_malloc(3 * n + 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (unreserved(c) || c == '/') {
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

static char *url_decode(const char *text, size_t len)
{
    char *out = _ccopy_malloc(len + 1);
    size_t i, o = 0;
    for (i = 0; i < len; i++) {
        if (text[i] == '%' && i + 2 < len && isxdigit((unsigned char)text[i + 1]) &&
            isxdigit((unsigned char)text[i + 2])) {
            char h[3] = {text[i + 1], text[i + 2], 0};
            out[o++] = (char)strtol(h, NULL, 16);
            i += 2;
        } else {
            out[o++] = text[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- accounts ----------------------------------------------------------------------------- */

void _ccopy_blob_account_cleanup(_ccopy_blob_account_t *acct)
{
    free(acct->endpoint);
    free(acct->path_prefix);
    free(acct->account);
    free(acct->sas);
    memset(acct, 0, sizeof *acct);
}

/* Whether a host (no port) is an IP address or localhost: Azurite's path-style URLs. */
static int path_style_host(const char *host, size_t len)
{
    size_t i;
    if (len == 9 && strncmp(host, "localhost", 9) == 0)
        return 1;
    for (i = 0; i < len; i++)
        if (!isdigit((unsigned char)host[i]) && host[i] != '.' && host[i] != ':' && host[i] != '[' &&
            host[i] != ']')
            return 0;
    return len > 0;
}

/* Split "scheme://host[:port]/path" into endpoint parts. *rest points after the host. */
static int split_url(const char *url, size_t *host_start, size_t *host_len, const char **rest)
{
    const char *p = strstr(url, "://"), *h, *end;
    if (!p || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
        return -1;
    h = p + 3;
    end = h + strcspn(h, "/?");
    *host_start = (size_t)(h - url);
    *host_len = (size_t)(end - h);
    *rest = end;
    return *host_len ? 0 : -1;
}

/* Endpoint and signed path prefix from a BlobEndpoint URL. */
static int set_endpoint(_ccopy_blob_account_t *acct, const char *endpoint, ccopy_error_t *error)
{
    size_t hs, hl, n = strlen(endpoint);
    const char *rest;
    if (split_url(endpoint, &hs, &hl, &rest) != 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "BlobEndpoint \"%s\" is not an http:// or https:// URL", endpoint);
    while (n > 0 && endpoint[n - 1] == '/')
        n--;
    free(acct->endpoint);
    acct->endpoint = _ccopy_malloc(n + 1);
    memcpy(acct->endpoint, endpoint, n);
    acct->endpoint[n] = '\0';
    free(acct->path_prefix);
    acct->path_prefix = _ccopy_strdup(acct->endpoint + (rest - endpoint));
    return 0;
}

int _ccopy_blob_account_from_connection_string(_ccopy_blob_account_t *acct, const char *text,
                                               ccopy_error_t *error)
{
    char *copy, *item, *save = NULL;
    char *protocol = NULL, *name = NULL, *key = NULL, *suffix = NULL, *endpoint = NULL, *sas = NULL;
    int dev = 0, rc = 0;

    memset(acct, 0, sizeof *acct);
    if (!text || !*text)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "the blob connection string is empty");
    copy = _ccopy_strdup(text);
    for (item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '=');
        while (*item == ' ')
            item++;
        if (!*item)
            continue;
        if (!eq) {
            rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                  "malformed blob connection string: a part has no '=' (expected "
                                  "Name=value;Name=value)");
            break;
        }
        *eq = '\0';
        if (strcasecmp(item, "DefaultEndpointsProtocol") == 0)
            protocol = eq + 1;
        else if (strcasecmp(item, "AccountName") == 0)
            name = eq + 1;
        else if (strcasecmp(item, "AccountKey") == 0)
            key = eq + 1;
        else if (strcasecmp(item, "EndpointSuffix") == 0)
            suffix = eq + 1;
        else if (strcasecmp(item, "BlobEndpoint") == 0)
            endpoint = eq + 1;
        else if (strcasecmp(item, "SharedAccessSignature") == 0)
            sas = eq + 1;
        else if (strcasecmp(item, "UseDevelopmentStorage") == 0)
            dev = strcasecmp(eq + 1, "true") == 0;
        /* QueueEndpoint, TableEndpoint, FileEndpoint ... do not concern blobs */
    }
    if (rc == 0 && dev) {
        name = name ? name : DEV_ACCOUNT;
        key = key ? key : DEV_KEY;
        endpoint = endpoint ? endpoint : "http://127.0.0.1:10000/" DEV_ACCOUNT;
    }
    if (rc == 0 && !name && !endpoint)
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                              "malformed blob connection string: no AccountName (or BlobEndpoint)");
    if (rc == 0 && !key && !sas)
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                              "blob connection string has neither AccountKey nor SharedAccessSignature");
    if (rc == 0 && key) {
        long n = base64_decode(key, acct->key, sizeof acct->key);
        if (n <= 0)
            rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                  "the AccountKey of the blob connection string is not valid Base64");
        else
            acct->key_len = (size_t)n;
    }
    if (rc == 0 && sas && !key)
        acct->sas = _ccopy_strdup(sas[0] == '?' ? sas + 1 : sas);
    if (rc == 0) {
        if (endpoint) {
            rc = set_endpoint(acct, endpoint, error);
        } else {
            char *url = _ccopy_strdup_printf("%s://%s.blob.%s", protocol ? protocol : "https", name,
                                             suffix ? suffix : "core.windows.net");
            rc = set_endpoint(acct, url, error);
            free(url);
        }
    }
    if (rc == 0) {
        if (name) {
            acct->account = _ccopy_strdup(name);
        } else {
            /* no AccountName: the first label of the host (acct.blob.core.windows.net) */
            size_t hs, hl;
            const char *rest;
            split_url(acct->endpoint, &hs, &hl, &rest);
            acct->account = _ccopy_strndup(acct->endpoint + hs, strcspn(acct->endpoint + hs, ".:/"));
        }
    }
    free(copy);
    if (rc != 0)
        _ccopy_blob_account_cleanup(acct);
    return rc;
}

int _ccopy_blob_account_from_sas_url(_ccopy_blob_account_t *acct, const char *url, char **container,
                                     char **prefix, ccopy_error_t *error)
{
    size_t hs, hl;
    const char *rest, *q = strchr(url, '?'), *path;
    char *endpoint, *segs, *p;
    int path_style;

    memset(acct, 0, sizeof *acct);
    *container = *prefix = NULL;
    if (split_url(url, &hs, &hl, &rest) != 0 || !q || !q[1])
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "destination URL is not a blob container URL with a SAS "
                                "(https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]?sv=...)");
    path_style = path_style_host(url + hs, strcspn(url + hs, ":/?") < hl ? strcspn(url + hs, ":/?") : hl);
    path = rest;
    segs = _ccopy_strndup(path, (size_t)(q - path));
    p = segs;
    while (*p == '/')
        p++;
    if (path_style) {
        char *slash = strchr(p, '/');
        if (!slash) {
            free(segs);
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "destination URL names no container (expected "
                                    "http://HOST:PORT/ACCOUNT/CONTAINER[/PREFIX]?sv=...)");
        }
        acct->account = _ccopy_strndup(p, (size_t)(slash - p));
        p = slash + 1;
        while (*p == '/')
            p++;
        endpoint = _ccopy_strdup_printf("%.*s/%s", (int)(hs + hl), url, acct->account);
    } else {
        acct->account = _ccopy_strndup(url + hs, strcspn(url + hs, ".:/"));
        endpoint = _ccopy_strndup(url, hs + hl);
    }
    if (!*p) {
        free(segs);
        free(endpoint);
        _ccopy_blob_account_cleanup(acct);
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "destination URL names no container");
    }
    if (strncmp(q + 1, "sig=", 4) != 0 && !strstr(q, "&sig=")) {
        free(segs);
        free(endpoint);
        _ccopy_blob_account_cleanup(acct);
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "the SAS of the container URL has no signature (no sig parameter): "
                                "give the whole URL with its SAS, as the portal shows it");
    }
    *container = _ccopy_strndup(p, strcspn(p, "/"));
    p += strlen(*container);
    while (*p == '/')
        p++;
    *prefix = url_decode(p, strlen(p));
    {
        size_t n = strlen(*prefix);
        while (n > 0 && (*prefix)[n - 1] == '/')
            (*prefix)[--n] = '\0';
    }
    set_endpoint(acct, endpoint, error);
    free(endpoint);
    free(segs);
    acct->sas = _ccopy_strdup(q + 1);
    return 0;
}

/* ---- signing ------------------------------------------------------------------------------ */

typedef struct qparam {
    char *name, *value;
} qparam_t;

static int qparam_order(const void *a, const void *b)
{
    const qparam_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static int xms_order(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void append(char **buf, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = _ccopy_realloc(*buf, *cap);
    }
    memcpy(*buf + *len, text, n + 1);
    *len += n;
}

char *_ccopy_blob_string_to_sign(const _ccopy_blob_account_t *acct, const _ccopy_blob_request_t *req,
                                 const char *x_ms_date, const char *encoded_path)
{
    char *s = NULL, length[32] = "";
    size_t len = 0, cap = 0, nx = 0, nq = 0, i;
    const char *xms[16];
    qparam_t params[16];
    char date_header[80], version_header[64];

    append(&s, &len, &cap, req->method);
    append(&s, &len, &cap, "\n\n\n"); /* Content-Encoding, Content-Language */
    if (req->body_len > 0)
        snprintf(length, sizeof length, "%zu", req->body_len);
    append(&s, &len, &cap, length);
    append(&s, &len, &cap, "\n");
    append(&s, &len, &cap, req->content_md5 ? req->content_md5 : "");
    append(&s, &len, &cap, "\n");
    append(&s, &len, &cap, req->content_type ? req->content_type : "");
    append(&s, &len, &cap, "\n\n\n"); /* Date (x-ms-date is used), If-Modified-Since */
    append(&s, &len, &cap, req->if_match ? req->if_match : "");
    append(&s, &len, &cap, "\n");
    append(&s, &len, &cap, req->if_none_match ? req->if_none_match : "");
    append(&s, &len, &cap, "\n\n\n"); /* If-Unmodified-Since, Range */

    snprintf(date_header, sizeof date_header, "x-ms-date:%s", x_ms_date);
    snprintf(version_header, sizeof version_header, "x-ms-version:%s", CCOPY_BLOB_API_VERSION);
    xms[nx++] = date_header;
    xms[nx++] = version_header;
    for (i = 0; i < 8 && req->xms[i]; i++)
        xms[nx++] = req->xms[i];
    qsort(xms, nx, sizeof xms[0], xms_order);
    for (i = 0; i < nx; i++) {
        append(&s, &len, &cap, xms[i]);
        append(&s, &len, &cap, "\n");
    }

    append(&s, &len, &cap, "/");
    append(&s, &len, &cap, acct->account);
    append(&s, &len, &cap, encoded_path);
    if (req->query && *req->query) {
        char *copy = _ccopy_strdup(req->query), *item, *save = NULL;
        for (item = strtok_r(copy, "&", &save); item && nq < 16; item = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(item, '=');
            size_t nlen = eq ? (size_t)(eq - item) : strlen(item);
            char *name = url_decode(item, nlen), *p;
            for (p = name; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            params[nq].name = name;
            params[nq].value = eq ? url_decode(eq + 1, strlen(eq + 1)) : _ccopy_strdup("");
            nq++;
        }
        free(copy);
        qsort(params, nq, sizeof params[0], qparam_order);
        for (i = 0; i < nq; i++) {
            /* several values of one name: sorted and comma-joined after one name */
            if (i == 0 || strcmp(params[i].name, params[i - 1].name) != 0) {
                append(&s, &len, &cap, "\n");
                append(&s, &len, &cap, params[i].name);
                append(&s, &len, &cap, ":");
            } else {
                append(&s, &len, &cap, ",");
            }
            append(&s, &len, &cap, params[i].value);
        }
        for (i = 0; i < nq; i++) {
            free(params[i].name);
            free(params[i].value);
        }
    }
    return s;
}

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

static size_t on_body(char *data, size_t size, size_t n, void *user)
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

static size_t on_header(char *data, size_t size, size_t n, void *user)
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
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, res);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
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
        return on_body(data, size, n, st->res);
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

_ccopy_blob_lease_verdict_t _ccopy_blob_lease_verdict(const _ccopy_blob_response_t *res)
{
    if (res->curl_code == CURLE_OK && res->status == 200)
        return CCOPY_BLOB_LEASE_RENEWED;
    /* no answer at all says nothing about the lease: tried again until the deadline */
    if (res->curl_code != CURLE_OK || _ccopy_blob_retryable(res))
        return CCOPY_BLOB_LEASE_TRY_AGAIN;
    return CCOPY_BLOB_LEASE_LOST;
}
