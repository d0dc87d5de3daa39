/**
 * @file window.h
 * @brief ObjectId time windows: time parsing, ObjectId bounds, plans and splits.
 *
 * A window is a half-open UTC interval [start, end) in whole seconds. Its ObjectId bounds are
 * oid(t) = t as 4 big-endian bytes followed by 8 zero bytes, so the filter
 * {_id: {$gte: oid(start), $lt: oid(end)}} selects exactly the documents whose ObjectId was
 * created in the window. Valid times are 0 <= t < 2^32 (1970-01-01T00:00:00Z up to, not
 * including, 2106-02-07T06:28:16Z).
 *
 * Everything here is pure computation and thread-safe.
 */
#ifndef COSMOCOPY_WINDOW_H
#define COSMOCOPY_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "cosmocopy/error.h"
#include "cosmocopy/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The first time that has no ObjectId: 2^32 seconds after the epoch (2106-02-07T06:28:16Z). */
#define CCOPY_TIME_LIMIT INT64_C(4294967296)

/** Buffer size that fits any time formatted by ccopy_time_format() ("2106-02-07T06:28:15Z"). */
#define CCOPY_TIME_TEXT_SIZE 32

/** A half-open UTC interval [start, end) in whole seconds since the epoch. */
typedef struct ccopy_window {
    int64_t start; /**< first second inside the window */
    int64_t end;   /**< first second after the window  */
} ccopy_window_t;

/**
 * Parse a point in time.
 *
 * Accepted forms: RFC 3339 in UTC ("2026-01-01T00:00:00Z", also with fractional seconds, which
 * are truncated, or an explicit "+00:00" offset; other offsets are converted to UTC); a date
 * alone ("2026-01-01": its midnight UTC); epoch
 * seconds ("@1767225600"); "now"; relative to now ("-4h", "-30m", "-2d", "+1h", "-90s",
 * "-1w").
 *
 * @param[out] out   seconds since the epoch.
 * @param text       the text to parse.
 * @param now        the current time in seconds, used by "now" and relative forms.
 * @param error      optional; the message names the text and the reason.
 * @return 0, or CCOPY_EINVAL for malformed input or a time outside [0, 2^32).
 */
CCOPY_EXPORT int ccopy_time_parse(int64_t *out, const char *text, int64_t now, ccopy_error_t *error);

/**
 * Parse a duration: a positive whole number followed by a unit, "s", "m", "h", "d" or "w"
 * ("30s", "5m", "4h", "1d"). "0" and "0s" parse as zero (useful for a settle lag).
 *
 * @param[out] out   seconds.
 * @return 0, or CCOPY_EINVAL naming the text and the reason (negative, no unit, overflow...).
 */
CCOPY_EXPORT int ccopy_duration_parse(int64_t *out, const char *text, ccopy_error_t *error);

/**
 * Format a time as RFC 3339 UTC ("2026-01-01T00:00:00Z").
 * @param[out] out  a buffer of at least CCOPY_TIME_TEXT_SIZE bytes.
 * @return 0, or CCOPY_EINVAL for a time outside [0, 2^32].
 */
CCOPY_EXPORT int ccopy_time_format(char *out, int64_t t, ccopy_error_t *error);

/**
 * Format a duration in the largest unit that divides it exactly ("4h", "90m", "45s").
 * @param[out] out  a buffer of at least 24 bytes.
 */
CCOPY_EXPORT void ccopy_duration_format(char *out, int64_t seconds);

/**
 * The ObjectId bound of a time: t as 4 big-endian bytes then 8 zero bytes.
 * @param[out] oid  12 bytes.
 * @return 0, or CCOPY_EINVAL when t is outside [0, 2^32). A window ending exactly at 2^32 has
 *         no upper ObjectId bound; callers use "no upper bound" for it.
 */
CCOPY_EXPORT int ccopy_oid_from_time(uint8_t oid[12], int64_t t, ccopy_error_t *error);

/** The creation time stored in an ObjectId's first 4 bytes, in seconds since the epoch. */
CCOPY_EXPORT int64_t ccopy_oid_get_time(const uint8_t oid[12]);

/**
 * Check a window: 0 <= start < end <= 2^32.
 * @return 0, or CCOPY_EINVAL with a message that says which rule was broken.
 */
CCOPY_EXPORT int ccopy_window_check(const ccopy_window_t *window, ccopy_error_t *error);

/**
 * Align a time down to a multiple of step since the epoch.
 * @return the largest multiple of step that is <= t (step > 0).
 */
CCOPY_EXPORT int64_t ccopy_time_align(int64_t t, int64_t step);

/** The most windows one plan may cut: a step so short for its range that it would cut more is
 * refused (CCOPY_EINVAL), so a plan's memory stays bounded (16 MB of windows). */
#define CCOPY_PLAN_MAX_WINDOWS 1000000

/**
 * Cut the range [start, end) into windows whose boundaries are multiples of step since the
 * epoch; the first and the last window are clipped to the range. A 4h plan therefore always
 * cuts at 00:00, 04:00, 08:00, ... UTC, whatever the range.
 *
 * @param[out] out_windows  on success a new array (free with ccopy_free()) of *out_count windows.
 * @param[out] out_count    number of windows (at least 1).
 * @param start, end        the range; start must be before end, both within [0, 2^32].
 * @param step              window length in seconds, > 0.
 * @return 0 or CCOPY_EINVAL (the message says why; also for more than CCOPY_PLAN_MAX_WINDOWS
 *         windows).
 */
CCOPY_EXPORT int ccopy_plan_cut(ccopy_window_t **out_windows, size_t *out_count, int64_t start,
                                int64_t end, int64_t step, ccopy_error_t *error);

/**
 * Split one window into k sub-windows of equal time (the remainder seconds go to the first
 * sub-windows, one each). When the window is shorter than k seconds, it is split into as many
 * one-second sub-windows as it has seconds.
 *
 * @param[out] out_windows  on success a new array (free with ccopy_free()).
 * @param[out] out_count    number of sub-windows, min(k, end - start).
 * @param window            a valid window.
 * @param k                 number of parts wanted, >= 1.
 * @return 0 or CCOPY_EINVAL (also for more than CCOPY_PLAN_MAX_WINDOWS sub-windows).
 */
CCOPY_EXPORT int ccopy_window_split(ccopy_window_t **out_windows, size_t *out_count,
                                    const ccopy_window_t *window, size_t k, ccopy_error_t *error);

/** Free memory returned by the library (NULL is fine). */
CCOPY_EXPORT void ccopy_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif
