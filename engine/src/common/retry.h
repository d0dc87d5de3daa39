/*
 * Retry policy: which server errors are worth retrying, how long to wait before the next try
 * (exponential back-off with full jitter, never sooner than a server's RetryAfterMs), and a
 * small deterministic random generator so schedules can be tested.
 */
#ifndef CCOPY_RETRY_H
#define CCOPY_RETRY_H

#include <stdint.h>

typedef struct _ccopy_backoff {
    int max_retries; /* retries allowed per window before it fails (the retry budget) */
    int64_t base_ms; /* ceiling of the first delay                                     */
    int64_t cap_ms;  /* ceiling of any delay                                           */
} _ccopy_backoff_t;

typedef enum _ccopy_retry_class {
    CCOPY_RETRY_NEVER = 0,  /* retrying cannot help: fail now                        */
    CCOPY_RETRY_NETWORK,    /* connection refused/reset/closed, server selection      */
    CCOPY_RETRY_THROTTLED,  /* 16500 TooManyRequests / "Request rate is large"        */
    CCOPY_RETRY_TIMEOUT,    /* 50 / 262 ExceededTimeLimit (Cosmos server-side retry)  */
    CCOPY_RETRY_CURSOR,     /* 43 CursorNotFound: reopen the cursor                    */
    CCOPY_RETRY_TRANSIENT   /* other transient server states (not primary, shutting down, 503) */
} _ccopy_retry_class_t;

/* splitmix64: next pseudo-random value; *state is advanced. */
uint64_t _ccopy_rng_next(uint64_t *state);

/* Delay in ms before retry number `attempt` (1 for the first retry): a uniform random value in
 * [0, min(cap_ms, base_ms * 2^(attempt-1))] ("full jitter"). When retry_after_ms > 0 the delay
 * is at least retry_after_ms (the server said not sooner) and at most retry_after_ms plus the
 * jittered value. Never negative, never above cap_ms + retry_after_ms. */
int64_t _ccopy_backoff_delay_ms(const _ccopy_backoff_t *policy, int attempt, int64_t retry_after_ms,
                                uint64_t *rng_state);

/* The integer after "RetryAfterMs=" in a Cosmos error message, or -1 when there is none. */
int64_t _ccopy_parse_retry_after_ms(const char *message);

/* Classify a server error by its code first, then by its message:
 *   16500 -> THROTTLED; 50, 262 -> TIMEOUT; 43 -> CURSOR;
 *   6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436 -> NETWORK/TRANSIENT
 *   (6, 7, 89, 9001 are network-ish: HostUnreachable, HostNotFound, NetworkTimeout,
 *   SocketException -> NETWORK; the rest TRANSIENT);
 *   1 with "ServiceUnavailable" or "(503)" in the message -> TRANSIENT;
 *   any code whose message contains "TooManyRequests", "Request rate is large" or
 *   "RetryAfterMs=" -> THROTTLED; everything else NEVER.
 * message may be NULL. */
_ccopy_retry_class_t _ccopy_classify_server_error(int64_t code, const char *message);

/* A short human name for a class: "network", "throttled", "timeout", "cursor", "transient". */
const char *_ccopy_retry_class_name(_ccopy_retry_class_t cls);

/* Retries after faults are told as they happen (a job's log, at INFO), by whatever thread
 * retries: a job sets the receiver for the threads that run its work (its caller's and its
 * workers'); with none set, nothing is told. Throttling answers are counted, not told. */
typedef void (*_ccopy_retry_note_fn)(void *data, const char *line);
/* This thread's receiver (NULL: none); returns the one it replaces, to put back. */
_ccopy_retry_note_fn _ccopy_retry_notes_set(_ccopy_retry_note_fn fn, void *data, void **old_data);
/* "retrying in DELAY ms (retry ATTEMPT of MAX): " then the printf text, to this thread's
 * receiver. */
void _ccopy_retry_note(int64_t delay_ms, int attempt, int max_retries, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
