/**
 * @file catalog.h
 * @brief Reading a sink's catalog: the manifests of its completed windows.
 *
 * Thread safety: a catalog handle is used by one thread at a time.
 */
#ifndef COSMOCOPY_CATALOG_H
#define COSMOCOPY_CATALOG_H

#include <stddef.h>

#include "cosmocopy/error.h"
#include "cosmocopy/export.h"
#include "cosmocopy/manifest.h"
#include "cosmocopy/options.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An opened sink, for reading. */
typedef struct ccopy_catalog ccopy_catalog_t;

/**
 * Open a sink's catalog for reading ("dir:PATH", "azblob://CONTAINER[/PREFIX]" with
 * $AZURE_STORAGE_CONNECTION_STRING, or a container URL with a SAS). Nothing is created or locked.
 * @return the handle, or NULL with CCOPY_ENOTFOUND (no such folder or container), CCOPY_EAUTH
 *         or CCOPY_EINVAL.
 */
CCOPY_EXPORT ccopy_catalog_t *ccopy_catalog_open(const char *location, ccopy_error_t *error);

/**
 * The same, taking the blob credentials and request settings from options
 * (blob_connection_string, blob_timeout_ms, the retry options); options may be NULL.
 */
CCOPY_EXPORT ccopy_catalog_t *ccopy_catalog_open_with_options(const char *location,
                                                              const ccopy_options_t *options,
                                                              ccopy_error_t *error);

/** Close a catalog; NULL is fine. */
CCOPY_EXPORT void ccopy_catalog_destroy(ccopy_catalog_t *catalog);

/**
 * Every manifest, optionally only of one database and/or collection, ordered by database,
 * collection, then window start (the non-ObjectId pass last).
 * @param[out] out_manifests  new array; free with ccopy_manifest_array_free().
 * @param[out] out_count      its length.
 * @param db, coll            filters, or NULL for all.
 * @return 0, or CCOPY_ECORRUPT naming a manifest that cannot be read, or CCOPY_EIO.
 */
CCOPY_EXPORT int ccopy_catalog_list(ccopy_catalog_t *catalog, ccopy_manifest_t **out_manifests,
                                    size_t *out_count, const char *db, const char *coll,
                                    ccopy_error_t *error);

/** Free an array returned by ccopy_catalog_list(). */
CCOPY_EXPORT void ccopy_manifest_array_free(ccopy_manifest_t *manifests, size_t count);

#ifdef __cplusplus
}
#endif

#endif
