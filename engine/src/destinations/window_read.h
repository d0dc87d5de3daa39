/*
 * Reading a backed-up window back, for restore and verify: the data object a manifest names is
 * streamed from its sink, hashed and counted as stored, decompressed and split into documents,
 * and checked against the manifest at the end. Memory is bounded by the sink's chunk, the
 * decompressor's buffer and the largest document, whatever the window's size.
 */
#ifndef CCOPY_WINDOW_READ_H
#define CCOPY_WINDOW_READ_H

#include <bson/bson.h>

#include "cosmocopy/error.h"
#include "cosmocopy/manifest.h"
#include "sink.h"

/* A document read back from a window (valid only during the call). */
typedef int (*_ccopy_doc_fn)(const bson_t *doc, void *user_data, ccopy_error_t *error);

/* Read one window's data object back: the stored bytes are hashed (SHA-256) and counted while
 * they are decompressed (manifest->compression) and split into documents (manifest->format: "bson"
 * = concatenated BSON, "jsonl" = one canonical Extended JSON document per line, read back into
 * the very BSON it was written from by _ccopy_extjson_to_bson), each passed to on_doc. At the end the stored size, the SHA-256 and the number of
 * documents must equal the manifest's; otherwise ECORRUPT naming the object (sink->ops->describe)
 * and what differs ("SHA-256 of ... is X, its manifest says Y"). Framing errors (a BSON length
 * below 5 or above 64 MiB, a truncated document, a line that is not Extended JSON, a bad
 * compressed stream) are ECORRUPT naming the object and the byte offset/line. ENOTFOUND when the
 * data object is missing. on_doc NULL: only hash and count the stored bytes (no decompression),
 * which is how a caller checks a window before writing anything from it.
 * Documents reach on_doc before the hash is known: callers that must not act on unverified data
 * call once with on_doc NULL first. When documents are read, the uncompressed size must equal
 * manifest->bytes too. When the stored bytes differ from the manifest's, that is what the error
 * says, even if decompressing or splitting them failed first (no document reaches on_doc after
 * such a failure). A non-zero return of on_doc stops the read and is returned with its error.
 * Reads of different windows may run on different threads at once. */
int _ccopy_window_read(_ccopy_sink_t *sink, const ccopy_manifest_t *manifest, _ccopy_doc_fn on_doc,
                       void *user_data, ccopy_error_t *error);

#endif
