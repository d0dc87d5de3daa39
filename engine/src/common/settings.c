/*
 * Loads the typed settings (settings.h) from a set of options: one copy of the options, then
 * each option's text read once into its field, the loop written out by the same table
 * (options.def) that declares the fields, so a new option needs no code here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cosmocopy/window.h"
#include "settings.h"

static int load_text(const char **out, const ccopy_options_t *values, const char *name)
{
    *out = ccopy_options_get(values, name);
    return 0;
}

static int load_list(const char *const **out, size_t *out_count, const ccopy_options_t *values,
                     const char *name)
{
    size_t count = ccopy_options_get_count(values, name), i;
    const char **list;
    *out = NULL;
    *out_count = 0;
    if (count == 0)
        return 0;
    list = _ccopy_calloc(count, sizeof *list);
    for (i = 0; i < count; i++)
        list[i] = ccopy_options_get_nth(values, name, i);
    *out = list;
    *out_count = count;
    return 0;
}

static int load_choice(const char **out, int *out_choice, const ccopy_options_t *values,
                       const char *name, ccopy_error_t *error)
{
    const char *text = ccopy_options_get(values, name);
    const char *p = ccopy_option_find(name)->choices;
    size_t len = text ? strlen(text) : 0;
    int i;
    *out = text;
    for (i = 0; text && p; i++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && strncmp(p, text, n) == 0) {
            *out_choice = i;
            return 0;
        }
        p = bar ? bar + 1 : NULL;
    }
    return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                            "option %s: \"%s\" is not one of %s", name, text ? text : "(none)",
                            ccopy_option_find(name)->choices);
}

/* Unset without a default reads as 0, as ccopy_options_get_int() has always said. */
static int load_number(int64_t *out, const ccopy_options_t *values, const char *name,
                       ccopy_error_t *error)
{
    const char *text = ccopy_options_get(values, name);
    char *end;
    long long v;
    *out = 0;
    if (!text)
        return 0;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || end == text || *end)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option %s: \"%s\" is not a whole number", name, text);
    *out = v;
    return 0;
}

static int load_duration(int64_t *out, const ccopy_options_t *values, const char *name,
                         ccopy_error_t *error)
{
    const char *text = ccopy_options_get(values, name);
    ccopy_error_t inner;
    *out = 0;
    if (text && ccopy_duration_parse(out, text, &inner) != 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "option %s: %s", name,
                                inner.message);
    return 0;
}

#define LOAD_STRING(name) load_text(&s->name, s->values, #name)
#define LOAD_TIME(name) load_text(&s->name, s->values, #name)
#define LOAD_ENUM(name) load_choice(&s->name, &s->name##_choice, s->values, #name, error)
#define LOAD_INT(name) load_number(&s->name, s->values, #name, error)
#define LOAD_DURATION(name) load_duration(&s->name, s->values, #name, error)
#define LOAD_STRINGS(name) load_list(&s->name, &s->name##_count, s->values, #name)

int _ccopy_settings_load(_ccopy_settings_t *s, const ccopy_options_t *options,
                         ccopy_error_t *error)
{
    int rc = 0;
    memset(s, 0, sizeof *s);
    s->values = options ? ccopy_options_copy(options) : ccopy_options_new();
#define CCOPY_OPTION(name, type, ...) \
    if (rc == 0)                      \
        rc = LOAD_##type(name);
#include "options.def"
#undef CCOPY_OPTION
    if (rc != 0)
        _ccopy_settings_cleanup(s);
    return rc;
}

void _ccopy_settings_cleanup(_ccopy_settings_t *s)
{
    /* Only the lists of STRINGS options are allocated apart from the copy of the options. */
#define FREE_STRING(name)
#define FREE_TIME(name)
#define FREE_ENUM(name)
#define FREE_INT(name)
#define FREE_DURATION(name)
#define FREE_STRINGS(name) free((void *)s->name);
#define CCOPY_OPTION(name, type, ...) FREE_##type(name)
#include "options.def"
#undef CCOPY_OPTION
    ccopy_options_destroy(s->values);
    memset(s, 0, sizeof *s);
}
