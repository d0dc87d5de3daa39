/*
 * The help of the commands: fixed texts, the tuning list of each job command drawn from the
 * option table, and `cosmocopy options` (the README's table).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char main_help[] =
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
    "Run 'cosmocopy COMMAND --help' for the options of a command. Connection strings may be\n"
    "Key Vault references (kv://VAULT/SECRET); tokens come from the environment or a managed\n"
    "identity (--azure-credential).\n"
    "Exit codes: 0 success, 1 the job failed, 2 bad usage or bad input, 3 verify found\n"
    "differences.\n";

const char plan_help[] =
    "Usage: cosmocopy plan --from T --to T [--step D] [--json]\n"
    "\n"
    "Print the windows [start, end) that cover the range, cut at multiples of the step since\n"
    "the epoch (a 4h plan always cuts at 00:00, 04:00, ... UTC); the first and last windows are\n"
    "clipped to the range. lo and hi are the ObjectId bounds of each window.\n"
    "\n"
    "  --from T     start of the range\n"
    "  --to T       end of the range (exclusive)\n"
    "  --step D     window length (default 4h, at most 4294967296s as for backup)\n"
    "  --json       print {\"windows\": [{start, end, start_epoch, end_epoch, lo, hi}, ...]}\n"
    "               (on bad input, {\"status\": \"failed\", \"error\": ..., \"command\": \"plan\"})\n"
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
    "  --source URI       connection string (mongodb:// or mongodb+srv://), or a Key Vault\n"
    "                     reference to it (kv://VAULT/SECRET[/VERSION], or the secret's https://\n"
    "                     URL); its password is never printed\n"
    "  --db NAME          source database\n"
    "  --collection NAME  collection to copy; repeat for several (default: all of them)\n"
    "  --to DESTINATION   dir:PATH (a folder, created if missing), azblob://CONTAINER[/PREFIX]\n"
    "                     (credentials from --blob-connection-string or the environment variable\n"
    "                     AZURE_STORAGE_CONNECTION_STRING), or a container URL\n"
    "                     (https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]) with a SAS\n"
    "                     (?sv=...) or without one for Microsoft Entra ID tokens; a --to that is\n"
    "                     not a destination is the end of the range\n"
    "  --json             print a JSON summary on stdout\n"
    "  --quiet            no progress line and no informational messages\n"
    "\n"
    "Tuning (defaults in brackets):\n";

static const char list_head[] =
    "Usage: cosmocopy list --from dir:PATH|azblob://CONTAINER[/PREFIX]|CONTAINER-URL [--db NAME]\n"
    "                      [--collection NAME] [--blob-connection-string CS] [--json] [OPTIONS]\n"
    "\n"
    "List the completed windows of a backup: database, collection, window, documents, bytes,\n"
    "stored bytes, compression and data file. --json prints {\"windows\": [manifest, ...]}.\n"
    "\n"
    "  --from BACKUP      dir:PATH, azblob://CONTAINER[/PREFIX], or a container URL (with a SAS,\n"
    "                     or without one for Microsoft Entra ID)\n"
    "  --db NAME          only this database\n"
    "  --collection NAME  only this collection\n"
    "  --json             print the manifests as JSON (when it fails, {\"status\": \"failed\",\n"
    "                     \"error\": ..., \"command\": \"list\"})\n"
    "\n"
    "Options (defaults in brackets):\n";

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
    "  --source URI            connection string of the source, or a Key Vault reference to it\n"
    "                          (kv://VAULT/SECRET[/VERSION])\n"
    "  --db NAME               source database\n"
    "  --collection NAME       collection to copy; repeat for several (default: all of them)\n"
    "  --target URI            connection string of the target, or a Key Vault reference to\n"
    "                          it; its password is never printed\n"
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
    "                          URL (with a SAS, or without one for Microsoft Entra ID)\n"
    "  --to URI                connection string of the server to restore into, or a Key Vault\n"
    "                          reference to it (kv://VAULT/SECRET[/VERSION])\n"
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
    "and names the documents missing, extra or changed (up to 20 per window). Time between\n"
    "windows that no window covers differs when the source has documents there. Prints a\n"
    "table, or a JSON report with --json. Exit code 3 when any window differs, naming them.\n"
    "\n"
    "  --source URI            connection string of the source (or kv://VAULT/SECRET)\n"
    "  --db NAME               the database as the backup (or the replica's catalog) names it\n"
    "  --collection NAME       collection to check; repeat for several (default: all)\n"
    "  --backup WHERE          a backup (dir:, azblob://, container URL) or a replica (mongodb://...\n"
    "                          or kv://VAULT/SECRET)\n"
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

const job_command_t job_commands[4] = {
    {"backup", CCOPY_JOB_BACKUP, NULL, backup_special},
    {"replicate", CCOPY_JOB_REPLICATE, replicate_head, replicate_special},
    {"restore", CCOPY_JOB_RESTORE, restore_head, restore_special},
    {"verify", CCOPY_JOB_VERIFY, verify_head, verify_special},
};

int in_list(const char *name, const char *const *list)
{
    for (; *list; list++) {
        if (strcmp(name, *list) == 0)
            return 1;
    }
    return 0;
}

/* Append to the text in out (*used bytes of size); what does not fit is cut off. */
void appendf(char *out, size_t size, size_t *used, const char *fmt, ...)
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
    const char *option, *commands, *flag;
    out[0] = '\0';
    for (i = 0; alias_spelling(i, &option, &commands, &flag); i++) {
        const ccopy_option_info_t *o = ccopy_option_find(option);
        char buf[64];
        if (!o || !applies_to(o, command) || (commands && !has_word(commands, command)))
            continue;
        appendf(out, size, &used, "%s%s for %s", used ? ", " : "", flag,
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

/* The options of a command that its head does not describe, one per line, wrapped. */
static void print_option_list(const char *command, const char *const *special)
{
    size_t i;
    for (i = 0; i < ccopy_option_count(); i++) {
        const ccopy_option_info_t *o = ccopy_option_get_info(i);
        char flag[128], doc[800], text[700];
        if (in_list(o->name, special) || !applies_to(o, command))
            continue;
        option_flag(flag, sizeof flag, o, command);
        say_flags(text, sizeof text, command, o->doc);
        snprintf(doc, sizeof doc, "%s [%s]", text, o->default_value ? o->default_value : "none");
        if (strlen(flag) > 28) {
            printf("  %s\n%31s", flag, "");
        } else {
            printf("  %-28s ", flag);
        }
        print_wrapped(doc, 31, 31);
    }
}

void print_job_help(const job_command_t *cmd)
{
    fputs(cmd->head ? cmd->head : backup_head, stdout);
    print_option_list(cmd->name, cmd->special);
    {
        char aliases[256];
        aliases_of(aliases, sizeof aliases, cmd->name);
        if (aliases[0])
            printf("\nAliases: %s.\n", aliases);
    }
}

static void print_option_list(const char *command, const char *const *special);

void print_list_help(void)
{
    static const char *const none[] = {NULL};
    fputs(list_head, stdout);
    print_option_list("list", none);
}

/* `cosmocopy options --markdown`: the option table as it appears in README.md. */
int cmd_options(int argc, char **argv)
{
    size_t i;
    (void)argc;
    (void)argv;
    printf("| flag | option name | default | commands | meaning |\n|---|---|---|---|---|\n");
    for (i = 0; i < ccopy_option_count(); i++) {
        const ccopy_option_info_t *o = ccopy_option_get_info(i);
        char first[32], flag[128], others[256] = "", buf[64], first_buf[64], *bar;
        const char *p = o->commands, *main_flag, *alias_option, *alias_commands, *alias_flag;
        size_t k, used = 0;
        if (in_list(o->name, job_commands[0].special))
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
        for (k = 0; alias_spelling(k, &alias_option, &alias_commands, &alias_flag); k++) {
            /* an alias that is the row's own flag (restore --target-db) says nothing new here;
             * the command's help lists it */
            if (strcmp(alias_option, o->name) == 0 && strcmp(alias_flag, main_flag) != 0)
                appendf(others, sizeof others, &used, "%salias `%s`", used ? ", " : " (", alias_flag);
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

