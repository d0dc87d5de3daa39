/*
 * The cosmocopy command: parses flags into library options and calls the library. Flags come
 * from the option table (options.h): `--batch-size 500` sets option batch_size. Exit codes:
 * 0 success, 1 the job failed, 2 bad usage or bad input.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "cli.h"

static const char *const prog = "cosmocopy";
static ccopy_job_t *running_job;

static int usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message may quote what was typed (--source=mongodb://user:password@...): masked. */
static int usage_error(const char *command, const char *fmt, ...)
{
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    ccopy_mask_secrets(message);
    fprintf(stderr, "%s %s: %s\nRun '%s %s --help' for usage.\n", prog, command, message, prog,
            command);
    return EXIT_USAGE;
}

/* "s" unless n is one: "1 window", "2 windows", "0 windows". */
static const char *plural(int64_t n)
{
    return n == 1 ? "" : "s";
}

static int exit_code_for(int code)
{
    return code == CCOPY_EINVAL ? EXIT_USAGE : code == CCOPY_EMISMATCH ? EXIT_DIFFERENT : EXIT_JOB_FAILED;
}

static void say_flags(char *out, size_t size, const char *command, const char *message);

static void print_error(const char *command, const ccopy_error_t *e)
{
    char message[1024];
    say_flags(message, sizeof message, command, e->message);
    fprintf(stderr, "%s %s: error: %s\n", prog, command, message);
}

/* ---- help ------------------------------------------------------------------------------- */

static const char main_help[] =
    "cosmocopy - windowed, throttle-aware backups of Cosmos DB for MongoDB collections\n"
    "\n"
    "Usage: cosmocopy COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  plan       show the ObjectId time windows of a range\n"
    "  backup     copy collections into a folder or blob container, window by window\n"
    "  replicate  copy collections into another Cosmos DB/MongoDB collection, window by window\n"
    "  restore    write the windows of a backup back into a collection\n"
    "  verify     compare a backup or a replica with its source, window by window\n"
    "  list       list the completed windows of a backup\n"
    "  options    print the tuning options as a Markdown table\n"
    "\n"
    "Run 'cosmocopy COMMAND --help' for the options of a command.\n"
    "Exit codes: 0 success, 1 the job failed, 2 bad usage or bad input, 3 verify found\n"
    "differences.\n";

static const char plan_help[] =
    "Usage: cosmocopy plan --from T --to T [--step D] [--json]\n"
    "\n"
    "Print the windows [start, end) that cover the range, cut at multiples of the step since\n"
    "the epoch (a 4h plan always cuts at 00:00, 04:00, ... UTC); the first and last windows are\n"
    "clipped to the range. lo and hi are the ObjectId bounds of each window.\n"
    "\n"
    "  --from T     start of the range\n"
    "  --to T       end of the range (exclusive)\n"
    "  --step D     window length (default 4h)\n"
    "  --json       print {\"windows\": [{start, end, start_epoch, end_epoch, lo, hi}, ...]}\n"
    "\n"
    "Times: RFC 3339 UTC (2026-01-01T00:00:00Z), a date alone (2026-01-01: midnight UTC), epoch\n"
    "seconds (@1767225600), now, or relative to now (-4h, -30m, -2d). Durations: 30s, 5m, 4h,\n"
    "1d, 1w.\n";

static const char backup_head[] =
    "Usage: cosmocopy backup --source URI --db NAME [--collection NAME ...] --to DESTINATION\n"
    "                        [--full | --incremental | --from T --to T] [OPTIONS]\n"
    "\n"
    "Copy collections into a folder or an Azure Blob container in ObjectId time windows. Each\n"
    "window is one data file or blob (mongodump .bson, or Extended JSON lines with --format\n"
    "jsonl; optionally gzip or zstd compressed) plus a manifest written only after the data is\n"
    "stored for good. A rerun skips completed windows, so an interrupted or failed backup\n"
    "continues where it stopped.\n"
    "\n"
    "What each mode covers (a document belongs to the window of its ObjectId's creation time):\n"
    "  --full         (default) every window from the oldest ObjectId up to now minus the\n"
    "                 settle lag, then one pass over documents whose _id is not an ObjectId\n"
    "                 (rewritten on every full run).\n"
    "  --incremental  every gap between completed windows (one that failed while later ones\n"
    "                 completed), then from the end of the last one up to now minus the settle lag.\n"
    "                 Documents whose _id is not an ObjectId are not copied: they are counted\n"
    "                 and reported as a warning.\n"
    "  --from T --to T  exactly the windows of [T, T); nothing else is looked at.\n"
    "  No mode sees updates or deletes of documents in windows already completed.\n"
    "\n"
    "  --source URI       connection string (mongodb:// or mongodb+srv://); its password is\n"
    "                     never printed\n"
    "  --db NAME          source database\n"
    "  --collection NAME  collection to copy; repeat for several (default: all of them)\n"
    "  --to DESTINATION   dir:PATH (a folder, created if missing), azblob://CONTAINER[/PREFIX]\n"
    "                     (credentials from --blob-connection-string or the environment variable\n"
    "                     AZURE_STORAGE_CONNECTION_STRING), or a container URL with a SAS\n"
    "                     (https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]?sv=...);\n"
    "                     a --to that is not a destination is the end of the range\n"
    "  --json             print a JSON summary on stdout\n"
    "  --quiet            no progress line and no informational messages\n"
    "\n"
    "Tuning (defaults in brackets):\n";

static const char list_help[] =
    "Usage: cosmocopy list --from dir:PATH|azblob://CONTAINER[/PREFIX]|SAS-URL [--db NAME]\n"
    "                      [--collection NAME] [--blob-connection-string CS] [--json]\n"
    "\n"
    "List the completed windows of a backup: database, collection, window, documents, bytes,\n"
    "stored bytes, compression and data file. --json prints {\"windows\": [manifest, ...]}.\n";

static const char replicate_head[] =
    "Usage: cosmocopy replicate --source URI --db NAME [--collection NAME ...] --target URI\n"
    "                           [--target-db NAME] [--target-collection NAME]\n"
    "                           [--full | --incremental | --from T --to T] [--mode upsert|insert]\n"
    "                           [--copy-indexes] [--max-ru N] [--target-max-ru N] [OPTIONS]\n"
    "\n"
    "Copy collections into collections of another Cosmos DB/MongoDB server (or another database\n"
    "of the same one) in ObjectId time windows, by unordered bulk writes bounded by count and\n"
    "bytes. Each completed window is recorded in the collection \"cosmocopy\" of the target\n"
    "database (one document per window: counts, SHA-256 of the documents, first and last _id),\n"
    "written only after every document of the window was acknowledged, so a rerun or an\n"
    "incremental run continues from the target's own record, from any machine. Throttling on\n"
    "the target (16500, partial bulk writes) is paced by its own governor (--target-max-ru).\n"
    "A document the target refuses (too large...) is reported with its _id and size; its window\n"
    "stays incomplete and the exit code is 1.\n"
    "\n"
    "  --source URI            connection string of the source\n"
    "  --db NAME               source database\n"
    "  --collection NAME       collection to copy; repeat for several (default: all of them)\n"
    "  --target URI            connection string of the target; its password is never printed\n"
    "  --target-db NAME        target database (default: the source database)\n"
    "  --target-collection NAME  target collection (needs exactly one --collection)\n"
    "  --full, --incremental, --from T --to T  what to copy, as for backup (default --full)\n"
    "  --mode upsert|insert    upsert (default): replace each document by _id, so reruns and\n"
    "                          overlapping windows are harmless (into an empty collection it\n"
    "                          inserts: the same result, cheaper); insert: write only documents\n"
    "                          whose _id the target lacks, keep the others as they are\n"
    "  --copy-indexes          create the source's indexes on the target before copying\n"
    "  --json                  print a JSON summary on stdout\n"
    "  --quiet                 no progress line and no informational messages\n"
    "\n"
    "Tuning (defaults in brackets):\n";

static const char restore_head[] =
    "Usage: cosmocopy restore --from dir:PATH|azblob://CONTAINER[/PREFIX]|SAS-URL --to URI\n"
    "                         [--db NAME] [--collection NAME ...] [--to-db NAME]\n"
    "                         [--to-collection NAME] [--until T] [--drop] [--dry-run] [OPTIONS]\n"
    "\n"
    "Write the completed windows of a backup into collections of a server, in window order,\n"
    "several windows at once (--parallel), by bulk upserts paced by the target's governor.\n"
    "First every window's data is read and its SHA-256 compared with its manifest: a corrupt\n"
    "or missing window stops the restore, naming it, before a single document is written.\n"
    "A backup whose windows leave a gap in time is refused (--allow-gaps restores anyway).\n"
    "\n"
    "  --from BACKUP           the backup: dir:PATH, azblob://CONTAINER[/PREFIX] or a container\n"
    "                          URL with a SAS\n"
    "  --to URI                connection string of the server to restore into\n"
    "  --db NAME               database of the backup (needed when it holds several)\n"
    "  --collection NAME       collection to restore; repeat for several (default: all)\n"
    "  --to-db NAME            restore into this database (default: the backup's)\n"
    "  --to-collection NAME    restore into this collection (needs exactly one collection)\n"
    "  --until T               only documents created before T: the windows before T whole,\n"
    "                          the window holding T up to T (point in time); the pass of\n"
    "                          non-ObjectId _id is left out\n"
    "  --mode upsert|insert    upsert (default) replaces by _id, so a rerun is harmless (into an\n"
    "                          empty collection it inserts: the same result, cheaper); insert\n"
    "                          writes only documents whose _id the target lacks\n"
    "  --drop                  drop each target collection first (after every window is checked)\n"
    "  --copy-indexes          create the indexes saved in metadata.json\n"
    "  --dry-run               print the windows, documents and bytes that would be restored;\n"
    "                          read and write nothing else\n"
    "  --allow-gaps            restore even when windows are missing in between\n"
    "  --json                  print a JSON summary on stdout\n"
    "  --quiet                 no progress line and no informational messages\n"
    "\n"
    "Tuning (defaults in brackets):\n";

static const char verify_head[] =
    "Usage: cosmocopy verify --source URI --db NAME [--collection NAME ...]\n"
    "                        --backup dir:PATH|azblob://...|SAS-URL|URI [--from T --to T] [--deep]\n"
    "                        [--source-db NAME] [--source-collection NAME]\n"
    "\n"
    "Compare each window of a backup, or of a replica (a URI: the windows recorded in its\n"
    "\"cosmocopy\" catalog collection), with the source: the source's count of documents in the\n"
    "window against the manifest's (or the replica's) count, and for a backup the SHA-256 of\n"
    "the window's data against its manifest. --deep also hashes every document on both sides\n"
    "and names the documents missing, extra or changed (up to 20 per window). Prints a table,\n"
    "or a JSON report with --json. Exit code 3 when any window differs, naming the windows.\n"
    "\n"
    "  --source URI            connection string of the source\n"
    "  --db NAME               the database as the backup (or the replica's catalog) names it\n"
    "  --collection NAME       collection to check; repeat for several (default: all)\n"
    "  --backup WHERE          a backup (dir:, azblob://, SAS URL) or a replica (mongodb://...)\n"
    "  --source-db NAME        where the source holds the database now, when that is another\n"
    "                          name (a backup restored into another database): the backup's\n"
    "                          --db is compared with the source's --source-db\n"
    "  --source-collection NAME  the same for one collection (needs exactly one --collection)\n"
    "  --target-db NAME, --target-collection NAME  where the replica is, when renamed; with a\n"
    "                          backup, where it was restored (as --source-db, --source-collection)\n"
    "  --from T --to T         only the windows that overlap [T, T)\n"
    "  --deep                  compare every document, not only counts\n"
    "  --json                  print the report as JSON on stdout\n"
    "  --quiet                 no progress line and no informational messages\n"
    "\n"
    "Tuning (defaults in brackets):\n";

/* How a command spells an option's flag. The option table names options (target_db); each
 * command names them in its own words (restore --to-db): one spelling per option and command,
 * plus aliases, which are accepted and listed as aliases. An option without a row here is
 * spelled --NAME with '_' written as '-'. */
typedef struct spelling {
    const char *option;   /* "target_db" */
    const char *commands; /* "restore", or NULL: every command the option applies to */
    const char *flag;     /* "--to-db" */
    const char *value;    /* what follows the flag in help ("NAME"), or NULL: from the type */
    int alias;            /* 1: another accepted spelling, listed as an alias */
} spelling_t;

static const spelling_t spellings[] = {
    {"source", NULL, "--source", "URI", 0},
    {"db", NULL, "--db", "NAME", 0},
    {"collection", NULL, "--collection", "NAME", 0},
    {"sink", "backup", "--to", "DESTINATION", 0},
    {"sink", "restore list", "--from", "BACKUP", 0},
    {"sink", "verify", "--backup", "BACKUP", 0},
    {"from", NULL, "--from", "T", 0},
    {"until", "backup replicate verify", "--to", "T", 0},
    {"until", "restore", "--until", "T", 0},
    {"until", "backup replicate verify", "--until", "T", 1},
    {"target", "replicate", "--target", "URI", 0},
    {"target", "restore", "--to", "URI", 0},
    {"target", "verify", "--backup", "URI", 0},
    {"target_db", "replicate verify", "--target-db", "NAME", 0},
    {"target_db", "restore", "--to-db", "NAME", 0},
    {"target_collection", "replicate verify", "--target-collection", "NAME", 0},
    {"target_collection", "restore", "--to-collection", "NAME", 0},
    /* what the option table called them before restore had its own words: still accepted */
    {"target", "restore verify", "--target", "URI", 1},
    {"target_db", "restore", "--target-db", "NAME", 1},
    {"target_collection", "restore", "--target-collection", "NAME", 1},
    {"source_db", NULL, "--source-db", "NAME", 0},
    {"source_collection", NULL, "--source-collection", "NAME", 0},
    {"write_mode", NULL, "--mode", NULL, 0},
    {"write_mode", NULL, "--write-mode", NULL, 1},
    {"blob_connection_string", NULL, "--blob-connection-string", "CS", 0},
};

#define SPELLING_COUNT (sizeof spellings / sizeof spellings[0])

/* A command that runs a job: its kind, help and the options its help describes in its head. */
typedef struct job_command {
    const char *name;
    ccopy_job_kind_t kind;
    const char *head;
    const char *const *special; /* options described in the head, not in the tuning list */
} job_command_t;

static const char *const backup_special[] = {"source", "db", "collection", "sink", "mode", "from", "until", NULL};
static const char *const replicate_special[] = {"source", "db", "collection", "mode", "from", "until",
                                                "target", "target_db", "target_collection",
                                                "write_mode", "copy_indexes", NULL};
static const char *const restore_special[] = {"sink", "db", "collection", "until", "target", "target_db",
                                              "target_collection", "write_mode", "drop", "copy_indexes",
                                              "dry_run", "allow_gaps", NULL};
static const char *const verify_special[] = {"source", "db", "collection", "sink", "from", "until",
                                             "target", "target_db", "target_collection", "source_db",
                                             "source_collection", "deep", NULL};

static const job_command_t job_commands[] = {
    {"backup", CCOPY_JOB_BACKUP, NULL, backup_special},
    {"replicate", CCOPY_JOB_REPLICATE, replicate_head, replicate_special},
    {"restore", CCOPY_JOB_RESTORE, restore_head, restore_special},
    {"verify", CCOPY_JOB_VERIFY, verify_head, verify_special},
};

static int in_list(const char *name, const char *const *list)
{
    for (; *list; list++) {
        if (strcmp(name, *list) == 0)
            return 1;
    }
    return 0;
}

static int is_backup_flag_special(const char *name)
{
    return in_list(name, backup_special);
}

/* Whether a space-separated list of words holds word ("backup replicate" holds "backup"). */
static int has_word(const char *list, const char *word)
{
    const char *p = list;
    size_t n = strlen(word);
    while (p && (p = strstr(p, word)) != NULL) {
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
        p += n;
    }
    return 0;
}

/* Whether an option applies to a command. */
static int applies_to(const ccopy_option_info_t *o, const char *command)
{
    return has_word(o->commands, command);
}

/* The spelling row of an option for a command (alias 0: its own spelling), or NULL. */
static const spelling_t *find_spelling(const char *option, const char *command, int alias)
{
    size_t i;
    for (i = 0; i < SPELLING_COUNT; i++) {
        const spelling_t *sp = &spellings[i];
        if (strcmp(sp->option, option) == 0 && sp->alias == alias &&
            (!sp->commands || has_word(sp->commands, command)))
            return sp;
    }
    return NULL;
}

/* The flag by which a command sets an option: "--to-db" (restore, target_db), "--batch-size". */
static const char *flag_for(char *buf, size_t size, const char *option, const char *command)
{
    const spelling_t *sp = find_spelling(option, command, 0);
    char *p;
    if (sp)
        return sp->flag;
    snprintf(buf, size, "--%s", option);
    for (p = buf; *p; p++)
        if (*p == '_')
            *p = '-';
    return buf;
}

/* The C library's messages name options as "option NAME" (C callers set them by name); the
 * command says the flag the person typed instead: "option until: ..." is "--to: ..." in backup. */
static void say_flags(char *out, size_t size, const char *command, const char *message)
{
    static const char word[] = "option ";
    const char *p = message;
    size_t used = 0;
    while (*p && used + 1 < size) {
        const ccopy_option_info_t *o = NULL;
        size_t n = 0;
        if (strncmp(p, word, sizeof word - 1) == 0 && (p == message || p[-1] == ' ' || p[-1] == '(')) {
            char name[64];
            n = strspn(p + sizeof word - 1, "abcdefghijklmnopqrstuvwxyz_");
            if (n > 0 && n < sizeof name) {
                memcpy(name, p + sizeof word - 1, n);
                name[n] = '\0';
                o = ccopy_option_find(name);
            }
        }
        if (o && strcmp(o->name, "mode") != 0) {
            char buf[64];
            const char *flag = flag_for(buf, sizeof buf, o->name, command);
            used += (size_t)snprintf(out + used, size - used, "%s", flag);
            if (used >= size)
                used = size - 1;
            p += sizeof word - 1 + n;
        } else {
            out[used++] = *p++;
        }
    }
    out[used] = '\0';
}

/* The option's flag: "--batch-size N". */
/* An option whose only values are no and yes is a flag on the command line. */
static int is_switch(const ccopy_option_info_t *o)
{
    return o->type == CCOPY_OPTION_ENUM && o->choices && strcmp(o->choices, "no|yes") == 0;
}

/* The option's flag as a command spells it, with what follows: "--batch-size N". */
static void option_flag(char *out, size_t size, const ccopy_option_info_t *o, const char *command)
{
    char buf[64];
    const spelling_t *sp = find_spelling(o->name, command, 0);
    const char *flag = flag_for(buf, sizeof buf, o->name, command);
    if (is_switch(o)) {
        snprintf(out, size, "%s", flag);
        return;
    }
    snprintf(out, size, "%s %s", flag,
             sp && sp->value                    ? sp->value
             : o->type == CCOPY_OPTION_ENUM     ? o->choices
             : o->type == CCOPY_OPTION_DURATION ? "D"
             : o->type == CCOPY_OPTION_STRING   ? (strstr(o->name, "file") ? "PATH" : "TEXT")
                                                : "N");
}

static void appendf(char *out, size_t size, size_t *used, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Append to the text in out (*used bytes of size); what does not fit is cut off. */
static void appendf(char *out, size_t size, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (*used + 1 >= size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(out + *used, size - *used, fmt, ap);
    va_end(ap);
    *used = n < 0 ? *used : *used + (size_t)n >= size ? size - 1 : *used + (size_t)n;
}

/* "--until for --to, --write-mode for --mode" for a command, or "". */
static void aliases_of(char *out, size_t size, const char *command)
{
    size_t i, used = 0;
    out[0] = '\0';
    for (i = 0; i < SPELLING_COUNT; i++) {
        const spelling_t *sp = &spellings[i];
        const ccopy_option_info_t *o = ccopy_option_find(sp->option);
        char buf[64];
        if (!sp->alias || !o || !applies_to(o, command) || (sp->commands && !has_word(sp->commands, command)))
            continue;
        appendf(out, size, &used, "%s%s for %s", used ? ", " : "", sp->flag,
                flag_for(buf, sizeof buf, o->name, command));
    }
}

/* Print text wrapped at 100 columns, continuation lines indented by indent. */
static void print_wrapped(const char *text, int indent, int column)
{
    const char *p = text;
    while (*p) {
        int width = 100 - column;
        int n = (int)strlen(p);
        if (n > width) {
            n = width;
            while (n > 0 && p[n] != ' ')
                n--;
            if (n == 0)
                n = width;
        }
        printf("%.*s\n", n, p);
        p += n;
        while (*p == ' ')
            p++;
        if (*p)
            printf("%*s", indent, "");
        column = indent;
    }
}

static void print_job_help(const job_command_t *cmd)
{
    size_t i;
    fputs(cmd->head ? cmd->head : backup_head, stdout);
    for (i = 0; i < ccopy_option_count(); i++) {
        const ccopy_option_info_t *o = ccopy_option_get_info(i);
        char flag[64], doc[600], text[512];
        if (in_list(o->name, cmd->special) || !applies_to(o, cmd->name))
            continue;
        option_flag(flag, sizeof flag, o, cmd->name);
        say_flags(text, sizeof text, cmd->name, o->doc);
        snprintf(doc, sizeof doc, "%s [%s]", text, o->default_value ? o->default_value : "none");
        printf("  %-28s ", flag);
        print_wrapped(doc, 31, 31);
    }
    {
        char aliases[256];
        aliases_of(aliases, sizeof aliases, cmd->name);
        if (aliases[0])
            printf("\nAliases: %s.\n", aliases);
    }
}

/* `cosmocopy options --markdown`: the option table as it appears in README.md. */
static int cmd_options(int argc, char **argv)
{
    size_t i;
    (void)argc;
    (void)argv;
    printf("| flag | option name | default | commands | meaning |\n|---|---|---|---|---|\n");
    for (i = 0; i < ccopy_option_count(); i++) {
        const ccopy_option_info_t *o = ccopy_option_get_info(i);
        char first[32], flag[128], others[256] = "", buf[64], first_buf[64], *bar;
        const char *p = o->commands, *main_flag;
        size_t k, used = 0;
        if (is_backup_flag_special(o->name))
            continue;
        /* the flag as the first command spells it; the commands that spell it otherwise */
        snprintf(first, sizeof first, "%.*s", (int)strcspn(p, " "), p);
        option_flag(flag, sizeof flag, o, first);
        main_flag = flag_for(first_buf, sizeof first_buf, o->name, first);
        while (*p) {
            char command[32];
            const char *f;
            size_t n = strcspn(p, " ");
            snprintf(command, sizeof command, "%.*s", (int)n, p);
            p += n + (p[n] == ' ');
            f = flag_for(buf, sizeof buf, o->name, command);
            if (strcmp(f, main_flag) != 0)
                appendf(others, sizeof others, &used, "%s%s: `%s`", used ? ", " : " (", command, f);
        }
        for (k = 0; k < SPELLING_COUNT; k++) {
            /* an alias that is the row's own flag (restore --target-db) says nothing new here;
             * the command's help lists it */
            if (spellings[k].alias && strcmp(spellings[k].option, o->name) == 0 &&
                strcmp(spellings[k].flag, main_flag) != 0)
                appendf(others, sizeof others, &used, "%salias `%s`", used ? ", " : " (",
                        spellings[k].flag);
        }
        if (used)
            appendf(others, sizeof others, &used, ")");
        for (bar = strchr(flag, '|'); bar; bar = strchr(bar + 2, '|')) {
            memmove(bar + 1, bar, strlen(bar) + 1); /* a bare | would end the table cell */
            *bar = '\\';
        }
        printf("| `%s`%s | `%s` | %s | %s | %s |\n", flag, others, o->name,
               o->default_value ? o->default_value : "-", o->commands, o->doc);
    }
    return EXIT_OK;
}

/* ---- plan ------------------------------------------------------------------------------- */

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

static int cmd_plan(int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *step_text = "4h";
    int json = 0, i;
    int64_t now = (int64_t)time(NULL), start, end, step;
    ccopy_window_t *windows;
    size_t count, k;
    ccopy_error_t e;

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
    if (ccopy_time_parse(&start, from, now, &e) != 0 || ccopy_time_parse(&end, to, now, &e) != 0 ||
        ccopy_duration_parse(&step, step_text, &e) != 0 ||
        ccopy_plan_cut(&windows, &count, start, end, step, &e) != 0) {
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

/* ---- backup ----------------------------------------------------------------------------- */

static int looks_like_destination(const char *value)
{
    return strncmp(value, "dir:", 4) == 0 || strstr(value, "://") != NULL;
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
static void catch_stop_signals(int catching)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = catching ? on_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

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
static void hide_secrets_in_arguments(int argc, char **argv)
{
    int i;
    for (i = 0; i < argc; i++) {
        size_t before = strlen(argv[i]), after;
        ccopy_mask_secrets(argv[i]);
        after = strlen(argv[i]);
        memset(argv[i] + after, 0, before - after);
    }
}

/* verify --backup: a backup location, or a replica's connection string. */
static const char *backup_option(const char *value)
{
    return strncmp(value, "mongodb://", 10) == 0 || strncmp(value, "mongodb+srv://", 14) == 0 ? "target"
                                                                                              : "sink";
}

/* The option a command's flag sets, or NULL. Backup's --to is the destination or the end of
 * the range and verify's --backup a backup or a replica: the value tells which. */
static const ccopy_option_info_t *option_of_flag(const job_command_t *cmd, const char *flag,
                                                 const char *value)
{
    const ccopy_option_info_t *info = NULL;
    const char *name = NULL;
    char typed[64], buf[64], *p;
    size_t i;

    if (cmd->kind == CCOPY_JOB_BACKUP && strcmp(flag, "--to") == 0)
        name = value && looks_like_destination(value) ? "sink" : "until";
    else if (cmd->kind == CCOPY_JOB_VERIFY && strcmp(flag, "--backup") == 0)
        name = value ? backup_option(value) : "sink";
    for (i = 0; i < SPELLING_COUNT && !name; i++) {
        const spelling_t *sp = &spellings[i];
        const ccopy_option_info_t *o = ccopy_option_find(sp->option);
        if (strcmp(sp->flag, flag) == 0 && o && applies_to(o, cmd->name) &&
            (!sp->commands || has_word(sp->commands, cmd->name)))
            name = sp->option;
    }
    if (!name && strlen(flag) < sizeof typed) {
        /* --NAME, for an option this command spells that way (--batch_size is --batch-size) */
        snprintf(typed, sizeof typed, "%s", flag);
        for (p = typed; *p; p++)
            if (*p == '_')
                *p = '-';
        info = ccopy_option_find(flag + 2);
        if (info && strcmp(typed, flag_for(buf, sizeof buf, info->name, cmd->name)) == 0)
            name = info->name;
    }
    info = name ? ccopy_option_find(name) : NULL;
    if (!info || strcmp(info->name, "mode") == 0 || !applies_to(info, cmd->name))
        return NULL;
    return info;
}

/* An unknown flag that names an option of this command under another spelling: the hint
 * " (restore calls it --to-db)", else "". */
static void spelling_hint(char *out, size_t size, const job_command_t *cmd, const char *flag)
{
    const ccopy_option_info_t *o = NULL;
    char buf[64];
    size_t i;
    out[0] = '\0';
    for (i = 0; i < SPELLING_COUNT && !o; i++) {
        const ccopy_option_info_t *candidate = ccopy_option_find(spellings[i].option);
        if (strcmp(spellings[i].flag, flag) == 0 && candidate && applies_to(candidate, cmd->name))
            o = candidate;
    }
    if (!o && strncmp(flag, "--", 2) == 0)
        o = ccopy_option_find(flag + 2);
    if (o && strcmp(o->name, "mode") != 0 && applies_to(o, cmd->name))
        snprintf(out, size, " (%s calls it %s)", cmd->name, flag_for(buf, sizeof buf, o->name, cmd->name));
}

static void print_failure_json(const char *command, const ccopy_error_t *e);

/* Fill options from the command line; returns -1 when it printed a usage error (*rc set). */
static int parse_job_arguments(const job_command_t *cmd, int argc, char **argv, ccopy_options_t *opts,
                               int *json, int *quiet, int *rc)
{
    int modes = 0, i;
    ccopy_error_t e;

    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        const ccopy_option_info_t *info;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_job_help(cmd);
            *rc = EXIT_OK;
            return -1;
        }
        if (strcmp(a, "--json") == 0 || strcmp(a, "--quiet") == 0) {
            *(a[2] == 'j' ? json : quiet) = 1;
            continue;
        }
        if ((cmd->kind == CCOPY_JOB_BACKUP || cmd->kind == CCOPY_JOB_REPLICATE) &&
            (strcmp(a, "--full") == 0 || strcmp(a, "--incremental") == 0)) {
            ccopy_options_set(opts, "mode", a + 2, NULL);
            modes++;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            *rc = usage_error(cmd->name, "unexpected argument \"%s\"", a);
            return -1;
        }
        info = option_of_flag(cmd, a, i + 1 < argc ? argv[i + 1] : NULL);
        if (!info) {
            char hint[96];
            spelling_hint(hint, sizeof hint, cmd, a);
            *rc = usage_error(cmd->name, "unknown option \"%s\"%s", a, hint);
            return -1;
        }
        if (is_switch(info)) {
            /* --create-container alone means yes; an explicit yes or no may follow */
            const char *value = "yes";
            if (i + 1 < argc && (strcmp(argv[i + 1], "yes") == 0 || strcmp(argv[i + 1], "no") == 0))
                value = argv[++i];
            ccopy_options_set(opts, info->name, value, NULL);
            continue;
        }
        if (i + 1 >= argc) {
            *rc = usage_error(cmd->name, "%s needs a value", a);
            return -1;
        }
        if (strncmp(argv[i + 1], "--", 2) == 0 &&
            (option_of_flag(cmd, argv[i + 1], i + 2 < argc ? argv[i + 2] : NULL) ||
             strcmp(argv[i + 1], "--json") == 0 || strcmp(argv[i + 1], "--quiet") == 0 ||
             strcmp(argv[i + 1], "--full") == 0 || strcmp(argv[i + 1], "--incremental") == 0)) {
            /* "--db --to dir:x": the value was forgotten, the next flag is not it */
            *rc = usage_error(cmd->name, "%s needs a value (found the flag %s after it)", a,
                              argv[i + 1]);
            return -1;
        }
        if (strcmp(info->name, "from") == 0 && cmd->kind != CCOPY_JOB_VERIFY) {
            ccopy_options_set(opts, "mode", "range", NULL);
            modes++;
        }
        if (ccopy_options_set(opts, info->name, argv[++i], &e) != 0) {
            if (cmd->kind != CCOPY_JOB_BACKUP && strcmp(a, "--to") == 0 &&
                strncmp(argv[i], "mongodb", 7) == 0) {
                *rc = usage_error(cmd->name,
                                  "--to \"%s\" is not a time: %s takes the %s server with %s "
                                  "(--to is the end of a --from range)",
                                  argv[i], cmd->name,
                                  cmd->kind == CCOPY_JOB_VERIFY ? "replica's" : "target",
                                  cmd->kind == CCOPY_JOB_VERIFY ? "--backup URI" : "--target URI");
                return -1;
            }
            if (cmd->kind == CCOPY_JOB_BACKUP && strcmp(a, "--to") == 0) {
                /* neither a destination nor a time: most likely a folder without dir: */
                *rc = usage_error(cmd->name,
                                  "--to \"%s\" is neither a destination (dir:PATH, "
                                  "azblob://CONTAINER[/PREFIX] or a container URL with a SAS) nor a "
                                  "time (the end of a --from range)%s%s",
                                  argv[i], strchr(argv[i], '/') ? "; for a folder write dir:" : "",
                                  strchr(argv[i], '/') ? argv[i] : "");
                return -1;
            }
            /* refused as the job would refuse it: the same --json answer (--json may follow) */
            for (i = 0; i < argc; i++)
                if (strcmp(argv[i], "--json") == 0)
                    print_failure_json(cmd->name, &e);
            print_error(cmd->name, &e);
            *rc = EXIT_USAGE;
            return -1;
        }
    }
    hide_secrets_in_arguments(argc, argv);
    if (modes > 1) {
        *rc = usage_error(cmd->name, "%s", "choose one of --full, --incremental or --from T --to T");
        return -1;
    }
    if (cmd->kind != CCOPY_JOB_RESTORE && ccopy_options_get(opts, "until") &&
        !ccopy_options_get(opts, "from")) {
        *rc = usage_error(cmd->name, "%s", "--to T (the end of a range) needs --from T");
        return -1;
    }
    if (cmd->kind != CCOPY_JOB_RESTORE && cmd->kind != CCOPY_JOB_VERIFY &&
        ccopy_options_get(opts, "from") && !ccopy_options_get(opts, "until")) {
        *rc = usage_error(cmd->name, "%s", "--from T (the start of a range) needs --to T (its end)");
        return -1;
    }
    if (cmd->kind == CCOPY_JOB_VERIFY && !ccopy_options_get(opts, "sink") && !ccopy_options_get(opts, "target")) {
        *rc = usage_error(cmd->name, "%s",
                          "--backup is required: a backup (dir:PATH, azblob://CONTAINER[/PREFIX] or a "
                          "container URL with a SAS) or a replica (mongodb://...)");
        return -1;
    }
    if (cmd->kind == CCOPY_JOB_VERIFY && ccopy_options_get(opts, "sink") && ccopy_options_get(opts, "target")) {
        *rc = usage_error(cmd->name, "%s", "--backup takes one backup or one replica, not both");
        return -1;
    }
    return 0;
}

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
static void print_failure_json(const char *command, const ccopy_error_t *e)
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

static int cmd_job(const job_command_t *cmd, int argc, char **argv)
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

    running_job = job;
    catch_stop_signals(1);
    rc = ccopy_job_run(job, &e);
    catch_stop_signals(0);
    running_job = NULL;
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

/* ---- list ------------------------------------------------------------------------------- */

/* The flags of list, copied out of argv (which is masked in place to hide secrets). */
typedef struct list_args {
    char *location, *db, *collection, *connection;
    int json;
} list_args_t;

static int list_backup(const list_args_t *args);

static int cmd_list(int argc, char **argv)
{
    list_args_t args = {NULL, NULL, NULL, NULL, 0};
    int i, rc = -1;

    for (i = 0; i < argc && rc < 0; i++) {
        const char *a = argv[i];
        char **target = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(list_help, stdout);
            rc = EXIT_OK;
            break;
        }
        if (strcmp(a, "--json") == 0) {
            args.json = 1;
            continue;
        }
        if (strcmp(a, "--from") == 0)
            target = &args.location;
        else if (strcmp(a, "--db") == 0)
            target = &args.db;
        else if (strcmp(a, "--collection") == 0)
            target = &args.collection;
        else if (strcmp(a, "--blob-connection-string") == 0)
            target = &args.connection;
        else
            rc = usage_error("list", "unknown argument \"%s\"", a);
        if (rc >= 0)
            break;
        if (i + 1 >= argc) {
            rc = usage_error("list", "%s needs a value", a);
            break;
        }
        free(*target);
        *target = strdup(argv[++i]);
    }
    if (rc < 0 && (!args.location || !*args.location))
        rc = usage_error("list", "%s", "--from dir:PATH, azblob://CONTAINER[/PREFIX] or a SAS URL is required");
    hide_secrets_in_arguments(argc, argv); /* the values were copied: masking rewrites argv */
    if (rc < 0)
        rc = list_backup(&args);
    free(args.location);
    free(args.db);
    free(args.collection);
    free(args.connection);
    return rc;
}

static int list_backup(const list_args_t *args)
{
    const char *db = args->db, *coll = args->collection;
    int json = args->json, rc;
    ccopy_catalog_t *catalog;
    ccopy_options_t *opts;
    ccopy_manifest_t *m;
    size_t count, k;
    ccopy_error_t e;

    opts = ccopy_options_new();
    if (args->connection &&
        ccopy_options_set(opts, "blob_connection_string", args->connection, &e) != 0) {
        ccopy_options_destroy(opts);
        return usage_error("list", "--blob-connection-string: the value is empty");
    }
    catalog = ccopy_catalog_open_with_options(args->location, opts, &e);
    ccopy_options_destroy(opts);
    if (!catalog) {
        print_error("list", &e);
        return exit_code_for(e.code);
    }
    rc = ccopy_catalog_list(catalog, &m, &count, db, coll, &e);
    ccopy_catalog_destroy(catalog);
    if (rc != 0) {
        print_error("list", &e);
        return exit_code_for(rc);
    }
    if (json) {
        printf("{\"windows\": [");
        for (k = 0; k < count; k++) {
            char *text = NULL;
            ccopy_manifest_to_json(&text, &m[k], NULL);
            printf("%s%s", k ? ",\n" : "\n", text ? text : "null");
            ccopy_free(text);
        }
        printf("]}\n");
    } else {
        int64_t docs = 0, bytes = 0, stored = 0;
        printf("%-12s %-16s %-20s %-20s %10s %10s %10s %-5s %s\n", "DATABASE", "COLLECTION", "START",
               "END", "DOCUMENTS", "BYTES", "STORED", "COMP", "DATA");
        for (k = 0; k < count; k++) {
            char a[CCOPY_TIME_TEXT_SIZE] = "-", b[CCOPY_TIME_TEXT_SIZE] = "-", sb[32], ss[32];
            if (m[k].kind == CCOPY_MANIFEST_WINDOW) {
                ccopy_time_format(a, m[k].window.start, NULL);
                ccopy_time_format(b, m[k].window.end, NULL);
            } else {
                snprintf(a, sizeof a, "(non-ObjectId _id)");
            }
            cli_format_bytes(sb, sizeof sb, (double)m[k].bytes);
            cli_format_bytes(ss, sizeof ss, (double)m[k].stored_bytes);
            printf("%-12s %-16s %-20s %-20s %10lld %10s %10s %-5s %s\n", m[k].database,
                   m[k].collection, a, b, (long long)m[k].documents, sb, ss, m[k].compression,
                   m[k].data);
            docs += m[k].documents;
            bytes += m[k].bytes;
            stored += m[k].stored_bytes;
        }
        {
            char sb[32], ss[32];
            cli_format_bytes(sb, sizeof sb, (double)bytes);
            cli_format_bytes(ss, sizeof ss, (double)stored);
            printf("%zu window%s, %lld document%s, %s (%s stored)\n", count, plural((int64_t)count),
                   (long long)docs, plural(docs), sb, ss);
        }
    }
    ccopy_manifest_array_free(m, count);
    return EXIT_OK;
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
    int rc;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(main_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("cosmocopy %s\n", ccopy_version());
        return EXIT_OK;
    }
    ccopy_init();
    mongoc_log_set_handler(on_mongoc_log, NULL);
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
