/*
 * The job option table (options.def) and the option sets built on it. Every value is checked
 * when it is set, so a job only ever sees values that fit their type and bounds.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cosmocopy/options.h"
#include "cosmocopy/window.h"

#define CCOPY_OPTION(name, type, def, min, max, choices, secret, commands, doc, flags) \
    {#name, CCOPY_OPTION_##type, def, min, max, choices, secret, doc, commands, flags},
static const ccopy_option_info_t option_table[] = {
#include "options.def"
};
#undef CCOPY_OPTION

#define OPTION_COUNT (sizeof option_table / sizeof option_table[0])

typedef struct option_value {
    char **values;
    size_t count;
} option_value_t;

struct ccopy_options {
    option_value_t values[OPTION_COUNT];
};

size_t ccopy_option_count(void)
{
    return OPTION_COUNT;
}

const ccopy_option_info_t *ccopy_option_get_info(size_t i)
{
    return i < OPTION_COUNT ? &option_table[i] : NULL;
}

static int same_name(const char *table_name, const char *name)
{
    for (; *table_name && *name; table_name++, name++) {
        char c = *name == '-' ? '_' : *name;
        if (c != *table_name)
            return 0;
    }
    return *table_name == *name;
}

static int option_index(const char *name)
{
    size_t i;
    if (!name)
        return -1;
    for (i = 0; i < OPTION_COUNT; i++) {
        if (same_name(option_table[i].name, name))
            return (int)i;
    }
    return -1;
}

const ccopy_option_info_t *ccopy_option_find(const char *name)
{
    int i = option_index(name);
    return i < 0 ? NULL : &option_table[i];
}

ccopy_options_t *ccopy_options_new(void)
{
    return _ccopy_calloc(1, sizeof(ccopy_options_t));
}

static void value_clear(option_value_t *v)
{
    size_t i;
    for (i = 0; i < v->count; i++)
        free(v->values[i]);
    free(v->values);
    v->values = NULL;
    v->count = 0;
}

static void value_append(option_value_t *v, const char *text)
{
    v->values = _ccopy_realloc(v->values, (v->count + 1) * sizeof *v->values);
    v->values[v->count++] = _ccopy_strdup(text);
}

ccopy_options_t *ccopy_options_copy(const ccopy_options_t *options)
{
    ccopy_options_t *copy;
    size_t i, k;
    if (!options)
        return NULL;
    copy = ccopy_options_new();
    for (i = 0; i < OPTION_COUNT; i++) {
        for (k = 0; k < options->values[i].count; k++)
            value_append(&copy->values[i], options->values[i].values[k]);
    }
    return copy;
}

void ccopy_options_destroy(ccopy_options_t *options)
{
    size_t i;
    if (!options)
        return;
    for (i = 0; i < OPTION_COUNT; i++)
        value_clear(&options->values[i]);
    free(options);
}

static int parse_int(int64_t *out, const char *text)
{
    char *end;
    long long v;
    if (!*text || isspace((unsigned char)*text))
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int choice_ok(const char *choices, const char *value)
{
    size_t n = strlen(value);
    const char *p = choices;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* Check text against the row's type and bounds; *parsed receives ints and durations. */
static int check_value(const ccopy_option_info_t *info, const char *value, int64_t *parsed,
                       ccopy_error_t *error)
{
    ccopy_error_t inner;
    *parsed = 0;
    switch (info->type) {
    case CCOPY_OPTION_STRING:
    case CCOPY_OPTION_STRINGS:
        if (!*value)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "option %s: the value is empty", info->name);
        return 0;
    case CCOPY_OPTION_ENUM:
        if (!choice_ok(info->choices, value))
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "option %s: \"%s\" is not one of %s", info->name, value,
                                    info->choices);
        return 0;
    case CCOPY_OPTION_TIME:
        if (ccopy_time_parse(parsed, value, _ccopy_now_seconds(), &inner) != 0)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "option %s: %s",
                                    info->name, inner.message);
        return 0;
    case CCOPY_OPTION_DURATION:
        if (ccopy_duration_parse(parsed, value, &inner) != 0)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "option %s: %s",
                                    info->name, inner.message);
        break;
    case CCOPY_OPTION_INT:
        if (parse_int(parsed, value) != 0) {
            /* a whole number too large for 64 bits is one: say what is wrong with it */
            size_t sign = *value == '-' || *value == '+';
            size_t digits = strspn(value + sign, "0123456789");
            int below = *value == '-';
            if (digits > 0 && !value[sign + digits])
                return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                        "option %s: %s is %s %lld", info->name, value,
                                        below ? "below the minimum" : "above the maximum",
                                        (long long)(below ? info->min : info->max));
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "option %s: \"%s\" is not a whole number", info->name, value);
        }
        break;
    }
    if (*parsed < info->min)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option %s: %s is below the minimum %lld%s", info->name, value,
                                (long long)info->min,
                                info->type == CCOPY_OPTION_DURATION ? "s" : "");
    if (*parsed > info->max)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option %s: %s is above the maximum %lld%s", info->name, value,
                                (long long)info->max,
                                info->type == CCOPY_OPTION_DURATION ? "s" : "");
    return 0;
}

int ccopy_options_set(ccopy_options_t *options, const char *name, const char *value,
                      ccopy_error_t *error)
{
    int i = option_index(name);
    int64_t parsed;
    int rc;

    if (!options)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "no options given (NULL): make them with ccopy_options_new()");
    if (!name)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "no option name given (NULL)");
    if (i < 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "unknown option \"%s\"",
                                name);
    if (!value)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option %s: no value given", option_table[i].name);
    rc = check_value(&option_table[i], value, &parsed, error);
    if (rc != 0)
        return rc;
    if (option_table[i].type != CCOPY_OPTION_STRINGS)
        value_clear(&options->values[i]);
    value_append(&options->values[i], value);
    return 0;
}

int ccopy_options_unset(ccopy_options_t *options, const char *name, ccopy_error_t *error)
{
    int i = option_index(name);
    if (!options)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "no options given (NULL): make them with ccopy_options_new()");
    if (!name)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "no option name given (NULL)");
    if (i < 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "unknown option \"%s\"",
                                name);
    value_clear(&options->values[i]);
    return 0;
}

const char *ccopy_options_get(const ccopy_options_t *options, const char *name)
{
    return ccopy_options_get_nth(options, name, 0);
}

size_t ccopy_options_get_count(const ccopy_options_t *options, const char *name)
{
    int i = option_index(name);
    if (i < 0)
        return 0;
    if (!options || options->values[i].count == 0) /* NULL: no option set, the defaults */
        return option_table[i].default_value ? 1 : 0;
    return options->values[i].count;
}

const char *ccopy_options_get_nth(const ccopy_options_t *options, const char *name, size_t n)
{
    int i = option_index(name);
    if (i < 0)
        return NULL;
    if (!options || options->values[i].count == 0) /* NULL: no option set, the defaults */
        return n == 0 ? option_table[i].default_value : NULL;
    return n < options->values[i].count ? options->values[i].values[n] : NULL;
}

int64_t ccopy_options_get_int(const ccopy_options_t *options, const char *name)
{
    const char *text = ccopy_options_get(options, name);
    int i = option_index(name);
    int64_t v = 0;
    if (!text || i < 0)
        return 0;
    if (check_value(&option_table[i], text, &v, NULL) != 0)
        return 0;
    return v;
}
