/*
 * Shared pieces of the cosmocopy command: output helpers, the live progress line, the flags
 * (flags.c), the help (help.c) and the commands (cmd_*.c) that main.c dispatches to.
 */
#ifndef CCOPY_CLI_H
#define CCOPY_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "cosmocopy/cosmocopy.h"

/* Exit codes: the job succeeded, failed, the command line was wrong, or verify found
 * differences. */
enum { EXIT_OK = 0, EXIT_JOB_FAILED = 1, EXIT_USAGE = 2, EXIT_DIFFERENT = 3 };

/* "1.5 MB", "312 B" */
void cli_format_bytes(char *out, size_t size, double bytes);
/* "1,234,567" */
void cli_format_count(char *out, size_t size, int64_t n);

/* The progress callback: a live line on stderr, redrawn in place (only on a terminal). */
int cli_progress(const ccopy_progress_t *p, void *user_data);
/* End the live line (newline) if one was drawn. */
void cli_progress_end(void);

/* ---- main.c: messages and signals ---- */

extern const char *const prog;

/* "cosmocopy CMD: message" and the pointer to --help; returns EXIT_USAGE. Secrets masked. */
int usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* list and plan: when argv holds --json, the next usage_error(), print_error() or flag_error()
 * also prints the failure summary ({"status": "failed", "error": ..., "command": ...}) on
 * stdout, as the job commands do. */
void json_failure_summary_for(const char *command, int argc, char **argv);
/* "s" unless n is one. */
const char *plural(int64_t n);
/* The exit code of a library error code. */
int exit_code_for(int code);
/* "cosmocopy CMD: error: message", options named by the flags of the command. */
void print_error(const char *command, const ccopy_error_t *e);
/* The same for the value of a flag the library does not name ("error: --step: ..."); returns
 * EXIT_USAGE. */
int flag_error(const char *command, const char *flag, const ccopy_error_t *e);
/* While job is not NULL, SIGINT and SIGTERM cancel it; NULL: their default effect again. */
void catch_stop_signals(ccopy_job_t *job);

/* ---- the commands that run a job ---- */

/* A command that runs a job: its kind, help and the options its help describes in its head. */
typedef struct job_command {
    const char *name;
    ccopy_job_kind_t kind;
    const char *head;
    const char *const *special; /* options described in the head, not in the tuning list */
} job_command_t;

/* backup, replicate, restore, verify (help.c). */
extern const job_command_t job_commands[4];

/* ---- flags.c: how each command spells the options ---- */

/* Read the flags column of the option table; -1 (message printed) when a row is malformed. */
int load_spellings(void);
/* Each alias spelling in table order: fills option, command list (NULL: every command of the
 * option) and flag; returns 0 past the last. */
int alias_spelling(size_t i, const char **option, const char **commands, const char **flag);
int has_word(const char *list, const char *word);
int applies_to(const ccopy_option_info_t *o, const char *command);
const char *flag_for(char *buf, size_t size, const char *option, const char *command);
void say_flags(char *out, size_t size, const char *command, const char *message);
int is_switch(const ccopy_option_info_t *o);
void option_flag(char *out, size_t size, const ccopy_option_info_t *o, const char *command);
void hide_secrets_in_arguments(int argc, char **argv);
int parse_job_arguments(const job_command_t *cmd, int argc, char **argv, ccopy_options_t *opts, int *json,
                        int *quiet, int *rc);

/* ---- help.c ---- */

extern const char main_help[], plan_help[];
/* list --help: its head, then the options of the table that apply to list. */
void print_list_help(void);
int in_list(const char *name, const char *const *list);
void appendf(char *out, size_t size, size_t *used, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void print_job_help(const job_command_t *cmd);

/* ---- the commands ---- */

int cmd_plan(int argc, char **argv);
int cmd_job(const job_command_t *cmd, int argc, char **argv);
void print_failure_json(const char *command, const ccopy_error_t *e);
int cmd_list(int argc, char **argv);
int cmd_options(int argc, char **argv);

#endif
