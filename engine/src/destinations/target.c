/*
 * The target side of replicate and restore: a collection on another MongoDB-protocol server
 * (Cosmos DB, MongoDB, FerretDB) that receives documents in unordered bulk batches through the
 * bulk writer and the target's own governor, and, for replicate, the catalog of completed
 * windows kept in the target database's collection "cosmocopy" (one document per window, the
 * manifest's fields plus target_collection), so an incremental replication continues from any
 * machine.
 *
 * A window is recorded in the catalog only after every one of its documents was acknowledged by
 * the target. A document the target refuses for good (too large, ...) is reported with its _id
 * and size; its window is then not recorded, so every later run tries it again and says so.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "job_internal.h"
#include "version.h"
#include "window_read.h"

#define CATALOG_COLLECTION _CCOPY_CATALOG_COLLECTION
#define MAX_REJECTED_EXAMPLES 100

const char *_ccopy_job_target_coll(const ccopy_job_t *job, const char *coll)
{
    return job->target_coll ? job->target_coll : coll;
}

/* A connection for planning work: the caller's, or one from the pool (*own says so). */
static mongoc_client_t *take_client(ccopy_job_t *job, mongoc_client_t *client, int *own)
{
    *own = client == NULL;
    return client ? client : mongoc_client_pool_pop(job->target->pool);
}

static void give_client(ccopy_job_t *job, mongoc_client_t *client, int own)
{
    if (own)
        mongoc_client_pool_push(job->target->pool, client);
}

int _ccopy_target_open(ccopy_job_t *job, ccopy_error_t *error)
{
    bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t e;
    int own, rc = 0;
    mongoc_client_t *client = take_client(job, NULL, &own);

    /* One try, as for the source: server selection already waited the server timeout, and a
     * host that does not answer is reported now, not after the retry budget's back-offs. */
    if (!mongoc_client_command_simple(client, "admin", ping, NULL, NULL, &e))
        rc = _ccopy_source_error(job->target, error, &e, "connecting to the target");
    bson_destroy(ping);
    give_client(job, client, own);
    return rc;
}

/* Replicating a collection onto itself would rewrite every document in place. Checked once the
 * collections are chosen: a --target-collection may name the database's only collection. */
int _ccopy_target_check_not_source(const ccopy_job_t *job, ccopy_error_t *error)
{
    if (job->kind == CCOPY_JOB_REPLICATE && job->source && job->target &&
        strcmp(job->source->hosts, job->target->hosts) == 0 && strcmp(job->db, job->target_db) == 0 &&
        (!job->target_coll || (job->coll_count == 1 && strcmp(job->target_coll, job->colls[0].name) == 0)))
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "the target is the source (%s, database %s): give another "
                                "option target_db or option target_collection",
                                job->target->hosts, job->db);
    return 0;
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

int _ccopy_target_catalog_read(ccopy_job_t *job, mongoc_client_t *client, const char *coll,
                               ccopy_manifest_t **out, size_t *out_count, ccopy_error_t *error)
{
    int own;
    mongoc_client_t *c = take_client(job, client, &own);
    mongoc_collection_t *catalog = mongoc_client_get_collection(c, job->target_db, CATALOG_COLLECTION);
    bson_t *filter = BCON_NEW("target_collection", BCON_UTF8(_ccopy_job_target_coll(job, coll)),
                              "database", BCON_UTF8(job->db), "collection", BCON_UTF8(coll));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(catalog, filter, NULL, NULL);
    ccopy_manifest_t *m = NULL;
    size_t n = 0;
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;

    while (rc == 0 && mongoc_cursor_next(cursor, &doc)) {
        m = _ccopy_realloc(m, (n + 1) * sizeof *m);
        rc = _ccopy_manifest_from_bson(&m[n], doc, error);
        if (rc != 0) {
            bson_iter_t it;
            char *id = bson_iter_init_find(&it, doc, "_id") ? _ccopy_bson_value_to_json(bson_iter_value(&it))
                                                           : NULL;
            _ccopy_error_prefix(error, "catalog entry %s in %s.%s", id ? id : "(no _id)",
                                job->target_db, CATALOG_COLLECTION);
            free(id);
            break;
        }
        n++;
    }
    if (rc == 0 && mongoc_cursor_error(cursor, &e)) {
        char *what = _ccopy_strdup_printf("reading the catalog %s.%s", job->target_db, CATALOG_COLLECTION);
        rc = _ccopy_source_error(job->target, error, &e, what);
        free(what);
    }
    mongoc_cursor_destroy(cursor);
    bson_destroy(filter);
    mongoc_collection_destroy(catalog);
    give_client(job, c, own);
    if (rc != 0) {
        _ccopy_manifests_free(m, n);
        return rc;
    }
    if (n > 0)
        qsort(m, n, sizeof *m, catalog_order);
    *out = m;
    *out_count = n;
    return 0;
}

static void bulk_config(_ccopy_worker_t *worker, _ccopy_bulk_config_t *config, const char *coll,
                        _ccopy_write_mode_t mode)
{
    ccopy_job_t *job = worker->job;
    memset(config, 0, sizeof *config);
    config->server = job->target;
    config->requester = &worker->target;
    config->db = job->target_db;
    config->coll = coll;
    config->mode = mode;
    config->backoff = job->backoff;
    config->rng_state = &worker->rng;
    config->duplicate_is_written = mode == CCOPY_WRITE_INSERT;
}

/* Record a completed window: an upsert of its catalog document, governed and retried like any
 * other write. */
static int catalog_write(_ccopy_worker_t *worker, const char *tcoll, const ccopy_manifest_t *m,
                         ccopy_error_t *error)
{
    _ccopy_bulk_config_t config;
    _ccopy_bulk_result_t result;
    bson_error_t reason;
    char *json = NULL, *id;
    bson_t *fields, doc = BSON_INITIALIZER;
    const bson_t *docs[1];
    int rc = ccopy_manifest_to_json(&json, m, error);

    if (rc != 0)
        return rc;
    fields = bson_new_from_json((const uint8_t *)json, -1, &reason);
    free(json);
    if (!fields)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "catalog entry could not be made: %s", reason.message);
    id = m->kind == CCOPY_MANIFEST_WINDOW
             ? _ccopy_strdup_printf("%s|%s.%s|%lld-%lld", tcoll, m->database, m->collection,
                                    (long long)m->window.start, (long long)m->window.end)
             : _ccopy_strdup_printf("%s|%s.%s|non-objectid", tcoll, m->database, m->collection);
    BSON_APPEND_UTF8(&doc, "_id", id);
    BSON_APPEND_UTF8(&doc, "target_collection", tcoll);
    bson_concat(&doc, fields);
    bson_destroy(fields);
    free(id);
    docs[0] = &doc;
    memset(&result, 0, sizeof result);
    bulk_config(worker, &config, CATALOG_COLLECTION, CCOPY_WRITE_UPSERT);
    rc = _ccopy_bulk_write(&config, docs, 1, &result, error);
    if (rc == 0 && result.rejected > 0)
        rc = _ccopy_error_set(error, CCOPY_ESERVER, CCOPY_DOMAIN_ENGINE, 0,
                              "the target refused the catalog entry in %s.%s", worker->job->target_db,
                              CATALOG_COLLECTION);
    bson_destroy(&doc);
    return rc;
}

/* ---- indexes ------------------------------------------------------------------------------ */

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

int _ccopy_target_create_indexes(ccopy_job_t *job, mongoc_client_t *client, const char *coll,
                                 const char *metadata_json, ccopy_error_t *error)
{
    const char *tcoll = _ccopy_job_target_coll(job, coll);
    bson_error_t reason, e;
    bson_t *meta = bson_new_from_json((const uint8_t *)metadata_json, -1, &reason);
    bson_t command = BSON_INITIALIZER, list, reply;
    bson_iter_t it, indexes;
    uint32_t n = 0;
    int rc = 0, own, attempt = 0;
    mongoc_client_t *c;

    if (!meta)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "metadata.json of %s.%s is not Extended JSON: %s", job->db, coll,
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
    c = take_client(job, client, &own);
    do {
        rc = 0;
        if (!mongoc_client_write_command_with_opts(c, job->target_db, &command, NULL, &reply, &e)) {
            char *what = _ccopy_strdup_printf("creating %u index%s on %s.%s", n, n == 1 ? "" : "es",
                                              job->target_db, tcoll);
            rc = _ccopy_source_error(job->target, error, &e, what);
            free(what);
        }
        bson_destroy(&reply);
    } while (_ccopy_plan_again(job, rc, &attempt, error));
    give_client(job, c, own);
    bson_destroy(&command);
    if (rc == 0)
        _ccopy_job_log(job, CCOPY_LOG_INFO, "%s.%s: %u indexes created (or already there)",
                       job->target_db, tcoll, n);
    return rc;
}

int _ccopy_target_drop(ccopy_job_t *job, mongoc_client_t *client, const char *coll,
                       ccopy_error_t *error)
{
    const char *tcoll = _ccopy_job_target_coll(job, coll);
    bson_t *command = BCON_NEW("drop", BCON_UTF8(tcoll));
    bson_t reply;
    bson_error_t e;
    int rc, own, attempt = 0;
    mongoc_client_t *c = take_client(job, client, &own);

    do {
        rc = 0;
        if (!mongoc_client_write_command_with_opts(c, job->target_db, command, NULL, &reply, &e) &&
            e.code != 26 /* NamespaceNotFound: nothing to drop */) {
            char *what = _ccopy_strdup_printf("dropping %s.%s", job->target_db, tcoll);
            rc = _ccopy_source_error(job->target, error, &e, what);
            free(what);
        }
        bson_destroy(&reply);
    } while (_ccopy_plan_again(job, rc, &attempt, error));
    give_client(job, c, own);
    bson_destroy(command);
    if (rc == 0)
        _ccopy_job_log(job, CCOPY_LOG_INFO, "%s.%s dropped", job->target_db, tcoll);
    return rc;
}

int _ccopy_target_note_empty(ccopy_job_t *job, _ccopy_coll_stats_t *coll, ccopy_error_t *error)
{
    const char *tcoll = _ccopy_job_target_coll(job, coll->name);
    bson_t *filter = bson_new(), *opts = BCON_NEW("limit", BCON_INT64(1), "projection", "{", "_id",
                                                  BCON_INT32(1), "}");
    const bson_t *doc;
    bson_error_t e;
    int own, rc, attempt = 0, empty = 0;
    mongoc_client_t *c;

    if (job->write_mode != CCOPY_WRITE_UPSERT) {
        bson_destroy(filter);
        bson_destroy(opts);
        return 0;
    }
    c = take_client(job, NULL, &own);
    do {
        mongoc_collection_t *collection = mongoc_client_get_collection(c, job->target_db, tcoll);
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(collection, filter, opts, NULL);
        rc = 0;
        empty = !mongoc_cursor_next(cursor, &doc);
        if (mongoc_cursor_error(cursor, &e)) {
            char *what = _ccopy_strdup_printf("reading %s.%s", job->target_db, tcoll);
            rc = _ccopy_source_error(job->target, error, &e, what);
            free(what);
        }
        mongoc_cursor_destroy(cursor);
        mongoc_collection_destroy(collection);
    } while (_ccopy_plan_again(job, rc, &attempt, error));
    give_client(job, c, own);
    bson_destroy(filter);
    bson_destroy(opts);
    coll->insert_only = rc == 0 && empty;
    if (coll->insert_only)
        _ccopy_job_log(job, CCOPY_LOG_INFO,
                       "%s.%s is empty: writing with inserts (the same result as upserts, cheaper)",
                       job->target_db, tcoll);
    return rc;
}

/* ---- batches ------------------------------------------------------------------------------ */

/* Documents collected for one bulk write, bounded by count and bytes, plus what the window
 * they belong to has seen so far. */
typedef struct batch {
    _ccopy_worker_t *worker;
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
} batch_t;

static void on_reject(const bson_t *doc, int64_t code, const char *message, void *user_data)
{
    batch_t *b = user_data;
    ccopy_job_t *job = b->worker->job;
    bson_iter_t it;
    char *id = bson_iter_init_find(&it, doc, "_id") ? _ccopy_bson_value_to_json(bson_iter_value(&it)) : NULL;
    char *line = _ccopy_strdup_printf("_id %s (%u bytes) in %s.%s: %s (code %lld)", id ? id : "?",
                                      doc->len, b->config.db, b->config.coll, message, (long long)code);
    pthread_mutex_lock(&job->lock);
    job->rejected++;
    if (job->rejected_examples.count < MAX_REJECTED_EXAMPLES)
        _ccopy_strings_push(&job->rejected_examples, line);
    pthread_mutex_unlock(&job->lock);
    _ccopy_job_log(job, CCOPY_LOG_WARNING, "the target refused the document with %s", line);
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

static void batch_forget_window(batch_t *b)
{
    if (b->hash)
        _ccopy_stream_destroy(b->hash);
    b->hash = _ccopy_stream_new(CCOPY_COMPRESS_NONE, 0, 0, discard, NULL);
    if (b->have_ids) {
        bson_value_destroy(&b->first_id);
        bson_value_destroy(&b->last_id);
    }
    b->have_ids = 0;
    b->documents = 0;
}

static void batch_init(batch_t *b, _ccopy_worker_t *worker, const char *coll)
{
    ccopy_job_t *job = worker->job;
    /* a lookup: the collections were all added while planning (insert_only is set before the
     * workers take tasks) */
    int insert_only = _ccopy_job_add_collection(job, coll)->insert_only;
    memset(b, 0, sizeof *b);
    b->worker = worker;
    bulk_config(worker, &b->config, _ccopy_job_target_coll(job, coll),
                insert_only ? CCOPY_WRITE_INSERT : (_ccopy_write_mode_t)job->write_mode);
    b->config.on_reject = on_reject;
    b->config.reject_data = b;
    b->docs = _ccopy_calloc((size_t)job->write_batch_size, sizeof *b->docs);
    b->limit = worker->write_limit > 0 ? worker->write_limit : job->write_batch_size;
    batch_forget_window(b);
}

static void batch_clear(batch_t *b)
{
    size_t i;
    for (i = 0; i < b->count; i++)
        bson_destroy(b->docs[i]);
    b->count = 0;
    b->bytes = 0;
}

static void batch_destroy(batch_t *b)
{
    b->worker->write_limit = b->limit; /* the next window starts where this one ended */
    batch_clear(b);
    free(b->docs);
    if (b->hash)
        _ccopy_stream_destroy(b->hash);
    if (b->have_ids) {
        bson_value_destroy(&b->first_id);
        bson_value_destroy(&b->last_id);
    }
}

/* A bulk write costing more than the target admits in a moment is cut by every throttle, and
 * pacing alone cannot help: what gets through shrinks with each cut. So a batch that met
 * throttling halves the next ones (down to one document); clean writes grow them back by a
 * quarter, up to write_batch_size. */
static void adapt_limit(batch_t *b, int64_t throttled_before)
{
    int max = b->worker->job->write_batch_size;
    if (b->result.throttled > throttled_before) {
        b->limit = b->limit > 1 ? b->limit / 2 : 1;
        b->clean_writes = 0;
    } else if (b->limit < max && ++b->clean_writes >= 2) {
        b->limit += b->limit / 4 > 0 ? b->limit / 4 : 1;
        if (b->limit > max)
            b->limit = max;
        b->clean_writes = 0;
    }
}

static int batch_flush(batch_t *b, ccopy_error_t *error)
{
    int rc = 0;
    if (b->count > 0) {
        int64_t throttled = b->result.throttled;
        rc = _ccopy_bulk_write(&b->config, (const bson_t *const *)b->docs, b->count, &b->result, error);
        adapt_limit(b, throttled);
    }
    batch_clear(b);
    return rc;
}

static int batch_add(batch_t *b, const bson_t *doc, ccopy_error_t *error)
{
    ccopy_job_t *job = b->worker->job;
    bson_iter_t it;
    int rc;

    int64_t bytes_limit = job->write_batch_bytes * b->limit / job->write_batch_size;
    if (b->count > 0 && ((int)b->count >= b->limit || b->bytes + (int64_t)doc->len > bytes_limit)) {
        rc = batch_flush(b, error);
        if (rc != 0)
            return rc;
    }
    b->docs[b->count++] = bson_copy(doc);
    b->bytes += doc->len;
    rc = _ccopy_stream_write(b->hash, bson_get_data(doc), doc->len, error);
    if (rc != 0)
        return rc;
    if (bson_iter_init_find(&it, doc, "_id")) {
        if (b->have_ids)
            bson_value_destroy(&b->last_id);
        else
            bson_value_copy(bson_iter_value(&it), &b->first_id);
        bson_value_copy(bson_iter_value(&it), &b->last_id);
        b->have_ids = 1;
    }
    b->documents++;
    return 0;
}

/* After the batch is written: refused documents fail the window (EREJECTED), so it is not
 * recorded as complete. */
static int batch_finish(batch_t *b, const char *what, ccopy_error_t *error)
{
    int rc = batch_flush(b, error);
    if (rc == 0 && atomic_load(&b->worker->job->canceled))
        rc = _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
    if (rc == 0 && b->result.rejected > 0)
        rc = _ccopy_error_set(error, CCOPY_EREJECTED, CCOPY_DOMAIN_ENGINE, 0,
                              "%lld of %lld document%s could not be written to %s.%s (see the "
                              "warnings and the summary's rejected list); %s",
                              (long long)b->result.rejected, (long long)b->documents,
                              b->documents == 1 ? "" : "s",
                              b->config.db, b->config.coll, what);
    return rc;
}

/* The manifest of what the batch saw, as the catalog keeps it. */
static void batch_manifest(batch_t *b, const _ccopy_task_t *task, ccopy_manifest_t *m)
{
    ccopy_job_t *job = b->worker->job;
    char now[CCOPY_TIME_TEXT_SIZE];
    ccopy_error_t ignored;

    _ccopy_stream_finish(b->hash, &ignored);
    ccopy_time_format(now, _ccopy_now_seconds(), NULL);
    memset(m, 0, sizeof *m);
    m->format_version = 1;
    m->kind = task->kind;
    m->database = _ccopy_strdup(job->db);
    m->collection = _ccopy_strdup(task->coll);
    m->window = task->kind == CCOPY_MANIFEST_WINDOW ? task->window : (ccopy_window_t){0, 0};
    m->documents = b->documents;
    m->bytes = m->stored_bytes = (int64_t)_ccopy_stream_raw_bytes(b->hash);
    m->data = _ccopy_strdup_printf("%s.%s", b->config.db, b->config.coll);
    _ccopy_stream_stored_sha256_hex(b->hash, m->sha256);
    m->first_id = b->have_ids ? _ccopy_bson_value_to_json(&b->first_id) : NULL;
    m->last_id = b->have_ids ? _ccopy_bson_value_to_json(&b->last_id) : NULL;
    m->format = _ccopy_strdup("bson");
    m->compression = _ccopy_strdup("none");
    m->engine_version = _ccopy_strdup(CCOPY_VERSION_STRING);
    m->completed_at = _ccopy_strdup(now);
}

/* ---- replicate ---------------------------------------------------------------------------- */

static int replicate_doc(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    return batch_add(user_data, doc, error);
}

/* The non-ObjectId pass starts over: what was written stays (upserts and inserts are harmless
 * to repeat); the window's record starts again. */
static int replicate_restart(void *user_data, ccopy_error_t *error)
{
    batch_t *b = user_data;
    int rc = batch_flush(b, error);
    batch_forget_window(b);
    return rc;
}

int _ccopy_replicate_task(_ccopy_worker_t *worker, _ccopy_task_t *task, ccopy_manifest_t *out,
                          ccopy_error_t *error)
{
    _ccopy_reader_config_t reader;
    batch_t b;
    int rc;

    _ccopy_worker_reader_config(worker, task, 0, &reader);
    batch_init(&b, worker, task->coll);
    rc = _ccopy_reader_run(&reader, replicate_doc, replicate_restart, &b, error);
    if (rc == 0)
        rc = batch_finish(&b, "the window is not marked complete, so the next run tries them again", error);
    if (rc == 0) {
        batch_manifest(&b, task, out);
        rc = catalog_write(worker, b.config.coll, out, error);
        if (rc != 0)
            ccopy_manifest_cleanup(out);
    }
    batch_destroy(&b);
    return rc;
}

/* ---- restore ------------------------------------------------------------------------------ */

typedef struct restore_ctx {
    batch_t batch;
    int64_t until; /* only documents whose ObjectId time is before it; -1: all */
    int64_t skipped;
} restore_ctx_t;

static int restore_doc(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    restore_ctx_t *r = user_data;
    _ccopy_counters_t *counters = &r->batch.worker->job->counters;
    atomic_fetch_add(&counters->documents, 1);
    atomic_fetch_add(&counters->bytes, (long long)doc->len);
    if (r->until >= 0) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it) &&
            (int64_t)bson_oid_get_time_t(bson_iter_oid(&it)) >= r->until) {
            r->skipped++;
            return 0;
        }
    }
    return batch_add(&r->batch, doc, error);
}

int _ccopy_restore_check_task(_ccopy_worker_t *worker, _ccopy_task_t *task, ccopy_manifest_t *out,
                              ccopy_error_t *error)
{
    ccopy_job_t *job = worker->job;
    int rc = _ccopy_window_read(job->sink, task->manifest, NULL, NULL, error);
    (void)out;
    if (rc == 0) {
        pthread_mutex_lock(&job->lock);
        job->verified_windows++;
        job->verified_bytes += task->manifest->stored_bytes;
        pthread_mutex_unlock(&job->lock);
    }
    return rc;
}

int _ccopy_restore_prepare(ccopy_job_t *job, ccopy_error_t *error)
{
    size_t i;
    int rc = 0;
    for (i = 0; rc == 0 && i < job->coll_count; i++) {
        const char *coll = job->colls[i].name;
        if (job->colls[i].windows_planned == 0)
            continue;
        if (_ccopy_option_yes(job->options, "drop"))
            rc = _ccopy_target_drop(job, NULL, coll, error);
        if (rc == 0)
            rc = _ccopy_target_note_empty(job, &job->colls[i], error);
        if (rc == 0 && _ccopy_option_yes(job->options, "copy_indexes")) {
            char *metadata = NULL;
            size_t len = 0;
            rc = job->sink->ops->read_small(job->sink, job->db, coll, "metadata.json", &metadata,
                                            &len, error);
            if (rc == CCOPY_ENOTFOUND) {
                _ccopy_job_log(job, CCOPY_LOG_WARNING,
                               "%s.%s: the backup has no metadata.json, so no indexes are created",
                               job->db, coll);
                rc = 0;
            } else if (rc == 0) {
                rc = _ccopy_target_create_indexes(job, NULL, coll, metadata, error);
            }
            free(metadata);
        }
    }
    return rc;
}

int _ccopy_restore_task(_ccopy_worker_t *worker, _ccopy_task_t *task, ccopy_manifest_t *out,
                        ccopy_error_t *error)
{
    ccopy_job_t *job = worker->job;
    restore_ctx_t r;
    int rc;

    memset(&r, 0, sizeof r);
    r.until = task->kind == CCOPY_MANIFEST_WINDOW && job->until >= 0 && task->window.end > job->until
                  ? job->until
                  : -1;
    batch_init(&r.batch, worker, task->coll);
    rc = _ccopy_window_read(job->sink, task->manifest, restore_doc, &r, error);
    if (rc == 0)
        rc = batch_finish(&r.batch, "the other documents of the window are restored", error);
    if (rc == 0) {
        ccopy_error_t ignored;
        char *json = NULL;
        /* The summary lists the backup's window with what was written from it. */
        if (ccopy_manifest_to_json(&json, task->manifest, &ignored) == 0 &&
            ccopy_manifest_from_json(out, json, strlen(json), &ignored) == 0) {
            out->documents = r.batch.documents;
            out->bytes = (int64_t)_ccopy_stream_raw_bytes(r.batch.hash);
        }
        free(json);
        if (r.skipped > 0)
            _ccopy_job_log(job, CCOPY_LOG_INFO,
                           "%s.%s: %lld document%s of the window created at or after option until left out",
                           job->db, task->coll, (long long)r.skipped, r.skipped == 1 ? "" : "s");
    }
    batch_destroy(&r.batch);
    return rc;
}
