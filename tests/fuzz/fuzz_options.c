/*
 * Option validation: any option names and values (one "name=value" a line; a line without '='
 * sets the name with no value) go through ccopy_options_set, then a job of every kind is made
 * from them and destroyed. Each step works or fails with a message; nothing crashes or leaks.
 * Making a job checks its options only: it opens no connection, no folder and no container.
 */
#include "cosmocopy/job.h"
#include "cosmocopy/options.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size), *line, *save = NULL;
    ccopy_options_t *options = ccopy_options_new(), *copy;
    ccopy_error_t error;
    size_t i;
    int kind;

    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (eq)
            *eq = '\0';
        memset(&error, 0, sizeof error);
        if (ccopy_options_set(options, line, eq ? eq + 1 : NULL, &error) != 0)
            FUZZ_CHECK(error.code == CCOPY_EINVAL && error.message[0], "option %s", line);
        else
            FUZZ_CHECK(eq && ccopy_option_find(line), "%s set without a value", line);
    }
    /* every value reads back as its type says */
    for (i = 0; i < ccopy_option_count(); i++) {
        const ccopy_option_info_t *info = ccopy_option_get_info(i);
        size_t k, n = ccopy_options_get_count(options, info->name);
        if (info->type == CCOPY_OPTION_INT || info->type == CCOPY_OPTION_DURATION) {
            int64_t v = ccopy_options_get_int(options, info->name);
            FUZZ_CHECK(ccopy_options_get(options, info->name) == NULL ||
                           (v >= info->min && v <= info->max),
                       "%s out of bounds", info->name);
        }
        for (k = 0; k < n; k++)
            FUZZ_CHECK(ccopy_options_get_nth(options, info->name, k) != NULL, "%s", info->name);
    }
    copy = ccopy_options_copy(options);
    for (kind = -1; kind <= CCOPY_JOB_VERIFY + 1; kind++) {
        ccopy_job_t *job;
        memset(&error, 0, sizeof error);
        job = ccopy_job_new_kind((ccopy_job_kind_t)kind, copy, &error);
        if (!job)
            FUZZ_CHECK(error.code != 0 && error.message[0], "kind %d failed without a message", kind);
        else
            FUZZ_CHECK(kind >= CCOPY_JOB_BACKUP && kind <= CCOPY_JOB_VERIFY, "kind %d made", kind);
        ccopy_job_destroy(job);
    }
    ccopy_options_destroy(copy);
    ccopy_options_destroy(options);
    free(text);
    return 0;
}
