/*
 * Reading one line of canonical Extended JSON back into the exact BSON it was written from (see
 * extjson.h). A recursive-descent parser writes BSON straight into one growing buffer: an
 * element's type byte is reserved, its key written, and the type filled in once the value says
 * what it is. An object is a type wrapper only when its keys and values have exactly the shape
 * the canonical form gives that type ({"$oid": "<24 hex>"}, {"$date": {"$numberLong": "..."}},
 * ...); any other object, "$"-keys or not, is a plain embedded document. Only "$code" with
 * "$scope" holds a document inside a wrapper: the scope is skimmed first to see that the object
 * closes after it, so no text is parsed more than twice at one level and a chain of look-alike
 * objects cannot make the work grow exponentially; and only within 32 nested "$code" objects, so
 * the skims add up to at most 32 passes over the line. JSON tokens, strings and numbers are read
 * by extjson_scan.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extjson_scan.h"

/* libbson writes documents up to 200 levels deep; a line nested deeper is not ours. */
#define MAX_DEPTH 512
/* Objects starting with "$code" that may be code with scope, nested: each skims its scope, so
 * this bounds the work at that many passes over the line. Deeper ones are documents. */
#define MAX_CODE_NESTING 32

/* A bare number (relaxed Extended JSON, which the canonical form never writes outside $timestamp
 * and $minKey/$maxKey): int32 when it fits, else int64, else a double, as libbson reads it. */
static int bare_number(parser_t *ps, size_t type_at)
{
    size_t n = _ccopy_extjson_number_extent(ps);
    int64_t whole;
    double real;

    if (_ccopy_extjson_integer(ps->p, n, INT32_MIN, INT32_MAX, &whole)) {
        ps->buf[type_at] = BSON_TYPE_INT32;
        ps->p += n;
        return put_le32(ps, (uint32_t)(int32_t)whole);
    }
    if (_ccopy_extjson_integer(ps->p, n, INT64_MIN, INT64_MAX, &whole)) {
        ps->buf[type_at] = BSON_TYPE_INT64;
        ps->p += n;
        return put_le64(ps, (uint64_t)whole);
    }
    if (_ccopy_extjson_double(ps->p, n, &real)) {
        uint64_t bits;
        memcpy(&bits, &real, 8);
        ps->buf[type_at] = BSON_TYPE_DOUBLE;
        ps->p += n;
        return put_le64(ps, bits);
    }
    return _ccopy_extjson_fail(ps, "a number that is not JSON");
}

/* A bare unsigned 32-bit integer ($timestamp's t and i). */
static int bare_uint32(parser_t *ps, uint32_t *out)
{
    size_t n;
    int64_t value;

    skip_ws(ps);
    n = _ccopy_extjson_number_extent(ps);
    if (!_ccopy_extjson_integer(ps->p, n, 0, UINT32_MAX, &value))
        return NOT_WRAPPER;
    ps->p += n;
    *out = (uint32_t)value;
    return OK;
}

/* ---- documents --------------------------------------------------------------------------- */

static int value(parser_t *ps, size_t type_at);

/* The terminator and length of the document or array begun at start, one level up again. */
static int end_container(parser_t *ps, size_t start)
{
    if (put_byte(ps, 0) != OK)
        return FAILED;
    store_le32(ps->buf + start, (uint32_t)(ps->len - start));
    ps->depth--;
    return OK;
}

/* The body of a JSON object as a BSON document: length, elements, terminator. */
static int document(parser_t *ps)
{
    size_t start = ps->len, type_at, n;

    if (++ps->depth > MAX_DEPTH)
        return _ccopy_extjson_fail(ps, "documents nested deeper than %d levels", MAX_DEPTH);
    if (_ccopy_extjson_expect(ps, '{') != OK || put_le32(ps, 0) != OK)
        return FAILED;
    if (!accept(ps, '}')) {
        do {
            type_at = ps->len;
            if (put_byte(ps, 0) != OK)
                return FAILED;
            skip_ws(ps);
            if (_ccopy_extjson_string(ps, 1, &n) != OK || put_byte(ps, 0) != OK ||
                _ccopy_extjson_expect(ps, ':') != OK || value(ps, type_at) != OK)
                return FAILED;
        } while (accept(ps, ','));
        if (_ccopy_extjson_expect(ps, '}') != OK)
            return FAILED;
    }
    return end_container(ps, start);
}

static int array(parser_t *ps)
{
    size_t start = ps->len, type_at;
    unsigned long index = 0;
    char key[24];

    if (++ps->depth > MAX_DEPTH)
        return _ccopy_extjson_fail(ps, "arrays nested deeper than %d levels", MAX_DEPTH);
    if (_ccopy_extjson_expect(ps, '[') != OK || put_le32(ps, 0) != OK)
        return FAILED;
    if (!accept(ps, ']')) {
        do {
            int n = snprintf(key, sizeof key, "%lu", index++);
            type_at = ps->len;
            if (put_byte(ps, 0) != OK || put(ps, key, (size_t)n + 1) != OK ||
                value(ps, type_at) != OK)
                return FAILED;
        } while (accept(ps, ','));
        if (_ccopy_extjson_expect(ps, ']') != OK)
            return FAILED;
    }
    return end_container(ps, start);
}

/* ---- type wrappers ----------------------------------------------------------------------- */

/* A string value as BSON's string form: int32 length (with terminator), bytes, zero. */
static int bson_string(parser_t *ps)
{
    size_t at = ps->len, n;

    if (put_le32(ps, 0) != OK || _ccopy_extjson_string(ps, 0, &n) != OK || put_byte(ps, 0) != OK)
        return NOT_WRAPPER;
    store_le32(ps->buf + at, (uint32_t)(n + 1));
    return OK;
}

/* 24 lowercase hex digits (libbson's spelling) as the 12 bytes of an ObjectId. */
static int object_id(parser_t *ps)
{
    size_t at = ps->len, n, i;
    uint8_t oid[12];

    skip_ws(ps);
    if (_ccopy_extjson_string(ps, 0, &n) != OK || n != 24)
        return NOT_WRAPPER;
    for (i = 0; i < 24; i++) {
        uint8_t c = ps->buf[at + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return NOT_WRAPPER;
    }
    for (i = 0; i < 12; i++)
        oid[i] = (uint8_t)(_ccopy_extjson_hex_value((char)ps->buf[at + 2 * i]) << 4 |
                           _ccopy_extjson_hex_value((char)ps->buf[at + 2 * i + 1]));
    ps->len = at;
    return put(ps, oid, 12) == OK ? OK : NOT_WRAPPER;
}

/* A string holding a canonical integer in [min, max]. */
static int integer_string(parser_t *ps, int64_t min, int64_t max, int64_t *out)
{
    size_t at = ps->len, n;
    int ok;

    skip_ws(ps);
    if (_ccopy_extjson_string(ps, 0, &n) != OK)
        return NOT_WRAPPER;
    ok = _ccopy_extjson_integer((const char *)ps->buf + at, n, min, max, out);
    ps->len = at;
    return ok ? OK : NOT_WRAPPER;
}

static int number_double(parser_t *ps)
{
    size_t at = ps->len, n;
    const char *text;
    double real;
    uint64_t bits;

    skip_ws(ps);
    if (_ccopy_extjson_string(ps, 0, &n) != OK)
        return NOT_WRAPPER;
    text = (const char *)ps->buf + at;
    if (n == 3 && memcmp(text, "NaN", 3) == 0)
        bits = UINT64_C(0x7ff8000000000000); /* the NaN every BSON library writes */
    else if (n == 8 && memcmp(text, "Infinity", 8) == 0)
        bits = UINT64_C(0x7ff0000000000000);
    else if (n == 9 && memcmp(text, "-Infinity", 9) == 0)
        bits = UINT64_C(0xfff0000000000000);
    else if (_ccopy_extjson_double(text, n, &real))
        memcpy(&bits, &real, 8);
    else
        return NOT_WRAPPER;
    ps->len = at;
    return put_le64(ps, bits) == OK ? OK : NOT_WRAPPER;
}

/* libbson's own spelling, so that only text it would write for a Decimal128 is one. */
static int number_decimal(parser_t *ps)
{
    size_t at = ps->len, n;
    char text[BSON_DECIMAL128_STRING + 1], again[BSON_DECIMAL128_STRING];
    bson_decimal128_t dec;

    skip_ws(ps);
    if (_ccopy_extjson_string(ps, 0, &n) != OK || n >= sizeof text)
        return NOT_WRAPPER;
    memcpy(text, ps->buf + at, n);
    text[n] = '\0';
    ps->len = at;
    if (strlen(text) != n || !bson_decimal128_from_string(text, &dec))
        return NOT_WRAPPER;
    bson_decimal128_to_string(&dec, again);
    if (strcmp(text, again) != 0)
        return NOT_WRAPPER;
    if (put_le64(ps, dec.low) != OK || put_le64(ps, dec.high) != OK)
        return NOT_WRAPPER;
    return OK;
}

static int base64_digit(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode n base64 characters at text in place (the bytes land at text); strict: padded to a
 * multiple of four, '=' only at the end, unused bits zero. */
static int base64_decode_in_place(uint8_t *text, size_t n, size_t *out_len)
{
    size_t i, out = 0, pad = 0;

    if (n % 4 != 0)
        return 0;
    if (n > 0 && text[n - 1] == '=')
        pad = n > 1 && text[n - 2] == '=' ? 2 : 1;
    for (i = 0; i < n; i += 4) {
        int d[4], k;
        uint32_t group;
        for (k = 0; k < 4; k++) {
            if (i + (size_t)k >= n - pad)
                d[k] = 0;
            else if ((d[k] = base64_digit(text[i + (size_t)k])) < 0)
                return 0;
        }
        group = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 | (uint32_t)d[2] << 6 | (uint32_t)d[3];
        if (i + 4 < n || pad == 0) {
            text[out++] = (uint8_t)(group >> 16);
            text[out++] = (uint8_t)(group >> 8);
            text[out++] = (uint8_t)group;
        } else if (pad == 1) {
            if (group & 0xff)
                return 0;
            text[out++] = (uint8_t)(group >> 16);
            text[out++] = (uint8_t)(group >> 8);
        } else {
            if (group & 0xffff)
                return 0;
            text[out++] = (uint8_t)(group >> 16);
        }
    }
    *out_len = out;
    return 1;
}

/* {"base64": "...", "subType": "xx"}: BSON binary (subtype 2 keeps its inner length). */
static int binary(parser_t *ps)
{
    size_t at = ps->len, n, data_len, head;
    int hi, lo;
    uint8_t subtype;

    if (!accept(ps, '{') || !key_is(ps, "base64"))
        return NOT_WRAPPER;
    skip_ws(ps);
    if (_ccopy_extjson_string(ps, 0, &n) != OK ||
        !base64_decode_in_place(ps->buf + at, n, &data_len))
        return NOT_WRAPPER;
    ps->len = at + data_len;
    if (!accept(ps, ',') || !key_is(ps, "subType"))
        return NOT_WRAPPER;
    skip_ws(ps);
    if (ps->end - ps->p < 4 || ps->p[0] != '"' || ps->p[3] != '"')
        return NOT_WRAPPER;
    hi = _ccopy_extjson_hex_value(ps->p[1]);
    lo = _ccopy_extjson_hex_value(ps->p[2]);
    if (hi < 0 || lo < 0 || (ps->p[1] >= 'A' && ps->p[1] <= 'F') ||
        (ps->p[2] >= 'A' && ps->p[2] <= 'F'))
        return NOT_WRAPPER;
    ps->p += 4;
    if (!accept(ps, '}'))
        return NOT_WRAPPER;
    subtype = (uint8_t)(hi << 4 | lo);
    head = subtype == BSON_SUBTYPE_BINARY_DEPRECATED ? 9 : 5;
    if (data_len > INT32_MAX - 4 || _ccopy_extjson_reserve(ps, head) != OK)
        return NOT_WRAPPER;
    memmove(ps->buf + at + head, ps->buf + at, data_len);
    ps->len = at + head + data_len;
    if (subtype == BSON_SUBTYPE_BINARY_DEPRECATED) {
        store_le32(ps->buf + at, (uint32_t)data_len + 4);
        ps->buf[at + 4] = subtype;
        store_le32(ps->buf + at + 5, (uint32_t)data_len);
    } else {
        store_le32(ps->buf + at, (uint32_t)data_len);
        ps->buf[at + 4] = subtype;
    }
    return OK;
}

/* {"pattern": "...", "options": "..."}: two C strings, as written (options unsorted if so). */
static int regular_expression(parser_t *ps)
{
    size_t n;

    if (!accept(ps, '{') || !key_is(ps, "pattern"))
        return NOT_WRAPPER;
    skip_ws(ps);
    if (_ccopy_extjson_string(ps, 1, &n) != OK || put_byte(ps, 0) != OK || !accept(ps, ',') ||
        !key_is(ps, "options"))
        return NOT_WRAPPER;
    skip_ws(ps);
    if (_ccopy_extjson_string(ps, 1, &n) != OK || put_byte(ps, 0) != OK || !accept(ps, '}'))
        return NOT_WRAPPER;
    return OK;
}

static int timestamp(parser_t *ps)
{
    uint32_t t, i;

    if (!accept(ps, '{') || !key_is(ps, "t") || bare_uint32(ps, &t) != OK || !accept(ps, ',') ||
        !key_is(ps, "i") || bare_uint32(ps, &i) != OK || !accept(ps, '}'))
        return NOT_WRAPPER;
    /* the increment comes first in BSON */
    return put_le32(ps, i) == OK && put_le32(ps, t) == OK ? OK : NOT_WRAPPER;
}

static int db_pointer(parser_t *ps)
{
    if (!accept(ps, '{') || !key_is(ps, "$ref") || bson_string(ps) != OK || !accept(ps, ',') ||
        !key_is(ps, "$id") || !accept(ps, '{') || !key_is(ps, "$oid") || object_id(ps) != OK ||
        !accept(ps, '}') || !accept(ps, '}'))
        return NOT_WRAPPER;
    return OK;
}

/* {"$code": "..."} or {"$code": "...", "$scope": {...}}; the caller has read "$code":. */
static int code(parser_t *ps, size_t type_at)
{
    size_t at = ps->len, n;
    const char *scope;

    if (put_le32(ps, 0) != OK || put_le32(ps, 0) != OK)
        return NOT_WRAPPER;
    skip_ws(ps);
    if (_ccopy_extjson_string(ps, 0, &n) != OK || put_byte(ps, 0) != OK)
        return NOT_WRAPPER;
    store_le32(ps->buf + at + 4, (uint32_t)(n + 1));
    if (accept(ps, '}')) {
        /* plain code: drop the code-with-scope total length */
        memmove(ps->buf + at, ps->buf + at + 4, ps->len - at - 4);
        ps->len -= 4;
        ps->buf[type_at] = BSON_TYPE_CODE;
        return OK;
    }
    if (!accept(ps, ',') || !key_is(ps, "$scope"))
        return NOT_WRAPPER;
    skip_ws(ps);
    scope = ps->p;
    if (ps->p >= ps->end || *ps->p != '{' || _ccopy_extjson_skim(ps) != OK || !accept(ps, '}'))
        return NOT_WRAPPER;
    /* It is code with scope: from here on a failure is the line's, not the shape's. */
    ps->p = scope;
    ps->code_nesting++;
    if (document(ps) != OK || !accept(ps, '}'))
        return FAILED;
    ps->code_nesting--;
    store_le32(ps->buf + at, (uint32_t)(ps->len - at));
    ps->buf[type_at] = BSON_TYPE_CODEWSCOPE;
    return OK;
}

/* The wrapper a first key announces, parsed into the value at type_at; NOT_WRAPPER when the
 * object does not have exactly that wrapper's shape. The cursor is after the object's '{'.
 * *code_shaped: the first key is "$code". */
static int wrapper(parser_t *ps, size_t type_at, int *code_shaped)
{
    static const struct {
        const char *key;
        bson_type_t type;
    } kinds[] = {
        {"$oid", BSON_TYPE_OID},           {"$symbol", BSON_TYPE_SYMBOL},
        {"$numberInt", BSON_TYPE_INT32},   {"$numberLong", BSON_TYPE_INT64},
        {"$numberDouble", BSON_TYPE_DOUBLE}, {"$numberDecimal", BSON_TYPE_DECIMAL128},
        {"$binary", BSON_TYPE_BINARY},     {"$code", BSON_TYPE_CODE},
        {"$timestamp", BSON_TYPE_TIMESTAMP}, {"$regularExpression", BSON_TYPE_REGEX},
        {"$dbPointer", BSON_TYPE_DBPOINTER}, {"$date", BSON_TYPE_DATE_TIME},
        {"$minKey", BSON_TYPE_MINKEY},     {"$maxKey", BSON_TYPE_MAXKEY},
        {"$undefined", BSON_TYPE_UNDEFINED},
    };
    size_t mark = ps->len, n, k;
    const char *key;
    int64_t whole;
    int rc;

    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"' || _ccopy_extjson_string(ps, 0, &n) != OK)
        return NOT_WRAPPER;
    key = (const char *)ps->buf + mark;
    for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (strlen(kinds[k].key) == n && memcmp(kinds[k].key, key, n) == 0)
            break;
    ps->len = mark;
    if (k == sizeof kinds / sizeof kinds[0] || !accept(ps, ':'))
        return NOT_WRAPPER;
    ps->buf[type_at] = (uint8_t)kinds[k].type;
    switch (kinds[k].type) {
    case BSON_TYPE_OID: rc = object_id(ps); break;
    case BSON_TYPE_SYMBOL: rc = bson_string(ps); break;
    case BSON_TYPE_INT32:
        rc = integer_string(ps, INT32_MIN, INT32_MAX, &whole);
        if (rc == OK)
            rc = put_le32(ps, (uint32_t)(int32_t)whole) == OK ? OK : NOT_WRAPPER;
        break;
    case BSON_TYPE_INT64:
        rc = integer_string(ps, INT64_MIN, INT64_MAX, &whole);
        if (rc == OK)
            rc = put_le64(ps, (uint64_t)whole) == OK ? OK : NOT_WRAPPER;
        break;
    case BSON_TYPE_DOUBLE: rc = number_double(ps); break;
    case BSON_TYPE_DECIMAL128: rc = number_decimal(ps); break;
    case BSON_TYPE_BINARY: rc = binary(ps); break;
    case BSON_TYPE_CODE:
        *code_shaped = 1;
        if (ps->code_nesting >= MAX_CODE_NESTING)
            return NOT_WRAPPER;
        /* code reads its own closing brace: it decides between code and code with scope */
        return code(ps, type_at);
    case BSON_TYPE_TIMESTAMP: rc = timestamp(ps); break;
    case BSON_TYPE_REGEX: rc = regular_expression(ps); break;
    case BSON_TYPE_DBPOINTER: rc = db_pointer(ps); break;
    case BSON_TYPE_DATE_TIME:
        rc = NOT_WRAPPER;
        if (accept(ps, '{') && key_is(ps, "$numberLong") &&
            integer_string(ps, INT64_MIN, INT64_MAX, &whole) == OK && accept(ps, '}'))
            rc = put_le64(ps, (uint64_t)whole) == OK ? OK : NOT_WRAPPER;
        break;
    case BSON_TYPE_MINKEY:
    case BSON_TYPE_MAXKEY:
        skip_ws(ps);
        rc = _ccopy_extjson_number_extent(ps) == 1 && *ps->p == '1' ? OK : NOT_WRAPPER;
        ps->p += rc == OK;
        break;
    case BSON_TYPE_UNDEFINED:
        skip_ws(ps);
        rc = ps->end - ps->p >= 4 && memcmp(ps->p, "true", 4) == 0 ? OK : NOT_WRAPPER;
        if (rc == OK)
            ps->p += 4;
        break;
    default: rc = NOT_WRAPPER; break;
    }
    if (rc == OK && !accept(ps, '}'))
        rc = NOT_WRAPPER;
    return rc;
}

static int literal(parser_t *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return _ccopy_extjson_fail(ps, "a value expected");
    ps->p += n;
    return OK;
}

/* One JSON value: its BSON bytes are appended and its type stored at type_at. */
static int value(parser_t *ps, size_t type_at)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return _ccopy_extjson_fail(ps, "the line ends where a value belongs");
    switch (*ps->p) {
    case '"': {
        size_t at = ps->len, n;
        ps->buf[type_at] = BSON_TYPE_UTF8;
        if (put_le32(ps, 0) != OK || _ccopy_extjson_string(ps, 0, &n) != OK ||
            put_byte(ps, 0) != OK)
            return FAILED;
        store_le32(ps->buf + at, (uint32_t)(n + 1));
        return OK;
    }
    case '{': {
        const char *object = ps->p;
        size_t mark = ps->len;
        int rc, code_shaped = 0;

        ps->p++;
        rc = wrapper(ps, type_at, &code_shaped);
        if (rc != NOT_WRAPPER)
            return rc;
        ps->p = object;
        ps->len = mark;
        ps->buf[type_at] = BSON_TYPE_DOCUMENT;
        ps->code_nesting += code_shaped;
        rc = document(ps);
        ps->code_nesting -= code_shaped;
        return rc;
    }
    case '[':
        ps->buf[type_at] = BSON_TYPE_ARRAY;
        return array(ps);
    case 't':
        ps->buf[type_at] = BSON_TYPE_BOOL;
        return literal(ps, "true") == OK ? put_byte(ps, 1) : FAILED;
    case 'f':
        ps->buf[type_at] = BSON_TYPE_BOOL;
        return literal(ps, "false") == OK ? put_byte(ps, 0) : FAILED;
    case 'n':
        ps->buf[type_at] = BSON_TYPE_NULL;
        return literal(ps, "null");
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return bare_number(ps, type_at);
        return _ccopy_extjson_fail(ps, "'%c' cannot start a value", *ps->p);
    }
}

bson_t *_ccopy_extjson_to_bson(const char *text, size_t len, ccopy_error_t *error)
{
    parser_t ps;
    bson_t *doc = NULL;

    memset(&ps, 0, sizeof ps);
    ps.start = ps.p = text;
    ps.end = text + len;
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p != '{')
        _ccopy_extjson_fail(&ps, "a line must hold one JSON object");
    else if (document(&ps) == OK) {
        skip_ws(&ps);
        if (ps.p < ps.end)
            _ccopy_extjson_fail(&ps, "text after the document");
        else if (!(doc = bson_new_from_data(ps.buf, ps.len)))
            _ccopy_extjson_fail(&ps, "the document is not valid BSON");
    }
    free(ps.buf);
    if (!doc)
        _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0, "%s", ps.why);
    return doc;
}
