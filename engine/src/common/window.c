/*
 * ObjectId time windows: parsing the times and durations users type (RFC 3339, "@epoch", "now",
 * "-4h"), formatting them back, turning a time into the 12-byte ObjectId bound that a window's
 * _id filter uses, and cutting a range into a plan of step-aligned windows or a window into
 * equal parts. Calendar arithmetic is done here with days-from-civil and civil-from-days rather
 * than timegm()/gmtime(), so results never depend on TZ, the C library or a 32-bit time_t.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cosmocopy/window.h"

#define REASON_SIZE 160
#define UNIT_NAMES "s, m, h, d or w"
#define EPOCH_TEXT "1970-01-01T00:00:00Z"
#define LIMIT_TEXT "2106-02-07T06:28:16Z"

/* Duration units, smallest first. */
static const struct {
    char name;
    int64_t seconds;
} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
#define UNIT_COUNT (sizeof units / sizeof units[0])

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int64_t year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t year, int month, int day)
{
    int64_t era, year_of_era, day_of_year, day_of_era;

    year -= month <= 2;
    era = (year >= 0 ? year : year - 399) / 400;
    year_of_era = year - era * 400;
    day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* The inverse for days >= 0, which is all that formatting a time in [0, 2^32] needs. */
static void civil_from_days(int64_t *year, int *month, int *day, int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t day_of_era = z - era * 146097;
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t shifted_month = (5 * day_of_year + 2) / 153;

    *day = (int)(day_of_year - (153 * shifted_month + 2) / 5 + 1);
    *month = (int)(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
    *year = year_of_era + era * 400 + (*month <= 2);
}

/* Why t cannot be an ObjectId time, or NULL when it can. */
static const char *range_reason(int64_t t)
{
    if (t < 0)
        return "before " EPOCH_TEXT;
    if (t >= CCOPY_TIME_LIMIT)
        return "at or after " LIMIT_TEXT "; the last second an ObjectId can hold is "
               "2106-02-07T06:28:15Z";
    return NULL;
}

/* A time for a message: RFC 3339 when it can be formatted, "@seconds" otherwise. */
static void describe_time(char out[CCOPY_TIME_TEXT_SIZE], int64_t t)
{
    if (ccopy_time_format(out, t, NULL) != 0)
        snprintf(out, CCOPY_TIME_TEXT_SIZE, "@%" PRId64, t);
}

/* Read exactly n digits at *p into *value and advance *p; 0 when they are not all there. */
static int read_digits(int *value, const char **p, int n)
{
    int i, v = 0;

    for (i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *value = v;
    *p += n;
    return 1;
}

static int read_char(const char **p, const char *accepted)
{
    if (**p == '\0' || !strchr(accepted, **p))
        return 0;
    (*p)++;
    return 1;
}

/* Parse "<digits><unit>", or digits that are all zero, into seconds; on failure fill reason. */
static int scan_duration(int64_t *out, const char *text, char reason[REASON_SIZE])
{
    const char *p = text;
    int64_t value = 0;
    size_t i;

    if (!is_digit(*p)) {
        snprintf(reason, REASON_SIZE, "expected a whole number followed by a unit (" UNIT_NAMES ")");
        return -1;
    }
    for (; is_digit(*p); p++) {
        int digit = *p - '0';
        if (value > (INT64_MAX - digit) / 10) {
            snprintf(reason, REASON_SIZE, "too large");
            return -1;
        }
        value = value * 10 + digit;
    }
    if (*p == '\0') {
        if (value != 0) {
            snprintf(reason, REASON_SIZE, "missing unit (" UNIT_NAMES ")");
            return -1;
        }
        *out = 0;
        return 0;
    }
    for (i = 0; i < UNIT_COUNT; i++) {
        if (p[0] == units[i].name && p[1] == '\0') {
            if (value > INT64_MAX / units[i].seconds) {
                snprintf(reason, REASON_SIZE, "too large");
                return -1;
            }
            *out = value * units[i].seconds;
            return 0;
        }
    }
    snprintf(reason, REASON_SIZE, "unknown unit \"%.20s\" (expected " UNIT_NAMES ")", p);
    return -1;
}

/* "@<digits>". Values past the limit saturate there, so any digit string is overflow-free. */
static int scan_epoch(int64_t *out, const char *digits, char reason[REASON_SIZE])
{
    const char *p = digits;
    int64_t value = 0;

    if (!is_digit(*p)) {
        snprintf(reason, REASON_SIZE, "expected epoch seconds (digits only) after \"@\"");
        return -1;
    }
    for (; is_digit(*p); p++) {
        value = value * 10 + (*p - '0');
        if (value > CCOPY_TIME_LIMIT)
            value = CCOPY_TIME_LIMIT;
    }
    if (*p != '\0') {
        snprintf(reason, REASON_SIZE, "expected epoch seconds (digits only) after \"@\"");
        return -1;
    }
    *out = value;
    return 0;
}

/* "now" plus or minus a duration, saturating so the range check reports any overflow. */
static int scan_relative(int64_t *out, const char *text, int64_t now, char reason[REASON_SIZE])
{
    int64_t seconds;

    if (scan_duration(&seconds, text + 1, reason) != 0)
        return -1;
    if (text[0] == '+')
        *out = now > INT64_MAX - seconds ? INT64_MAX : now + seconds;
    else
        *out = now < INT64_MIN + seconds ? INT64_MIN : now - seconds;
    return 0;
}

/* YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|(+|-)HH:MM) */
static int scan_rfc3339(int64_t *out, const char *text, char reason[REASON_SIZE])
{
    const char *p = text;
    int year, month, day, hour, minute, second, offset = 0;

    if (!read_digits(&year, &p, 4) || !read_char(&p, "-") || !read_digits(&month, &p, 2) ||
        !read_char(&p, "-") || !read_digits(&day, &p, 2)) {
        snprintf(reason, REASON_SIZE, "expected a date as YYYY-MM-DD");
        return -1;
    }
    if (month < 1 || month > 12) {
        snprintf(reason, REASON_SIZE, "month %d is out of range", month);
        return -1;
    }
    if (day < 1 || day > days_in_month(year, month)) {
        snprintf(reason, REASON_SIZE, "day %d is out of range for %04d-%02d", day, year, month);
        return -1;
    }
    if (*p == '\0') { /* a date alone, as people type it: its midnight UTC */
        *out = days_from_civil(year, month, day) * 86400;
        return 0;
    }
    if (!read_char(&p, "Tt ")) {
        snprintf(reason, REASON_SIZE, "expected \"T\" and a time after the date");
        return -1;
    }
    if (!read_digits(&hour, &p, 2) || !read_char(&p, ":") || !read_digits(&minute, &p, 2) ||
        !read_char(&p, ":") || !read_digits(&second, &p, 2)) {
        snprintf(reason, REASON_SIZE, "expected a time as HH:MM:SS");
        return -1;
    }
    if (hour > 23) {
        snprintf(reason, REASON_SIZE, "hour %d is out of range", hour);
        return -1;
    }
    if (minute > 59) {
        snprintf(reason, REASON_SIZE, "minute %d is out of range", minute);
        return -1;
    }
    if (second > 59) {
        snprintf(reason, REASON_SIZE, "second %d is out of range (leap seconds are not supported)",
                 second);
        return -1;
    }
    if (read_char(&p, ".")) {
        if (!is_digit(*p)) {
            snprintf(reason, REASON_SIZE, "expected digits after \".\"");
            return -1;
        }
        while (is_digit(*p))
            p++;
    }
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, offset_hour, offset_minute;
        p++;
        if (!read_digits(&offset_hour, &p, 2) || !read_char(&p, ":") ||
            !read_digits(&offset_minute, &p, 2)) {
            snprintf(reason, REASON_SIZE, "expected an offset as +HH:MM or -HH:MM");
            return -1;
        }
        if (offset_hour > 23 || offset_minute > 59) {
            snprintf(reason, REASON_SIZE, "offset %c%02d:%02d is out of range",
                     sign < 0 ? '-' : '+', offset_hour, offset_minute);
            return -1;
        }
        offset = sign * (offset_hour * 3600 + offset_minute * 60);
    } else if (*p == '\0') {
        snprintf(reason, REASON_SIZE, "missing time zone (\"Z\" or an offset such as \"+02:00\")");
        return -1;
    } else if (!read_char(&p, "Zz")) {
        snprintf(reason, REASON_SIZE,
                 "unexpected \"%.20s\" where the time zone (\"Z\" or \"+HH:MM\") belongs", p);
        return -1;
    }
    if (*p != '\0') {
        snprintf(reason, REASON_SIZE, "unexpected \"%.20s\" after the time zone", p);
        return -1;
    }
    /* Local time minus its offset is UTC; dropping the fraction rounds toward the earlier
     * second, which is what an inclusive window start wants. */
    *out = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
    return 0;
}

int ccopy_time_parse(int64_t *out, const char *text, int64_t now, ccopy_error_t *error)
{
    char reason[REASON_SIZE];
    const char *bad;
    int64_t t;
    int rc;

    if (!out)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "nowhere to put the time (NULL)");
    if (!text)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid time: no text given");
    if (text[0] == '\0')
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid time \"\": empty");
    if (strcmp(text, "now") == 0) {
        t = now;
        rc = 0;
    } else if (text[0] == '@') {
        rc = scan_epoch(&t, text + 1, reason);
    } else if (text[0] == '+' || text[0] == '-') {
        rc = scan_relative(&t, text, now, reason);
    } else if (is_digit(text[0])) {
        rc = scan_rfc3339(&t, text, reason);
    } else {
        snprintf(reason, REASON_SIZE,
                 "expected RFC 3339 (\"2026-01-01T00:00:00Z\"), a date (\"2026-01-01\"), "
                 "\"@<epoch seconds>\", \"now\" or a time relative to now (\"-4h\")");
        rc = -1;
    }
    if (rc != 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid time \"%s\": %s", text, reason);
    if ((bad = range_reason(t)) != NULL)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid time \"%s\": %s", text, bad);
    *out = t;
    return 0;
}

int ccopy_duration_parse(int64_t *out, const char *text, ccopy_error_t *error)
{
    char reason[REASON_SIZE];

    if (!out)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "nowhere to put the duration (NULL)");
    if (!text)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid duration: no text given");
    if (text[0] == '\0')
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid duration \"\": empty");
    if (text[0] == '-')
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid duration \"%s\": must not be negative", text);
    if (scan_duration(out, text, reason) != 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid duration \"%s\": %s", text, reason);
    return 0;
}

int ccopy_time_format(char *out, int64_t t, ccopy_error_t *error)
{
    int64_t year;
    int month, day, second_of_day;

    if (!out)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "nowhere to put the text (NULL)");
    if (t < 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "cannot format time %" PRId64 ": before " EPOCH_TEXT, t);
    if (t > CCOPY_TIME_LIMIT)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "cannot format time %" PRId64 ": after " LIMIT_TEXT, t);
    civil_from_days(&year, &month, &day, t / 86400);
    second_of_day = (int)(t % 86400);
    snprintf(out, CCOPY_TIME_TEXT_SIZE, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)year, month, day,
             second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    return 0;
}

void ccopy_duration_format(char *out, int64_t seconds)
{
    size_t i = UNIT_COUNT - 1;

    if (!out)
        return;
    while (i > 0 && (seconds == 0 || seconds % units[i].seconds != 0))
        i--;
    snprintf(out, 24, "%" PRId64 "%c", seconds / units[i].seconds, units[i].name);
}

int ccopy_oid_from_time(uint8_t oid[12], int64_t t, ccopy_error_t *error)
{
    const char *bad = range_reason(t);
    uint32_t seconds;

    if (!oid)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "nowhere to put the ObjectId (NULL)");
    if (bad)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "no ObjectId for time %" PRId64 ": %s", t, bad);
    seconds = (uint32_t)t;
    oid[0] = (uint8_t)(seconds >> 24);
    oid[1] = (uint8_t)(seconds >> 16);
    oid[2] = (uint8_t)(seconds >> 8);
    oid[3] = (uint8_t)seconds;
    memset(oid + 4, 0, 8);
    return 0;
}

int64_t ccopy_oid_get_time(const uint8_t oid[12])
{
    if (!oid)
        return 0;
    return (int64_t)((uint32_t)oid[0] << 24 | (uint32_t)oid[1] << 16 | (uint32_t)oid[2] << 8 |
                     (uint32_t)oid[3]);
}

int ccopy_window_check(const ccopy_window_t *window, ccopy_error_t *error)
{
    char start[CCOPY_TIME_TEXT_SIZE], end[CCOPY_TIME_TEXT_SIZE];
    const char *broken;

    if (!window)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid window: none given");
    if (window->start < 0)
        broken = "start is before " EPOCH_TEXT;
    else if (window->end > CCOPY_TIME_LIMIT)
        broken = "end is after " LIMIT_TEXT ", the end of ObjectId time";
    else if (window->start >= window->end)
        broken = "start is not before end";
    else
        return 0;
    describe_time(start, window->start);
    describe_time(end, window->end);
    return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                            "invalid window [%s, %s): %s", start, end, broken);
}

int64_t ccopy_time_align(int64_t t, int64_t step)
{
    int64_t remainder;

    /* A non-positive step has no multiples to align to; leave t alone rather than divide by
     * zero in a function the header promises is pure and safe. */
    if (step <= 0)
        return t;
    remainder = t % step;
    return remainder < 0 ? t - remainder - step : t - remainder;
}

/* Allocate count windows; NULL (with *error set) when the array cannot even be addressed,
 * which only a 32-bit size_t can run into. */
static ccopy_window_t *alloc_windows(uint64_t count, ccopy_error_t *error)
{
    if (count > SIZE_MAX / sizeof(ccopy_window_t)) {
        _ccopy_error_set(error, CCOPY_ENOMEM, CCOPY_DOMAIN_ENGINE, 0,
                         "%" PRIu64 " windows do not fit in memory", count);
        return NULL;
    }
    return _ccopy_calloc((size_t)count, sizeof(ccopy_window_t));
}

int ccopy_plan_cut(ccopy_window_t **out_windows, size_t *out_count, int64_t start, int64_t end,
                   int64_t step, ccopy_error_t *error)
{
    ccopy_window_t range, *windows;
    int64_t first, last;
    uint64_t count, i;
    int rc;

    if (!out_windows || !out_count)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "nowhere to put the windows (NULL)");
    range.start = start;
    range.end = end;
    if ((rc = ccopy_window_check(&range, error)) != 0)
        return rc;
    if (step <= 0) {
        char text[24];
        ccopy_duration_format(text, step);
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid step %s: must be positive", text);
    }
    /* first and last are the aligned starts of the windows holding start and end - 1; both lie
     * in [0, 2^32), so only the boundary after last could overflow, and that one is clipped to
     * end instead of being computed. */
    first = ccopy_time_align(start, step);
    last = ccopy_time_align(end - 1, step);
    count = (uint64_t)((last - first) / step) + 1;
    if (count > CCOPY_PLAN_MAX_WINDOWS) {
        char text[24];
        ccopy_duration_format(text, step);
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option step: %s cuts the range into %" PRIu64 " windows, more "
                                "than the %d a plan may hold; choose a longer step",
                                text, count, CCOPY_PLAN_MAX_WINDOWS);
    }
    if (!(windows = alloc_windows(count, error)))
        return CCOPY_ENOMEM;
    for (i = 0; i < count; i++) {
        int64_t boundary = first + (int64_t)i * step;
        windows[i].start = i == 0 ? start : boundary;
        windows[i].end = i + 1 == count ? end : boundary + step;
    }
    *out_windows = windows;
    *out_count = (size_t)count;
    return 0;
}

int ccopy_window_split(ccopy_window_t **out_windows, size_t *out_count,
                       const ccopy_window_t *window, size_t k, ccopy_error_t *error)
{
    ccopy_window_t *windows;
    uint64_t length, count, size, remainder, i;
    int64_t at;
    int rc;

    if (!out_windows || !out_count)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "nowhere to put the windows (NULL)");
    if ((rc = ccopy_window_check(window, error)) != 0)
        return rc;
    if (k == 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid split into 0 parts: need at least 1");
    length = (uint64_t)(window->end - window->start);
    count = (uint64_t)k < length ? (uint64_t)k : length;
    if (count > CCOPY_PLAN_MAX_WINDOWS) /* as a plan: tens of gigabytes were asked for */
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "invalid split into %" PRIu64 " parts: at most %d", count,
                                CCOPY_PLAN_MAX_WINDOWS);
    if (!(windows = alloc_windows(count, error)))
        return CCOPY_ENOMEM;
    size = length / count;
    remainder = length % count;
    at = window->start;
    for (i = 0; i < count; i++) {
        windows[i].start = at;
        at += (int64_t)(size + (i < remainder));
        windows[i].end = at;
    }
    *out_windows = windows;
    *out_count = (size_t)count;
    return 0;
}

void ccopy_free(void *ptr)
{
    free(ptr);
}
