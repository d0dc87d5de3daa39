/*
 * The text level shared by the two halves of the jsonl line reader (extjson_read.c builds
 * documents and type wrappers, extjson_scan.c reads JSON tokens, strings and numbers): the
 * parser's state and the BSON buffer it writes into. Private to those two files.
 */
#ifndef CCOPY_EXTJSON_SCAN_H
#define CCOPY_EXTJSON_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "extjson.h"

/* OK: parsed; NOT_WRAPPER: the object has not that wrapper's shape (read it as a document);
 * FAILED: the line is wrong (ps->why says how and where). */
enum { OK = 0, NOT_WRAPPER = 1, FAILED = -1 };

typedef struct parser {
    const char *start, *p, *end;
    uint8_t *buf;
    size_t len, cap;
    int depth;
    int code_nesting; /* objects starting with "$code" around the cursor */
    char why[200];    /* the last failure, with its byte offset */
} parser_t;

/* Record why the line fails, at the cursor's byte; returns FAILED. */
int _ccopy_extjson_fail(parser_t *ps, const char *fmt, ...) CCOPY_PRINTF(2, 3);
/* Room for extra more bytes of BSON (FAILED past CCOPY_EXTJSON_MAX_BSON). */
int _ccopy_extjson_reserve(parser_t *ps, size_t extra);
/* The next character after white space must be c: consume it. */
int _ccopy_extjson_expect(parser_t *ps, char c);
/* A hex digit's value, or -1. */
int _ccopy_extjson_hex_value(char c);
/* A JSON string (after white space), decoded and appended to the buffer without a terminator;
 * *out_len is its length. no_nul: it becomes a BSON C string (a key, a regular expression). */
int _ccopy_extjson_string(parser_t *ps, int no_nul, size_t *out_len);
/* A JSON string equal to word, the buffer left as it was. */
int _ccopy_extjson_string_is(parser_t *ps, const char *word);
/* Skip one JSON value without building anything, to see where it ends. */
int _ccopy_extjson_skim(parser_t *ps);
/* Canonical decimal integer text (no '+', no leading zero, no "-0") in [min, max]. */
int _ccopy_extjson_integer(const char *text, size_t len, int64_t min, int64_t max, int64_t *out);
/* Text in JSON's number grammar as a finite double, whatever the locale; 0 when it is not. */
int _ccopy_extjson_double(const char *text, size_t len, double *out);
/* The length of the run of number characters at the cursor. */
size_t _ccopy_extjson_number_extent(parser_t *ps);

static inline int put(parser_t *ps, const void *data, size_t len)
{
    if (_ccopy_extjson_reserve(ps, len) != OK)
        return FAILED;
    memcpy(ps->buf + ps->len, data, len);
    ps->len += len;
    return OK;
}

static inline int put_byte(parser_t *ps, uint8_t byte)
{
    return put(ps, &byte, 1);
}

static inline void store_le32(uint8_t *at, uint32_t value)
{
    at[0] = (uint8_t)value;
    at[1] = (uint8_t)(value >> 8);
    at[2] = (uint8_t)(value >> 16);
    at[3] = (uint8_t)(value >> 24);
}

static inline int put_le32(parser_t *ps, uint32_t value)
{
    uint8_t bytes[4];
    store_le32(bytes, value);
    return put(ps, bytes, 4);
}

static inline int put_le64(parser_t *ps, uint64_t value)
{
    uint8_t bytes[8];
    int i;
    for (i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
    return put(ps, bytes, 8);
}

static inline void skip_ws(parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* The next character after white space is c: consume it. */
static inline int accept(parser_t *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return 1;
    }
    return 0;
}

/* A key of a wrapper's fixed shape: "word" followed by ':'. */
static inline int key_is(parser_t *ps, const char *word)
{
    skip_ws(ps);
    return _ccopy_extjson_string_is(ps, word) && accept(ps, ':');
}

#endif
