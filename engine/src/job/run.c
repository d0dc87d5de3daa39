/*
 * A job in steps: plan (connect, check, cut the tasks), run any tasks (restore: every window's
 * SHA-256 checked before the first is written), finish (the result, the destination let go).
 * ccopy_job_run() is the three in a row.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cosmocopy/job.h"
#include "job_internal.h"

/* Failures recorded since `before` errors were, or a cancel or stop. */
static int workers_failed(ccopy_job_t *job, size_t before)
{
    int failed;
    pthread_mutex_lock(&job->lock);
    failed = job->error_count > before;
    pthread_mutex_unlock(&job->lock);
    return failed || atomic_load(&job->canceled);
}

/* Restore: every window's SHA-256 is checked (in parallel) before the first document is written;
 * then, once the writing workers are started, the target collections are dropped or given their
 * indexes, as asked (once per job); then the windows are written. A restore that cannot start a
 * worker fails with the target untouched. */
static int run_restore(ccopy_job_t *job, size_t errors_before, ccopy_error_t *error)
{
    int rc;
    if (job->settings.dry_run_choice)
        return 0;
    job->run_task = _ccopy_restore_check_task;
    rc = _ccopy_job_run_workers(job, NULL, error);
    if (rc != 0 || workers_failed(job, errors_before))
        return rc; /* window failures are recorded */
    job->run_task = _ccopy_restore_task;
    rc = _ccopy_job_run_workers(job, job->prepared ? NULL : _ccopy_restore_prepare, error);
    if (rc == 0)
        job->prepared = 1;
    return rc;
}

/* Connect, check and plan: job->tasks. Restore opens its target only when there is something
 * to write. */
static int plan_kind(ccopy_job_t *job, ccopy_error_t *error)
{
    int rc;
    if (job->kind == CCOPY_JOB_RESTORE) {
        rc = _ccopy_job_plan_from_backup(job, error);
        if (rc == 0 && job->given)
            rc = _ccopy_job_keep_given(job, error);
        if (rc != 0 || job->task_count == 0 || atomic_load(&job->canceled) ||
            job->settings.dry_run_choice)
            return rc;
        return _ccopy_job_open_target(job, 0, &job->dest, error);
    }
    rc = _ccopy_job_open_server(job, &job->source, "source", job->settings.source, error);
    /* replicate writes into the target; verify against a replica reads it */
    if (rc == 0 && job->settings.target)
        rc = job->kind == CCOPY_JOB_VERIFY ? _ccopy_job_open_target(job, 0, &job->from, error)
                                           : _ccopy_job_open_target(job, 1, &job->dest, error);
    if (rc == 0 && job->kind == CCOPY_JOB_VERIFY) {
        rc = _ccopy_job_plan_from_backup(job, error);
        if (rc == 0 && job->given)
            rc = _ccopy_job_keep_given(job, error);
    } else if (rc == 0) {
        rc = job->given ? _ccopy_job_plan_given(job, error) : _ccopy_job_plan(job, error);
    }
    return rc;
}

static int ended(ccopy_job_t *job, ccopy_error_t *error)
{
    int finished;
    if (!job)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "no job given (NULL)");
    pthread_mutex_lock(&job->lock);
    finished = job->finished;
    pthread_mutex_unlock(&job->lock);
    return finished ? _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                       "this job has already run; make a new one")
                    : 0;
}

static int job_plan(ccopy_job_t *job, ccopy_error_t *error)
{
    ccopy_error_t e;
    int rc;

    if (ended(job, error) != 0)
        return CCOPY_EINVAL;
    if (job->planned)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "this job is planned already");
    pthread_mutex_lock(&job->lock);
    job->ran = 1;
    job->started_ms = _ccopy_monotonic_ms();
    pthread_mutex_unlock(&job->lock);
    job->plan_rng = (uint64_t)job->started_ms * 0x9E3779B97F4A7C15ULL;
    _ccopy_job_report(job);
    rc = plan_kind(job, &e);
    job->planned = 1;
    job->plan_rc = rc;
    if (rc != 0) {
        pthread_mutex_lock(&job->lock);
        _ccopy_job_record_error(job, &e);
        pthread_mutex_unlock(&job->lock);
        if (error)
            *error = e;
    }
    return rc;
}

int ccopy_job_plan(ccopy_job_t *job, ccopy_error_t *error)
{
    _ccopy_retry_receiver_t former = _ccopy_job_tell_retries(job);
    int rc = job_plan(job, error);
    _ccopy_job_retries_untold(former);
    return rc;
}

/* One task of ccopy_job_plan_tasks()'s JSON into *t (its collection a new string). */
static int given_task(ccopy_job_t *job, bson_iter_t *task, size_t i, _ccopy_task_t *t,
                      ccopy_error_t *error)
{
    bson_iter_t f;
    const char *database = NULL, *kind = NULL, *start = NULL, *end = NULL;
    if (!BSON_ITER_HOLDS_DOCUMENT(task) || !bson_iter_recurse(task, &f))
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "task %zu: not an object", i);
    while (bson_iter_next(&f)) {
        const char *key = bson_iter_key(&f);
        const char *text = BSON_ITER_HOLDS_UTF8(&f) ? bson_iter_utf8(&f, NULL) : NULL;
        if (strcmp(key, "database") == 0)
            database = text;
        else if (strcmp(key, "collection") == 0 && text && !t->coll)
            t->coll = _ccopy_strdup(text);
        else if (strcmp(key, "kind") == 0)
            kind = text;
        else if (strcmp(key, "start") == 0)
            start = text;
        else if (strcmp(key, "end") == 0)
            end = text;
    }
    if (!t->coll || !kind || !database || strcmp(database, job->db ? job->db : "") != 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "task %zu: needs database (this job's, %s), collection and kind", i,
                                job->db ? job->db : "none");
    if (job->settings.collection_count > 0) {
        /* a job of the same options planned it: it copies only the collections named */
        size_t c;
        int named = 0;
        for (c = 0; c < job->settings.collection_count && !named; c++)
            named = strcmp(job->settings.collection[c], t->coll) == 0;
        if (!named)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "task %zu: collection %s is not one this job copies "
                                    "(option collection)",
                                    i, t->coll);
    }
    if (strcmp(kind, "non-objectid") == 0) {
        t->kind = CCOPY_MANIFEST_NON_OBJECTID;
        return 0;
    }
    t->kind = CCOPY_MANIFEST_WINDOW;
    if (strcmp(kind, "window") != 0 || !start || !end ||
        ccopy_time_parse(&t->window.start, start, 0, NULL) != 0 ||
        ccopy_time_parse(&t->window.end, end, 0, NULL) != 0 || t->window.start >= t->window.end)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "task %zu: kind is \"window\" or \"non-objectid\"; a window needs a "
                                "start before its end (times as 2026-01-01T00:00:00Z)", i);
    return 0;
}

static int job_plan_tasks(ccopy_job_t *job, const char *tasks_json, ccopy_error_t *error)
{
    bson_t *doc;
    bson_error_t be;
    bson_iter_t it, arr;
    char *wrapped;
    size_t n = 0, i = 0;
    int rc = 0;

    if (ended(job, error) != 0)
        return CCOPY_EINVAL;
    if (job->planned || job->given)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "this job is planned already");
    if (job->kind == CCOPY_JOB_RESTORE && !job->db)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "a restore's given tasks need option db");
    wrapped = _ccopy_strdup_printf("{\"t\": %s}", tasks_json ? tasks_json : "null");
    doc = bson_new_from_json((const uint8_t *)wrapped, -1, &be);
    free(wrapped);
    if (!doc || !bson_iter_init_find(&it, doc, "t") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &arr)) {
        bson_destroy(doc);
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "the tasks are not a JSON array of tasks (as ccopy_job_task_json "
                                "writes them)");
    }
    while (bson_iter_next(&arr))
        n++;
    job->given = _ccopy_calloc(n ? n : 1, sizeof *job->given);
    job->given_count = n;
    bson_iter_recurse(&it, &arr);
    while (rc == 0 && bson_iter_next(&arr)) {
        rc = given_task(job, &arr, i, &job->given[i], error);
        i++;
    }
    bson_destroy(doc);
    if (rc == 0 && n == 0)
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "no task given");
    if (rc != 0) {
        for (i = 0; i < n; i++)
            free(job->given[i].coll);
        free(job->given);
        job->given = NULL;
        job->given_count = 0;
        return rc;
    }
    return ccopy_job_plan(job, error);
}

int ccopy_job_plan_tasks(ccopy_job_t *job, const char *tasks_json, ccopy_error_t *error)
{
    _ccopy_retry_receiver_t former = _ccopy_job_tell_retries(job);
    int rc = job_plan_tasks(job, tasks_json, error);
    _ccopy_job_retries_untold(former);
    return rc;
}

void ccopy_job_set_pace(ccopy_job_t *job, double ru_per_second)
{
    if (!job)
        return;
    _ccopy_governor_seed(&job->governor, ru_per_second);
}

size_t ccopy_job_task_count(ccopy_job_t *job)
{
    size_t n;
    if (!job)
        return 0;
    pthread_mutex_lock(&job->lock);
    n = job->task_count;
    pthread_mutex_unlock(&job->lock);
    return n;
}

/* The tasks a call asked for, less those done and each once however often it was named:
 * job->queue. EINVAL names an index out of range. */
static int make_queue(ccopy_job_t *job, const size_t *indices, size_t count, ccopy_error_t *error)
{
    size_t i, n = indices ? count : job->task_count;
    unsigned char *queued = _ccopy_calloc(job->task_count ? job->task_count : 1, 1);
    int rc = 0;
    pthread_mutex_lock(&job->lock);
    job->queue = _ccopy_realloc(job->queue, (n ? n : 1) * sizeof *job->queue);
    job->queue_count = 0;
    job->next_task = 0;
    job->stopping = 0;
    for (i = 0; i < n && rc == 0; i++) {
        size_t index = indices ? indices[i] : i;
        if (index >= job->task_count)
            rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                  "task %zu does not exist: the job has %zu task%s", index,
                                  job->task_count, job->task_count == 1 ? "" : "s");
        else if (job->tasks[index].state != CCOPY_TASK_DONE && !queued[index]) {
            queued[index] = 1;
            job->queue[job->queue_count++] = index;
        }
    }
    if (rc != 0)
        job->queue_count = 0;
    pthread_mutex_unlock(&job->lock);
    free(queued);
    return rc;
}

/* How a call of run_tasks ended: the first failure since errors_before, a stop, a cancel. */
static int tasks_result(ccopy_job_t *job, size_t errors_before, ccopy_error_t *error)
{
    int status = atomic_load(&job->stop_status);
    ccopy_error_t e;
    int rc = 0;
    pthread_mutex_lock(&job->lock);
    if (job->error_count > errors_before) {
        e = job->errors[errors_before];
        rc = e.code;
    }
    pthread_mutex_unlock(&job->lock);
    if (rc == 0 && status != 0)
        rc = _ccopy_error_set(&e, CCOPY_ESTOPPED, CCOPY_DOMAIN_ENGINE, status,
                              "stopped by a callback (it returned %d); run again to continue",
                              status);
    else if (rc == 0 && atomic_load(&job->canceled))
        rc = _ccopy_error_set(&e, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0,
                              "canceled; run again to continue");
    if (rc != 0 && error)
        *error = e;
    return rc;
}

/* rc, noting whether the call ended stopped or canceled. */
static int ended_stopped(ccopy_job_t *job, int rc)
{
    job->call_stopped = rc == CCOPY_ESTOPPED || rc == CCOPY_ECANCELED;
    return rc;
}

static int job_run_tasks(ccopy_job_t *job, const size_t *indices, size_t count, ccopy_error_t *error)
{
    ccopy_error_t e;
    size_t errors_before;
    int rc;

    if (ended(job, error) != 0)
        return CCOPY_EINVAL;
    if (!job->planned && (rc = ccopy_job_plan(job, error)) != 0)
        return rc;
    if (job->plan_rc != 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "this job's planning failed: it has no task to run");
    if (job->call_stopped) {
        /* the last call was stopped (a callback, a cancel): this one runs what is left */
        atomic_store(&job->stop_status, 0);
        atomic_store(&job->canceled, 0);
        job->call_stopped = 0;
    }
    rc = make_queue(job, indices, count, error);
    if (rc != 0 || job->queue_count == 0)
        return rc == 0 ? ended_stopped(job, tasks_result(job, job->error_count, error)) : rc;
    errors_before = job->error_count; /* only this thread records errors now */
    rc = job->kind == CCOPY_JOB_RESTORE ? run_restore(job, errors_before, &e)
                                        : _ccopy_job_run_workers(job, NULL, &e);
    if (rc != 0) {
        pthread_mutex_lock(&job->lock);
        _ccopy_job_record_error(job, &e);
        pthread_mutex_unlock(&job->lock);
    }
    return ended_stopped(job, tasks_result(job, errors_before, error));
}

int ccopy_job_run_tasks(ccopy_job_t *job, const size_t *indices, size_t count, ccopy_error_t *error)
{
    _ccopy_retry_receiver_t former = _ccopy_job_tell_retries(job);
    int rc = job_run_tasks(job, indices, count, error);
    _ccopy_job_retries_untold(former);
    return rc;
}

int ccopy_job_run_task(ccopy_job_t *job, size_t index, ccopy_error_t *error)
{
    return ccopy_job_run_tasks(job, &index, 1, error);
}

static int job_finish(ccopy_job_t *job, ccopy_error_t *error)
{
    int status;
    ccopy_error_t e;
    int rc;

    if (ended(job, error) != 0)
        return CCOPY_EINVAL;
    status = atomic_load(&job->stop_status);
    if (!job->ran) { /* never planned: the phase still ends, with nothing done */
        pthread_mutex_lock(&job->lock);
        job->ran = 1;
        job->started_ms = _ccopy_monotonic_ms();
        pthread_mutex_unlock(&job->lock);
    }
    _ccopy_job_sort_written(job);
    if (job->kind == CCOPY_JOB_VERIFY)
        _ccopy_verify_sort(job);
    pthread_mutex_lock(&job->lock);
    job->finished_ms = _ccopy_monotonic_ms();
    pthread_mutex_unlock(&job->lock);

    if (job->error_count > 0) {
        size_t i, not_started = 0, used;
        e = job->errors[0];
        if (job->error_count > 1)
            _ccopy_error_prefix(&e, "%zu windows failed, the first", job->error_count);
        /* A failure stops the job: the windows it never started are said, or "1 window
         * failed" read as if the other eleven were done. */
        for (i = 0; i < job->task_count; i++)
            not_started += job->tasks[i].state == CCOPY_TASK_PENDING ||
                           job->tasks[i].state == CCOPY_TASK_STOPPED;
        used = strlen(e.message);
        if (not_started > 0 && used < sizeof e.message)
            snprintf(e.message + used, sizeof e.message - used,
                     "; %zu of %zu windows not started: run again to continue", not_started,
                     job->task_count);
        rc = e.code;
    } else if (job->mismatches > 0) {
        rc = _ccopy_verify_result(job, &e);
    } else if (status != 0 || atomic_load(&job->canceled)) {
        char done[128];
        snprintf(done, sizeof done,
                 job->kind == CCOPY_JOB_RESTORE
                     ? "%lld of %zu window%s restored; run again to restore (writing them all "
                       "again is harmless)"
                     : "%lld of %zu window%s completed; run again to continue",
                 (long long)job->windows_done, job->task_count, job->task_count == 1 ? "" : "s");
        if (status != 0)
            rc = _ccopy_error_set(&e, CCOPY_ESTOPPED, CCOPY_DOMAIN_ENGINE, status,
                                  "stopped by a callback (it returned %d): %s", status, done);
        else
            rc = _ccopy_error_set(&e, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled: %s", done);
    } else {
        rc = 0;
    }
    /* The destination's lock is released and connections closed as soon as the run ends, not
     * at destroy, and before the phase says done: a caller that starts the next job on the same
     * destination when it sees CCOPY_PHASE_DONE finds it free. */
    _ccopy_dest_close(job->dest);
    job->dest = NULL;
    _ccopy_dest_close(job->from);
    job->from = NULL;
    _ccopy_source_close(job->source);
    job->source = NULL;
    pthread_mutex_lock(&job->lock);
    job->finished = 1;
    job->result = rc;
    if (rc != 0)
        job->result_error = e;
    job->phase = CCOPY_PHASE_DONE;
    pthread_mutex_unlock(&job->lock);
    if (rc != 0 && error)
        *error = e;
    _ccopy_job_report(job);
    return rc;
}

int ccopy_job_finish(ccopy_job_t *job, ccopy_error_t *error)
{
    _ccopy_retry_receiver_t former = _ccopy_job_tell_retries(job);
    int rc = job_finish(job, error);
    _ccopy_job_retries_untold(former);
    return rc;
}

int ccopy_job_run(ccopy_job_t *job, ccopy_error_t *error)
{
    ccopy_error_t ignored;
    if (!job)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "no job given (NULL)");
    if (ended(job, error) != 0)
        return CCOPY_EINVAL;
    if (!job->planned)
        ccopy_job_plan(job, &ignored); /* a failure is recorded; finish reports it */
    if (job->plan_rc == 0 && job->task_count > 0 && !atomic_load(&job->canceled))
        ccopy_job_run_tasks(job, NULL, 0, &ignored);
    return ccopy_job_finish(job, error);
}
