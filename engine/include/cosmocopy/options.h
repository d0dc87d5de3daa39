/**
 * @file options.h
 * @brief Job options: one table (name, type, default, bounds, doc) behind every front end.
 *
 * The C setters, the CLI flags (the option name with '_' written as '-'), the Python keyword
 * arguments and the README's table all come from the same table, which callers can walk with
 * ccopy_option_count() and ccopy_option_get_info(). Values are set as text and checked at once;
 * an unknown name or a value out of range is an error that names the option.
 *
 * Thread safety: a ccopy_options_t is not thread-safe; jobs copy the options they are given.
 */
#ifndef COSMOCOPY_OPTIONS_H
#define COSMOCOPY_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "cosmocopy/error.h"
#include "cosmocopy/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How an option's text is read. */
typedef enum ccopy_option_type {
    CCOPY_OPTION_STRING = 0,  /**< any text                                           */
    CCOPY_OPTION_STRINGS = 1, /**< repeatable text: each set appends                    */
    CCOPY_OPTION_INT = 2,     /**< a whole number within [min, max]                     */
    CCOPY_OPTION_DURATION = 3,/**< "30s", "5m", "4h", "1d", seconds within [min, max]   */
    CCOPY_OPTION_TIME = 4,    /**< RFC 3339 UTC, "@epoch", "now" or "-4h"               */
    CCOPY_OPTION_ENUM = 5     /**< one of the '|'-separated choices                     */
} ccopy_option_type_t;

/** One row of the option table. All strings are static. */
typedef struct ccopy_option_info {
    const char *name;          /**< e.g. "batch_size"                                 */
    ccopy_option_type_t type;
    const char *default_value; /**< text of the default, or NULL when there is none   */
    int64_t min, max;          /**< bounds for INT and DURATION (seconds)             */
    const char *choices;       /**< "a|b|c" for ENUM, else NULL                        */
    int secret;                /**< the value may hold a secret: never print it       */
    const char *doc;           /**< one line for a person                              */
    const char *commands;      /**< the commands it applies to: "backup replicate restore verify" */
    /**
     * How the command line spells it, or NULL for --NAME ('_' written as '-'). Entries are
     * separated by "; ", each `[~][COMMANDS:]--FLAG[ VALUE]`: COMMANDS (space-separated) limits
     * the entry to those commands, else it holds for every command of the option; VALUE is the
     * word after the flag in help ("NAME"), else one follows from the type; a leading '~' marks
     * an alias, accepted besides the command's own spelling. Example:
     * "backup:--to DESTINATION; restore list:--from BACKUP; verify:--backup BACKUP".
     */
    const char *flags;
} ccopy_option_info_t;

/** A set of option values. */
typedef struct ccopy_options ccopy_options_t;

/** Number of rows in the option table. */
CCOPY_EXPORT size_t ccopy_option_count(void);

/** Row i of the table, or NULL when i is out of range. Borrowed, static. */
CCOPY_EXPORT const ccopy_option_info_t *ccopy_option_get_info(size_t i);

/** The row for a name ('-' and '_' are interchangeable), or NULL. Borrowed, static. */
CCOPY_EXPORT const ccopy_option_info_t *ccopy_option_find(const char *name);

/** A new, empty set (every option at its default). NULL only when memory runs out. */
CCOPY_EXPORT ccopy_options_t *ccopy_options_new(void);

/** A deep copy; NULL for NULL. */
CCOPY_EXPORT ccopy_options_t *ccopy_options_copy(const ccopy_options_t *options);

/** Free a set; NULL is fine. */
CCOPY_EXPORT void ccopy_options_destroy(ccopy_options_t *options);

/**
 * Set an option from text. The text is copied. For STRINGS options each call appends.
 * @return 0, or CCOPY_EINVAL with a message such as
 *         `option batch_size: 0 is below the minimum 1` or `unknown option "batchsize"`.
 */
CCOPY_EXPORT int ccopy_options_set(ccopy_options_t *options, const char *name, const char *value,
                                   ccopy_error_t *error);

/** Forget the values of an option (back to its default). */
CCOPY_EXPORT int ccopy_options_unset(ccopy_options_t *options, const char *name, ccopy_error_t *error);

/**
 * The text of an option: the value set, else its default, else NULL. For STRINGS, the first
 * value. Borrowed until the option is next set or the set is destroyed. The getters take NULL
 * options as a set with nothing set (the defaults); the setters refuse it (CCOPY_EINVAL).
 */
CCOPY_EXPORT const char *ccopy_options_get(const ccopy_options_t *options, const char *name);

/** How many values a STRINGS option holds (0 or 1 for the other types). */
CCOPY_EXPORT size_t ccopy_options_get_count(const ccopy_options_t *options, const char *name);

/** Value i of a STRINGS option, or NULL. Borrowed like ccopy_options_get(). */
CCOPY_EXPORT const char *ccopy_options_get_nth(const ccopy_options_t *options, const char *name,
                                               size_t i);

/** An INT option's value, or a DURATION option's value in seconds (0 when unset with no default). */
CCOPY_EXPORT int64_t ccopy_options_get_int(const ccopy_options_t *options, const char *name);

#ifdef __cplusplus
}
#endif

#endif
