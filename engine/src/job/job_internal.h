/*
 * The job's state, shared by job.c (running), plan.c (planning), open.c (opening the servers and
 * destinations), restore.c and verify.c (their tasks) and summary.c (recording and reporting).
 * The destinations (dest.h) do not see it: they get their settings and report back through
 * hooks. Fields marked (lock) are guarded by job->lock: ccopy_job_get_progress() and
 * ccopy_job_summary_json() may be called from any thread at any moment of a run, so whatever
 * they read is changed only with the lock held, planning included. Unmarked fields are set
 * before the run or read by the running threads only.
 */
#ifndef CCOPY_JOB_INTERNAL_H
#define CCOPY_JOB_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include "common.h"
#include "dest.h"
#include "dest_mongo.h"
#include "extjson.h"
#include "cosmocopy/job.h"
#include "cosmocopy/manifest.h"
#include "governor.h"
#include "reader.h"
#include "request.h"
#include "retry.h"
#include "settings.h"
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
    const ccopy_manifest_t *manifest; /* restore, verify: the backed-up window (borrowed) */
    int again; /* a provisional window copied again (plan.c): never split, its manifest rewritten */
    /* (lock) what became of it: a ccopy_task_state_t, and for a done task what was written, for
     * a failed or stopped one why */
    int state;
    int64_t documents, bytes, stored_bytes;
    char sha256[65];
    const char *data; /* borrowed from the manifest recorded for it */
    ccopy_error_t error;
} _ccopy_task_t;

/* What verify found in one window. */
typedef struct _ccopy_verdict {
    char *coll;
    ccopy_manifest_kind_t kind;
    ccopy_window_t window;
    int64_t source_count;  /* documents in the source's window                           */
    int64_t backup_count;  /* in the backup's manifest, or counted in the target          */
    int sha256_checked, sha256_ok; /* backups: the data object against its manifest     */
    int deep;              /* documents were compared one by one                          */
    int unreadable;        /* deep: the backup's data could not be read to its end (told)  */
    int64_t missing, extra, different; /* deep: not in the backup, only in the backup, changed */
    _ccopy_strings_t examples; /* deep: "_id ...: reason", at most 20                    */
    char *problem;         /* NULL when the window matches                                */
} _ccopy_verdict_t;

struct _ccopy_worker;
/* Run one task on a worker. 0 with *out filled (the window's manifest: backup's, replicate's
 * catalog entry, restore's source window) or the error that failed the window. */
typedef int (*_ccopy_task_fn)(struct _ccopy_worker *worker, _ccopy_task_t *task,
                              ccopy_manifest_t *out, ccopy_error_t *error);

/* A worker thread's connections. */
typedef struct _ccopy_worker {
    ccopy_job_t *job;
    uint64_t rng;
    mongoc_client_t *source_client; /* NULL when the job has no source */
    _ccopy_requester_t source;
    _ccopy_dest_session_t *dest_session, *from_session; /* NULL when the job has no such side */
} _ccopy_worker_t;

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
    ccopy_job_kind_t kind;
    _ccopy_task_fn run_task;
    /* the options, read once when the job is made; nothing changes them afterwards except
     * verify against a backup, which resolves source_db and source_collection (job.c) */
    _ccopy_settings_t settings;
    const char *db;           /* settings.db, or restore's db_found once planning found it */
    _ccopy_backoff_t backoff; /* the settings' retry_* options */

    ccopy_progress_cb progress_cb;
    void *progress_data;
    ccopy_log_cb log_cb;
    void *log_data;

    _ccopy_source_t *source;  /* backup, replicate, verify */
    _ccopy_dest_t *dest;      /* where windows are written: backup a store, replicate and
                               * restore the target (dest_mongo.c) */
    _ccopy_dest_t *from;      /* what restore and verify read: the backup's store, or (verify
                               * against a replica) the target */

    /* the target's pacing, shared by its sessions (replicate, restore, verify of a replica) */
    _ccopy_governor_t target_governor;
    _ccopy_request_shared_t target_shared;
    int64_t rejected;             /* (lock) documents the target refused for good */
    _ccopy_strings_t rejected_examples; /* (lock) "_id X (N bytes): reason", at most 100 */
    ccopy_manifest_t *backup;     /* (lock) restore, verify: the backup's manifests, in task order */
    size_t backup_count;          /* (lock) */
    int64_t until;                /* (lock) restore: only documents created before it; -1: all */
    int64_t verified_windows, verified_bytes; /* restore: checked before writing */
    _ccopy_verdict_t *verdicts;   /* (lock) verify */
    size_t verdict_count;         /* (lock) */
    int64_t mismatches;           /* (lock) verify: windows that differ */

    _ccopy_coll_stats_t *colls; /* (lock) */
    size_t coll_count;          /* (lock) */
    int explicit_collections;

    _ccopy_task_t *tasks;     /* (lock) the array; a task's window does not change once
                               * planning is over, only its state and outcome */
    size_t task_count;        /* (lock) */
    size_t *queue;            /* (lock) the indices of the tasks the running call asked for */
    size_t queue_count;       /* (lock) */
    size_t next_task;         /* (lock) the next entry of queue to take */
    int planned;              /* ccopy_job_plan() ran (plan_rc: what it returned) */
    int plan_rc;
    int prepared;             /* restore: drop and indexes are done */
    /* ccopy_job_plan_tasks(): the tasks another process planned (a distributed runner's
     * worker), which holds the destination's lock; NULL for a job that plans itself */
    _ccopy_task_t *given;
    size_t given_count;
    int finished;             /* (lock) ccopy_job_finish() ran */
    int workers_running;      /* (lock) */
    int stopping;             /* (lock) a window failed: take no new ones */
    int gate_open;            /* (lock) workers may take tasks (see run_workers in job.c) */
    pthread_cond_t gate;      /* signalled when gate_open is set */
    pthread_cond_t workers_left; /* (monotonic clock) signalled when workers_running drops */
    int64_t windows_done;     /* (lock) */
    int64_t windows_failed;   /* (lock) */
    int64_t documents_written, bytes_written, stored_bytes; /* (lock) of completed windows */
    ccopy_manifest_t *written;/* (lock) manifests of the windows completed in this run */
    size_t written_count;     /* (lock) */
    ccopy_error_t *errors;      /* (lock) */
    size_t error_count;         /* (lock) */
    _ccopy_strings_t warnings;  /* (warnings_lock) */

    _ccopy_counters_t counters;
    _ccopy_governor_t governor;           /* paces every request of every worker */
    _ccopy_request_shared_t request_shared;
    atomic_int canceled;
    atomic_int stop_status;   /* what a callback returned to stop the job; 0 while none did */
    int call_stopped;         /* the last run_tasks call ended stopped or canceled: the next one
                                 starts afresh (run again to continue)                       */
    char *db_found;           /* restore: the database the backup holds, when not given */
    char *sink_text, *target_text; /* the options, secrets masked (NULL when not given) */
    uint64_t plan_rng;        /* back-off jitter of planning retries (planning is one thread) */
    ccopy_phase_t phase;      /* (lock) */
    int ran;                  /* (lock) */
    int result;               /* (lock) */
    ccopy_error_t result_error; /* (lock) */
    int64_t now;              /* wall clock at planning, seconds */
    int64_t started_ms, copy_started_ms, finished_ms; /* (lock) */

    pthread_mutex_t lock;
    pthread_mutex_t warnings_lock;
    /* Held only around a call of the log callback, so that it never runs on two threads at
     * once. No other lock is held then, and nothing else takes it, so the callback may call
     * ccopy_job_get_progress() and ccopy_job_summary_json(). Never log with job->lock held. */
    pthread_mutex_t log_callback_lock;
};

/* plan.c: check the source and build job->tasks from the catalog. */
int _ccopy_job_plan(ccopy_job_t *job, ccopy_error_t *error);
_ccopy_coll_stats_t *_ccopy_job_add_collection(ccopy_job_t *job, const char *name);
void _ccopy_job_add_task(ccopy_job_t *job, _ccopy_coll_stats_t *coll, ccopy_manifest_kind_t kind,
                         int64_t start, int64_t end);
/* Retry a planning read after a lost connection, throttling or timeout (see plan.c). */
/* Retries after faults in this thread go to the job's log (INFO) until
 * _ccopy_job_retries_untold(the returned value) puts back the thread's former receiver. */
typedef struct _ccopy_retry_receiver {
    _ccopy_retry_note_fn fn;
    void *data;
} _ccopy_retry_receiver_t;
_ccopy_retry_receiver_t _ccopy_job_tell_retries(ccopy_job_t *job);
void _ccopy_job_retries_untold(_ccopy_retry_receiver_t former);

int _ccopy_plan_again(ccopy_job_t *job, int rc, int *attempt, ccopy_error_t *error);
/* The backup's windows for restore and verify: job->tasks from job->from's catalog. */
int _ccopy_job_plan_from_backup(ccopy_job_t *job, ccopy_error_t *error);
/* Backup and replicate of job->given: the source checked, the store opened without its lock,
 * job->tasks the given windows less those the catalog holds complete already. */
int _ccopy_job_plan_given(ccopy_job_t *job, ccopy_error_t *error);
/* Restore and verify of job->given: job->tasks (planned from the backup) cut down to them;
 * ENOTFOUND naming a given window that the backup does not hold. */
int _ccopy_job_keep_given(ccopy_job_t *job, ccopy_error_t *error);

/* job.c: a reader of the task's window on the source. */
void _ccopy_worker_reader_config(_ccopy_worker_t *worker, const _ccopy_task_t *task,
                                 _ccopy_reader_config_t *c);
/* job.c: run_task of a backup and of a replicate: the source's window into job->dest. */
int _ccopy_copy_task(_ccopy_worker_t *worker, _ccopy_task_t *task, ccopy_manifest_t *out,
                     ccopy_error_t *error);

/* open.c: the servers and destinations named by the settings. The server at uri, the
 * connection string of option `option` (source or target; errors name it). */
int _ccopy_job_open_server(ccopy_job_t *job, _ccopy_source_t **out, const char *option,
                           const char *uri, ccopy_error_t *error);
/* The store of option sink (backup writes it; restore and verify read it). */
int _ccopy_job_open_store(ccopy_job_t *job, int for_writing, _ccopy_dest_t **out,
                          ccopy_error_t *error);
/* The collection(s) of option target: replicate records each window in its catalog
 * (record_windows), restore does not, verify only reads. */
int _ccopy_job_open_target(ccopy_job_t *job, int record_windows, _ccopy_dest_t **out,
                           ccopy_error_t *error);

/* restore.c: the backup's windows (job->from) into the target (job->dest). */
int _ccopy_restore_task(_ccopy_worker_t *worker, _ccopy_task_t *task, ccopy_manifest_t *out,
                        ccopy_error_t *error);
/* restore's first pass: the window's stored bytes against its manifest's SHA-256, nothing written. */
int _ccopy_restore_check_task(_ccopy_worker_t *worker, _ccopy_task_t *task, ccopy_manifest_t *out,
                              ccopy_error_t *error);
/* Between the passes: --drop, then --copy-indexes from metadata.json. */
int _ccopy_restore_prepare(ccopy_job_t *job, ccopy_error_t *error);
/* verify.c */
int _ccopy_verify_task(_ccopy_worker_t *worker, _ccopy_task_t *task, ccopy_manifest_t *out,
                       ccopy_error_t *error);
void _ccopy_verdict_cleanup(_ccopy_verdict_t *v);
/* Verdicts in collection and window order, for the report. */
void _ccopy_verify_sort(ccopy_job_t *job);
/* The job's result when windows differ: EMISMATCH naming them. */
int _ccopy_verify_result(ccopy_job_t *job, ccopy_error_t *error);

/* summary.c (call with job->lock held where noted). */
void _ccopy_job_record_window(ccopy_job_t *job, ccopy_manifest_t *manifest); /* (lock); takes ownership */
/* (lock) A failed task ran again: its earlier failure (the task's error) is no longer one of
 * the job's. */
void _ccopy_job_forget_failure(ccopy_job_t *job, const ccopy_error_t *error);
void _ccopy_job_record_error(ccopy_job_t *job, const ccopy_error_t *error);  /* (lock); a window's
                                                                             * failure also counts
                                                                             * windows_failed */
void _ccopy_job_free_state(ccopy_job_t *job);
/* The windows written, in collection and window order (workers finish them in any order). */
void _ccopy_job_sort_written(ccopy_job_t *job);
void _ccopy_job_log(ccopy_job_t *job, ccopy_log_level_t level, const char *fmt, ...) CCOPY_PRINTF(3, 4);
/* A callback returned status (non-zero): stop the job as a cancel does, remembering the first. */
void _ccopy_job_stop(ccopy_job_t *job, int status);
/* The progress snapshot, whole (job.c). */
void _ccopy_job_fill_progress(ccopy_job_t *job, ccopy_progress_t *p);
/* Call the progress callback, if any; a non-zero return stops the job (job.c). */
void _ccopy_job_report(ccopy_job_t *job);
/* Restore's --drop and indexes: run by _ccopy_job_run_workers once the workers are there. */
typedef int (*_ccopy_before_tasks_fn)(ccopy_job_t *job, ccopy_error_t *error);
/* workers.c: run job->queue on up to `parallel` worker threads. The workers wait at a gate until
 * every thread has been started and `before` (may be NULL) has succeeded. Non-zero when no
 * worker thread could be started or `before` failed; no task ran then. Window failures are
 * recorded, not returned. */
int _ccopy_job_run_workers(ccopy_job_t *job, _ccopy_before_tasks_fn before, ccopy_error_t *error);

#endif
