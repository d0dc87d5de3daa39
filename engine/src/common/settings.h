/*
 * Typed settings: every job option as a struct field named like the option, generated from the
 * option table (options.def), so a module reads settings->batch_size instead of looking the
 * option up by name and parsing its text each time.
 *
 * Field types by option type:
 *   STRING, TIME  const char *NAME              NULL when unset without a default; a TIME stays
 *                                               text, the planner reads it against its own clock
 *   ENUM          const char *NAME, int NAME_choice
 *                                               the text and its index in the choices; for the
 *                                               "no|yes" options the choice is 0 or 1, a flag
 *   INT           int64_t NAME
 *   DURATION      int64_t NAME                  seconds
 *   STRINGS       const char *const *NAME, size_t NAME_count
 *                                               NULL and 0 when unset without a default
 *
 * Every string belongs to the settings (a deep copy of the options, or the table's static
 * defaults): it stays valid until _ccopy_settings_cleanup(), whatever happens to the options.
 * Not thread-safe to load or clean up; once loaded, read-only use from any thread is fine.
 */
#ifndef CCOPY_SETTINGS_H
#define CCOPY_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "cosmocopy/error.h"
#include "cosmocopy/options.h"

#define CCOPY_SETTINGS_FIELD_STRING(name) const char *name;
#define CCOPY_SETTINGS_FIELD_TIME(name) const char *name;
#define CCOPY_SETTINGS_FIELD_ENUM(name) \
    const char *name;                   \
    int name##_choice;
#define CCOPY_SETTINGS_FIELD_INT(name) int64_t name;
#define CCOPY_SETTINGS_FIELD_DURATION(name) int64_t name;
#define CCOPY_SETTINGS_FIELD_STRINGS(name) \
    const char *const *name;               \
    size_t name##_count;

typedef struct _ccopy_settings {
/* Only the first two columns matter here, so columns added to the table later change nothing. */
#define CCOPY_OPTION(name, type, ...) CCOPY_SETTINGS_FIELD_##type(name)
#include "options.def"
#undef CCOPY_OPTION
    ccopy_options_t *values; /* the deep copy the strings point into */
} _ccopy_settings_t;

/* Fill *settings from options (NULL: every option at its default). The options are only read.
 * EINVAL naming the option when a value does not parse, which options set through
 * ccopy_options_set() never do; on error *settings holds nothing to clean up. */
int _ccopy_settings_load(_ccopy_settings_t *settings, const ccopy_options_t *options,
                         ccopy_error_t *error);

/* Free what the settings own and zero them; a zeroed or cleaned-up struct is fine. */
void _ccopy_settings_cleanup(_ccopy_settings_t *settings);

#endif
