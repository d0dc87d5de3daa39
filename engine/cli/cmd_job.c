/*
 * backup, replicate, restore and verify: run the job the flags describe, relay its log, and
 * print its summary (a table for verify and restore --dry-run, or JSON).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "cli.h"

typedef struct log_ctx {
    int quiet;
    int tty;
    const char *command;
} log_ctx_t;

static int on_log(ccopy_log_level_t level, const char *message, void *user_data)
{
    log_ctx_t *ctx = user_data;
    char text[1024];
    if (level == CCOPY_LOG_INFO && ctx->quiet)
        return 0;
    say_flags(text, sizeof text, ctx->command, message);
    message = text;
    if (ctx->tty)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "%s: %s%s\n", prog,
            level == CCOPY_LOG_ERROR     ? "error: "
            : level == CCOPY_LOG_WARNING ? "warning: "
                                         : "",
            message);
    return 0;
}

/* What `ps` shows is the argument memory itself: mask secrets there, and wipe what the masking
 * shortened, so a connection string's password does not stay visible for the whole run. */
/* A window's bounds as the tables show them. */
static void window_bounds(char *start, char *end, ccopy_manifest_kind_t kind, const ccopy_window_t *w)
{
    if (kind != CCOPY_MANIFEST_WINDOW || ccopy_time_format(start, w->start, NULL) != 0 ||
        ccopy_time_format(end, w->end, NULL) != 0) {
        strcpy(start, "(non-ObjectId _id)");
        strcpy(end, "-");
    }
}

static void print_dry_run(ccopy_job_t *job)
{
    ccopy_summary_t s = CCOPY_SUMMARY_INIT;
    int64_t windows = 0, documents = 0, bytes = 0, stored = 0, partial = 0;
    size_t i, n = ccopy_job_task_count(job);
    char sb[32], ss[32];
    printf("%-12s %-16s %-20s %-20s %10s %10s %10s %s\n", "DATABASE", "COLLECTION", "START", "END",
           "DOCUMENTS", "BYTES", "STORED", "DATA");
    for (i = 0; i < n; i++) {
        ccopy_task_info_t t = CCOPY_TASK_INFO_INIT;
        char start[CCOPY_TIME_TEXT_SIZE + 24], end[CCOPY_TIME_TEXT_SIZE];
        if (ccopy_job_get_task(job, i, &t) != 0)
            break;
        window_bounds(start, end, t.kind, &t.window);
        cli_format_bytes(sb, sizeof sb, (double)t.bytes);
        cli_format_bytes(ss, sizeof ss, (double)t.stored_bytes);
        printf("%-12s %-16s %-20s %-20s %10lld %10s %10s %s%s\n", t.database ? t.database : "-",
               t.collection, start, end, (long long)t.documents, sb, ss, t.data ? t.data : "-",
               t.partial ? "  (only documents before --until)" : "");
        windows++;
        partial += t.partial;
        documents += t.documents;
        bytes += t.bytes;
        stored += t.stored_bytes;
    }
    ccopy_job_get_summary(job, &s);
    cli_format_bytes(sb, sizeof sb, (double)bytes);
    cli_format_bytes(ss, sizeof ss, (double)stored);
    printf("dry run: would restore %lld window%s, %s%lld document%s, %s (%s stored) into database %s; "
           "nothing was written\n",
           (long long)windows, plural(windows), partial ? "at most " : "", (long long)documents,
           plural(documents), sb, ss, s.target_database ? s.target_database : "?");
}

static void print_verify_report(ccopy_job_t *job, int rc)
{
    ccopy_summary_t s = CCOPY_SUMMARY_INIT;
    size_t i, k;
    printf("%-16s %-20s %-20s %10s %10s %-8s %s\n", "COLLECTION", "START", "END", "SOURCE", "BACKUP",
           "SHA256", "STATUS");
    ccopy_job_get_summary(job, &s);
    for (i = 0; i < s.verdict_count; i++) {
        ccopy_verdict_t v = CCOPY_VERDICT_INIT;
        char start[CCOPY_TIME_TEXT_SIZE + 24], end[CCOPY_TIME_TEXT_SIZE];
        if (ccopy_job_get_verdict(job, i, &v) != 0)
            break;
        window_bounds(start, end, v.kind, &v.window);
        printf("%-16s %-20s %-20s %10lld %10lld %-8s %s\n", v.collection, start, end,
               (long long)v.source_documents, (long long)v.backup_documents,
               !v.sha256_checked ? "-" : v.sha256_ok ? "ok" : "mismatch",
               v.differs ? "differs" : "ok");
        if (v.differs)
            printf("    %s\n", v.problem ? v.problem : "");
        for (k = 0; k < v.example_count; k++)
            printf("    %s\n", v.examples[k]);
    }
    if (rc == 0)
        printf("verified %lld window%s: %s\n", (long long)s.windows_verified,
               plural(s.windows_verified), s.windows_verified == 1 ? "it matches" : "all match");
    else if (rc == CCOPY_EMISMATCH)
        printf("verified %lld window%s: %lld differ%s\n", (long long)s.windows_verified,
               plural(s.windows_verified), (long long)s.windows_differing,
               s.windows_differing == 1 ? "s" : "");
}

/* Whether the job got as far as windows: checked, compared, skipped as complete, read or failed. */
static int did_work(ccopy_job_t *job)
{
    ccopy_progress_t p = CCOPY_PROGRESS_INIT;
    ccopy_job_get_progress(job, &p);
    return p.windows_done + p.windows_failed + p.windows_already_complete + p.windows_verified +
               p.documents + p.documents_written >
           0;
}

static void print_job_summary(const job_command_t *cmd, ccopy_job_t *job, const char *where, int rc)
{
    ccopy_progress_t p = CCOPY_PROGRESS_INIT;
    char docs[32], bytes[32], stored[32], rate[32];
    const char *verb = cmd->kind == CCOPY_JOB_RESTORE ? "restored" : "written";

    if (cmd->kind == CCOPY_JOB_VERIFY) {
        print_verify_report(job, rc);
        return;
    }
    ccopy_job_get_progress(job, &p);
    cli_format_count(docs, sizeof docs, p.documents_written);
    cli_format_bytes(bytes, sizeof bytes, (double)p.bytes_written);
    cli_format_bytes(stored, sizeof stored, (double)p.stored_bytes);
    cli_format_count(rate, sizeof rate, (int64_t)p.documents_per_second);
    printf("%s %s: %lld window%s %s", cmd->name, rc == 0 ? "complete" : "incomplete",
           (long long)p.windows_done, plural(p.windows_done), verb);
    if (cmd->kind == CCOPY_JOB_RESTORE)
        printf(" (%lld checked first)", (long long)p.windows_verified);
    else
        printf(", %lld already complete", (long long)p.windows_already_complete);
    printf(", %lld failed\n", (long long)p.windows_failed);
    if (cmd->kind == CCOPY_JOB_BACKUP)
        printf("  %s document%s, %s (%s stored) in %.1f s, %s docs/s, %lld retr%s\n", docs,
               plural(p.documents_written), bytes, stored, p.elapsed_seconds, rate, (long long)p.retries,
               p.retries == 1 ? "y" : "ies");
    else
        printf("  %s document%s, %s in %.1f s, %s docs/s, %lld retr%s\n", docs, plural(p.documents_written),
               bytes, p.elapsed_seconds, rate, (long long)p.retries, p.retries == 1 ? "y" : "ies");
    if (cmd->kind != CCOPY_JOB_RESTORE)
        printf("  source: %.0f RU charged%s (%.0f RU/s), ", p.ru_charged,
               p.ru_estimated ? " (estimated)" : "", p.ru_per_second);
    else
        printf("  ");
    printf("%lld throttled, %.1f s backing off, %.1f s paced\n", (long long)p.throttle_events,
           p.retry_wait_seconds, p.pacing_wait_seconds);
    if (cmd->kind != CCOPY_JOB_BACKUP)
        printf("  target: %.0f RU charged (estimated unless the server reports charges)\n",
               p.target_ru_charged);
    if (p.documents_rejected > 0)
        printf("  %lld document%s refused by the target (see the warnings)\n",
               (long long)p.documents_rejected, plural(p.documents_rejected));
    if (p.windows_done > 0)
        printf("  %s to %s\n", verb, where);
    else
        printf("  no window %s to %s\n", verb, where);
}

/* --json when the job could not even be made: the status and error fields of a summary. */
void print_failure_json(const char *command, const ccopy_error_t *e)
{
    bson_t doc = BSON_INITIALIZER, err;
    char *json;
    BSON_APPEND_UTF8(&doc, "status", "failed");
    BSON_APPEND_DOCUMENT_BEGIN(&doc, "error", &err);
    BSON_APPEND_UTF8(&err, "code", ccopy_code_name(e->code));
    BSON_APPEND_UTF8(&err, "domain", ccopy_domain_name(e->domain));
    BSON_APPEND_INT64(&err, "cause", e->cause);
    BSON_APPEND_UTF8(&err, "message", e->message);
    bson_append_document_end(&doc, &err);
    BSON_APPEND_UTF8(&doc, "command", command);
    json = bson_as_relaxed_extended_json(&doc, NULL);
    printf("%s\n", json);
    bson_free(json);
    bson_destroy(&doc);
}

int cmd_job(const job_command_t *cmd, int argc, char **argv)
{
    ccopy_options_t *opts = ccopy_options_new();
    int json = 0, quiet = 0, rc = EXIT_OK, dry_run;
    ccopy_error_t e;
    ccopy_job_t *job;
    log_ctx_t log_ctx;
    char where[1024];

    if (parse_job_arguments(cmd, argc, argv, opts, &json, &quiet, &rc) != 0) {
        ccopy_options_destroy(opts);
        return rc;
    }
    job = ccopy_job_new_kind(cmd->kind, opts, &e);
    {
        const char *w = cmd->kind == CCOPY_JOB_BACKUP ? ccopy_options_get(opts, "sink")
                                                      : ccopy_options_get(opts, "target");
        snprintf(where, sizeof where, "%s", w ? w : "");
        ccopy_mask_secrets(where);
    }
    dry_run = ccopy_options_get(opts, "dry_run") && strcmp(ccopy_options_get(opts, "dry_run"), "yes") == 0;
    ccopy_options_destroy(opts);
    if (!job) {
        if (json)
            print_failure_json(cmd->name, &e);
        print_error(cmd->name, &e);
        return EXIT_USAGE;
    }
    log_ctx.quiet = quiet;
    log_ctx.command = cmd->name;
    log_ctx.tty = isatty(STDERR_FILENO);
    ccopy_job_set_log(job, on_log, &log_ctx);
    if (!quiet && log_ctx.tty)
        ccopy_job_set_progress(job, cli_progress, NULL);

    catch_stop_signals(job);
    rc = ccopy_job_run(job, &e);
    catch_stop_signals(NULL);
    cli_progress_end();

    if (json) {
        char *summary = ccopy_job_summary_json(job);
        printf("%s\n", summary);
        ccopy_free(summary);
    } else if (dry_run && rc == 0) {
        print_dry_run(job);
    } else if ((!quiet || cmd->kind == CCOPY_JOB_VERIFY) && (rc == 0 || did_work(job))) {
        print_job_summary(cmd, job, where, rc); /* a job that failed before any work: the error says it all */
    }
    if (rc != 0)
        print_error(cmd->name, &e);
    ccopy_job_destroy(job);
    return rc == 0 ? EXIT_OK : exit_code_for(rc);
}

