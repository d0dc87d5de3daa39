/*
 * How each command spells the options on its command line, read from the flags column of the
 * option table (options.def), and the parsing of a job command's arguments into options.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* How a command spells an option's flag. The option table names options (target_db); each
 * command names them in its own words (restore --to-db): one spelling per option and command,
 * plus aliases, which are accepted and listed as aliases. An option without a spelling is
 * spelled --NAME with '_' written as '-'. */
typedef struct spelling {
    const char *option; /* "target_db" */
    char commands[64];  /* "restore", or "": every command the option applies to */
    char flag[40];      /* "--to-db" */
    char value[24];     /* what follows the flag in help ("NAME"), or "": from the type */
    int alias;          /* 1: another accepted spelling, listed as an alias */
} spelling_t;

static spelling_t spellings[64];
static size_t spelling_count;

/* Copy n bytes of text into a field of size bytes; 0 when it does not fit. */
static int copy_field(char *field, size_t size, const char *text, size_t n)
{
    if (n >= size)
        return 0;
    memcpy(field, text, n);
    field[n] = '\0';
    return 1;
}

/* One entry of a flags column: [~][COMMANDS:]--FLAG[ VALUE] (options.h). */
static int parse_spelling(spelling_t *sp, const char *option, const char *text, size_t n)
{
    const char *colon, *space;
    memset(sp, 0, sizeof *sp);
    sp->option = option;
    if (n > 0 && *text == '~') {
        sp->alias = 1;
        text++;
        n--;
    }
    colon = memchr(text, ':', n);
    if (colon) {
        if (!copy_field(sp->commands, sizeof sp->commands, text, (size_t)(colon - text)))
            return 0;
        n -= (size_t)(colon - text) + 1;
        text = colon + 1;
    }
    if (n < 3 || strncmp(text, "--", 2) != 0)
        return 0;
    space = memchr(text, ' ', n);
    if (!space)
        return copy_field(sp->flag, sizeof sp->flag, text, n);
    return copy_field(sp->flag, sizeof sp->flag, text, (size_t)(space - text)) &&
           copy_field(sp->value, sizeof sp->value, space + 1, n - (size_t)(space - text) - 1);
}

int load_spellings(void)
{
    size_t i;
    spelling_count = 0;
    for (i = 0; i < ccopy_option_count(); i++) {
        const ccopy_option_info_t *o = ccopy_option_get_info(i);
        const char *p = o->flags;
        while (p && *p) {
            size_t n = strcspn(p, ";");
            if (spelling_count == sizeof spellings / sizeof spellings[0] ||
                !parse_spelling(&spellings[spelling_count], o->name, p, n)) {
                fprintf(stderr, "%s: the flags of option %s are malformed: \"%s\"\n", prog, o->name,
                        o->flags);
                return -1;
            }
            spelling_count++;
            p += n;
            while (*p == ';' || *p == ' ')
                p++;
        }
    }
    return 0;
}

int alias_spelling(size_t i, const char **option, const char **commands, const char **flag)
{
    size_t k;
    for (k = 0; k < spelling_count; k++) {
        if (spellings[k].alias && i-- == 0) {
            *option = spellings[k].option;
            *commands = spellings[k].commands[0] ? spellings[k].commands : NULL;
            *flag = spellings[k].flag;
            return 1;
        }
    }
    return 0;
}
int has_word(const char *list, const char *word)
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
int applies_to(const ccopy_option_info_t *o, const char *command)
{
    return has_word(o->commands, command);
}

/* The spelling row of an option for a command (alias 0: its own spelling), or NULL. */
static const spelling_t *find_spelling(const char *option, const char *command, int alias)
{
    size_t i;
    for (i = 0; i < spelling_count; i++) {
        const spelling_t *sp = &spellings[i];
        if (strcmp(sp->option, option) == 0 && sp->alias == alias &&
            (!sp->commands[0] || has_word(sp->commands, command)))
            return sp;
    }
    return NULL;
}

/* The flag by which a command sets an option: "--to-db" (restore, target_db), "--batch-size". */
const char *flag_for(char *buf, size_t size, const char *option, const char *command)
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
void say_flags(char *out, size_t size, const char *command, const char *message)
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
int is_switch(const ccopy_option_info_t *o)
{
    return o->type == CCOPY_OPTION_ENUM && o->choices && strcmp(o->choices, "no|yes") == 0;
}

/* The option's flag as a command spells it, with what follows: "--batch-size N". */
void option_flag(char *out, size_t size, const ccopy_option_info_t *o, const char *command)
{
    char buf[64];
    const spelling_t *sp = find_spelling(o->name, command, 0);
    const char *flag = flag_for(buf, sizeof buf, o->name, command);
    if (is_switch(o)) {
        snprintf(out, size, "%s", flag);
        return;
    }
    snprintf(out, size, "%s %s", flag,
             sp && sp->value[0]                 ? sp->value
             : o->type == CCOPY_OPTION_ENUM     ? o->choices
             : o->type == CCOPY_OPTION_DURATION ? "D"
             : o->type == CCOPY_OPTION_STRING   ? (strstr(o->name, "file") ? "PATH" : "TEXT")
                                                : "N");
}

static int looks_like_destination(const char *value)
{
    return strncmp(value, "dir:", 4) == 0 || strstr(value, "://") != NULL;
}

/* A value that can only have been meant as a time (a date, @epoch, now, -4h): when backup's
 * --to refuses it, the time's own reason says more than "neither a destination nor a time". */
static int meant_as_time(const char *value)
{
    if (strchr(value, '/'))
        return 0; /* a folder written without dir: */
    if (value[0] == '-' || value[0] == '+' || value[0] == '@')
        value++;
    return isdigit((unsigned char)value[0]) || strncmp(value, "now", 3) == 0;
}

void hide_secrets_in_arguments(int argc, char **argv)
{
    int i;
    for (i = 0; i < argc; i++) {
        size_t before = strlen(argv[i]), after;
        ccopy_mask_secrets(argv[i]);
        after = strlen(argv[i]);
        memset(argv[i] + after, 0, before - after);
    }
}

/* A MongoDB connection string, or a Key Vault reference to one: kv://..., or a secret's URL
 * in a vault (https://VAULT.vault.azure.net/secrets/...; a container URL is a blob backup). */
static int names_a_server(const char *value)
{
    const char *host = value + 8;
    size_t n = strcspn(host, "/?#");
    return strncmp(value, "mongodb://", 10) == 0 || strncmp(value, "mongodb+srv://", 14) == 0 ||
           strncasecmp(value, "kv://", 5) == 0 ||
           (strncmp(value, "https://", 8) == 0 && memmem(host, n, ".vault.", 7) != NULL &&
            strncmp(host + n, "/secrets/", 9) == 0);
}

/* verify --backup: a backup location, or a replica's connection string. */
static const char *backup_option(const char *value)
{
    return names_a_server(value) ? "target" : "sink";
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
    for (i = 0; i < spelling_count && !name; i++) {
        const spelling_t *sp = &spellings[i];
        const ccopy_option_info_t *o = ccopy_option_find(sp->option);
        if (strcmp(sp->flag, flag) == 0 && o && applies_to(o, cmd->name) &&
            (!sp->commands[0] || has_word(sp->commands, cmd->name)))
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
    for (i = 0; i < spelling_count && !o; i++) {
        const ccopy_option_info_t *candidate = ccopy_option_find(spellings[i].option);
        if (strcmp(spellings[i].flag, flag) == 0 && candidate && applies_to(candidate, cmd->name))
            o = candidate;
    }
    if (!o && strncmp(flag, "--", 2) == 0)
        o = ccopy_option_find(flag + 2);
    if (o && strcmp(o->name, "mode") != 0 && applies_to(o, cmd->name))
        snprintf(out, size, " (%s calls it %s)", cmd->name, flag_for(buf, sizeof buf, o->name, cmd->name));
}


/* Whether the option of argv[i] (a flag whose value is argv[i + 1]) is given again later: a
 * flag given twice takes its last value, so the earlier one is not even checked. Repeatable
 * options (--collection) take every value. */
static int given_again_later(const job_command_t *cmd, int argc, char **argv, int i,
                             const ccopy_option_info_t *info)
{
    int j;
    if (info->type == CCOPY_OPTION_STRINGS)
        return 0;
    for (j = i + 2; j < argc; j++)
        if (strncmp(argv[j], "--", 2) == 0 &&
            option_of_flag(cmd, argv[j], j + 1 < argc ? argv[j + 1] : NULL) == info)
            return 1;
    return 0;
}

/* usage_error() for a job command, and the --json failure summary first when --json is among
 * the arguments: a script that asked for JSON gets it however the command line was wrong. */
static int job_usage_error(const job_command_t *cmd, int argc, char **argv, const char *fmt, ...)
{
    ccopy_error_t e;
    va_list ap;
    int i;
    memset(&e, 0, sizeof e);
    e.code = CCOPY_EINVAL;
    e.domain = CCOPY_DOMAIN_ENGINE;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    ccopy_mask_secrets(e.message);
    for (i = 0; i < argc; i++)
        if (strcmp(argv[i], "--json") == 0) {
            print_failure_json(cmd->name, &e);
            break;
        }
    return usage_error(cmd->name, "%s", e.message);
}

/* Fill options from the command line; returns -1 when it printed a usage error (*rc set). */
int parse_job_arguments(const job_command_t *cmd, int argc, char **argv, ccopy_options_t *opts,
                               int *json, int *quiet, int *rc)
{
    int modes = 0, ranged = 0, full = 0, incremental = 0, i;
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
            int *seen = a[2] == 'f' ? &full : &incremental;
            ccopy_options_set(opts, "mode", a + 2, NULL);
            modes += !(*seen)++; /* a mode given twice is one mode */
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            *rc = job_usage_error(cmd, argc, argv, "unexpected argument \"%s\"", a);
            return -1;
        }
        info = option_of_flag(cmd, a, i + 1 < argc ? argv[i + 1] : NULL);
        if (!info) {
            char hint[96];
            spelling_hint(hint, sizeof hint, cmd, a);
            *rc = job_usage_error(cmd, argc, argv, "unknown option \"%s\"%s", a, hint);
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
            *rc = job_usage_error(cmd, argc, argv, "%s needs a value", a);
            return -1;
        }
        if (strncmp(argv[i + 1], "--", 2) == 0 &&
            (option_of_flag(cmd, argv[i + 1], i + 2 < argc ? argv[i + 2] : NULL) ||
             strcmp(argv[i + 1], "--json") == 0 || strcmp(argv[i + 1], "--quiet") == 0 ||
             strcmp(argv[i + 1], "--full") == 0 || strcmp(argv[i + 1], "--incremental") == 0)) {
            /* "--db --to dir:x": the value was forgotten, the next flag is not it */
            *rc = job_usage_error(cmd, argc, argv, "%s needs a value (found the flag %s after it)", a,
                              argv[i + 1]);
            return -1;
        }
        if (strcmp(info->name, "from") == 0 && cmd->kind != CCOPY_JOB_VERIFY && !ranged++) {
            ccopy_options_set(opts, "mode", "range", NULL);
            modes++;
        }
        if (given_again_later(cmd, argc, argv, i, info)) {
            i++;
            continue;
        }
        if (ccopy_options_set(opts, info->name, argv[++i], &e) != 0) {
            if (cmd->kind != CCOPY_JOB_BACKUP && strcmp(a, "--to") == 0 && names_a_server(argv[i])) {
                *rc = job_usage_error(cmd, argc, argv,
                                  "--to \"%s\" is not a time: %s takes the %s server with %s "
                                  "(--to is the end of a --from range)",
                                  argv[i], cmd->name,
                                  cmd->kind == CCOPY_JOB_VERIFY ? "replica's" : "target",
                                  cmd->kind == CCOPY_JOB_VERIFY ? "--backup URI" : "--target URI");
                return -1;
            }
            if (cmd->kind == CCOPY_JOB_BACKUP && strcmp(a, "--to") == 0 && !meant_as_time(argv[i])) {
                /* neither a destination nor a time: most likely a folder without dir: */
                *rc = job_usage_error(cmd, argc, argv,
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
        *rc = job_usage_error(cmd, argc, argv, "%s", "choose one of --full, --incremental or --from T --to T");
        return -1;
    }
    if (cmd->kind != CCOPY_JOB_RESTORE && ccopy_options_get(opts, "until") &&
        !ccopy_options_get(opts, "from")) {
        /* named as typed: --until is the alias */
        int until = 0;
        for (i = 0; i < argc; i++)
            until |= strcmp(argv[i], "--until") == 0 || strncmp(argv[i], "--until=", 8) == 0;
        *rc = job_usage_error(cmd, argc, argv, "%s T (the end of a range) needs --from T",
                              until ? "--until" : "--to");
        return -1;
    }
    if (cmd->kind != CCOPY_JOB_RESTORE && cmd->kind != CCOPY_JOB_VERIFY &&
        ccopy_options_get(opts, "from") && !ccopy_options_get(opts, "until")) {
        *rc = job_usage_error(cmd, argc, argv, "%s", "--from T (the start of a range) needs --to T (its end)");
        return -1;
    }
    if (cmd->kind == CCOPY_JOB_VERIFY && !ccopy_options_get(opts, "sink") && !ccopy_options_get(opts, "target")) {
        *rc = job_usage_error(cmd, argc, argv, "%s",
                          "--backup is required: a backup (dir:PATH, azblob://CONTAINER[/PREFIX] or a "
                          "container URL with a SAS) or a replica (mongodb://...)");
        return -1;
    }
    if (cmd->kind == CCOPY_JOB_VERIFY && ccopy_options_get(opts, "sink") && ccopy_options_get(opts, "target")) {
        *rc = job_usage_error(cmd, argc, argv, "%s", "--backup takes one backup or one replica, not both");
        return -1;
    }
    return 0;
}

