/*
 * Canonical Extended JSON: one BSON value as text, the form manifests hold for first_id and
 * last_id ({"$oid": ...}, "text", {"$numberInt": "5"}, with libbson's spacing), and one line of
 * a jsonl window read back into the exact BSON it was written from.
 */
#ifndef CCOPY_EXTJSON_H
#define CCOPY_EXTJSON_H

#include <bson/bson.h>

#include "cosmocopy/error.h"
#include "cosmocopy/manifest.h"

/* New text (free with free()), or NULL when libbson cannot express the value. */
char *_ccopy_bson_value_to_json(const bson_value_t *value);

/* A manifest held as BSON (the target's catalog documents): the same fields and checks as
 * ccopy_manifest_from_json(); keys it does not know are ignored. */
int _ccopy_manifest_from_bson(ccopy_manifest_t *out, const bson_t *doc, ccopy_error_t *error);
/* A deep copy (free with ccopy_manifest_cleanup()). */
void _ccopy_manifest_copy(ccopy_manifest_t *out, const ccopy_manifest_t *manifest);

/* Documents read back are at most this size, as in a bson window. */
#define CCOPY_EXTJSON_MAX_BSON ((size_t)64 << 20)

/* One JSON object (text, len bytes, no terminator needed; white space around it allowed) as a
 * new BSON document (bson_destroy() it), or NULL with ECORRUPT saying what is wrong and at which
 * byte. This reads back exactly what bson_as_canonical_extended_json() writes, byte for byte:
 * an object is a type wrapper only when it has exactly the canonical shape of one ({"$oid":
 * "<24 lowercase hex>"}, {"$date": {"$numberLong": "<int64>"}}, {"$numberDouble": "NaN"},
 * {"$binary": {"base64": ..., "subType": "<2 lowercase hex>"}}, {"$code": ..., "$scope": {...}},
 * ...; numbers in the spelling libbson gives them); any other object, $-keys or not, is an
 * embedded document. Strings may hold \u0000 except in keys and regular expressions (BSON cannot).
 * "NaN" reads as 0x7ff8000000000000; bare JSON numbers read as int32, int64 or double. Nesting is
 * limited (512 levels; code with scope inside more than 32 "$code" objects reads as a document,
 * which bounds the work at 32 passes over the text) and so is the result (CCOPY_EXTJSON_MAX_BSON).
 * Safe on any bytes: this is the entry point to fuzz. */
bson_t *_ccopy_extjson_to_bson(const char *text, size_t len, ccopy_error_t *error);

#endif
