/*
 * The cosmocopy command: parses flags into library options and calls the library. Flags come
 * from the option table (options.h): `--batch-size 500` sets option batch_size. Exit codes:
 * 0 success, 1 the job failed, 2 bad usage or bad input. This file dispatches to the commands
 * (cmd_*.c) and holds what they share: messages, stop signals, libmongoc's log.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "cli.h"

const char *const prog = "cosmocopy";
static ccopy_job_t *running_job;

/* list and plan --json: the command whose failure summary is still owed on stdout. */
static const char *json_failure_command;

void json_failure_summary_for(const char *command, int argc, char **argv)
{
    int i;
    for (i = 0; i < argc; i++)
        if (strcmp(argv[i], "--json") == 0)
            json_failure_command = command;
}

/* The --json failure summary, once, when the command owes one. */
static void owe_failure_json(const ccopy_error_t *e)
{
    if (json_failure_command) {
        print_failure_json(json_failure_command, e);
        json_failure_command = NULL;
    }
}

/* A usage error as the library's error: EINVAL with the message. */
static void owe_usage_json(const char *message)
{
    ccopy_error_t e;
    if (!json_failure_command)
        return;
    memset(&e, 0, sizeof e);
    e.code = CCOPY_EINVAL;
    e.domain = CCOPY_DOMAIN_ENGINE;
    snprintf(e.message, sizeof e.message, "%s", message);
    owe_failure_json(&e);
}

/* The message may quote what was typed (--source=mongodb://user:password@...): masked. */
int usage_error(const char *command, const char *fmt, ...)
{
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    ccopy_mask_secrets(message);
    owe_usage_json(message);
    fprintf(stderr, "%s %s: %s\nRun '%s %s --help' for usage.\n", prog, command, message, prog,
            command);
    return EXIT_USAGE;
}

/* "s" unless n is one: "1 window", "2 windows", "0 windows". */
const char *plural(int64_t n)
{
    return n == 1 ? "" : "s";
}

int exit_code_for(int code)
{
    return code == CCOPY_EINVAL ? EXIT_USAGE : code == CCOPY_EMISMATCH ? EXIT_DIFFERENT : EXIT_JOB_FAILED;
}

void print_error(const char *command, const ccopy_error_t *e)
{
    char message[1024];
    owe_failure_json(e);
    say_flags(message, sizeof message, command, e->message);
    fprintf(stderr, "%s %s: error: %s\n", prog, command, message);
}

int flag_error(const char *command, const char *flag, const ccopy_error_t *e)
{
    if (json_failure_command) {
        char message[sizeof e->message + 64];
        snprintf(message, sizeof message, "%s: %s", flag, e->message);
        owe_usage_json(message);
    }
    fprintf(stderr, "%s %s: error: %s: %s\n", prog, command, flag, e->message);
    return EXIT_USAGE;
}

static void on_signal(int sig)
{
    if (running_job)
        ccopy_job_cancel(running_job);
    signal(sig, SIG_DFL); /* a second Ctrl-C (or SIGTERM) stops at once */
}

/* While a job runs, SIGINT and SIGTERM cancel it (cleanly: nothing incomplete is marked
 * complete); before and after, they have their default effect, so a command blocked printing
 * its summary into a full pipe still ends when asked to. */
void catch_stop_signals(ccopy_job_t *job)
{
    struct sigaction sa;
    if (job)
        running_job = job;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = job ? on_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!job)
        running_job = NULL;
}

/* libmongoc's own log lines (such as "Couldn't send endSessions" to servers without sessions)
 * are noise for a person; errors are reported by the library itself. Only its errors pass. */
static void on_mongoc_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    (void)data;
    /* an option the driver does not know is ignored: most likely a typo (retrywrite=false) */
    if (level == MONGOC_LOG_LEVEL_WARNING && strncmp(message, "Unsupported URI option", 22) == 0) {
        fprintf(stderr, "%s: warning: connection string: %s (ignored)\n", prog, message);
        return;
    }
    /* the "mongoc" domain is the URI parser's, whose error the library reports in its own words */
    if (level <= MONGOC_LOG_LEVEL_ERROR && strcmp(domain, "mongoc") != 0)
        fprintf(stderr, "%s: %s: %s\n", prog, domain, message);
}

int main(int argc, char **argv)
{
    static char help_flag[] = "--help";
    int rc;
    if (argc == 3 && strcmp(argv[1], "help") == 0 && strcmp(argv[2], "help") != 0) {
        /* "cosmocopy help backup" is "cosmocopy backup --help" */
        argv[1] = argv[2];
        argv[2] = help_flag;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(main_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("cosmocopy %s\n", ccopy_version());
        return EXIT_OK;
    }
    /* before the driver starts: mongoc_init() itself may warn (shared-memory counters it
     * cannot map fall back to malloc), and only the driver's errors are for the user */
    mongoc_log_set_handler(on_mongoc_log, NULL);
    ccopy_init();
    if (load_spellings() != 0) {
        ccopy_cleanup();
        return EXIT_JOB_FAILED;
    }
    if (strcmp(argv[1], "plan") == 0)
        rc = cmd_plan(argc - 2, argv + 2);
    else if (strcmp(argv[1], "backup") == 0)
        rc = cmd_job(&job_commands[0], argc - 2, argv + 2);
    else if (strcmp(argv[1], "replicate") == 0)
        rc = cmd_job(&job_commands[1], argc - 2, argv + 2);
    else if (strcmp(argv[1], "restore") == 0)
        rc = cmd_job(&job_commands[2], argc - 2, argv + 2);
    else if (strcmp(argv[1], "verify") == 0)
        rc = cmd_job(&job_commands[3], argc - 2, argv + 2);
    else if (strcmp(argv[1], "list") == 0)
        rc = cmd_list(argc - 2, argv + 2);
    else if (strcmp(argv[1], "options") == 0)
        rc = cmd_options(argc - 2, argv + 2);
    else {
        ccopy_mask_secrets(argv[1]);
        fprintf(stderr, "%s: unknown command \"%s\"\n\n%s", prog, argv[1], main_help);
        rc = EXIT_USAGE;
    }
    ccopy_cleanup();
    return rc;
}
