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

#endif
