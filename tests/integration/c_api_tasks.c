/*
 * A C program driving a job in steps: plan, inspect and serialise the tasks, run one task, then
 * the rest, and read the results through the typed accessors; then a job stopped by its progress
 * callback, and one that continues it. Prints one JSON record. Used by test_c_api.py.
 *
 * Usage: c_api_tasks URI DB DIR FROM UNTIL   (the stopped job and its continuation use DIR-stop)
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cosmocopy/cosmocopy.h>

static ccopy_job_t *make_job(char **argv, const char *suffix, ccopy_error_t *err)
{
    ccopy_options_t *opts = ccopy_options_new();
    ccopy_job_t *job = NULL;
    char sink[1024];
    snprintf(sink, sizeof sink, "dir:%s%s", argv[3], suffix);
    if (ccopy_options_set(opts, "source", argv[1], err) == 0 &&
        ccopy_options_set(opts, "db", argv[2], err) == 0 &&
        ccopy_options_set(opts, "sink", sink, err) == 0 &&
        ccopy_options_set(opts, "mode", "range", err) == 0 &&
        ccopy_options_set(opts, "from", argv[4], err) == 0 &&
        ccopy_options_set(opts, "until", argv[5], err) == 0 &&
        ccopy_options_set(opts, "step", "1d", err) == 0 &&
        ccopy_options_set(opts, "parallel", "2", err) == 0)
        job = ccopy_job_new(opts, err);
    ccopy_options_destroy(opts);
    return job;
}

static const char *state_name(ccopy_task_state_t s)
{
    static const char *const names[] = {"pending", "running", "done", "failed", "stopped"};
    return names[s];
}

static void print_tasks(ccopy_job_t *job)
{
    size_t i, n = ccopy_job_task_count(job);
    printf("[");
    for (i = 0; i < n; i++) {
        ccopy_task_info_t t = CCOPY_TASK_INFO_INIT;
        char *json = ccopy_job_task_json(job, i);
        ccopy_job_get_task(job, i, &t);
        printf("%s{\"json\": %s, \"start\": %lld, \"end\": %lld, \"state\": \"%s\", "
               "\"documents\": %lld, \"sha256\": \"%s\", \"data\": \"%s\"}",
               i ? ", " : "", json, (long long)t.window.start, (long long)t.window.end,
               state_name(t.state), (long long)t.documents, t.sha256, t.data ? t.data : "");
        ccopy_free(json);
    }
    printf("]");
}

/* Stops the job the first time it reports copying. */
static int stop_when_copying(const ccopy_progress_t *p, void *user_data)
{
    int *calls = user_data;
    (*calls)++;
    return p->phase == CCOPY_PHASE_COPYING ? 7 : 0;
}

int main(int argc, char **argv)
{
    ccopy_error_t err;
    ccopy_summary_t s = CCOPY_SUMMARY_INIT;
    ccopy_progress_t small;
    ccopy_job_t *job;
    size_t i, n;
    int rc_plan, rc_one, rc_bad, rc_rest, rc_finish, rc_again, rc_stopped, rc_continue, rc_small, calls = 0;
    int64_t stop_cause;
    char *summary;

    if (argc != 6)
        return 2;
    ccopy_init();
    job = make_job(argv, "", &err);
    if (!job) {
        fprintf(stderr, "job: %s\n", err.message);
        return 3;
    }
    rc_plan = ccopy_job_plan(job, &err);
    n = ccopy_job_task_count(job);
    printf("{\"rc_plan\": %d, \"planned\": ", rc_plan);
    print_tasks(job);
    rc_one = n > 0 ? ccopy_job_run_task(job, 0, &err) : -100;
    printf(", \"rc_one\": %d, \"after_one\": ", rc_one);
    print_tasks(job);
    ccopy_job_get_summary(job, &s);
    printf(", \"written_after_one\": %lld, \"status_after_one\": \"%s\"", (long long)s.windows_written,
           ccopy_job_status_name(s.status));
    rc_bad = ccopy_job_run_task(job, n + 5, &err);
    printf(", \"rc_bad\": %d, \"bad_message\": \"%s\"", rc_bad, err.message);
    rc_rest = ccopy_job_run_tasks(job, NULL, 0, &err);
    rc_finish = ccopy_job_finish(job, &err);
    rc_again = ccopy_job_run_task(job, 0, &err);
    printf(", \"rc_rest\": %d, \"rc_finish\": %d, \"rc_again\": %d, \"tasks\": ", rc_rest, rc_finish,
           rc_again);
    print_tasks(job);
    ccopy_job_get_summary(job, &s);
    printf(", \"typed\": {\"status\": \"%s\", \"windows_planned\": %lld, \"windows_written\": %lld, "
           "\"documents\": %lld, \"bytes\": %lld, \"database\": \"%s\", \"collections\": %zu, "
           "\"windows\": [",
           ccopy_job_status_name(s.status), (long long)s.windows_planned,
           (long long)s.windows_written, (long long)s.documents, (long long)s.bytes, s.database,
           s.collection_count);
    for (i = 0; i < s.window_count; i++) {
        ccopy_manifest_t m;
        if (ccopy_job_get_window(job, i, &m) != 0)
            break;
        printf("%s{\"collection\": \"%s\", \"start\": %lld, \"documents\": %lld, \"sha256\": \"%s\", "
               "\"data\": \"%s\"}",
               i ? ", " : "", m.collection, (long long)m.window.start, (long long)m.documents,
               m.sha256, m.data);
        ccopy_manifest_cleanup(&m);
    }
    printf("], \"collection_names\": [");
    for (i = 0; i < s.collection_count; i++) {
        ccopy_collection_result_t c = CCOPY_COLLECTION_RESULT_INIT;
        ccopy_job_get_collection(job, i, &c);
        printf("%s\"%s\"", i ? ", " : "", c.name);
    }
    summary = ccopy_job_summary_json(job);
    printf("]}, \"summary\": %s", summary);
    ccopy_free(summary);
    /* a caller compiled against an older, smaller progress struct gets only what it knows */
    memset(&small, 0x5a, sizeof small);
    small.size = offsetof(ccopy_progress_t, windows_total);
    rc_small = ccopy_job_get_progress(job, &small);
    printf(", \"rc_small\": %d, \"small_phase\": %d, \"small_untouched\": %d", rc_small,
           (int)small.phase, small.windows_total == 0x5a5a5a5a5a5a5a5aLL);
    small.size = 0;
    printf(", \"rc_size0\": %d", ccopy_job_get_progress(job, &small));
    ccopy_job_destroy(job);

    /* a job stopped by its callback, then one that continues where it stopped */
    job = make_job(argv, "-stop", &err);
    ccopy_job_set_progress(job, stop_when_copying, &calls);
    rc_stopped = ccopy_job_run(job, &err);
    stop_cause = err.cause;
    ccopy_job_get_summary(job, &s);
    printf(", \"rc_stopped\": %d, \"stop_cause\": %lld, \"stop_message\": \"%s\", "
           "\"stop_status\": \"%s\"",
           rc_stopped, (long long)stop_cause, err.message, ccopy_job_status_name(s.status));
    ccopy_job_destroy(job);
    job = make_job(argv, "-stop", &err);
    rc_continue = ccopy_job_run(job, &err);
    ccopy_job_get_summary(job, &s);
    printf(", \"rc_continue\": %d, \"continue_written\": %lld, \"continue_complete\": %lld}\n",
           rc_continue, (long long)s.windows_written, (long long)s.windows_already_complete);
    ccopy_job_destroy(job);
    ccopy_cleanup();
    return 0;
}
