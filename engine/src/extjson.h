/*
 * One BSON value as canonical Extended JSON text, the form manifests hold for first_id and
 * last_id: {"$oid": ...}, "text", {"$numberInt": "5"} (with libbson's spacing).
 */
#ifndef CCOPY_EXTJSON_H
#define CCOPY_EXTJSON_H

#include <bson/bson.h>

/* New text (free with free()), or NULL when libbson cannot express the value. */
char *_ccopy_bson_value_to_json(const bson_value_t *value);

#endif
