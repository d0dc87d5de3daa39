/**
 * @file manifest.h
 * @brief The manifest of one completed window: what it holds and how to check it.
 *
 * A window in a folder or blob sink is one data object plus one manifest (JSON). The manifest is
 * written only after its data is durable, so "the manifest exists" means "the window is complete".
 * Field by field, the JSON is:
 *
 * | key            | meaning                                                                 |
 * |----------------|-------------------------------------------------------------------------|
 * | format_version | 1                                                                       |
 * | kind           | "window" (ObjectId time window) or "non-objectid" (the pass for other _id types) |
 * | database       | source database                                                         |
 * | collection     | source collection                                                       |
 * | window         | {start, end (RFC 3339), start_epoch, end_epoch}; null for non-objectid   |
 * | documents      | number of documents                                                     |
 * | bytes          | uncompressed size: sum of the BSON documents' sizes (bson) or of the JSON lines (jsonl) |
 * | stored_bytes   | size of the data object as stored (after compression)                    |
 * | data           | name of the data object, relative to the manifest's folder/prefix        |
 * | sha256         | SHA-256 (hex) of the data object as stored                               |
 * | first_id       | the first _id, canonical Extended JSON value; null when empty, or when   |
 * |                | no text reads back as that very value (a non-canonical Decimal128 ...)   |
 * | last_id        | the last _id, likewise                                                  |
 * | format         | "bson" (mongodump .bson) or "jsonl" (canonical Extended JSON lines)     |
 * | compression    | "none", "gzip" or "zstd"                                                |
 * | engine_version | cosmocopy version that wrote it                                         |
 * | completed_at   | RFC 3339 UTC time the window was completed                              |
 */
#ifndef COSMOCOPY_MANIFEST_H
#define COSMOCOPY_MANIFEST_H

#include <stdint.h>

#include "cosmocopy/error.h"
#include "cosmocopy/export.h"
#include "cosmocopy/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a manifest describes. */
typedef enum ccopy_manifest_kind {
    CCOPY_MANIFEST_WINDOW = 0,      /**< documents whose ObjectId time lies in window    */
    CCOPY_MANIFEST_NON_OBJECTID = 1 /**< documents whose _id is not an ObjectId           */
} ccopy_manifest_kind_t;

/** A parsed manifest. Strings are owned by the struct; free with ccopy_manifest_cleanup(). */
typedef struct ccopy_manifest {
    int format_version;
    ccopy_manifest_kind_t kind;
    char *database;
    char *collection;
    ccopy_window_t window; /**< {0, 0} for CCOPY_MANIFEST_NON_OBJECTID */
    int64_t documents;
    int64_t bytes;
    int64_t stored_bytes;
    char *data;            /**< data object name */
    char sha256[65];       /**< lower-case hex of the stored data */
    char *first_id;        /**< canonical Extended JSON of the first _id value, or NULL */
    char *last_id;         /**< likewise for the last _id, or NULL */
    char *format;          /**< "bson" or "jsonl" */
    char *compression;     /**< "none", "gzip" or "zstd" */
    char *engine_version;
    char *completed_at;    /**< RFC 3339 */
} ccopy_manifest_t;

/** Free the strings a manifest owns and zero it. NULL is fine. */
CCOPY_EXPORT void ccopy_manifest_cleanup(ccopy_manifest_t *manifest);

/**
 * Serialise a manifest as pretty JSON (keys in the order of the table above).
 * @param[out] out_json  new NUL-terminated text; free with ccopy_free().
 * @return 0, or CCOPY_EINVAL when a required string is NULL.
 */
CCOPY_EXPORT int ccopy_manifest_to_json(char **out_json, const ccopy_manifest_t *manifest,
                                        ccopy_error_t *error);

/**
 * Parse a manifest.
 * @param[out] out  filled on success (call ccopy_manifest_cleanup() afterwards); zeroed on failure.
 * @return 0, or CCOPY_ECORRUPT naming the missing or malformed field.
 */
CCOPY_EXPORT int ccopy_manifest_from_json(ccopy_manifest_t *out, const char *json, size_t len,
                                          ccopy_error_t *error);

#ifdef __cplusplus
}
#endif

#endif
