/*
 * A small JSON writer for the documents the engine produces itself (manifests, summaries, plans).
 * Text is appended to one growing buffer; the writer remembers, per nesting level, whether a
 * value was already written, so callers never place commas, and in pretty mode it indents by two
 * spaces and writes "key": value. It does not validate the order of calls beyond nesting depth:
 * callers are the engine's own code.
 *
 * The lines of a jsonl window are libbson's canonical Extended JSON, each read back as it is
 * written: a backup must never hold a line that restores as something else, and canonical
 * Extended JSON cannot say everything BSON can (see _ccopy_jsonw_bson_line).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "extjson.h"
#include "jsonw.h"

static void reserve(_ccopy_jsonw_t *w, size_t extra)
{
    size_t cap;
    char *buf;

    if (w->len + extra + 1 <= w->cap)
        return;
    cap = w->cap ? w->cap : 256;
    while (cap < w->len + extra + 1)
        cap *= 2;
    buf = _ccopy_malloc(cap);
    if (w->len)
        memcpy(buf, w->buf, w->len);
    free(w->buf);
    w->buf = buf;
    w->cap = cap;
}

static void append(_ccopy_jsonw_t *w, const char *text, size_t len)
{
    reserve(w, len);
    memcpy(w->buf + w->len, text, len);
    w->len += len;
    w->buf[w->len] = '\0';
}

static void append_str(_ccopy_jsonw_t *w, const char *text)
{
    append(w, text, strlen(text));
}

static void newline_indent(_ccopy_jsonw_t *w, int depth)
{
    reserve(w, 1 + 2 * (size_t)depth);
    w->buf[w->len++] = '\n';
    memset(w->buf + w->len, ' ', 2 * (size_t)depth);
    w->len += 2 * (size_t)depth;
    w->buf[w->len] = '\0';
}

/* Separate this value (or key) from the previous one at the same level. */
static void before_item(_ccopy_jsonw_t *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->need_comma[w->depth])
        append(w, ",", 1);
    if (w->pretty && w->depth > 0)
        newline_indent(w, w->depth);
    w->need_comma[w->depth] = 1;
}

static void quoted(_ccopy_jsonw_t *w, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)text;
    const unsigned char *run = p;

    append(w, "\"", 1);
    for (; *p; p++) {
        char esc[7];
        size_t n = 2;

        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        append(w, (const char *)run, (size_t)(p - run));
        run = p + 1;
        esc[0] = '\\';
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 0xf];
            n = 6;
        }
        append(w, esc, n);
    }
    append(w, (const char *)run, (size_t)(p - run));
    append(w, "\"", 1);
}

static void begin(_ccopy_jsonw_t *w, const char *bracket)
{
    before_item(w);
    if (w->depth + 1 >= CCOPY_JSONW_MAX_DEPTH) {
        /* A caller bug, not a data condition: the engine's documents are a few levels deep. */
        fprintf(stderr, "cosmocopy: JSON writer nested deeper than %d levels\n",
                CCOPY_JSONW_MAX_DEPTH - 1);
        abort();
    }
    append(w, bracket, 1);
    w->depth++;
    w->need_comma[w->depth] = 0;
}

static void end(_ccopy_jsonw_t *w, const char *bracket)
{
    if (w->pretty && w->need_comma[w->depth])
        newline_indent(w, w->depth - 1);
    w->depth--;
    append(w, bracket, 1);
}

void _ccopy_jsonw_init(_ccopy_jsonw_t *w, int pretty)
{
    memset(w, 0, sizeof *w);
    w->pretty = pretty;
}

void _ccopy_jsonw_cleanup(_ccopy_jsonw_t *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

char *_ccopy_jsonw_steal(_ccopy_jsonw_t *w)
{
    char *text;

    reserve(w, 0);
    w->buf[w->len] = '\0';
    text = w->buf;
    _ccopy_jsonw_init(w, w->pretty);
    return text;
}

void _ccopy_jsonw_begin_object(_ccopy_jsonw_t *w)
{
    begin(w, "{");
}

void _ccopy_jsonw_end_object(_ccopy_jsonw_t *w)
{
    end(w, "}");
}

void _ccopy_jsonw_begin_array(_ccopy_jsonw_t *w)
{
    begin(w, "[");
}

void _ccopy_jsonw_end_array(_ccopy_jsonw_t *w)
{
    end(w, "]");
}

void _ccopy_jsonw_key(_ccopy_jsonw_t *w, const char *key)
{
    before_item(w);
    quoted(w, key);
    if (w->pretty)
        append(w, ": ", 2);
    else
        append(w, ":", 1);
    w->after_key = 1;
}

void _ccopy_jsonw_string(_ccopy_jsonw_t *w, const char *value)
{
    before_item(w);
    if (value)
        quoted(w, value);
    else
        append(w, "null", 4);
}

void _ccopy_jsonw_int(_ccopy_jsonw_t *w, int64_t value)
{
    char text[24];

    before_item(w);
    append(w, text, (size_t)snprintf(text, sizeof text, "%" PRId64, value));
}

void _ccopy_jsonw_double(_ccopy_jsonw_t *w, double value)
{
    char text[32];
    char *comma;

    before_item(w);
    if (!isfinite(value)) {
        append(w, "null", 4);
        return;
    }
    /* The shortest of the two precisions that reads back as the same double. */
    snprintf(text, sizeof text, "%.15g", value);
    if (strtod(text, NULL) != value)
        snprintf(text, sizeof text, "%.17g", value);
    /* A host application may have set a locale whose decimal separator is a comma. */
    comma = strchr(text, ',');
    if (comma)
        *comma = '.';
    append_str(w, text);
}

void _ccopy_jsonw_bool(_ccopy_jsonw_t *w, int value)
{
    before_item(w);
    append_str(w, value ? "true" : "false");
}

void _ccopy_jsonw_null(_ccopy_jsonw_t *w)
{
    before_item(w);
    append(w, "null", 4);
}

void _ccopy_jsonw_raw(_ccopy_jsonw_t *w, const char *json)
{
    before_item(w);
    append_str(w, json);
}

void _ccopy_jsonw_kv_string(_ccopy_jsonw_t *w, const char *key, const char *value)
{
    _ccopy_jsonw_key(w, key);
    _ccopy_jsonw_string(w, value);
}

void _ccopy_jsonw_kv_int(_ccopy_jsonw_t *w, const char *key, int64_t value)
{
    _ccopy_jsonw_key(w, key);
    _ccopy_jsonw_int(w, value);
}

void _ccopy_jsonw_kv_double(_ccopy_jsonw_t *w, const char *key, double value)
{
    _ccopy_jsonw_key(w, key);
    _ccopy_jsonw_double(w, value);
}

void _ccopy_jsonw_kv_bool(_ccopy_jsonw_t *w, const char *key, int value)
{
    _ccopy_jsonw_key(w, key);
    _ccopy_jsonw_bool(w, value);
}

/* ---- jsonl lines ------------------------------------------------------------------------- */

static void path_append(char *path, size_t cap, const char *key)
{
    size_t used = strlen(path);
    if (used > 0 && used + 1 < cap)
        path[used++] = '.';
    snprintf(path + used, cap - used, "%s", key);
}

static const char *type_name(bson_type_t type)
{
    switch (type) {
    case BSON_TYPE_DOUBLE: return "a double";
    case BSON_TYPE_UTF8: return "a string";
    case BSON_TYPE_DOCUMENT: return "a document";
    case BSON_TYPE_ARRAY: return "an array";
    case BSON_TYPE_BINARY: return "binary data";
    case BSON_TYPE_UNDEFINED: return "undefined";
    case BSON_TYPE_OID: return "an ObjectId";
    case BSON_TYPE_BOOL: return "a boolean";
    case BSON_TYPE_DATE_TIME: return "a date";
    case BSON_TYPE_NULL: return "null";
    case BSON_TYPE_REGEX: return "a regular expression";
    case BSON_TYPE_DBPOINTER: return "a DBPointer";
    case BSON_TYPE_CODE: return "code";
    case BSON_TYPE_SYMBOL: return "a symbol";
    case BSON_TYPE_CODEWSCOPE: return "code with scope";
    case BSON_TYPE_INT32: return "an int32";
    case BSON_TYPE_TIMESTAMP: return "a timestamp";
    case BSON_TYPE_INT64: return "an int64";
    case BSON_TYPE_DECIMAL128: return "a Decimal128";
    case BSON_TYPE_MAXKEY: return "MaxKey";
    case BSON_TYPE_MINKEY: return "MinKey";
    default: return "an unknown type";
    }
}

/* Why a's element (at it) comes back as b's. */
static void explain(char *why, size_t cap, const bson_iter_t *a, const bson_iter_t *b)
{
    bson_type_t type = bson_iter_type(a);

    if (bson_iter_type(b) != type) {
        snprintf(why, cap, "is %s whose canonical Extended JSON reads back as %s", type_name(type),
                 type_name(bson_iter_type(b)));
    } else if (type == BSON_TYPE_DOUBLE) {
        double value = bson_iter_double(a);
        uint64_t bits;
        memcpy(&bits, &value, 8);
        snprintf(why, cap,
                 "is a NaN with the bits %016" PRIx64 ": canonical Extended JSON has one NaN "
                 "(7ff8000000000000)",
                 bits);
    } else if (type == BSON_TYPE_DECIMAL128) {
        snprintf(why, cap,
                 "is a Decimal128 (a NaN with a sign or payload, or a non-canonical encoding) "
                 "that canonical Extended JSON writes as another value");
    } else {
        snprintf(why, cap, "is %s that reads back as different bytes", type_name(type));
    }
}

/* The first element of a that does not come back in b byte for byte: its dotted path and why.
 * 0 when a and b hold the same elements. */
static int first_difference(const bson_t *a, const bson_t *b, char *path, size_t path_cap,
                            char *why, size_t why_cap)
{
    bson_iter_t ia, ib;

    if (!bson_iter_init(&ia, a) || !bson_iter_init(&ib, b))
        return 0;
    for (;;) {
        int more_a = bson_iter_next(&ia), more_b = bson_iter_next(&ib);
        size_t parent = strlen(path);

        if (!more_a) {
            if (!more_b)
                return 0;
            snprintf(why, why_cap, "reads back with a field \"%s\" more", bson_iter_key(&ib));
            return 1;
        }
        path_append(path, path_cap, bson_iter_key(&ia));
        if (!more_b) {
            snprintf(why, why_cap, "is missing when read back");
            return 1;
        }
        if (strcmp(bson_iter_key(&ia), bson_iter_key(&ib)) != 0) {
            snprintf(why, why_cap, "reads back under the key \"%s\"", bson_iter_key(&ib));
            return 1;
        }
        if (ia.next_off - ia.off != ib.next_off - ib.off ||
            memcmp(ia.raw + ia.off, ib.raw + ib.off, ia.next_off - ia.off) != 0) {
            bson_type_t type = bson_iter_type(&ia);
            if (type == bson_iter_type(&ib) &&
                (type == BSON_TYPE_DOCUMENT || type == BSON_TYPE_ARRAY)) {
                const uint8_t *da, *db;
                uint32_t la, lb;
                bson_t ca, cb;
                if (type == BSON_TYPE_DOCUMENT) {
                    bson_iter_document(&ia, &la, &da);
                    bson_iter_document(&ib, &lb, &db);
                } else {
                    bson_iter_array(&ia, &la, &da);
                    bson_iter_array(&ib, &lb, &db);
                }
                if (bson_init_static(&ca, da, la) && bson_init_static(&cb, db, lb) &&
                    first_difference(&ca, &cb, path, path_cap, why, why_cap))
                    return 1;
                snprintf(why, why_cap, "is %s that reads back as different bytes",
                         type_name(type));
                return 1;
            }
            explain(why, why_cap, &ia, &ib);
            return 1;
        }
        path[parent] = '\0';
    }
}

static int refuse(const bson_t *doc, const char *field, const char *why, ccopy_error_t *error)
{
    bson_iter_t it;
    char *id = bson_iter_init_find(&it, doc, "_id") ? _ccopy_bson_value_to_json(bson_iter_value(&it))
                                                     : NULL;
    int rc = _ccopy_error_set(error, CCOPY_EREJECTED, CCOPY_DOMAIN_ENGINE, 0,
                              "the document with _id %s cannot be backed up as JSON lines: %s%s%s "
                              "%s; back this collection up with --format bson",
                              id ? id : "(none)", field[0] ? "field \"" : "it", field,
                              field[0] ? "\"" : "", why);
    free(id);
    return rc;
}

int _ccopy_jsonw_bson_line(char **out_line, size_t *out_len, const bson_t *doc,
                           ccopy_error_t *error)
{
    size_t len = 0;
    char *json = bson_as_canonical_extended_json(doc, &len);
    char path[256] = "", why[200] = "";
    ccopy_error_t reason;
    bson_t *back;

    *out_line = NULL;
    *out_len = 0;
    if (!json)
        return refuse(doc, "", "has no Extended JSON form (a string that is not UTF-8?)", error);
    back = _ccopy_extjson_to_bson(json, len, &reason);
    if (!back) {
        bson_free(json);
        snprintf(why, sizeof why, "does not read back (%.150s)", reason.message);
        return refuse(doc, "", why, error);
    }
    if (back->len != doc->len || memcmp(bson_get_data(back), bson_get_data(doc), doc->len) != 0) {
        if (!first_difference(doc, back, path, sizeof path, why, sizeof why))
            snprintf(why, sizeof why, "reads back as different bytes");
        bson_destroy(back);
        bson_free(json);
        return refuse(doc, path, why, error);
    }
    bson_destroy(back);
    json[len] = '\n'; /* replaces the terminator */
    *out_line = json;
    *out_len = len + 1;
    return 0;
}
