/*
 * Azure Blob Storage over HTTP: where an account is and how to sign for it (Shared Key, SAS or
 * a Microsoft Entra ID token; blob_auth.c), and one request at a time with retries (blob.c,
 * over credentials/http.c); the lease rules below are in blob_lease.c. libcurl carries the
 * bytes and OpenSSL does the HMAC, MD5 and Base64; nothing here speaks HTTP by hand.
 *
 * Shared Key (x-ms-version 2021-12-02): Authorization: SharedKey ACCOUNT:Base64(HMAC-SHA256(key,
 * VERB\n + 11 standard header values\n + canonicalized x-ms- headers + canonicalized resource)).
 * Every attempt is stamped with a fresh x-ms-date and signed again. A SAS is appended to the
 * query instead and nothing is signed. With neither (many organisations turn shared-key access
 * off), every attempt carries Authorization: Bearer and a token for Azure Storage
 * (https://storage.azure.com/.default) from the token cache (credentials/token.h).
 */
#ifndef CCOPY_BLOB_H
#define CCOPY_BLOB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "cosmocopy/error.h"
#include "credentials.h"
#include "http.h"
#include "retry.h"

#define CCOPY_BLOB_API_VERSION "2021-12-02"

typedef struct _ccopy_blob_account {
    char *endpoint;       /* "https://acct.blob.core.windows.net" or "http://127.0.0.1:10000/acct" */
    char *path_prefix;    /* "" or "/acct" (emulator, path-style): part of every signed path */
    char *account;
    unsigned char key[128];
    size_t key_len;       /* 0 when authorising with a SAS or Entra ID */
    char *sas;            /* query string without '?', or NULL */
    int entra_id;         /* neither key nor SAS: Microsoft Entra ID tokens (https only) */
    /* tokens and the CA bundle: borrowed from the sink's settings; NULL: none (no Entra ID,
     * the system's CA store) */
    const _ccopy_credential_settings_t *credentials;
} _ccopy_blob_account_t;

/* Parse a connection string as Azure writes it (DefaultEndpointsProtocol, AccountName,
 * AccountKey, EndpointSuffix, BlobEndpoint, SharedAccessSignature, UseDevelopmentStorage=true).
 * Without AccountKey and SharedAccessSignature the account uses Microsoft Entra ID tokens, over
 * https only. EINVAL names the missing or malformed part, never the key. */
int _ccopy_blob_account_from_connection_string(_ccopy_blob_account_t *acct, const char *text,
                                               ccopy_error_t *error);
/* A container or blob URL, with a SAS query or without one (Microsoft Entra ID, https only):
 * https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX[?sv=...] or path-style
 * http://127.0.0.1:10000/ACCOUNT/CONTAINER/PREFIX?sv=... *container and *prefix are new
 * strings. */
int _ccopy_blob_account_from_sas_url(_ccopy_blob_account_t *acct, const char *url, char **container,
                                     char **prefix, ccopy_error_t *error);
void _ccopy_blob_account_cleanup(_ccopy_blob_account_t *acct);

/* One request. Header values are NULL when absent. */
typedef struct _ccopy_blob_request {
    const char *method;        /* GET, HEAD, PUT, DELETE */
    const char *container;     /* NULL for account-level requests */
    const char *blob;          /* NULL for container-level requests; not yet URL-encoded */
    const char *query;         /* extra query, already encoded ("comp=block&blockid=..."), or NULL */
    const char *content_md5;   /* Base64 */
    const char *content_type;
    const char *if_none_match;
    const char *if_match;      /* an ETag, quotes included, as the server sent it */
    const char *xms[8];        /* further "x-ms-name:value" headers, name in lower case; NULL-ended */
    const uint8_t *body;
    size_t body_len;
} _ccopy_blob_request_t;

/* Prepare `curl` (reset first) to send `req` authorised now: signed with a fresh x-ms-date, a
 * SAS in the query, or a Microsoft Entra ID token from the cache. The response lands in *res.
 * The returned header list must be freed with curl_slist_free_all after the transfer; NULL
 * (with *error set) when no token could be had. `upload` state for the body lives in *cursor,
 * which must outlive the transfer. */
struct curl_slist *_ccopy_blob_prepare(CURL *curl, const _ccopy_blob_account_t *acct,
                                       const _ccopy_blob_request_t *req, _ccopy_http_response_t *res,
                                       _ccopy_http_body_cursor_t *cursor, long timeout_ms,
                                       ccopy_error_t *error);

/* Translate a failed answer into *error: 401/403 -> EAUTH naming the account (and, with Entra
 * ID, what the service said of the token), 404 -> ENOTFOUND, network -> ENETWORK, else ESERVER
 * with the status and error code. `what` says what was being done ("writing
 * shop/orders/x.bson"). Returns the code. */
int _ccopy_blob_error(const _ccopy_blob_account_t *acct, const _ccopy_http_response_t *res,
                      const char *what, ccopy_error_t *error);

/* A client: an HTTP client (http.h) for one account. */
typedef struct _ccopy_blob_client {
    _ccopy_http_client_t http;
    const _ccopy_blob_account_t *acct;
} _ccopy_blob_client_t;

/* Send `req`, retrying what is retryable with back-off (never sooner than Retry-After), signed
 * anew for every try. Returns 0 with *res holding the final answer whatever its status (the
 * caller judges 404, 409 ...), or the error once retries are spent (ENETWORK, or ESERVER for
 * 5xx), ECANCELED, EAUTH when no token could be had, or the guard's error (checked before every
 * try). */
int _ccopy_blob_send(_ccopy_blob_client_t *client, const _ccopy_blob_request_t *req,
                     _ccopy_http_response_t *res, const char *what, ccopy_error_t *error);

/* One try of `req`, without retries, whose 2xx body goes to on_data as it arrives
 * (_ccopy_http_try_streamed). Returns 0, or the error when the try could not be authorised
 * (nothing was sent). */
int _ccopy_blob_try_streamed(_ccopy_blob_client_t *client, const _ccopy_blob_request_t *req,
                             _ccopy_http_response_t *res, _ccopy_http_data_fn on_data,
                             void *user_data, ccopy_error_t *error);

/* The lease on a writer's lock blob, as the writer counts it. Blob Storage lets a 15 s lease
 * run for 15 s after the server took the request that acquired or last renewed it, which is
 * after that request's try started here; the writer counts it held until 12 s after that start
 * (3 s kept back for a commit already sent to land in time) and writes nothing after that. It
 * renews 5 s after each renewal; each try of a renewal gets at most 3 s (never more than the
 * lease has left, nor than the client's timeout), and a try that failed in a way worth trying
 * again is tried again 0.5 s later (the Retry-After of a 503 only while that still leaves the
 * lease a try), until the deadline. All times are monotonic milliseconds. */
#define CCOPY_BLOB_LEASE_SECONDS 15
#define CCOPY_BLOB_LEASE_HELD_MS 12000
#define CCOPY_BLOB_LEASE_RENEW_MS 5000
#define CCOPY_BLOB_LEASE_TRY_MS 3000
#define CCOPY_BLOB_LEASE_RETRY_MS 500

typedef enum {
    CCOPY_BLOB_LEASE_RENEWED,   /* 200: held for another period */
    CCOPY_BLOB_LEASE_TRY_AGAIN, /* no answer (whatever the connection's failure), or one worth
                                   trying again (500, 502, 503, 504, 408, 429) */
    CCOPY_BLOB_LEASE_LOST       /* any other answer: 409 (lease broken, expired and taken, another
                                   id), 404 (the lock blob is gone), 403, 400 ... */
} _ccopy_blob_lease_verdict_t;

/* Until when a lease acquired or renewed by a try that started at started_ms counts as held. */
int64_t _ccopy_blob_lease_deadline_ms(int64_t started_ms);
/* When a lease renewed by a try that started at started_ms is due for its next renewal. */
int64_t _ccopy_blob_lease_renew_at_ms(int64_t started_ms);
/* The time limit of a renewal try starting at now_ms: at most CCOPY_BLOB_LEASE_TRY_MS, the
 * client's timeout_ms (when > 0) and what is left before deadline_ms; 0 when nothing is left. */
long _ccopy_blob_lease_try_timeout_ms(int64_t now_ms, int64_t deadline_ms, long timeout_ms);
/* When to try a renewal again after a failed try that ended at now_ms; retry_after_ms is the
 * answer's Retry-After (-1: none). */
int64_t _ccopy_blob_lease_retry_at_ms(int64_t now_ms, int64_t deadline_ms, int64_t retry_after_ms);
/* What an answer to a renewal means. */
_ccopy_blob_lease_verdict_t _ccopy_blob_lease_verdict(const _ccopy_http_response_t *res);

/* Base64 of bytes (new string) and MD5 of bytes as Base64 (into out[32]). */
char *_ccopy_base64(const unsigned char *data, size_t len);
void _ccopy_md5_base64(const uint8_t *data, size_t len, char out[32]);

/* The string-to-sign of a request (exposed for unit tests with known vectors). New string. */
char *_ccopy_blob_string_to_sign(const _ccopy_blob_account_t *acct, const _ccopy_blob_request_t *req,
                                 const char *x_ms_date, const char *encoded_path);

#endif
