/*
 * The text level of the jsonl line reader (extjson_scan.h): the growing BSON buffer, JSON tokens,
 * strings decoded into the buffer, skimming a value, and numbers in JSON's grammar whatever the
 * process's locale.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extjson_scan.h"

int _ccopy_extjson_fail(parser_t *ps, const char *fmt, ...)
{
    char what[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(ps->why, sizeof ps->why, "%s at byte %zu of the line", what,
             (size_t)(ps->p - ps->start));
    return FAILED;
}

/* ---- output buffer ----------------------------------------------------------------------- */

int _ccopy_extjson_reserve(parser_t *ps, size_t extra)
{
    size_t cap;

    if (extra > CCOPY_EXTJSON_MAX_BSON || ps->len + extra > CCOPY_EXTJSON_MAX_BSON)
        return _ccopy_extjson_fail(ps, "the document grows past %d MiB",
                                   (int)(CCOPY_EXTJSON_MAX_BSON >> 20));
    if (ps->len + extra <= ps->cap)
        return OK;
    cap = ps->cap ? ps->cap : 256;
    while (cap < ps->len + extra)
        cap *= 2;
    ps->buf = _ccopy_realloc(ps->buf, cap);
    ps->cap = cap;
    return OK;
}

/* ---- JSON tokens ------------------------------------------------------------------------- */

int _ccopy_extjson_expect(parser_t *ps, char c)
{
    if (accept(ps, c))
        return OK;
    if (ps->p >= ps->end)
        return _ccopy_extjson_fail(ps, "the line ends where '%c' belongs", c);
    return _ccopy_extjson_fail(ps, "'%c' expected, not '%c'", c, *ps->p);
}

int _ccopy_extjson_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_u16_escape(parser_t *ps, unsigned *out)
{
    unsigned value = 0;
    int i;

    if (ps->end - ps->p < 4)
        return _ccopy_extjson_fail(ps, "a \\u escape needs four hex digits");
    for (i = 0; i < 4; i++) {
        int digit = _ccopy_extjson_hex_value(ps->p[i]);
        if (digit < 0)
            return _ccopy_extjson_fail(ps, "a \\u escape needs four hex digits");
        value = value << 4 | (unsigned)digit;
    }
    ps->p += 4;
    *out = value;
    return OK;
}

static int put_utf8(parser_t *ps, unsigned cp)
{
    uint8_t bytes[4];
    size_t n;

    if (cp < 0x80) {
        bytes[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        bytes[0] = (uint8_t)(0xc0 | cp >> 6);
        bytes[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        bytes[0] = (uint8_t)(0xe0 | cp >> 12);
        bytes[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        bytes[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        bytes[0] = (uint8_t)(0xf0 | cp >> 18);
        bytes[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
        bytes[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        bytes[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return put(ps, bytes, n);
}

/* A JSON string, decoded, appended to the buffer (no terminator); *out_len is its length.
 * no_nul: the string becomes a BSON C string (a key, a regex), which cannot hold a zero byte. */
int _ccopy_extjson_string(parser_t *ps, int no_nul, size_t *out_len)
{
    size_t begin = ps->len;
    const char *quote;

    skip_ws(ps);
    quote = ps->p;
    if (_ccopy_extjson_expect(ps, '"') != OK)
        return FAILED;
    for (;;) {
        const char *run = ps->p;
        unsigned cp, low;

        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20)
            ps->p++;
        if (put(ps, run, (size_t)(ps->p - run)) != OK)
            return FAILED;
        if (ps->p >= ps->end)
            return _ccopy_extjson_fail(ps, "the line ends inside a string");
        if (*ps->p == '"') {
            ps->p++;
            break;
        }
        if (*ps->p != '\\')
            return _ccopy_extjson_fail(ps, "a control character (0x%02x) inside a string",
                                       (unsigned)*ps->p);
        ps->p++;
        if (ps->p >= ps->end)
            return _ccopy_extjson_fail(ps, "the line ends inside a string");
        switch (*ps->p++) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (read_u16_escape(ps, &cp) != OK)
                return FAILED;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return _ccopy_extjson_fail(ps, "a lone low surrogate \\u%04x", cp);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
                    return _ccopy_extjson_fail(ps, "a high surrogate \\u%04x without its low half",
                                               cp);
                ps->p += 2;
                if (read_u16_escape(ps, &low) != OK)
                    return FAILED;
                if (low < 0xdc00 || low > 0xdfff)
                    return _ccopy_extjson_fail(ps, "a high surrogate \\u%04x without its low half",
                                               cp);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            }
            break;
        default:
            ps->p--;
            return _ccopy_extjson_fail(ps, "an unknown escape \\%c", *ps->p);
        }
        if (cp == 0 && no_nul)
            return _ccopy_extjson_fail(ps, "a zero character in a key or regular expression "
                                           "(BSON cannot hold it)");
        if (put_utf8(ps, cp) != OK)
            return FAILED;
    }
    if (no_nul && memchr(ps->buf + begin, 0, ps->len - begin))
        return _ccopy_extjson_fail(ps, "a zero character in a key or regular expression "
                                       "(BSON cannot hold it)");
    /* libbson writes UTF-8 only; other bytes would make BSON that is not valid */
    if (!bson_utf8_validate((const char *)ps->buf + begin, ps->len - begin, !no_nul)) {
        ps->p = quote;
        return _ccopy_extjson_fail(ps, "a string that is not UTF-8");
    }
    *out_len = ps->len - begin;
    return OK;
}

/* A string compared against a known word, leaving the buffer as it was. */
int _ccopy_extjson_string_is(parser_t *ps, const char *word)
{
    size_t mark = ps->len, n;
    int same;

    if (_ccopy_extjson_string(ps, 0, &n) != OK)
        return 0;
    same = n == strlen(word) && memcmp(ps->buf + mark, word, n) == 0;
    ps->len = mark;
    return same;
}

/* Skim one JSON value without building anything (strings and nesting only): to see where it
 * ends. */
int _ccopy_extjson_skim(parser_t *ps)
{
    long nesting = 0;

    skip_ws(ps);
    do {
        if (ps->p >= ps->end)
            return _ccopy_extjson_fail(ps, "the line ends inside a value");
        switch (*ps->p) {
        case '"':
            for (ps->p++; ps->p < ps->end && *ps->p != '"'; ps->p++)
                if (*ps->p == '\\' && ps->p + 1 < ps->end)
                    ps->p++;
            if (ps->p >= ps->end)
                return _ccopy_extjson_fail(ps, "the line ends inside a string");
            break;
        case '{':
        case '[':
            nesting++;
            break;
        case '}':
        case ']':
            nesting--;
            break;
        default:
            break;
        }
        ps->p++;
    } while (nesting > 0);
    return OK;
}

/* ---- numbers ----------------------------------------------------------------------------- */

/* Canonical decimal integer text (what printf's %d makes: no '+', no leading zero, no "-0"). */
int _ccopy_extjson_integer(const char *text, size_t len, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    int negative = 0;
    uint64_t value = 0, limit;

    if (len > 0 && text[0] == '-') {
        if (min >= 0)
            return 0;
        negative = 1;
        i = 1;
    }
    if (i >= len || len - i > 20 || (text[i] == '0' && len - i > 1) || (negative && text[i] == '0'))
        return 0;
    limit = negative ? (uint64_t)(-(min + 1)) + 1 : (uint64_t)max;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
        if (value > (limit - (uint64_t)(text[i] - '0')) / 10)
            return 0;
        value = value * 10 + (uint64_t)(text[i] - '0');
    }
    *out = negative ? (int64_t)(0 - value) : (int64_t)value;
    return 1;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Text in JSON's number grammar, as a double whatever the process's locale; 0 when it is not. */
int _ccopy_extjson_double(const char *text, size_t len, double *out)
{
    char copy[400];
    char *end;
    size_t i = 0;

    if (len == 0 || len >= sizeof copy)
        return 0;
    if (text[i] == '-')
        i++;
    if (i >= len || text[i] < '0' || text[i] > '9' || (text[i] == '0' && i + 1 < len &&
                                                        text[i + 1] >= '0' && text[i + 1] <= '9'))
        return 0;
    while (i < len && text[i] >= '0' && text[i] <= '9')
        i++;
    if (i < len && text[i] == '.') {
        if (++i >= len || text[i] < '0' || text[i] > '9')
            return 0;
        while (i < len && text[i] >= '0' && text[i] <= '9')
            i++;
    }
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        if (i < len && (text[i] == '+' || text[i] == '-'))
            i++;
        if (i >= len || text[i] < '0' || text[i] > '9')
            return 0;
        while (i < len && text[i] >= '0' && text[i] <= '9')
            i++;
    }
    if (i != len)
        return 0;
    memcpy(copy, text, len);
    copy[len] = '\0';
    pthread_once(&c_locale_once, make_c_locale);
    *out = c_locale ? strtod_l(copy, &end, c_locale) : strtod(copy, &end);
    return end == copy + len && isfinite(*out);
}

/* The extent of a bare JSON number at the cursor. */
size_t _ccopy_extjson_number_extent(parser_t *ps)
{
    const char *q = ps->p;
    while (q < ps->end && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.' ||
                           *q == 'e' || *q == 'E'))
        q++;
    return (size_t)(q - ps->p);
}
