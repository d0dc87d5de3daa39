/*
 * The canonical Extended JSON reader (_ccopy_extjson_to_bson) alone: what libbson writes comes
 * back as the same bytes, an object is a type only in that type's exact canonical shape, bad
 * lines say what is wrong and at which byte, and no input makes it recurse without bound or work
 * exponentially.
 */
#include <time.h>

#include "extjson.h"
#include "fixtures.h"
#include "harness.h"

static char *hex_of(const bson_t *doc)
{
    static const char digits[] = "0123456789abcdef";
    char *out = malloc(2 * (size_t)doc->len + 1);
    uint32_t i;
    for (i = 0; i < doc->len; i++) {
        out[2 * i] = digits[bson_get_data(doc)[i] >> 4];
        out[2 * i + 1] = digits[bson_get_data(doc)[i] & 0xf];
    }
    out[2 * (size_t)doc->len] = '\0';
    return out;
}

/* text must read as the document hex spells. */
static void check_reads_as(const char *text, const char *hex)
{
    ccopy_error_t e;
    bson_t *doc;

    memset(&e, 0, sizeof e);
    doc = _ccopy_extjson_to_bson(text, strlen(text), &e);
    if (!doc) {
        fprintf(stderr, "%s: %s\n", text, e.message);
        CHECK(doc != NULL);
        return;
    }
    {
        char *got = hex_of(doc);
        if (strcmp(got, hex) != 0)
            fprintf(stderr, "%s\n", text);
        CHECK_STR(got, hex);
        free(got);
    }
    bson_destroy(doc);
}

static void check_refused(const char *text, size_t len, const char *fragment)
{
    ccopy_error_t e;
    bson_t *doc;

    memset(&e, 0, sizeof e);
    doc = _ccopy_extjson_to_bson(text, len, &e);
    CHECK(doc == NULL);
    CHECK_INT(e.code, CCOPY_ECORRUPT);
    CHECK_CONTAINS(e.message, fragment);
    if (doc)
        bson_destroy(doc);
}

CCOPY_TEST(what_libbson_writes_reads_back_byte_for_byte)
{
    size_t i;
    for (i = 0; i < CCOPY_TEST_JSONL_VECTORS; i++) {
        bson_t doc;
        char *json;
        CHECK(ccopy_test_bson_from_hex(&doc, ccopy_test_jsonl_vectors[i].hex));
        json = bson_as_canonical_extended_json(&doc, NULL);
        CHECK(json != NULL);
        if (json) {
            fprintf(stderr, "%s\n", ccopy_test_jsonl_vectors[i].what);
            check_reads_as(json, ccopy_test_jsonl_vectors[i].hex);
        }
        bson_free(json);
        bson_destroy(&doc);
    }
}

/* Each canonical wrapper, spelled as libbson spells it, is its type. */
CCOPY_TEST(canonical_wrappers_are_their_types)
{
    /* {"a": ObjectId} */
    check_reads_as("{\"a\": {\"$oid\": \"6955b9000000000000000001\"}}",
                   "140000000761006955b900000000000000000100");
    /* Code with NULs, subtype 2 binary with its inner length, -0.0, a date before 1970 */
    check_reads_as("{\"c\": {\"$code\": \"a\\u0000b\"}}",
                   "100000000d6300040000006100620000");
    check_reads_as("{\"x\": {\"$binary\": {\"base64\": \"//8=\", \"subType\": \"02\"}}}",
                   "13000000057800060000000202000000ffff00");
    check_reads_as("{\"d\": {\"$numberDouble\": \"-0.0\"}}", "10000000016400000000000000008000");
    check_reads_as("{\"d\": {\"$date\": {\"$numberLong\": \"-1\"}}}",
                   "10000000096400ffffffffffffffff00");
    /* the timestamp's increment comes first in BSON */
    check_reads_as("{\"t\": {\"$timestamp\": {\"t\": 1, \"i\": 2}}}",
                   "10000000117400020000000100000000");
    check_reads_as("{\"m\": {\"$minKey\": 1}, \"M\": {\"$maxKey\": 1}, \"u\": {\"$undefined\": true}}",
                   "0e000000ff6d007f4d0006750000");
    /* white space anywhere, escapes in keys */
    check_reads_as("  { \"\\u0061\" :{ \"$numberInt\":\"-7\" } }\r",
                   "0c000000106100f9ffffff00");
}

/* The same keys in any other shape are documents: nothing is refused, nothing guessed. */
CCOPY_TEST(other_shapes_are_documents)
{
    /* {"a": {"$regex": {"x": 1}}}: libbson's reader refused this line */
    check_reads_as("{\"a\": {\"$regex\": {\"x\": {\"$numberInt\": \"1\"}}}}",
                   "210000000361001900000003247265676578000c00000010780001000000000000");
    /* uppercase hex, 23 digits, a number: not an ObjectId */
    check_reads_as("{\"a\": {\"$oid\": \"6955B9000000000000000001\"}}",
                   "300000000361002800000002246f69640019000000363935354239303030303030303030"
                   "303030303030303031000000");
    check_reads_as("{\"a\": {\"$oid\": {\"$numberInt\": \"42\"}}}",
                   "170000000361000f00000010246f6964002a0000000000");
    /* non-canonical numbers, a date as a string, an extra key after a wrapper's value */
    check_reads_as("{\"a\": {\"$numberInt\": \"01\"}}",
                   "200000000361001800000002246e756d626572496e7400030000003031000000");
    check_reads_as("{\"a\": {\"$date\": \"x\"}}",
                   "1a00000003610012000000022464617465000200000078000000");
    check_reads_as("{\"a\": {\"$minKey\": 1, \"b\": null}}",
                   "1d0000000361001500000010246d696e4b657900010000000a62000000");
    check_reads_as("{\"a\": {\"$binary\": {\"subType\": \"00\", \"base64\": \"\"}}}",
                   "3800000003610030000000032462696e6172790022000000027375625479706500030000"
                   "0030300002626173653634000100000000000000");
}

CCOPY_TEST(bad_lines_say_what_and_where)
{
    check_refused("", 0, "a line must hold one JSON object at byte 0");
    check_refused("[1]", 3, "a line must hold one JSON object at byte 0");
    check_refused("{\"a\": }", 7, "'}' cannot start a value at byte 6");
    check_refused("{\"a\": 1} x", 10, "text after the document at byte 9");
    check_refused("{\"a\": 1", 7, "the line ends where '}' belongs at byte 7");
    check_refused("{\"a\": tru}", 10, "a value expected at byte 6");
    check_refused("{\"a\": 01}", 9, "a number that is not JSON at byte 6");
    check_refused("{\"a\\u0000\": 1}", 14, "a zero character in a key");
    check_refused("{\"a\": \"\\ud800x\"}", 16, "a high surrogate \\ud800 without its low half");
    check_refused("{\"a\": \"\\udc00\"}", 15, "a lone low surrogate");
    check_refused("{\"a\": \"\\q\"}", 11, "an unknown escape \\q");
    check_refused("{\"a\": \"x\ny\"}", 11, "a control character (0x0a) inside a string");
    check_refused("{\"a\": \"x", 8, "the line ends inside a string");
    check_refused("{\"a\": {\"$code\": \"\", \"$scope\": {\"b\": }}}", 39, "cannot start a value");
    /* a raw NUL byte in the text is not JSON either */
    check_refused("{\"a\": \"x\0\"}", 11, "a control character (0x00) inside a string");
}

/* libbson never writes bytes that are not UTF-8; the reader took them into keys, strings and
 * regular expressions, making BSON that bson_validate() refuses (found by tests/fuzz/fuzz_jsonl_read). */
CCOPY_TEST(text_that_is_not_utf8_is_refused)
{
    static const char *const lines[] = {
        "{\"$times\xff\": 1}",                 /* a key                        */
        "{\"a\": \"x\xffy\"}",                  /* a string                     */
        "{\"a\": \"\xe2\x82\"}",                 /* a sequence cut short         */
        "{\"a\": {\"$regularExpression\": {\"pattern\": \"\xff\", \"options\": \"\"}}}",
    };
    size_t i;
    for (i = 0; i < sizeof lines / sizeof lines[0]; i++)
        check_refused(lines[i], strlen(lines[i]), "a string that is not UTF-8 at byte ");
    check_refused(lines[0], strlen(lines[0]), "not UTF-8 at byte 1 of the line");
    check_refused(lines[1], strlen(lines[1]), "not UTF-8 at byte 6 of the line");
    /* UTF-8, escaped or not, and an escaped zero in a value still read */
    check_reads_as("{\"caf\xc3\xa9\": \"\\u20ac\xe2\x82\xac\\u0000\"}",
                   "1800000002636166c3a90008000000e282ace282ac000000");
}

CCOPY_TEST(nesting_past_the_limit_is_refused_not_a_crash)
{
    size_t depth = 100000, i;
    char *text = malloc(2 * depth + 16);
    size_t n = 0;

    n += (size_t)sprintf(text, "{\"a\": ");
    for (i = 0; i < depth; i++)
        text[n++] = '[';
    for (i = 0; i < depth; i++)
        text[n++] = ']';
    text[n++] = '}';
    check_refused(text, n, "arrays nested deeper than 512 levels");
    free(text);
}

/* {"$code": "", "$scope": {"k": <the same again>}, "z": 1} is a document at every level: a
 * reader that parsed each scope as a scope and then again as a document would take 2^200 steps. */
static char *code_scope_chain(size_t levels, const char *innermost, int with_tail)
{
    size_t cap = levels * 64 + strlen(innermost) + 64, n = 0, i;
    char *text = malloc(cap);

    n += (size_t)sprintf(text + n, "{\"k\": ");
    for (i = 0; i < levels; i++)
        n += (size_t)sprintf(text + n, "{\"$code\": \"\", \"$scope\": {\"k\": ");
    n += (size_t)sprintf(text + n, "%s", innermost);
    for (i = 0; i < levels; i++)
        n += (size_t)sprintf(text + n, "}%s}", with_tail ? ", \"z\": {\"$numberInt\": \"1\"}" : "");
    n += (size_t)sprintf(text + n, "}");
    return text;
}

CCOPY_TEST(look_alike_chains_take_linear_time)
{
    char *text;
    ccopy_error_t e;
    bson_t *doc;
    clock_t begin = clock();

    /* documents at every level */
    text = code_scope_chain(200, "{\"$numberInt\": \"5\"}", 1);
    doc = _ccopy_extjson_to_bson(text, strlen(text), &e);
    CHECK(doc != NULL);
    if (doc) {
        bson_iter_t it;
        CHECK(bson_iter_init(&it, doc) && bson_iter_next(&it));
        CHECK_INT(bson_iter_type(&it), BSON_TYPE_DOCUMENT);
        bson_destroy(doc);
    }
    free(text);
    /* code with scope at every level */
    text = code_scope_chain(200, "{\"$numberInt\": \"5\"}", 0);
    doc = _ccopy_extjson_to_bson(text, strlen(text), &e);
    CHECK(doc != NULL);
    if (doc) {
        bson_iter_t it;
        CHECK(bson_iter_init(&it, doc) && bson_iter_next(&it));
        CHECK_INT(bson_iter_type(&it), BSON_TYPE_CODEWSCOPE);
        bson_destroy(doc);
    }
    free(text);
    /* and an error at the bottom of either */
    text = code_scope_chain(200, "{\"b\": }", 1);
    check_refused(text, strlen(text), "cannot start a value");
    free(text);
    text = code_scope_chain(200, "{\"b\": }", 0);
    check_refused(text, strlen(text), "cannot start a value");
    free(text);
    CHECK((double)(clock() - begin) / CLOCKS_PER_SEC < 10.0);
}

static double seconds_to_read(const char *text)
{
    ccopy_error_t e;
    struct timespec t0, t1;
    bson_t *doc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    doc = _ccopy_extjson_to_bson(text, strlen(text), &e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(doc != NULL);
    if (doc)
        bson_destroy(doc);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* The best of three, against a busy machine. */
static double fastest_read(const char *text)
{
    double best = seconds_to_read(text);
    int i;
    for (i = 0; i < 2; i++) {
        double again = seconds_to_read(text);
        if (again < best)
            best = again;
    }
    return best;
}

/* Each code with scope skims its scope to see where it ends: code with scope nested 270 deep
 * around 1 MiB would skim 270 MiB. Past 32 levels such an object is read as a document (the
 * writer refuses what would then read back different), so 270 levels cost about what 32 do, not 8
 * times as much (a ratio of two timings of the same work, so any build can check it). */
CCOPY_TEST(nested_code_with_scope_is_skimmed_a_bounded_number_of_times)
{
    const size_t payload = (size_t)1 << 20;
    char *filler = malloc(payload + 3), *deep, *shallow;
    double deep_s, shallow_s;

    memset(filler + 1, 'x', payload);
    filler[0] = filler[payload + 1] = '"';
    filler[payload + 2] = '\0';
    deep = code_scope_chain(270, filler, 0);
    shallow = code_scope_chain(32, filler, 0);
    shallow_s = fastest_read(shallow);
    deep_s = fastest_read(deep);
    fprintf(stderr, "32 levels %.3f s, 270 levels %.3f s\n", shallow_s, deep_s);
    CHECK(deep_s < 3 * shallow_s + 0.01);
    free(deep);
    free(shallow);
    free(filler);
}

/* Relaxed numbers (which the canonical form never writes) read as libbson reads them. */
CCOPY_TEST(bare_numbers_read_as_int32_int64_or_double)
{
    check_reads_as("{\"a\": 1, \"b\": -2147483648, \"c\": 2147483648, \"d\": 1.5}",
                   "290000001061000100000010620000000080126300000000800000000001640000000000"
                   "0000f83f00");
}
