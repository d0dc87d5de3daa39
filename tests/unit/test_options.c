/* The option table and option sets: names, defaults, bounds, and errors that name the option. */
#include <string.h>

#include "cosmocopy/options.h"
#include "harness.h"

CCOPY_TEST(table_has_documented_rows)
{
    size_t i;
    CHECK(ccopy_option_count() >= 15);
    for (i = 0; i < ccopy_option_count(); i++) {
        const ccopy_option_info_t *o = ccopy_option_get_info(i);
        CHECK(o->name && *o->name);
        CHECK(o->doc && *o->doc);
        CHECK(o->type != CCOPY_OPTION_ENUM || o->choices);
    }
    CHECK(ccopy_option_get_info(ccopy_option_count()) == NULL);
}

/* The CLI reads its spellings from the flags column: every entry names a flag. */
CCOPY_TEST(flags_column_names_flags)
{
    size_t i;
    for (i = 0; i < ccopy_option_count(); i++) {
        const char *p = ccopy_option_get_info(i)->flags;
        while (p && *p) {
            size_t n = strcspn(p, ";");
            const char *colon = memchr(p, ':', n);
            const char *flag = colon ? colon + 1 : p + (*p == '~');
            CHECK(strncmp(flag, "--", 2) == 0);
            p += n;
            while (*p == ';' || *p == ' ')
                p++;
        }
    }
    CHECK(ccopy_option_find("batch_size")->flags == NULL);
    CHECK(strstr(ccopy_option_find("target_db")->flags, "restore:--to-db NAME") != NULL);
}

CCOPY_TEST(find_accepts_dashes)
{
    CHECK(ccopy_option_find("batch-size") == ccopy_option_find("batch_size"));
    CHECK(ccopy_option_find("batch_size") != NULL);
    CHECK(ccopy_option_find("batchsize") == NULL);
    CHECK(ccopy_option_find(NULL) == NULL);
}

CCOPY_TEST(defaults)
{
    ccopy_options_t *o = ccopy_options_new();
    CHECK_STR(ccopy_options_get(o, "step"), "4h");
    CHECK_INT(ccopy_options_get_int(o, "step"), 4 * 3600);
    CHECK_INT(ccopy_options_get_int(o, "settle_lag"), 600);
    CHECK_INT(ccopy_options_get_int(o, "batch_size"), 1000);
    CHECK_STR(ccopy_options_get(o, "mode"), "full");
    CHECK_STR(ccopy_options_get(o, "format"), "bson");
    CHECK(ccopy_options_get(o, "source") == NULL);
    CHECK_INT(ccopy_options_get_count(o, "collection"), 0);
    ccopy_options_destroy(o);
}

CCOPY_TEST(set_and_get)
{
    ccopy_options_t *o = ccopy_options_new();
    ccopy_error_t e;
    CHECK_INT(ccopy_options_set(o, "batch-size", "500", &e), 0);
    CHECK_INT(ccopy_options_get_int(o, "batch_size"), 500);
    CHECK_INT(ccopy_options_set(o, "step", "1d", &e), 0);
    CHECK_INT(ccopy_options_get_int(o, "step"), 86400);
    CHECK_INT(ccopy_options_set(o, "compress", "zstd", &e), 0);
    CHECK_STR(ccopy_options_get(o, "compress"), "zstd");
    CHECK_INT(ccopy_options_unset(o, "compress", &e), 0);
    CHECK_STR(ccopy_options_get(o, "compress"), "none");
    ccopy_options_destroy(o);
}

CCOPY_TEST(strings_append)
{
    ccopy_options_t *o = ccopy_options_new(), *copy;
    CHECK_INT(ccopy_options_set(o, "collection", "orders", NULL), 0);
    CHECK_INT(ccopy_options_set(o, "collection", "users", NULL), 0);
    CHECK_INT(ccopy_options_get_count(o, "collection"), 2);
    CHECK_STR(ccopy_options_get_nth(o, "collection", 1), "users");
    CHECK(ccopy_options_get_nth(o, "collection", 2) == NULL);
    copy = ccopy_options_copy(o);
    ccopy_options_destroy(o);
    CHECK_STR(ccopy_options_get_nth(copy, "collection", 0), "orders");
    CHECK_INT(ccopy_options_get_count(copy, "collection"), 2);
    ccopy_options_destroy(copy);
}

CCOPY_TEST(unknown_option_is_named)
{
    ccopy_options_t *o = ccopy_options_new();
    ccopy_error_t e;
    CHECK_INT(ccopy_options_set(o, "batchsize", "5", &e), CCOPY_EINVAL);
    CHECK_STR(e.message, "unknown option \"batchsize\"");
    CHECK_INT(ccopy_options_set(o, NULL, "5", &e), CCOPY_EINVAL);
    CHECK_STR(e.message, "no option name given (NULL)");
    CHECK_INT(ccopy_options_unset(o, NULL, &e), CCOPY_EINVAL);
    CHECK_STR(e.message, "no option name given (NULL)");
    ccopy_options_destroy(o);
}

CCOPY_TEST(out_of_range_is_named)
{
    ccopy_options_t *o = ccopy_options_new();
    ccopy_error_t e;
    CHECK_INT(ccopy_options_set(o, "batch_size", "0", &e), CCOPY_EINVAL);
    CHECK_STR(e.message, "option batch_size: 0 is below the minimum 1");
    CHECK_INT(ccopy_options_set(o, "parallel", "65", &e), CCOPY_EINVAL);
    CHECK_STR(e.message, "option parallel: 65 is above the maximum 64");
    CHECK_INT(ccopy_options_set(o, "batch_size", "12x", &e), CCOPY_EINVAL);
    CHECK_STR(e.message, "option batch_size: \"12x\" is not a whole number");
    CHECK_INT(ccopy_options_set(o, "step", "0s", &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "option step:");
    CHECK_INT(ccopy_options_set(o, "compress", "lz4", &e), CCOPY_EINVAL);
    CHECK_STR(e.message, "option compress: \"lz4\" is not one of none|gzip|zstd");
    CHECK_INT(ccopy_options_set(o, "from", "yesterday", &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "option from:");
    CHECK_CONTAINS(e.message, "yesterday");
    CHECK_INT(ccopy_options_set(o, "db", "", &e), CCOPY_EINVAL);
    CHECK_STR(e.message, "option db: the value is empty");
    /* the failed sets changed nothing */
    CHECK_INT(ccopy_options_get_int(o, "batch_size"), 1000);
    ccopy_options_destroy(o);
}
