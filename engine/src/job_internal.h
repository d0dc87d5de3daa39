/*
 * The job's state, shared by job.c (running), plan.c (planning) and summary.c (recording and
 * reporting). Fields marked (lock) are guarded by job->lock.
 */
#ifndef CCOPY_JOB_INTERNAL_H
#define CCOPY_JOB_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "common.h"
#include "cosmocopy/job.h"
#include "cosmocopy/manifest.h"
#include "governor.h"
#include "reader.h"
#include "request.h"
#include "retry.h"
#include "sink.h"
#include "source.h"
#include "stream.h"

typedef struct _ccopy_strings {
    char **items;
    size_t count;
} _ccopy_strings_t;

void _ccopy_strings_push(_ccopy_strings_t *list, const char *text);
void _ccopy_strings_clear(_ccopy_strings_t *list);

/* One window (or the non-ObjectId pass) of one collection to copy. */
typedef struct _ccopy_task {
    char *coll; /* borrowed from the job's collection list */
    ccopy_manifest_kind_t kind;
    ccopy_window_t window;
} _ccopy_task_t;

/* What one collection contributed to the run. */
typedef struct _ccopy_coll_stats {
    char *name;
    int64_t windows_planned, windows_written, windows_already_complete;
    int64_t documents, bytes, stored_bytes;
    int64_t non_oid_copied;      /* -1 when this run had no non-ObjectId pass        */
    int64_t non_oid_not_covered; /* -1 when not counted (full runs copy them instead) */
    int64_t range_start, range_end; /* the range planned, or -1 when nothing was planned */
} _ccopy_coll_stats_t;

struct ccopy_job {
    ccopy_options_t *options;
    /* settings, read from options once */
    const char *db, *mode, *format;
    _ccopy_compression_t compression;
    int compress_level;
    int64_t step, settle_lag, server_timeout_ms, socket_timeout_ms;
    int batch_size, parallel;
    _ccopy_backoff_t backoff;

    ccopy_progress_cb progress_cb;
    void *progress_data;
    ccopy_log_cb log_cb;
    void *log_data;

    _ccopy_source_t *source;
    _ccopy_sink_t *sink;

    _ccopy_coll_stats_t *colls;
    size_t coll_count;
    int explicit_collections;

    _ccopy_task_t *tasks;
    size_t task_count;
    size_t next_task;         /* (lock) */
    int workers_running;      /* (lock) */
    int stopping;             /* (lock) a window failed: take no new ones */
    int64_t windows_done;     /* (lock) */
    int64_t windows_failed;   /* (lock) */
    int64_t documents_written, bytes_written, stored_bytes; /* (lock) of completed windows */
    ccopy_manifest_t *written;/* (lock) manifests of the windows completed in this run */
    size_t written_count;     /* (lock) */
    ccopy_error_t *errors;      /* (lock) */
    size_t error_count;         /* (lock) */
    _ccopy_strings_t warnings;  /* (log_lock) */

    _ccopy_counters_t counters;
    _ccopy_governor_t governor;           /* paces every request of every worker */
    _ccopy_request_shared_t request_shared;
    atomic_int canceled;
    uint64_t plan_rng;        /* back-off jitter of planning retries (planning is one thread) */
    volatile ccopy_phase_t phase;
    int ran;
    int result;
    ccopy_error_t result_error;
    int64_t now;              /* wall clock at planning, seconds */
    int64_t started_ms, copy_started_ms, finished_ms;

    pthread_mutex_t lock;
    pthread_mutex_t log_lock;
};

/* plan.c: check the source and build job->tasks from the catalog. */
int _ccopy_job_plan(ccopy_job_t *job, ccopy_error_t *error);
_ccopy_coll_stats_t *_ccopy_job_add_collection(ccopy_job_t *job, const char *name);

/* summary.c (call with job->lock held where noted). */
void _ccopy_job_record_window(ccopy_job_t *job, ccopy_manifest_t *manifest); /* (lock); takes ownership */
void _ccopy_job_record_error(ccopy_job_t *job, const ccopy_error_t *error);  /* (lock) */
void _ccopy_job_free_state(ccopy_job_t *job);
void _ccopy_job_log(ccopy_job_t *job, ccopy_log_level_t level, const char *fmt, ...) CCOPY_PRINTF(3, 4);

#endif
