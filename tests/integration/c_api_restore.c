/*
 * A C service that restores a folder backup into another database and then verifies it against
 * the source, through ccopy_job_new_kind(). Prints {"restore": {"rc", "summary"}, "verify": {...}}.
 * Used by test_c_api.py.
 *
 * Usage: c_api_restore URI DB DIR TARGET_DB
 */
#include <stdio.h>
#include <string.h>

#include <cosmocopy/cosmocopy.h>

static int run(ccopy_job_kind_t kind, const ccopy_options_t *opts, const char *name, int last)
{
    ccopy_error_t err;
    ccopy_job_t *job = ccopy_job_new_kind(kind, opts, &err);
    char *summary;
    int rc;
    if (!job) {
        fprintf(stderr, "%s: %s\n", name, err.message);
        return -100;
    }
    rc = ccopy_job_run(job, &err);
    if (rc != 0)
        fprintf(stderr, "%s: %s (%s)\n", name, err.message, ccopy_code_name(rc));
    summary = ccopy_job_summary_json(job);
    printf("\"%s\": {\"rc\": %d, \"summary\": %s}%s", name, rc, summary, last ? "" : ", ");
    ccopy_free(summary);
    ccopy_job_destroy(job);
    return rc;
}

int main(int argc, char **argv)
{
    ccopy_options_t *opts;
    char sink[1024];
    int rc;

    if (argc != 5)
        return 2;
    ccopy_init();
    snprintf(sink, sizeof sink, "dir:%s", argv[3]);
    opts = ccopy_options_new();
    if (ccopy_options_set(opts, "sink", sink, NULL) != 0 || ccopy_options_set(opts, "target", argv[1], NULL) != 0 ||
        ccopy_options_set(opts, "db", argv[2], NULL) != 0 ||
        ccopy_options_set(opts, "target_db", argv[4], NULL) != 0 ||
        ccopy_options_set(opts, "parallel", "2", NULL) != 0)
        return 2;
    printf("\n{");
    rc = run(CCOPY_JOB_RESTORE, opts, "restore", 0);
    /* the same options verify the backup against the source, with a document hash each */
    ccopy_options_unset(opts, "target", NULL);
    ccopy_options_unset(opts, "target_db", NULL);
    ccopy_options_set(opts, "source", argv[1], NULL);
    ccopy_options_set(opts, "deep", "yes", NULL);
    rc |= run(CCOPY_JOB_VERIFY, opts, "verify", 1);
    printf("}\n");
    ccopy_options_destroy(opts);
    ccopy_cleanup();
    return rc == 0 ? 0 : 1;
}
