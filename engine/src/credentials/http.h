/*
 * HTTPS requests to Azure services (Blob Storage, Key Vault, Microsoft Entra ID, managed
 * identity endpoints): one libcurl transfer per try, the answer's headers and body read as they
 * arrive, and tries repeated with the engine's back-off (retry.h) while the answer is worth
 * another (408, 429, 500, 502, 503, 504, dropped or timed-out connections), never sooner than
 * Retry-After. What a service adds (Shared Key signatures, bearer tokens) is built anew for
 * every try by the caller's build function. Certificates are always checked, against the
 * system's CA store or the PEM bundle a try names.
 */
#ifndef CCOPY_HTTP_H
#define CCOPY_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "cosmocopy/error.h"
#include "retry.h"

/* An answer: its status and the headers the engine reads. Header values are "" when absent. */
typedef struct _ccopy_http_response {
    long status;               /* 0 when no HTTP answer arrived */
    CURLcode curl_code;
    char error_code[64];       /* x-ms-error-code */
    char meta_sha256[72];      /* x-ms-meta-sha256 (Blob Storage) */
    char lease_id[64];         /* x-ms-lease-id (Blob Storage) */
    char etag[96];             /* ETag, quotes included */
    char content_range[96];    /* Content-Range ("bytes 0-99/1000") */
    char www_authenticate[1024]; /* WWW-Authenticate: a Bearer challenge (Key Vault) */
    int64_t content_length;    /* Content-Length, or -1 */
    int64_t retry_after_ms;    /* Retry-After, or -1 */
    char *body;                /* NUL-terminated; NULL when empty */
    size_t body_len;
    size_t body_limit;         /* bodies larger than this are cut (0: 64 MiB) */
} _ccopy_http_response_t;

/* Free the body and clear every field but body_limit. */
void _ccopy_http_response_reset(_ccopy_http_response_t *res);
/* Reset, after overwriting the body with zeros: it held a secret or a token. */
void _ccopy_http_response_wipe(_ccopy_http_response_t *res);

/* libcurl's header and write callbacks (user: the _ccopy_http_response_t): one header line per
 * call, read into res's fields; a body piece appended to res->body, refused (0) past
 * res->body_limit. _ccopy_http_setup installs them; fuzz targets feed them directly. */
size_t _ccopy_http_on_header(char *data, size_t size, size_t n, void *user);
size_t _ccopy_http_on_body(char *data, size_t size, size_t n, void *user);

/* A Retry-After header's value in ms: whole seconds; -1 when it is not a number (an HTTP date).
 * Past 2^53 ms (285,000 years) it is 2^53, so sums with it cannot overflow. */
int64_t _ccopy_http_retry_after_ms(const char *value);

/* Whether an answer is worth another try: 408, 429, 500 (not FeatureNotSupported), 502, 503,
 * 504, and connection failures, resets and timeouts. A host name that does not resolve is not. */
int _ccopy_http_retryable(const _ccopy_http_response_t *res);

/* Tell a retry of `what` after this answer (see _ccopy_retry_note): its HTTP status and error
 * code, or the connection's failure. */
void _ccopy_http_note_retry(const _ccopy_http_response_t *res, const char *what, int64_t delay_ms,
                            int attempt, int max_retries);

/* Append "name: value" (or a whole "name:value" line) to a header list. Never returns NULL: out
 * of memory is the engine's rule for it (_ccopy_out_of_memory). */
struct curl_slist *_ccopy_http_header_add(struct curl_slist *list, const char *name, const char *value);
struct curl_slist *_ccopy_http_header_line(struct curl_slist *list, const char *line);

/* Where an upload's body is read from; must outlive the transfer. */
typedef struct _ccopy_http_body_cursor {
    const uint8_t *data;
    size_t len, pos;
} _ccopy_http_body_cursor_t;

/* One try, as it goes on the wire. */
typedef struct _ccopy_http_try {
    const char *method;            /* GET, HEAD, PUT, POST, DELETE */
    const char *url;
    struct curl_slist *headers;    /* borrowed for the transfer */
    const uint8_t *body;           /* PUT and POST */
    size_t body_len;
    long timeout_ms;               /* the whole try */
    long connect_timeout_ms;       /* 0: min(timeout_ms, 30 s) */
    const char *ca_file;           /* PEM bundle; NULL: the system's CA store */
    int no_proxy;                  /* link-local and loopback endpoints (IMDS): never a proxy */
} _ccopy_http_try_t;

/* Prepare `curl` (reset first) for one try; its answer lands in *res (reset here). */
void _ccopy_http_setup(CURL *curl, const _ccopy_http_try_t *t, _ccopy_http_response_t *res,
                       _ccopy_http_body_cursor_t *cursor);

/* A check made before every try of a request: non-zero (with *error set) stops the request
 * with that code before anything is sent; it may lower *timeout_ms, the try's time limit. */
typedef int (*_ccopy_http_guard_fn)(void *user_data, long *timeout_ms, ccopy_error_t *error);

/* One connection's state across the tries of its requests. Not thread-safe: one per thread. */
typedef struct _ccopy_http_client {
    CURL *curl;
    _ccopy_backoff_t backoff;  /* max_retries: tries in a row that failed */
    uint64_t rng;
    atomic_int *canceled;      /* may be NULL */
    long timeout_ms;
    atomic_llong *retries;     /* may be NULL: counts retried requests */
    _ccopy_http_guard_fn guard; /* may be NULL */
    void *guard_data;
    int64_t try_started_ms;    /* monotonic: when the last try of _ccopy_http_send started */
} _ccopy_http_client_t;

/* A new curl handle, a random generator seeded from the clock, and the rest as given. */
void _ccopy_http_client_init(_ccopy_http_client_t *client, const _ccopy_backoff_t *backoff,
                             long timeout_ms, atomic_int *canceled, atomic_llong *retries);
void _ccopy_http_client_cleanup(_ccopy_http_client_t *client);

/* What a request does on each try and when it gives up: build sets up client->curl
 * (_ccopy_http_setup) for a try with this time limit and returns the header list to free after
 * it, or NULL with *error set (no token could be had ...); fail turns the last answer into
 * *error once the retries are spent, and returns its code. */
typedef struct _ccopy_http_call {
    struct curl_slist *(*build)(void *user_data, CURL *curl, _ccopy_http_response_t *res,
                                _ccopy_http_body_cursor_t *cursor, long timeout_ms,
                                ccopy_error_t *error);
    int (*fail)(void *user_data, const _ccopy_http_response_t *res, const char *what,
                ccopy_error_t *error);
    void *user_data;
} _ccopy_http_call_t;

/* Send a request, retrying what is retryable with back-off (never sooner than Retry-After).
 * Returns 0 with *res holding the final answer whatever its status (the caller judges 401,
 * 404, 409 ...), or the error once retries are spent (call->fail's, prefixed "after N
 * retries"), ECANCELED, the guard's error or build's. */
int _ccopy_http_send(_ccopy_http_client_t *client, const _ccopy_http_call_t *call,
                     _ccopy_http_response_t *res, const char *what, ccopy_error_t *error);

/* Where a streamed 2xx body goes, piece by piece as it arrives, in order; res holds the answer's
 * status and headers. A non-zero return stops the transfer. */
typedef int (*_ccopy_http_data_fn)(const _ccopy_http_response_t *res, const uint8_t *data,
                                   size_t len, void *user_data);

/* One try of a call, without retries (a streamed read that failed halfway asks for the rest,
 * not the same again: the caller decides), whose 2xx body goes to on_data as it arrives instead
 * of being buffered. The body of any other answer lands in res->body as with _ccopy_http_send.
 * res->curl_code is CURLE_WRITE_ERROR when on_data stopped the transfer. Returns build's error
 * (nothing was sent) or 0. */
int _ccopy_http_try_streamed(_ccopy_http_client_t *client, const _ccopy_http_call_t *call,
                             _ccopy_http_response_t *res, _ccopy_http_data_fn on_data,
                             void *user_data, ccopy_error_t *error);

/* A plain request: a fixed method, URL, header lines ("Name: value", NULL-ended) and body,
 * sent as they are on every try, with the CA bundle, connect time limit and proxy rule of
 * try_options (its method, url, headers and body are ignored). Failures once retries are
 * spent: ENETWORK naming `host` ("Key Vault myvault.vault.azure.net"), ENOTFOUND when the host
 * name does not resolve, or ESERVER with the status. */
typedef struct _ccopy_http_plain {
    const char *method;
    const char *url;
    const char *host;              /* for messages: what answers at url */
    const char *const *headers;
    const char *body;              /* NULL: none */
    _ccopy_http_try_t options;
} _ccopy_http_plain_t;

int _ccopy_http_send_plain(_ccopy_http_client_t *client, const _ccopy_http_plain_t *plain,
                           _ccopy_http_response_t *res, const char *what, ccopy_error_t *error);
/* The error of a plain request's answer that retrying did not fix (as above). */
int _ccopy_http_plain_error(const char *host, const _ccopy_http_response_t *res, const char *what,
                            ccopy_error_t *error);

/* Percent-encode every byte but unreserved characters (RFC 3986) and those in keep ("/" for a
 * blob name, "" for a query or form value). New string. */
char *_ccopy_http_encode(const char *text, const char *keep);

#endif
