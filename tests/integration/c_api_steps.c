/*
 * What a C caller driving a job in steps relies on, as job.h, catalog.h and results.h say it:
 * a job stopped by its callback runs its stopped tasks on the next ccopy_job_run_tasks() call;
 * a task that failed and then succeeded leaves no failure behind (finish returns 0); a read of
 * a window with no document callback still checks the documents against the manifest; verify's
 * tasks and verdicts read back whatever the caller's struct size; a NULL handle or output
 * pointer is CCOPY_EINVAL, never a crash. Prints one JSON record. Used by test_c_api.py.
 *
 * Usage: c_api_steps URI DB DIR FROM UNTIL BLOCKED
 *   BLOCKED: a folder made where one window's data file goes, so that window fails until the
 *   program removes it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cosmocopy/cosmocopy.h>

static ccopy_job_t *make_job(ccopy_job_kind_t kind, char **argv, ccopy_error_t *err)
{
    ccopy_options_t *opts = ccopy_options_new();
    ccopy_job_t *job = NULL;
    char sink[1024];
    snprintf(sink, sizeof sink, "dir:%s", argv[3]);
    if (ccopy_options_set(opts, "source", argv[1], err) == 0 &&
        ccopy_options_set(opts, "db", argv[2], err) == 0 &&
        ccopy_options_set(opts, "sink", sink, err) == 0 &&
        (kind == CCOPY_JOB_VERIFY || ccopy_options_set(opts, "mode", "range", err) == 0) &&
        ccopy_options_set(opts, "from", argv[4], err) == 0 &&
        ccopy_options_set(opts, "until", argv[5], err) == 0 &&
        ccopy_options_set(opts, "step", "1d", err) == 0 &&
        ccopy_options_set(opts, "parallel", "1", err) == 0)
        job = ccopy_job_new_kind(kind, opts, err);
    ccopy_options_destroy(opts);
    return job;
}

/* Stops the job (with 5) the first time it reports copying; lets it run after that. */
static int stop_once(const ccopy_progress_t *p, void *user_data)
{
    int *stopped = user_data;
    if (p->phase == CCOPY_PHASE_COPYING && !*stopped) {
        *stopped = 1;
        return 5;
    }
    return 0;
}

static void print_states(const char *key, ccopy_job_t *job)
{
    static const char *const names[] = {"pending", "running", "done", "failed", "stopped"};
    size_t i, n = ccopy_job_task_count(job);
    printf(", \"%s\": [", key);
    for (i = 0; i < n; i++) {
        ccopy_task_info_t t = CCOPY_TASK_INFO_INIT;
        ccopy_job_get_task(job, i, &t);
        printf("%s\"%s\"", i ? ", " : "", names[t.state]);
    }
    printf("]");
}

static int count_doc(const uint8_t *bson, size_t len, void *user_data)
{
    (void)bson;
    (void)len;
    (*(int *)user_data)++;
    return 0;
}

int main(int argc, char **argv)
{
    ccopy_error_t err;
    ccopy_summary_t s = CCOPY_SUMMARY_INIT;
    ccopy_job_t *job;
    int stopped = 0, rc, docs = 0;

    if (argc != 7)
        return 2;
    ccopy_init();

    /* 1. stopped, failed, then run again until every task is done */
    job = make_job(CCOPY_JOB_BACKUP, argv, &err);
    if (!job) {
        fprintf(stderr, "job: %s\n", err.message);
        return 3;
    }
    ccopy_job_set_progress(job, stop_once, &stopped);
    printf("{\"rc_plan\": %d", ccopy_job_plan(job, &err));
    rc = ccopy_job_run_tasks(job, NULL, 0, &err);
    printf(", \"rc_stopped\": %d, \"stopped_cause\": %lld", rc, (long long)err.cause);
    print_states("after_stop", job);
    rc = ccopy_job_run_tasks(job, NULL, 0, &err);
    printf(", \"rc_blocked\": %d", rc);
    print_states("after_blocked", job);
    rmdir(argv[6]);
    rc = ccopy_job_run_tasks(job, NULL, 0, &err);
    printf(", \"rc_unblocked\": %d", rc);
    print_states("after_unblocked", job);
    rc = ccopy_job_finish(job, &err);
    ccopy_job_get_summary(job, &s);
    printf(", \"rc_finish\": %d, \"status\": \"%s\", \"windows_written\": %lld, "
           "\"windows_failed\": %lld, \"error_notes\": %d",
           rc, ccopy_job_status_name(s.status), (long long)s.windows_written,
           (long long)s.windows_failed, ccopy_job_get_note(job, CCOPY_NOTE_ERROR, 0) != NULL);
    ccopy_job_destroy(job);

    /* 2. a manifest whose document count is wrong: the read without a callback finds it */
    {
        char location[1024];
        ccopy_catalog_t *cat;
        ccopy_manifest_t *m = NULL;
        size_t n = 0;
        snprintf(location, sizeof location, "dir:%s", argv[3]);
        cat = ccopy_catalog_open(location, &err);
        if (cat && ccopy_catalog_list(cat, &m, &n, NULL, NULL, &err) == 0 && n > 0) {
            printf(", \"rc_read_ok\": %d", ccopy_catalog_read_window(cat, &m[0], NULL, NULL, &err));
            m[0].documents += 1;
            printf(", \"rc_read_wrong_count\": %d, \"wrong_count_message\": \"%s\"",
                   ccopy_catalog_read_window(cat, &m[0], NULL, NULL, &err), err.message);
            m[0].documents -= 1;
            m[0].bytes += 1;
            printf(", \"rc_read_wrong_bytes\": %d",
                   ccopy_catalog_read_window(cat, &m[0], NULL, NULL, &err));
            m[0].bytes -= 1;
            rc = ccopy_catalog_read_window(cat, &m[0], count_doc, &docs, &err);
            printf(", \"rc_read_docs\": %d, \"docs\": %d", rc, docs);
        }
        printf(", \"rc_missing_catalog\": %d",
               ccopy_catalog_open("dir:/nonexistent/cosmocopy-test", &err) == NULL ? err.code : 0);
        ccopy_manifest_array_free(m, n);
        ccopy_catalog_destroy(cat);
    }

    /* 3. verify: tasks count what they compared; a verdict struct of an older, smaller size */
    job = make_job(CCOPY_JOB_VERIFY, argv, &err);
    rc = job ? ccopy_job_run(job, &err) : -100;
    printf(", \"rc_verify\": %d, \"verify_task_documents\": [", rc);
    {
        size_t i, n = ccopy_job_task_count(job);
        ccopy_verdict_t v;
        for (i = 0; i < n; i++) {
            ccopy_task_info_t t = CCOPY_TASK_INFO_INIT;
            ccopy_job_get_task(job, i, &t);
            printf("%s%lld", i ? ", " : "", (long long)t.documents);
        }
        memset(&v, 0x5a, sizeof v);
        v.size = offsetof(ccopy_verdict_t, differs) + sizeof v.differs;
        rc = ccopy_job_get_verdict(job, 0, &v); /* before its fields are read */
        printf("], \"rc_small_verdict\": %d, \"small_differs\": %d, \"small_untouched\": %d", rc,
               v.differs, v.source_documents == (int64_t)0x5a5a5a5a5a5a5a5aLL);
        v.size = 0;
        printf(", \"rc_verdict_size0\": %d", ccopy_job_get_verdict(job, 0, &v));
    }
    ccopy_job_destroy(job);

    /* 4. NULL handles and output pointers: CCOPY_EINVAL (or 0, NULL), never a crash */
    {
        ccopy_task_info_t t = CCOPY_TASK_INFO_INIT;
        ccopy_summary_t sum = CCOPY_SUMMARY_INIT;
        ccopy_collection_result_t c = CCOPY_COLLECTION_RESULT_INIT;
        ccopy_verdict_t v = CCOPY_VERDICT_INIT;
        ccopy_manifest_t m;
        size_t idx = 0, count;
        char *text;
        uint8_t oid[12];
        ccopy_window_t w = {0, 86400}, *ws;
        int64_t when;
        int results[40], k = 0, i;

        memset(&m, 0, sizeof m);
        ccopy_job_set_progress(NULL, stop_once, NULL);
        ccopy_job_set_log(NULL, NULL, NULL);
        ccopy_job_set_pace(NULL, 10);
        ccopy_job_cancel(NULL);
        ccopy_job_destroy(NULL);
        results[k++] = ccopy_options_set(NULL, "db", "x", &err);
        results[k++] = ccopy_options_unset(NULL, "db", &err);
        results[k++] = ccopy_options_get(NULL, "step") != NULL; /* the default: 1 */
        results[k++] = (int)ccopy_options_get_count(NULL, "collection");
        results[k++] = (int)ccopy_options_get_int(NULL, "parallel"); /* the default */
        results[k++] = ccopy_options_copy(NULL) != NULL;
        results[k++] = ccopy_job_new(NULL, &err) != NULL;
        results[k++] = ccopy_job_run(NULL, &err);
        results[k++] = ccopy_job_plan(NULL, &err);
        results[k++] = ccopy_job_plan_tasks(NULL, "[]", &err);
        results[k++] = (int)ccopy_job_task_count(NULL);
        results[k++] = ccopy_job_get_task(NULL, 0, &t);
        results[k++] = ccopy_job_task_json(NULL, 0) != NULL;
        results[k++] = ccopy_job_run_tasks(NULL, &idx, 1, &err);
        results[k++] = ccopy_job_run_task(NULL, 0, &err);
        results[k++] = ccopy_job_finish(NULL, &err);
        results[k++] = ccopy_job_summary_json(NULL) != NULL;
        results[k++] = ccopy_job_get_summary(NULL, &sum);
        results[k++] = ccopy_job_get_collection(NULL, 0, &c);
        results[k++] = ccopy_job_get_window(NULL, 0, &m);
        results[k++] = ccopy_job_get_verdict(NULL, 0, &v);
        results[k++] = ccopy_job_get_note(NULL, CCOPY_NOTE_ERROR, 0) != NULL;
        results[k++] = ccopy_job_get_progress(NULL, NULL);
        results[k++] = ccopy_catalog_list(NULL, NULL, NULL, NULL, NULL, &err);
        results[k++] = ccopy_catalog_read_window(NULL, NULL, NULL, NULL, &err);
        results[k++] = ccopy_manifest_to_json(NULL, &m, &err);
        text = NULL;
        results[k++] = ccopy_manifest_to_json(&text, NULL, &err);
        results[k++] = ccopy_manifest_from_json(NULL, "{}", 2, &err);
        results[k++] = ccopy_manifest_from_json(&m, NULL, 0, &err);
        results[k++] = ccopy_time_parse(NULL, "now", 0, &err);
        results[k++] = ccopy_time_parse(&when, NULL, 0, &err);
        results[k++] = ccopy_duration_parse(NULL, "4h", &err);
        results[k++] = ccopy_time_format(NULL, 0, &err);
        results[k++] = ccopy_oid_from_time(NULL, 0, &err);
        results[k++] = (int)ccopy_oid_get_time(NULL);
        results[k++] = ccopy_plan_cut(NULL, NULL, 0, 86400, 3600, &err);
        results[k++] = ccopy_window_split(NULL, &count, &w, 2, &err);
        results[k++] = ccopy_window_split(&ws, NULL, &w, 2, &err);
        ccopy_duration_format(NULL, 60);
        ccopy_manifest_cleanup(NULL);
        (void)oid;
        printf(", \"null_results\": [");
        for (i = 0; i < k; i++)
            printf("%s%d", i ? ", " : "", results[i]);
        printf("], \"last_null_message\": \"%s\"", err.message);
    }
    printf("}\n");
    ccopy_cleanup();
    return 0;
}
