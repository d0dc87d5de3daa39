/**
 * @file job.h
 * @brief A backup job: plan windows, read them in parallel, write them to a sink.
 *
 * A job copies the collections of one source database into a sink in ObjectId time windows. The
 * sink's catalog (one manifest per completed window) decides what is left to do, so a job that
 * was interrupted, killed or failed continues where it stopped when it is run again, and windows
 * that are complete are never copied twice.
 *
 * What each mode covers (documents are assigned to windows by the time in their ObjectId _id):
 * - full: every window from the oldest ObjectId up to now minus settle_lag, then one pass over the
 *   documents whose _id is not an ObjectId (strings, numbers, UUIDs...), which is rewritten on
 *   every full run.
 * - incremental: every gap between completed windows (one that failed while later ones
 *   completed) and everything after the last completed window, up to now minus settle_lag (from
 *   the oldest ObjectId when nothing is complete yet). Documents whose _id is not an ObjectId are not
 *   copied; they are counted and reported. Updates and deletes of documents in completed
 *   windows are not seen by any mode: windows are cut by creation time.
 * - range: the windows of [from, until), as given; nothing else is looked at.
 *
 * A job runs whole (ccopy_job_run()) or in steps: ccopy_job_plan() connects, reads the catalog and
 * cuts the windows into tasks; the caller may inspect and serialise them (ccopy_job_get_task(),
 * ccopy_job_task_json()), run any of them (ccopy_job_run_task(), ccopy_job_run_tasks()), then
 * ends the job with ccopy_job_finish(). ccopy_job_run() is exactly plan, run every task, finish.
 * Whichever way, a window is recorded complete only once its data is durable, and a task that
 * fails, is canceled or stopped leaves nothing marked complete: running the job again continues.
 * The results are data: ccopy_job_get_summary() and the accessors of results.h, from which the
 * JSON summary (ccopy_job_summary_json()) is made.
 *
 * Threading: a job is driven by one thread (the one calling plan, run and finish);
 * ccopy_job_cancel() may be called from any thread or from a signal handler;
 * ccopy_job_get_progress(), ccopy_job_summary_json() and the result accessors from any thread at
 * any moment of the run, callbacks included.
 */
#ifndef COSMOCOPY_JOB_H
#define COSMOCOPY_JOB_H

#include <stdint.h>

#include "cosmocopy/error.h"
#include "cosmocopy/export.h"
#include "cosmocopy/manifest.h"
#include "cosmocopy/options.h"
#include "cosmocopy/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque job. */
typedef struct ccopy_job ccopy_job_t;

/**
 * What a job does. Every kind takes the same options (options.h says which apply to which).
 * - backup: source collections into a folder or blob container (option sink).
 * - replicate: source collections into collections of another server (option target), by
 *   bulk upserts (or inserts); its catalog is the collection "cosmocopy" of the target database,
 *   one document per completed window, so an incremental replication continues from any machine.
 * - restore: the completed windows of a backup (option sink names it) into collections of a
 *   server (option target), every window's SHA-256 checked before the first document is written.
 * - verify: the windows of a backup (sink) or of a replica (target, with its catalog) against
 *   the source: counts per window, and with option deep a hash of every document.
 */
typedef enum ccopy_job_kind {
    CCOPY_JOB_BACKUP = 0,
    CCOPY_JOB_REPLICATE = 1,
    CCOPY_JOB_RESTORE = 2,
    CCOPY_JOB_VERIFY = 3
} ccopy_job_kind_t;

/** Where a job is. */
typedef enum ccopy_phase {
    CCOPY_PHASE_PLANNING = 0, /**< checking the source, reading the catalog, cutting windows */
    CCOPY_PHASE_COPYING = 1,  /**< windows are being read and written                        */
    CCOPY_PHASE_DONE = 2      /**< finished (successfully or not); the destination is let go  */
} ccopy_phase_t;

/**
 * A snapshot of a job's progress. Versioned by its size, as Win32's cbSize: the caller sets
 * `size` to the sizeof it was compiled with (CCOPY_PROGRESS_INIT does), and the engine fills
 * only the fields that fit, so fields can be added at the end without breaking callers. In a
 * callback, `size` is the engine's sizeof: a field is there when its offset is below it.
 */
typedef struct ccopy_progress {
    size_t size;             /**< sizeof(ccopy_progress_t) of the caller (set it before asking) */
    ccopy_phase_t phase;
    int64_t windows_total;   /**< windows planned in this run (skipped complete ones excluded) */
    int64_t windows_done;    /**< windows completed in this run                                */
    int64_t windows_failed;
    int64_t windows_already_complete; /**< planned windows the catalog already held: skipped */
    int64_t documents;       /**< documents read                                               */
    int64_t bytes;           /**< BSON bytes read                                              */
    int64_t retries;         /**< reads retried after a retryable error                        */
    int64_t throttle_events; /**< throttling answers (16500, or 16500 inside a bulk write) seen  */
    int64_t documents_written; /**< documents in the windows completed in this run             */
    int64_t bytes_written;     /**< their uncompressed size                                    */
    int64_t stored_bytes;      /**< their size as stored (after compression)                   */
    double retry_wait_seconds;  /**< time spent backing off after failures, summed over workers   */
    double pacing_wait_seconds; /**< time spent waiting for the RU governor, summed over workers */
    double ru_charged;       /**< request units charged (server's figures or the estimate model) */
    double ru_per_second;    /**< ru_charged per second of copying                                */
    double ru_pace;          /**< the governor's current pace in RU/s, 0 while unpaced            */
    int ru_estimated;        /**< 1 when ru_charged comes from the estimate model only            */
    double elapsed_seconds;
    double documents_per_second;
    double bytes_per_second;
    double eta_seconds;      /**< estimate of the time left, or -1 when unknown               */
    int64_t documents_rejected; /**< replicate, restore: documents the target refused for good (too large...) */
    double target_ru_charged;   /**< replicate, restore: request units charged on the target        */
    double target_ru_pace;      /**< the target governor's current pace in RU/s, 0 while unpaced    */
    int64_t windows_verified;   /**< restore: windows whose SHA-256 was checked before writing;
                                     verify: windows compared                                       */
    int64_t windows_mismatched; /**< verify: windows that differ                                    */
} ccopy_progress_t;

/** A progress struct ready for ccopy_job_get_progress(): `ccopy_progress_t p = CCOPY_PROGRESS_INIT;` */
#define CCOPY_PROGRESS_INIT {.size = sizeof(ccopy_progress_t)}

/**
 * Progress callback. Called on the thread that runs the job (plan, run, run_tasks), at phase
 * changes and at most about every 100 ms while copying, with no lock of the job held. It may
 * call ccopy_job_cancel(), ccopy_job_get_progress(), ccopy_job_summary_json() and the result
 * accessors; not ccopy_job_run() or ccopy_job_destroy().
 * @return 0 to go on; any other value stops the job as a cancel does (windows in progress are
 *         abandoned, nothing incomplete is marked complete) and the run returns CCOPY_ESTOPPED
 *         with the value as the error's cause.
 */
typedef int (*ccopy_progress_cb)(const ccopy_progress_t *progress, void *user_data);

/** Severity of a log line. */
typedef enum ccopy_log_level {
    CCOPY_LOG_INFO = 0,
    CCOPY_LOG_WARNING = 1,
    CCOPY_LOG_ERROR = 2
} ccopy_log_level_t;

/**
 * Log callback: one line for a person, secrets masked. Called from the thread that runs the job
 * or from a worker thread, never from two threads at once, and with no other lock of the job
 * held: it may call ccopy_job_cancel(), ccopy_job_get_progress(), ccopy_job_summary_json() and
 * the result accessors; not ccopy_job_run() or ccopy_job_destroy().
 * @return 0 to go on; any other value stops the job like the progress callback's.
 */
typedef int (*ccopy_log_cb)(ccopy_log_level_t level, const char *message, void *user_data);

/**
 * Make a job from options (copied; see options.h). The options are checked here: a missing
 * source, database or sink, a bad combination of mode/from/until, or an unknown sink scheme is
 * CCOPY_EINVAL naming the option. Nothing is contacted yet.
 * @return the job, or NULL with *error filled.
 */
CCOPY_EXPORT ccopy_job_t *ccopy_job_new(const ccopy_options_t *options, ccopy_error_t *error);

/**
 * Make a job of any kind (ccopy_job_new() makes a backup). Required options: backup source, db,
 * sink; replicate source, db, target; restore sink, target; verify source, db, and sink or
 * target. target_collection needs one collection: more than one option collection is
 * CCOPY_EINVAL here; none is fine when the database (or the backup) holds only one, which the
 * plan finds out (CCOPY_EINVAL then when it holds several).
 * @return the job, or NULL with CCOPY_EINVAL naming the option.
 */
CCOPY_EXPORT ccopy_job_t *ccopy_job_new_kind(ccopy_job_kind_t kind, const ccopy_options_t *options,
                                             ccopy_error_t *error);

/** Register the progress callback (NULL to remove). Call before ccopy_job_run(). */
CCOPY_EXPORT void ccopy_job_set_progress(ccopy_job_t *job, ccopy_progress_cb callback, void *user_data);

/** Register the log callback (NULL to remove). Call before ccopy_job_run(). */
CCOPY_EXPORT void ccopy_job_set_log(ccopy_job_t *job, ccopy_log_cb callback, void *user_data);

/**
 * Run the job to the end: ccopy_job_plan() (unless done already), every task that has not run,
 * then ccopy_job_finish(). Blocks; a job ends once (run or finish). The windows run on up to `parallel`
 * worker threads; when only some can be started the job runs on those (and warns), when none
 * can it fails without running any window. A restore drops (option drop) and creates indexes
 * only once its writing threads are started.
 * @return 0 when every planned window is complete (verify: and matches); CCOPY_EMISMATCH when
 *         verify found windows that differ (named in *error and the summary); otherwise the
 *         first error's code
 *         (CCOPY_ECANCELED after ccopy_job_cancel(), CCOPY_ETIMEDOUT when the source does not
 *         answer, CCOPY_ENOTFOUND for a missing database or collection, CCOPY_EIO for a sink
 *         that cannot be written or when no worker thread could be started (domain OS, the
 *         errno as cause)...), with *error describing it. Windows completed
 *         before a failure stay complete.
 */
CCOPY_EXPORT int ccopy_job_run(ccopy_job_t *job, ccopy_error_t *error);

/** What one task is doing or did. */
typedef enum ccopy_task_state {
    CCOPY_TASK_PENDING = 0, /**< not run (yet)                                                  */
    CCOPY_TASK_RUNNING = 1, /**< a worker has it                                                */
    CCOPY_TASK_DONE = 2,    /**< complete: durable and recorded in the catalog (verify: compared) */
    CCOPY_TASK_FAILED = 3,  /**< failed; error says why; nothing was marked complete            */
    CCOPY_TASK_STOPPED = 4  /**< abandoned by a cancel or a callback's stop; run it again        */
} ccopy_task_state_t;

/**
 * One task of a planned job: a window (or the non-ObjectId pass) of one collection. Versioned
 * by `size` like ccopy_progress_t (CCOPY_TASK_INFO_INIT). Strings are borrowed from the job and
 * stay valid until ccopy_job_destroy().
 */
typedef struct ccopy_task_info {
    size_t size;             /**< sizeof(ccopy_task_info_t) of the caller                      */
    const char *database;    /**< the source database, as the catalog names it                 */
    const char *collection;  /**< the source collection                                        */
    ccopy_manifest_kind_t kind;
    ccopy_window_t window;   /**< [start, end) in seconds; {0, 0} for the non-ObjectId pass    */
    ccopy_task_state_t state;
    int64_t documents;       /**< done: written (verify: compared); restore and verify before
                                  running: what the backup's window holds                      */
    int64_t bytes;           /**< likewise, uncompressed BSON bytes                            */
    int64_t stored_bytes;    /**< likewise, as stored (after compression)                      */
    char sha256[65];         /**< done (backup), or the backup's window: hex of the stored data; "" otherwise */
    const char *data;        /**< the window's data (a stored object's name, or db.collection
                                  on a server) once known, else NULL                          */
    int partial;             /**< restore: option until cuts this window (only part is written) */
    ccopy_error_t error;     /**< failed or stopped: why (code 0 otherwise)                    */
} ccopy_task_info_t;

/** A task info ready to be filled: `ccopy_task_info_t t = CCOPY_TASK_INFO_INIT;` */
#define CCOPY_TASK_INFO_INIT {.size = sizeof(ccopy_task_info_t)}

/**
 * Plan the job: check the options against the servers, read the catalog, and cut what is left
 * to do into tasks (windows per collection, the non-ObjectId pass). Connections and the
 * destination stay open for the tasks. Backup creates and locks its destination here, once the
 * source has answered. Planning twice is CCOPY_EINVAL.
 * @return 0, or the error that stopped planning (recorded: the job has failed; call
 *         ccopy_job_finish() or destroy it).
 */
CCOPY_EXPORT int ccopy_job_plan(ccopy_job_t *job, ccopy_error_t *error);

/** Number of tasks planned (0 before ccopy_job_plan()). Thread-safe. */
CCOPY_EXPORT size_t ccopy_job_task_count(ccopy_job_t *job);

/**
 * Task `index` with its state and outcome. Thread-safe, any moment.
 * @return 0; CCOPY_EINVAL when index is out of range or info->size is too small.
 */
CCOPY_EXPORT int ccopy_job_get_task(ccopy_job_t *job, size_t index, ccopy_task_info_t *info);

/**
 * Task `index` as one line of JSON, for a log or another process:
 * {"database":"shop","collection":"orders","kind":"window","start":"2026-01-01T00:00:00Z",
 * "end":"2026-01-01T04:00:00Z"} ("kind":"non-objectid" with null start and end for the pass).
 * @return new text (free with ccopy_free()), or NULL when index is out of range.
 */
CCOPY_EXPORT char *ccopy_job_task_json(ccopy_job_t *job, size_t index);

/**
 * Plan exactly the given tasks, for a process that helps another one run its job (a distributed
 * runner's worker): `tasks_json` is a JSON array of tasks as ccopy_job_task_json() writes them,
 * taken from a job made from the same options and planned (ccopy_job_plan()) in the other
 * process, which holds the destination's lock until it finishes. This job takes no lock, writes
 * no collection metadata, clears no temporaries and, for restore, neither drops nor indexes the
 * target (the planning process's job did or does that): it only copies its windows. Backup and
 * replicate read the catalog first: a window it holds complete already (another try of the same
 * task finished it) is not planned again but counted as already complete. Restore and verify
 * plan from the backup as usual and keep only the given windows (CCOPY_ENOTFOUND when the
 * backup no longer holds one). Then run the tasks and finish as with ccopy_job_plan().
 * @return 0; CCOPY_EINVAL for text that is not such an array, a task of another database or
 *         of a collection that option collection (when given) does not name, a window that
 *         overlaps a completed one without lying within it (backup, replicate: no plan gives
 *         that out, and copying it would leave overlapping windows), or a job planned already;
 *         otherwise as ccopy_job_plan().
 */
CCOPY_EXPORT int ccopy_job_plan_tasks(ccopy_job_t *job, const char *tasks_json, ccopy_error_t *error);

/**
 * Start the job's RU governor at `ru_per_second` instead of unpaced (or at option max_ru), as
 * though throttling had found that pace: it probes above it as after any cut (1% a second,
 * doubled for every second without a throttle, up to 10%) and throttling cuts it, as usual,
 * never above option max_ru. For a pace learnt by earlier jobs on the same account (a
 * distributed runner shares it between its workers' tasks). 0 or less: no change. Call before
 * planning.
 */
CCOPY_EXPORT void ccopy_job_set_pace(ccopy_job_t *job, double ru_per_second);

/**
 * Run some of the planned tasks on up to `parallel` worker threads and wait for them. Tasks
 * already done are not run again, and a task named more than once runs once; failed or stopped
 * ones are tried again. Restore checks every
 * window's SHA-256 before writing any (and drops or creates indexes, as asked, once, before the
 * first window it writes). Plans first when ccopy_job_plan() was not called.
 * @param indices  task indices, or NULL for every task.
 * @return 0 when every task asked for is done (verify: compared; differences show in the
 *         results and in ccopy_job_finish()); otherwise the first failure's code, CCOPY_ECANCELED
 *         or CCOPY_ESTOPPED. Failures are recorded for the summary either way.
 */
CCOPY_EXPORT int ccopy_job_run_tasks(ccopy_job_t *job, const size_t *indices, size_t count,
                                     ccopy_error_t *error);

/** ccopy_job_run_tasks() of one task. */
CCOPY_EXPORT int ccopy_job_run_task(ccopy_job_t *job, size_t index, ccopy_error_t *error);

/**
 * End the job: its result is settled as ccopy_job_run() returns it (verify's differences are
 * CCOPY_EMISMATCH), the destination's lock released, connections
 * closed, and the phase becomes CCOPY_PHASE_DONE. Nothing can run after it. Tasks that were
 * never asked for are not an error (a distributed runner's job runs only its share; a later job
 * plans them again); tasks that failed or were stopped are.
 * @return the job's result (0 or an error code), with *error describing it.
 */
CCOPY_EXPORT int ccopy_job_finish(ccopy_job_t *job, ccopy_error_t *error);

/**
 * Ask a running job to stop. Windows in progress are abandoned (nothing incomplete is marked
 * complete) and ccopy_job_run() returns CCOPY_ECANCELED soon after. Async-signal-safe.
 */
CCOPY_EXPORT void ccopy_job_cancel(ccopy_job_t *job);

/**
 * The latest progress snapshot. Thread-safe: any thread, any moment from ccopy_job_new() to
 * ccopy_job_destroy(), planning included. Set out->size first (CCOPY_PROGRESS_INIT).
 * @return 0, or CCOPY_EINVAL when out->size is too small to hold the phase.
 */
CCOPY_EXPORT int ccopy_job_get_progress(ccopy_job_t *job, ccopy_progress_t *out);

/**
 * A JSON summary of the run: status, counts, every window written, errors and warnings.
 * Thread-safe like ccopy_job_get_progress(); while the job runs, its status is "running" and it
 * holds what is done so far.
 * @return new text (free with ccopy_free()); final once ccopy_job_run() returned.
 */
CCOPY_EXPORT char *ccopy_job_summary_json(ccopy_job_t *job);

/** Free a job. Not while ccopy_job_run() is running on it (cancel and let it return first). NULL is fine. */
CCOPY_EXPORT void ccopy_job_destroy(ccopy_job_t *job);

#ifdef __cplusplus
}
#endif

#endif
