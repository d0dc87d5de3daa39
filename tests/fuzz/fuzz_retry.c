/*
 * Server error classification and Cosmos DB's RetryAfterMs: the input is a server code (its
 * first 8 bytes) and an error message (the rest). The delay that follows a parsed RetryAfterMs
 * is never shorter than it and never negative, and the governor's pause lasts at least as long,
 * whatever the number.
 */
#include <inttypes.h>

#include "common.h"
#include "fuzz.h"
#include "governor.h"
#include "retry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t code = 0, after, delay;
    _ccopy_backoff_t policy = {10, 100, 30000};
    uint64_t rng = 42;
    _ccopy_retry_class_t cls;
    char *message;
    int attempt;

    if (size >= 8) {
        memcpy(&code, data, 8);
        data += 8;
        size -= 8;
    }
    attempt = size ? data[0] % 70 - 3 : 1; /* the schedule copes with any attempt number */
    message = fuzz_text(data, size);
    after = _ccopy_parse_retry_after_ms(message);
    FUZZ_CHECK(after >= -1, "%" PRId64, after);
    FUZZ_CHECK(after == -1 || strstr(message, "RetryAfterMs=") != NULL, "%" PRId64, after);
    cls = _ccopy_classify_server_error(code, message);
    FUZZ_CHECK(strcmp(_ccopy_retry_class_name(cls), "unknown") != 0, "class %d", (int)cls);
    if (after >= 0)
        FUZZ_CHECK(cls == CCOPY_RETRY_THROTTLED || code == 50 || code == 262 || code == 43 ||
                       cls == CCOPY_RETRY_NETWORK || cls == CCOPY_RETRY_TRANSIENT,
                   "RetryAfterMs=%" PRId64 " classed %s", after, _ccopy_retry_class_name(cls));
    delay = _ccopy_backoff_delay_ms(&policy, attempt, after, &rng);
    FUZZ_CHECK(delay >= 0 && delay >= after, "attempt %d after %" PRId64 ": %" PRId64, attempt,
               after, delay);
    FUZZ_CHECK(after > 0 || delay <= policy.cap_ms, "%" PRId64, delay);
    /* the governor takes the same number: a pause that starts now and lasts at least that long
     * (or until the end of time) */
    {
        _ccopy_governor_t g;
        int64_t before = _ccopy_monotonic_ms();
        _ccopy_governor_init(&g, size ? (double)(data[0] % 4) * 1000 : 0);
        _ccopy_governor_settle(&g, 0, 500, 1);
        _ccopy_governor_throttled(&g, 10, after);
        FUZZ_CHECK(after <= 0 || g.paused_until_ms >= before + (after < (INT64_C(1) << 53) ? after : 0),
                   "RetryAfterMs=%" PRId64 " paused until %" PRId64, after, g.paused_until_ms);
        _ccopy_governor_destroy(&g);
    }
    FUZZ_CHECK(_ccopy_classify_server_error(code, NULL) == _ccopy_classify_server_error(code, "") ||
                   code == 1,
               "code %" PRId64, code);
    free(message);
    return 0;
}
