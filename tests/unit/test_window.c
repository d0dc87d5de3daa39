/*
 * Unit tests for window.c: ObjectId bounds, time and duration parsing and formatting, plan
 * cutting and window splitting, with the exact values and messages a user would see.
 */
#include <stdint.h>
#include <time.h>

#include "cosmocopy/window.h"
#include "harness.h"

#define JAN1_2026 INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define MINUTE INT64_C(60)
#define HOUR INT64_C(3600)
#define DAY INT64_C(86400)
#define WEEK INT64_C(604800)
#define NOW INT64_C(1767225600)

static void check_einval(const ccopy_error_t *error)
{
    CHECK_INT(error->code, CCOPY_EINVAL);
    CHECK_INT(error->domain, CCOPY_DOMAIN_ENGINE);
    CHECK_INT(error->cause, 0);
}

static int64_t parse_ok(const char *text, int64_t now)
{
    ccopy_error_t error;
    int64_t t = -12345;
    int rc = ccopy_time_parse(&t, text, now, &error);
    if (rc != 0)
        fprintf(stderr, "parsing \"%s\" failed: %s\n", text, error.message);
    CHECK_INT(rc, 0);
    return t;
}

/* Parse text expecting EINVAL; returns the message (static storage) and checks out is untouched. */
static const char *parse_fails(const char *text, int64_t now)
{
    static ccopy_error_t error;
    int64_t t = -12345;
    memset(&error, 0, sizeof error);
    CHECK_INT(ccopy_time_parse(&t, text, now, &error), CCOPY_EINVAL);
    CHECK_INT(t, -12345);
    check_einval(&error);
    return error.message;
}

static int64_t duration_ok(const char *text)
{
    ccopy_error_t error;
    int64_t d = -12345;
    int rc = ccopy_duration_parse(&d, text, &error);
    if (rc != 0)
        fprintf(stderr, "parsing \"%s\" failed: %s\n", text, error.message);
    CHECK_INT(rc, 0);
    return d;
}

static const char *duration_fails(const char *text)
{
    static ccopy_error_t error;
    int64_t d = -12345;
    memset(&error, 0, sizeof error);
    CHECK_INT(ccopy_duration_parse(&d, text, &error), CCOPY_EINVAL);
    CHECK_INT(d, -12345);
    check_einval(&error);
    return error.message;
}

static const char *format_ok(int64_t t)
{
    static char text[CCOPY_TIME_TEXT_SIZE];
    memset(text, 0, sizeof text);
    CHECK_INT(ccopy_time_format(text, t, NULL), 0);
    return text;
}

static const char *duration_text(int64_t seconds)
{
    static char text[24];
    ccopy_duration_format(text, seconds);
    return text;
}

static void check_oid(const uint8_t oid[12], const uint8_t expected[12])
{
    int i;
    for (i = 0; i < 12; i++) {
        if (oid[i] != expected[i])
            fprintf(stderr, "oid byte %d is %02x, expected %02x\n", i, oid[i], expected[i]);
        CHECK_INT(oid[i], expected[i]);
    }
}

static void check_window(const ccopy_window_t *window, int64_t start, int64_t end)
{
    CHECK_INT(window->start, start);
    CHECK_INT(window->end, end);
}

/* Cut a plan expecting success; the caller frees the result. */
static ccopy_window_t *cut_ok(size_t *count, int64_t start, int64_t end, int64_t step)
{
    ccopy_window_t *windows = NULL;
    ccopy_error_t error;
    int rc = ccopy_plan_cut(&windows, count, start, end, step, &error);
    if (rc != 0)
        fprintf(stderr, "plan failed: %s\n", error.message);
    CHECK_INT(rc, 0);
    CHECK(windows != NULL);
    return windows;
}

static const char *cut_fails(int64_t start, int64_t end, int64_t step)
{
    static ccopy_error_t error;
    ccopy_window_t *windows = NULL;
    size_t count = 777;
    memset(&error, 0, sizeof error);
    CHECK_INT(ccopy_plan_cut(&windows, &count, start, end, step, &error), CCOPY_EINVAL);
    CHECK(windows == NULL);
    CHECK_INT(count, 777);
    check_einval(&error);
    return error.message;
}

static ccopy_window_t *split_ok(size_t *count, int64_t start, int64_t end, size_t k)
{
    ccopy_window_t window = {start, end}, *windows = NULL;
    ccopy_error_t error;
    int rc = ccopy_window_split(&windows, count, &window, k, &error);
    if (rc != 0)
        fprintf(stderr, "split failed: %s\n", error.message);
    CHECK_INT(rc, 0);
    CHECK(windows != NULL);
    return windows;
}

static const char *check_fails(int64_t start, int64_t end)
{
    static ccopy_error_t error;
    ccopy_window_t window = {start, end};
    memset(&error, 0, sizeof error);
    CHECK_INT(ccopy_window_check(&window, &error), CCOPY_EINVAL);
    check_einval(&error);
    return error.message;
}

/* Windows tile [start, end) without gaps, every inner boundary is a multiple of step and no
 * window is longer than step. */
static void check_plan_shape(const ccopy_window_t *windows, size_t count, int64_t start,
                             int64_t end, int64_t step)
{
    size_t i;
    CHECK(count >= 1);
    CHECK_INT(windows[0].start, start);
    CHECK_INT(windows[count - 1].end, end);
    for (i = 0; i < count; i++) {
        CHECK(windows[i].start < windows[i].end);
        CHECK(windows[i].end - windows[i].start <= step);
        if (i + 1 < count) {
            CHECK_INT(windows[i].end, windows[i + 1].start);
            CHECK_INT(windows[i].end % step, 0);
        }
    }
}

/* ---- ObjectId bounds ------------------------------------------------------------------------ */

CCOPY_TEST(oid_from_time_2026)
{
    static const uint8_t expected[12] = {0x69, 0x55, 0xb9, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
    uint8_t oid[12];
    memset(oid, 0xaa, sizeof oid);
    CHECK_INT(ccopy_oid_from_time(oid, JAN1_2026, NULL), 0);
    check_oid(oid, expected);
}

CCOPY_TEST(oid_from_time_leap_day_noon)
{
    static const uint8_t expected[12] = {0x65, 0xe0, 0x71, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0};
    uint8_t oid[12];
    memset(oid, 0xaa, sizeof oid);
    CHECK_INT(ccopy_oid_from_time(oid, INT64_C(1709208000), NULL), 0);
    check_oid(oid, expected);
}

CCOPY_TEST(oid_from_time_zero)
{
    static const uint8_t expected[12] = {0};
    uint8_t oid[12];
    memset(oid, 0xaa, sizeof oid);
    CHECK_INT(ccopy_oid_from_time(oid, 0, NULL), 0);
    check_oid(oid, expected);
}

CCOPY_TEST(oid_from_time_last_second)
{
    static const uint8_t expected[12] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0};
    uint8_t oid[12];
    memset(oid, 0xaa, sizeof oid);
    CHECK_INT(ccopy_oid_from_time(oid, CCOPY_TIME_LIMIT - 1, NULL), 0);
    check_oid(oid, expected);
}

CCOPY_TEST(oid_from_time_2038_high_bit)
{
    static const uint8_t expected[12] = {0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    uint8_t oid[12];
    CHECK_INT(ccopy_oid_from_time(oid, INT64_C(2147483648), NULL), 0);
    check_oid(oid, expected);
}

CCOPY_TEST(oid_from_time_rejects_limit)
{
    ccopy_error_t error;
    uint8_t oid[12], untouched[12];
    memset(oid, 0xaa, sizeof oid);
    memset(untouched, 0xaa, sizeof untouched);
    CHECK_INT(ccopy_oid_from_time(oid, CCOPY_TIME_LIMIT, &error), CCOPY_EINVAL);
    check_einval(&error);
    CHECK_CONTAINS(error.message, "4294967296");
    CHECK_CONTAINS(error.message, "at or after 2106-02-07T06:28:16Z");
    check_oid(oid, untouched);
}

CCOPY_TEST(oid_from_time_rejects_negative)
{
    ccopy_error_t error;
    uint8_t oid[12];
    CHECK_INT(ccopy_oid_from_time(oid, -1, &error), CCOPY_EINVAL);
    check_einval(&error);
    CHECK_STR(error.message, "no ObjectId for time -1: before 1970-01-01T00:00:00Z");
}

CCOPY_TEST(oid_from_time_rejects_huge)
{
    ccopy_error_t error;
    uint8_t oid[12];
    CHECK_INT(ccopy_oid_from_time(oid, INT64_MAX, &error), CCOPY_EINVAL);
    CHECK_CONTAINS(error.message, "9223372036854775807");
    CHECK_INT(ccopy_oid_from_time(oid, INT64_MIN, NULL), CCOPY_EINVAL);
}

CCOPY_TEST(oid_get_time_known)
{
    static const uint8_t oid[12] = {0x65, 0xe0, 0x71, 0xc0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81};
    CHECK_INT(ccopy_oid_get_time(oid), INT64_C(1709208000));
}

CCOPY_TEST(oid_get_time_high_bit_is_not_negative)
{
    static const uint8_t max[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t half[12] = {0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK_INT(ccopy_oid_get_time(max), CCOPY_TIME_LIMIT - 1);
    CHECK_INT(ccopy_oid_get_time(half), INT64_C(2147483648));
}

CCOPY_TEST(oid_get_time_ignores_tail)
{
    static const uint8_t zero_tail[12] = {0x69, 0x55, 0xb9, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t full_tail[12] = {0x69, 0x55, 0xb9, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK_INT(ccopy_oid_get_time(zero_tail), JAN1_2026);
    CHECK_INT(ccopy_oid_get_time(full_tail), JAN1_2026);
}

CCOPY_TEST(oid_round_trip)
{
    static const int64_t times[] = {0, 1, 255, 256, 65535, 65536, 16777215, 16777216,
                                    INT64_C(1709208000), JAN1_2026, INT64_C(2147483647),
                                    INT64_C(2147483648), CCOPY_TIME_LIMIT - 1};
    size_t i;
    for (i = 0; i < sizeof times / sizeof times[0]; i++) {
        uint8_t oid[12];
        CHECK_INT(ccopy_oid_from_time(oid, times[i], NULL), 0);
        CHECK_INT(ccopy_oid_get_time(oid), times[i]);
    }
}

CCOPY_TEST(oid_bounds_order_like_times)
{
    uint8_t a[12], b[12];
    CHECK_INT(ccopy_oid_from_time(a, INT64_C(2147483647), NULL), 0);
    CHECK_INT(ccopy_oid_from_time(b, INT64_C(2147483648), NULL), 0);
    CHECK(memcmp(a, b, 12) < 0);
    CHECK_INT(ccopy_oid_from_time(a, 255, NULL), 0);
    CHECK_INT(ccopy_oid_from_time(b, 256, NULL), 0);
    CHECK(memcmp(a, b, 12) < 0);
}

/* ---- RFC 3339 ------------------------------------------------------------------------------- */

CCOPY_TEST(parse_rfc3339_utc)
{
    CHECK_INT(parse_ok("2026-01-01T00:00:00Z", 0), JAN1_2026);
    CHECK_INT(parse_ok("2026-01-01T13:10:00Z", 0), JAN1_2026 + 13 * HOUR + 10 * MINUTE);
    CHECK_INT(parse_ok("1999-12-31T23:59:59Z", 0), INT64_C(946684799));
}

CCOPY_TEST(parse_rfc3339_lowercase)
{
    CHECK_INT(parse_ok("2026-01-01t00:00:00z", 0), JAN1_2026);
    CHECK_INT(parse_ok("2026-01-01t01:30:00Z", 0), JAN1_2026 + 90 * MINUTE);
}

CCOPY_TEST(parse_rfc3339_space_separator)
{
    CHECK_INT(parse_ok("2026-01-01 00:00:00Z", 0), JAN1_2026);
}

CCOPY_TEST(parse_rfc3339_fraction_truncated)
{
    CHECK_INT(parse_ok("2026-01-01T00:00:00.0Z", 0), JAN1_2026);
    CHECK_INT(parse_ok("2026-01-01T00:00:00.5Z", 0), JAN1_2026);
    CHECK_INT(parse_ok("2026-01-01T00:00:00.999999999Z", 0), JAN1_2026);
    CHECK_INT(parse_ok("2025-12-31T23:59:59.999Z", 0), JAN1_2026 - 1);
}

CCOPY_TEST(parse_rfc3339_fraction_many_digits)
{
    CHECK_INT(parse_ok("2026-01-01T00:00:07.12345678901234567890123456789Z", 0), JAN1_2026 + 7);
}

CCOPY_TEST(parse_rfc3339_fraction_with_offset)
{
    CHECK_INT(parse_ok("2026-01-01T02:00:00.75+02:00", 0), JAN1_2026);
}

CCOPY_TEST(parse_rfc3339_zero_offsets)
{
    CHECK_INT(parse_ok("2026-01-01T00:00:00+00:00", 0), JAN1_2026);
    CHECK_INT(parse_ok("2026-01-01T00:00:00-00:00", 0), JAN1_2026);
}

CCOPY_TEST(parse_rfc3339_positive_offset)
{
    CHECK_INT(parse_ok("2026-01-01T02:00:00+02:00", 0), JAN1_2026);
    CHECK_INT(parse_ok("2026-01-01T05:30:00+05:30", 0), JAN1_2026);
}

CCOPY_TEST(parse_rfc3339_negative_offset)
{
    CHECK_INT(parse_ok("2025-12-31T18:30:00-05:30", 0), JAN1_2026);
    CHECK_INT(parse_ok("2025-12-31T19:00:00-05:00", 0), JAN1_2026);
}

CCOPY_TEST(parse_rfc3339_offset_crosses_date)
{
    /* 00:15 on New Year's Day in UTC+01:00 is still 2025 in UTC. */
    CHECK_INT(parse_ok("2026-01-01T00:15:00+01:00", 0), JAN1_2026 - 45 * MINUTE);
    CHECK_INT(parse_ok("2025-12-31T23:45:00-00:15", 0), JAN1_2026);
}

CCOPY_TEST(parse_rfc3339_extreme_offsets)
{
    CHECK_INT(parse_ok("2026-01-01T23:59:00+23:59", 0), JAN1_2026);
    CHECK_INT(parse_ok("2025-12-31T00:01:00-23:59", 0), JAN1_2026);
}

CCOPY_TEST(parse_rfc3339_leap_day_2024)
{
    CHECK_INT(parse_ok("2024-02-29T12:00:00Z", 0), INT64_C(1709208000));
    CHECK_INT(parse_ok("2024-03-01T00:00:00Z", 0), INT64_C(1709251200));
}

CCOPY_TEST(parse_rfc3339_leap_day_2000)
{
    /* 2000 is divisible by 400, so it is a leap year although it is a century. */
    CHECK_INT(parse_ok("2000-02-29T00:00:00Z", 0), INT64_C(951782400));
    CHECK_INT(parse_ok("2000-03-01T00:00:00Z", 0), INT64_C(951868800));
}

CCOPY_TEST(parse_rfc3339_rejects_2023_02_29)
{
    CHECK_STR(parse_fails("2023-02-29T00:00:00Z", 0),
              "invalid time \"2023-02-29T00:00:00Z\": day 29 is out of range for 2023-02");
}

CCOPY_TEST(parse_rfc3339_rejects_2100_02_29)
{
    /* 2100 is a century not divisible by 400: not a leap year. */
    CHECK_CONTAINS(parse_fails("2100-02-29T00:00:00Z", 0), "day 29 is out of range for 2100-02");
    CHECK_INT(parse_ok("2100-02-28T00:00:00Z", 0), INT64_C(4107456000));
}

CCOPY_TEST(parse_rfc3339_rejects_day_31_in_30_day_months)
{
    static const char *const texts[] = {"2026-04-31T00:00:00Z", "2026-06-31T00:00:00Z",
                                        "2026-09-31T00:00:00Z", "2026-11-31T00:00:00Z"};
    size_t i;
    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *message = parse_fails(texts[i], 0);
        CHECK_CONTAINS(message, texts[i]);
        CHECK_CONTAINS(message, "day 31 is out of range");
    }
    CHECK_INT(parse_ok("2026-12-31T00:00:00Z", 0), JAN1_2026 + 364 * DAY);
}

CCOPY_TEST(parse_rfc3339_rejects_day_0)
{
    CHECK_CONTAINS(parse_fails("2026-01-00T00:00:00Z", 0), "day 0 is out of range for 2026-01");
}

CCOPY_TEST(parse_rfc3339_rejects_month_13)
{
    CHECK_STR(parse_fails("2026-13-01T00:00:00Z", 0),
              "invalid time \"2026-13-01T00:00:00Z\": month 13 is out of range");
}

CCOPY_TEST(parse_rfc3339_rejects_month_0)
{
    CHECK_CONTAINS(parse_fails("2026-00-10T00:00:00Z", 0), "month 0 is out of range");
}

CCOPY_TEST(parse_rfc3339_rejects_hour_24)
{
    CHECK_STR(parse_fails("2026-01-01T24:00:00Z", 0),
              "invalid time \"2026-01-01T24:00:00Z\": hour 24 is out of range");
}

CCOPY_TEST(parse_rfc3339_rejects_minute_60)
{
    CHECK_STR(parse_fails("2026-01-01T00:60:00Z", 0),
              "invalid time \"2026-01-01T00:60:00Z\": minute 60 is out of range");
}

CCOPY_TEST(parse_rfc3339_rejects_second_60)
{
    const char *message = parse_fails("2016-12-31T23:59:60Z", 0);
    CHECK_CONTAINS(message, "\"2016-12-31T23:59:60Z\"");
    CHECK_CONTAINS(message, "second 60 is out of range");
}

CCOPY_TEST(parse_rfc3339_rejects_missing_seconds)
{
    CHECK_STR(parse_fails("2026-01-01T00:00Z", 0),
              "invalid time \"2026-01-01T00:00Z\": expected a time as HH:MM:SS");
}

CCOPY_TEST(parse_rfc3339_rejects_single_digit_fields)
{
    CHECK_CONTAINS(parse_fails("2026-1-01T00:00:00Z", 0), "expected a date as YYYY-MM-DD");
    CHECK_CONTAINS(parse_fails("2026-01-1T00:00:00Z", 0), "expected a date as YYYY-MM-DD");
    CHECK_CONTAINS(parse_fails("2026-01-01T0:00:00Z", 0), "expected a time as HH:MM:SS");
    CHECK_CONTAINS(parse_fails("26-01-01T00:00:00Z", 0), "expected a date as YYYY-MM-DD");
}

CCOPY_TEST(parse_date_only_is_midnight_utc)
{
    CHECK_INT(parse_ok("2026-01-01", 0), 1767225600);
    CHECK_INT(parse_ok("2024-02-29", 0), 1709164800);
    CHECK_INT(parse_ok("1970-01-01", 0), 0);
}

CCOPY_TEST(parse_date_only_checks_the_date)
{
    CHECK_CONTAINS(parse_fails("2026-02-29", 0), "day 29 is out of range for 2026-02");
    CHECK_CONTAINS(parse_fails("2026-13-01", 0), "month 13 is out of range");
    CHECK_CONTAINS(parse_fails("2026-1-01", 0), "expected a date as YYYY-MM-DD");
}

CCOPY_TEST(parse_rfc3339_rejects_date_and_separator_without_time)
{
    CHECK_STR(parse_fails("2026-01-01T", 0),
              "invalid time \"2026-01-01T\": expected a time as HH:MM:SS");
    CHECK_CONTAINS(parse_fails("2026-01-01 ", 0), "expected a time as HH:MM:SS");
}

CCOPY_TEST(parse_rfc3339_rejects_other_separator)
{
    CHECK_CONTAINS(parse_fails("2026-01-01X00:00:00Z", 0), "expected \"T\"");
    CHECK_CONTAINS(parse_fails("2026-01-01_00:00:00Z", 0), "expected \"T\"");
}

CCOPY_TEST(parse_rfc3339_rejects_missing_zone)
{
    CHECK_STR(parse_fails("2026-01-01T00:00:00", 0),
              "invalid time \"2026-01-01T00:00:00\": missing time zone (\"Z\" or an offset such "
              "as \"+02:00\")");
    CHECK_CONTAINS(parse_fails("2026-01-01T00:00:00.5", 0), "missing time zone");
}

CCOPY_TEST(parse_rfc3339_rejects_named_zone)
{
    const char *message = parse_fails("2026-01-01T00:00:00 UTC", 0);
    CHECK_CONTAINS(message, "\"2026-01-01T00:00:00 UTC\"");
    CHECK_CONTAINS(message, "unexpected \" UTC\" where the time zone");
}

CCOPY_TEST(parse_rfc3339_rejects_trailing_junk)
{
    CHECK_STR(parse_fails("2026-01-01T00:00:00Zjunk", 0),
              "invalid time \"2026-01-01T00:00:00Zjunk\": unexpected \"junk\" after the time zone");
    CHECK_CONTAINS(parse_fails("2026-01-01T00:00:00+02:00x", 0), "unexpected \"x\" after");
    CHECK_CONTAINS(parse_fails("2026-01-01T00:00:00Z ", 0), "unexpected \" \" after");
}

CCOPY_TEST(parse_rfc3339_rejects_empty_fraction)
{
    CHECK_CONTAINS(parse_fails("2026-01-01T00:00:00.Z", 0), "expected digits after \".\"");
}

CCOPY_TEST(parse_rfc3339_rejects_malformed_offsets)
{
    static const char *const texts[] = {"2026-01-01T00:00:00+2:00", "2026-01-01T00:00:00+0200",
                                        "2026-01-01T00:00:00+02", "2026-01-01T00:00:00-",
                                        "2026-01-01T00:00:00+02:0"};
    size_t i;
    for (i = 0; i < sizeof texts / sizeof texts[0]; i++)
        CHECK_CONTAINS(parse_fails(texts[i], 0), "expected an offset as +HH:MM or -HH:MM");
}

CCOPY_TEST(parse_rfc3339_rejects_offset_out_of_range)
{
    CHECK_CONTAINS(parse_fails("2026-01-01T00:00:00+24:00", 0), "offset +24:00 is out of range");
    CHECK_CONTAINS(parse_fails("2026-01-01T00:00:00-02:60", 0), "offset -02:60 is out of range");
}

CCOPY_TEST(parse_rfc3339_epoch)
{
    CHECK_INT(parse_ok("1970-01-01T00:00:00Z", 0), 0);
    CHECK_INT(parse_ok("1970-01-01T00:00:01Z", 0), 1);
}

CCOPY_TEST(parse_rfc3339_rejects_before_1970)
{
    CHECK_STR(parse_fails("1969-12-31T23:59:59Z", 0),
              "invalid time \"1969-12-31T23:59:59Z\": before 1970-01-01T00:00:00Z");
}

CCOPY_TEST(parse_rfc3339_rejects_year_0)
{
    CHECK_CONTAINS(parse_fails("0000-01-01T00:00:00Z", 0), "before 1970-01-01T00:00:00Z");
    CHECK_CONTAINS(parse_fails("0000-02-29T00:00:00Z", 0), "before 1970-01-01T00:00:00Z");
}

CCOPY_TEST(parse_rfc3339_offset_before_1970)
{
    CHECK_CONTAINS(parse_fails("1970-01-01T00:30:00+01:00", 0), "before 1970-01-01T00:00:00Z");
    CHECK_INT(parse_ok("1969-12-31T23:30:00-01:00", 0), 30 * MINUTE);
}

CCOPY_TEST(parse_rfc3339_last_second)
{
    CHECK_INT(parse_ok("2106-02-07T06:28:15Z", 0), CCOPY_TIME_LIMIT - 1);
    CHECK_INT(parse_ok("2106-02-07T06:28:15.999Z", 0), CCOPY_TIME_LIMIT - 1);
}

CCOPY_TEST(parse_rfc3339_rejects_limit)
{
    const char *message = parse_fails("2106-02-07T06:28:16Z", 0);
    CHECK_CONTAINS(message, "invalid time \"2106-02-07T06:28:16Z\": at or after "
                            "2106-02-07T06:28:16Z");
    CHECK_CONTAINS(message, "the last second an ObjectId can hold is 2106-02-07T06:28:15Z");
}

CCOPY_TEST(parse_rfc3339_offset_past_limit)
{
    CHECK_CONTAINS(parse_fails("2106-02-07T06:28:15-00:01", 0), "at or after 2106-02-07T06:28:16Z");
    CHECK_INT(parse_ok("2106-02-07T07:28:15+01:00", 0), CCOPY_TIME_LIMIT - 1);
}

CCOPY_TEST(parse_rfc3339_rejects_year_9999)
{
    CHECK_CONTAINS(parse_fails("9999-12-31T23:59:59Z", 0), "at or after 2106-02-07T06:28:16Z");
}

CCOPY_TEST(parse_rfc3339_ignores_tz_environment)
{
    setenv("TZ", "Asia/Kolkata", 1);
    tzset();
    CHECK_INT(parse_ok("2026-01-01T00:00:00Z", 0), JAN1_2026);
    CHECK_STR(format_ok(JAN1_2026), "2026-01-01T00:00:00Z");
    setenv("TZ", "America/St_Johns", 1);
    tzset();
    CHECK_INT(parse_ok("2026-07-01T00:00:00Z", 0), INT64_C(1782864000));
    CHECK_STR(format_ok(INT64_C(1782864000)), "2026-07-01T00:00:00Z");
}

CCOPY_TEST(parse_rfc3339_agrees_with_gmtime_every_day)
{
    /* Every day from 1970 to 2106, each at a different second of the day. */
    int64_t t;
    for (t = 0; t < CCOPY_TIME_LIMIT; t += DAY + 7) {
        char text[64];
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (parse_ok(text, 0) != t || strcmp(format_ok(t), text) != 0) {
            fprintf(stderr, "mismatch at %lld (%s)\n", (long long)t, text);
            CHECK(0);
            break;
        }
    }
}

CCOPY_TEST(parse_rejects_empty)
{
    CHECK_STR(parse_fails("", NOW), "invalid time \"\": empty");
}

CCOPY_TEST(parse_rejects_null)
{
    CHECK_CONTAINS(parse_fails(NULL, NOW), "no text");
}

CCOPY_TEST(parse_rejects_unknown_form)
{
    static const char *const texts[] = {"yesterday", " 2026-01-01T00:00:00Z", "Now", "T00:00:00Z"};
    size_t i;
    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *message = parse_fails(texts[i], NOW);
        CHECK_CONTAINS(message, texts[i]);
        CHECK_CONTAINS(message, "expected RFC 3339");
    }
}

/* ---- "@epoch" ------------------------------------------------------------------------------- */

CCOPY_TEST(parse_epoch)
{
    CHECK_INT(parse_ok("@1767225600", 0), JAN1_2026);
    CHECK_INT(parse_ok("@0", 0), 0);
    CHECK_INT(parse_ok("@0001767225600", 0), JAN1_2026);
}

CCOPY_TEST(parse_epoch_last_second)
{
    CHECK_INT(parse_ok("@4294967295", 0), CCOPY_TIME_LIMIT - 1);
}

CCOPY_TEST(parse_epoch_rejects_limit)
{
    CHECK_CONTAINS(parse_fails("@4294967296", 0),
                   "invalid time \"@4294967296\": at or after 2106-02-07T06:28:16Z");
}

CCOPY_TEST(parse_epoch_rejects_overflowing_digits)
{
    CHECK_CONTAINS(parse_fails("@99999999999999999999999999999", 0), "at or after 2106-02-07");
}

CCOPY_TEST(parse_epoch_rejects_negative)
{
    CHECK_STR(parse_fails("@-1", 0),
              "invalid time \"@-1\": expected epoch seconds (digits only) after \"@\"");
}

CCOPY_TEST(parse_epoch_rejects_non_digits)
{
    static const char *const texts[] = {"@abc", "@", "@12x", "@ 12", "@+12", "@1.5"};
    size_t i;
    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *message = parse_fails(texts[i], 0);
        CHECK_CONTAINS(message, texts[i]);
        CHECK_CONTAINS(message, "digits only");
    }
}

/* ---- "now" and relative times --------------------------------------------------------------- */

CCOPY_TEST(parse_now)
{
    CHECK_INT(parse_ok("now", NOW), NOW);
    CHECK_INT(parse_ok("now", 0), 0);
    CHECK_INT(parse_ok("now", CCOPY_TIME_LIMIT - 1), CCOPY_TIME_LIMIT - 1);
}

CCOPY_TEST(parse_now_out_of_range)
{
    CHECK_STR(parse_fails("now", -5), "invalid time \"now\": before 1970-01-01T00:00:00Z");
    CHECK_CONTAINS(parse_fails("now", CCOPY_TIME_LIMIT), "at or after 2106-02-07T06:28:16Z");
}

CCOPY_TEST(parse_now_rejects_suffix)
{
    CHECK_CONTAINS(parse_fails("nowadays", NOW), "expected RFC 3339");
}

CCOPY_TEST(parse_relative_hours)
{
    CHECK_INT(parse_ok("-4h", NOW), NOW - 4 * HOUR);
    CHECK_INT(parse_ok("+1h", NOW), NOW + HOUR);
}

CCOPY_TEST(parse_relative_minutes)
{
    CHECK_INT(parse_ok("-30m", NOW), NOW - 30 * MINUTE);
    CHECK_INT(parse_ok("+30m", NOW), NOW + 30 * MINUTE);
}

CCOPY_TEST(parse_relative_seconds)
{
    CHECK_INT(parse_ok("-90s", NOW), NOW - 90);
}

CCOPY_TEST(parse_relative_days)
{
    CHECK_INT(parse_ok("-2d", NOW), NOW - 2 * DAY);
}

CCOPY_TEST(parse_relative_weeks)
{
    CHECK_INT(parse_ok("-1w", NOW), NOW - WEEK);
}

CCOPY_TEST(parse_relative_zero)
{
    CHECK_INT(parse_ok("-0", NOW), NOW);
    CHECK_INT(parse_ok("+0s", NOW), NOW);
}

CCOPY_TEST(parse_relative_to_epoch)
{
    CHECK_INT(parse_ok("-1h", HOUR), 0);
}

CCOPY_TEST(parse_relative_rejects_before_1970)
{
    CHECK_STR(parse_fails("-4h", 1000), "invalid time \"-4h\": before 1970-01-01T00:00:00Z");
    CHECK_CONTAINS(parse_fails("-1s", 0), "before 1970");
}

CCOPY_TEST(parse_relative_rejects_past_limit)
{
    CHECK_CONTAINS(parse_fails("+1m", CCOPY_TIME_LIMIT - 10),
                   "invalid time \"+1m\": at or after 2106-02-07T06:28:16Z");
    CHECK_INT(parse_ok("+9s", CCOPY_TIME_LIMIT - 10), CCOPY_TIME_LIMIT - 1);
}

CCOPY_TEST(parse_relative_rejects_missing_unit)
{
    CHECK_STR(parse_fails("-4", NOW), "invalid time \"-4\": missing unit (s, m, h, d or w)");
}

CCOPY_TEST(parse_relative_rejects_unknown_unit)
{
    CHECK_CONTAINS(parse_fails("-4x", NOW), "unknown unit \"x\"");
    CHECK_CONTAINS(parse_fails("-4H", NOW), "unknown unit \"H\"");
}

CCOPY_TEST(parse_relative_rejects_bare_sign)
{
    CHECK_CONTAINS(parse_fails("-", NOW), "expected a whole number followed by a unit");
    CHECK_CONTAINS(parse_fails("+", NOW), "expected a whole number followed by a unit");
    CHECK_CONTAINS(parse_fails("--4h", NOW), "expected a whole number followed by a unit");
    CHECK_CONTAINS(parse_fails("-h", NOW), "expected a whole number followed by a unit");
}

CCOPY_TEST(parse_relative_rejects_overflow)
{
    CHECK_CONTAINS(parse_fails("-99999999999999999999d", NOW), "too large");
    CHECK_CONTAINS(parse_fails("+9223372036854775807w", NOW), "too large");
}

CCOPY_TEST(parse_relative_saturates_instead_of_overflowing)
{
    CHECK_CONTAINS(parse_fails("+9223372036854775807s", NOW), "at or after 2106-02-07T06:28:16Z");
    CHECK_CONTAINS(parse_fails("-9223372036854775807s", NOW), "before 1970");
    CHECK_CONTAINS(parse_fails("-9223372036854775807s", -10), "before 1970");
    CHECK_CONTAINS(parse_fails("+1s", INT64_MAX), "at or after 2106-02-07T06:28:16Z");
}

CCOPY_TEST(parse_error_may_be_null)
{
    int64_t t = -12345;
    CHECK_INT(ccopy_time_parse(&t, "2026-13-01T00:00:00Z", 0, NULL), CCOPY_EINVAL);
    CHECK_INT(ccopy_time_parse(&t, NULL, 0, NULL), CCOPY_EINVAL);
    CHECK_INT(t, -12345);
    CHECK_INT(ccopy_time_parse(&t, "@5", 0, NULL), 0);
    CHECK_INT(t, 5);
}

/* ---- durations ------------------------------------------------------------------------------ */

CCOPY_TEST(duration_seconds)
{
    CHECK_INT(duration_ok("30s"), 30);
    CHECK_INT(duration_ok("90s"), 90);
}

CCOPY_TEST(duration_minutes)
{
    CHECK_INT(duration_ok("5m"), 5 * MINUTE);
}

CCOPY_TEST(duration_hours)
{
    CHECK_INT(duration_ok("4h"), 4 * HOUR);
}

CCOPY_TEST(duration_days)
{
    CHECK_INT(duration_ok("1d"), DAY);
}

CCOPY_TEST(duration_weeks)
{
    CHECK_INT(duration_ok("1w"), WEEK);
    CHECK_INT(duration_ok("52w"), 52 * WEEK);
}

CCOPY_TEST(duration_zero)
{
    CHECK_INT(duration_ok("0"), 0);
    CHECK_INT(duration_ok("0s"), 0);
    CHECK_INT(duration_ok("0h"), 0);
    CHECK_INT(duration_ok("00"), 0);
}

CCOPY_TEST(duration_leading_zeros)
{
    CHECK_INT(duration_ok("007m"), 7 * MINUTE);
}

CCOPY_TEST(duration_largest)
{
    CHECK_INT(duration_ok("9223372036854775807s"), INT64_MAX);
    CHECK_INT(duration_ok("15250284452471w"), INT64_C(15250284452471) * WEEK);
}

CCOPY_TEST(duration_rejects_negative)
{
    CHECK_STR(duration_fails("-4h"), "invalid duration \"-4h\": must not be negative");
    CHECK_CONTAINS(duration_fails("-0"), "must not be negative");
}

CCOPY_TEST(duration_rejects_missing_unit)
{
    CHECK_STR(duration_fails("4"), "invalid duration \"4\": missing unit (s, m, h, d or w)");
}

CCOPY_TEST(duration_rejects_unknown_unit)
{
    CHECK_STR(duration_fails("4x"),
              "invalid duration \"4x\": unknown unit \"x\" (expected s, m, h, d or w)");
    CHECK_CONTAINS(duration_fails("4H"), "unknown unit \"H\"");
    CHECK_CONTAINS(duration_fails("4ms"), "unknown unit \"ms\"");
}

CCOPY_TEST(duration_rejects_trailing_junk)
{
    CHECK_CONTAINS(duration_fails("4hh"), "unknown unit \"hh\"");
    CHECK_CONTAINS(duration_fails("4h "), "unknown unit \"h \"");
    CHECK_CONTAINS(duration_fails("4 h"), "unknown unit \" h\"");
    CHECK_CONTAINS(duration_fails("1h30m"), "unknown unit \"h30m\"");
}

CCOPY_TEST(duration_rejects_empty)
{
    CHECK_STR(duration_fails(""), "invalid duration \"\": empty");
}

CCOPY_TEST(duration_rejects_null)
{
    CHECK_CONTAINS(duration_fails(NULL), "no text");
}

CCOPY_TEST(duration_rejects_unit_only)
{
    CHECK_STR(duration_fails("h"),
              "invalid duration \"h\": expected a whole number followed by a unit (s, m, h, d or w)");
}

CCOPY_TEST(duration_rejects_leading_plus_or_space)
{
    CHECK_CONTAINS(duration_fails("+4h"), "expected a whole number");
    CHECK_CONTAINS(duration_fails(" 4h"), "expected a whole number");
}

CCOPY_TEST(duration_rejects_overflowing_digits)
{
    CHECK_STR(duration_fails("99999999999999999999d"),
              "invalid duration \"99999999999999999999d\": too large");
    CHECK_CONTAINS(duration_fails("9223372036854775808s"), "too large");
}

CCOPY_TEST(duration_rejects_overflowing_unit)
{
    CHECK_CONTAINS(duration_fails("9223372036854775807m"), "too large");
    CHECK_CONTAINS(duration_fails("15250284452472w"), "too large");
}

CCOPY_TEST(duration_error_may_be_null)
{
    int64_t d = -12345;
    CHECK_INT(ccopy_duration_parse(&d, "4", NULL), CCOPY_EINVAL);
    CHECK_INT(d, -12345);
}

CCOPY_TEST(duration_format_largest_unit)
{
    CHECK_STR(duration_text(4 * HOUR), "4h");
    CHECK_STR(duration_text(90 * MINUTE), "90m");
    CHECK_STR(duration_text(45), "45s");
    CHECK_STR(duration_text(DAY), "1d");
    CHECK_STR(duration_text(25 * HOUR), "25h");
    CHECK_STR(duration_text(8 * DAY), "8d");
    CHECK_STR(duration_text(WEEK), "1w");
    CHECK_STR(duration_text(2 * WEEK), "2w");
    CHECK_STR(duration_text(61), "61s");
}

CCOPY_TEST(duration_format_zero)
{
    CHECK_STR(duration_text(0), "0s");
}

CCOPY_TEST(duration_format_negative)
{
    CHECK_STR(duration_text(-4 * HOUR), "-4h");
    CHECK_STR(duration_text(-1), "-1s");
}

CCOPY_TEST(duration_format_extremes_fit)
{
    CHECK_STR(duration_text(INT64_MAX), "9223372036854775807s");
    CHECK_STR(duration_text(INT64_MIN), "-9223372036854775808s");
}

CCOPY_TEST(duration_format_round_trip)
{
    static const int64_t values[] = {0, 1, 59, 60, 61, 3599, 3600, 5400, 86399, 86400, 90000,
                                     604799, 604800, 1209600, INT64_MAX};
    size_t i;
    for (i = 0; i < sizeof values / sizeof values[0]; i++)
        CHECK_INT(duration_ok(duration_text(values[i])), values[i]);
}

/* ---- formatting times ----------------------------------------------------------------------- */

CCOPY_TEST(format_epoch)
{
    CHECK_STR(format_ok(0), "1970-01-01T00:00:00Z");
}

CCOPY_TEST(format_known_values)
{
    CHECK_STR(format_ok(JAN1_2026), "2026-01-01T00:00:00Z");
    CHECK_STR(format_ok(JAN1_2026 + 13 * HOUR + 10 * MINUTE + 5), "2026-01-01T13:10:05Z");
    CHECK_STR(format_ok(INT64_C(1709208000)), "2024-02-29T12:00:00Z");
    CHECK_STR(format_ok(INT64_C(951782400)), "2000-02-29T00:00:00Z");
    CHECK_STR(format_ok(INT64_C(951868800)), "2000-03-01T00:00:00Z");
    CHECK_STR(format_ok(INT64_C(946684799)), "1999-12-31T23:59:59Z");
    CHECK_STR(format_ok(INT64_C(2147483648)), "2038-01-19T03:14:08Z");
}

CCOPY_TEST(format_last_second)
{
    CHECK_STR(format_ok(CCOPY_TIME_LIMIT - 1), "2106-02-07T06:28:15Z");
}

CCOPY_TEST(format_limit)
{
    CHECK_STR(format_ok(CCOPY_TIME_LIMIT), "2106-02-07T06:28:16Z");
}

CCOPY_TEST(format_rejects_negative)
{
    ccopy_error_t error;
    char text[CCOPY_TIME_TEXT_SIZE] = "untouched";
    CHECK_INT(ccopy_time_format(text, -1, &error), CCOPY_EINVAL);
    check_einval(&error);
    CHECK_STR(error.message, "cannot format time -1: before 1970-01-01T00:00:00Z");
    CHECK_STR(text, "untouched");
}

CCOPY_TEST(format_rejects_past_limit)
{
    ccopy_error_t error;
    char text[CCOPY_TIME_TEXT_SIZE];
    CHECK_INT(ccopy_time_format(text, CCOPY_TIME_LIMIT + 1, &error), CCOPY_EINVAL);
    check_einval(&error);
    CHECK_STR(error.message, "cannot format time 4294967297: after 2106-02-07T06:28:16Z");
    CHECK_INT(ccopy_time_format(text, INT64_MAX, NULL), CCOPY_EINVAL);
    CHECK_INT(ccopy_time_format(text, INT64_MIN, NULL), CCOPY_EINVAL);
}

CCOPY_TEST(format_parse_round_trip)
{
    int64_t t;
    for (t = 0; t < CCOPY_TIME_LIMIT; t += INT64_C(9999991)) {
        char text[CCOPY_TIME_TEXT_SIZE];
        CHECK_INT(ccopy_time_format(text, t, NULL), 0);
        CHECK_INT(parse_ok(text, 0), t);
    }
}

/* ---- aligning ------------------------------------------------------------------------------- */

CCOPY_TEST(align_down_to_step)
{
    CHECK_INT(ccopy_time_align(JAN1_2026 + 90 * MINUTE, 4 * HOUR), JAN1_2026);
    CHECK_INT(ccopy_time_align(JAN1_2026 + 13 * HOUR + 10 * MINUTE, 4 * HOUR), JAN1_2026 + 12 * HOUR);
    CHECK_INT(ccopy_time_align(JAN1_2026 + 4 * HOUR - 1, 4 * HOUR), JAN1_2026);
}

CCOPY_TEST(align_already_aligned)
{
    CHECK_INT(ccopy_time_align(JAN1_2026, 4 * HOUR), JAN1_2026);
    CHECK_INT(ccopy_time_align(JAN1_2026, DAY), JAN1_2026);
}

CCOPY_TEST(align_week_counts_from_epoch)
{
    /* The epoch was a Thursday, and so was 2026-01-01. */
    CHECK_INT(ccopy_time_align(JAN1_2026 + 3 * DAY, WEEK), JAN1_2026);
    CHECK_INT(ccopy_time_align(JAN1_2026 - 1, WEEK), JAN1_2026 - WEEK);
}

CCOPY_TEST(align_step_one)
{
    CHECK_INT(ccopy_time_align(JAN1_2026 + 17, 1), JAN1_2026 + 17);
}

CCOPY_TEST(align_zero)
{
    CHECK_INT(ccopy_time_align(0, HOUR), 0);
    CHECK_INT(ccopy_time_align(HOUR - 1, HOUR), 0);
}

CCOPY_TEST(align_limit)
{
    CHECK_INT(ccopy_time_align(CCOPY_TIME_LIMIT, 4 * HOUR), INT64_C(4294958400));
    CHECK_INT(ccopy_time_align(CCOPY_TIME_LIMIT, CCOPY_TIME_LIMIT), CCOPY_TIME_LIMIT);
}

CCOPY_TEST(align_step_larger_than_time)
{
    CHECK_INT(ccopy_time_align(JAN1_2026, INT64_MAX), 0);
}

CCOPY_TEST(align_negative_time_floors)
{
    CHECK_INT(ccopy_time_align(-1, HOUR), -HOUR);
    CHECK_INT(ccopy_time_align(-HOUR, HOUR), -HOUR);
}

CCOPY_TEST(align_non_positive_step_leaves_time)
{
    CHECK_INT(ccopy_time_align(JAN1_2026 + 5, 0), JAN1_2026 + 5);
    CHECK_INT(ccopy_time_align(JAN1_2026 + 5, -HOUR), JAN1_2026 + 5);
}

/* ---- plans ---------------------------------------------------------------------------------- */

CCOPY_TEST(plan_4h_clips_first_and_last)
{
    size_t count = 0;
    ccopy_window_t *w = cut_ok(&count, JAN1_2026 + 90 * MINUTE, JAN1_2026 + 13 * HOUR + 10 * MINUTE,
                               4 * HOUR);
    CHECK_INT(count, 4);
    if (count == 4) {
        check_window(&w[0], JAN1_2026 + 90 * MINUTE, JAN1_2026 + 4 * HOUR);
        check_window(&w[1], JAN1_2026 + 4 * HOUR, JAN1_2026 + 8 * HOUR);
        check_window(&w[2], JAN1_2026 + 8 * HOUR, JAN1_2026 + 12 * HOUR);
        check_window(&w[3], JAN1_2026 + 12 * HOUR, JAN1_2026 + 13 * HOUR + 10 * MINUTE);
    }
    ccopy_free(w);
}

CCOPY_TEST(plan_aligned_range_is_exact)
{
    size_t count = 0, i;
    ccopy_window_t *w = cut_ok(&count, JAN1_2026, JAN1_2026 + 12 * HOUR, 4 * HOUR);
    CHECK_INT(count, 3);
    for (i = 0; i < count && i < 3; i++)
        check_window(&w[i], JAN1_2026 + (int64_t)i * 4 * HOUR, JAN1_2026 + (int64_t)(i + 1) * 4 * HOUR);
    ccopy_free(w);
}

CCOPY_TEST(plan_exactly_one_step)
{
    size_t count = 0;
    ccopy_window_t *w = cut_ok(&count, JAN1_2026 + 4 * HOUR, JAN1_2026 + 8 * HOUR, 4 * HOUR);
    CHECK_INT(count, 1);
    check_window(&w[0], JAN1_2026 + 4 * HOUR, JAN1_2026 + 8 * HOUR);
    ccopy_free(w);
}

CCOPY_TEST(plan_inside_one_step)
{
    size_t count = 0;
    ccopy_window_t *w = cut_ok(&count, JAN1_2026 + 90 * MINUTE, JAN1_2026 + 2 * HOUR, 4 * HOUR);
    CHECK_INT(count, 1);
    check_window(&w[0], JAN1_2026 + 90 * MINUTE, JAN1_2026 + 2 * HOUR);
    ccopy_free(w);
}

CCOPY_TEST(plan_one_second_range)
{
    size_t count = 0;
    ccopy_window_t *w = cut_ok(&count, JAN1_2026 + 5, JAN1_2026 + 6, DAY);
    CHECK_INT(count, 1);
    check_window(&w[0], JAN1_2026 + 5, JAN1_2026 + 6);
    ccopy_free(w);
}

CCOPY_TEST(plan_ends_on_boundary_after_clipped_start)
{
    size_t count = 0;
    ccopy_window_t *w = cut_ok(&count, JAN1_2026 + HOUR, JAN1_2026 + 8 * HOUR, 4 * HOUR);
    CHECK_INT(count, 2);
    if (count == 2) {
        check_window(&w[0], JAN1_2026 + HOUR, JAN1_2026 + 4 * HOUR);
        check_window(&w[1], JAN1_2026 + 4 * HOUR, JAN1_2026 + 8 * HOUR);
    }
    ccopy_free(w);
}

CCOPY_TEST(plan_refuses_more_windows_than_it_may_hold)
{
    ccopy_window_t *w = NULL;
    size_t count = 0;
    ccopy_error_t error;

    /* exactly the limit is fine; one more window is refused, naming the step; the whole ObjectId
     * range in seconds (4.3e9 windows, 69 GB) used to be allocated and abort the process */
    CHECK_INT(ccopy_plan_cut(&w, &count, 0, CCOPY_PLAN_MAX_WINDOWS, 1, &error), 0);
    CHECK_INT(count, CCOPY_PLAN_MAX_WINDOWS);
    ccopy_free(w);
    w = NULL;
    CHECK_INT(ccopy_plan_cut(&w, &count, 0, CCOPY_PLAN_MAX_WINDOWS + 1, 1, &error), CCOPY_EINVAL);
    CHECK(w == NULL);
    CHECK(strstr(error.message, "option step: 1s cuts the range into 1000001 windows") != NULL);
    CHECK_INT(ccopy_plan_cut(&w, &count, 0, (int64_t)1 << 32, 1, &error), CCOPY_EINVAL);
    CHECK(strstr(error.message, "choose a longer step") != NULL);
}

CCOPY_TEST(plan_cuts_do_not_depend_on_range_start)
{
    size_t a_count = 0, b_count = 0;
    ccopy_window_t *a = cut_ok(&a_count, JAN1_2026 + 5 * HOUR, JAN1_2026 + 3 * DAY, DAY);
    ccopy_window_t *b = cut_ok(&b_count, JAN1_2026 + 17 * HOUR + 3, JAN1_2026 + 3 * DAY, DAY);
    CHECK_INT(a_count, 3);
    CHECK_INT(b_count, 3);
    if (a_count == 3 && b_count == 3) {
        CHECK_INT(a[0].end, JAN1_2026 + DAY);
        CHECK_INT(b[0].end, JAN1_2026 + DAY);
        check_window(&a[1], b[1].start, b[1].end);
        check_window(&a[2], b[2].start, b[2].end);
    }
    ccopy_free(a);
    ccopy_free(b);
}

CCOPY_TEST(plan_ending_at_limit)
{
    size_t count = 0;
    ccopy_window_t *w = cut_ok(&count, CCOPY_TIME_LIMIT - 10000, CCOPY_TIME_LIMIT, 4 * HOUR);
    CHECK_INT(count, 2);
    if (count == 2) {
        check_window(&w[0], CCOPY_TIME_LIMIT - 10000, INT64_C(4294958400));
        check_window(&w[1], INT64_C(4294958400), CCOPY_TIME_LIMIT);
    }
    ccopy_free(w);
}

CCOPY_TEST(plan_whole_range_in_one_step)
{
    size_t count = 0;
    ccopy_window_t *w = cut_ok(&count, 0, CCOPY_TIME_LIMIT, CCOPY_TIME_LIMIT);
    CHECK_INT(count, 1);
    check_window(&w[0], 0, CCOPY_TIME_LIMIT);
    ccopy_free(w);
}

CCOPY_TEST(plan_huge_step_does_not_overflow)
{
    size_t count = 0;
    ccopy_window_t *w = cut_ok(&count, 5, CCOPY_TIME_LIMIT, INT64_MAX);
    CHECK_INT(count, 1);
    check_window(&w[0], 5, CCOPY_TIME_LIMIT);
    ccopy_free(w);
    w = cut_ok(&count, CCOPY_TIME_LIMIT - 1, CCOPY_TIME_LIMIT, INT64_MAX - 1);
    CHECK_INT(count, 1);
    check_window(&w[0], CCOPY_TIME_LIMIT - 1, CCOPY_TIME_LIMIT);
    ccopy_free(w);
}

CCOPY_TEST(plan_step_just_under_limit)
{
    size_t count = 0;
    ccopy_window_t *w = cut_ok(&count, 0, CCOPY_TIME_LIMIT, CCOPY_TIME_LIMIT - 1);
    CHECK_INT(count, 2);
    if (count == 2) {
        check_window(&w[0], 0, CCOPY_TIME_LIMIT - 1);
        check_window(&w[1], CCOPY_TIME_LIMIT - 1, CCOPY_TIME_LIMIT);
    }
    ccopy_free(w);
}

CCOPY_TEST(plan_one_second_steps)
{
    size_t count = 0, i;
    ccopy_window_t *w = cut_ok(&count, JAN1_2026, JAN1_2026 + DAY, 1);
    CHECK_INT(count, 86400);
    for (i = 0; i < count; i++) {
        if (w[i].start != JAN1_2026 + (int64_t)i || w[i].end != w[i].start + 1) {
            check_window(&w[i], JAN1_2026 + (int64_t)i, JAN1_2026 + (int64_t)i + 1);
            break;
        }
    }
    ccopy_free(w);
}

CCOPY_TEST(plan_shape_over_many_ranges)
{
    static const int64_t steps[] = {1, 7, MINUTE, HOUR, 4 * HOUR, DAY, WEEK, INT64_C(1000003)};
    uint64_t rng = 12345;
    size_t s;
    for (s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        int round;
        for (round = 0; round < 50; round++) {
            int64_t start, end, length;
            size_t count = 0;
            ccopy_window_t *w;
            rng = rng * 6364136223846793005u + 1442695040888963407u;
            start = (int64_t)((rng >> 20) % (uint64_t)(CCOPY_TIME_LIMIT - 1));
            length = 1 + (int64_t)((rng >> 7) % (uint64_t)(steps[s] * 40));
            end = start + length > CCOPY_TIME_LIMIT ? CCOPY_TIME_LIMIT : start + length;
            w = cut_ok(&count, start, end, steps[s]);
            check_plan_shape(w, count, start, end, steps[s]);
            CHECK_INT(count, (ccopy_time_align(end - 1, steps[s]) - ccopy_time_align(start, steps[s])) /
                                     steps[s] + 1);
            ccopy_free(w);
        }
    }
}

CCOPY_TEST(plan_rejects_start_equal_end)
{
    CHECK_STR(cut_fails(JAN1_2026, JAN1_2026, HOUR),
              "invalid window [2026-01-01T00:00:00Z, 2026-01-01T00:00:00Z): start is not before end");
}

CCOPY_TEST(plan_rejects_start_after_end)
{
    CHECK_STR(cut_fails(JAN1_2026 + 4 * HOUR, JAN1_2026, HOUR),
              "invalid window [2026-01-01T04:00:00Z, 2026-01-01T00:00:00Z): start is not before end");
}

CCOPY_TEST(plan_rejects_zero_step)
{
    CHECK_STR(cut_fails(JAN1_2026, JAN1_2026 + DAY, 0), "invalid step 0s: must be positive");
}

CCOPY_TEST(plan_rejects_negative_step)
{
    CHECK_STR(cut_fails(JAN1_2026, JAN1_2026 + DAY, -4 * HOUR), "invalid step -4h: must be positive");
    CHECK_CONTAINS(cut_fails(JAN1_2026, JAN1_2026 + DAY, INT64_MIN), "must be positive");
}

CCOPY_TEST(plan_rejects_negative_start)
{
    CHECK_STR(cut_fails(-1, JAN1_2026, HOUR),
              "invalid window [@-1, 2026-01-01T00:00:00Z): start is before 1970-01-01T00:00:00Z");
}

CCOPY_TEST(plan_rejects_end_past_limit)
{
    const char *message = cut_fails(JAN1_2026, CCOPY_TIME_LIMIT + 1, HOUR);
    CHECK_CONTAINS(message, "invalid window [2026-01-01T00:00:00Z, @4294967297)");
    CHECK_CONTAINS(message, "end is after 2106-02-07T06:28:16Z");
}

CCOPY_TEST(plan_error_may_be_null)
{
    ccopy_window_t *w = NULL;
    size_t count = 0;
    CHECK_INT(ccopy_plan_cut(&w, &count, JAN1_2026, JAN1_2026, HOUR, NULL), CCOPY_EINVAL);
    CHECK_INT(ccopy_plan_cut(&w, &count, JAN1_2026, JAN1_2026 + HOUR, 0, NULL), CCOPY_EINVAL);
    CHECK(w == NULL);
}

/* ---- splitting ------------------------------------------------------------------------------ */

CCOPY_TEST(split_equal_parts)
{
    size_t count = 0, i;
    ccopy_window_t *w = split_ok(&count, JAN1_2026, JAN1_2026 + 4 * HOUR, 4);
    CHECK_INT(count, 4);
    for (i = 0; i < count && i < 4; i++)
        check_window(&w[i], JAN1_2026 + (int64_t)i * HOUR, JAN1_2026 + (int64_t)(i + 1) * HOUR);
    ccopy_free(w);
}

CCOPY_TEST(split_remainder_goes_to_first_parts)
{
    size_t count = 0;
    ccopy_window_t *w = split_ok(&count, 100, 110, 3);
    CHECK_INT(count, 3);
    if (count == 3) {
        check_window(&w[0], 100, 104);
        check_window(&w[1], 104, 107);
        check_window(&w[2], 107, 110);
    }
    ccopy_free(w);
}

CCOPY_TEST(split_remainder_one_second_each)
{
    size_t count = 0;
    ccopy_window_t *w = split_ok(&count, JAN1_2026, JAN1_2026 + 4 * HOUR + 3, 4);
    CHECK_INT(count, 4);
    if (count == 4) {
        CHECK_INT(w[0].end - w[0].start, HOUR + 1);
        CHECK_INT(w[1].end - w[1].start, HOUR + 1);
        CHECK_INT(w[2].end - w[2].start, HOUR + 1);
        CHECK_INT(w[3].end - w[3].start, HOUR);
        CHECK_INT(w[3].end, JAN1_2026 + 4 * HOUR + 3);
    }
    ccopy_free(w);
}

CCOPY_TEST(split_k_larger_than_seconds)
{
    size_t count = 0, i;
    ccopy_window_t *w = split_ok(&count, JAN1_2026, JAN1_2026 + 3, 10);
    CHECK_INT(count, 3);
    for (i = 0; i < count && i < 3; i++)
        check_window(&w[i], JAN1_2026 + (int64_t)i, JAN1_2026 + (int64_t)i + 1);
    ccopy_free(w);
}

CCOPY_TEST(split_k_equals_seconds)
{
    size_t count = 0, i;
    ccopy_window_t *w = split_ok(&count, 0, 5, 5);
    CHECK_INT(count, 5);
    for (i = 0; i < count && i < 5; i++)
        check_window(&w[i], (int64_t)i, (int64_t)i + 1);
    ccopy_free(w);
}

CCOPY_TEST(split_huge_k)
{
    size_t count = 0;
    ccopy_window_t *w = split_ok(&count, JAN1_2026, JAN1_2026 + DAY, SIZE_MAX);
    CHECK_INT(count, 86400);
    check_window(&w[0], JAN1_2026, JAN1_2026 + 1);
    check_window(&w[count - 1], JAN1_2026 + DAY - 1, JAN1_2026 + DAY);
    ccopy_free(w);
}

CCOPY_TEST(split_one_part)
{
    size_t count = 0;
    ccopy_window_t *w = split_ok(&count, JAN1_2026 + 7, JAN1_2026 + DAY, 1);
    CHECK_INT(count, 1);
    check_window(&w[0], JAN1_2026 + 7, JAN1_2026 + DAY);
    ccopy_free(w);
}

CCOPY_TEST(split_one_second_window)
{
    size_t count = 0;
    ccopy_window_t *w = split_ok(&count, JAN1_2026, JAN1_2026 + 1, 8);
    CHECK_INT(count, 1);
    check_window(&w[0], JAN1_2026, JAN1_2026 + 1);
    ccopy_free(w);
}

CCOPY_TEST(split_window_ending_at_limit)
{
    size_t count = 0;
    ccopy_window_t *w = split_ok(&count, 0, CCOPY_TIME_LIMIT, 3);
    CHECK_INT(count, 3);
    if (count == 3) {
        check_window(&w[0], 0, INT64_C(1431655766));
        check_window(&w[1], INT64_C(1431655766), INT64_C(2863311531));
        check_window(&w[2], INT64_C(2863311531), CCOPY_TIME_LIMIT);
    }
    ccopy_free(w);
}

CCOPY_TEST(split_parts_tile_the_window)
{
    static const size_t ks[] = {1, 2, 3, 7, 16, 100, 1000};
    size_t i;
    for (i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        size_t count = 0, j;
        int64_t shortest = INT64_MAX, longest = 0;
        ccopy_window_t *w = split_ok(&count, JAN1_2026 + 13, JAN1_2026 + 4 * HOUR + 13 + 997, ks[i]);
        CHECK_INT(count, ks[i]);
        CHECK_INT(w[0].start, JAN1_2026 + 13);
        CHECK_INT(w[count - 1].end, JAN1_2026 + 4 * HOUR + 13 + 997);
        for (j = 0; j < count; j++) {
            int64_t length = w[j].end - w[j].start;
            if (j + 1 < count)
                CHECK_INT(w[j].end, w[j + 1].start);
            if (j > 0)
                CHECK(length <= w[j - 1].end - w[j - 1].start);
            shortest = length < shortest ? length : shortest;
            longest = length > longest ? length : longest;
        }
        CHECK(longest - shortest <= 1);
        ccopy_free(w);
    }
}

CCOPY_TEST(split_rejects_zero_parts)
{
    ccopy_window_t window = {JAN1_2026, JAN1_2026 + HOUR}, *w = NULL;
    ccopy_error_t error;
    size_t count = 777;
    CHECK_INT(ccopy_window_split(&w, &count, &window, 0, &error), CCOPY_EINVAL);
    check_einval(&error);
    CHECK_STR(error.message, "invalid split into 0 parts: need at least 1");
    CHECK(w == NULL);
    CHECK_INT(count, 777);
}

/* More parts than a plan may hold is refused, as ccopy_plan_cut refuses them: SIZE_MAX parts of
 * a long window asked for tens of gigabytes, and the library ends the process when an
 * allocation fails. */
CCOPY_TEST(split_rejects_more_parts_than_a_plan_holds)
{
    ccopy_window_t window = {0, CCOPY_TIME_LIMIT}, *w = NULL;
    ccopy_error_t error;
    size_t count = 777;
    CHECK_INT(ccopy_window_split(&w, &count, &window, SIZE_MAX, &error), CCOPY_EINVAL);
    check_einval(&error);
    CHECK_STR(error.message, "invalid split into 4294967296 parts: at most 1000000");
    CHECK(w == NULL);
    CHECK_INT(count, 777);
    CHECK_INT(ccopy_window_split(&w, &count, &window, CCOPY_PLAN_MAX_WINDOWS, &error), 0);
    CHECK_INT(count, CCOPY_PLAN_MAX_WINDOWS);
    ccopy_free(w);
}

CCOPY_TEST(split_rejects_invalid_window)
{
    ccopy_window_t window = {JAN1_2026 + HOUR, JAN1_2026}, *w = NULL;
    ccopy_error_t error;
    size_t count = 777;
    CHECK_INT(ccopy_window_split(&w, &count, &window, 2, &error), CCOPY_EINVAL);
    check_einval(&error);
    CHECK_CONTAINS(error.message, "start is not before end");
    CHECK(w == NULL);
    window.start = -5;
    CHECK_INT(ccopy_window_split(&w, &count, &window, 2, &error), CCOPY_EINVAL);
    CHECK_CONTAINS(error.message, "start is before 1970");
    CHECK_INT(ccopy_window_split(&w, &count, NULL, 2, &error), CCOPY_EINVAL);
    CHECK(w == NULL);
}

/* ---- checking windows ----------------------------------------------------------------------- */

CCOPY_TEST(check_accepts_valid)
{
    ccopy_window_t window = {JAN1_2026, JAN1_2026 + HOUR};
    CHECK_INT(ccopy_window_check(&window, NULL), 0);
}

CCOPY_TEST(check_accepts_first_second)
{
    ccopy_window_t window = {0, 1};
    CHECK_INT(ccopy_window_check(&window, NULL), 0);
}

CCOPY_TEST(check_accepts_end_at_limit)
{
    ccopy_window_t window = {CCOPY_TIME_LIMIT - 1, CCOPY_TIME_LIMIT};
    CHECK_INT(ccopy_window_check(&window, NULL), 0);
    window.start = 0;
    CHECK_INT(ccopy_window_check(&window, NULL), 0);
}

CCOPY_TEST(check_rejects_empty)
{
    CHECK_STR(check_fails(JAN1_2026, JAN1_2026),
              "invalid window [2026-01-01T00:00:00Z, 2026-01-01T00:00:00Z): start is not before end");
}

CCOPY_TEST(check_rejects_reversed)
{
    CHECK_STR(check_fails(JAN1_2026 + 1, JAN1_2026),
              "invalid window [2026-01-01T00:00:01Z, 2026-01-01T00:00:00Z): start is not before end");
}

CCOPY_TEST(check_rejects_negative_start)
{
    CHECK_STR(check_fails(-1, 10),
              "invalid window [@-1, 1970-01-01T00:00:10Z): start is before 1970-01-01T00:00:00Z");
}

CCOPY_TEST(check_rejects_end_past_limit)
{
    CHECK_STR(check_fails(0, CCOPY_TIME_LIMIT + 1),
              "invalid window [1970-01-01T00:00:00Z, @4294967297): end is after "
              "2106-02-07T06:28:16Z, the end of ObjectId time");
}

CCOPY_TEST(check_rejects_start_at_limit)
{
    CHECK_CONTAINS(check_fails(CCOPY_TIME_LIMIT, CCOPY_TIME_LIMIT), "start is not before end");
}

CCOPY_TEST(check_rejects_extremes)
{
    CHECK_CONTAINS(check_fails(INT64_MIN, INT64_MAX), "[@-9223372036854775808, @9223372036854775807)");
}

CCOPY_TEST(check_rejects_null)
{
    ccopy_error_t error;
    CHECK_INT(ccopy_window_check(NULL, &error), CCOPY_EINVAL);
    check_einval(&error);
    CHECK_CONTAINS(error.message, "none given");
}

CCOPY_TEST(free_accepts_null)
{
    ccopy_free(NULL);
    CHECK(1);
}
