/*
 * Unit tests for manifests: the exact JSON the engine writes, reading it back (round trips for
 * both kinds, _id values of several BSON types), and every way a manifest can be missing a field
 * or hold a malformed one. Variants of a good manifest are built with libbson, an independent
 * JSON writer, so the parser is not only tested against our own output.
 */
#include <bson/bson.h>

#include "cosmocopy/manifest.h"
#include "extjson.h"
#include "harness.h"

#define SHA "bba2c3b38a63fc48a5ba79593a2f83aae400ad9e770a4257759a8f8e5d89effb"

static const char window_json[] =
    "{\n"
    "  \"format_version\": 1,\n"
    "  \"kind\": \"window\",\n"
    "  \"database\": \"shop\",\n"
    "  \"collection\": \"orders\",\n"
    "  \"window\": {\n"
    "    \"start\": \"2026-01-01T00:00:00Z\",\n"
    "    \"end\": \"2026-01-01T04:00:00Z\",\n"
    "    \"start_epoch\": 1767225600,\n"
    "    \"end_epoch\": 1767240000\n"
    "  },\n"
    "  \"documents\": 3,\n"
    "  \"bytes\": 312,\n"
    "  \"stored_bytes\": 201,\n"
    "  \"data\": \"20260101T000000Z_20260101T040000Z.bson.gz\",\n"
    "  \"sha256\": \"" SHA "\",\n"
    "  \"first_id\": { \"$oid\" : \"6955b9000000000000000001\" },\n"
    "  \"last_id\": { \"$oid\" : \"6955f13f0000000000000003\" },\n"
    "  \"format\": \"bson\",\n"
    "  \"compression\": \"gzip\",\n"
    "  \"engine_version\": \"0.1.0\",\n"
    "  \"completed_at\": \"2026-01-01T04:05:00Z\"\n"
    "}";

static const char non_objectid_json[] =
    "{\n"
    "  \"format_version\": 1,\n"
    "  \"kind\": \"non-objectid\",\n"
    "  \"database\": \"caf\xc3\xa9 \\\"db\\\"\",\n"
    "  \"collection\": \"line\\nbreak\",\n"
    "  \"window\": null,\n"
    "  \"documents\": 0,\n"
    "  \"bytes\": 0,\n"
    "  \"stored_bytes\": 0,\n"
    "  \"data\": \"non-objectid.jsonl\",\n"
    "  \"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\n"
    "  \"first_id\": null,\n"
    "  \"last_id\": null,\n"
    "  \"format\": \"jsonl\",\n"
    "  \"compression\": \"none\",\n"
    "  \"engine_version\": \"0.1.0\",\n"
    "  \"completed_at\": \"2026-01-02T00:00:00Z\"\n"
    "}";

/* The manifest that window_json describes; strings are borrowed. */
static ccopy_manifest_t window_manifest(void)
{
    ccopy_manifest_t m;

    memset(&m, 0, sizeof m);
    m.format_version = 1;
    m.kind = CCOPY_MANIFEST_WINDOW;
    m.database = "shop";
    m.collection = "orders";
    m.window.start = 1767225600;
    m.window.end = 1767240000;
    m.documents = 3;
    m.bytes = 312;
    m.stored_bytes = 201;
    m.data = "20260101T000000Z_20260101T040000Z.bson.gz";
    strcpy(m.sha256, SHA);
    m.first_id = "{ \"$oid\" : \"6955b9000000000000000001\" }";
    m.last_id = "{ \"$oid\" : \"6955f13f0000000000000003\" }";
    m.format = "bson";
    m.compression = "gzip";
    m.engine_version = "0.1.0";
    m.completed_at = "2026-01-01T04:05:00Z";
    return m;
}

static ccopy_manifest_t non_objectid_manifest(void)
{
    ccopy_manifest_t m;

    memset(&m, 0, sizeof m);
    m.format_version = 1;
    m.kind = CCOPY_MANIFEST_NON_OBJECTID;
    m.database = "caf\xc3\xa9 \"db\"";
    m.collection = "line\nbreak";
    m.data = "non-objectid.jsonl";
    strcpy(m.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    m.format = "jsonl";
    m.compression = "none";
    m.engine_version = "0.1.0";
    m.completed_at = "2026-01-02T00:00:00Z";
    return m;
}

static int is_zeroed(const ccopy_manifest_t *m)
{
    static const ccopy_manifest_t zero;
    return memcmp(m, &zero, sizeof zero) == 0;
}

/* window_json with one field removed (replacement NULL) or replaced by a JSON value, written
 * by libbson as relaxed Extended JSON. */
static char *variant(const char *base, const char *field, const char *replacement)
{
    bson_t *doc = bson_new_from_json((const uint8_t *)base, -1, NULL);
    bson_t edited;
    char *json;

    bson_init(&edited);
    bson_copy_to_excluding_noinit(doc, &edited, field, NULL);
    if (replacement) {
        char *holder = bson_strdup_printf("{\"v\": %s}", replacement);
        bson_t *value = bson_new_from_json((const uint8_t *)holder, -1, NULL);
        bson_iter_t it;
        CHECK(value != NULL);
        CHECK(bson_iter_init_find(&it, value, "v"));
        bson_append_iter(&edited, field, -1, &it);
        bson_destroy(value);
        bson_free(holder);
    }
    json = bson_as_relaxed_extended_json(&edited, NULL);
    bson_destroy(&edited);
    bson_destroy(doc);
    return json;
}

/* Parsing the variant fails with ECORRUPT and exactly this message; out is left zeroed. */
static void check_rejected(const char *base, const char *field, const char *replacement,
                           const char *message)
{
    char *json = variant(base, field, replacement);
    ccopy_manifest_t m;
    ccopy_error_t error;

    memset(&error, 0, sizeof error);
    CHECK_INT(ccopy_manifest_from_json(&m, json, strlen(json), &error), CCOPY_ECORRUPT);
    CHECK_INT(error.code, CCOPY_ECORRUPT);
    CHECK_INT(error.domain, CCOPY_DOMAIN_ENGINE);
    CHECK_STR(error.message, message);
    CHECK(is_zeroed(&m));
    bson_free(json);
}

/* Parsing the variant succeeds; the caller inspects and cleans up m. */
static void parse_variant(ccopy_manifest_t *m, const char *base, const char *field,
                          const char *replacement)
{
    char *json = variant(base, field, replacement);
    ccopy_error_t error;

    CHECK_INT(ccopy_manifest_from_json(m, json, strlen(json), &error), 0);
    bson_free(json);
}

/* from_json then to_json gives back exactly the text. */
static void check_fixed_point(const char *json)
{
    ccopy_manifest_t m;
    ccopy_error_t error;
    char *again = NULL;

    CHECK_INT(ccopy_manifest_from_json(&m, json, strlen(json), &error), 0);
    CHECK_INT(ccopy_manifest_to_json(&again, &m, &error), 0);
    CHECK_STR(again, json);
    ccopy_free(again);
    ccopy_manifest_cleanup(&m);
}

CCOPY_TEST(to_json_window_exact_text)
{
    ccopy_manifest_t m = window_manifest();
    ccopy_error_t error;
    char *json = NULL;

    CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), 0);
    CHECK_STR(json, window_json);
    ccopy_free(json);
}

CCOPY_TEST(to_json_non_objectid_exact_text)
{
    ccopy_manifest_t m = non_objectid_manifest();
    ccopy_error_t error;
    char *json = NULL;

    m.window.start = 5; /* ignored for this kind */
    CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), 0);
    CHECK_STR(json, non_objectid_json);
    ccopy_free(json);
}

CCOPY_TEST(from_json_window)
{
    ccopy_manifest_t m;
    ccopy_error_t error;

    CHECK_INT(ccopy_manifest_from_json(&m, window_json, strlen(window_json), &error), 0);
    CHECK_INT(m.format_version, 1);
    CHECK_INT(m.kind, CCOPY_MANIFEST_WINDOW);
    CHECK_STR(m.database, "shop");
    CHECK_STR(m.collection, "orders");
    CHECK_INT(m.window.start, 1767225600);
    CHECK_INT(m.window.end, 1767240000);
    CHECK_INT(m.documents, 3);
    CHECK_INT(m.bytes, 312);
    CHECK_INT(m.stored_bytes, 201);
    CHECK_STR(m.data, "20260101T000000Z_20260101T040000Z.bson.gz");
    CHECK_STR(m.sha256, SHA);
    CHECK_STR(m.first_id, "{ \"$oid\" : \"6955b9000000000000000001\" }");
    CHECK_STR(m.last_id, "{ \"$oid\" : \"6955f13f0000000000000003\" }");
    CHECK_STR(m.format, "bson");
    CHECK_STR(m.compression, "gzip");
    CHECK_STR(m.engine_version, "0.1.0");
    CHECK_STR(m.completed_at, "2026-01-01T04:05:00Z");
    ccopy_manifest_cleanup(&m);
    CHECK(is_zeroed(&m));
}

CCOPY_TEST(from_json_non_objectid)
{
    ccopy_manifest_t m;
    ccopy_error_t error;

    CHECK_INT(ccopy_manifest_from_json(&m, non_objectid_json, strlen(non_objectid_json), &error), 0);
    CHECK_INT(m.kind, CCOPY_MANIFEST_NON_OBJECTID);
    CHECK_STR(m.database, "caf\xc3\xa9 \"db\"");
    CHECK_STR(m.collection, "line\nbreak");
    CHECK_INT(m.window.start, 0);
    CHECK_INT(m.window.end, 0);
    CHECK_INT(m.documents, 0);
    CHECK(m.first_id == NULL);
    CHECK(m.last_id == NULL);
    CHECK_STR(m.format, "jsonl");
    CHECK_STR(m.compression, "none");
    ccopy_manifest_cleanup(&m);
}

CCOPY_TEST(round_trip_both_kinds)
{
    check_fixed_point(window_json);
    check_fixed_point(non_objectid_json);
}

CCOPY_TEST(ids_of_several_types_survive_round_trip)
{
    static const char *const ids[] = {
        "{ \"$oid\" : \"6955b9000000000000000001\" }",
        "\"order-17\"",
        "\"quote \\\" and caf\xc3\xa9\"",
        "{ \"$numberLong\" : \"5000000000\" }",
        "{ \"$numberInt\" : \"7\" }",
        "{ \"$numberDouble\" : \"1.5\" }",
        "{ \"$numberDecimal\" : \"12.50\" }",
        "{ \"$date\" : { \"$numberLong\" : \"1767225600000\" } }",
        "{ \"$binary\" : { \"base64\" : \"AAECAwQFBgcICQoLDA0ODw==\", \"subType\" : \"04\" } }",
        "{ \"region\" : \"eu\", \"n\" : { \"$numberInt\" : \"1\" } }",
        "[ { \"$numberInt\" : \"1\" }, \"two\" ]",
        "true",
        /* what libbson's reader refused or cut (issue 9) */
        "{ \"$regex\" : { \"x\" : { \"$numberInt\" : \"1\" } } }",
        "{ \"$symbol\" : \"a\\u0000b\" }",
    };
    size_t i;

    for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        ccopy_manifest_t m = window_manifest(), back;
        ccopy_error_t error;
        char *json = NULL, *again = NULL;

        m.first_id = (char *)ids[i];
        m.last_id = (char *)ids[i];
        CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), 0);
        CHECK_INT(ccopy_manifest_from_json(&back, json, strlen(json), &error), 0);
        CHECK_STR(back.first_id, ids[i]);
        CHECK_STR(back.last_id, ids[i]);
        CHECK_INT(ccopy_manifest_to_json(&again, &back, &error), 0);
        CHECK_STR(again, json);
        ccopy_free(json);
        ccopy_free(again);
        ccopy_manifest_cleanup(&back);
    }
}

CCOPY_TEST(ids_written_by_others_become_canonical)
{
    ccopy_manifest_t m;
    ccopy_error_t error;
    char *json = NULL;

    /* libbson's relaxed writer, like a person editing by hand, writes 5 and {"$oid": ...};
     * once read, the canonical text is written and read back unchanged. */
    parse_variant(&m, window_json, "first_id", "5");
    CHECK_STR(m.first_id, "{ \"$numberInt\" : \"5\" }");
    CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), 0);
    check_fixed_point(json);
    ccopy_free(json);
    ccopy_manifest_cleanup(&m);

    parse_variant(&m, window_json, "first_id", "{\"$oid\":\"6955b9000000000000000001\"}");
    CHECK_STR(m.first_id, "{ \"$oid\" : \"6955b9000000000000000001\" }");
    ccopy_manifest_cleanup(&m);

    parse_variant(&m, window_json, "last_id", "{\"$numberLong\": \"5000000000\"}");
    CHECK_STR(m.last_id, "{ \"$numberLong\" : \"5000000000\" }");
    ccopy_manifest_cleanup(&m);

    parse_variant(&m, window_json, "last_id", "\"plain\"");
    CHECK_STR(m.last_id, "\"plain\"");
    ccopy_manifest_cleanup(&m);
}

CCOPY_TEST(optional_fields)
{
    ccopy_manifest_t m;

    parse_variant(&m, window_json, "first_id", NULL);
    CHECK(m.first_id == NULL);
    CHECK(m.last_id != NULL);
    ccopy_manifest_cleanup(&m);

    parse_variant(&m, window_json, "engine_version", NULL);
    CHECK(m.engine_version == NULL);
    ccopy_manifest_cleanup(&m);

    parse_variant(&m, window_json, "completed_at", "null");
    CHECK(m.completed_at == NULL);
    ccopy_manifest_cleanup(&m);

    parse_variant(&m, non_objectid_json, "window", NULL);
    CHECK_INT(m.kind, CCOPY_MANIFEST_NON_OBJECTID);
    ccopy_manifest_cleanup(&m);

    /* Fields a later version may add are ignored. */
    parse_variant(&m, window_json, "verified_at", "\"2026-02-01T00:00:00Z\"");
    CHECK_STR(m.database, "shop");
    ccopy_manifest_cleanup(&m);
}

CCOPY_TEST(missing_required_fields)
{
    static const char *const required[] = {"format_version", "kind", "database", "collection", "window",
                                           "documents", "bytes", "stored_bytes", "data", "sha256",
                                           "format", "compression"};
    size_t i;

    for (i = 0; i < sizeof required / sizeof required[0]; i++) {
        char message[128];
        snprintf(message, sizeof message, "manifest field \"%s\" is missing", required[i]);
        check_rejected(window_json, required[i], NULL, message);
    }
    check_rejected(window_json, "window", "{\"start_epoch\": 1767225600}",
                   "manifest field \"window.end_epoch\" is missing");
    check_rejected(window_json, "window", "{\"end_epoch\": 1767240000}",
                   "manifest field \"window.start_epoch\" is missing");
}

#define MUST_BE(field, rule) "manifest field \"" field "\" must be " rule
#define COUNT "a non-negative integer"

CCOPY_TEST(wrong_types)
{
    check_rejected(window_json, "format_version", "\"1\"", MUST_BE("format_version", COUNT));
    check_rejected(window_json, "kind", "1", MUST_BE("kind", "a string"));
    check_rejected(window_json, "database", "5", MUST_BE("database", "a string"));
    check_rejected(window_json, "collection", "null", MUST_BE("collection", "a string"));
    check_rejected(window_json, "data", "[\"a\"]", MUST_BE("data", "a string"));
    check_rejected(window_json, "format", "{}", MUST_BE("format", "a string"));
    check_rejected(window_json, "compression", "true", MUST_BE("compression", "a string"));
    check_rejected(window_json, "engine_version", "1", MUST_BE("engine_version", "a string"));
    check_rejected(window_json, "completed_at", "{\"$date\": \"2026-01-01T00:00:00Z\"}",
                   MUST_BE("completed_at", "a string"));
    check_rejected(window_json, "documents", "\"3\"", MUST_BE("documents", COUNT));
    check_rejected(window_json, "documents", "-1", MUST_BE("documents", COUNT));
    check_rejected(window_json, "documents", "1.5", MUST_BE("documents", COUNT));
    check_rejected(window_json, "bytes", "{\"$numberLong\": \"-5\"}", MUST_BE("bytes", COUNT));
    check_rejected(window_json, "stored_bytes", "1e300", MUST_BE("stored_bytes", COUNT));
    check_rejected(window_json, "stored_bytes", "null", MUST_BE("stored_bytes", COUNT));
    check_rejected(window_json, "window", "\"2026-01-01\"", MUST_BE("window", "an object"));
    check_rejected(window_json, "window", "null", MUST_BE("window", "an object"));
    check_rejected(window_json, "window", "{\"start_epoch\": \"0\", \"end_epoch\": 1}",
                   MUST_BE("window.start_epoch", COUNT));
    check_rejected(non_objectid_json, "window", "{\"start_epoch\": 0, \"end_epoch\": 1}",
                   MUST_BE("window", "null for kind \"non-objectid\""));
}

CCOPY_TEST(wrong_values)
{
    check_rejected(window_json, "format_version", "2",
                   "manifest field \"format_version\" is 2; this engine reads version 1");
    check_rejected(window_json, "kind", "\"full\"", MUST_BE("kind", "\"window\" or \"non-objectid\""));
    check_rejected(window_json, "window", "{\"start_epoch\": 1767240000, \"end_epoch\": 1767225600}",
                   "manifest field \"window\": invalid window "
                   "[2026-01-01T04:00:00Z, 2026-01-01T00:00:00Z): start is not before end");
}

CCOPY_TEST(integral_numbers_of_any_type)
{
    ccopy_manifest_t m;

    parse_variant(&m, window_json, "documents", "3.0");
    CHECK_INT(m.documents, 3);
    ccopy_manifest_cleanup(&m);
    parse_variant(&m, window_json, "bytes", "1e3");
    CHECK_INT(m.bytes, 1000);
    ccopy_manifest_cleanup(&m);
    parse_variant(&m, window_json, "stored_bytes", "9007199254740993");
    CHECK_INT(m.stored_bytes, INT64_C(9007199254740993));
    ccopy_manifest_cleanup(&m);
    parse_variant(&m, window_json, "documents", "{\"$numberLong\": \"12\"}");
    CHECK_INT(m.documents, 12);
    ccopy_manifest_cleanup(&m);
    parse_variant(&m, window_json, "format_version", "1.0");
    CHECK_INT(m.format_version, 1);
    ccopy_manifest_cleanup(&m);
}

CCOPY_TEST(bad_sha256)
{
    static const char *const bad[] = {
        "\"BBA2C3B38A63FC48A5BA79593A2F83AAE400AD9E770A4257759A8F8E5D89EFFB\"",
        "\"bba2c3b38a63fc48a5ba79593a2f83aae400ad9e770a4257759a8f8e5d89eff\"",
        "\"bba2c3b38a63fc48a5ba79593a2f83aae400ad9e770a4257759a8f8e5d89effb0\"",
        "\"zba2c3b38a63fc48a5ba79593a2f83aae400ad9e770a4257759a8f8e5d89effb\"",
        "\"\"",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_rejected(window_json, "sha256", bad[i], MUST_BE("sha256", "64 lower-case hex digits"));
    check_rejected(window_json, "sha256", "42", MUST_BE("sha256", "a string"));
}

CCOPY_TEST(invalid_json)
{
    static const char *const bad[] = {"", "{", "not json", "{\"format_version\": 1,}",
                                      "{\"a\": 1} junk"};
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ccopy_manifest_t m;
        ccopy_error_t error;

        memset(&error, 0, sizeof error);
        CHECK_INT(ccopy_manifest_from_json(&m, bad[i], strlen(bad[i]), &error), CCOPY_ECORRUPT);
        CHECK_INT(error.domain, CCOPY_DOMAIN_ENGINE);
        CHECK_CONTAINS(error.message, "manifest is not valid JSON: ");
        CHECK(strlen(error.message) > strlen("manifest is not valid JSON: "));
        CHECK(is_zeroed(&m));
    }
}

CCOPY_TEST(length_is_respected)
{
    ccopy_manifest_t m;
    ccopy_error_t error;
    char *padded = malloc(sizeof window_json + 10);

    /* The text after len is not part of the manifest. */
    memcpy(padded, window_json, sizeof window_json - 1);
    memcpy(padded + sizeof window_json - 1, "garbage!!", 10);
    CHECK_INT(ccopy_manifest_from_json(&m, padded, sizeof window_json - 1, &error), 0);
    CHECK_STR(m.database, "shop");
    ccopy_manifest_cleanup(&m);
    CHECK_INT(ccopy_manifest_from_json(&m, padded, sizeof window_json - 5, &error), CCOPY_ECORRUPT);
    CHECK(is_zeroed(&m));
    free(padded);
}

CCOPY_TEST(failure_late_in_parse_leaks_nothing)
{
    ccopy_manifest_t m;
    ccopy_error_t error;
    char *json = variant(window_json, "compression", "7");

    /* Every other string was already copied when compression is found wrong. */
    CHECK_INT(ccopy_manifest_from_json(&m, json, strlen(json), &error), CCOPY_ECORRUPT);
    CHECK(is_zeroed(&m));
    CHECK_INT(ccopy_manifest_from_json(&m, json, strlen(json), NULL), CCOPY_ECORRUPT);
    bson_free(json);
}

CCOPY_TEST(to_json_refuses_what_cannot_be_read)
{
    ccopy_manifest_t m;
    ccopy_error_t error;
    char *json = (char *)"unchanged";

    m = window_manifest();
    m.database = NULL;
    CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), CCOPY_EINVAL);
    CHECK(json == NULL);
    CHECK_STR(error.message, "cannot write a manifest without \"database\"");

    m = window_manifest();
    m.compression = NULL;
    CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), CCOPY_EINVAL);
    CHECK_CONTAINS(error.message, "\"compression\"");

    m = window_manifest();
    m.format_version = 0;
    CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), CCOPY_EINVAL);
    CHECK_CONTAINS(error.message, "format_version 0");

    m = window_manifest();
    m.kind = (ccopy_manifest_kind_t)7;
    CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), CCOPY_EINVAL);
    CHECK_CONTAINS(error.message, "unknown kind 7");

    m = window_manifest();
    m.window.end = m.window.start;
    CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), CCOPY_EINVAL);
    CHECK_CONTAINS(error.message, "cannot write the manifest of shop.orders: invalid window");

    m = window_manifest();
    m.documents = -1;
    CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), CCOPY_EINVAL);

    m = window_manifest();
    m.sha256[0] = '\0';
    CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), CCOPY_EINVAL);
    CHECK_CONTAINS(error.message, "sha256");

    m = window_manifest();
    m.engine_version = NULL;
    m.first_id = NULL;
    CHECK_INT(ccopy_manifest_to_json(&json, &m, &error), 0);
    CHECK_CONTAINS(json, "\"engine_version\": null,\n");
    CHECK_CONTAINS(json, "\"first_id\": null,\n");
    check_fixed_point(json);
    ccopy_free(json);
}

/* A window's first and last _id are written as text only when the text reads back as the same
 * value: libbson prints a Decimal128 whose coefficient has more than 34 digits, which reads back
 * as another number (found by tests/fuzz/fuzz_extjson). */
CCOPY_TEST(ids_are_written_only_when_they_read_back)
{
    bson_value_t v;
    char *text;

    memset(&v, 0, sizeof v);
    v.value_type = BSON_TYPE_DECIMAL128;
    v.value.v_decimal128.high = UINT64_C(0x3041FFFFFFFFFFFF); /* coefficient 2^113 - 1 */
    v.value.v_decimal128.low = UINT64_MAX;
    CHECK(_ccopy_bson_value_to_json(&v) == NULL);

    v.value.v_decimal128.high = UINT64_C(0x3040000000000000);
    v.value.v_decimal128.low = 5;
    text = _ccopy_bson_value_to_json(&v);
    CHECK_STR(text, "{ \"$numberDecimal\" : \"5\" }");
    free(text);

    memset(&v, 0, sizeof v);
    v.value_type = BSON_TYPE_DOUBLE;
    v.value.v_double = -0.0;
    text = _ccopy_bson_value_to_json(&v);
    CHECK_STR(text, "{ \"$numberDouble\" : \"-0.0\" }");
    free(text);
}

CCOPY_TEST(cleanup_accepts_null_and_zeroes)
{
    ccopy_manifest_t m;
    ccopy_error_t error;

    ccopy_manifest_cleanup(NULL);
    CHECK_INT(ccopy_manifest_from_json(&m, window_json, strlen(window_json), &error), 0);
    ccopy_manifest_cleanup(&m);
    CHECK(is_zeroed(&m));
    ccopy_manifest_cleanup(&m);
}
