/**
 * @file results.h
 * @brief A job's results as data: the summary's figures, each collection, each window written,
 * each verify verdict, and the job's errors, warnings and refused documents.
 *
 * The JSON summary (ccopy_job_summary_json()) is made from these accessors, and the command
 * prints from them. Every accessor is thread-safe and may be called at any moment from
 * ccopy_job_new() to ccopy_job_destroy(), callbacks included: while the job runs it returns what
 * is known so far. The structs are versioned by their first field, `size`, like
 * ccopy_progress_t: set it to the sizeof you were compiled with (the *_INIT macros do); the
 * engine fills what fits. Strings are borrowed from the job and stay valid until
 * ccopy_job_destroy(); secrets in them are masked.
 */
#ifndef COSMOCOPY_RESULTS_H
#define COSMOCOPY_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "cosmocopy/error.h"
#include "cosmocopy/export.h"
#include "cosmocopy/job.h"
#include "cosmocopy/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How a job ended (the summary's "status"). */
typedef enum ccopy_job_status {
    CCOPY_STATUS_RUNNING = 0,  /**< "running": not finished yet                        */
    CCOPY_STATUS_OK = 1,       /**< "ok"                                               */
    CCOPY_STATUS_FAILED = 2,   /**< "failed"                                           */
    CCOPY_STATUS_CANCELED = 3, /**< "canceled": ccopy_job_cancel()                     */
    CCOPY_STATUS_DIFFERS = 4,  /**< "differs": verify found windows that differ        */
    CCOPY_STATUS_STOPPED = 5   /**< "stopped": a callback asked to stop (CCOPY_ESTOPPED) */
} ccopy_job_status_t;

/** The summary's name of a status ("ok", "failed"...); static. */
CCOPY_EXPORT const char *ccopy_job_status_name(int status);

/** The figures of a job (the top level of the JSON summary). */
typedef struct ccopy_summary {
    size_t size;                  /**< sizeof(ccopy_summary_t) of the caller                  */
    ccopy_job_kind_t kind;
    ccopy_job_status_t status;
    ccopy_error_t error;          /**< the job's result when it failed (code 0 otherwise)     */
    const char *mode;             /**< "full", "incremental" or "range"                       */
    const char *database;         /**< NULL until known (restore may find it in the backup)   */
    const char *sink;             /**< the backup's location, masked; NULL without one         */
    const char *target;           /**< the target's connection string, masked; NULL without one */
    const char *target_database;  /**< NULL without a target                                  */
    int64_t step_seconds, settle_lag_seconds;
    int64_t windows_planned;      /**< tasks planned in this run                              */
    int64_t windows_written;      /**< completed in this run (verify: 0, see windows_verified) */
    int64_t windows_failed;
    int64_t windows_already_complete; /**< planned windows the catalog already held           */
    int64_t documents, bytes, stored_bytes; /**< of the windows completed in this run         */
    int64_t documents_read, retries, throttle_events;
    double retry_wait_seconds, pacing_wait_seconds;
    double ru_charged;            /**< request units charged on the source                    */
    int ru_estimated;             /**< 1: from the estimate model, 0: the server's figures     */
    double ru_per_second;
    int64_t ru_budget;            /**< option max_ru                                          */
    double ru_final_pace;
    double target_ru_charged;
    int64_t target_ru_budget;     /**< option target_max_ru                                   */
    double target_ru_final_pace;
    int64_t documents_rejected;   /**< replicate, restore: refused by the target for good     */
    int dry_run;                  /**< restore with option dry_run: nothing was written       */
    int64_t windows_verified;     /**< restore: SHA-256 checked first; verify: compared        */
    int64_t windows_differing;    /**< verify                                                 */
    double elapsed_seconds, planning_seconds, copy_seconds;
    double documents_per_second, bytes_per_second;
    size_t collection_count;      /**< ccopy_job_get_collection()                             */
    size_t window_count;          /**< ccopy_job_get_window(): windows written                */
    size_t verdict_count;         /**< ccopy_job_get_verdict()                                */
    size_t error_count, warning_count, rejected_count; /**< ccopy_job_get_note()              */
} ccopy_summary_t;

/** `ccopy_summary_t s = CCOPY_SUMMARY_INIT;` */
#define CCOPY_SUMMARY_INIT {.size = sizeof(ccopy_summary_t)}

/** The summary's figures. @return 0, or CCOPY_EINVAL when out->size is too small. */
CCOPY_EXPORT int ccopy_job_get_summary(ccopy_job_t *job, ccopy_summary_t *out);

/** What one collection contributed. */
typedef struct ccopy_collection_result {
    size_t size;
    const char *name;
    int64_t range_start, range_end; /**< the time range planned, seconds; -1 when none     */
    int64_t windows_planned, windows_written, windows_already_complete;
    int64_t documents, bytes, stored_bytes;
    int64_t non_objectid_copied;      /**< -1 when the run had no non-ObjectId pass          */
    int64_t non_objectid_not_covered; /**< incremental: documents it cannot see; -1: not counted */
} ccopy_collection_result_t;

#define CCOPY_COLLECTION_RESULT_INIT {.size = sizeof(ccopy_collection_result_t)}

/** Collection `index` (0 .. collection_count - 1). @return 0 or CCOPY_EINVAL. */
CCOPY_EXPORT int ccopy_job_get_collection(ccopy_job_t *job, size_t index,
                                          ccopy_collection_result_t *out);

/**
 * Window `index` of those completed in this run (0 .. window_count - 1), ordered by collection
 * name then window, as the manifest recorded it (restore: the backup's window with what was
 * written from it).
 * @param[out] out  a deep copy; free its fields with ccopy_manifest_cleanup().
 * @return 0, CCOPY_EINVAL when index is out of range.
 */
CCOPY_EXPORT int ccopy_job_get_window(ccopy_job_t *job, size_t index, ccopy_manifest_t *out);

/** What verify found in one window. */
typedef struct ccopy_verdict {
    size_t size;
    const char *collection;
    ccopy_manifest_kind_t kind;
    ccopy_window_t window;
    int differs;                /**< 1 when the window does not match                          */
    int64_t source_documents;   /**< in the source's window                                    */
    int64_t backup_documents;   /**< in the backup's manifest, or counted in the replica       */
    int sha256_checked;         /**< backups: the stored data was hashed against its manifest  */
    int sha256_ok;
    int deep;                   /**< documents were compared one by one (option deep)          */
    int64_t missing, extra, different; /**< deep: not in the backup, only in it, changed       */
    size_t example_count;       /**< deep: up to 20 lines "_id ...: reason"                    */
    const char *const *examples;
    const char *problem;        /**< NULL when the window matches                             */
} ccopy_verdict_t;

#define CCOPY_VERDICT_INIT {.size = sizeof(ccopy_verdict_t)}

/** Verdict `index` (0 .. verdict_count - 1), ordered by collection name then window. */
CCOPY_EXPORT int ccopy_job_get_verdict(ccopy_job_t *job, size_t index, ccopy_verdict_t *out);

/** The lists of text a job keeps. */
typedef enum ccopy_note_kind {
    CCOPY_NOTE_ERROR = 0,    /**< errors, the job's result first when it failed before any window */
    CCOPY_NOTE_WARNING = 1,  /**< warnings, as logged                                              */
    CCOPY_NOTE_REJECTED = 2  /**< documents the target refused: "_id X (N bytes) in db.coll: reason" */
} ccopy_note_kind_t;

/** Line `index` of a list. @return new text (free with ccopy_free()), or NULL past the end. */
CCOPY_EXPORT char *ccopy_job_get_note(ccopy_job_t *job, ccopy_note_kind_t kind, size_t index);

#ifdef __cplusplus
}
#endif

#endif
