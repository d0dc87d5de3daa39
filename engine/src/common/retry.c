/*
 * Retry policy: sorting server errors into the few classes a worker acts on (reconnect, slow
 * down, wait for the server's own retry, reopen a cursor, or give up), reading the RetryAfterMs
 * hint Cosmos DB puts in its 16500 messages, and computing exponential back-off with full
 * jitter from a splitmix64 generator whose state the caller owns, so a schedule is reproducible
 * from its seed and workers never share random state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "retry.h"

static _Thread_local _ccopy_retry_note_fn note_fn;
static _Thread_local void *note_data;

_ccopy_retry_note_fn _ccopy_retry_notes_set(_ccopy_retry_note_fn fn, void *data, void **old_data)
{
    _ccopy_retry_note_fn old = note_fn;
    if (old_data)
        *old_data = note_data;
    note_fn = fn;
    note_data = data;
    return old;
}

void _ccopy_retry_note(int64_t delay_ms, int attempt, int max_retries, const char *fmt, ...)
{
    char line[1024];
    int n;
    va_list ap;
    if (!note_fn)
        return;
    n = snprintf(line, sizeof line, "retrying in %lld ms (retry %d of %d): ", (long long)delay_ms,
                 attempt, max_retries);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    note_fn(note_data, line);
}

uint64_t _ccopy_rng_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* min(cap, base * 2^(attempt-1)), doubling step by step so no attempt number can overflow. */
static int64_t ceiling_ms(const _ccopy_backoff_t *policy, int attempt)
{
    int64_t cap = policy->cap_ms > 0 ? policy->cap_ms : 0;
    int64_t ceiling = policy->base_ms > 0 ? policy->base_ms : 0;
    int doublings;

    if (ceiling > cap)
        ceiling = cap;
    for (doublings = attempt > 1 ? attempt - 1 : 0; doublings > 0 && ceiling > 0 && ceiling < cap;
         doublings--)
        ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
    return ceiling;
}

int64_t _ccopy_backoff_delay_ms(const _ccopy_backoff_t *policy, int attempt, int64_t retry_after_ms,
                                uint64_t *rng_state)
{
    uint64_t ceiling = (uint64_t)ceiling_ms(policy, attempt);
    /* Modulo bias is at most ceiling / 2^64: far below anything a back-off could notice. The
     * generator advances exactly once per call, so schedules stay aligned across policies. */
    int64_t jitter = (int64_t)(_ccopy_rng_next(rng_state) % (ceiling + 1));

    if (retry_after_ms <= 0)
        return jitter;
    return retry_after_ms > INT64_MAX - jitter ? INT64_MAX : retry_after_ms + jitter;
}

int64_t _ccopy_parse_retry_after_ms(const char *message)
{
    static const char key[] = "RetryAfterMs=";
    const char *p;
    int64_t value = 0;

    if (!message || !(p = strstr(message, key)))
        return -1;
    p += sizeof key - 1;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (value > (INT64_MAX - (*p - '0')) / 10)
            return -1;
        value = value * 10 + (*p - '0');
    }
    return value;
}

static int contains(const char *message, const char *fragment)
{
    return message && strstr(message, fragment) != NULL;
}

_ccopy_retry_class_t _ccopy_classify_server_error(int64_t code, const char *message)
{
    switch (code) {
    case 16500: /* TooManyRequests */
        return CCOPY_RETRY_THROTTLED;
    case 50:  /* MaxTimeMSExpired: Cosmos gave up its own server-side retries */
    case 262: /* ExceededTimeLimit */
        return CCOPY_RETRY_TIMEOUT;
    case 43: /* CursorNotFound */
        return CCOPY_RETRY_CURSOR;
    case 6:    /* HostUnreachable */
    case 7:    /* HostNotFound */
    case 89:   /* NetworkTimeout */
    case 9001: /* SocketException */
        return CCOPY_RETRY_NETWORK;
    case 91:    /* ShutdownInProgress */
    case 189:   /* PrimarySteppedDown */
    case 10107: /* NotWritablePrimary */
    case 11600: /* InterruptedAtShutdown */
    case 11602: /* InterruptedDueToReplStateChange */
    case 13435: /* NotPrimaryNoSecondaryOk */
    case 13436: /* NotPrimaryOrSecondary */
        return CCOPY_RETRY_TRANSIENT;
    case 1: /* InternalError: Cosmos reports a 503 from its gateway this way */
        if (contains(message, "ServiceUnavailable") || contains(message, "(503)"))
            return CCOPY_RETRY_TRANSIENT;
        break;
    default:
        break;
    }
    /* Older Cosmos builds and some gateways report throttling under other codes. */
    if (contains(message, "TooManyRequests") || contains(message, "Request rate is large") ||
        contains(message, "RetryAfterMs="))
        return CCOPY_RETRY_THROTTLED;
    return CCOPY_RETRY_NEVER;
}

const char *_ccopy_retry_class_name(_ccopy_retry_class_t cls)
{
    switch (cls) {
    case CCOPY_RETRY_NEVER: return "never";
    case CCOPY_RETRY_NETWORK: return "network";
    case CCOPY_RETRY_THROTTLED: return "throttled";
    case CCOPY_RETRY_TIMEOUT: return "timeout";
    case CCOPY_RETRY_CURSOR: return "cursor";
    case CCOPY_RETRY_TRANSIENT: return "transient";
    }
    return "unknown";
}
