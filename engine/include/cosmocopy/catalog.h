/**
 * @file catalog.h
 * @brief Reading a sink's catalog: the manifests of its completed windows.
 *
 * Thread safety: a catalog handle is used by one thread at a time.
 */
#ifndef COSMOCOPY_CATALOG_H
#define COSMOCOPY_CATALOG_H

#include <stddef.h>
#include <stdint.h>

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
 * @return the handle, or NULL with CCOPY_EINVAL (a location that is none of these, or a folder
 *         or container that does not exist: bad input, the error's cause then ENOENT in domain
 *         CCOPY_DOMAIN_OS or 404 in CCOPY_DOMAIN_HTTP), CCOPY_EAUTH, or CCOPY_EIO.
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

/**
 * Document callback: one document of a window, as raw BSON (`len` bytes, valid only during the
 * call). Return 0 to go on; any other value stops the read, which then returns CCOPY_ESTOPPED
 * with that value as the error's cause.
 */
typedef int (*ccopy_document_cb)(const uint8_t *bson, size_t len, void *user_data);

/**
 * Read the documents of one completed window (a manifest from ccopy_catalog_list()) in the
 * order they were written. The stored bytes are hashed and counted as they are read and checked
 * against the manifest at the end (size, SHA-256, documents), so a window that does not match
 * fails with CCOPY_ECORRUPT naming the object; documents reach the callback before that check,
 * so a caller that must not act on unverified data reads once with on_document NULL (every check
 * is made, documents and bytes counted included, and no document is passed on), then again. Memory is bounded whatever the window's
 * size. One thread at a time per catalog handle.
 * @return 0; CCOPY_ECORRUPT; CCOPY_ENOTFOUND when the data object is missing; CCOPY_EIO;
 *         CCOPY_ESTOPPED when the callback stopped the read.
 */
CCOPY_EXPORT int ccopy_catalog_read_window(ccopy_catalog_t *catalog, const ccopy_manifest_t *manifest,
                                           ccopy_document_cb on_document, void *user_data,
                                           ccopy_error_t *error);

/** Free an array returned by ccopy_catalog_list(). */
CCOPY_EXPORT void ccopy_manifest_array_free(ccopy_manifest_t *manifests, size_t count);

#ifdef __cplusplus
}
#endif

#endif
