/*
 * Fixtures shared by the unit suites that write and read windows: a scratch folder, and one
 * document of every BSON type, with the data FerretDB refuses (nested arrays, NaN, -0, keys
 * with '.' or '$', duplicate keys), so byte-exact fidelity is tested where no server can get in
 * the way.
 */
#ifndef CCOPY_TEST_FIXTURES_H
#define CCOPY_TEST_FIXTURES_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

/* A new folder under /tmp (free the name; remove it with ccopy_test_remove_tree). */
static inline char *ccopy_test_temp_dir(void)
{
    char tmpl[] = "/tmp/ccopy-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    return dir ? strdup(dir) : NULL;
}

static inline void ccopy_test_remove_tree(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", path);
}

/* doc (uninitialised) becomes the document of every type, _id 6955b9000000000000000001. */
static inline void ccopy_test_every_type_doc(bson_t *doc)
{
    bson_t child, grand, scope = BSON_INITIALIZER;
    bson_oid_t oid;
    bson_decimal128_t dec;
    uint8_t bin[5] = {0, 1, 2, 0xfe, 0xff};

    bson_init(doc);
    bson_oid_init_from_string(&oid, "6955b9000000000000000001");
    BSON_APPEND_OID(doc, "_id", &oid);
    BSON_APPEND_DOUBLE(doc, "double", 3.141592653589793);
    BSON_APPEND_DOUBLE(doc, "nan", NAN);
    BSON_APPEND_DOUBLE(doc, "neg_zero", -0.0);
    BSON_APPEND_DOUBLE(doc, "inf", INFINITY);
    BSON_APPEND_DOUBLE(doc, "ninf", -INFINITY);
    bson_append_utf8(doc, "nul_in_string", -1, "a\0b", 3);
    BSON_APPEND_UTF8(doc, "unicode", "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80");
    BSON_APPEND_DOCUMENT_BEGIN(doc, "doc", &child);
    BSON_APPEND_INT32(&child, "a.b", 1);
    BSON_APPEND_INT32(&child, "$dollar", 2);
    bson_append_document_end(doc, &child);
    BSON_APPEND_ARRAY_BEGIN(doc, "nested_array", &child);
    BSON_APPEND_ARRAY_BEGIN(&child, "0", &grand);
    BSON_APPEND_INT32(&grand, "0", 1);
    BSON_APPEND_INT32(&grand, "1", 2);
    bson_append_array_end(&child, &grand);
    BSON_APPEND_UTF8(&child, "1", "x");
    bson_append_array_end(doc, &child);
    BSON_APPEND_BINARY(doc, "bin_generic", BSON_SUBTYPE_BINARY, bin, sizeof bin);
    BSON_APPEND_BINARY(doc, "bin_uuid", BSON_SUBTYPE_UUID, (const uint8_t *)"0123456789abcdef", 16);
    BSON_APPEND_BINARY(doc, "bin_user", BSON_SUBTYPE_USER, bin, sizeof bin);
    BSON_APPEND_UNDEFINED(doc, "undefined");
    BSON_APPEND_BOOL(doc, "true", true);
    BSON_APPEND_BOOL(doc, "false", false);
    BSON_APPEND_DATE_TIME(doc, "date", INT64_C(1767225600123));
    BSON_APPEND_DATE_TIME(doc, "date_before_1970", INT64_C(-86400000));
    BSON_APPEND_NULL(doc, "null");
    BSON_APPEND_REGEX(doc, "regex", "^a.*b$", "imsx");
    BSON_APPEND_DBPOINTER(doc, "dbpointer", "db.coll", &oid);
    BSON_APPEND_CODE(doc, "code", "function () { return 1; }");
    BSON_APPEND_SYMBOL(doc, "symbol", "sym");
    BSON_APPEND_INT32(&scope, "x", 1);
    BSON_APPEND_CODE_WITH_SCOPE(doc, "code_w_scope", "x + 1", &scope);
    BSON_APPEND_INT32(doc, "int32", INT32_MIN);
    BSON_APPEND_TIMESTAMP(doc, "timestamp", 1767225600, 7);
    BSON_APPEND_INT64(doc, "int64", INT64_MAX);
    bson_decimal128_from_string("-1234.5678E-10", &dec);
    BSON_APPEND_DECIMAL128(doc, "decimal", &dec);
    BSON_APPEND_MINKEY(doc, "minkey");
    BSON_APPEND_MAXKEY(doc, "maxkey");
    BSON_APPEND_INT32(doc, "dup", 1);
    BSON_APPEND_INT32(doc, "dup", 2);
    bson_destroy(&scope);
}

/* ---- BSON the jsonl format must carry, or refuse ---------------------------------------- */

/* Documents as BSON hex, each with what it tests: every type with its edge values, keys that
 * look like Extended JSON operators, embedded NULs, every binary subtype, extreme dates and
 * doubles, Decimal128 specials, deprecated types, nesting. A jsonl window must give each back
 * byte for byte. Written for these tests after the cases of MongoDB's BSON corpus. */
typedef struct ccopy_test_vector {
    const char *what;
    const char *hex;
} ccopy_test_vector_t;

static const ccopy_test_vector_t ccopy_test_jsonl_vectors[] = {
    {"$regex key holding a document",
     "210000000361001900000003247265676578000c00000010780001000000000000"},
    {"$regex key holding a regular expression",
     "1b000000036100130000000b247265676578006162630069000000"},
    {"legacy $regex/$options shape with strings",
     "2d000000036100250000000224726567657800040000006162630002246f7074696f6e730002000000690000"
     "00"},
    {"top level $regex, $options and $banana",
     "3f00000002247265676578000c0000006e6f742d612d72656765780002246f7074696f6e7300020000006900"
     "022462616e616e6100050000007065656c0000"},
    {"$binary key holding a string", "1a000000022462696e6172790008000000616263646566670000"},
    {"$oid key holding a number", "170000000361000f00000010246f6964002a0000000000"},
    {"$oid key holding 23 hex digits",
     "2f0000000361002700000002246f696400180000003639353562393030303030303030303030303030303030"
     "000000"},
    {"$oid key holding uppercase hex",
     "300000000361002800000002246f696400190000003639353542393030303030303030303030303030303030"
     "31000000"},
    {"$date key holding a string",
     "2d000000036100250000000224646174650015000000323032362d30312d30315430303a30303a30305a0000"
     "00"},
    {"$type key holding a string",
     "1f000000037800170000000224747970650007000000737472696e67000000"},
    {"$type key holding an int", "180000000378001000000010247479706500020000000000"},
    {"$numberInt key holding an int", "1d0000000361001500000010246e756d626572496e7400010000000000"},
    {"$numberInt key holding a non-canonical string",
     "200000000361001800000002246e756d626572496e7400030000003031000000"},
    {"$numberDouble key holding a word",
     "240000000361001c00000002246e756d626572446f75626c6500040000006e616e000000"},
    {"$minKey key holding int32 1", "1a0000000361001200000010246d696e4b657900010000000000"},
    {"$maxKey key holding true", "170000000361000f00000008246d61784b657900010000"},
    {"$undefined key holding false", "1a000000036100120000000824756e646566696e656400000000"},
    {"$code key holding a number", "18000000036100100000001024636f6465002a0000000000"},
    {"$code, $scope and a third key",
     "2e000000036100260000000224636f646500020000007800032473636f7065000500000000107a0001000000"
     "0000"},
    {"$timestamp with string parts",
     "3000000003610028000000032474696d657374616d7000170000000274000200000031000269000200000032"
     "00000000"},
    {"$binary with keys reversed",
     "3800000003610030000000032462696e61727900220000000273756254797065000300000030300002626173"
     "653634000100000000000000"},
    {"$binary with uppercase subtype",
     "3800000003610030000000032462696e61727900220000000262617365363400010000000002737562547970"
     "650003000000384100000000"},
    {"$regularExpression with an extra key",
     "4b000000036100430000000324726567756c617245787072657373696f6e002a000000027061747465726e00"
     "020000006100026f7074696f6e730001000000000278000100000000000000"},
    {"dbref",
     "2d0000000361002500000002247265660005000000636f6c6c0007246964006955b900000000000000000100"
     "00"},
    {"dbref with $db",
     "390000000361003100000002247265660005000000636f6c6c0007246964006955b900000000000000000102"
     "24646200030000006462000000"},
    {"$dbPointer with a number", "1d0000000361001500000010246462506f696e74657200010000000000"},
    {"a chain of code-with-scope look-alikes",
     "5e000000036100560000000224636f646500020000003100032473636f70650035000000036b002d00000002"
     "24636f646500020000003200032473636f7065000c0000001079000100000000107a00020000000000107a00"
     "010000000000"},
    {"string with NULs", "1100000002730005000000610062000000"},
    {"code with NULs", "120000000d63000600000000610062000000"},
    {"code with scope with NULs",
     "220000000f63001a00000004000000610062000e0000000278000200000000000000"},
    {"symbol with NULs", "100000000e7900040000006100620000"},
    {"binary subtype 00", "110000000578000400000000ffff00fb00"},
    {"binary subtype 01", "110000000578000400000001ffff00fb00"},
    {"binary subtype 02", "15000000057800080000000204000000ffff00fb00"},
    {"binary subtype 03", "110000000578000400000003ffff00fb00"},
    {"binary subtype 04", "110000000578000400000004ffff00fb00"},
    {"binary subtype 05", "110000000578000400000005ffff00fb00"},
    {"binary subtype 06", "110000000578000400000006ffff00fb00"},
    {"binary subtype 07", "110000000578000400000007ffff00fb00"},
    {"binary subtype 08", "110000000578000400000008ffff00fb00"},
    {"binary subtype 09", "110000000578000400000009ffff00fb00"},
    {"binary subtype 80", "110000000578000400000080ffff00fb00"},
    {"binary subtype fe", "1100000005780004000000feffff00fb00"},
    {"binary subtype ff", "1100000005780004000000ffffff00fb00"},
    {"binary empty", "0d000000057800000000000000"},
    {"binary subtype 02 empty", "1100000005780004000000020000000000"},
    {"binary 1 and 2 bytes", "180000000578000100000000fb0579000200000000fbef00"},
    {"date 0", "10000000096400000000000000000000"},
    {"date -1", "10000000096400ffffffffffffffff00"},
    {"date -62135596800001", "10000000096400ff27d3ed7cc7ffff00"},
    {"date 253402300800000", "1000000009640000dc1fd277e6000000"},
    {"date -9223372036854775808", "10000000096400000000000000008000"},
    {"date 9223372036854775807", "10000000096400ffffffffffffff7f00"},
    {"date 1767225600123", "100000000964007ba8da769b01000000"},
    {"double 0000000000000000", "10000000016400000000000000000000"},
    {"double 8000000000000000", "10000000016400000000000000008000"},
    {"double 0000000000000001", "10000000016400010000000000000000"},
    {"double 000fffffffffffff", "10000000016400ffffffffffff0f0000"},
    {"double 0010000000000000", "10000000016400000000000000100000"},
    {"double 7fefffffffffffff", "10000000016400ffffffffffffef7f00"},
    {"double ffefffffffffffff", "10000000016400ffffffffffffefff00"},
    {"double 3ff0000000000000", "10000000016400000000000000f03f00"},
    {"double bff0001000000000", "10000000016400000000001000f0bf00"},
    {"double 43b12210f47de981", "1000000001640081e97df41022b14300"},
    {"double 3fb999999999999a", "100000000164009a9999999999b93f00"},
    {"double 7ff0000000000000", "10000000016400000000000000f07f00"},
    {"double fff0000000000000", "10000000016400000000000000f0ff00"},
    {"double 7ff8000000000000", "10000000016400000000000000f87f00"},
    {"double 3ff0000000000001", "10000000016400010000000000f03f00"},
    {"decimal128 0", "180000001364000000000000000000000000000000403000"},
    {"decimal128 -0", "18000000136400000000000000000000000000000040b000"},
    {"decimal128 1", "180000001364000100000000000000000000000000403000"},
    {"decimal128 NaN", "180000001364000000000000000000000000000000007c00"},
    {"decimal128 Inf", "180000001364000000000000000000000000000000007800"},
    {"decimal128 -Inf", "18000000136400000000000000000000000000000000f800"},
    {"decimal128 max", "18000000136400ffffffff638e8d37c087adbe09edff5f00"},
    {"decimal128 min subnormal 1E-6176", "180000001364000100000000000000000000000000000000"},
    {"decimal128 0E-6176", "180000001364000000000000000000000000000000000000"},
    {"decimal128 -0E+6111", "180000001364000000000000000000000000000000fedf00"},
    {"decimal128 -1.2345678E-4", "180000001364004e61bc00000000000000000000002cb000"},
    {"int32 extremes", "2100000010610000000080106200ffffff7f10630000000000106400ffffffff00"},
    {"int64 extremes",
     "260000001261000000000000000080126200ffffffffffffff7f126300000000000000000000"},
    {"timestamp extremes",
     "260000001161000000000000000000116200ffffffffffffffff1163000000008015cd5b0700"},
    {"undefined", "0800000006750000"},
    {"dbpointer", "200000000c70000800000064622e636f6c6c006955b900000000000000000100"},
    {"symbol", "100000000e79000400000073796d0000"},
    {"code empty and code with empty scope",
     "1e0000000d630001000000000f77000e0000000100000000050000000000"},
    {"minkey maxkey null bools", "16000000ff61007f62000a6300086400010865000000"},
    {"regex edge", "260000000b610000000b6200612f6222635c5c6400696d737578000b6300c3a9090069780000"},
    {"keys: empty, dotted, dollar, unicode, escapes",
     "3800000010000100000010612e620002000000102478000300000010c3a9e697a5f09f988000040000001071"
     "22625c011f7f000500000000"},
    {"empty key holding an empty doc", "0c0000000300050000000000"},
    {"duplicate keys", "13000000106b0001000000106b000200000000"},
    {"utf-8 edge cases",
     "4000000002610019000000c280dfbfe0a080efbfbff0908080f48fbfbfe280a8e280a9000262000c00000001"
     "1f7f225c2f080c0a0d0900026300010000000000"},
    {"nested 60 levels, documents and arrays",
     "d4030000037a00cc030000036e00c4030000033000ac030000036e00a40300000330008c030000036e008403"
     "00000330006c030000036e00640300000330004c030000036e00440300000330002c030000036e0024030000"
     "0330000c030000036e0004030000033000ec020000036e00e4020000033000cc020000036e00c40200000330"
     "00ac020000036e00a40200000330008c020000036e00840200000330006c020000036e00640200000330004c"
     "020000036e00440200000330002c020000036e00240200000330000c020000036e0004020000033000ec0100"
     "00036e00e4010000033000cc010000036e00c4010000033000ac010000036e00a40100000330008c01000003"
     "6e00840100000330006c010000036e00640100000330004c010000036e00440100000330002c010000036e00"
     "240100000330000c010000036e0004010000033000ec000000036e00e4000000033000cc000000036e00c400"
     "0000033000ac000000036e00a40000000330008c000000036e00840000000330006c000000036e0064000000"
     "0330004c000000036e00440000000330002c000000036e00240000000330000c000000107800010000000004"
     "3100050000000003320005000000000000043100050000000003320005000000000000043100050000000003"
     "3200050000000000000431000500000000033200050000000000000431000500000000033200050000000000"
     "0004310005000000000332000500000000000004310005000000000332000500000000000004310005000000"
     "0003320005000000000000043100050000000003320005000000000000043100050000000003320005000000"
     "0000000431000500000000033200050000000000000431000500000000033200050000000000000431000500"
     "0000000332000500000000000004310005000000000332000500000000000004310005000000000332000500"
     "0000000000043100050000000003320005000000000000043100050000000003320005000000000000043100"
     "0500000000033200050000000000000431000500000000033200050000000000000431000500000000033200"
     "0500000000000004310005000000000332000500000000000004310005000000000332000500000000000004"
     "3100050000000003320005000000000000043100050000000003320005000000000000043100050000000003"
     "3200050000000000000431000500000000033200050000000000000431000500000000033200050000000000"
     "0004310005000000000332000500000000000004310005000000000332000500000000000004310005000000"
     "000332000500000000000000"},
    {"array of every scalar",
     "4b00000004610043000000103000010000000231000200000073000a3200063300ff34007f35000836000101"
     "370000000000000000800d3800030000006300000e39000200000079000000"},
    {"empty document", "0500000000"},
};
#define CCOPY_TEST_JSONL_VECTORS \
    (sizeof ccopy_test_jsonl_vectors / sizeof ccopy_test_jsonl_vectors[0])

/* Documents canonical Extended JSON cannot carry (the corpus marks NaN payloads "lossy"; a
 * document shaped like a type wrapper reads back as that type): a jsonl backup refuses each,
 * naming its _id ({"$numberInt" : "N"}) and the field. */
typedef struct ccopy_test_refusal {
    const char *what;
    const char *field;
    const char *hex;
} ccopy_test_refusal_t;

static const ccopy_test_refusal_t ccopy_test_jsonl_refusals[] = {
    {"double NaN with a payload", "d", "19000000105f69640001000000016400120000000000f87f00"},
    {"double negative NaN", "x.d",
     "21000000105f6964000200000003780010000000016400000000000000f8ff0000"},
    {"double signaling NaN", "a.1",
     "28000000105f696400030000000461001700000010300001000000013100010000000000f07f0000"},
    {"Decimal128 negative NaN", "d",
     "21000000105f69640004000000136400000000000000000000000000000000fc00"},
    {"Decimal128 signaling NaN", "d",
     "21000000105f696400050000001364000000000000000000000000000000007e00"},
    {"Decimal128 invalid representation", "d",
     "21000000105f696400060000001364000000000000000000000000000000106c00"},
    {"document shaped like an ObjectId", "a.b",
     "41000000105f69640007000000036100300000000362002800000002246f6964001900000036393535623930"
     "303030303030303030303030303030303100000000"},
    {"document shaped like undefined", "u",
     "23000000105f69640008000000037500120000000824756e646566696e656400010000"},
    {"document shaped like an int64", "n",
     "29000000105f69640009000000036e001800000002246e756d6265724c6f6e67000200000035000000"},
    {"document shaped like code", "c",
     "23000000105f6964000a000000036300120000000224636f6465000200000078000000"},
    {"document shaped like a date", "t",
     "35000000105f6964000b00000003740024000000032464617465001800000002246e756d6265724c6f6e6700"
     "020000003100000000"},
    {"document shaped like a double", "f",
     "2d000000105f6964000c0000000366001c00000002246e756d626572446f75626c650004000000312e350000"
     "00"},
    {"array with keys out of order", "a.1",
     "24000000105f6964000d0000000461001300000010310001000000103000020000000000"},
    {"document shaped like a date, with an int64", "a",
     "25000000105f6964000e000000036100140000001224646174650005000000000000000000"},
    {"code and scope look-alike whose scope is an int32", "a",
     "2e000000105f6964000f0000000361001d0000000224636f6465000100000000102473636f7065002a000000"
     "0000"},
    {"DBPointer with a NUL in its namespace", "p",
     "29000000105f696400100000000c700008000000646200636f6c6c006955b900000000000000000100"},
    {"regular expression with unsorted options", "r",
     "16000000105f696400110000000b7200610078690000"},
};
#define CCOPY_TEST_JSONL_REFUSALS \
    (sizeof ccopy_test_jsonl_refusals / sizeof ccopy_test_jsonl_refusals[0])

/* doc (uninitialised) becomes the document the hex spells; 0 when it is not BSON. */
static inline int ccopy_test_bson_from_hex(bson_t *doc, const char *hex)
{
    size_t n = strlen(hex) / 2, i;
    uint8_t *bytes = malloc(n ? n : 1);
    int ok;

    for (i = 0; i < n; i++) {
        unsigned byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
            byte = 0;
        bytes[i] = (uint8_t)byte;
    }
    {
        bson_t view;
        ok = bson_init_static(&view, bytes, n);
        if (ok)
            bson_copy_to(&view, doc);
    }
    free(bytes);
    return ok;
}

#endif
