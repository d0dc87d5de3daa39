/*
 * The destination over any object store: windows go through the window writer into data
 * objects, each followed by its manifest; the catalog is the manifests; restore and verify read
 * a window back through window_read.c, checked against its manifest. Sessions hold nothing but
 * the store: the sink's operations are safe to call from every worker at once.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dest_store.h"
#include "window_read.h"

typedef struct store {
    _ccopy_sink_t *sink;
    char *format;
    _ccopy_compression_t compression;
    int compress_level;
} store_t;

struct _ccopy_dest_session {
    _ccopy_dest_t *dest;
};

struct _ccopy_dest_window {
    _ccopy_window_writer_t *writer;
};

#define METADATA_NAME "metadata.json"

static store_t *store_of(_ccopy_dest_t *dest)
{
    return dest->impl;
}

static int catalog_read(_ccopy_dest_t *dest, _ccopy_dest_session_t *session, const char *db,
                        const char *coll, ccopy_manifest_t **out, size_t *out_count,
                        ccopy_error_t *error)
{
    (void)session;
    return _ccopy_sink_read_manifests(store_of(dest)->sink, db, coll, out, out_count, error);
}

static int catalog_list(_ccopy_dest_t *dest, const char *db, char ***out_names, size_t *out_count,
                        ccopy_error_t *error)
{
    _ccopy_sink_t *sink = store_of(dest)->sink;
    return sink->ops->list_groups(sink, db, out_names, out_count, error);
}

static int put_metadata(_ccopy_dest_t *dest, const char *db, const char *coll, const char *json,
                        ccopy_error_t *error)
{
    _ccopy_sink_t *sink = store_of(dest)->sink;
    return sink->ops->write_small(sink, db, coll, METADATA_NAME, json, strlen(json), error);
}

static int get_metadata(_ccopy_dest_t *dest, const char *db, const char *coll, char **out,
                        ccopy_error_t *error)
{
    _ccopy_sink_t *sink = store_of(dest)->sink;
    size_t len = 0;
    return sink->ops->read_small(sink, db, coll, METADATA_NAME, out, &len, error);
}

/* Before a collection's windows: what a failed window left without its manifest goes (see
 * _ccopy_sink_remove_orphans); emptying a collection is not something a backup does. */
static int prepare_collection(_ccopy_dest_t *dest, const char *db, const char *coll, int drop,
                              const ccopy_manifest_t *catalog, size_t catalog_count,
                              ccopy_error_t *error)
{
    if (drop)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "%s: a %s destination cannot drop %s.%s", dest->location,
                                dest->ops->name, db, coll);
    return _ccopy_sink_remove_orphans(store_of(dest)->sink, db, coll, catalog, catalog_count,
                                      error);
}

static int session_open(_ccopy_dest_t *dest, _ccopy_dest_session_t **out, ccopy_error_t *error)
{
    (void)error;
    *out = _ccopy_calloc(1, sizeof **out);
    (*out)->dest = dest;
    return 0;
}

static void session_close(_ccopy_dest_session_t *session)
{
    free(session);
}

static int window_begin(_ccopy_dest_session_t *session, const _ccopy_dest_window_spec_t *spec,
                        _ccopy_dest_window_t **out, ccopy_error_t *error)
{
    store_t *s = store_of(session->dest);
    _ccopy_window_writer_config_t wc = {
        .kind = spec->kind,
        .window = spec->window,
        .db = spec->db,
        .coll = spec->coll,
        .format = s->format,
        .compression = s->compression,
        .compress_level = s->compress_level,
    };
    _ccopy_window_writer_t *writer = NULL;
    int rc = _ccopy_window_writer_new(&writer, s->sink, &wc, error);
    if (rc != 0)
        return rc;
    *out = _ccopy_calloc(1, sizeof **out);
    (*out)->writer = writer;
    return 0;
}

static int window_add(_ccopy_dest_window_t *w, const bson_t *doc, ccopy_error_t *error)
{
    return _ccopy_window_writer_add(w->writer, doc, error);
}

static int window_restart(_ccopy_dest_window_t *w, ccopy_error_t *error)
{
    return _ccopy_window_writer_restart(w->writer, error);
}

static int window_commit(_ccopy_dest_window_t *w, ccopy_manifest_t *out, ccopy_error_t *error)
{
    return _ccopy_window_writer_commit(w->writer, out, error);
}

static void window_abort(_ccopy_dest_window_t *w)
{
    if (!w)
        return;
    _ccopy_window_writer_destroy(w->writer);
    free(w);
}

static int window_read(_ccopy_dest_session_t *session, const ccopy_manifest_t *manifest,
                       _ccopy_dest_doc_fn on_doc, _ccopy_dest_restart_fn on_restart,
                       void *user_data, ccopy_error_t *error)
{
    (void)on_restart; /* a data object is read once, from its start */
    return _ccopy_window_read(store_of(session->dest)->sink, manifest, on_doc, user_data, error);
}

static int window_count(_ccopy_dest_session_t *session, const ccopy_manifest_t *manifest,
                        int64_t *out, ccopy_error_t *error)
{
    (void)session;
    (void)error;
    *out = manifest->documents; /* window_read checks the data holds as many */
    return 0;
}

static char *describe(_ccopy_dest_t *dest)
{
    return _ccopy_strdup(dest->location);
}

static void store_close(_ccopy_dest_t *dest)
{
    store_t *s = store_of(dest);
    _ccopy_sink_close(s->sink);
    free(s->format);
    free(s);
}

#define STORE_OPS(NAME)                                                                         \
    {                                                                                           \
        NAME, 1, catalog_read, catalog_list, put_metadata, get_metadata, prepare_collection,    \
            session_open, session_close, window_begin, window_add, window_restart,              \
            window_commit, window_abort, window_read, window_count, describe, store_close       \
    }

static const _ccopy_dest_ops_t folder_ops = STORE_OPS("folder");
static const _ccopy_dest_ops_t blob_ops = STORE_OPS("blob");

int _ccopy_dest_store_open(_ccopy_dest_t **out, const char *location, int for_writing,
                           const _ccopy_dest_store_config_t *config, ccopy_error_t *error)
{
    _ccopy_sink_t *sink = NULL;
    _ccopy_dest_t *dest;
    store_t *s;
    int rc = _ccopy_sink_open(&sink, location, for_writing, &config->sink, error);

    *out = NULL;
    if (rc != 0)
        return rc;
    s = _ccopy_calloc(1, sizeof *s);
    s->sink = sink;
    s->format = _ccopy_strdup(config->format ? config->format : "bson");
    s->compression = config->compression;
    s->compress_level = config->compress_level;
    dest = _ccopy_calloc(1, sizeof *dest);
    dest->ops = strncmp(location, "dir:", 4) == 0 ? &folder_ops : &blob_ops;
    dest->location = _ccopy_strdup(sink->location);
    dest->impl = s;
    *out = dest;
    return 0;
}
