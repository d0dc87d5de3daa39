/*
 * cosmocopy plan: the windows that cover a range, with their ObjectId bounds.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void print_hex(const uint8_t *bytes, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        printf("%02x", bytes[i]);
}

static void print_bound(int64_t t)
{
    uint8_t oid[12];
    if (ccopy_oid_from_time(oid, t, NULL) == 0) {
        putchar('"');
        print_hex(oid, 12);
        putchar('"');
    } else {
        printf("null"); /* 2^32: no ObjectId is that late, so the window has no upper bound */
    }
}

/* A flag of plan, where a value should be: the value was forgotten. */
static int is_plan_flag(const char *a)
{
    static const char *const flags[] = {"--from", "--to", "--step", "--json", "--help"};
    size_t i;
    for (i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(a, flags[i]) == 0)
            return 1;
    return 0;
}

int cmd_plan(int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *step_text = "4h";
    int json = 0, i;
    int64_t now = (int64_t)time(NULL), start, end, step;
    ccopy_window_t *windows;
    size_t count, k;
    ccopy_error_t e;

    json_failure_summary_for("plan", argc, argv);
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(plan_help, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0 || strcmp(a, "--step") == 0) {
            if (i + 1 >= argc)
                return usage_error("plan", "%s needs a value", a);
            if (is_plan_flag(argv[i + 1]))
                return usage_error("plan", "%s needs a value (found the flag %s after it)", a,
                                   argv[i + 1]);
            if (a[2] == 'f')
                from = argv[++i];
            else if (a[2] == 't')
                to = argv[++i];
            else
                step_text = argv[++i];
        } else {
            return usage_error("plan", "unknown argument \"%s\"", a);
        }
    }
    if (!from || !to)
        return usage_error("plan", "%s", "--from and --to are required");
    /* each message names the flag, as the other commands' do */
    if (ccopy_time_parse(&start, from, now, &e) != 0)
        return flag_error("plan", "--from", &e);
    if (ccopy_time_parse(&end, to, now, &e) != 0)
        return flag_error("plan", "--to", &e);
    if (ccopy_duration_parse(&step, step_text, &e) != 0)
        return flag_error("plan", "--step", &e);
    if (step < ccopy_option_find("step")->min) {
        snprintf(e.message, sizeof e.message, "invalid step %llds: must be positive",
                 (long long)step);
        return flag_error("plan", "--step", &e);
    }
    if (step > ccopy_option_find("step")->max) {
        snprintf(e.message, sizeof e.message, "%s is above the maximum %llds (as for backup)",
                 step_text, (long long)ccopy_option_find("step")->max);
        return flag_error("plan", "--step", &e);
    }
    if (start >= end) { /* as the job commands say it */
        snprintf(e.message, sizeof e.message,
                 "range from %s to %s is empty: --from must be before --to", from, to);
        print_error("plan", &e);
        return EXIT_USAGE;
    }
    if (ccopy_plan_cut(&windows, &count, start, end, step, &e) != 0) {
        print_error("plan", &e);
        return EXIT_USAGE;
    }
    if (json)
        printf("{\"windows\": [");
    for (k = 0; k < count; k++) {
        char a[CCOPY_TIME_TEXT_SIZE], b[CCOPY_TIME_TEXT_SIZE];
        ccopy_time_format(a, windows[k].start, NULL);
        ccopy_time_format(b, windows[k].end, NULL);
        if (json) {
            printf("%s{\"start\": \"%s\", \"end\": \"%s\", \"start_epoch\": %lld, \"end_epoch\": %lld, \"lo\": ",
                   k ? ", " : "", a, b, (long long)windows[k].start, (long long)windows[k].end);
            print_bound(windows[k].start);
            printf(", \"hi\": ");
            print_bound(windows[k].end);
            printf("}");
        } else {
            printf("%s  %s  ", a, b);
            print_bound(windows[k].start);
            printf("  ");
            print_bound(windows[k].end);
            printf("\n");
        }
    }
    if (json)
        printf("]}\n");
    ccopy_free(windows);
    return EXIT_OK;
}

