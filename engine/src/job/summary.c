/*
 * What a job remembers of its run (windows written, errors, warnings) and the JSON summary made
 * from it: the record a scheduler or a script reads after `cosmocopy backup --json`.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "job_internal.h"
#include "jsonw.h"

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

static void write_collections(_ccopy_jsonw_t *w, ccopy_job_t *job)
{
    size_t i;
    _ccopy_jsonw_key(w, "collections");
    _ccopy_jsonw_begin_array(w);
    for (i = 0; i < job->coll_count; i++) {
        const _ccopy_coll_stats_t *c = &job->colls[i];
        _ccopy_jsonw_begin_object(w);
        _ccopy_jsonw_kv_string(w, "name", c->name);
        time_value(w, "range_start", c->range_start);
        time_value(w, "range_end", c->range_end);
        _ccopy_jsonw_kv_int(w, "windows_planned", c->windows_planned);
        _ccopy_jsonw_kv_int(w, "windows_written", c->windows_written);
        _ccopy_jsonw_kv_int(w, "windows_already_complete", c->windows_already_complete);
        _ccopy_jsonw_kv_int(w, "documents", c->documents);
        _ccopy_jsonw_kv_int(w, "bytes", c->bytes);
        _ccopy_jsonw_kv_int(w, "stored_bytes", c->stored_bytes);
        optional_count(w, "non_objectid_copied", c->non_oid_copied);
        optional_count(w, "non_objectid_not_covered", c->non_oid_not_covered);
        _ccopy_jsonw_end_object(w);
    }
    _ccopy_jsonw_end_array(w);
}

/* A window as the summary lists it (windows written, windows planned from a backup). */
static void write_window_entry(_ccopy_jsonw_t *w, const ccopy_manifest_t *m, int with_database)
{
    int is_window = m->kind == CCOPY_MANIFEST_WINDOW;
    if (with_database)
        _ccopy_jsonw_kv_string(w, "database", m->database);
    _ccopy_jsonw_kv_string(w, "collection", m->collection);
    _ccopy_jsonw_kv_string(w, "kind", is_window ? "window" : "non-objectid");
    time_value(w, "start", is_window ? m->window.start : -1);
    time_value(w, "end", is_window ? m->window.end : -1);
    _ccopy_jsonw_kv_int(w, "documents", m->documents);
    _ccopy_jsonw_kv_int(w, "bytes", m->bytes);
    _ccopy_jsonw_kv_int(w, "stored_bytes", m->stored_bytes);
    _ccopy_jsonw_kv_string(w, "data", m->data);
}

static void write_windows(_ccopy_jsonw_t *w, ccopy_job_t *job)
{
    size_t i;
    _ccopy_jsonw_key(w, "windows");
    _ccopy_jsonw_begin_array(w);
    for (i = 0; i < job->written_count; i++) {
        _ccopy_jsonw_begin_object(w);
        write_window_entry(w, &job->written[i], 0);
        _ccopy_jsonw_kv_string(w, "sha256", job->written[i].sha256);
        _ccopy_jsonw_end_object(w);
    }
    _ccopy_jsonw_end_array(w);
}

static void write_string_list(_ccopy_jsonw_t *w, const char *key, const _ccopy_strings_t *list)
{
    size_t i;
    _ccopy_jsonw_key(w, key);
    _ccopy_jsonw_begin_array(w);
    for (i = 0; i < list->count; i++)
        _ccopy_jsonw_string(w, list->items[i]);
    _ccopy_jsonw_end_array(w);
}

/* restore and verify: the backup's windows this run took (restore --dry-run: would take). */
static void write_planned(_ccopy_jsonw_t *w, ccopy_job_t *job)
{
    size_t i;
    _ccopy_jsonw_key(w, "planned");
    _ccopy_jsonw_begin_array(w);
    for (i = 0; i < job->backup_count; i++) {
        const ccopy_manifest_t *m = &job->backup[i];
        _ccopy_jsonw_begin_object(w);
        write_window_entry(w, m, 1);
        _ccopy_jsonw_key(w, "partial");
        _ccopy_jsonw_bool(w, job->until >= 0 && m->kind == CCOPY_MANIFEST_WINDOW &&
                                 m->window.end > job->until);
        _ccopy_jsonw_end_object(w);
    }
    _ccopy_jsonw_end_array(w);
}

static void write_verdicts(_ccopy_jsonw_t *w, ccopy_job_t *job)
{
    size_t i;
    _ccopy_jsonw_key(w, "verdicts");
    _ccopy_jsonw_begin_array(w);
    for (i = 0; i < job->verdict_count; i++) {
        const _ccopy_verdict_t *v = &job->verdicts[i];
        int is_window = v->kind == CCOPY_MANIFEST_WINDOW;
        _ccopy_jsonw_begin_object(w);
        _ccopy_jsonw_kv_string(w, "collection", v->coll);
        _ccopy_jsonw_kv_string(w, "kind", is_window ? "window" : "non-objectid");
        time_value(w, "start", is_window ? v->window.start : -1);
        time_value(w, "end", is_window ? v->window.end : -1);
        _ccopy_jsonw_kv_string(w, "status", v->problem ? "differs" : "ok");
        _ccopy_jsonw_kv_int(w, "source_documents", v->source_count);
        _ccopy_jsonw_kv_int(w, "backup_documents", v->backup_count);
        _ccopy_jsonw_key(w, "sha256");
        if (v->sha256_checked)
            _ccopy_jsonw_string(w, v->sha256_ok ? "ok" : "mismatch");
        else
            _ccopy_jsonw_null(w);
        _ccopy_jsonw_key(w, "deep");
        _ccopy_jsonw_bool(w, v->deep);
        _ccopy_jsonw_kv_int(w, "missing", v->missing);
        _ccopy_jsonw_kv_int(w, "extra", v->extra);
        _ccopy_jsonw_kv_int(w, "different", v->different);
        write_string_list(w, "examples", &v->examples);
        _ccopy_jsonw_key(w, "problem");
        if (v->problem)
            _ccopy_jsonw_string(w, v->problem);
        else
            _ccopy_jsonw_null(w);
        _ccopy_jsonw_end_object(w);
    }
    _ccopy_jsonw_end_array(w);
}

static const char *status_of(ccopy_job_t *job)
{
    if (!job->ran || job->phase != CCOPY_PHASE_DONE)
        return "running";
    if (job->result == 0)
        return "ok";
    if (job->result == CCOPY_EMISMATCH)
        return "differs";
    return job->result == CCOPY_ECANCELED ? "canceled" : "failed";
}

char *ccopy_job_summary_json(ccopy_job_t *job)
{
    _ccopy_jsonw_t w;
    ccopy_progress_t p;
    int64_t documents = 0, bytes = 0, stored = 0, complete = 0, planned = 0;
    size_t i;

    ccopy_job_get_progress(job, &p);
    pthread_mutex_lock(&job->lock);
    for (i = 0; i < job->coll_count; i++) {
        documents += job->colls[i].documents;
        bytes += job->colls[i].bytes;
        stored += job->colls[i].stored_bytes;
        complete += job->colls[i].windows_already_complete;
        planned += job->colls[i].windows_planned;
    }
    _ccopy_jsonw_init(&w, 1);
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_string(&w, "status", status_of(job));
    _ccopy_jsonw_key(&w, "error");
    if (job->result != 0) {
        _ccopy_jsonw_begin_object(&w);
        _ccopy_jsonw_kv_string(&w, "code", ccopy_code_name(job->result_error.code));
        _ccopy_jsonw_kv_string(&w, "domain", ccopy_domain_name(job->result_error.domain));
        _ccopy_jsonw_kv_int(&w, "cause", job->result_error.cause);
        _ccopy_jsonw_kv_string(&w, "message", job->result_error.message);
        _ccopy_jsonw_end_object(&w);
    } else {
        _ccopy_jsonw_null(&w);
    }
    {
        static const char *const kinds[] = {"backup", "replicate", "restore", "verify"};
        _ccopy_jsonw_kv_string(&w, "command", kinds[job->kind]);
    }
    _ccopy_jsonw_kv_string(&w, "mode", job->mode);
    _ccopy_jsonw_kv_string(&w, "database", job->db);
    {
        /* a SAS URL's signature must not reach the summary */
        const char *location = ccopy_options_get(job->options, "sink");
        char *sink = location ? _ccopy_strdup(location) : NULL;
        _ccopy_jsonw_key(&w, "sink");
        if (sink) {
            _ccopy_mask_secrets(sink);
            _ccopy_jsonw_string(&w, sink);
        } else {
            _ccopy_jsonw_null(&w);
        }
        free(sink);
    }
    {
        /* the target's password must not reach the summary either */
        const char *target = ccopy_options_get(job->options, "target");
        char *text = target ? _ccopy_strdup(target) : NULL;
        if (text)
            _ccopy_mask_secrets(text);
        _ccopy_jsonw_key(&w, "target");
        if (text)
            _ccopy_jsonw_string(&w, text);
        else
            _ccopy_jsonw_null(&w);
        free(text);
        _ccopy_jsonw_key(&w, "target_database");
        if (target)
            _ccopy_jsonw_string(&w, ccopy_options_get(job->options, "target_db")
                                        ? ccopy_options_get(job->options, "target_db")
                                        : job->db);
        else
            _ccopy_jsonw_null(&w);
    }
    _ccopy_jsonw_kv_int(&w, "step_seconds", job->step);
    _ccopy_jsonw_kv_int(&w, "settle_lag_seconds", job->settle_lag);
    _ccopy_jsonw_kv_int(&w, "windows_planned", planned);
    _ccopy_jsonw_kv_int(&w, "windows_written", job->windows_done);
    _ccopy_jsonw_kv_int(&w, "windows_failed", job->windows_failed);
    _ccopy_jsonw_kv_int(&w, "windows_already_complete", complete);
    _ccopy_jsonw_kv_int(&w, "documents", documents);
    _ccopy_jsonw_kv_int(&w, "bytes", bytes);
    _ccopy_jsonw_kv_int(&w, "stored_bytes", stored);
    _ccopy_jsonw_kv_int(&w, "documents_read", p.documents);
    _ccopy_jsonw_kv_int(&w, "retries", p.retries);
    _ccopy_jsonw_kv_int(&w, "throttle_events", p.throttle_events);
    _ccopy_jsonw_kv_double(&w, "retry_wait_seconds", p.retry_wait_seconds);
    _ccopy_jsonw_kv_double(&w, "pacing_wait_seconds", p.pacing_wait_seconds);
    _ccopy_jsonw_key(&w, "request_units");
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_double(&w, "charged", p.ru_charged);
    _ccopy_jsonw_kv_string(&w, "source", p.ru_estimated ? "estimate" : "server");
    _ccopy_jsonw_kv_double(&w, "per_second", p.ru_per_second);
    _ccopy_jsonw_kv_int(&w, "budget", ccopy_options_get_int(job->options, "max_ru"));
    _ccopy_jsonw_kv_double(&w, "final_pace", p.ru_pace);
    _ccopy_jsonw_end_object(&w);
    _ccopy_jsonw_key(&w, "target_request_units");
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_double(&w, "charged", p.target_ru_charged);
    _ccopy_jsonw_kv_int(&w, "budget", ccopy_options_get_int(job->options, "target_max_ru"));
    _ccopy_jsonw_kv_double(&w, "final_pace", p.target_ru_pace);
    _ccopy_jsonw_end_object(&w);
    _ccopy_jsonw_kv_int(&w, "documents_rejected", job->rejected);
    write_string_list(&w, "rejected", &job->rejected_examples);
    _ccopy_jsonw_key(&w, "dry_run");
    _ccopy_jsonw_bool(&w, job->kind == CCOPY_JOB_RESTORE && _ccopy_option_yes(job->options, "dry_run"));
    _ccopy_jsonw_kv_int(&w, "windows_verified", job->verified_windows);
    _ccopy_jsonw_kv_int(&w, "windows_differing", job->mismatches);
    _ccopy_jsonw_kv_double(&w, "elapsed_seconds", p.elapsed_seconds);
    /* planning (checks, catalog, index-served edge queries) and copying, apart: on a server
     * that scans for every query the first can be a large share of a small run */
    _ccopy_jsonw_kv_double(&w, "planning_seconds",
                           (double)((job->copy_started_ms ? job->copy_started_ms : job->finished_ms) -
                                    job->started_ms) / 1000.0);
    _ccopy_jsonw_kv_double(&w, "copy_seconds",
                           job->copy_started_ms
                               ? (double)(job->finished_ms - job->copy_started_ms) / 1000.0
                               : 0.0);
    _ccopy_jsonw_kv_double(&w, "documents_per_second", p.documents_per_second);
    _ccopy_jsonw_kv_double(&w, "bytes_per_second", p.bytes_per_second);
    write_collections(&w, job);
    write_windows(&w, job);
    write_planned(&w, job);
    write_verdicts(&w, job);
    _ccopy_jsonw_key(&w, "errors");
    _ccopy_jsonw_begin_array(&w);
    for (i = 0; i < job->error_count; i++)
        _ccopy_jsonw_string(&w, job->errors[i].message);
    _ccopy_jsonw_end_array(&w);
    pthread_mutex_unlock(&job->lock);
    pthread_mutex_lock(&job->warnings_lock);
    _ccopy_jsonw_key(&w, "warnings");
    _ccopy_jsonw_begin_array(&w);
    for (i = 0; i < job->warnings.count; i++)
        _ccopy_jsonw_string(&w, job->warnings.items[i]);
    _ccopy_jsonw_end_array(&w);
    pthread_mutex_unlock(&job->warnings_lock);
    _ccopy_jsonw_end_object(&w);
    return _ccopy_jsonw_steal(&w);
}
