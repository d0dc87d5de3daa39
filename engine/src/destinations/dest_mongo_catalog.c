/*
 * The MongoDB/Cosmos destination's catalog and collection housekeeping: reading and listing the
 * catalog of completed windows (the target database's collection "cosmocopy"), recording a
 * window in it, creating the indexes metadata.json lists, and preparing a collection before it
 * is written (dropping it, noting whether it is empty).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dest_mongo_impl.h"
#include "extjson.h"
#include "sink.h"

#define CATALOG_COLLECTION _CCOPY_CATALOG_COLLECTION

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
    bson_t *filter = BCON_NEW("target_collection", BCON_UTF8(_ccopy_mongo_target_coll(m, coll)),
                              "database", BCON_UTF8(db), "collection", BCON_UTF8(coll));
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

int _ccopy_mongo_catalog_read(_ccopy_dest_t *dest, _ccopy_dest_session_t *session, const char *db,
                              const char *coll, ccopy_manifest_t **out, size_t *out_count,
                              ccopy_error_t *error)
{
    mongo_t *m = _ccopy_mongo_of(dest);
    int own, rc, attempt = 0;
    mongoc_client_t *c = take_client(m, session, &own);
    do
        rc = catalog_read_once(m, c, db, coll, out, out_count, error);
    while (again(m, rc, &attempt, error));
    give_client(m, c, own);
    return rc;
}

/* The distinct values of field in the catalog, where database is db (when given). */
int _ccopy_mongo_catalog_list(_ccopy_dest_t *dest, const char *db, char ***out_names,
                              size_t *out_count, ccopy_error_t *error)
{
    mongo_t *m = _ccopy_mongo_of(dest);
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

/* Record a completed window: an upsert of its catalog document, governed and retried like any
 * other write. */
int _ccopy_mongo_catalog_write(_ccopy_dest_session_t *session, const char *tcoll,
                               const ccopy_manifest_t *manifest, ccopy_error_t *error)
{
    mongo_t *m = _ccopy_mongo_of(session->dest);
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
    _ccopy_mongo_bulk_config(session, &config, CATALOG_COLLECTION, CCOPY_WRITE_UPSERT);
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
int _ccopy_mongo_put_metadata(_ccopy_dest_t *dest, const char *db, const char *coll,
                              const char *metadata_json, ccopy_error_t *error)
{
    mongo_t *m = _ccopy_mongo_of(dest);
    const char *tdb = m->config.target_db, *tcoll = _ccopy_mongo_target_coll(m, coll);
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

int _ccopy_mongo_get_metadata(_ccopy_dest_t *dest, const char *db, const char *coll, char **out,
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

int _ccopy_mongo_insert_only(mongo_t *m, const char *coll)
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
    const char *tdb = m->config.target_db, *tcoll = _ccopy_mongo_target_coll(m, coll);
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

int _ccopy_mongo_prepare_collection(_ccopy_dest_t *dest, const char *db, const char *coll,
                                    int drop_it, const ccopy_manifest_t *catalog,
                                    size_t catalog_count, ccopy_error_t *error)
{
    mongo_t *m = _ccopy_mongo_of(dest);
    int rc = 0;
    (void)db;
    (void)catalog;
    (void)catalog_count;
    if (drop_it)
        rc = drop(m, _ccopy_mongo_target_coll(m, coll), error);
    if (rc == 0)
        rc = note_empty(m, coll, error);
    return rc;
}

