/*
 * The destination over an object store (sink.h: dir: folders, azblob:// containers): each
 * window a data object written by the window writer, the catalog being their manifests, a
 * collection's metadata.json a small object beside them.
 */
#ifndef CCOPY_DEST_STORE_H
#define CCOPY_DEST_STORE_H

#include "dest.h"
#include "sink.h"
#include "stream.h"

typedef struct _ccopy_dest_store_config {
    _ccopy_sink_settings_t sink; /* the store's settings (blob: blocks, retries, ...) */
    /* windows written (backup): the window writer's settings */
    const char *format;          /* "bson" or "jsonl" */
    _ccopy_compression_t compression;
    int compress_level;
} _ccopy_dest_store_config_t;

/* Open the store at location (sink.h's forms); for_writing creates what is missing and takes
 * the store's lock. The config is copied. */
int _ccopy_dest_store_open(_ccopy_dest_t **out, const char *location, int for_writing,
                           const _ccopy_dest_store_config_t *config, ccopy_error_t *error);

#endif
