/*
 * The MongoDB/Cosmos destination: a collection on another MongoDB-protocol server that receives
 * documents in unordered bulk batches through the bulk writer and the target's own governor,
 * and, for replicate, the catalog of completed windows kept in the target database's collection
 * "cosmocopy" (one document per window, the manifest's fields plus target_collection), so an
 * incremental replication continues from any machine. The catalog, indexes and the preparing of
 * a collection are in dest_mongo_catalog.c.
 *
 * A window is recorded in the catalog only after every one of its documents was acknowledged by
 * the target. A document the target refuses for good (too large, ...) is reported with its _id
 * and size; its window is then not recorded, so every later run tries it again and says so.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "dest_mongo_impl.h"
#include "extjson.h"
#include "reader.h"
#include "sink.h"
#include "stream.h"
#include "version.h"

const char *_ccopy_mongo_target_coll(const mongo_t *m, const char *coll)
{
    return m->config.target_coll ? m->config.target_coll : coll;
}

/* One "host:port" of a host list, lower-cased, with every loopback spelling ("localhost",
 * "127.0.0.1", "[::1]") the same: the server a connection reaches, as far as the name says. */
static void server_key(char *out, size_t size, const char *entry, size_t len)
{
    const char *colon = NULL, *p;
    size_t host_len, i;
    for (p = entry; p < entry + len; p++)
        if (*p == ':' && !memchr(p, ']', (size_t)(entry + len - p)))
            colon = p; /* the port's colon: after any IPv6 brackets */
    host_len = colon ? (size_t)(colon - entry) : len;
    if ((host_len == 9 && strncasecmp(entry, "localhost", 9) == 0) ||
        (host_len == 10 && strncasecmp(entry, "localhost.", 10) == 0) ||
        (host_len >= 4 && strncmp(entry, "127.", 4) == 0 &&
         strspn(entry, "0123456789.") >= host_len) ||
        (host_len == 5 && strncmp(entry, "[::1]", 5) == 0))
        snprintf(out, size, "loopback%.*s", colon ? (int)(entry + len - colon) : 0,
                 colon ? colon : "");
    else {
        snprintf(out, size, "%.*s", (int)len, entry);
        for (i = 0; out[i]; i++)
            out[i] = (char)tolower((unsigned char)out[i]);
    }
}

/* Do two host lists share a server? Then they are one deployment, however spelled: a replica
 * set named by another member, or 127.0.0.1 for localhost (which replicated a collection onto
 * itself, rewriting it in place). */
static int same_servers(const char *a, const char *b)
{
    const char *x, *y;
    size_t nx, ny;
    for (x = a; *x; x += nx + (x[nx] == ',')) {
        char kx[300];
        nx = strcspn(x, ",");
        server_key(kx, sizeof kx, x, nx);
        for (y = b; *y; y += ny + (y[ny] == ',')) {
            char ky[300];
            ny = strcspn(y, ",");
            server_key(ky, sizeof ky, y, ny);
            if (strcmp(kx, ky) == 0)
                return 1;
        }
    }
    return 0;
}

int _ccopy_dest_mongo_is_source(_ccopy_dest_t *dest, const _ccopy_source_t *source,
                                const char *db, const char *coll)
{
    mongo_t *m = _ccopy_mongo_of(dest);
    return same_servers(source->hosts, m->config.server->hosts) &&
           strcmp(db, m->config.target_db) == 0 &&
           (!m->config.target_coll || (coll && strcmp(m->config.target_coll, coll) == 0));
}

void _ccopy_mongo_bulk_config(_ccopy_dest_session_t *session, _ccopy_bulk_config_t *config,
                              const char *coll, _ccopy_write_mode_t mode)
{
    mongo_t *m = _ccopy_mongo_of(session->dest);
    memset(config, 0, sizeof *config);
    config->server = m->config.server;
    config->requester = &session->requester;
    config->db = m->config.target_db;
    config->coll = coll;
    config->mode = mode;
    config->backoff = m->config.backoff;
    config->rng_state = &session->rng;
    config->duplicate_is_written = mode == CCOPY_WRITE_INSERT;
}

/* ---- sessions ----------------------------------------------------------------------------- */

static int session_open(_ccopy_dest_t *dest, _ccopy_dest_session_t **out, ccopy_error_t *error)
{
    mongo_t *m = _ccopy_mongo_of(dest);
    _ccopy_dest_session_t *s = _ccopy_calloc(1, sizeof *s);
    (void)error;
    s->dest = dest;
    s->client = mongoc_client_pool_pop(m->config.server->pool);
    _ccopy_requester_init(&s->requester, s->client, m->config.shared, m->config.counters,
                          m->config.canceled);
    s->rng = (uint64_t)_ccopy_monotonic_ms() * 0x9E3779B97F4A7C15ULL + (uint64_t)(uintptr_t)s;
    *out = s;
    return 0;
}

static void session_close(_ccopy_dest_session_t *s)
{
    if (!s)
        return;
    _ccopy_requester_cleanup(&s->requester);
    mongoc_client_pool_push(_ccopy_mongo_of(s->dest)->config.server->pool, s->client);
    free(s);
}

/* ---- windows: batches --------------------------------------------------------------------- */

/* Documents collected for one bulk write, bounded by count and bytes, plus what the window
 * they belong to has seen so far. */
struct _ccopy_dest_window {
    _ccopy_dest_session_t *session;
    _ccopy_dest_window_spec_t spec; /* db, coll owned */
    _ccopy_bulk_config_t config;
    bson_t **docs;
    size_t count;
    int64_t bytes;
    int limit;           /* documents per bulk write now: write_batch_size, less after throttling */
    double most_ru;      /* the most one bulk write should cost, as the pace was when the batch
                          * began (_ccopy_request_write_most_ru; 0: unpaced) */
    int clean_writes;    /* bulk writes in a row that met no throttling */
    _ccopy_bulk_result_t result;
    /* the window */
    _ccopy_stream_t *hash; /* SHA-256 of the documents in order: what a backup's data would be */
    int64_t documents;
    bson_value_t first_id, last_id;
    int have_ids;
};

static void on_reject(const bson_t *doc, int64_t code, const char *message, void *user_data)
{
    _ccopy_dest_window_t *w = user_data;
    mongo_t *m = _ccopy_mongo_of(w->session->dest);
    bson_iter_t it;
    char *id = bson_iter_init_find(&it, doc, "_id") ? _ccopy_bson_value_to_json(bson_iter_value(&it)) : NULL;
    char *line = _ccopy_strdup_printf("_id %s (%u bytes) in %s.%s: %s (code %lld)", id ? id : "?",
                                      doc->len, w->config.db, w->config.coll, message, (long long)code);
    if (m->hooks.rejected)
        m->hooks.rejected(m->hooks.data, line);
    free(line);
    free(id);
}

static int discard(const uint8_t *data, size_t len, void *user_data, ccopy_error_t *error)
{
    (void)data;
    (void)len;
    (void)user_data;
    (void)error;
    return 0;
}

static void forget_window(_ccopy_dest_window_t *w)
{
    if (w->hash)
        _ccopy_stream_destroy(w->hash);
    w->hash = _ccopy_stream_new(CCOPY_COMPRESS_NONE, 0, 0, discard, NULL);
    if (w->have_ids) {
        bson_value_destroy(&w->first_id);
        bson_value_destroy(&w->last_id);
    }
    w->have_ids = 0;
    w->documents = 0;
}

static int window_begin(_ccopy_dest_session_t *session, const _ccopy_dest_window_spec_t *spec,
                        _ccopy_dest_window_t **out, ccopy_error_t *error)
{
    mongo_t *m = _ccopy_mongo_of(session->dest);
    _ccopy_dest_window_t *w = _ccopy_calloc(1, sizeof *w);
    int insert_only;
    (void)error;
    w->session = session;
    w->spec = *spec;
    w->spec.db = _ccopy_strdup(spec->db);
    w->spec.coll = _ccopy_strdup(spec->coll);
    /* upserts into a collection found empty go as inserts; an _id found taken since (a window
     * tried again, another writer) is upserted after all */
    insert_only = _ccopy_mongo_insert_only(m, spec->coll);
    _ccopy_mongo_bulk_config(session, &w->config, _ccopy_mongo_target_coll(m, spec->coll),
                             insert_only ? CCOPY_WRITE_INSERT : m->config.write_mode);
    w->config.upsert_duplicates = insert_only;
    w->config.on_reject = on_reject;
    w->config.reject_data = w;
    w->docs = _ccopy_calloc((size_t)m->config.write_batch_size, sizeof *w->docs);
    w->limit = session->write_limit > 0 ? session->write_limit : m->config.write_batch_size;
    forget_window(w);
    *out = w;
    return 0;
}

static void batch_clear(_ccopy_dest_window_t *w)
{
    size_t i;
    for (i = 0; i < w->count; i++)
        bson_destroy(w->docs[i]);
    w->count = 0;
    w->bytes = 0;
}

static void window_abort(_ccopy_dest_window_t *w)
{
    if (!w)
        return;
    w->session->write_limit = w->limit; /* the next window starts where this one ended */
    batch_clear(w);
    free(w->docs);
    if (w->hash)
        _ccopy_stream_destroy(w->hash);
    if (w->have_ids) {
        bson_value_destroy(&w->first_id);
        bson_value_destroy(&w->last_id);
    }
    free((char *)w->spec.db);
    free((char *)w->spec.coll);
    free(w);
}

/* A bulk write costing more than the target admits in a moment is cut by every throttle, and
 * pacing alone cannot help: what gets through shrinks with each cut. So a batch that met
 * throttling halves the next ones (down to one document); clean writes grow them back by a
 * quarter, up to write_batch_size. */
static void adapt_limit(_ccopy_dest_window_t *w, int64_t throttled_before)
{
    int max = _ccopy_mongo_of(w->session->dest)->config.write_batch_size;
    if (w->result.throttled > throttled_before) {
        w->limit = w->limit > 1 ? w->limit / 2 : 1;
        w->clean_writes = 0;
    } else if (w->limit < max && ++w->clean_writes >= 2) {
        w->limit += w->limit / 4 > 0 ? w->limit / 4 : 1;
        if (w->limit > max)
            w->limit = max;
        w->clean_writes = 0;
    }
}

static int batch_flush(_ccopy_dest_window_t *w, ccopy_error_t *error)
{
    int rc = 0;
    if (w->count > 0) {
        int64_t throttled = w->result.throttled;
        rc = _ccopy_bulk_write(&w->config, (const bson_t *const *)w->docs, w->count, &w->result, error);
        adapt_limit(w, throttled);
    }
    batch_clear(w);
    return rc;
}

static int window_add(_ccopy_dest_window_t *w, const bson_t *doc, ccopy_error_t *error)
{
    mongo_t *m = _ccopy_mongo_of(w->session->dest);
    bson_iter_t it;
    int rc;

    int64_t bytes_limit = m->config.write_batch_bytes * w->limit / m->config.write_batch_size;
    if (w->count > 0 &&
        ((int)w->count >= w->limit || w->bytes + (int64_t)doc->len > bytes_limit ||
         (w->most_ru > 0 && _ccopy_ru_estimate_write((int64_t)w->count + 1,
                                                     w->bytes + (int64_t)doc->len) > w->most_ru))) {
        rc = batch_flush(w, error);
        if (rc != 0)
            return rc;
    }
    if (w->count == 0) /* the pace, read once a batch rather than for every document */
        w->most_ru = _ccopy_request_write_most_ru(w->config.requester);
    w->docs[w->count++] = bson_copy(doc);
    w->bytes += doc->len;
    rc = _ccopy_stream_write(w->hash, bson_get_data(doc), doc->len, error);
    if (rc != 0)
        return rc;
    if (bson_iter_init_find(&it, doc, "_id")) {
        if (w->have_ids)
            bson_value_destroy(&w->last_id);
        else
            bson_value_copy(bson_iter_value(&it), &w->first_id);
        bson_value_copy(bson_iter_value(&it), &w->last_id);
        w->have_ids = 1;
    }
    w->documents++;
    return 0;
}

/* The non-ObjectId pass starts over: what was written stays (upserts and inserts are harmless
 * to repeat); the window's record starts again. */
static int window_restart(_ccopy_dest_window_t *w, ccopy_error_t *error)
{
    int rc = batch_flush(w, error);
    forget_window(w);
    return rc;
}

/* The manifest of what the window saw, as the catalog keeps it. */
static void window_manifest(_ccopy_dest_window_t *w, ccopy_manifest_t *out)
{
    char now[CCOPY_TIME_TEXT_SIZE];
    ccopy_error_t ignored;

    _ccopy_stream_finish(w->hash, &ignored);
    ccopy_time_format(now, _ccopy_now_seconds(), NULL);
    memset(out, 0, sizeof *out);
    out->format_version = 1;
    out->kind = w->spec.kind;
    out->database = _ccopy_strdup(w->spec.db);
    out->collection = _ccopy_strdup(w->spec.coll);
    out->window = w->spec.kind == CCOPY_MANIFEST_WINDOW ? w->spec.window : (ccopy_window_t){0, 0};
    out->documents = w->documents;
    out->bytes = out->stored_bytes = (int64_t)_ccopy_stream_raw_bytes(w->hash);
    out->data = _ccopy_strdup_printf("%s.%s", w->config.db, w->config.coll);
    _ccopy_stream_stored_sha256_hex(w->hash, out->sha256);
    out->first_id = w->have_ids ? _ccopy_bson_value_to_json(&w->first_id) : NULL;
    out->last_id = w->have_ids ? _ccopy_bson_value_to_json(&w->last_id) : NULL;
    out->format = _ccopy_strdup("bson");
    out->compression = _ccopy_strdup("none");
    out->engine_version = _ccopy_strdup(CCOPY_VERSION_STRING);
    out->completed_at = _ccopy_strdup(now);
}

/* Every document acknowledged, then (replicate) the catalog entry. Refused documents fail the
 * window (EREJECTED), so it is not recorded as complete. */
static int window_commit(_ccopy_dest_window_t *w, ccopy_manifest_t *out, ccopy_error_t *error)
{
    mongo_t *m = _ccopy_mongo_of(w->session->dest);
    int rc = batch_flush(w, error);
    if (rc == 0 && m->config.canceled && atomic_load(m->config.canceled))
        rc = _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
    if (rc == 0 && w->result.rejected > 0)
        rc = _ccopy_error_set(error, CCOPY_EREJECTED, CCOPY_DOMAIN_ENGINE, 0,
                              "%lld of %lld document%s could not be written to %s.%s (see the "
                              "warnings and the summary's rejected list); %s",
                              (long long)w->result.rejected, (long long)w->documents,
                              w->documents == 1 ? "" : "s", w->config.db, w->config.coll,
                              m->config.record_windows
                                  ? "the window is not marked complete, so the next run tries "
                                    "them again"
                                  : "the other documents of the window are restored");
    if (rc != 0)
        return rc;
    window_manifest(w, out);
    if (m->config.record_windows) {
        rc = _ccopy_mongo_catalog_write(w->session, w->config.coll, out, error);
        if (rc != 0)
            ccopy_manifest_cleanup(out);
    }
    return rc;
}

/* ---- reading a window back ---------------------------------------------------------------- */

static void reader_config(_ccopy_dest_session_t *session, const ccopy_manifest_t *manifest,
                          _ccopy_reader_config_t *c)
{
    mongo_t *m = _ccopy_mongo_of(session->dest);
    memset(c, 0, sizeof *c);
    c->source = m->config.server;
    c->requester = &session->requester;
    c->db = m->config.target_db;
    c->coll = _ccopy_mongo_target_coll(m, manifest->collection);
    c->kind = manifest->kind;
    c->window = manifest->window;
    c->batch_size = m->config.read_batch_size;
    c->backoff = m->config.backoff;
    c->rng_state = &session->rng;
}

static int window_read(_ccopy_dest_session_t *session, const ccopy_manifest_t *manifest,
                       _ccopy_dest_doc_fn on_doc, _ccopy_dest_restart_fn on_restart,
                       void *user_data, ccopy_error_t *error)
{
    _ccopy_reader_config_t c;
    if (!on_doc)
        return 0; /* a collection has no stored bytes to check */
    reader_config(session, manifest, &c);
    return _ccopy_reader_run(&c, on_doc, on_restart, user_data, error);
}

static int window_count(_ccopy_dest_session_t *session, const ccopy_manifest_t *manifest,
                        int64_t *out, ccopy_error_t *error)
{
    _ccopy_reader_config_t c;
    reader_config(session, manifest, &c);
    return _ccopy_reader_count(&c, out, error);
}

static char *describe(_ccopy_dest_t *dest)
{
    (void)dest;
    return _ccopy_strdup("the target's catalog");
}

static void mongo_close(_ccopy_dest_t *dest)
{
    mongo_t *m = _ccopy_mongo_of(dest);
    size_t i;
    _ccopy_source_close(m->config.server);
    free((char *)m->config.target_db);
    free((char *)m->config.target_coll);
    for (i = 0; i < m->coll_count; i++)
        free(m->colls[i].name);
    free(m->colls);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const _ccopy_dest_ops_t mongo_ops = {
    "mongodb",
    0,
    _ccopy_mongo_catalog_read,
    _ccopy_mongo_catalog_list,
    _ccopy_mongo_put_metadata,
    _ccopy_mongo_get_metadata,
    _ccopy_mongo_prepare_collection,
    session_open,
    session_close,
    window_begin,
    window_add,
    window_restart,
    window_commit,
    window_abort,
    window_read,
    window_count,
    describe,
    mongo_close,
};

int _ccopy_dest_mongo_open(_ccopy_dest_t **out, const _ccopy_dest_mongo_config_t *config,
                           const _ccopy_dest_mongo_hooks_t *hooks, ccopy_error_t *error)
{
    mongo_t *m = _ccopy_calloc(1, sizeof *m);
    _ccopy_dest_t *dest = _ccopy_calloc(1, sizeof *dest);
    bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t e;
    mongoc_client_t *client;
    int rc = 0;

    m->config = *config;
    m->config.target_db = _ccopy_strdup(config->target_db);
    m->config.target_coll = config->target_coll ? _ccopy_strdup(config->target_coll) : NULL;
    if (hooks)
        m->hooks = *hooks;
    pthread_mutex_init(&m->lock, NULL);
    dest->ops = &mongo_ops;
    dest->location = _ccopy_strdup(config->server->hosts);
    dest->impl = m;
    *out = NULL;
    /* One try, as for the source: server selection already waited the server timeout, and a
     * host that does not answer is reported now, not after the retry budget's back-offs. */
    client = mongoc_client_pool_pop(config->server->pool);
    if (!mongoc_client_command_simple(client, "admin", ping, NULL, NULL, &e))
        rc = _ccopy_source_error(config->server, error, &e, "connecting to the target");
    mongoc_client_pool_push(config->server->pool, client);
    bson_destroy(ping);
    if (rc != 0) {
        _ccopy_dest_close(dest);
        return rc;
    }
    *out = dest;
    return 0;
}
