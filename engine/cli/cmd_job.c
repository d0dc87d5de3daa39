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

static void on_log(ccopy_log_level_t level, const char *message, void *user_data)
{
    log_ctx_t *ctx = user_data;
    char text[1024];
    if (level == CCOPY_LOG_INFO && ctx->quiet)
        return;
    say_flags(text, sizeof text, ctx->command, message);
    message = text;
    if (ctx->tty)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "%s: %s%s\n", prog,
            level == CCOPY_LOG_ERROR     ? "error: "
            : level == CCOPY_LOG_WARNING ? "warning: "
                                         : "",
            message);
}

/* What `ps` shows is the argument memory itself: mask secrets there, and wipe what the masking
 * shortened, so a connection string's password does not stay visible for the whole run. */
/* The summary as BSON, to print tables from (restore --dry-run, verify). */
static bson_t *summary_bson(ccopy_job_t *job)
{
    char *summary = ccopy_job_summary_json(job);
    bson_t *doc = bson_new_from_json((const uint8_t *)summary, -1, NULL);
    ccopy_free(summary);
    return doc;
}

static const char *field_text(const bson_t *doc, const char *key, const char *otherwise)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL)
                                                                            : otherwise;
}

static int64_t field_int(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 0;
}

static int field_bool(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
}

/* Call fn for each document of the summary's array key. */
static void each_entry(const bson_t *summary, const char *key, void (*fn)(const bson_t *entry, void *data),
                       void *data)
{
    bson_iter_t it, arr;
    if (!summary || !bson_iter_init_find(&it, summary, key) || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &arr))
        return;
    while (bson_iter_next(&arr)) {
        const uint8_t *data_ptr;
        uint32_t len;
        bson_t entry;
        if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
            continue;
        bson_iter_document(&arr, &len, &data_ptr);
        if (bson_init_static(&entry, data_ptr, len))
            fn(&entry, data);
    }
}

typedef struct totals {
    int64_t windows, documents, bytes, stored, partial;
} totals_t;

static void print_planned(const bson_t *m, void *data)
{
    totals_t *t = data;
    char sb[32], ss[32];
    cli_format_bytes(sb, sizeof sb, (double)field_int(m, "bytes"));
    cli_format_bytes(ss, sizeof ss, (double)field_int(m, "stored_bytes"));
    printf("%-12s %-16s %-20s %-20s %10lld %10s %10s %s%s\n", field_text(m, "database", "-"),
           field_text(m, "collection", "-"), field_text(m, "start", "(non-ObjectId _id)"),
           field_text(m, "end", "-"), (long long)field_int(m, "documents"), sb, ss,
           field_text(m, "data", "-"), field_bool(m, "partial") ? "  (only documents before --until)" : "");
    t->windows++;
    t->partial += field_bool(m, "partial");
    t->documents += field_int(m, "documents");
    t->bytes += field_int(m, "bytes");
    t->stored += field_int(m, "stored_bytes");
}

static void print_dry_run(ccopy_job_t *job)
{
    bson_t *summary = summary_bson(job);
    totals_t t = {0, 0, 0, 0, 0};
    char sb[32], ss[32];
    printf("%-12s %-16s %-20s %-20s %10s %10s %10s %s\n", "DATABASE", "COLLECTION", "START", "END",
           "DOCUMENTS", "BYTES", "STORED", "DATA");
    each_entry(summary, "planned", print_planned, &t);
    cli_format_bytes(sb, sizeof sb, (double)t.bytes);
    cli_format_bytes(ss, sizeof ss, (double)t.stored);
    printf("dry run: would restore %lld window%s, %s%lld document%s, %s (%s stored) into database %s; "
           "nothing was written\n",
           (long long)t.windows, plural(t.windows), t.partial ? "at most " : "", (long long)t.documents,
           plural(t.documents), sb, ss, field_text(summary, "target_database", "?"));
    if (summary)
        bson_destroy(summary);
}

static void print_verdict(const bson_t *v, void *data)
{
    bson_iter_t it, ex;
    (void)data;
    printf("%-16s %-20s %-20s %10lld %10lld %-8s %s\n", field_text(v, "collection", "-"),
           field_text(v, "start", "(non-ObjectId _id)"), field_text(v, "end", "-"),
           (long long)field_int(v, "source_documents"), (long long)field_int(v, "backup_documents"),
           field_text(v, "sha256", "-"), field_text(v, "status", "?"));
    if (strcmp(field_text(v, "status", ""), "ok") != 0)
        printf("    %s\n", field_text(v, "problem", ""));
    if (bson_iter_init_find(&it, v, "examples") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &ex)) {
        while (bson_iter_next(&ex)) {
            if (BSON_ITER_HOLDS_UTF8(&ex))
                printf("    %s\n", bson_iter_utf8(&ex, NULL));
        }
    }
}

static void print_verify_report(ccopy_job_t *job, int rc)
{
    bson_t *summary = summary_bson(job);
    printf("%-16s %-20s %-20s %10s %10s %-8s %s\n", "COLLECTION", "START", "END", "SOURCE", "BACKUP",
           "SHA256", "STATUS");
    each_entry(summary, "verdicts", print_verdict, NULL);
    if (summary) {
        int64_t verified = field_int(summary, "windows_verified");
        int64_t differing = field_int(summary, "windows_differing");
        if (rc == 0)
            printf("verified %lld window%s: %s\n", (long long)verified, plural(verified),
                   verified == 1 ? "it matches" : "all match");
        else if (rc == CCOPY_EMISMATCH)
            printf("verified %lld window%s: %lld differ%s\n", (long long)verified, plural(verified),
                   (long long)differing, differing == 1 ? "s" : "");
        bson_destroy(summary);
    }
}

/* Whether the job got as far as windows: checked, compared, skipped as complete, read or failed. */
static int did_work(ccopy_job_t *job)
{
    ccopy_progress_t p;
    ccopy_job_get_progress(job, &p);
    return p.windows_done + p.windows_failed + p.windows_already_complete + p.windows_verified +
               p.documents + p.documents_written >
           0;
}

static void print_job_summary(const job_command_t *cmd, ccopy_job_t *job, const char *where, int rc)
{
    ccopy_progress_t p;
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

