/*
 * The backup job: checks the source, reads each collection's catalog, plans the windows that
 * are not complete yet, and runs them on a pool of worker threads, each with its own connection,
 * reader and window writer. The calling thread watches the workers and reports progress. Memory
 * is bounded by the workers: one cursor batch and one output buffer each.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cosmocopy/job.h"
#include "job_internal.h"
#include "reader.h"
#include "sink.h"
#include "source.h"

static int required(const ccopy_options_t *o, const char *name, const char *what, ccopy_error_t *error)
{
    const char *v = ccopy_options_get(o, name);
    if (!v || !*v)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option %s is required (%s)", name, what);
    return 0;
}

static int check_range(const ccopy_options_t *options, int needs_mode, ccopy_error_t *error)
{
    const char *mode = ccopy_options_get(options, "mode");
    const char *from = ccopy_options_get(options, "from");
    const char *until = ccopy_options_get(options, "until");
    if (needs_mode && strcmp(mode, "range") == 0 && (!from || !until))
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "mode range needs both option from and option until");
    if (needs_mode && strcmp(mode, "range") != 0 && (from || until))
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option from and option until only apply to mode range, not to mode %s", mode);
    if (from && until) {
        int64_t now = _ccopy_now_seconds(), start = 0, end = 0;
        ccopy_time_parse(&start, from, now, NULL);
        ccopy_time_parse(&end, until, now, NULL);
        if (start >= end)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "range from %s to %s is empty: option from must be before option until", from,
                                    until);
    }
    return 0;
}

/* Verify against a folder or blob backup has no target of its own: there target_db and
 * target_collection name where the backup was restored (restore's words for it, --to-db), which
 * is where the source holds it now: source_db and source_collection. Checks that the two do not
 * disagree, and with copy given, sets the source_* options in it. */
static int verify_restored_names(const ccopy_options_t *options, ccopy_options_t *copy,
                                 ccopy_error_t *error)
{
    static const char *const names[][2] = {{"target_db", "source_db"},
                                           {"target_collection", "source_collection"}};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *restored = ccopy_options_get(options, names[i][0]);
        const char *source = ccopy_options_get(options, names[i][1]);
        if (!restored)
            continue;
        if (source && strcmp(source, restored) != 0)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "option %s and option %s both say where the source holds "
                                    "the backup now, and differ: give one",
                                    names[i][0], names[i][1]);
        if (copy)
            ccopy_options_set(copy, names[i][1], restored, NULL);
        else if (i == 1 && ccopy_options_get_count(options, "collection") != 1)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "option target_collection needs exactly one option "
                                    "collection, not %zu",
                                    ccopy_options_get_count(options, "collection"));
    }
    return 0;
}

static int check_options(ccopy_job_kind_t kind, const ccopy_options_t *options, ccopy_error_t *error)
{
    int has_sink = ccopy_options_get(options, "sink") != NULL;
    int has_target = ccopy_options_get(options, "target") != NULL;
    switch (kind) {
    case CCOPY_JOB_BACKUP:
        if (required(options, "source", "a connection string", error) ||
            required(options, "db", "a database name", error) ||
            required(options, "sink", "dir:PATH, azblob://CONTAINER[/PREFIX] or a container URL with a SAS", error) ||
            check_range(options, 1, error))
            return -1;
        break;
    case CCOPY_JOB_REPLICATE:
        if (required(options, "source", "a connection string", error) ||
            required(options, "db", "a database name", error) ||
            required(options, "target", "a connection string", error) || check_range(options, 1, error))
            return -1;
        break;
    case CCOPY_JOB_RESTORE:
        if (required(options, "sink", "the backup: dir:PATH, azblob://CONTAINER[/PREFIX] or a container URL with a SAS", error) ||
            required(options, "target", "a connection string", error))
            return -1;
        if (ccopy_options_get(options, "from"))
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "restore takes option until, not option from: it restores every "
                                    "completed window before T");
        break;
    case CCOPY_JOB_VERIFY:
        if (required(options, "source", "a connection string", error) ||
            required(options, "db", "a database name", error) || check_range(options, 0, error))
            return -1;
        if (has_sink == has_target)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "verify needs one of option sink (a backup) and option target (a "
                                    "replica)");
        break;
    default:
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "unknown job kind %d",
                                (int)kind);
    }
    if (_ccopy_compression_check_level(
            (_ccopy_compression_t)_ccopy_compression_from_name(ccopy_options_get(options, "compress")),
            (int)ccopy_options_get_int(options, "compress_level"), error) != 0)
        return -1;
    if (has_sink && kind != CCOPY_JOB_REPLICATE &&
        _ccopy_sink_check_location(ccopy_options_get(options, "sink"), error) != 0)
        return -1;
    if (kind == CCOPY_JOB_VERIFY && has_sink && verify_restored_names(options, NULL, error) != 0)
        return -1;
    if (ccopy_options_get(options, "source_collection") &&
        ccopy_options_get_count(options, "collection") != 1)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option source_collection needs exactly one option collection, "
                                "not %zu",
                                ccopy_options_get_count(options, "collection"));
    if (ccopy_options_get(options, "target_collection") &&
        ccopy_options_get_count(options, "collection") > 1)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option target_collection needs exactly one option collection, "
                                "not %zu",
                                ccopy_options_get_count(options, "collection"));
    return 0;
}

ccopy_job_t *ccopy_job_new(const ccopy_options_t *options, ccopy_error_t *error)
{
    return ccopy_job_new_kind(CCOPY_JOB_BACKUP, options, error);
}

ccopy_job_t *ccopy_job_new_kind(ccopy_job_kind_t kind, const ccopy_options_t *options,
                                ccopy_error_t *error)
{
    static const _ccopy_task_fn run[] = {_ccopy_copy_task, _ccopy_copy_task, _ccopy_restore_task,
                                         _ccopy_verify_task};
    ccopy_job_t *job;
    size_t i;

    if (!options) {
        _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "no options given");
        return NULL;
    }
    if (check_options(kind, options, error) != 0)
        return NULL;

    job = _ccopy_calloc(1, sizeof *job);
    job->kind = kind;
    job->run_task = run[kind];
    job->options = ccopy_options_copy(options);
    if (kind == CCOPY_JOB_VERIFY && ccopy_options_get(options, "sink"))
        verify_restored_names(options, job->options, NULL);
    job->db = ccopy_options_get(job->options, "db");
    job->mode = ccopy_options_get(job->options, "mode");
    job->format = ccopy_options_get(job->options, "format");
    job->compression = _ccopy_compression_from_name(ccopy_options_get(job->options, "compress"));
    job->compress_level = (int)ccopy_options_get_int(job->options, "compress_level");
    job->step = ccopy_options_get_int(job->options, "step");
    job->settle_lag = ccopy_options_get_int(job->options, "settle_lag");
    job->batch_size = (int)ccopy_options_get_int(job->options, "batch_size");
    job->parallel = (int)ccopy_options_get_int(job->options, "parallel");
    job->backoff.max_retries = (int)ccopy_options_get_int(job->options, "retry_budget");
    job->backoff.base_ms = ccopy_options_get_int(job->options, "retry_base_ms");
    job->backoff.cap_ms = ccopy_options_get_int(job->options, "retry_max_delay_ms");
    job->server_timeout_ms = ccopy_options_get_int(job->options, "server_timeout_ms");
    job->socket_timeout_ms = ccopy_options_get_int(job->options, "socket_timeout_ms");
    job->until = -1;
    _ccopy_governor_init(&job->governor, (double)ccopy_options_get_int(job->options, "max_ru"));
    _ccopy_request_shared_init(&job->request_shared, &job->governor);
    _ccopy_governor_init(&job->target_governor,
                         (double)ccopy_options_get_int(job->options, "target_max_ru"));
    _ccopy_request_shared_init(&job->target_shared, &job->target_governor);
    pthread_mutex_init(&job->lock, NULL);
    pthread_mutex_init(&job->warnings_lock, NULL);
    pthread_mutex_init(&job->log_callback_lock, NULL);
    pthread_cond_init(&job->gate, NULL);
    for (i = 0; i < ccopy_options_get_count(job->options, "collection"); i++)
        _ccopy_job_add_collection(job, ccopy_options_get_nth(job->options, "collection", i));
    job->explicit_collections = job->coll_count > 0;
    job->phase = CCOPY_PHASE_PLANNING;
    return job;
}

void ccopy_job_set_progress(ccopy_job_t *job, ccopy_progress_cb callback, void *user_data)
{
    job->progress_cb = callback;
    job->progress_data = user_data;
}

void ccopy_job_set_log(ccopy_job_t *job, ccopy_log_cb callback, void *user_data)
{
    job->log_cb = callback;
    job->log_data = user_data;
}

void ccopy_job_cancel(ccopy_job_t *job)
{
    if (job)
        atomic_store(&job->canceled, 1);
}

void _ccopy_job_log(ccopy_job_t *job, ccopy_log_level_t level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    _ccopy_mask_secrets(line);
    if (level == CCOPY_LOG_WARNING) {
        pthread_mutex_lock(&job->warnings_lock);
        _ccopy_strings_push(&job->warnings, line);
        pthread_mutex_unlock(&job->warnings_lock);
    }
    if (job->log_cb) {
        /* only the callback's own lock: it may ask for the summary or the progress */
        pthread_mutex_lock(&job->log_callback_lock);
        job->log_cb(level, line, job->log_data);
        pthread_mutex_unlock(&job->log_callback_lock);
    }
}

/* ---- workers ---------------------------------------------------------------------------- */

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
    if (!atomic_load(&job->canceled) && !job->stopping && job->next_task < job->task_count)
        task = &job->tasks[job->next_task++];
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
    c->batch_size = job->batch_size;
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
    if (rc == 0) {
        if (manifest.database) /* checks and verdicts record themselves */
            _ccopy_job_record_window(job, &manifest);
    } else if (rc != CCOPY_ECANCELED) {
        const char *db = task->manifest ? task->manifest->database : job->db;
        char *where = _ccopy_window_describe(db, task->coll, task->kind, &task->window);
        if (strstr(error.message, where) == NULL)
            _ccopy_error_prefix(&error, "window %s", where);
        free(where);
        _ccopy_job_record_error(job, &error);
        job->windows_failed++;
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
    pthread_mutex_unlock(&job->lock);
    return NULL;
}

static void fill_progress(ccopy_job_t *job, ccopy_progress_t *p)
{
    double elapsed, copy_elapsed;
    int64_t now = _ccopy_monotonic_ms();
    memset(p, 0, sizeof *p);
    pthread_mutex_lock(&job->lock);
    elapsed = (double)(now - job->started_ms) / 1000.0;
    copy_elapsed = job->copy_started_ms ? (double)(now - job->copy_started_ms) / 1000.0 : 0.0;
    p->phase = job->phase;
    p->windows_total = (int64_t)job->task_count;
    p->windows_done = job->windows_done;
    p->windows_failed = job->windows_failed;
    p->documents_written = job->documents_written;
    p->bytes_written = job->bytes_written;
    p->stored_bytes = job->stored_bytes;
    for (size_t i = 0; i < job->coll_count; i++)
        p->windows_already_complete += job->colls[i].windows_already_complete;
    pthread_mutex_unlock(&job->lock);
    p->documents = atomic_load(&job->counters.documents);
    p->bytes = atomic_load(&job->counters.bytes);
    p->retries = atomic_load(&job->counters.retries);
    p->throttle_events = atomic_load(&job->counters.throttle_events);
    p->retry_wait_seconds = (double)atomic_load(&job->counters.wait_ms) / 1000.0;
    {
        _ccopy_governor_stats_t g = _ccopy_governor_stats(&job->governor);
        p->ru_charged = g.ru_charged;
        p->ru_per_second = copy_elapsed > 0 ? g.ru_charged / copy_elapsed : 0;
        p->ru_pace = g.rate;
        p->pacing_wait_seconds = (double)g.pacing_wait_ms / 1000.0;
        p->ru_estimated = g.charge_source == 1;
    }
    {
        _ccopy_governor_stats_t g = _ccopy_governor_stats(&job->target_governor);
        p->target_ru_charged = g.ru_charged;
        p->target_ru_pace = g.rate;
        /* restore has only the target's governor; replicate waits for both */
        p->pacing_wait_seconds += (double)g.pacing_wait_ms / 1000.0;
    }
    pthread_mutex_lock(&job->lock);
    p->documents_rejected = job->rejected;
    p->windows_verified = job->verified_windows;
    p->windows_mismatched = job->mismatches;
    pthread_mutex_unlock(&job->lock);
    p->elapsed_seconds = elapsed;
    p->documents_per_second = copy_elapsed > 0 ? (double)p->documents / copy_elapsed : 0;
    p->bytes_per_second = copy_elapsed > 0 ? (double)p->bytes / copy_elapsed : 0;
    p->eta_seconds = -1;
    if (p->phase == CCOPY_PHASE_DONE)
        p->eta_seconds = 0;
    else if (p->windows_done > 0 && copy_elapsed > 0)
        p->eta_seconds = copy_elapsed * (double)(p->windows_total - p->windows_done) /
                         (double)p->windows_done;
}

void ccopy_job_get_progress(ccopy_job_t *job, ccopy_progress_t *out)
{
    fill_progress(job, out);
}

static void report(ccopy_job_t *job)
{
    ccopy_progress_t p;
    if (!job->progress_cb)
        return;
    fill_progress(job, &p);
    job->progress_cb(&p, job->progress_data);
}

/* Restore's --drop and indexes: done by run_workers once the workers are there. */
typedef int (*before_tasks_fn)(ccopy_job_t *job, ccopy_error_t *error);

/* Run job->tasks on up to `parallel` worker threads. The workers wait at a gate until every
 * thread has been started and `before` (may be NULL) has succeeded: what it does (restore drops
 * collections) happens only when there are workers to write the windows after it. Non-zero when
 * no worker thread could be started or `before` failed; no task ran then. Window failures are
 * recorded, not returned. */
static int run_workers(ccopy_job_t *job, before_tasks_fn before, ccopy_error_t *error)
{
    size_t n = job->task_count < (size_t)job->parallel ? job->task_count : (size_t)job->parallel;
    pthread_t *threads = _ccopy_calloc(n, sizeof *threads);
    _ccopy_worker_t *ctx = _ccopy_calloc(n, sizeof *ctx);
    size_t i, started = 0;
    int rc = 0, failure = 0;

    pthread_mutex_lock(&job->lock);
    if (!job->copy_started_ms)
        job->copy_started_ms = _ccopy_monotonic_ms();
    job->phase = CCOPY_PHASE_COPYING;
    job->next_task = 0;
    job->gate_open = 0;
    job->workers_running = (int)n;
    pthread_mutex_unlock(&job->lock);
    report(job);
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
    for (;;) {
        int running;
        pthread_mutex_lock(&job->lock);
        running = job->workers_running;
        pthread_mutex_unlock(&job->lock);
        if (running == 0)
            break;
        _ccopy_sleep_ms(100, NULL);
        report(job);
    }
    for (i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    free(ctx);
    return rc;
}

static int workers_failed(ccopy_job_t *job)
{
    int failed;
    pthread_mutex_lock(&job->lock);
    failed = job->error_count > 0;
    pthread_mutex_unlock(&job->lock);
    return failed || atomic_load(&job->canceled);
}

/* Restore: every window's SHA-256 is checked (in parallel) before the first document is written;
 * then, once the writing workers are started, the target collections are dropped or given their
 * indexes, as asked; then the windows are written. A restore that cannot start a worker fails
 * with the target untouched. */
static int run_restore(ccopy_job_t *job, ccopy_error_t *error)
{
    int rc = _ccopy_job_plan_from_backup(job, error);
    if (rc != 0 || job->task_count == 0 || atomic_load(&job->canceled) ||
        _ccopy_option_yes(job->options, "dry_run"))
        return rc;
    rc = _ccopy_job_open_target(job, 0, &job->dest, error);
    if (rc != 0)
        return rc;
    job->run_task = _ccopy_restore_check_task;
    rc = run_workers(job, NULL, error);
    if (rc != 0 || workers_failed(job))
        return rc; /* window failures are recorded */
    job->run_task = _ccopy_restore_task;
    return run_workers(job, _ccopy_restore_prepare, error);
}

static int run_kind(ccopy_job_t *job, ccopy_error_t *error)
{
    int rc = 0;
    if (job->kind == CCOPY_JOB_RESTORE)
        return run_restore(job, error);
    rc = _ccopy_job_open_server(job, &job->source, "source", error);
    /* replicate writes into the target; verify against a replica reads it */
    if (rc == 0 && ccopy_options_get(job->options, "target"))
        rc = job->kind == CCOPY_JOB_VERIFY ? _ccopy_job_open_target(job, 0, &job->from, error)
                                           : _ccopy_job_open_target(job, 1, &job->dest, error);
    if (rc == 0)
        rc = job->kind == CCOPY_JOB_VERIFY ? _ccopy_job_plan_from_backup(job, error)
                                           : _ccopy_job_plan(job, error);
    if (rc == 0 && job->task_count > 0 && !atomic_load(&job->canceled))
        rc = run_workers(job, NULL, error);
    if (job->kind == CCOPY_JOB_VERIFY)
        _ccopy_verify_sort(job);
    return rc;
}

int ccopy_job_run(ccopy_job_t *job, ccopy_error_t *error)
{
    ccopy_error_t e;
    int rc;

    if (job->ran)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "this job has already run; make a new one");
    pthread_mutex_lock(&job->lock);
    job->ran = 1;
    job->started_ms = _ccopy_monotonic_ms();
    pthread_mutex_unlock(&job->lock);
    job->plan_rng = (uint64_t)job->started_ms * 0x9E3779B97F4A7C15ULL;
    report(job);
    rc = run_kind(job, &e);
    if (rc != 0) {
        pthread_mutex_lock(&job->lock);
        _ccopy_job_record_error(job, &e);
        pthread_mutex_unlock(&job->lock);
    }
    _ccopy_job_sort_written(job);
    pthread_mutex_lock(&job->lock);
    job->finished_ms = _ccopy_monotonic_ms();
    pthread_mutex_unlock(&job->lock);

    if (job->error_count > 0) {
        e = job->errors[0];
        if (job->error_count > 1)
            _ccopy_error_prefix(&e, "%zu windows failed, the first", job->error_count);
        rc = e.code;
    } else if (job->mismatches > 0) {
        rc = _ccopy_verify_result(job, &e);
    } else if (atomic_load(&job->canceled)) {
        rc = _ccopy_error_set(&e, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0,
                              job->kind == CCOPY_JOB_RESTORE
                                  ? "canceled: %lld of %zu window%s restored; run again to restore "
                                    "(writing them all again is harmless)"
                                  : "canceled: %lld of %zu window%s completed; run again to continue",
                              (long long)job->windows_done, job->task_count,
                              job->task_count == 1 ? "" : "s");
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
    job->result = rc;
    if (rc != 0)
        job->result_error = e;
    job->phase = CCOPY_PHASE_DONE;
    pthread_mutex_unlock(&job->lock);
    if (rc != 0 && error)
        *error = e;
    report(job);
    return rc;
}

void ccopy_job_destroy(ccopy_job_t *job)
{
    if (!job)
        return;
    _ccopy_job_free_state(job);
    pthread_mutex_destroy(&job->lock);
    pthread_mutex_destroy(&job->warnings_lock);
    pthread_mutex_destroy(&job->log_callback_lock);
    pthread_cond_destroy(&job->gate);
    _ccopy_governor_destroy(&job->governor);
    _ccopy_governor_destroy(&job->target_governor);
    ccopy_options_destroy(job->options);
    free(job);
}
