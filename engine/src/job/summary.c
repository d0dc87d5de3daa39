/*
 * What a job remembers of its run (windows written, errors, warnings) and the JSON summary made
 * from it: the record a scheduler or a script reads after `cosmocopy backup --json`.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "job_internal.h"
#include "jsonw.h"
#include "cosmocopy/results.h"

void _ccopy_strings_push(_ccopy_strings_t *list, const char *text)
{
    list->items = _ccopy_realloc(list->items, (list->count + 1) * sizeof *list->items);
    list->items[list->count++] = _ccopy_strdup(text);
}

void _ccopy_strings_clear(_ccopy_strings_t *list)
{
    size_t i;
    for (i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static _ccopy_coll_stats_t *find_coll(ccopy_job_t *job, const char *name)
{
    size_t i;
    for (i = 0; i < job->coll_count; i++) {
        if (strcmp(job->colls[i].name, name) == 0)
            return &job->colls[i];
    }
    return NULL;
}

void _ccopy_job_record_window(ccopy_job_t *job, ccopy_manifest_t *manifest)
{
    _ccopy_coll_stats_t *c = find_coll(job, manifest->collection);
    job->written = _ccopy_realloc(job->written, (job->written_count + 1) * sizeof *job->written);
    job->written[job->written_count++] = *manifest;
    job->windows_done++;
    job->documents_written += manifest->documents;
    job->bytes_written += manifest->bytes;
    job->stored_bytes += manifest->stored_bytes;
    if (c) {
        c->windows_written++;
        c->documents += manifest->documents;
        c->bytes += manifest->bytes;
        c->stored_bytes += manifest->stored_bytes;
        if (manifest->kind == CCOPY_MANIFEST_NON_OBJECTID)
            c->non_oid_copied = manifest->documents;
    }
    memset(manifest, 0, sizeof *manifest);
}

static int written_order(const void *a, const void *b)
{
    const ccopy_manifest_t *x = a, *y = b;
    int c = strcmp(x->collection, y->collection);
    if (c != 0)
        return c;
    if (x->kind != y->kind)
        return x->kind == CCOPY_MANIFEST_WINDOW ? -1 : 1;
    return (x->window.start > y->window.start) - (x->window.start < y->window.start);
}

void _ccopy_job_sort_written(ccopy_job_t *job)
{
    pthread_mutex_lock(&job->lock);
    if (job->written_count > 1)
        qsort(job->written, job->written_count, sizeof *job->written, written_order);
    pthread_mutex_unlock(&job->lock);
}

void _ccopy_job_forget_failure(ccopy_job_t *job, const ccopy_error_t *error)
{
    size_t i;
    for (i = 0; i < job->error_count; i++) {
        if (memcmp(&job->errors[i], error, sizeof *error) == 0) {
            memmove(&job->errors[i], &job->errors[i + 1],
                    (job->error_count - i - 1) * sizeof *job->errors);
            job->error_count--;
            job->windows_failed--;
            return;
        }
    }
}

void _ccopy_job_record_error(ccopy_job_t *job, const ccopy_error_t *error)
{
    job->errors = _ccopy_realloc(job->errors, (job->error_count + 1) * sizeof *job->errors);
    job->errors[job->error_count++] = *error;
}

void _ccopy_job_free_state(ccopy_job_t *job)
{
    size_t i;
    _ccopy_dest_close(job->dest);
    _ccopy_dest_close(job->from);
    _ccopy_source_close(job->source);
    _ccopy_manifests_free(job->written, job->written_count);
    free(job->errors);
    free(job->tasks);
    for (i = 0; i < job->coll_count; i++)
        free(job->colls[i].name);
    free(job->colls);
    _ccopy_strings_clear(&job->warnings);
    _ccopy_manifests_free(job->backup, job->backup_count);
    for (i = 0; i < job->verdict_count; i++)
        _ccopy_verdict_cleanup(&job->verdicts[i]);
    free(job->verdicts);
    _ccopy_strings_clear(&job->rejected_examples);
}

static void time_value(_ccopy_jsonw_t *w, const char *key, int64_t t)
{
    char text[CCOPY_TIME_TEXT_SIZE];
    _ccopy_jsonw_key(w, key);
    if (t < 0 || ccopy_time_format(text, t, NULL) != 0)
        _ccopy_jsonw_null(w);
    else
        _ccopy_jsonw_string(w, text);
}

static void optional_count(_ccopy_jsonw_t *w, const char *key, int64_t n)
{
    _ccopy_jsonw_key(w, key);
    if (n < 0)
        _ccopy_jsonw_null(w);
    else
        _ccopy_jsonw_int(w, n);
}

/* ---- results as data ------------------------------------------------------------------- */

/* The caller's struct is at least `min` bytes: fill the first `size` bytes of what we know. */
static int give(void *out, const void *full, size_t full_size, size_t min)
{
    size_t size = out ? *(const size_t *)out : 0;
    if (!out || size < min)
        return CCOPY_EINVAL;
    memcpy((char *)out + sizeof size, (const char *)full + sizeof size,
           (size < full_size ? size : full_size) - sizeof size);
    return 0;
}

const char *ccopy_job_status_name(int status)
{
    static const char *const names[] = {"running", "ok", "failed", "canceled", "differs", "stopped"};
    return status >= 0 && status < (int)(sizeof names / sizeof names[0]) ? names[status] : "unknown";
}

static ccopy_job_status_t status_of(ccopy_job_t *job)
{
    if (!job->ran || job->phase != CCOPY_PHASE_DONE)
        return CCOPY_STATUS_RUNNING;
    switch (job->result) {
    case 0: return CCOPY_STATUS_OK;
    case CCOPY_EMISMATCH: return CCOPY_STATUS_DIFFERS;
    case CCOPY_ECANCELED: return CCOPY_STATUS_CANCELED;
    case CCOPY_ESTOPPED: return CCOPY_STATUS_STOPPED;
    default: return CCOPY_STATUS_FAILED;
    }
}

int ccopy_job_get_summary(ccopy_job_t *job, ccopy_summary_t *out)
{
    ccopy_summary_t s;
    ccopy_progress_t p;
    size_t i;

    if (!job)
        return CCOPY_EINVAL;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    _ccopy_job_fill_progress(job, &p);
    pthread_mutex_lock(&job->lock);
    for (i = 0; i < job->coll_count; i++) {
        s.documents += job->colls[i].documents;
        s.bytes += job->colls[i].bytes;
        s.stored_bytes += job->colls[i].stored_bytes;
        s.windows_already_complete += job->colls[i].windows_already_complete;
        s.windows_planned += job->colls[i].windows_planned;
    }
    s.kind = job->kind;
    s.status = status_of(job);
    if (job->result != 0)
        s.error = job->result_error;
    s.mode = job->settings.mode;
    s.database = job->db;
    s.sink = job->sink_text;
    s.target = job->target_text;
    if (job->target_text)
        s.target_database = job->settings.target_db ? job->settings.target_db : job->db;
    s.step_seconds = job->settings.step;
    s.settle_lag_seconds = job->settings.settle_lag;
    s.windows_written = job->windows_done;
    s.windows_failed = job->windows_failed;
    s.documents_read = p.documents;
    s.retries = p.retries;
    s.throttle_events = p.throttle_events;
    s.retry_wait_seconds = p.retry_wait_seconds;
    s.pacing_wait_seconds = p.pacing_wait_seconds;
    s.ru_charged = p.ru_charged;
    s.ru_estimated = p.ru_estimated;
    s.ru_per_second = p.ru_per_second;
    s.ru_budget = job->settings.max_ru;
    s.ru_final_pace = p.ru_pace;
    s.target_ru_charged = p.target_ru_charged;
    s.target_ru_budget = job->settings.target_max_ru;
    s.target_ru_final_pace = p.target_ru_pace;
    s.documents_rejected = job->rejected;
    s.dry_run = job->kind == CCOPY_JOB_RESTORE && job->settings.dry_run_choice;
    s.windows_verified = job->verified_windows;
    s.windows_differing = job->mismatches;
    s.elapsed_seconds = p.elapsed_seconds;
    /* planning (checks, catalog, index-served edge queries) and copying, apart: on a server
     * that scans for every query the first can be a large share of a small run */
    {
        /* a summary asked for while the job runs (or after a step failed): so far, up to now */
        int64_t end = job->finished_ms ? job->finished_ms : _ccopy_monotonic_ms();
        s.planning_seconds = job->started_ms
                                 ? (double)((job->copy_started_ms ? job->copy_started_ms : end) -
                                            job->started_ms) / 1000.0
                                 : 0.0;
        s.copy_seconds = job->copy_started_ms ? (double)(end - job->copy_started_ms) / 1000.0 : 0.0;
    }
    s.documents_per_second = p.documents_per_second;
    s.bytes_per_second = p.bytes_per_second;
    s.collection_count = job->coll_count;
    s.window_count = job->written_count;
    s.verdict_count = job->verdict_count;
    s.error_count = job->error_count;
    s.rejected_count = job->rejected_examples.count;
    pthread_mutex_unlock(&job->lock);
    pthread_mutex_lock(&job->warnings_lock);
    s.warning_count = job->warnings.count;
    pthread_mutex_unlock(&job->warnings_lock);
    return give(out, &s, sizeof s, offsetof(ccopy_summary_t, status) + sizeof s.status);
}

int ccopy_job_get_collection(ccopy_job_t *job, size_t index, ccopy_collection_result_t *out)
{
    ccopy_collection_result_t r;
    int rc = CCOPY_EINVAL;
    if (!job)
        return rc;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    pthread_mutex_lock(&job->lock);
    if (index < job->coll_count) {
        const _ccopy_coll_stats_t *c = &job->colls[index];
        r.name = c->name;
        r.range_start = c->range_start;
        r.range_end = c->range_end;
        r.windows_planned = c->windows_planned;
        r.windows_written = c->windows_written;
        r.windows_already_complete = c->windows_already_complete;
        r.documents = c->documents;
        r.bytes = c->bytes;
        r.stored_bytes = c->stored_bytes;
        r.non_objectid_copied = c->non_oid_copied;
        r.non_objectid_not_covered = c->non_oid_not_covered;
        rc = 0;
    }
    pthread_mutex_unlock(&job->lock);
    return rc == 0 ? give(out, &r, sizeof r, offsetof(ccopy_collection_result_t, name) + sizeof r.name) : rc;
}

int ccopy_job_get_window(ccopy_job_t *job, size_t index, ccopy_manifest_t *out)
{
    int rc = CCOPY_EINVAL;
    if (!out || !job)
        return rc;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&job->lock);
    if (index < job->written_count) {
        _ccopy_manifest_copy(out, &job->written[index]);
        rc = 0;
    }
    pthread_mutex_unlock(&job->lock);
    return rc;
}

int ccopy_job_get_task(ccopy_job_t *job, size_t index, ccopy_task_info_t *out)
{
    ccopy_task_info_t t;
    int rc = CCOPY_EINVAL;
    if (!job)
        return rc;
    memset(&t, 0, sizeof t);
    t.size = sizeof t;
    pthread_mutex_lock(&job->lock);
    if (index < job->task_count) {
        const _ccopy_task_t *task = &job->tasks[index];
        const ccopy_manifest_t *m = task->manifest;
        t.database = m ? m->database : job->db;
        t.collection = task->coll;
        t.kind = task->kind;
        t.window = task->window;
        t.state = (ccopy_task_state_t)task->state;
        t.documents = task->documents;
        t.bytes = task->bytes;
        t.stored_bytes = task->stored_bytes;
        memcpy(t.sha256, task->sha256, sizeof t.sha256);
        t.data = task->data;
        if (m && t.state != CCOPY_TASK_DONE) { /* restore, verify: the backup's window */
            t.data = m->data;
            t.documents = m->documents;
            t.bytes = m->bytes;
            t.stored_bytes = m->stored_bytes;
            memcpy(t.sha256, m->sha256, sizeof t.sha256);
        }
        t.partial = job->kind == CCOPY_JOB_RESTORE && job->until >= 0 &&
                    task->kind == CCOPY_MANIFEST_WINDOW && task->window.end > job->until;
        t.error = task->error;
        rc = 0;
    }
    pthread_mutex_unlock(&job->lock);
    return rc == 0 ? give(out, &t, sizeof t, offsetof(ccopy_task_info_t, state) + sizeof t.state) : rc;
}

int ccopy_job_get_verdict(ccopy_job_t *job, size_t index, ccopy_verdict_t *out)
{
    ccopy_verdict_t r;
    int rc = CCOPY_EINVAL;
    if (!job)
        return rc;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    pthread_mutex_lock(&job->lock);
    if (index < job->verdict_count) {
        const _ccopy_verdict_t *v = &job->verdicts[index];
        r.collection = v->coll;
        r.kind = v->kind;
        r.window = v->window;
        r.differs = v->problem != NULL;
        r.source_documents = v->source_count;
        r.backup_documents = v->backup_count;
        r.sha256_checked = v->sha256_checked;
        r.sha256_ok = v->sha256_ok;
        r.deep = v->deep;
        r.missing = v->missing;
        r.extra = v->extra;
        r.different = v->different;
        r.example_count = v->examples.count;
        r.examples = (const char *const *)v->examples.items;
        r.problem = v->problem;
        rc = 0;
    }
    pthread_mutex_unlock(&job->lock);
    return rc == 0 ? give(out, &r, sizeof r, offsetof(ccopy_verdict_t, collection) + sizeof r.collection) : rc;
}

char *ccopy_job_get_note(ccopy_job_t *job, ccopy_note_kind_t kind, size_t index)
{
    char *text = NULL;
    pthread_mutex_t *lock;
    if (!job)
        return NULL;
    lock = kind == CCOPY_NOTE_WARNING ? &job->warnings_lock : &job->lock;
    pthread_mutex_lock(lock);
    if (kind == CCOPY_NOTE_ERROR && index < job->error_count)
        text = _ccopy_strdup(job->errors[index].message);
    else if (kind == CCOPY_NOTE_WARNING && index < job->warnings.count)
        text = _ccopy_strdup(job->warnings.items[index]);
    else if (kind == CCOPY_NOTE_REJECTED && index < job->rejected_examples.count)
        text = _ccopy_strdup(job->rejected_examples.items[index]);
    pthread_mutex_unlock(lock);
    return text;
}

char *ccopy_job_task_json(ccopy_job_t *job, size_t index)
{
    ccopy_task_info_t t = CCOPY_TASK_INFO_INIT;
    _ccopy_jsonw_t w;
    int is_window;
    if (ccopy_job_get_task(job, index, &t) != 0)
        return NULL;
    is_window = t.kind == CCOPY_MANIFEST_WINDOW;
    _ccopy_jsonw_init(&w, 0);
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_string(&w, "database", t.database);
    _ccopy_jsonw_kv_string(&w, "collection", t.collection);
    _ccopy_jsonw_kv_string(&w, "kind", is_window ? "window" : "non-objectid");
    time_value(&w, "start", is_window ? t.window.start : -1);
    time_value(&w, "end", is_window ? t.window.end : -1);
    _ccopy_jsonw_end_object(&w);
    return _ccopy_jsonw_steal(&w);
}

/* ---- the JSON summary, made from the accessors -------------------------------------------- */

static void write_collections(_ccopy_jsonw_t *w, ccopy_job_t *job, size_t count)
{
    size_t i;
    _ccopy_jsonw_key(w, "collections");
    _ccopy_jsonw_begin_array(w);
    for (i = 0; i < count; i++) {
        ccopy_collection_result_t c = CCOPY_COLLECTION_RESULT_INIT;
        if (ccopy_job_get_collection(job, i, &c) != 0)
            break;
        _ccopy_jsonw_begin_object(w);
        _ccopy_jsonw_kv_string(w, "name", c.name);
        time_value(w, "range_start", c.range_start);
        time_value(w, "range_end", c.range_end);
        _ccopy_jsonw_kv_int(w, "windows_planned", c.windows_planned);
        _ccopy_jsonw_kv_int(w, "windows_written", c.windows_written);
        _ccopy_jsonw_kv_int(w, "windows_already_complete", c.windows_already_complete);
        _ccopy_jsonw_kv_int(w, "documents", c.documents);
        _ccopy_jsonw_kv_int(w, "bytes", c.bytes);
        _ccopy_jsonw_kv_int(w, "stored_bytes", c.stored_bytes);
        optional_count(w, "non_objectid_copied", c.non_objectid_copied);
        optional_count(w, "non_objectid_not_covered", c.non_objectid_not_covered);
        _ccopy_jsonw_end_object(w);
    }
    _ccopy_jsonw_end_array(w);
}

/* A window as the summary lists it (windows written, windows planned from a backup). */
static void write_window_entry(_ccopy_jsonw_t *w, const char *database, const char *collection,
                               ccopy_manifest_kind_t kind, ccopy_window_t window, int64_t documents,
                               int64_t bytes, int64_t stored_bytes, const char *data)
{
    int is_window = kind == CCOPY_MANIFEST_WINDOW;
    if (database)
        _ccopy_jsonw_kv_string(w, "database", database);
    _ccopy_jsonw_kv_string(w, "collection", collection);
    _ccopy_jsonw_kv_string(w, "kind", is_window ? "window" : "non-objectid");
    time_value(w, "start", is_window ? window.start : -1);
    time_value(w, "end", is_window ? window.end : -1);
    _ccopy_jsonw_kv_int(w, "documents", documents);
    _ccopy_jsonw_kv_int(w, "bytes", bytes);
    _ccopy_jsonw_kv_int(w, "stored_bytes", stored_bytes);
    _ccopy_jsonw_kv_string(w, "data", data);
}

static void write_windows(_ccopy_jsonw_t *w, ccopy_job_t *job, size_t count)
{
    size_t i;
    _ccopy_jsonw_key(w, "windows");
    _ccopy_jsonw_begin_array(w);
    for (i = 0; i < count; i++) {
        ccopy_manifest_t m;
        if (ccopy_job_get_window(job, i, &m) != 0)
            break;
        _ccopy_jsonw_begin_object(w);
        write_window_entry(w, NULL, m.collection, m.kind, m.window, m.documents, m.bytes,
                           m.stored_bytes, m.data);
        _ccopy_jsonw_kv_string(w, "sha256", m.sha256);
        _ccopy_jsonw_end_object(w);
        ccopy_manifest_cleanup(&m);
    }
    _ccopy_jsonw_end_array(w);
}

static void write_notes(_ccopy_jsonw_t *w, const char *key, ccopy_job_t *job, ccopy_note_kind_t kind,
                        size_t count)
{
    size_t i;
    _ccopy_jsonw_key(w, key);
    _ccopy_jsonw_begin_array(w);
    for (i = 0; i < count; i++) {
        char *text = ccopy_job_get_note(job, kind, i);
        if (!text)
            break;
        _ccopy_jsonw_string(w, text);
        free(text);
    }
    _ccopy_jsonw_end_array(w);
}

/* restore and verify: the backup's windows this run took (restore --dry-run: would take), which
 * are its tasks, each with the backup's manifest. */
static void write_planned(_ccopy_jsonw_t *w, ccopy_job_t *job)
{
    size_t i, n = job->kind == CCOPY_JOB_RESTORE || job->kind == CCOPY_JOB_VERIFY
                      ? ccopy_job_task_count(job)
                      : 0;
    _ccopy_jsonw_key(w, "planned");
    _ccopy_jsonw_begin_array(w);
    pthread_mutex_lock(&job->lock); /* planning may still grow the array */
    for (i = 0; i < n && i < job->backup_count; i++) {
        const ccopy_manifest_t *m = &job->backup[i];
        _ccopy_jsonw_begin_object(w);
        write_window_entry(w, m->database, m->collection, m->kind, m->window, m->documents,
                           m->bytes, m->stored_bytes, m->data);
        _ccopy_jsonw_key(w, "partial");
        _ccopy_jsonw_bool(w, job->until >= 0 && m->kind == CCOPY_MANIFEST_WINDOW &&
                                 m->window.end > job->until);
        _ccopy_jsonw_end_object(w);
    }
    pthread_mutex_unlock(&job->lock);
    _ccopy_jsonw_end_array(w);
}

static void write_verdicts(_ccopy_jsonw_t *w, ccopy_job_t *job, size_t count)
{
    size_t i, k;
    _ccopy_jsonw_key(w, "verdicts");
    _ccopy_jsonw_begin_array(w);
    for (i = 0; i < count; i++) {
        ccopy_verdict_t v = CCOPY_VERDICT_INIT;
        int is_window;
        if (ccopy_job_get_verdict(job, i, &v) != 0)
            break;
        is_window = v.kind == CCOPY_MANIFEST_WINDOW;
        _ccopy_jsonw_begin_object(w);
        _ccopy_jsonw_kv_string(w, "collection", v.collection);
        _ccopy_jsonw_kv_string(w, "kind", is_window ? "window" : "non-objectid");
        time_value(w, "start", is_window ? v.window.start : -1);
        time_value(w, "end", is_window ? v.window.end : -1);
        _ccopy_jsonw_kv_string(w, "status", v.differs ? "differs" : "ok");
        _ccopy_jsonw_kv_int(w, "source_documents", v.source_documents);
        _ccopy_jsonw_kv_int(w, "backup_documents", v.backup_documents);
        _ccopy_jsonw_key(w, "sha256");
        if (v.sha256_checked)
            _ccopy_jsonw_string(w, v.sha256_ok ? "ok" : "mismatch");
        else
            _ccopy_jsonw_null(w);
        _ccopy_jsonw_key(w, "deep");
        _ccopy_jsonw_bool(w, v.deep);
        _ccopy_jsonw_kv_int(w, "missing", v.missing);
        _ccopy_jsonw_kv_int(w, "extra", v.extra);
        _ccopy_jsonw_kv_int(w, "different", v.different);
        _ccopy_jsonw_key(w, "examples");
        _ccopy_jsonw_begin_array(w);
        for (k = 0; k < v.example_count; k++)
            _ccopy_jsonw_string(w, v.examples[k]);
        _ccopy_jsonw_end_array(w);
        _ccopy_jsonw_key(w, "problem");
        if (v.problem)
            _ccopy_jsonw_string(w, v.problem);
        else
            _ccopy_jsonw_null(w);
        _ccopy_jsonw_end_object(w);
    }
    _ccopy_jsonw_end_array(w);
}

static void string_or_null(_ccopy_jsonw_t *w, const char *key, const char *value)
{
    _ccopy_jsonw_key(w, key);
    if (value)
        _ccopy_jsonw_string(w, value);
    else
        _ccopy_jsonw_null(w);
}

char *ccopy_job_summary_json(ccopy_job_t *job)
{
    static const char *const kinds[] = {"backup", "replicate", "restore", "verify"};
    ccopy_summary_t s = CCOPY_SUMMARY_INIT;
    _ccopy_jsonw_t w;

    if (!job)
        return NULL;
    ccopy_job_get_summary(job, &s);
    _ccopy_jsonw_init(&w, 1);
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_string(&w, "status", ccopy_job_status_name(s.status));
    _ccopy_jsonw_key(&w, "error");
    if (s.error.code != 0) {
        _ccopy_jsonw_begin_object(&w);
        _ccopy_jsonw_kv_string(&w, "code", ccopy_code_name(s.error.code));
        _ccopy_jsonw_kv_string(&w, "domain", ccopy_domain_name(s.error.domain));
        _ccopy_jsonw_kv_int(&w, "cause", s.error.cause);
        _ccopy_jsonw_kv_string(&w, "message", s.error.message);
        _ccopy_jsonw_end_object(&w);
    } else {
        _ccopy_jsonw_null(&w);
    }
    _ccopy_jsonw_kv_string(&w, "command", kinds[s.kind]);
    _ccopy_jsonw_kv_string(&w, "mode", s.mode);
    _ccopy_jsonw_kv_string(&w, "database", s.database);
    string_or_null(&w, "sink", s.sink);
    string_or_null(&w, "target", s.target);
    string_or_null(&w, "target_database", s.target_database);
    _ccopy_jsonw_kv_int(&w, "step_seconds", s.step_seconds);
    _ccopy_jsonw_kv_int(&w, "settle_lag_seconds", s.settle_lag_seconds);
    _ccopy_jsonw_kv_int(&w, "windows_planned", s.windows_planned);
    _ccopy_jsonw_kv_int(&w, "windows_written", s.windows_written);
    _ccopy_jsonw_kv_int(&w, "windows_failed", s.windows_failed);
    _ccopy_jsonw_kv_int(&w, "windows_already_complete", s.windows_already_complete);
    _ccopy_jsonw_kv_int(&w, "documents", s.documents);
    _ccopy_jsonw_kv_int(&w, "bytes", s.bytes);
    _ccopy_jsonw_kv_int(&w, "stored_bytes", s.stored_bytes);
    _ccopy_jsonw_kv_int(&w, "documents_read", s.documents_read);
    _ccopy_jsonw_kv_int(&w, "retries", s.retries);
    _ccopy_jsonw_kv_int(&w, "throttle_events", s.throttle_events);
    _ccopy_jsonw_kv_double(&w, "retry_wait_seconds", s.retry_wait_seconds);
    _ccopy_jsonw_kv_double(&w, "pacing_wait_seconds", s.pacing_wait_seconds);
    _ccopy_jsonw_key(&w, "request_units");
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_double(&w, "charged", s.ru_charged);
    _ccopy_jsonw_kv_string(&w, "source", s.ru_estimated ? "estimate" : "server");
    _ccopy_jsonw_kv_double(&w, "per_second", s.ru_per_second);
    _ccopy_jsonw_kv_int(&w, "budget", s.ru_budget);
    _ccopy_jsonw_kv_double(&w, "final_pace", s.ru_final_pace);
    _ccopy_jsonw_end_object(&w);
    _ccopy_jsonw_key(&w, "target_request_units");
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_double(&w, "charged", s.target_ru_charged);
    _ccopy_jsonw_kv_int(&w, "budget", s.target_ru_budget);
    _ccopy_jsonw_kv_double(&w, "final_pace", s.target_ru_final_pace);
    _ccopy_jsonw_end_object(&w);
    _ccopy_jsonw_kv_int(&w, "documents_rejected", s.documents_rejected);
    write_notes(&w, "rejected", job, CCOPY_NOTE_REJECTED, s.rejected_count);
    _ccopy_jsonw_key(&w, "dry_run");
    _ccopy_jsonw_bool(&w, s.dry_run);
    _ccopy_jsonw_kv_int(&w, "windows_verified", s.windows_verified);
    _ccopy_jsonw_kv_int(&w, "windows_differing", s.windows_differing);
    _ccopy_jsonw_kv_double(&w, "elapsed_seconds", s.elapsed_seconds);
    _ccopy_jsonw_kv_double(&w, "planning_seconds", s.planning_seconds);
    _ccopy_jsonw_kv_double(&w, "copy_seconds", s.copy_seconds);
    _ccopy_jsonw_kv_double(&w, "documents_per_second", s.documents_per_second);
    _ccopy_jsonw_kv_double(&w, "bytes_per_second", s.bytes_per_second);
    write_collections(&w, job, s.collection_count);
    write_windows(&w, job, s.window_count);
    write_planned(&w, job);
    write_verdicts(&w, job, s.verdict_count);
    write_notes(&w, "errors", job, CCOPY_NOTE_ERROR, s.error_count);
    write_notes(&w, "warnings", job, CCOPY_NOTE_WARNING, s.warning_count);
    _ccopy_jsonw_end_object(&w);
    return _ccopy_jsonw_steal(&w);
}
