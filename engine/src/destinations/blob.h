/*
 * Azure Blob Storage over HTTP: where an account is and how to sign for it (Shared Key or SAS,
 * blob_auth.c), and one request at a time with retries (blob.c); the lease rules below are in
 * blob_lease.c. libcurl carries the bytes and OpenSSL does the HMAC, MD5 and Base64; nothing
 * here speaks HTTP by hand.
 *
 * Shared Key (x-ms-version 2021-12-02): Authorization: SharedKey ACCOUNT:Base64(HMAC-SHA256(key,
 * VERB\n + 11 standard header values\n + canonicalized x-ms- headers + canonicalized resource)).
 * Every attempt is stamped with a fresh x-ms-date and signed again. A SAS is appended to the
 * query instead and nothing is signed.
 */
#ifndef CCOPY_BLOB_H
#define CCOPY_BLOB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "cosmocopy/error.h"
#include "retry.h"

#define CCOPY_BLOB_API_VERSION "2021-12-02"

typedef struct _ccopy_blob_account {
    char *endpoint;       /* "https://acct.blob.core.windows.net" or "http://127.0.0.1:10000/acct" */
    char *path_prefix;    /* "" or "/acct" (emulator, path-style): part of every signed path */
    char *account;
    unsigned char key[128];
    size_t key_len;       /* 0 when authorising with a SAS */
    char *sas;            /* query string without '?', or NULL */
} _ccopy_blob_account_t;

/* Parse a connection string as Azure writes it (DefaultEndpointsProtocol, AccountName,
 * AccountKey, EndpointSuffix, BlobEndpoint, SharedAccessSignature, UseDevelopmentStorage=true).
 * EINVAL names the missing or malformed part, never the key. */
int _ccopy_blob_account_from_connection_string(_ccopy_blob_account_t *acct, const char *text,
                                               ccopy_error_t *error);
/* A container or blob URL with a SAS query: https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX?sv=...
 * or path-style http://127.0.0.1:10000/ACCOUNT/CONTAINER/PREFIX?sv=... *container and *prefix
 * are new strings. */
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

typedef struct _ccopy_blob_response {
    long status;               /* 0 when no HTTP answer arrived */
    CURLcode curl_code;
    char error_code[64];       /* x-ms-error-code */
    char meta_sha256[72];      /* x-ms-meta-sha256, when present */
    char lease_id[64];         /* x-ms-lease-id, when present */
    char etag[96];             /* ETag, quotes included, when present */
    char content_range[96];    /* Content-Range ("bytes 0-99/1000"), when present */
    int64_t content_length;    /* Content-Length, or -1 */
    int64_t retry_after_ms;    /* Retry-After, or -1 */
    char *body;                /* NUL-terminated; NULL when empty */
    size_t body_len;
    size_t body_limit;         /* bodies larger than this are cut (0: 64 MiB) */
} _ccopy_blob_response_t;

void _ccopy_blob_response_reset(_ccopy_blob_response_t *res);

/* libcurl's header and write callbacks (user: the _ccopy_blob_response_t): one header line per
 * call, read into res's fields; a body piece appended to res->body, refused (0) past
 * res->body_limit. _ccopy_blob_prepare installs them; a fuzz target feeds them directly. */
size_t _ccopy_blob_on_header(char *data, size_t size, size_t n, void *user);
size_t _ccopy_blob_on_body(char *data, size_t size, size_t n, void *user);

/* Prepare `curl` (reset first) to send `req` signed now; the response lands in *res. The
 * returned header list must be freed with curl_slist_free_all after the transfer. `upload`
 * state for the body lives in *cursor, which must outlive the transfer. */
typedef struct _ccopy_blob_body_cursor {
    const uint8_t *data;
    size_t len, pos;
} _ccopy_blob_body_cursor_t;

struct curl_slist *_ccopy_blob_prepare(CURL *curl, const _ccopy_blob_account_t *acct,
                                       const _ccopy_blob_request_t *req, _ccopy_blob_response_t *res,
                                       _ccopy_blob_body_cursor_t *cursor, long timeout_ms);

/* A Retry-After header's value in ms: whole seconds; -1 when it is not a number (an HTTP date).
 * Past 2^53 ms (285,000 years) it is 2^53, so sums with it cannot overflow. */
int64_t _ccopy_blob_retry_after_ms(const char *value);

/* Whether an answer is worth another try: 408, 429, 500 (not FeatureNotSupported), 502, 503,
 * 504, and connection failures, resets and timeouts. */
int _ccopy_blob_retryable(const _ccopy_blob_response_t *res);

/* Translate a failed answer into *error: 403 -> EAUTH naming the account, 404 -> ENOTFOUND,
 * network -> ENETWORK, else ESERVER with the status and error code. `what` says what was being
 * done ("writing shop/orders/x.bson"). Returns the code. */
int _ccopy_blob_error(const _ccopy_blob_account_t *acct, const _ccopy_blob_response_t *res,
                      const char *what, ccopy_error_t *error);

/* A check made before every try of a request: non-zero (with *error set) stops the request
 * with that code before anything is sent; it may lower *timeout_ms, the try's time limit. */
typedef int (*_ccopy_blob_guard_fn)(void *user_data, long *timeout_ms, ccopy_error_t *error);

typedef struct _ccopy_blob_client {
    const _ccopy_blob_account_t *acct;
    CURL *curl;
    _ccopy_backoff_t backoff;  /* max_retries: tries in a row that failed */
    uint64_t rng;
    atomic_int *canceled;      /* may be NULL */
    long timeout_ms;
    atomic_llong *retries;     /* may be NULL: counts retried requests */
    _ccopy_blob_guard_fn guard; /* may be NULL */
    void *guard_data;
    int64_t try_started_ms;    /* monotonic: when the last try of _ccopy_blob_send started */
} _ccopy_blob_client_t;

/* Send `req`, retrying what is retryable with back-off (never sooner than Retry-After). Returns
 * 0 with *res holding the final answer whatever its status (the caller judges 404, 409 ...), or
 * the error once retries are spent (ENETWORK, or ESERVER for 5xx), ECANCELED, or the guard's
 * error (checked before every try). */
int _ccopy_blob_send(_ccopy_blob_client_t *client, const _ccopy_blob_request_t *req,
                     _ccopy_blob_response_t *res, const char *what, ccopy_error_t *error);

/* Where a streamed 2xx body goes, piece by piece as it arrives, in order; res holds the answer's
 * status and headers. A non-zero return stops the transfer. */
typedef int (*_ccopy_blob_data_fn)(const _ccopy_blob_response_t *res, const uint8_t *data,
                                   size_t len, void *user_data);

/* One try of `req`, without retries (a streamed read that failed halfway asks for the rest, not
 * the same again: the caller decides), whose 2xx body goes to on_data as it arrives instead of
 * being buffered. The body of any other answer (an error's XML) lands in res->body as with
 * _ccopy_blob_send. On return *res holds the answer as _ccopy_blob_send leaves it; res->curl_code
 * is CURLE_WRITE_ERROR when on_data stopped the transfer. Cancellation is the caller's, too. */
void _ccopy_blob_try_streamed(_ccopy_blob_client_t *client, const _ccopy_blob_request_t *req,
                              _ccopy_blob_response_t *res, _ccopy_blob_data_fn on_data,
                              void *user_data);

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
_ccopy_blob_lease_verdict_t _ccopy_blob_lease_verdict(const _ccopy_blob_response_t *res);

/* URL-encode a blob name: every byte but unreserved characters and '/'. New string. */
char *_ccopy_blob_encode_name(const char *name);
/* Base64 of bytes (new string) and MD5 of bytes as Base64 (into out[32]). */
char *_ccopy_base64(const unsigned char *data, size_t len);
void _ccopy_md5_base64(const uint8_t *data, size_t len, char out[32]);

/* The string-to-sign of a request (exposed for unit tests with known vectors). New string. */
char *_ccopy_blob_string_to_sign(const _ccopy_blob_account_t *acct, const _ccopy_blob_request_t *req,
                                 const char *x_ms_date, const char *encoded_path);

#endif
