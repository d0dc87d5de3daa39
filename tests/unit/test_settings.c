/*
 * Typed settings: every row of the option table has its field, defaults and set values land in
 * it with the right type, the strings outlive the options, loading leaves the options as they
 * were, and the sink and source settings read from it as they did from the options.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmocopy/options.h"
#include "cosmocopy/window.h"
#include "harness.h"
#include "settings.h"
#include "sink.h"
#include "source.h"

/* Where each option's field (and its companion: NAME_choice, NAME_count) sits, written out by
 * the table itself, so the checks below walk every option without naming one. */
typedef struct field {
    const char *name;
    ccopy_option_type_t type;
    size_t offset, companion;
} field_t;

#define COMPANION_STRING(name) 0
#define COMPANION_TIME(name) 0
#define COMPANION_INT(name) 0
#define COMPANION_DURATION(name) 0
#define COMPANION_ENUM(name) offsetof(_ccopy_settings_t, name##_choice)
#define COMPANION_STRINGS(name) offsetof(_ccopy_settings_t, name##_count)
#define CCOPY_OPTION(name, type, ...) \
    {#name, CCOPY_OPTION_##type, offsetof(_ccopy_settings_t, name), COMPANION_##type(name)},
static const field_t fields[] = {
#include "options.def"
};
#undef CCOPY_OPTION

#define FIELD_COUNT (sizeof fields / sizeof fields[0])

static const char *text_field(const _ccopy_settings_t *s, const field_t *f)
{
    return *(const char *const *)((const char *)s + f->offset);
}

static int64_t number_field(const _ccopy_settings_t *s, const field_t *f)
{
    return *(const int64_t *)((const char *)s + f->offset);
}

static const char *const *list_field(const _ccopy_settings_t *s, const field_t *f)
{
    return *(const char *const *const *)((const char *)s + f->offset);
}

static size_t count_field(const _ccopy_settings_t *s, const field_t *f)
{
    return *(const size_t *)((const char *)s + f->companion);
}

static int choice_field(const _ccopy_settings_t *s, const field_t *f)
{
    return *(const int *)((const char *)s + f->companion);
}

/* Index of text among "a|b|c", or -1. */
static int choice_index(const char *choices, const char *text)
{
    size_t len = strlen(text);
    int i;
    for (i = 0; choices; i++) {
        const char *bar = strchr(choices, '|');
        size_t n = bar ? (size_t)(bar - choices) : strlen(choices);
        if (n == len && strncmp(choices, text, n) == 0)
            return i;
        choices = bar ? bar + 1 : NULL;
    }
    return -1;
}

static int choice_total(const char *choices)
{
    int n = 1;
    for (; *choices; choices++)
        n += *choices == '|';
    return n;
}

/* The text of choice i of "a|b|c" (static buffer). */
static const char *choice_text(const char *choices, int i)
{
    static char buf[64];
    const char *bar;
    for (; i > 0; i--)
        choices = strchr(choices, '|') + 1;
    bar = strchr(choices, '|');
    snprintf(buf, sizeof buf, "%.*s", bar ? (int)(bar - choices) : (int)strlen(choices), choices);
    return buf;
}

/* The value a field holds for an option's text (INT and DURATION). */
static int64_t number_of(const ccopy_option_info_t *info, const char *text)
{
    int64_t v = 0;
    if (!text)
        return 0;
    if (info->type == CCOPY_OPTION_DURATION)
        CHECK_INT(ccopy_duration_parse(&v, text, NULL), 0);
    else
        v = strtoll(text, NULL, 10);
    return v;
}

CCOPY_TEST(a_field_for_every_option)
{
    size_t i;
    CHECK_INT(FIELD_COUNT, ccopy_option_count());
    for (i = 0; i < FIELD_COUNT && i < ccopy_option_count(); i++) {
        CHECK_STR(fields[i].name, ccopy_option_get_info(i)->name);
        CHECK_INT(fields[i].type, ccopy_option_get_info(i)->type);
    }
}

CCOPY_TEST(defaults_land)
{
    ccopy_options_t *o = ccopy_options_new();
    _ccopy_settings_t s, from_null;
    size_t i;
    CHECK_INT(_ccopy_settings_load(&s, o, NULL), 0);
    CHECK_INT(_ccopy_settings_load(&from_null, NULL, NULL), 0);
    for (i = 0; i < FIELD_COUNT; i++) {
        const field_t *f = &fields[i];
        const ccopy_option_info_t *info = ccopy_option_find(f->name);
        const char *def = info->default_value;
        switch (f->type) {
        case CCOPY_OPTION_STRING:
        case CCOPY_OPTION_TIME:
            if (def) {
                CHECK_STR(text_field(&s, f), def);
                CHECK_STR(text_field(&from_null, f), def);
            } else {
                CHECK(text_field(&s, f) == NULL);
                CHECK(text_field(&from_null, f) == NULL);
            }
            break;
        case CCOPY_OPTION_ENUM:
            CHECK_STR(text_field(&s, f), def);
            CHECK_INT(choice_field(&s, f), choice_index(info->choices, def));
            CHECK_INT(choice_field(&from_null, f), choice_index(info->choices, def));
            break;
        case CCOPY_OPTION_INT:
        case CCOPY_OPTION_DURATION:
            CHECK_INT(number_field(&s, f), number_of(info, def));
            CHECK_INT(number_field(&from_null, f), number_of(info, def));
            break;
        case CCOPY_OPTION_STRINGS:
            CHECK_INT(count_field(&s, f), def ? 1 : 0);
            CHECK_INT(count_field(&from_null, f), def ? 1 : 0);
            if (def)
                CHECK_STR(list_field(&s, f)[0], def);
            else
                CHECK(list_field(&s, f) == NULL);
            break;
        }
    }
    CHECK_INT(s.step, 4 * 3600);
    CHECK_INT(s.batch_size, 1000);
    CHECK_STR(s.mode, "full");
    _ccopy_settings_cleanup(&from_null);
    _ccopy_settings_cleanup(&s);
    ccopy_options_destroy(o);
}

/* A value other than the default for every option; STRINGS get two. */
static void set_every_option(ccopy_options_t *o)
{
    size_t i;
    char text[128];
    for (i = 0; i < ccopy_option_count(); i++) {
        const ccopy_option_info_t *info = ccopy_option_get_info(i);
        int64_t v;
        switch (info->type) {
        case CCOPY_OPTION_STRING:
            snprintf(text, sizeof text, "text of %s", info->name);
            CHECK_INT(ccopy_options_set(o, info->name, text, NULL), 0);
            break;
        case CCOPY_OPTION_STRINGS:
            snprintf(text, sizeof text, "first %s", info->name);
            CHECK_INT(ccopy_options_set(o, info->name, text, NULL), 0);
            snprintf(text, sizeof text, "second %s", info->name);
            CHECK_INT(ccopy_options_set(o, info->name, text, NULL), 0);
            break;
        case CCOPY_OPTION_TIME:
            CHECK_INT(ccopy_options_set(o, info->name, "2026-01-02T03:00:00Z", NULL), 0);
            break;
        case CCOPY_OPTION_ENUM:
            CHECK_INT(ccopy_options_set(o, info->name,
                                        choice_text(info->choices, choice_total(info->choices) - 1),
                                        NULL),
                      0);
            break;
        case CCOPY_OPTION_INT:
        case CCOPY_OPTION_DURATION:
            v = number_of(info, info->default_value) == info->max ? info->min : info->max;
            snprintf(text, sizeof text, "%lld%s", (long long)v,
                     info->type == CCOPY_OPTION_DURATION ? "s" : "");
            CHECK_INT(ccopy_options_set(o, info->name, text, NULL), 0);
            break;
        }
    }
}

CCOPY_TEST(set_values_land)
{
    ccopy_options_t *o = ccopy_options_new();
    _ccopy_settings_t s;
    size_t i;
    char text[128];
    set_every_option(o);
    CHECK_INT(_ccopy_settings_load(&s, o, NULL), 0);
    for (i = 0; i < FIELD_COUNT; i++) {
        const field_t *f = &fields[i];
        const ccopy_option_info_t *info = ccopy_option_find(f->name);
        int last;
        switch (f->type) {
        case CCOPY_OPTION_STRING:
            snprintf(text, sizeof text, "text of %s", f->name);
            CHECK_STR(text_field(&s, f), text);
            break;
        case CCOPY_OPTION_TIME:
            CHECK_STR(text_field(&s, f), "2026-01-02T03:00:00Z");
            break;
        case CCOPY_OPTION_ENUM:
            last = choice_total(info->choices) - 1;
            CHECK_INT(choice_field(&s, f), last);
            CHECK_STR(text_field(&s, f), choice_text(info->choices, last));
            break;
        case CCOPY_OPTION_INT:
        case CCOPY_OPTION_DURATION:
            CHECK_INT(number_field(&s, f), number_of(info, info->default_value) == info->max
                                               ? info->min
                                               : info->max);
            break;
        case CCOPY_OPTION_STRINGS:
            CHECK_INT(count_field(&s, f), 2);
            snprintf(text, sizeof text, "first %s", f->name);
            CHECK_STR(list_field(&s, f)[0], text);
            snprintf(text, sizeof text, "second %s", f->name);
            CHECK_STR(list_field(&s, f)[1], text);
            break;
        }
    }
    _ccopy_settings_cleanup(&s);
    ccopy_options_destroy(o);
}

CCOPY_TEST(no_yes_options_read_as_flags)
{
    ccopy_options_t *o = ccopy_options_new();
    _ccopy_settings_t s;
    size_t i;
    int seen = 0;
    for (i = 0; i < FIELD_COUNT; i++) {
        const ccopy_option_info_t *info = ccopy_option_find(fields[i].name);
        if (fields[i].type != CCOPY_OPTION_ENUM || strcmp(info->choices, "no|yes") != 0)
            continue;
        seen++;
        CHECK_INT(_ccopy_settings_load(&s, o, NULL), 0);
        CHECK_INT(choice_field(&s, &fields[i]), 0);
        _ccopy_settings_cleanup(&s);
        CHECK_INT(ccopy_options_set(o, info->name, "yes", NULL), 0);
        CHECK_INT(_ccopy_settings_load(&s, o, NULL), 0);
        CHECK_INT(choice_field(&s, &fields[i]), 1);
        _ccopy_settings_cleanup(&s);
    }
    CHECK(seen > 0);
    ccopy_options_destroy(o);
}

/* Every value of every option, with the address it is stored at. */
typedef struct snapshot {
    size_t counts[256];
    const char *pointers[256][2];
    char texts[256][2][128];
} snapshot_t;

static void take_snapshot(snapshot_t *snap, const ccopy_options_t *o)
{
    size_t i, k;
    memset(snap, 0, sizeof *snap);
    CHECK(ccopy_option_count() <= 256);
    for (i = 0; i < ccopy_option_count(); i++) {
        const char *name = ccopy_option_get_info(i)->name;
        snap->counts[i] = ccopy_options_get_count(o, name);
        for (k = 0; k < 2; k++) {
            const char *v = ccopy_options_get_nth(o, name, k);
            snap->pointers[i][k] = v;
            snprintf(snap->texts[i][k], sizeof snap->texts[i][k], "%s", v ? v : "(null)");
        }
    }
}

CCOPY_TEST(load_leaves_options_alone_and_owns_its_strings)
{
    ccopy_options_t *o = ccopy_options_new();
    static snapshot_t before, after;
    _ccopy_settings_t s;
    set_every_option(o);
    take_snapshot(&before, o);
    CHECK_INT(_ccopy_settings_load(&s, o, NULL), 0);
    take_snapshot(&after, o);
    CHECK(memcmp(&before, &after, sizeof before) == 0);
    CHECK(s.source != ccopy_options_get(o, "source"));
    CHECK(s.collection[0] != ccopy_options_get_nth(o, "collection", 0));

    /* The settings outlive the options they came from (ASan builds check the reads). */
    ccopy_options_destroy(o);
    CHECK_STR(s.source, "text of source");
    CHECK_STR(s.collection[1], "second collection");
    CHECK_STR(s.until, "2026-01-02T03:00:00Z");
    _ccopy_settings_cleanup(&s);
    CHECK(s.source == NULL && s.collection == NULL && s.values == NULL);
    _ccopy_settings_cleanup(&s);
}

CCOPY_TEST(sink_settings_from_settings_and_from_options_agree)
{
    ccopy_options_t *o = ccopy_options_new();
    _ccopy_settings_t s;
    _ccopy_sink_settings_t from_settings, from_options, defaults, from_null;
    CHECK_INT(ccopy_options_set(o, "blob_connection_string", "AccountName=a;AccountKey=b", NULL), 0);
    CHECK_INT(ccopy_options_set(o, "create_container", "yes", NULL), 0);
    CHECK_INT(ccopy_options_set(o, "block_size", "8192", NULL), 0);
    CHECK_INT(ccopy_options_set(o, "blocks_in_flight", "7", NULL), 0);
    CHECK_INT(ccopy_options_set(o, "retry_budget", "3", NULL), 0);
    CHECK_INT(ccopy_options_set(o, "retry_base_ms", "50", NULL), 0);
    CHECK_INT(ccopy_options_set(o, "retry_max_delay_ms", "900", NULL), 0);
    CHECK_INT(ccopy_options_set(o, "blob_timeout_ms", "2000", NULL), 0);
    CHECK_INT(_ccopy_settings_load(&s, o, NULL), 0);
    _ccopy_sink_settings_from(&from_settings, &s);
    _ccopy_sink_settings_from_options(&from_options, o);

    CHECK_STR(from_settings.blob_connection_string, "AccountName=a;AccountKey=b");
    CHECK(from_settings.blob_connection_string == s.blob_connection_string);
    CHECK(from_options.blob_connection_string == ccopy_options_get(o, "blob_connection_string"));
    CHECK_INT(from_settings.create_container, 1);
    CHECK_INT(from_settings.block_size, 8192);
    CHECK_INT(from_settings.blocks_in_flight, 7);
    CHECK_INT(from_settings.backoff.max_retries, 3);
    CHECK_INT(from_settings.backoff.base_ms, 50);
    CHECK_INT(from_settings.backoff.cap_ms, 900);
    CHECK_INT(from_settings.timeout_ms, 2000);
    CHECK(from_settings.canceled == NULL && from_settings.retries == NULL);
    from_options.blob_connection_string = from_settings.blob_connection_string;
    CHECK(memcmp(&from_settings, &from_options, sizeof from_settings) == 0);

    _ccopy_sink_settings_default(&defaults);
    _ccopy_sink_settings_from(&from_null, NULL);
    CHECK(memcmp(&defaults, &from_null, sizeof defaults) == 0);
    _ccopy_sink_settings_from_options(&from_null, NULL);
    CHECK(memcmp(&defaults, &from_null, sizeof defaults) == 0);

    _ccopy_settings_cleanup(&s);
    ccopy_options_destroy(o);
}

CCOPY_TEST(source_settings_from_settings)
{
    ccopy_options_t *o = ccopy_options_new();
    _ccopy_settings_t s;
    _ccopy_source_settings_t source;
    CHECK_INT(ccopy_options_set(o, "server_timeout_ms", "1500", NULL), 0);
    CHECK_INT(ccopy_options_set(o, "socket_timeout_ms", "60000", NULL), 0);
    CHECK_INT(ccopy_options_set(o, "tls_ca_file", "/etc/ca.pem", NULL), 0);
    CHECK_INT(ccopy_options_set(o, "parallel", "8", NULL), 0);
    CHECK_INT(_ccopy_settings_load(&s, o, NULL), 0);
    _ccopy_source_settings_from(&source, &s);
    CHECK_INT(source.server_timeout_ms, 1500);
    CHECK_INT(source.socket_timeout_ms, 60000);
    CHECK_STR(source.tls_ca_file, "/etc/ca.pem");
    CHECK_INT(source.max_clients, 9); /* a connection per window read at once, one for planning */
    _ccopy_settings_cleanup(&s);
    ccopy_options_destroy(o);
}
