/*
 * One BSON value as canonical Extended JSON text, the form manifests hold for first_id and
 * last_id: {"$oid": ...}, "text", {"$numberInt": "5"} (with libbson's spacing).
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

#endif
