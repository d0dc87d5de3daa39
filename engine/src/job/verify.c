/*
 * verify: each window of a backup (or of a replica, through its catalog) against the source.
 *
 * Always: the source's count of the window against the backup's (the manifest's count, or a
 * count of the replica's window), and for backups the data object's SHA-256 against its
 * manifest. With deep: every document on both sides is hashed (SHA-256 of its BSON) and the sums
 * compared; only when they differ are the documents matched one by one, which holds 32 bytes per
 * source document of that window, to name what is missing, extra or changed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common.h"
#include "job_internal.h"

#define MAX_EXAMPLES 20

/* ---- reading either side ------------------------------------------------------------------ */

typedef struct side_reader {
    _ccopy_doc_fn on_doc;
    _ccopy_restart_fn on_restart;
    void *user_data;
} side_reader_t;

/* The source side reads the window where the source holds it now: source_db and
 * source_collection name it when it differs from the names the backup or replica recorded
 * (a backup restored into another database). */
static void source_reader_config(_ccopy_worker_t *worker, const _ccopy_task_t *task,
                                 _ccopy_reader_config_t *c)
{
    const char *db = worker->job->settings.source_db;
    const char *coll = worker->job->settings.source_collection;
    _ccopy_worker_reader_config(worker, task, c);
    if (db)
        c->db = db;
    if (coll)
        c->coll = coll;
}

/* Every document of the window on the source (backup_side 0) or in the backup or replica
 * (job->from). A backup whose data does not match its manifest still delivers what it holds,
 * then ECORRUPT. */
static int read_side(_ccopy_worker_t *worker, const _ccopy_task_t *task, int backup_side,
                     const side_reader_t *r, ccopy_error_t *error)
{
    ccopy_job_t *job = worker->job;
    _ccopy_reader_config_t c;
    if (backup_side)
        return job->from->ops->window_read(worker->from_session, task->manifest, r->on_doc,
                                           r->on_restart, r->user_data, error);
    source_reader_config(worker, task, &c);
    return _ccopy_reader_run(&c, r->on_doc, r->on_restart, r->user_data, error);
}

static void add_problem(_ccopy_verdict_t *v, const char *fmt, ...) CCOPY_PRINTF(2, 3);

/* Reading the backup side to its end: data that is damaged (ECORRUPT) or gone (ENOTFOUND) is a
 * difference, not a failed verify, and the documents it held, if any, are matched. Its reason
 * is told once, unless the SHA-256 check told it already: data whose hash matches and that
 * does not decode (a manifest naming the wrong compression) was otherwise told as nothing but
 * every document missing. */
static int read_backup_side(_ccopy_worker_t *worker, const _ccopy_task_t *task, _ccopy_verdict_t *v,
                            const side_reader_t *r, ccopy_error_t *error)
{
    int rc = read_side(worker, task, 1, r, error);
    if (rc == CCOPY_ECORRUPT || (rc == CCOPY_ENOTFOUND && worker->job->from->ops->is_backup)) {
        if (!v->unreadable && (!v->sha256_checked || v->sha256_ok))
            add_problem(v, "%s", error->message);
        v->unreadable = 1;
        return 0;
    }
    return rc;
}

static void sha256(const bson_t *doc, uint8_t out[32])
{
    unsigned int len = 32;
    EVP_Digest(bson_get_data(doc), doc->len, out, &len, EVP_sha256(), NULL);
}

/* ---- pass 1: sums of document hashes ------------------------------------------------------ */

typedef struct digest {
    uint64_t lane[4];
    int64_t count;
} digest_t;

static int digest_doc(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    digest_t *d = user_data;
    uint8_t h[32];
    uint64_t v;
    (void)error;
    sha256(doc, h);
    for (int i = 0; i < 4; i++) {
        memcpy(&v, h + 8 * i, 8);
        d->lane[i] += v; /* a sum, not a xor: a document twice does not cancel out */
    }
    d->count++;
    return 0;
}

static int digest_restart(void *user_data, ccopy_error_t *error)
{
    (void)error;
    memset(user_data, 0, sizeof(digest_t));
    return 0;
}

/* ---- pass 2: document by document --------------------------------------------------------- */

typedef struct entry {
    uint8_t id[16];  /* SHA-256 of the _id's canonical Extended JSON, first half */
    uint8_t doc[16]; /* SHA-256 of the document, first half */
} entry_t;

typedef struct matcher {
    entry_t *entries;
    size_t count, cap;
    uint8_t *seen;
    _ccopy_verdict_t *v;
    const char *where_only, *where_differs, *where_missing; /* how the examples say it */
} matcher_t;

static char *id_text(const bson_t *doc)
{
    bson_iter_t it;
    char *json = bson_iter_init_find(&it, doc, "_id") ? _ccopy_bson_value_to_json(bson_iter_value(&it)) : NULL;
    return json ? json : _ccopy_strdup("(no _id)");
}

static void make_entry(const bson_t *doc, entry_t *e)
{
    uint8_t h[32];
    unsigned int len = 32;
    char *id = id_text(doc);
    EVP_Digest(id, strlen(id), h, &len, EVP_sha256(), NULL);
    memcpy(e->id, h, 16);
    sha256(doc, h);
    memcpy(e->doc, h, 16);
    free(id);
}

static int compare_entries(const void *a, const void *b)
{
    return memcmp(((const entry_t *)a)->id, ((const entry_t *)b)->id, 16);
}

static int collect_doc(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    matcher_t *m = user_data;
    (void)error;
    if (m->count == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->entries = _ccopy_realloc(m->entries, m->cap * sizeof *m->entries);
    }
    make_entry(doc, &m->entries[m->count++]);
    return 0;
}

static int collect_restart(void *user_data, ccopy_error_t *error)
{
    (void)error;
    ((matcher_t *)user_data)->count = 0;
    return 0;
}

static void example(_ccopy_verdict_t *v, const bson_t *doc, const char *what)
{
    if (v->examples.count < MAX_EXAMPLES) {
        char *id = id_text(doc);
        char *line = _ccopy_strdup_printf("_id %s: %s", id, what);
        _ccopy_strings_push(&v->examples, line);
        free(line);
        free(id);
    }
}

static entry_t *lookup(matcher_t *m, const entry_t *key)
{
    return bsearch(key, m->entries, m->count, sizeof *m->entries, compare_entries);
}

/* A document of the backup side: in the source as it is, changed, or not at all. */
static int match_doc(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    matcher_t *m = user_data;
    entry_t key, *found;
    (void)error;
    make_entry(doc, &key);
    found = lookup(m, &key);
    if (!found) {
        m->v->extra++;
        example(m->v, doc, m->where_only);
    } else {
        m->seen[found - m->entries] = 1;
        if (memcmp(found->doc, key.doc, 16) != 0) {
            m->v->different++;
            example(m->v, doc, m->where_differs);
        }
    }
    return 0;
}

static int match_restart(void *user_data, ccopy_error_t *error)
{
    matcher_t *m = user_data;
    (void)error;
    memset(m->seen, 0, m->count);
    m->v->extra = m->v->different = 0;
    _ccopy_strings_clear(&m->v->examples);
    return 0;
}

/* A source document the backup side did not have: name it. */
static int name_missing(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    matcher_t *m = user_data;
    entry_t key, *found;
    (void)error;
    make_entry(doc, &key);
    found = lookup(m, &key);
    if (found && !m->seen[found - m->entries])
        example(m->v, doc, m->where_missing);
    return 0;
}

static int ignore_restart(void *user_data, ccopy_error_t *error)
{
    (void)user_data;
    (void)error;
    return 0;
}

static int match_documents(_ccopy_worker_t *worker, const _ccopy_task_t *task, _ccopy_verdict_t *v,
                           ccopy_error_t *error)
{
    matcher_t m;
    side_reader_t collect = {collect_doc, collect_restart, &m}, match = {match_doc, match_restart, &m},
                  missing = {name_missing, ignore_restart, &m};
    size_t i;
    int rc;

    memset(&m, 0, sizeof m);
    m.v = v;
    if (worker->job->from->ops->is_backup) {
        m.where_only = "in the backup, not in the source (deleted from the source since?)";
        m.where_differs = "differs between the source and the backup (changed since?)";
        m.where_missing = "in the source, not in the backup";
    } else {
        m.where_only = "in the replica, not in the source";
        m.where_differs = "differs between the source and the replica";
        m.where_missing = "in the source, not in the replica";
    }
    rc = read_side(worker, task, 0, &collect, error);
    if (rc == 0) {
        qsort(m.entries, m.count, sizeof *m.entries, compare_entries);
        m.seen = _ccopy_calloc(m.count ? m.count : 1, 1);
        rc = read_backup_side(worker, task, v, &match, error);
    }
    if (rc == 0) {
        for (i = 0; i < m.count; i++)
            v->missing += !m.seen[i];
        if (v->missing > 0)
            rc = read_side(worker, task, 0, &missing, error);
    }
    free(m.entries);
    free(m.seen);
    return rc;
}

/* ---- the task ----------------------------------------------------------------------------- */

static void add_problem(_ccopy_verdict_t *v, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!v->problem) {
        v->problem = _ccopy_strdup(text);
    } else {
        char *both = _ccopy_strdup_printf("%s; %s", v->problem, text);
        free(v->problem);
        v->problem = both;
    }
}

void _ccopy_verdict_cleanup(_ccopy_verdict_t *v)
{
    free(v->problem);
    _ccopy_strings_clear(&v->examples);
    memset(v, 0, sizeof *v);
}

static int check_backup_data(_ccopy_worker_t *worker, _ccopy_verdict_t *v,
                             const ccopy_manifest_t *m, ccopy_error_t *error)
{
    ccopy_error_t why;
    int rc = worker->job->from->ops->window_read(worker->from_session, m, NULL, NULL, NULL, &why);
    v->sha256_checked = 1;
    v->sha256_ok = rc == 0;
    if (rc == CCOPY_ECORRUPT || rc == CCOPY_ENOTFOUND) {
        add_problem(v, "%s", why.message);
        return 0;
    }
    if (rc != 0)
        *error = why;
    return rc;
}

int _ccopy_verify_task(_ccopy_worker_t *worker, _ccopy_task_t *task, ccopy_manifest_t *out,
                       ccopy_error_t *error)
{
    ccopy_job_t *job = worker->job;
    _ccopy_reader_config_t c;
    _ccopy_verdict_t v;
    int deep = job->settings.deep_choice;
    int backup = job->from->ops->is_backup;
    int rc;

    (void)out;
    memset(&v, 0, sizeof v);
    v.coll = task->coll;
    v.kind = task->kind;
    v.window = task->window;
    v.deep = deep;
    source_reader_config(worker, task, &c);
    rc = _ccopy_reader_count(&c, &v.source_count, error);
    if (!task->manifest->data) { /* a hole between windows (plan.c add_holes) */
        if (rc == 0 && v.source_count > 0)
            add_problem(&v, "the %s has no completed window here (a window failed or was never "
                        "copied); the source has %lld document%s",
                        backup ? "backup" : "replica", (long long)v.source_count,
                        v.source_count == 1 ? "" : "s");
        if (rc == 0 && deep)
            v.missing = v.source_count; /* every one of them is missing from the backup */
        deep = 0;
    } else if (rc == 0)
        rc = job->from->ops->window_count(worker->from_session, task->manifest, &v.backup_count,
                                          error);
    if (rc == 0 && backup && task->manifest->data)
        rc = check_backup_data(worker, &v, task->manifest, error);
    if (rc == 0 && task->manifest->data && v.source_count != v.backup_count)
        add_problem(&v, "the source has %lld document%s, the %s %lld", (long long)v.source_count,
                    v.source_count == 1 ? "" : "s", backup ? "backup" : "replica",
                    (long long)v.backup_count);
    if (rc == 0 && deep) {
        digest_t a, b;
        side_reader_t ra = {digest_doc, digest_restart, &a}, rb = {digest_doc, digest_restart, &b};
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        rc = read_side(worker, task, 0, &ra, error);
        if (rc == 0)
            rc = read_backup_side(worker, task, &v, &rb, error);
        if (rc == 0 && (a.count != b.count || memcmp(a.lane, b.lane, sizeof a.lane) != 0)) {
            rc = match_documents(worker, task, &v, error);
            if (rc == 0)
                add_problem(&v, "documents missing from the %s: %lld, only in it: %lld, changed: %lld",
                            backup ? "backup" : "replica", (long long)v.missing,
                            (long long)v.extra, (long long)v.different);
        }
    }
    if (rc != 0) {
        _ccopy_verdict_cleanup(&v);
        return rc;
    }
    pthread_mutex_lock(&job->lock);
    job->verdicts = _ccopy_realloc(job->verdicts, (job->verdict_count + 1) * sizeof *job->verdicts);
    job->verdicts[job->verdict_count++] = v;
    if (v.problem)
        job->mismatches++;
    job->verified_windows++;
    task->documents = v.source_count; /* what the task compared, as its info says */
    pthread_mutex_unlock(&job->lock);
    return 0;
}

static int verdict_order(const void *a, const void *b)
{
    const _ccopy_verdict_t *x = a, *y = b;
    int c = strcmp(x->coll, y->coll);
    if (c != 0)
        return c;
    if (x->kind != y->kind)
        return x->kind == CCOPY_MANIFEST_WINDOW ? -1 : 1;
    return (x->window.start > y->window.start) - (x->window.start < y->window.start);
}

void _ccopy_verify_sort(ccopy_job_t *job)
{
    pthread_mutex_lock(&job->lock);
    if (job->verdict_count > 1)
        qsort(job->verdicts, job->verdict_count, sizeof *job->verdicts, verdict_order);
    pthread_mutex_unlock(&job->lock);
}

int _ccopy_verify_result(ccopy_job_t *job, ccopy_error_t *error)
{
    char names[400] = "";
    size_t i, shown = 0;
    for (i = 0; i < job->verdict_count && shown < 3; i++) {
        const _ccopy_verdict_t *v = &job->verdicts[i];
        char *where;
        if (!v->problem)
            continue;
        where = _ccopy_window_describe(job->db, v->coll, v->kind, &v->window);
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", shown ? ", " : "", where);
        free(where);
        shown++;
    }
    return _ccopy_error_set(error, CCOPY_EMISMATCH, CCOPY_DOMAIN_ENGINE, 0,
                            "%lld of %zu window%s differ%s: %s%s", (long long)job->mismatches,
                            job->verdict_count, job->verdict_count == 1 ? "" : "s",
                            job->mismatches == 1 ? "s" : "", names,
                            job->mismatches > (int64_t)shown ? ", ..." : "");
}
