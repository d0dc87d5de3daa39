/*
 * Unit tests for the JSON writer: commas and nesting, string escaping, numbers, and the exact
 * pretty layout that manifests rely on.
 */
#include <math.h>
#include <stdint.h>

#include "fixtures.h"
#include "harness.h"
#include "jsonw.h"

/* Take the writer's text and compare it with the expected JSON. */
static void check_text(_ccopy_jsonw_t *w, const char *expected)
{
    char *text = _ccopy_jsonw_steal(w);
    CHECK_STR(text, expected);
    free(text);
}

static void check_string(const char *value, const char *expected)
{
    _ccopy_jsonw_t w;
    _ccopy_jsonw_init(&w, 0);
    _ccopy_jsonw_string(&w, value);
    check_text(&w, expected);
    _ccopy_jsonw_cleanup(&w);
}

static void check_double(double value, const char *expected)
{
    _ccopy_jsonw_t w;
    _ccopy_jsonw_init(&w, 0);
    _ccopy_jsonw_double(&w, value);
    check_text(&w, expected);
    _ccopy_jsonw_cleanup(&w);
}

CCOPY_TEST(compact_nesting_and_commas)
{
    _ccopy_jsonw_t w;

    _ccopy_jsonw_init(&w, 0);
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_int(&w, "a", 1);
    _ccopy_jsonw_key(&w, "b");
    _ccopy_jsonw_begin_array(&w);
    _ccopy_jsonw_int(&w, 1);
    _ccopy_jsonw_string(&w, "x");
    _ccopy_jsonw_null(&w);
    _ccopy_jsonw_bool(&w, 1);
    _ccopy_jsonw_bool(&w, 0);
    _ccopy_jsonw_begin_array(&w);
    _ccopy_jsonw_end_array(&w);
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_bool(&w, "deep", 1);
    _ccopy_jsonw_end_object(&w);
    _ccopy_jsonw_end_array(&w);
    _ccopy_jsonw_key(&w, "c");
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_end_object(&w);
    _ccopy_jsonw_kv_string(&w, "d", NULL);
    _ccopy_jsonw_kv_double(&w, "e", 2.5);
    _ccopy_jsonw_end_object(&w);
    check_text(&w, "{\"a\":1,\"b\":[1,\"x\",null,true,false,[],{\"deep\":true}],"
                   "\"c\":{},\"d\":null,\"e\":2.5}");
    _ccopy_jsonw_cleanup(&w);
}

CCOPY_TEST(pretty_exact_text)
{
    _ccopy_jsonw_t w;

    _ccopy_jsonw_init(&w, 1);
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_string(&w, "name", "orders");
    _ccopy_jsonw_key(&w, "window");
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_int(&w, "start", 0);
    _ccopy_jsonw_kv_int(&w, "end", 14400);
    _ccopy_jsonw_end_object(&w);
    _ccopy_jsonw_key(&w, "ids");
    _ccopy_jsonw_begin_array(&w);
    _ccopy_jsonw_int(&w, 1);
    _ccopy_jsonw_raw(&w, "{ \"$oid\" : \"5f0000000000000000000001\" }");
    _ccopy_jsonw_end_array(&w);
    _ccopy_jsonw_key(&w, "empty_object");
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_end_object(&w);
    _ccopy_jsonw_key(&w, "empty_array");
    _ccopy_jsonw_begin_array(&w);
    _ccopy_jsonw_end_array(&w);
    _ccopy_jsonw_key(&w, "none");
    _ccopy_jsonw_null(&w);
    _ccopy_jsonw_end_object(&w);
    check_text(&w, "{\n"
                   "  \"name\": \"orders\",\n"
                   "  \"window\": {\n"
                   "    \"start\": 0,\n"
                   "    \"end\": 14400\n"
                   "  },\n"
                   "  \"ids\": [\n"
                   "    1,\n"
                   "    { \"$oid\" : \"5f0000000000000000000001\" }\n"
                   "  ],\n"
                   "  \"empty_object\": {},\n"
                   "  \"empty_array\": [],\n"
                   "  \"none\": null\n"
                   "}");
    _ccopy_jsonw_cleanup(&w);
}

CCOPY_TEST(pretty_top_level_array)
{
    _ccopy_jsonw_t w;

    _ccopy_jsonw_init(&w, 1);
    _ccopy_jsonw_begin_array(&w);
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_int(&w, "n", -3);
    _ccopy_jsonw_end_object(&w);
    _ccopy_jsonw_string(&w, "s");
    _ccopy_jsonw_end_array(&w);
    check_text(&w, "[\n  {\n    \"n\": -3\n  },\n  \"s\"\n]");
    _ccopy_jsonw_cleanup(&w);
}

CCOPY_TEST(escaping)
{
    check_string("plain", "\"plain\"");
    check_string("", "\"\"");
    check_string("quote \" backslash \\ slash /", "\"quote \\\" backslash \\\\ slash /\"");
    check_string("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    check_string("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
    check_string("a\x0b" "b", "\"a\\u000bb\"");
    check_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                 "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    check_string(NULL, "null");
}

CCOPY_TEST(escaped_keys)
{
    _ccopy_jsonw_t w;

    _ccopy_jsonw_init(&w, 0);
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_string(&w, "a\"b\n", "v");
    _ccopy_jsonw_end_object(&w);
    check_text(&w, "{\"a\\\"b\\n\":\"v\"}");
    _ccopy_jsonw_cleanup(&w);
}

CCOPY_TEST(integers)
{
    _ccopy_jsonw_t w;

    _ccopy_jsonw_init(&w, 0);
    _ccopy_jsonw_begin_array(&w);
    _ccopy_jsonw_int(&w, 0);
    _ccopy_jsonw_int(&w, -1);
    _ccopy_jsonw_int(&w, INT64_MAX);
    _ccopy_jsonw_int(&w, INT64_MIN);
    _ccopy_jsonw_end_array(&w);
    check_text(&w, "[0,-1,9223372036854775807,-9223372036854775808]");
    _ccopy_jsonw_cleanup(&w);
}

CCOPY_TEST(doubles_short_and_round_trippable)
{
    check_double(0.1, "0.1");
    check_double(2.5, "2.5");
    check_double(1.0, "1");
    check_double(-0.0, "-0");
    check_double(1e300, "1e+300");
    check_double(123456789.125, "123456789.125");
    check_double(0.1 + 0.2, "0.30000000000000004");
    check_double(1.0 / 3.0, "0.33333333333333331");
    check_double(5e-324, "4.94065645841247e-324");
    check_double(9007199254740993.0, "9007199254740992");
}

CCOPY_TEST(doubles_not_finite_are_null)
{
    check_double(NAN, "null");
    check_double(INFINITY, "null");
    check_double(-INFINITY, "null");
}

CCOPY_TEST(steal_leaves_writer_empty_and_reusable)
{
    _ccopy_jsonw_t w;
    char *text;

    _ccopy_jsonw_init(&w, 1);
    text = _ccopy_jsonw_steal(&w);
    CHECK_STR(text, "");
    free(text);

    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_int(&w, "a", 1);
    _ccopy_jsonw_end_object(&w);
    check_text(&w, "{\n  \"a\": 1\n}");
    CHECK(w.buf == NULL);
    CHECK_INT(w.len, 0);
    CHECK_INT(w.depth, 0);
    CHECK_INT(w.pretty, 1);

    _ccopy_jsonw_begin_array(&w);
    _ccopy_jsonw_end_array(&w);
    check_text(&w, "[]");
    _ccopy_jsonw_cleanup(&w);
}

CCOPY_TEST(long_text_grows_buffer)
{
    _ccopy_jsonw_t w;
    char *big = malloc(100001);
    char *text;
    size_t i;

    memset(big, 'x', 100000);
    big[100000] = '\0';
    _ccopy_jsonw_init(&w, 0);
    _ccopy_jsonw_begin_array(&w);
    for (i = 0; i < 3; i++)
        _ccopy_jsonw_string(&w, big);
    _ccopy_jsonw_end_array(&w);
    text = _ccopy_jsonw_steal(&w);
    CHECK_INT(strlen(text), 3 * 100002 + 2 + 2);
    CHECK(text[0] == '[' && text[1] == '"' && text[100003] == ',');
    free(text);
    free(big);
    _ccopy_jsonw_cleanup(&w);
}

CCOPY_TEST(deepest_nesting_allowed)
{
    _ccopy_jsonw_t w;
    char expected[2 * CCOPY_JSONW_MAX_DEPTH + 1];
    int i, levels = CCOPY_JSONW_MAX_DEPTH - 1;

    _ccopy_jsonw_init(&w, 0);
    for (i = 0; i < levels; i++)
        _ccopy_jsonw_begin_array(&w);
    for (i = 0; i < levels; i++)
        _ccopy_jsonw_end_array(&w);
    memset(expected, '[', (size_t)levels);
    memset(expected + levels, ']', (size_t)levels);
    expected[2 * levels] = '\0';
    check_text(&w, expected);
    _ccopy_jsonw_cleanup(&w);
}

/* The line writer gives libbson's text and a newline, and only for what reads back the same. */
CCOPY_TEST(bson_line_is_canonical_json_and_a_newline)
{
    bson_t doc;
    char *line, *json;
    size_t len;
    ccopy_error_t e;

    ccopy_test_every_type_doc(&doc);
    CHECK_INT(_ccopy_jsonw_bson_line(&line, &len, &doc, &e), 0);
    json = bson_as_canonical_extended_json(&doc, NULL);
    CHECK_INT(len, strlen(json) + 1);
    CHECK(memcmp(line, json, len - 1) == 0);
    CHECK_INT(line[len - 1], '\n');
    bson_free(json);
    bson_free(line);
    bson_destroy(&doc);
}

/* A document the text cannot carry gets no line, and the whole reason in one message. */
CCOPY_TEST(bson_line_refuses_a_nan_payload_naming_id_and_field)
{
    bson_t doc = BSON_INITIALIZER, child;
    uint64_t bits = UINT64_C(0x7ff8000000000012);
    double payload;
    char *line = (char *)"untouched";
    size_t len = 7;
    ccopy_error_t e;

    memcpy(&payload, &bits, 8);
    BSON_APPEND_UTF8(&doc, "_id", "order-17");
    BSON_APPEND_DOCUMENT_BEGIN(&doc, "sensor", &child);
    BSON_APPEND_DOUBLE(&child, "reading", payload);
    bson_append_document_end(&doc, &child);
    CHECK_INT(_ccopy_jsonw_bson_line(&line, &len, &doc, &e), CCOPY_EREJECTED);
    CHECK(line == NULL);
    CHECK_INT(len, 0);
    CHECK_STR(e.message, "the document with _id \"order-17\" cannot be backed up as JSON lines: "
                         "field \"sensor.reading\" is a NaN with the bits 7ff8000000000012: "
                         "canonical Extended JSON has one NaN (7ff8000000000000); back this "
                         "collection up with --format bson");
    bson_destroy(&doc);
}

/* Code with scope inside scopes: 32 deep is a line; 40 deep, which the reader takes for
 * documents past 32 levels (to bound its work), is refused. */
static bson_t *nested_code_with_scope(int levels)
{
    bson_t *scope = bson_new();
    int i;

    BSON_APPEND_INT32(scope, "x", 1);
    for (i = 0; i < levels; i++) {
        bson_t *outer = bson_new();
        BSON_APPEND_CODE_WITH_SCOPE(outer, "k", "f()", scope);
        bson_destroy(scope);
        scope = outer;
    }
    return scope;
}

CCOPY_TEST(bson_line_takes_code_with_scope_32_deep_and_refuses_deeper)
{
    bson_t *doc;
    char *line = NULL;
    size_t len = 0;
    ccopy_error_t e;

    doc = nested_code_with_scope(32);
    CHECK_INT(_ccopy_jsonw_bson_line(&line, &len, doc, &e), 0);
    bson_free(line);
    bson_destroy(doc);

    doc = nested_code_with_scope(40);
    memset(&e, 0, sizeof e);
    CHECK_INT(_ccopy_jsonw_bson_line(&line, &len, doc, &e), CCOPY_EREJECTED);
    CHECK_CONTAINS(e.message, "field \"k\" is code with scope that reads back as different bytes");
    bson_destroy(doc);
}
