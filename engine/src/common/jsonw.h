/*
 * A small JSON writer into a growing buffer: enough for manifests, summaries and plans.
 * Commas and nesting are tracked so callers only say what comes next.
 */
#ifndef CCOPY_JSONW_H
#define CCOPY_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "cosmocopy/error.h"

#define CCOPY_JSONW_MAX_DEPTH 32

typedef struct _ccopy_jsonw {
    char *buf;
    size_t len, cap;
    int depth;
    int need_comma[CCOPY_JSONW_MAX_DEPTH]; /* per nesting level: a value was already written */
    int after_key;                          /* a key was just written; next value needs no comma */
    int pretty;                             /* 2-space indentation and newlines */
} _ccopy_jsonw_t;

void _ccopy_jsonw_init(_ccopy_jsonw_t *w, int pretty);
void _ccopy_jsonw_cleanup(_ccopy_jsonw_t *w);
/* Hand over the NUL-terminated text (caller frees with free()); w is left empty. */
char *_ccopy_jsonw_steal(_ccopy_jsonw_t *w);

void _ccopy_jsonw_begin_object(_ccopy_jsonw_t *w);
void _ccopy_jsonw_end_object(_ccopy_jsonw_t *w);
void _ccopy_jsonw_begin_array(_ccopy_jsonw_t *w);
void _ccopy_jsonw_end_array(_ccopy_jsonw_t *w);
void _ccopy_jsonw_key(_ccopy_jsonw_t *w, const char *key);
void _ccopy_jsonw_string(_ccopy_jsonw_t *w, const char *value); /* NULL writes null; escapes per RFC 8259 */
void _ccopy_jsonw_int(_ccopy_jsonw_t *w, int64_t value);
void _ccopy_jsonw_double(_ccopy_jsonw_t *w, double value); /* finite values; NaN/inf write null */
void _ccopy_jsonw_bool(_ccopy_jsonw_t *w, int value);
void _ccopy_jsonw_null(_ccopy_jsonw_t *w);
/* Insert already-serialised JSON as one value (e.g. libbson's canonical extended JSON). */
void _ccopy_jsonw_raw(_ccopy_jsonw_t *w, const char *json);

/* Shorthands: key followed by a value. */
void _ccopy_jsonw_kv_string(_ccopy_jsonw_t *w, const char *key, const char *value);
void _ccopy_jsonw_kv_int(_ccopy_jsonw_t *w, const char *key, int64_t value);
void _ccopy_jsonw_kv_double(_ccopy_jsonw_t *w, const char *key, double value);
void _ccopy_jsonw_kv_bool(_ccopy_jsonw_t *w, const char *key, int value);

/* One line of a jsonl window: doc as canonical Extended JSON (libbson's) and a '\n'; *out_line
 * (free with bson_free()) holds *out_len bytes, the last one '\n', and no terminator. The line is read back
 * (_ccopy_extjson_to_bson) and must give doc's exact bytes; when it does not (a NaN with a
 * payload, a Decimal128 NaN with a sign or payload or a non-canonical encoding, an embedded
 * document shaped like a type wrapper such as {"$oid": "<24 hex>"}, an array whose keys are not
 * 0, 1, ..., documents nested deeper than libbson writes), EREJECTED naming the document's _id,
 * the first field that would come back different and why, and --format bson. */
int _ccopy_jsonw_bson_line(char **out_line, size_t *out_len, const bson_t *doc,
                           ccopy_error_t *error);

#endif
