/*
 * The MongoDB/Cosmos destination: a collection on another MongoDB-protocol server that receives
 * documents in unordered bulk batches through the bulk writer and the target's own governor,
 * and, for replicate, the catalog of completed windows kept in the target database's collection
 * "cosmocopy" (one document per window, the manifest's fields plus target_collection), so an
 * incremental replication continues from any machine.
 *
 * A window is recorded in the catalog only after every one of its documents was acknowledged by
 * the target. A document the target refuses for good (too large, ...) is reported with its _id
 * and size; its window is then not recorded, so every later run tries it again and says so.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dest_mongo.h"
#include "extjson.h"
#include "reader.h"
#include "sink.h"
#include "stream.h"
#include "version.h"

#define CATALOG_COLLECTION _CCOPY_CATALOG_COLLECTION

/* A collection noted empty by prepare_collection (upsert mode): written with inserts. */
typedef struct empty_coll {
    char *name;
    int insert_only;
} empty_coll_t;

typedef struct mongo {
    _ccopy_dest_mongo_config_t config; /* strings owned */
    _ccopy_dest_mongo_hooks_t hooks;
    pthread_mutex_t lock; /* colls */
    empty_coll_t *colls;
    size_t coll_count;
} mongo_t;

struct _ccopy_dest_session {
    _ccopy_dest_t *dest;
    mongoc_client_t *client;
    _ccopy_requester_t requester;
    uint64_t rng;
    int write_limit; /* documents per bulk write this session has learned (0: write_batch_size) */
};

static mongo_t *mongo_of(_ccopy_dest_t *dest)
{
    return dest->impl;
}

static void say(mongo_t *m, ccopy_log_level_t level, const char *fmt, ...) CCOPY_PRINTF(3, 4);

static void say(mongo_t *m, ccopy_log_level_t level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (!m->hooks.log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    m->hooks.log(m->hooks.data, level, line);
}

static int again(mongo_t *m, int rc, int *attempt, ccopy_error_t *error)
{
    return m->hooks.again ? m->hooks.again(m->hooks.data, rc, attempt, error) : 0;
}

static const char *target_coll(const mongo_t *m, const char *coll)
{
    return m->config.target_coll ? m->config.target_coll : coll;
}

/* A connection: the session's, or one from the pool (*own says so). */
static mongoc_client_t *take_client(mongo_t *m, _ccopy_dest_session_t *session, int *own)
{
    *own = session == NULL;
    return session ? session->client : mongoc_client_pool_pop(m->config.server->pool);
}

static void give_client(mongo_t *m, mongoc_client_t *client, int own)
{
    if (own)
        mongoc_client_pool_push(m->config.server->pool, client);
}

int _ccopy_dest_mongo_is_source(_ccopy_dest_t *dest, const _ccopy_source_t *source,
                                const char *db, const char *coll)
{
    mongo_t *m = mongo_of(dest);
    return strcmp(source->hosts, m->config.server->hosts) == 0 &&
           strcmp(db, m->config.target_db) == 0 &&
           (!m->config.target_coll || (coll && strcmp(m->config.target_coll, coll) == 0));
}

/* ---- the catalog ------------------------------------------------------------------------ */

static int catalog_order(const void *a, const void *b)
{
    const ccopy_manifest_t *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind == CCOPY_MANIFEST_WINDOW ? -1 : 1;
    if (x->window.start != y->window.start)
        return x->window.start < y->window.start ? -1 : 1;
    return (x->window.end > y->window.end) - (x->window.end < y->window.end);
}

static int catalog_read_once(mongo_t *m, mongoc_client_t *c, const char *db, const char *coll,
                             ccopy_manifest_t **out, size_t *out_count, ccopy_error_t *error)
{
    const char *tdb = m->config.target_db;
    mongoc_collection_t *catalog = mongoc_client_get_collection(c, tdb, CATALOG_COLLECTION);
    bson_t *filter = BCON_NEW("target_collection", BCON_UTF8(target_coll(m, coll)), "database",
                              BCON_UTF8(db), "collection", BCON_UTF8(coll));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(catalog, filter, NULL, NULL);
    ccopy_manifest_t *list = NULL;
    size_t n = 0;
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;

    while (rc == 0 && mongoc_cursor_next(cursor, &doc)) {
        list = _ccopy_realloc(list, (n + 1) * sizeof *list);
        rc = _ccopy_manifest_from_bson(&list[n], doc, error);
        if (rc != 0) {
            bson_iter_t it;
            char *id = bson_iter_init_find(&it, doc, "_id") ? _ccopy_bson_value_to_json(bson_iter_value(&it))
                                                           : NULL;
            _ccopy_error_prefix(error, "catalog entry %s in %s.%s", id ? id : "(no _id)", tdb,
                                CATALOG_COLLECTION);
            free(id);
            break;
        }
        n++;
    }
    if (rc == 0 && mongoc_cursor_error(cursor, &e)) {
        char *what = _ccopy_strdup_printf("reading the catalog %s.%s", tdb, CATALOG_COLLECTION);
        rc = _ccopy_source_error(m->config.server, error, &e, what);
        free(what);
    }
    mongoc_cursor_destroy(cursor);
    bson_destroy(filter);
    mongoc_collection_destroy(catalog);
    if (rc != 0) {
        _ccopy_manifests_free(list, n);
        return rc;
    }
    if (n > 0)
        qsort(list, n, sizeof *list, catalog_order);
    *out = list;
    *out_count = n;
    return 0;
}

static int catalog_read(_ccopy_dest_t *dest, _ccopy_dest_session_t *session, const char *db,
                        const char *coll, ccopy_manifest_t **out, size_t *out_count,
                        ccopy_error_t *error)
{
    mongo_t *m = mongo_of(dest);
    int own, rc, attempt = 0;
    mongoc_client_t *c = take_client(m, session, &own);
    do
        rc = catalog_read_once(m, c, db, coll, out, out_count, error);
    while (again(m, rc, &attempt, error));
    give_client(m, c, own);
    return rc;
}

/* The distinct values of field in the catalog, where database is db (when given). */
static int catalog_list(_ccopy_dest_t *dest, const char *db, char ***out_names, size_t *out_count,
                        ccopy_error_t *error)
{
    mongo_t *m = mongo_of(dest);
    bson_t command = BSON_INITIALIZER, reply;
    bson_iter_t it, values;
    bson_error_t e;
    char **names = NULL;
    size_t n = 0;
    int own, rc = 0, attempt = 0;
    mongoc_client_t *c = take_client(m, NULL, &own);

    BSON_APPEND_UTF8(&command, "distinct", CATALOG_COLLECTION);
    BSON_APPEND_UTF8(&command, "key", db ? "collection" : "database");
    if (db) {
        bson_t query;
        BSON_APPEND_DOCUMENT_BEGIN(&command, "query", &query);
        BSON_APPEND_UTF8(&query, "database", db);
        bson_append_document_end(&command, &query);
    }
    do {
        rc = 0;
        if (!mongoc_client_read_command_with_opts(c, m->config.target_db, &command, NULL, NULL,
                                                  &reply, &e)) {
            char *what = _ccopy_strdup_printf("reading the catalog %s.%s", m->config.target_db,
                                              CATALOG_COLLECTION);
            rc = _ccopy_source_error(m->config.server, error, &e, what);
            free(what);
            bson_destroy(&reply);
        }
    } while (again(m, rc, &attempt, error));
    give_client(m, c, own);
    bson_destroy(&command);
    if (rc != 0)
        return rc;
    if (bson_iter_init_find(&it, &reply, "values") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &values)) {
        while (bson_iter_next(&values)) {
            if (!BSON_ITER_HOLDS_UTF8(&values))
                continue;
            names = _ccopy_realloc(names, (n + 1) * sizeof *names);
            names[n++] = _ccopy_strdup(bson_iter_utf8(&values, NULL));
        }
    }
    bson_destroy(&reply);
    *out_names = names;
    *out_count = n;
    return 0;
}

static void bulk_config(_ccopy_dest_session_t *session, _ccopy_bulk_config_t *config,
                        const char *coll, _ccopy_write_mode_t mode)
{
    mongo_t *m = mongo_of(session->dest);
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

/* Record a completed window: an upsert of its catalog document, governed and retried like any
 * other write. */
static int catalog_write(_ccopy_dest_session_t *session, const char *tcoll,
                         const ccopy_manifest_t *manifest, ccopy_error_t *error)
{
    mongo_t *m = mongo_of(session->dest);
    _ccopy_bulk_config_t config;
    _ccopy_bulk_result_t result;
    bson_error_t reason;
    char *json = NULL, *id;
    bson_t *fields, doc = BSON_INITIALIZER;
    const bson_t *docs[1];
    int rc = ccopy_manifest_to_json(&json, manifest, error);

    if (rc != 0)
        return rc;
    fields = bson_new_from_json((const uint8_t *)json, -1, &reason);
    free(json);
    if (!fields)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "catalog entry could not be made: %s", reason.message);
    id = manifest->kind == CCOPY_MANIFEST_WINDOW
             ? _ccopy_strdup_printf("%s|%s.%s|%lld-%lld", tcoll, manifest->database,
                                    manifest->collection, (long long)manifest->window.start,
                                    (long long)manifest->window.end)
             : _ccopy_strdup_printf("%s|%s.%s|non-objectid", tcoll, manifest->database,
                                    manifest->collection);
    BSON_APPEND_UTF8(&doc, "_id", id);
    BSON_APPEND_UTF8(&doc, "target_collection", tcoll);
    bson_concat(&doc, fields);
    bson_destroy(fields);
    free(id);
    docs[0] = &doc;
    memset(&result, 0, sizeof result);
    bulk_config(session, &config, CATALOG_COLLECTION, CCOPY_WRITE_UPSERT);
    rc = _ccopy_bulk_write(&config, docs, 1, &result, error);
    if (rc == 0 && result.rejected > 0)
        rc = _ccopy_error_set(error, CCOPY_ESERVER, CCOPY_DOMAIN_ENGINE, 0,
                              "the target refused the catalog entry in %s.%s", m->config.target_db,
                              CATALOG_COLLECTION);
    bson_destroy(&doc);
    return rc;
}

/* ---- metadata: indexes -------------------------------------------------------------------- */

/* An index as createIndexes takes it: what listIndexes said, without the fields that describe
 * the old collection (v, ns) or are ignored by newer servers (background). */
static void index_spec(bson_t *out, const bson_t *index)
{
    bson_iter_t it;
    bson_iter_init(&it, index);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (strcmp(key, "v") == 0 || strcmp(key, "ns") == 0 || strcmp(key, "background") == 0)
            continue;
        bson_append_iter(out, key, -1, &it);
    }
}

/* The indexes metadata.json lists are created on the target collection. */
static int put_metadata(_ccopy_dest_t *dest, const char *db, const char *coll,
                        const char *metadata_json, ccopy_error_t *error)
{
    mongo_t *m = mongo_of(dest);
    const char *tdb = m->config.target_db, *tcoll = target_coll(m, coll);
    bson_error_t reason, e;
    bson_t *meta = bson_new_from_json((const uint8_t *)metadata_json, -1, &reason);
    bson_t command = BSON_INITIALIZER, list, reply;
    bson_iter_t it, indexes;
    uint32_t n = 0;
    int rc = 0, own, attempt = 0;
    mongoc_client_t *c;

    if (!meta)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "metadata.json of %s.%s is not Extended JSON: %s", db, coll,
                                reason.message);
    BSON_APPEND_UTF8(&command, "createIndexes", tcoll);
    BSON_APPEND_ARRAY_BEGIN(&command, "indexes", &list);
    if (bson_iter_init_find(&it, meta, "indexes") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &indexes)) {
        while (bson_iter_next(&indexes)) {
            bson_t index, spec;
            const uint8_t *data;
            uint32_t len;
            bson_iter_t name;
            char key[16];
            const char *keyp;
            if (!BSON_ITER_HOLDS_DOCUMENT(&indexes))
                continue;
            bson_iter_document(&indexes, &len, &data);
            bson_init_static(&index, data, len);
            if (bson_iter_init_find(&name, &index, "name") && BSON_ITER_HOLDS_UTF8(&name) &&
                strcmp(bson_iter_utf8(&name, NULL), "_id_") == 0)
                continue; /* every collection has it */
            bson_uint32_to_string(n++, &keyp, key, sizeof key);
            BSON_APPEND_DOCUMENT_BEGIN(&list, keyp, &spec);
            index_spec(&spec, &index);
            bson_append_document_end(&list, &spec);
        }
    }
    bson_append_array_end(&command, &list);
    bson_destroy(meta);
    if (n == 0) {
        bson_destroy(&command);
        return 0;
    }
    c = take_client(m, NULL, &own);
    do {
        rc = 0;
        if (!mongoc_client_write_command_with_opts(c, tdb, &command, NULL, &reply, &e)) {
            char *what = _ccopy_strdup_printf("creating %u index%s on %s.%s", n, n == 1 ? "" : "es",
                                              tdb, tcoll);
            rc = _ccopy_source_error(m->config.server, error, &e, what);
            free(what);
        }
        bson_destroy(&reply);
    } while (again(m, rc, &attempt, error));
    give_client(m, c, own);
    bson_destroy(&command);
    if (rc == 0)
        say(m, CCOPY_LOG_INFO, "%s.%s: %u indexes created (or already there)", tdb, tcoll, n);
    return rc;
}

static int get_metadata(_ccopy_dest_t *dest, const char *db, const char *coll, char **out,
                        ccopy_error_t *error)
{
    (void)out;
    return _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_ENGINE, 0,
                            "%s keeps no metadata.json of %s.%s", dest->location, db, coll);
}

/* ---- preparing a collection: drop, note empty --------------------------------------------- */

static int drop(mongo_t *m, const char *tcoll, ccopy_error_t *error)
{
    const char *tdb = m->config.target_db;
    bson_t *command = BCON_NEW("drop", BCON_UTF8(tcoll));
    bson_t reply;
    bson_error_t e;
    int rc, own, attempt = 0;
    mongoc_client_t *c = take_client(m, NULL, &own);

    do {
        rc = 0;
        if (!mongoc_client_write_command_with_opts(c, tdb, command, NULL, &reply, &e) &&
            e.code != 26 /* NamespaceNotFound: nothing to drop */) {
            char *what = _ccopy_strdup_printf("dropping %s.%s", tdb, tcoll);
            rc = _ccopy_source_error(m->config.server, error, &e, what);
            free(what);
        }
        bson_destroy(&reply);
    } while (again(m, rc, &attempt, error));
    give_client(m, c, own);
    bson_destroy(command);
    if (rc == 0)
        say(m, CCOPY_LOG_INFO, "%s.%s dropped", tdb, tcoll);
    return rc;
}

static void set_insert_only(mongo_t *m, const char *coll, int insert_only)
{
    size_t i;
    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->coll_count && strcmp(m->colls[i].name, coll) != 0; i++)
        ;
    if (i == m->coll_count) {
        m->colls = _ccopy_realloc(m->colls, (m->coll_count + 1) * sizeof *m->colls);
        m->colls[m->coll_count++].name = _ccopy_strdup(coll);
    }
    m->colls[i].insert_only = insert_only;
    pthread_mutex_unlock(&m->lock);
}

static int insert_only(mongo_t *m, const char *coll)
{
    int yes = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->coll_count; i++) {
        if (strcmp(m->colls[i].name, coll) == 0)
            yes = m->colls[i].insert_only;
    }
    pthread_mutex_unlock(&m->lock);
    return yes;
}

/* In upsert mode, note whether the collection's target is empty: plain inserts give the same
 * result there, cheaper. */
static int note_empty(mongo_t *m, const char *coll, ccopy_error_t *error)
{
    const char *tdb = m->config.target_db, *tcoll = target_coll(m, coll);
    bson_t *filter, *opts;
    const bson_t *doc;
    bson_error_t e;
    int own, rc, attempt = 0, empty = 0;
    mongoc_client_t *c;

    if (m->config.write_mode != CCOPY_WRITE_UPSERT)
        return 0;
    filter = bson_new();
    opts = BCON_NEW("limit", BCON_INT64(1), "projection", "{", "_id", BCON_INT32(1), "}");
    c = take_client(m, NULL, &own);
    do {
        mongoc_collection_t *collection = mongoc_client_get_collection(c, tdb, tcoll);
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(collection, filter, opts, NULL);
        rc = 0;
        empty = !mongoc_cursor_next(cursor, &doc);
        if (mongoc_cursor_error(cursor, &e)) {
            char *what = _ccopy_strdup_printf("reading %s.%s", tdb, tcoll);
            rc = _ccopy_source_error(m->config.server, error, &e, what);
            free(what);
        }
        mongoc_cursor_destroy(cursor);
        mongoc_collection_destroy(collection);
    } while (again(m, rc, &attempt, error));
    give_client(m, c, own);
    bson_destroy(filter);
    bson_destroy(opts);
    set_insert_only(m, coll, rc == 0 && empty);
    if (rc == 0 && empty)
        say(m, CCOPY_LOG_INFO,
            "%s.%s is empty: writing with inserts (the same result as upserts, cheaper)", tdb, tcoll);
    return rc;
}

static int prepare_collection(_ccopy_dest_t *dest, const char *db, const char *coll, int drop_it,
                              ccopy_error_t *error)
{
    mongo_t *m = mongo_of(dest);
    int rc = 0;
    (void)db;
    if (drop_it)
        rc = drop(m, target_coll(m, coll), error);
    if (rc == 0)
        rc = note_empty(m, coll, error);
    return rc;
}

/* ---- sessions ----------------------------------------------------------------------------- */

static int session_open(_ccopy_dest_t *dest, _ccopy_dest_session_t **out, ccopy_error_t *error)
{
    mongo_t *m = mongo_of(dest);
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
    mongoc_client_pool_push(mongo_of(s->dest)->config.server->pool, s->client);
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
    mongo_t *m = mongo_of(w->session->dest);
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
    mongo_t *m = mongo_of(session->dest);
    _ccopy_dest_window_t *w = _ccopy_calloc(1, sizeof *w);
    (void)error;
    w->session = session;
    w->spec = *spec;
    w->spec.db = _ccopy_strdup(spec->db);
    w->spec.coll = _ccopy_strdup(spec->coll);
    bulk_config(session, &w->config, target_coll(m, spec->coll),
                insert_only(m, spec->coll) ? CCOPY_WRITE_INSERT : m->config.write_mode);
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
    int max = mongo_of(w->session->dest)->config.write_batch_size;
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
    mongo_t *m = mongo_of(w->session->dest);
    bson_iter_t it;
    int rc;

    int64_t bytes_limit = m->config.write_batch_bytes * w->limit / m->config.write_batch_size;
    if (w->count > 0 && ((int)w->count >= w->limit || w->bytes + (int64_t)doc->len > bytes_limit)) {
        rc = batch_flush(w, error);
        if (rc != 0)
            return rc;
    }
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
    mongo_t *m = mongo_of(w->session->dest);
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
        rc = catalog_write(w->session, w->config.coll, out, error);
        if (rc != 0)
            ccopy_manifest_cleanup(out);
    }
    return rc;
}

/* ---- reading a window back ---------------------------------------------------------------- */

static void reader_config(_ccopy_dest_session_t *session, const ccopy_manifest_t *manifest,
                          _ccopy_reader_config_t *c)
{
    mongo_t *m = mongo_of(session->dest);
    memset(c, 0, sizeof *c);
    c->source = m->config.server;
    c->requester = &session->requester;
    c->db = m->config.target_db;
    c->coll = target_coll(m, manifest->collection);
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
    mongo_t *m = mongo_of(dest);
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
    "mongodb",      0,           catalog_read, catalog_list,   put_metadata,
    get_metadata,   prepare_collection, session_open, session_close, window_begin,
    window_add,     window_restart, window_commit, window_abort,  window_read,
    window_count,   describe,    mongo_close,
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
