/*
 * Times and durations as users write them (--from, --until, --step, --settle-lag): any text
 * parses or fails with a message, a parsed time lies in [0, 2^32), and what the engine formats
 * parses back to the same value.
 */
#include <inttypes.h>

#include "cosmocopy/window.h"
#include "fuzz.h"

/* "now" at both ends of the valid range and far outside it, so relative forms saturate. */
static const int64_t nows[] = {1767225600, 0, CCOPY_TIME_LIMIT - 1, INT64_MAX, INT64_MIN};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    char formatted[CCOPY_TIME_TEXT_SIZE], dur[24];
    ccopy_error_t error;
    int64_t t, back, seconds;
    size_t i;

    for (i = 0; i < sizeof nows / sizeof nows[0]; i++) {
        memset(&error, 0, sizeof error);
        if (ccopy_time_parse(&t, text, nows[i], &error) == 0) {
            FUZZ_CHECK(t >= 0 && t < CCOPY_TIME_LIMIT, "\"%s\" parsed as %" PRId64, text, t);
            FUZZ_CHECK(ccopy_time_format(formatted, t, NULL) == 0, "%" PRId64, t);
            FUZZ_CHECK(ccopy_time_parse(&back, formatted, 0, NULL) == 0 && back == t,
                       "\"%s\" -> %" PRId64 " -> \"%s\"", text, t, formatted);
        } else {
            FUZZ_CHECK(error.code == CCOPY_EINVAL && error.message[0], "\"%s\"", text);
        }
    }

    memset(&error, 0, sizeof error);
    if (ccopy_duration_parse(&seconds, text, &error) == 0) {
        FUZZ_CHECK(seconds >= 0, "\"%s\" parsed as %" PRId64, text, seconds);
        ccopy_duration_format(dur, seconds);
        FUZZ_CHECK(ccopy_duration_parse(&back, dur, NULL) == 0 && back == seconds,
                   "\"%s\" -> %" PRId64 " -> \"%s\"", text, seconds, dur);
    } else {
        FUZZ_CHECK(error.code == CCOPY_EINVAL && error.message[0], "\"%s\"", text);
    }
    free(text);
    return 0;
}
