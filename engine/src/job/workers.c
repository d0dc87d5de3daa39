/*
 * The worker threads of a run: each takes the next task of the call's queue, runs it with its
 * own connections (reader, destination session), and records what became of it. The copy task
 * (source reader -> destination window) serves backup and replicate. Memory is bounded by the
 * workers: one cursor batch and one output buffer each.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cosmocopy/job.h"
#include "job_internal.h"
#include "reader.h"
#include "source.h"

#define PROGRESS_INTERVAL_MS 100 /* between progress reports while the workers run */

/* A window of the copy task: where the reader's documents go. */
typedef struct copy_window {
    const _ccopy_dest_ops_t *ops;
    _ccopy_dest_window_t *window;
} copy_window_t;

static int on_doc(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    copy_window_t *c = user_data;
    return c->ops->window_add(c->window, doc, error);
}

static int on_restart(void *user_data, ccopy_error_t *error)
{
    copy_window_t *c = user_data;
    return c->ops->window_restart(c->window, error);
}

/* Next task, or NULL when all are taken or the job is stopping. Waits until the gate opens. */
static _ccopy_task_t *take_task(ccopy_job_t *job)
{
    _ccopy_task_t *task = NULL;
    pthread_mutex_lock(&job->lock);
    while (!job->gate_open)
        pthread_cond_wait(&job->gate, &job->lock);
    if (!atomic_load(&job->canceled) && !job->stopping && job->next_task < job->queue_count) {
        task = &job->tasks[job->queue[job->next_task++]];
        task->state = CCOPY_TASK_RUNNING;
    }
    pthread_mutex_unlock(&job->lock);
    return task;
}

void _ccopy_worker_reader_config(_ccopy_worker_t *worker, const _ccopy_task_t *task,
                                 _ccopy_reader_config_t *c)
{
    ccopy_job_t *job = worker->job;
    memset(c, 0, sizeof *c);
    c->source = job->source;
    c->requester = &worker->source;
    c->db = job->db;
    c->coll = task->coll;
    c->kind = task->kind;
    c->window = task->window;
    c->batch_size = (int)job->settings.batch_size;
    c->backoff = job->backoff;
    c->rng_state = &worker->rng;
}

/* Backup and replicate: the source's window, read in _id order, into a window of job->dest,
 * committed (data durable, then its catalog entry) only when the read ended well. */
int _ccopy_copy_task(_ccopy_worker_t *worker, _ccopy_task_t *task, ccopy_manifest_t *out,
                     ccopy_error_t *error)
{
    ccopy_job_t *job = worker->job;
    _ccopy_dest_window_spec_t spec = {task->kind, task->window, job->db, task->coll};
    copy_window_t w = {job->dest->ops, NULL};
    _ccopy_reader_config_t reader;
    int rc = w.ops->window_begin(worker->dest_session, &spec, &w.window, error);
    _ccopy_worker_reader_config(worker, task, &reader);
    if (rc == 0)
        rc = _ccopy_reader_run(&reader, on_doc, on_restart, &w, error);
    if (rc == 0 && atomic_load(&job->canceled))
        rc = _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
    if (rc == 0)
        rc = w.ops->window_commit(w.window, out, error);
    if (w.window)
        w.ops->window_abort(w.window);
    return rc;
}

static void run_task(_ccopy_worker_t *worker, _ccopy_task_t *task)
{
    ccopy_job_t *job = worker->job;
    ccopy_manifest_t manifest;
    ccopy_error_t error;
    int rc;

    memset(&manifest, 0, sizeof manifest);
    rc = job->run_task(worker, task, &manifest, &error);
    pthread_mutex_lock(&job->lock);
    if (task->error.code != 0 && task->error.code != CCOPY_ECANCELED) /* it failed before */
        _ccopy_job_forget_failure(job, &task->error);
    if (rc == 0) {
        /* restore's check pass leaves the task to its writing pass */
        task->state = job->run_task == _ccopy_restore_check_task ? CCOPY_TASK_PENDING : CCOPY_TASK_DONE;
        memset(&task->error, 0, sizeof task->error);
        if (manifest.database) { /* checks and verdicts record themselves */
            task->documents = manifest.documents;
            task->bytes = manifest.bytes;
            task->stored_bytes = manifest.stored_bytes;
            memcpy(task->sha256, manifest.sha256, sizeof task->sha256);
            task->data = manifest.data; /* the string moves into job->written with the manifest */
            _ccopy_job_record_window(job, &manifest);
        }
    } else if (rc == CCOPY_ECANCELED) {
        task->state = CCOPY_TASK_STOPPED;
        task->error = error;
    } else {
        const char *db = task->manifest ? task->manifest->database : job->db;
        char *where = _ccopy_window_describe(db, task->coll, task->kind, &task->window);
        if (strstr(error.message, where) == NULL)
            _ccopy_error_prefix(&error, "window %s", where);
        free(where);
        _ccopy_job_record_error(job, &error);
        job->windows_failed++;
        task->state = CCOPY_TASK_FAILED;
        task->error = error;
        /* Documents the target refused are reported; the other windows go on. */
        if (rc != CCOPY_EREJECTED)
            job->stopping = 1;
    }
    pthread_mutex_unlock(&job->lock);
    if (rc != 0 && rc != CCOPY_ECANCELED)
        _ccopy_job_log(job, CCOPY_LOG_ERROR, "%s", error.message);
    ccopy_manifest_cleanup(&manifest);
}

/* A worker's connection to a destination; a failure is the job's (no window runs without it). */
static int open_session(ccopy_job_t *job, _ccopy_dest_t *dest, _ccopy_dest_session_t **out)
{
    ccopy_error_t error;
    int rc = dest->ops->session_open(dest, out, &error);
    if (rc != 0) {
        *out = NULL;
        pthread_mutex_lock(&job->lock);
        _ccopy_job_record_error(job, &error);
        pthread_mutex_unlock(&job->lock);
        _ccopy_job_log(job, CCOPY_LOG_ERROR, "%s", error.message);
    }
    return rc;
}

static void stop_taking(ccopy_job_t *job)
{
    pthread_mutex_lock(&job->lock);
    job->stopping = 1;
    pthread_mutex_unlock(&job->lock);
}

static void *worker_main(void *arg)
{
    _ccopy_worker_t *worker = arg;
    ccopy_job_t *job = worker->job;
    _ccopy_task_t *task;

    _ccopy_job_tell_retries(job); /* this thread's receiver, for its life */
    if (job->source) {
        worker->source_client = mongoc_client_pool_pop(job->source->pool);
        _ccopy_requester_init(&worker->source, worker->source_client, &job->request_shared,
                              &job->counters, &job->canceled);
    }
    if (job->dest && open_session(job, job->dest, &worker->dest_session) != 0)
        stop_taking(job);
    if (job->from && open_session(job, job->from, &worker->from_session) != 0)
        stop_taking(job);
    while ((task = take_task(job)) != NULL)
        run_task(worker, task);
    if (worker->source_client) {
        _ccopy_requester_cleanup(&worker->source);
        mongoc_client_pool_push(job->source->pool, worker->source_client);
    }
    if (worker->dest_session)
        job->dest->ops->session_close(worker->dest_session);
    if (worker->from_session)
        job->from->ops->session_close(worker->from_session);
    pthread_mutex_lock(&job->lock);
    job->workers_running--;
    pthread_cond_signal(&job->workers_left);
    pthread_mutex_unlock(&job->lock);
    return NULL;
}

/* When the next progress report is due, on the clock of job->workers_left. */
static struct timespec next_report_time(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_nsec += PROGRESS_INTERVAL_MS * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Run job->tasks on up to `parallel` worker threads. The workers wait at a gate until every
 * thread has been started and `before` (may be NULL) has succeeded: what it does (restore drops
 * collections) happens only when there are workers to write the windows after it. Non-zero when
 * no worker thread could be started or `before` failed; no task ran then. Window failures are
 * recorded, not returned. */
int _ccopy_job_run_workers(ccopy_job_t *job, _ccopy_before_tasks_fn before, ccopy_error_t *error)
{
    size_t n = job->queue_count < (size_t)job->settings.parallel ? job->queue_count
                                                                 : (size_t)job->settings.parallel;
    pthread_t *threads = _ccopy_calloc(n, sizeof *threads);
    _ccopy_worker_t *ctx = _ccopy_calloc(n, sizeof *ctx);
    size_t i, started = 0;
    int rc = 0, failure = 0;
    struct timespec next_report;

    pthread_mutex_lock(&job->lock);
    if (!job->copy_started_ms)
        job->copy_started_ms = _ccopy_monotonic_ms();
    job->phase = CCOPY_PHASE_COPYING;
    job->next_task = 0;
    job->gate_open = 0;
    job->workers_running = (int)n;
    pthread_mutex_unlock(&job->lock);
    _ccopy_job_report(job);
    for (i = 0; i < n; i++) {
        ctx[i].job = job;
        ctx[i].rng = (uint64_t)_ccopy_monotonic_ms() * 0x9E3779B97F4A7C15ULL + i;
        failure = pthread_create(&threads[i], NULL, worker_main, &ctx[i]);
        if (failure != 0)
            break;
        started++;
    }
    if (started < n) {
        pthread_mutex_lock(&job->lock);
        job->workers_running -= (int)(n - started);
        pthread_mutex_unlock(&job->lock);
    }
    if (started == 0 && n > 0)
        rc = _ccopy_error_set(error, CCOPY_EIO, CCOPY_DOMAIN_OS, failure,
                              "no worker thread could be started (%s): no window was run",
                              strerror(failure));
    else if (started < n)
        _ccopy_job_log(job, CCOPY_LOG_WARNING,
                       "only %zu of %zu worker threads could be started (%s): the windows run on "
                       "%zu",
                       started, n, strerror(failure), started);
    if (rc == 0 && before)
        rc = before(job, error);
    pthread_mutex_lock(&job->lock);
    if (rc != 0)
        job->stopping = 1; /* the workers leave without a task */
    job->gate_open = 1;
    pthread_cond_broadcast(&job->gate);
    pthread_mutex_unlock(&job->lock);
    /* Without a progress callback nobody reads the reports: sleep until the last worker leaves
     * instead of waking every 100 ms for nothing (the wake-ups cost more CPU than the
     * copying on a slow server). */
    pthread_mutex_lock(&job->lock);
    next_report = next_report_time();
    while (job->workers_running > 0) {
        if (!job->progress_cb) {
            pthread_cond_wait(&job->workers_left, &job->lock);
        } else if (pthread_cond_timedwait(&job->workers_left, &job->lock, &next_report) ==
                   ETIMEDOUT) {
            pthread_mutex_unlock(&job->lock);
            _ccopy_job_report(job);
            pthread_mutex_lock(&job->lock);
            next_report = next_report_time();
        }
    }
    pthread_mutex_unlock(&job->lock);
    for (i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    free(ctx);
    return rc;
}
