/*
 * A job's life outside its run: the options checked and read when it is made, the callbacks,
 * the log, progress snapshots, cancel and stop, and its end. Planning is plan.c, running the
 * tasks run.c (the steps) and workers.c (the threads), the results summary.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "cosmocopy/job.h"
#include "job_internal.h"
#include "keyvault.h"
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
 * disagree. */
static int verify_restored_names(const ccopy_options_t *options, ccopy_error_t *error)
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
        if (i == 1 && ccopy_options_get_count(options, "collection") != 1)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "option target_collection needs exactly one option "
                                    "collection, not %zu",
                                    ccopy_options_get_count(options, "collection"));
    }
    return 0;
}

/* What verify_restored_names() checked, resolved into the job's settings: the source holds the
 * backup where target_db and target_collection say (both strings belong to the settings). */
static void resolve_restored_names(_ccopy_settings_t *settings)
{
    if (settings->target_db)
        settings->source_db = settings->target_db;
    if (settings->target_collection)
        settings->source_collection = settings->target_collection;
}

/* A database or collection name the servers refuse is bad input, found before any server is
 * asked: a restore into "bad.name" had failed every window with "Invalid namespace" (exit 1, and
 * exit 0 with nothing to restore). MongoDB's rules: a database name is under 64 bytes and holds
 * none of / \ . " $, a blank or NUL; a collection name is not empty, holds no $ or NUL and
 * does not start with '.';
 * "db.collection" is at most 255 bytes. */
#define MAX_NAMESPACE 255
static int check_names(const ccopy_options_t *options, ccopy_error_t *error)
{
    static const char *const dbs[] = {"db", "target_db", "source_db"};
    static const char *const colls[] = {"collection", "target_collection", "source_collection"};
    const char *db;
    size_t i, k;
    for (i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        const char *name = ccopy_options_get(options, dbs[i]), *bad;
        if (!name)
            continue;
        if (!*name)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "option %s: a database name cannot be empty", dbs[i]);
        if (strlen(name) >= 64)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "option %s: database name \"%s\" is %zu bytes long; MongoDB "
                                    "allows at most 63",
                                    dbs[i], name, strlen(name));
        if ((bad = strpbrk(name, "/\\. \"$\t\n\r")) != NULL)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "option %s: database name \"%s\" holds '%c', which MongoDB does "
                                    "not allow in database names (nor any of / \\ . \" $ or a blank)",
                                    dbs[i], name, *bad);
    }
    for (i = 0; i < sizeof colls / sizeof colls[0]; i++) {
        for (k = 0; k < ccopy_options_get_count(options, colls[i]); k++) {
            const char *name = ccopy_options_get_nth(options, colls[i], k);
            if (!name)
                continue;
            if (!*name)
                return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                        "option %s: a collection name cannot be empty", colls[i]);
            if (strchr(name, '$'))
                return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                        "option %s: collection name \"%s\" holds '$', which "
                                        "MongoDB does not allow in collection names",
                                        colls[i], name);
            if (name[0] == '.') /* "db..x": the server answers "Invalid collection name" */
                return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                        "option %s: collection name \"%s\" starts with '.', "
                                        "which MongoDB does not allow",
                                        colls[i], name);
            /* the namespace "db.collection": at most 255 bytes */
            db = i == 1 && ccopy_options_get(options, "target_db")
                     ? ccopy_options_get(options, "target_db")
                 : i == 2 && ccopy_options_get(options, "source_db")
                     ? ccopy_options_get(options, "source_db")
                     : ccopy_options_get(options, "db");
            if (db && strlen(db) + 1 + strlen(name) > MAX_NAMESPACE)
                return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                        "option %s: collection name \"%.40s...\" is %zu bytes "
                                        "long: with database %s the namespace is %zu bytes; "
                                        "MongoDB allows at most %d",
                                        colls[i], name, strlen(name), db,
                                        strlen(db) + 1 + strlen(name), MAX_NAMESPACE);
        }
    }
    return 0;
}

/* Whether a PEM file holds a certificate: a "-----BEGIN CERTIFICATE-----" line (also "BEGIN
 * TRUSTED CERTIFICATE", as OpenSSL writes them) anywhere in it. */
static int holds_a_certificate(FILE *f)
{
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "-----BEGIN CERTIFICATE-----") ||
            strstr(line, "-----BEGIN TRUSTED CERTIFICATE-----"))
            return 1;
    }
    return 0;
}

/* The CA files named by options tls_ca_file and https_ca_file can be read (a typo was found only
 * when connecting, and named option source, or never when no HTTPS was used). */
static int check_ca_files(const ccopy_options_t *options, ccopy_error_t *error)
{
    static const char *const names[] = {"tls_ca_file", "https_ca_file"};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *path = ccopy_options_get(options, names[i]);
        struct stat st;
        FILE *f;
        if (!path || !*path)
            continue;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_OS, EISDIR,
                                    "option %s: %s is a folder, not a PEM file of CA certificates",
                                    names[i], path);
        if (!(f = fopen(path, "r"))) {
            int err = errno;
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_OS, err,
                                    "option %s: CA file %s cannot be read: %s", names[i], path,
                                    strerror(err));
        }
        if (!holds_a_certificate(f)) {
            /* an empty file or a key: the driver only said it could not start TLS, once the
             * server timeout had run out, as a server it "cannot reach" */
            fclose(f);
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_TLS, 0,
                                    "option %s: %s holds no PEM certificate (no -----BEGIN "
                                    "CERTIFICATE----- line): give the CA certificates that sign "
                                    "the server's",
                                    names[i], path);
        }
        fclose(f);
    }
    return 0;
}

/* Whether a replicate or restore would write documents into the target database's catalog
 * (the collection "cosmocopy", which records its completed windows): error filled. */
static int writes_the_catalog(const ccopy_options_t *options, ccopy_error_t *error)
{
    const char *target = ccopy_options_get(options, "target_collection");
    size_t i;
    if (target && strcmp(target, _CCOPY_CATALOG_COLLECTION) == 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option target_collection: %s is the target database's catalog "
                                "of completed windows: give another name",
                                _CCOPY_CATALOG_COLLECTION) != 0;
    for (i = 0; !target && i < ccopy_options_get_count(options, "collection"); i++)
        if (strcmp(ccopy_options_get_nth(options, "collection", i), _CCOPY_CATALOG_COLLECTION) == 0)
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "option collection: %s would be written into the target "
                                    "database's catalog of completed windows, of the same name: "
                                    "give option target_collection another name",
                                    _CCOPY_CATALOG_COLLECTION) != 0;
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
    if (check_names(options, error) != 0)
        return -1;
    if ((kind == CCOPY_JOB_REPLICATE || kind == CCOPY_JOB_RESTORE) && writes_the_catalog(options, error))
        return -1;
    if (check_ca_files(options, error) != 0)
        return -1;
    if (_ccopy_compression_check_level(
            (_ccopy_compression_t)_ccopy_compression_from_name(ccopy_options_get(options, "compress")),
            (int)ccopy_options_get_int(options, "compress_level"), error) != 0)
        return -1;
    if (has_sink && kind != CCOPY_JOB_REPLICATE &&
        _ccopy_sink_check_location(ccopy_options_get(options, "sink"), error) != 0)
        return -1;
    /* Key Vault references are read when the job opens what they name; their form now */
    if (_ccopy_keyvault_check("source", ccopy_options_get(options, "source"), error) != 0 ||
        _ccopy_keyvault_check("target", ccopy_options_get(options, "target"), error) != 0 ||
        _ccopy_keyvault_check("blob_connection_string",
                              ccopy_options_get(options, "blob_connection_string"), error) != 0)
        return -1;
    if (kind == CCOPY_JOB_VERIFY && has_sink && verify_restored_names(options, error) != 0)
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

/* An option's text with its secrets masked, for the summary (a SAS URL's signature, the
 * target's password), or NULL when it is not given. */
static char *masked_option(const char *value)
{
    char *text = value ? _ccopy_strdup(value) : NULL;
    if (text)
        _ccopy_mask_secrets(text);
    return text;
}

ccopy_job_t *ccopy_job_new(const ccopy_options_t *options, ccopy_error_t *error)
{
    return ccopy_job_new_kind(CCOPY_JOB_BACKUP, options, error);
}

/* A condition variable whose timed waits are not thrown by a change of the wall clock. */
static void init_monotonic_cond(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

ccopy_job_t *ccopy_job_new_kind(ccopy_job_kind_t kind, const ccopy_options_t *options,
                                ccopy_error_t *error)
{
    static const _ccopy_task_fn run[] = {_ccopy_copy_task, _ccopy_copy_task, _ccopy_restore_task,
                                         _ccopy_verify_task};
    _ccopy_settings_t settings;
    ccopy_job_t *job;
    size_t i;

    if (!options) {
        _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "no options given");
        return NULL;
    }
    if (check_options(kind, options, error) != 0 ||
        _ccopy_settings_load(&settings, options, error) != 0)
        return NULL;

    job = _ccopy_calloc(1, sizeof *job);
    job->kind = kind;
    job->run_task = run[kind];
    job->settings = settings;
    if (kind == CCOPY_JOB_VERIFY && settings.sink)
        resolve_restored_names(&job->settings);
    job->db = job->settings.db;
    job->backoff.max_retries = (int)job->settings.retry_budget;
    job->backoff.base_ms = job->settings.retry_base_ms;
    job->backoff.cap_ms = job->settings.retry_max_delay_ms;
    job->until = -1;
    _ccopy_governor_init(&job->governor, (double)job->settings.max_ru);
    _ccopy_request_shared_init(&job->request_shared, &job->governor);
    _ccopy_governor_init(&job->target_governor, (double)job->settings.target_max_ru);
    _ccopy_request_shared_init(&job->target_shared, &job->target_governor);
    pthread_mutex_init(&job->lock, NULL);
    pthread_mutex_init(&job->warnings_lock, NULL);
    pthread_mutex_init(&job->log_callback_lock, NULL);
    pthread_cond_init(&job->gate, NULL);
    init_monotonic_cond(&job->workers_left);
    for (i = 0; i < job->settings.collection_count; i++)
        _ccopy_job_add_collection(job, job->settings.collection[i]);
    job->explicit_collections = job->coll_count > 0;
    job->sink_text = masked_option(job->settings.sink);
    job->target_text = masked_option(job->settings.target);
    job->phase = CCOPY_PHASE_PLANNING;
    return job;
}

void ccopy_job_set_progress(ccopy_job_t *job, ccopy_progress_cb callback, void *user_data)
{
    if (!job)
        return;
    job->progress_cb = callback;
    job->progress_data = user_data;
}

void ccopy_job_set_log(ccopy_job_t *job, ccopy_log_cb callback, void *user_data)
{
    if (!job)
        return;
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
        int status;
        /* only the callback's own lock: it may ask for the summary or the progress */
        pthread_mutex_lock(&job->log_callback_lock);
        status = job->log_cb(level, line, job->log_data);
        pthread_mutex_unlock(&job->log_callback_lock);
        if (status != 0)
            _ccopy_job_stop(job, status);
    }
}

static void tell_retry(void *data, const char *line)
{
    _ccopy_job_log((ccopy_job_t *)data, CCOPY_LOG_INFO, "%s", line);
}

_ccopy_retry_receiver_t _ccopy_job_tell_retries(ccopy_job_t *job)
{
    _ccopy_retry_receiver_t former;
    former.fn = _ccopy_retry_notes_set(job ? tell_retry : NULL, job, &former.data);
    return former;
}

void _ccopy_job_retries_untold(_ccopy_retry_receiver_t former)
{
    _ccopy_retry_notes_set(former.fn, former.data, NULL);
}

void _ccopy_job_stop(ccopy_job_t *job, int status)
{
    int none = 0;
    atomic_compare_exchange_strong(&job->stop_status, &none, status);
    atomic_store(&job->canceled, 1);
}

void _ccopy_job_fill_progress(ccopy_job_t *job, ccopy_progress_t *p)
{
    double elapsed, copy_elapsed;
    int64_t now = _ccopy_monotonic_ms();
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    pthread_mutex_lock(&job->lock);
    if (job->finished_ms)
        now = job->finished_ms; /* a finished job's figures stay as they ended */
    elapsed = job->started_ms ? (double)(now - job->started_ms) / 1000.0 : 0.0; /* not started */
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

int ccopy_job_get_progress(ccopy_job_t *job, ccopy_progress_t *out)
{
    ccopy_progress_t p;
    size_t size;
    if (!job || !out || out->size < offsetof(ccopy_progress_t, phase) + sizeof out->phase)
        return CCOPY_EINVAL;
    size = out->size < sizeof p ? out->size : sizeof p;
    _ccopy_job_fill_progress(job, &p);
    memcpy((char *)out + sizeof out->size, (const char *)&p + sizeof p.size, size - sizeof p.size);
    return 0;
}

/* Call the progress callback; what it returns may stop the job. */
void _ccopy_job_report(ccopy_job_t *job)
{
    ccopy_progress_t p;
    int status;
    if (!job->progress_cb)
        return;
    _ccopy_job_fill_progress(job, &p);
    status = job->progress_cb(&p, job->progress_data);
    if (status != 0 && p.phase != CCOPY_PHASE_DONE)
        _ccopy_job_stop(job, status);
}

void ccopy_job_destroy(ccopy_job_t *job)
{
    if (!job)
        return;
    _ccopy_job_free_state(job);
    for (size_t i = 0; i < job->given_count; i++)
        free(job->given[i].coll);
    free(job->given);
    free(job->queue);
    free(job->db_found);
    free(job->sink_text);
    free(job->target_text);
    pthread_mutex_destroy(&job->lock);
    pthread_mutex_destroy(&job->warnings_lock);
    pthread_mutex_destroy(&job->log_callback_lock);
    pthread_cond_destroy(&job->gate);
    pthread_cond_destroy(&job->workers_left);
    _ccopy_governor_destroy(&job->governor);
    _ccopy_governor_destroy(&job->target_governor);
    _ccopy_settings_cleanup(&job->settings);
    free(job);
}
