/*
 * A C service embedding libcosmocopy: checks option errors, runs a backup job with progress and
 * log callbacks, and prints the job's JSON summary. Used by test_c_api.py.
 *
 * Usage: c_api_backup URI DB DIR
 */
#include <stdio.h>
#include <string.h>

#include <cosmocopy/cosmocopy.h>

typedef struct seen {
    int progress_calls, phases_done, went_backwards, warnings;
    int64_t last_documents;
} seen_t;

static int on_progress(const ccopy_progress_t *p, void *user_data)
{
    seen_t *seen = user_data;
    seen->progress_calls++;
    if (p->documents < seen->last_documents)
        seen->went_backwards = 1;
    seen->last_documents = p->documents;
    if (p->phase == CCOPY_PHASE_DONE)
        seen->phases_done++;
    return 0;
}

static int on_log(ccopy_log_level_t level, const char *message, void *user_data)
{
    seen_t *seen = user_data;
    if (level == CCOPY_LOG_WARNING)
        seen->warnings++;
    fprintf(stderr, "log %d: %s\n", (int)level, message);
    return 0;
}

int main(int argc, char **argv)
{
    ccopy_options_t *opts;
    ccopy_job_t *job;
    ccopy_error_t err;
    seen_t seen;
    char *summary;
    char sink[1024];
    int rc;

    if (argc != 4)
        return 2;
    ccopy_init();
    opts = ccopy_options_new();

    /* Bad input is refused with a message that names the option, and changes nothing. */
    if (ccopy_options_set(opts, "parallel", "0", &err) != CCOPY_EINVAL || !strstr(err.message, "parallel")) {
        fprintf(stderr, "parallel=0 was not refused: %s\n", err.message);
        return 3;
    }
    if (ccopy_job_new(opts, &err) != NULL || err.code != CCOPY_EINVAL || !strstr(err.message, "source")) {
        fprintf(stderr, "a job without a source was not refused: %s\n", err.message);
        return 3;
    }

    snprintf(sink, sizeof sink, "dir:%s", argv[3]);
    if (ccopy_options_set(opts, "source", argv[1], &err) || ccopy_options_set(opts, "db", argv[2], &err) ||
        ccopy_options_set(opts, "sink", sink, &err) || ccopy_options_set(opts, "step", "1d", &err) ||
        ccopy_options_set(opts, "compress", "zstd", &err)) {
        fprintf(stderr, "setting options failed: %s\n", err.message);
        return 3;
    }
    job = ccopy_job_new(opts, &err);
    ccopy_options_destroy(opts); /* the job keeps its own copy */
    if (!job) {
        fprintf(stderr, "job: %s\n", err.message);
        return 3;
    }
    memset(&seen, 0, sizeof seen);
    ccopy_job_set_progress(job, on_progress, &seen);
    ccopy_job_set_log(job, on_log, &seen);
    rc = ccopy_job_run(job, &err);
    summary = ccopy_job_summary_json(job);
    printf("{\"rc\": %d, \"progress_calls\": %d, \"phases_done\": %d, \"went_backwards\": %d, "
           "\"warnings\": %d, \"summary\": %s}\n",
           rc, seen.progress_calls, seen.phases_done, seen.went_backwards, seen.warnings, summary);
    if (rc != 0)
        fprintf(stderr, "run: %s (%s)\n", err.message, ccopy_code_name(err.code));
    ccopy_free(summary);
    ccopy_job_destroy(job);
    ccopy_cleanup();
    return rc == 0 ? 0 : 1;
}
