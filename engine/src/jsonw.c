/*
 * A small JSON writer for the documents the engine produces itself (manifests, summaries, plans).
 * Text is appended to one growing buffer; the writer remembers, per nesting level, whether a
 * value was already written, so callers never place commas, and in pretty mode it indents by two
 * spaces and writes "key": value. It does not validate the order of calls beyond nesting depth:
 * callers are the engine's own code.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
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
