/*
 * Azure Blob Storage requests (see blob.h): each try addressed and authorised anew (blob_auth.c
 * makes the Shared Key signature; a Microsoft Entra ID token comes from the token cache), then
 * sent by the HTTP client (credentials/http.c), which reads the answer and retries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "blob.h"
#include "common.h"
#include "token.h"

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

/* The Authorization header of a try: Shared Key over the string-to-sign, or a bearer token. */
static struct curl_slist *authorize(struct curl_slist *headers, const _ccopy_blob_account_t *acct,
                                    const _ccopy_blob_request_t *req, const char *date,
                                    const char *path, ccopy_error_t *error)
{
    if (acct->key_len > 0) {
        char *sts = _ccopy_blob_string_to_sign(acct, req, date, path);
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        char *signature, *auth;
        HMAC(EVP_sha256(), acct->key, (int)acct->key_len, (const unsigned char *)sts, strlen(sts), mac,
             &mac_len);
        signature = _ccopy_base64(mac, mac_len);
        auth = _ccopy_strdup_printf("SharedKey %s:%s", acct->account, signature);
        headers = _ccopy_http_header_add(headers, "Authorization", auth);
        free(auth);
        free(signature);
        free(sts);
    } else if (acct->entra_id) {
        char *token = NULL, *auth;
        int rc = acct->credentials
                     ? _ccopy_token_get(&token, CCOPY_SCOPE_STORAGE, acct->credentials, error)
                     : _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_ENGINE, 0,
                                        "account %s has neither a key nor a SAS, and no Microsoft "
                                        "Entra ID credential was set up",
                                        acct->account);
        if (rc != 0) {
            _ccopy_error_prefix(error, "Blob Storage account %s", acct->account);
            curl_slist_free_all(headers);
            return NULL;
        }
        auth = _ccopy_strdup_printf("Bearer %s", token);
        headers = _ccopy_http_header_add(headers, "Authorization", auth);
        _ccopy_token_free(auth);
        _ccopy_token_free(token);
    }
    return headers;
}

struct curl_slist *_ccopy_blob_prepare(CURL *curl, const _ccopy_blob_account_t *acct,
                                       const _ccopy_blob_request_t *req, _ccopy_http_response_t *res,
                                       _ccopy_http_body_cursor_t *cursor, long timeout_ms,
                                       ccopy_error_t *error)
{
    char date[64], *path, *url, *encoded = NULL;
    struct curl_slist *headers = NULL;
    _ccopy_http_try_t t;
    size_t i;

    if (req->blob) {
        encoded = _ccopy_http_encode(req->blob, "/");
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
    headers = _ccopy_http_header_add(headers, "x-ms-date", date);
    headers = _ccopy_http_header_add(headers, "x-ms-version", CCOPY_BLOB_API_VERSION);
    for (i = 0; i < 8 && req->xms[i]; i++)
        headers = _ccopy_http_header_line(headers, req->xms[i]); /* "name:value" is a header line */
    if (req->content_md5)
        headers = _ccopy_http_header_add(headers, "Content-MD5", req->content_md5);
    if (req->content_type)
        headers = _ccopy_http_header_add(headers, "Content-Type", req->content_type);
    if (req->if_match)
        headers = _ccopy_http_header_add(headers, "If-Match", req->if_match);
    if (req->if_none_match)
        headers = _ccopy_http_header_add(headers, "If-None-Match", req->if_none_match);
    headers = _ccopy_http_header_line(headers, "Expect:"); /* no 100-continue: Azure answers directly */
    headers = authorize(headers, acct, req, date, path, error);

    if (headers) {
        memset(&t, 0, sizeof t);
        t.method = req->method;
        t.url = url;
        t.headers = headers;
        t.body = req->body;
        t.body_len = req->body_len;
        t.timeout_ms = timeout_ms;
        t.ca_file = acct->credentials ? acct->credentials->ca_file : NULL;
        _ccopy_http_setup(curl, &t, res, cursor);
    }
    free(url);
    free(path);
    return headers;
}

/* What Blob Storage said of a refused token: AuthenticationErrorDetail in the error's XML
 * (Azure and Azurite put "Audience validation failed", "Invalid token audience." there). */
static void refusal_detail(char *out, size_t size, const _ccopy_http_response_t *res)
{
    static const char open_tag[] = "<AuthenticationErrorDetail>";
    const char *p = res->body ? strstr(res->body, open_tag) : NULL, *end;
    out[0] = '\0';
    if (!p)
        return;
    p += sizeof open_tag - 1;
    end = strstr(p, "</AuthenticationErrorDetail>");
    if (end)
        snprintf(out, size, "%.*s", (int)(end - p < 200 ? end - p : 200), p);
}

int _ccopy_blob_error(const _ccopy_blob_account_t *acct, const _ccopy_http_response_t *res,
                      const char *what, ccopy_error_t *error)
{
    const char *code = res->error_code[0] ? res->error_code : "no error code";
    if (res->curl_code != CURLE_OK)
        return _ccopy_error_set(error, CCOPY_ENETWORK, CCOPY_DOMAIN_HTTP, res->curl_code,
                                "%s: connection to %s failed: %s", what, acct->endpoint,
                                curl_easy_strerror(res->curl_code));
    if ((res->status == 401 || res->status == 403) && acct->entra_id) {
        char detail[256];
        refusal_detail(detail, sizeof detail, res);
        if (strcmp(res->error_code, "AuthorizationPermissionMismatch") == 0 ||
            strcmp(res->error_code, "AuthorizationFailure") == 0)
            return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, res->status,
                                    "%s: account %s took the Entra ID token but refused the "
                                    "request (%ld %s): the identity needs a data role on the "
                                    "container, such as Storage Blob Data Contributor",
                                    what, acct->account, res->status, code);
        return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, res->status,
                                "%s: Blob Storage refused the Entra ID token for account %s (%ld "
                                "%s%s%s)",
                                what, acct->account, res->status, code, detail[0] ? ": " : "",
                                detail);
    }
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

/* A blob request as an HTTP call: addressed and authorised anew for every try. */
typedef struct blob_call {
    const _ccopy_blob_account_t *acct;
    const _ccopy_blob_request_t *req;
} blob_call_t;

static struct curl_slist *blob_build(void *user_data, CURL *curl, _ccopy_http_response_t *res,
                                     _ccopy_http_body_cursor_t *cursor, long timeout_ms,
                                     ccopy_error_t *error)
{
    const blob_call_t *c = user_data;
    return _ccopy_blob_prepare(curl, c->acct, c->req, res, cursor, timeout_ms, error);
}

static int blob_fail(void *user_data, const _ccopy_http_response_t *res, const char *what,
                     ccopy_error_t *error)
{
    const blob_call_t *c = user_data;
    return _ccopy_blob_error(c->acct, res, what, error);
}

int _ccopy_blob_send(_ccopy_blob_client_t *client, const _ccopy_blob_request_t *req,
                     _ccopy_http_response_t *res, const char *what, ccopy_error_t *error)
{
    blob_call_t c = {client->acct, req};
    _ccopy_http_call_t call = {blob_build, blob_fail, &c};
    return _ccopy_http_send(&client->http, &call, res, what, error);
}

int _ccopy_blob_try_streamed(_ccopy_blob_client_t *client, const _ccopy_blob_request_t *req,
                             _ccopy_http_response_t *res, _ccopy_http_data_fn on_data,
                             void *user_data, ccopy_error_t *error)
{
    blob_call_t c = {client->acct, req};
    _ccopy_http_call_t call = {blob_build, blob_fail, &c};
    return _ccopy_http_try_streamed(&client->http, &call, res, on_data, user_data, error);
}
