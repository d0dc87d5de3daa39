/*
 * Unit tests for retry.c: the splitmix64 generator, RetryAfterMs parsing on real Cosmos DB
 * messages, error classification for every listed code and message rule, and the bounds,
 * growth and reproducibility of the full-jitter back-off.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "common.h"
#include "harness.h"
#include "retry.h"

/* A 16500 as Cosmos DB's MongoDB API returns it today. */
static const char throttled_message[] =
    "Error=16500, RetryAfterMs=125, Details='Response status code does not indicate success: "
    "TooManyRequests (429); Substatus: 3200; ActivityId: 8bbf2c43-0000-0000-0000-000000000000; "
    "Reason: ({\r\n  \"Errors\": [\r\n    \"Request rate is large. More Request Units may be "
    "needed, so no changes were made. Please retry this request later. Learn more: "
    "http://aka.ms/cosmosdb-error-429\"\r\n  ]\r\n});'";

/* The older gateway format: no RetryAfterMs, and the throttling is only in the text. */
static const char old_throttled_message[] =
    "Message: {\"Errors\":[\"Request rate is large\"]}\r\nActivityId: "
    "0e5f0000-0000-0000-0000-000000000000, Request URI: /apps/..., RequestStats: ..., SDK: "
    "Microsoft.Azure.Documents.Common/2.5.1, StatusCode: 429, SubStatusCode: 3200";

static const char server_retry_timeout_message[] =
    "Request timed out. Retries due to rate limiting: True.";

static const _ccopy_backoff_t policy = {10, 100, 10000};

static int64_t expected_ceiling(int64_t base, int64_t cap, int attempt)
{
    int64_t ceiling = base;
    int i;
    for (i = 1; i < attempt && ceiling < cap; i++)
        ceiling *= 2;
    return ceiling < cap ? ceiling : cap;
}

/* ---- splitmix64 ----------------------------------------------------------------------------- */

CCOPY_TEST(rng_reference_values_seed_0)
{
    uint64_t state = 0;
    CHECK(_ccopy_rng_next(&state) == UINT64_C(0xe220a8397b1dcdaf));
    CHECK(_ccopy_rng_next(&state) == UINT64_C(0x6e789e6aa1b965f4));
    CHECK(_ccopy_rng_next(&state) == UINT64_C(0x06c45d188009454f));
}

CCOPY_TEST(rng_reference_values_seed_42)
{
    uint64_t state = 42;
    CHECK(_ccopy_rng_next(&state) == UINT64_C(0xbdd732262feb6e95));
    CHECK(_ccopy_rng_next(&state) == UINT64_C(0x28efe333b266f103));
    CHECK(_ccopy_rng_next(&state) == UINT64_C(0x47526757130f9f52));
}

CCOPY_TEST(rng_advances_state_by_golden_gamma)
{
    uint64_t state = 42;
    _ccopy_rng_next(&state);
    CHECK(state == UINT64_C(0x9e3779b97f4a7c3f));
    state = 0;
    _ccopy_rng_next(&state);
    _ccopy_rng_next(&state);
    _ccopy_rng_next(&state);
    CHECK(state == UINT64_C(0xdaa66d2c7ddf743f));
}

CCOPY_TEST(rng_reproducible_from_seed)
{
    uint64_t a = UINT64_C(0x123456789abcdef0), b = UINT64_C(0x123456789abcdef0);
    int i, same = 1;
    for (i = 0; i < 1000; i++)
        same &= _ccopy_rng_next(&a) == _ccopy_rng_next(&b);
    CHECK(same);
    CHECK(a == b);
}

CCOPY_TEST(rng_seeds_give_different_streams)
{
    uint64_t a = 1, b = 2;
    int i, equal = 0;
    for (i = 0; i < 1000; i++)
        equal += _ccopy_rng_next(&a) == _ccopy_rng_next(&b);
    CHECK_INT(equal, 0);
}

/* ---- RetryAfterMs --------------------------------------------------------------------------- */

CCOPY_TEST(retry_after_from_cosmos_16500_message)
{
    CHECK_INT(_ccopy_parse_retry_after_ms(throttled_message), 125);
}

CCOPY_TEST(retry_after_absent_in_old_style_message)
{
    CHECK_INT(_ccopy_parse_retry_after_ms(old_throttled_message), -1);
}

CCOPY_TEST(retry_after_absent_in_timeout_message)
{
    CHECK_INT(_ccopy_parse_retry_after_ms(server_retry_timeout_message), -1);
}

CCOPY_TEST(retry_after_null_and_empty)
{
    CHECK_INT(_ccopy_parse_retry_after_ms(NULL), -1);
    CHECK_INT(_ccopy_parse_retry_after_ms(""), -1);
}

CCOPY_TEST(retry_after_at_end_of_message)
{
    CHECK_INT(_ccopy_parse_retry_after_ms("throttled; RetryAfterMs=7"), 7);
}

CCOPY_TEST(retry_after_stops_at_first_non_digit)
{
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs=125ms"), 125);
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs=1.5"), 1);
}

CCOPY_TEST(retry_after_zero)
{
    CHECK_INT(_ccopy_parse_retry_after_ms("Error=16500, RetryAfterMs=0, Details=''"), 0);
}

CCOPY_TEST(retry_after_without_digits)
{
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs=, Details=''"), -1);
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs="), -1);
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs= 5"), -1);
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs=abc"), -1);
}

CCOPY_TEST(retry_after_negative_is_malformed)
{
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs=-5"), -1);
}

CCOPY_TEST(retry_after_largest)
{
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs=9223372036854775807"), INT64_MAX);
}

CCOPY_TEST(retry_after_overflow_is_malformed)
{
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs=9223372036854775808"), -1);
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs=99999999999999999999999"), -1);
}

CCOPY_TEST(retry_after_key_is_case_sensitive)
{
    CHECK_INT(_ccopy_parse_retry_after_ms("retryafterms=125"), -1);
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs 125"), -1);
}

CCOPY_TEST(retry_after_first_occurrence_wins)
{
    CHECK_INT(_ccopy_parse_retry_after_ms("RetryAfterMs=10, then RetryAfterMs=20"), 10);
}

/* ---- classification by code ----------------------------------------------------------------- */

CCOPY_TEST(classify_16500_throttled)
{
    CHECK_INT(_ccopy_classify_server_error(16500, throttled_message), CCOPY_RETRY_THROTTLED);
    CHECK_INT(_ccopy_classify_server_error(16500, NULL), CCOPY_RETRY_THROTTLED);
    CHECK_INT(_ccopy_classify_server_error(16500, ""), CCOPY_RETRY_THROTTLED);
}

CCOPY_TEST(classify_50_timeout)
{
    CHECK_INT(_ccopy_classify_server_error(50, server_retry_timeout_message), CCOPY_RETRY_TIMEOUT);
    CHECK_INT(_ccopy_classify_server_error(50, NULL), CCOPY_RETRY_TIMEOUT);
}

CCOPY_TEST(classify_262_timeout)
{
    CHECK_INT(_ccopy_classify_server_error(262, "operation exceeded time limit"), CCOPY_RETRY_TIMEOUT);
}

CCOPY_TEST(classify_43_cursor)
{
    CHECK_INT(_ccopy_classify_server_error(43, "cursor id 12345 not found"), CCOPY_RETRY_CURSOR);
}

CCOPY_TEST(classify_6_host_unreachable_network)
{
    CHECK_INT(_ccopy_classify_server_error(6, NULL), CCOPY_RETRY_NETWORK);
}

CCOPY_TEST(classify_7_host_not_found_network)
{
    CHECK_INT(_ccopy_classify_server_error(7, NULL), CCOPY_RETRY_NETWORK);
}

CCOPY_TEST(classify_89_network_timeout_network)
{
    CHECK_INT(_ccopy_classify_server_error(89, NULL), CCOPY_RETRY_NETWORK);
}

CCOPY_TEST(classify_9001_socket_exception_network)
{
    CHECK_INT(_ccopy_classify_server_error(9001, "socket exception [CLOSED]"), CCOPY_RETRY_NETWORK);
}

CCOPY_TEST(classify_91_shutdown_in_progress_transient)
{
    CHECK_INT(_ccopy_classify_server_error(91, NULL), CCOPY_RETRY_TRANSIENT);
}

CCOPY_TEST(classify_189_primary_stepped_down_transient)
{
    CHECK_INT(_ccopy_classify_server_error(189, NULL), CCOPY_RETRY_TRANSIENT);
}

CCOPY_TEST(classify_10107_not_writable_primary_transient)
{
    CHECK_INT(_ccopy_classify_server_error(10107, NULL), CCOPY_RETRY_TRANSIENT);
}

CCOPY_TEST(classify_11600_interrupted_at_shutdown_transient)
{
    CHECK_INT(_ccopy_classify_server_error(11600, NULL), CCOPY_RETRY_TRANSIENT);
}

CCOPY_TEST(classify_11602_interrupted_repl_state_change_transient)
{
    CHECK_INT(_ccopy_classify_server_error(11602, NULL), CCOPY_RETRY_TRANSIENT);
}

CCOPY_TEST(classify_13435_not_primary_no_secondary_ok_transient)
{
    CHECK_INT(_ccopy_classify_server_error(13435, NULL), CCOPY_RETRY_TRANSIENT);
}

CCOPY_TEST(classify_13436_not_primary_or_secondary_transient)
{
    CHECK_INT(_ccopy_classify_server_error(13436, NULL), CCOPY_RETRY_TRANSIENT);
}

/* ---- classification by message -------------------------------------------------------------- */

CCOPY_TEST(classify_1_service_unavailable_transient)
{
    CHECK_INT(_ccopy_classify_server_error(1, "Response status code does not indicate success: "
                                              "ServiceUnavailable"),
              CCOPY_RETRY_TRANSIENT);
}

CCOPY_TEST(classify_1_status_503_transient)
{
    CHECK_INT(_ccopy_classify_server_error(1, "Service is currently unavailable (503)"),
              CCOPY_RETRY_TRANSIENT);
}

CCOPY_TEST(classify_1_other_message_never)
{
    CHECK_INT(_ccopy_classify_server_error(1, "internal error"), CCOPY_RETRY_NEVER);
    CHECK_INT(_ccopy_classify_server_error(1, "status 503"), CCOPY_RETRY_NEVER);
    CHECK_INT(_ccopy_classify_server_error(1, NULL), CCOPY_RETRY_NEVER);
}

CCOPY_TEST(classify_503_text_needs_code_1)
{
    CHECK_INT(_ccopy_classify_server_error(2, "ServiceUnavailable (503)"), CCOPY_RETRY_NEVER);
}

CCOPY_TEST(classify_1_503_before_throttle_text)
{
    CHECK_INT(_ccopy_classify_server_error(1, "ServiceUnavailable (503); Request rate is large"),
              CCOPY_RETRY_TRANSIENT);
}

CCOPY_TEST(classify_1_throttle_text_throttled)
{
    CHECK_INT(_ccopy_classify_server_error(1, "TooManyRequests (429)"), CCOPY_RETRY_THROTTLED);
}

CCOPY_TEST(classify_old_style_message_throttled)
{
    CHECK_INT(_ccopy_classify_server_error(2, old_throttled_message), CCOPY_RETRY_THROTTLED);
    CHECK_INT(_ccopy_classify_server_error(0, old_throttled_message), CCOPY_RETRY_THROTTLED);
}

CCOPY_TEST(classify_too_many_requests_text_throttled)
{
    CHECK_INT(_ccopy_classify_server_error(0, "TooManyRequests"), CCOPY_RETRY_THROTTLED);
}

CCOPY_TEST(classify_retry_after_text_throttled)
{
    CHECK_INT(_ccopy_classify_server_error(-1, "Error=16500, RetryAfterMs=10"), CCOPY_RETRY_THROTTLED);
}

CCOPY_TEST(classify_cosmos_message_under_other_code_throttled)
{
    CHECK_INT(_ccopy_classify_server_error(2, throttled_message), CCOPY_RETRY_THROTTLED);
}

CCOPY_TEST(classify_code_wins_over_message)
{
    CHECK_INT(_ccopy_classify_server_error(50, old_throttled_message), CCOPY_RETRY_TIMEOUT);
    CHECK_INT(_ccopy_classify_server_error(43, "TooManyRequests"), CCOPY_RETRY_CURSOR);
    CHECK_INT(_ccopy_classify_server_error(6, "RetryAfterMs=5"), CCOPY_RETRY_NETWORK);
    CHECK_INT(_ccopy_classify_server_error(91, "Request rate is large"), CCOPY_RETRY_TRANSIENT);
}

CCOPY_TEST(classify_message_match_is_case_sensitive)
{
    CHECK_INT(_ccopy_classify_server_error(2, "request rate is large"), CCOPY_RETRY_NEVER);
    CHECK_INT(_ccopy_classify_server_error(1, "serviceunavailable"), CCOPY_RETRY_NEVER);
}

CCOPY_TEST(classify_permanent_errors_never)
{
    static const int64_t codes[] = {0, 2, 11, 13, 18, 26, 59, 11000, 16501, 40, 51, 9000, -1};
    size_t i;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (_ccopy_classify_server_error(codes[i], "some failure") != CCOPY_RETRY_NEVER)
            fprintf(stderr, "code %lld is retried\n", (long long)codes[i]);
        CHECK_INT(_ccopy_classify_server_error(codes[i], "some failure"), CCOPY_RETRY_NEVER);
        CHECK_INT(_ccopy_classify_server_error(codes[i], NULL), CCOPY_RETRY_NEVER);
    }
}

CCOPY_TEST(classify_code_outside_int_range)
{
    CHECK_INT(_ccopy_classify_server_error(INT64_C(0x100000000) + 16500, NULL), CCOPY_RETRY_NEVER);
    CHECK_INT(_ccopy_classify_server_error(INT64_MIN, NULL), CCOPY_RETRY_NEVER);
}

CCOPY_TEST(class_names)
{
    CHECK_STR(_ccopy_retry_class_name(CCOPY_RETRY_NEVER), "never");
    CHECK_STR(_ccopy_retry_class_name(CCOPY_RETRY_NETWORK), "network");
    CHECK_STR(_ccopy_retry_class_name(CCOPY_RETRY_THROTTLED), "throttled");
    CHECK_STR(_ccopy_retry_class_name(CCOPY_RETRY_TIMEOUT), "timeout");
    CHECK_STR(_ccopy_retry_class_name(CCOPY_RETRY_CURSOR), "cursor");
    CHECK_STR(_ccopy_retry_class_name(CCOPY_RETRY_TRANSIENT), "transient");
}

CCOPY_TEST(class_name_of_unknown_value)
{
    CHECK_STR(_ccopy_retry_class_name((_ccopy_retry_class_t)99), "unknown");
}

/* ---- back-off ------------------------------------------------------------------------------- */

CCOPY_TEST(backoff_schedule_for_fixed_seed)
{
    static const int64_t expected[10] = {23, 49, 111, 657, 1036, 2319, 1825, 2826, 9540, 9991};
    uint64_t state = 42;
    int attempt;
    for (attempt = 1; attempt <= 10; attempt++)
        CHECK_INT(_ccopy_backoff_delay_ms(&policy, attempt, 0, &state), expected[attempt - 1]);
}

CCOPY_TEST(backoff_schedule_with_retry_after_for_fixed_seed)
{
    uint64_t state = 7;
    CHECK_INT(_ccopy_backoff_delay_ms(&policy, 1, 125, &state), 152);
    CHECK_INT(_ccopy_backoff_delay_ms(&policy, 1, 125, &state), 184);
    CHECK_INT(_ccopy_backoff_delay_ms(&policy, 2, 125, &state), 272);
    CHECK_INT(_ccopy_backoff_delay_ms(&policy, 3, 125, &state), 151);
}

CCOPY_TEST(backoff_same_seed_same_schedule)
{
    uint64_t a = 99, b = 99;
    int attempt, same = 1;
    for (attempt = 1; attempt <= 200; attempt++)
        same &= _ccopy_backoff_delay_ms(&policy, attempt % 12 + 1, 0, &a) ==
                _ccopy_backoff_delay_ms(&policy, attempt % 12 + 1, 0, &b);
    CHECK(same);
}

CCOPY_TEST(backoff_different_seeds_differ)
{
    uint64_t a = 1, b = 2;
    int i, equal = 0;
    for (i = 0; i < 100; i++)
        equal += _ccopy_backoff_delay_ms(&policy, 10, 0, &a) == _ccopy_backoff_delay_ms(&policy, 10, 0, &b);
    CHECK(equal < 5);
}

CCOPY_TEST(backoff_advances_rng_once_per_call)
{
    uint64_t state = 5, reference = 5;
    _ccopy_backoff_delay_ms(&policy, 3, 0, &state);
    _ccopy_rng_next(&reference);
    CHECK(state == reference);
    _ccopy_backoff_delay_ms(&policy, 1000, 125, &state);
    _ccopy_rng_next(&reference);
    CHECK(state == reference);
}

CCOPY_TEST(backoff_within_ceiling_every_attempt)
{
    uint64_t state = 2024;
    int attempt, i;
    for (attempt = 1; attempt <= 20; attempt++) {
        int64_t ceiling = expected_ceiling(policy.base_ms, policy.cap_ms, attempt);
        for (i = 0; i < 2000; i++) {
            int64_t delay = _ccopy_backoff_delay_ms(&policy, attempt, 0, &state);
            if (delay < 0 || delay > ceiling) {
                fprintf(stderr, "attempt %d: delay %lld outside [0, %lld]\n", attempt,
                        (long long)delay, (long long)ceiling);
                CHECK(0);
                return;
            }
        }
    }
}

CCOPY_TEST(backoff_first_retry_ceiling_is_base)
{
    uint64_t state = 3;
    int64_t largest = 0;
    int i;
    for (i = 0; i < 5000; i++) {
        int64_t delay = _ccopy_backoff_delay_ms(&policy, 1, 0, &state);
        largest = delay > largest ? delay : largest;
    }
    CHECK_INT(largest, 100);
}

CCOPY_TEST(backoff_ceiling_doubles_until_cap)
{
    /* With enough samples the largest delay reaches each ceiling: 1, 2, 4, ..., 64, which is
     * the cap from attempt 7 on. */
    _ccopy_backoff_t small = {10, 1, 64};
    uint64_t state = 11;
    int attempt, i;
    for (attempt = 1; attempt <= 9; attempt++) {
        int64_t largest = 0;
        for (i = 0; i < 20000; i++) {
            int64_t delay = _ccopy_backoff_delay_ms(&small, attempt, 0, &state);
            largest = delay > largest ? delay : largest;
        }
        CHECK_INT(largest, expected_ceiling(1, 64, attempt));
    }
}

CCOPY_TEST(backoff_full_jitter_spreads_over_range)
{
    uint64_t state = 8;
    int64_t sum = 0, low = 0, high = 0;
    int i;
    for (i = 0; i < 10000; i++) {
        int64_t delay = _ccopy_backoff_delay_ms(&policy, 4, 0, &state);
        sum += delay;
        low += delay < 80;
        high += delay > 720;
    }
    CHECK(sum / 10000 > 360 && sum / 10000 < 440);
    CHECK(low > 500);
    CHECK(high > 500);
}

CCOPY_TEST(backoff_cap_respected_at_attempt_60)
{
    uint64_t state = 60;
    int i;
    for (i = 0; i < 2000; i++) {
        int64_t delay = _ccopy_backoff_delay_ms(&policy, 60, 0, &state);
        CHECK(delay >= 0 && delay <= policy.cap_ms);
    }
}

CCOPY_TEST(backoff_cap_respected_at_attempt_1000)
{
    uint64_t state = 1000;
    int i;
    for (i = 0; i < 2000; i++) {
        int64_t delay = _ccopy_backoff_delay_ms(&policy, 1000, 0, &state);
        CHECK(delay >= 0 && delay <= policy.cap_ms);
    }
}

CCOPY_TEST(backoff_cap_respected_at_int_max_attempt)
{
    uint64_t state = 1;
    int64_t delay = _ccopy_backoff_delay_ms(&policy, INT_MAX, 0, &state);
    CHECK(delay >= 0 && delay <= policy.cap_ms);
}

CCOPY_TEST(backoff_huge_cap_does_not_overflow)
{
    _ccopy_backoff_t huge = {10, 1000, INT64_MAX};
    uint64_t state = 77;
    int attempt;
    for (attempt = 1; attempt <= 1000; attempt += 7) {
        int64_t delay = _ccopy_backoff_delay_ms(&huge, attempt, 0, &state);
        CHECK(delay >= 0);
        if (attempt <= 10)
            CHECK(delay <= 1000 * (INT64_C(1) << (attempt - 1)));
    }
}

CCOPY_TEST(backoff_huge_base_and_cap)
{
    _ccopy_backoff_t huge = {10, INT64_MAX, INT64_MAX};
    uint64_t state = 78;
    int i;
    for (i = 0; i < 100; i++)
        CHECK(_ccopy_backoff_delay_ms(&huge, 1 + i * 10, 0, &state) >= 0);
}

CCOPY_TEST(backoff_base_above_cap_uses_cap)
{
    _ccopy_backoff_t inverted = {10, 50000, 1000};
    uint64_t state = 4;
    int i;
    for (i = 0; i < 2000; i++) {
        int64_t delay = _ccopy_backoff_delay_ms(&inverted, 1, 0, &state);
        CHECK(delay >= 0 && delay <= 1000);
    }
}

CCOPY_TEST(backoff_zero_base_means_no_wait)
{
    _ccopy_backoff_t none = {10, 0, 1000};
    uint64_t state = 4;
    CHECK_INT(_ccopy_backoff_delay_ms(&none, 1, 0, &state), 0);
    CHECK_INT(_ccopy_backoff_delay_ms(&none, 1000, 0, &state), 0);
    CHECK_INT(_ccopy_backoff_delay_ms(&none, 5, 125, &state), 125);
}

CCOPY_TEST(backoff_negative_policy_never_negative)
{
    _ccopy_backoff_t negative = {10, -100, -5};
    uint64_t state = 4;
    CHECK_INT(_ccopy_backoff_delay_ms(&negative, 1, 0, &state), 0);
    CHECK_INT(_ccopy_backoff_delay_ms(&negative, 70, 0, &state), 0);
}

CCOPY_TEST(backoff_attempt_below_one_acts_as_first)
{
    uint64_t state = 9;
    int i;
    for (i = 0; i < 1000; i++) {
        CHECK(_ccopy_backoff_delay_ms(&policy, 0, 0, &state) <= policy.base_ms);
        CHECK(_ccopy_backoff_delay_ms(&policy, INT_MIN, 0, &state) <= policy.base_ms);
    }
}

CCOPY_TEST(backoff_retry_after_is_minimum)
{
    uint64_t state = 12;
    int attempt, i;
    for (attempt = 1; attempt <= 12; attempt++) {
        int64_t ceiling = expected_ceiling(policy.base_ms, policy.cap_ms, attempt);
        for (i = 0; i < 500; i++) {
            int64_t delay = _ccopy_backoff_delay_ms(&policy, attempt, 125, &state);
            CHECK(delay >= 125 && delay <= 125 + ceiling);
        }
    }
}

CCOPY_TEST(backoff_retry_after_above_cap)
{
    uint64_t state = 13;
    int i;
    for (i = 0; i < 1000; i++) {
        int64_t delay = _ccopy_backoff_delay_ms(&policy, 30, 60000, &state);
        CHECK(delay >= 60000 && delay <= 60000 + policy.cap_ms);
    }
}

CCOPY_TEST(backoff_retry_after_parsed_from_message)
{
    uint64_t state = 14;
    int64_t retry_after = _ccopy_parse_retry_after_ms(throttled_message);
    int64_t delay = _ccopy_backoff_delay_ms(&policy, 1, retry_after, &state);
    CHECK(delay >= 125 && delay <= 225);
}

CCOPY_TEST(backoff_retry_after_absent_is_ignored)
{
    uint64_t a = 15, b = 15;
    int i, same = 1;
    for (i = 1; i <= 50; i++) {
        int64_t plain = _ccopy_backoff_delay_ms(&policy, i, 0, &a);
        same &= _ccopy_backoff_delay_ms(&policy, i, -1, &b) == plain;
    }
    CHECK(same);
}

CCOPY_TEST(backoff_retry_after_saturates)
{
    uint64_t state = 16;
    int i;
    for (i = 0; i < 100; i++)
        CHECK_INT(_ccopy_backoff_delay_ms(&policy, 20, INT64_MAX, &state), INT64_MAX);
    CHECK(_ccopy_backoff_delay_ms(&policy, 20, INT64_MAX - 5, &state) >= INT64_MAX - 5);
}

static void *cancel_after_100_ms(void *arg)
{
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    atomic_store((atomic_int *)arg, 1);
    return NULL;
}

/* "RetryAfterMs=9223372036854775807" makes the longest back-off there is (INT64_MAX ms): the
 * sleep's deadline, now + it, overflowed and the retry went at once (found reading the users of
 * what fuzz_retry parses). It waits until canceled. */
CCOPY_TEST(the_longest_back_off_waits_until_canceled)
{
    atomic_int canceled = 0;
    pthread_t thread;
    int64_t started = _ccopy_monotonic_ms();
    _ccopy_backoff_t backoff = {10, 100, 30000};
    uint64_t rng = 1;
    int64_t delay = _ccopy_backoff_delay_ms(
        &backoff, 1, _ccopy_parse_retry_after_ms("RetryAfterMs=9223372036854775807"), &rng);

    CHECK_INT(delay, INT64_MAX);
    CHECK_INT(pthread_create(&thread, NULL, cancel_after_100_ms, &canceled), 0);
    CHECK_INT(_ccopy_sleep_ms(delay, &canceled), 1);
    CHECK(_ccopy_monotonic_ms() - started >= 90);
    pthread_join(thread, NULL);
}
