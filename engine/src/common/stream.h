/*
 * The data stream of one window: bytes in (BSON documents or JSON lines), optionally compressed
 * with gzip or zstd, hashed, and handed in chunks to a byte sink (a file today, a blob block
 * uploader later). Memory is bounded by one output buffer, whatever the window's size.
 */
#ifndef CCOPY_STREAM_H
#define CCOPY_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "cosmocopy/error.h"

typedef enum _ccopy_compression {
    CCOPY_COMPRESS_NONE = 0,
    CCOPY_COMPRESS_GZIP = 1,
    CCOPY_COMPRESS_ZSTD = 2
} _ccopy_compression_t;

/* Where compressed bytes go. Returns 0 or a negative ccopy_code_t with *error filled. */
typedef int (*_ccopy_stream_out_fn)(const uint8_t *data, size_t len, void *user_data, ccopy_error_t *error);

typedef struct _ccopy_stream _ccopy_stream_t;

/* "none", "gzip", "zstd" -> enum; returns -1 for anything else. */
int _ccopy_compression_from_name(const char *name);
const char *_ccopy_compression_name(_ccopy_compression_t c);
/* File name suffix: "", ".gz", ".zst". */
const char *_ccopy_compression_suffix(_ccopy_compression_t c);

/* 0 when a compression level suits the codec, otherwise CCOPY_EINVAL with a message naming the
 * option compress_level, the codec and its range. Level 0 (the codec's default) always suits;
 * without compression only 0 does. */
int _ccopy_compression_check_level(_ccopy_compression_t compression, int level, ccopy_error_t *error);

/* A new stream; level 0 means the codec's default (gzip 6, zstd 1). The output callback is
 * called with chunks of up to chunk_size bytes (0 means 1 MiB). NULL when the codec cannot be
 * set up (a level it refuses, no memory): callers check. */
_ccopy_stream_t *_ccopy_stream_new(_ccopy_compression_t compression, int level, size_t chunk_size,
                                   _ccopy_stream_out_fn out, void *user_data);
void _ccopy_stream_destroy(_ccopy_stream_t *s);

/* Feed raw (uncompressed) bytes. */
int _ccopy_stream_write(_ccopy_stream_t *s, const uint8_t *data, size_t len, ccopy_error_t *error);

/* Flush the compressor's end of stream and the last chunk. No write is allowed after. */
int _ccopy_stream_finish(_ccopy_stream_t *s, ccopy_error_t *error);

/* Counters and digests; the digests are final only after _ccopy_stream_finish().
 * raw: bytes fed in; stored: bytes handed to the output callback. Hex digests are 64 chars + NUL. */
uint64_t _ccopy_stream_raw_bytes(const _ccopy_stream_t *s);
uint64_t _ccopy_stream_stored_bytes(const _ccopy_stream_t *s);
void _ccopy_stream_stored_sha256_hex(const _ccopy_stream_t *s, char out[65]);

/* Decompress a whole stored object back to raw bytes through a callback (used by tests and,
 * later, restore and verify). Handles concatenated gzip members and zstd frames. */
typedef struct _ccopy_unstream _ccopy_unstream_t;
_ccopy_unstream_t *_ccopy_unstream_new(_ccopy_compression_t compression, _ccopy_stream_out_fn out,
                                       void *user_data);
int _ccopy_unstream_write(_ccopy_unstream_t *u, const uint8_t *data, size_t len, ccopy_error_t *error);
int _ccopy_unstream_finish(_ccopy_unstream_t *u, ccopy_error_t *error); /* ECORRUPT if truncated */
void _ccopy_unstream_destroy(_ccopy_unstream_t *u);

#endif
