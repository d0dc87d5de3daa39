/*
 * Shared pieces of the cosmocopy command: output helpers and the live progress line.
 */
#ifndef CCOPY_CLI_H
#define CCOPY_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "cosmocopy/cosmocopy.h"

/* Exit codes: the job succeeded, failed, or the command line was wrong. */
/* Exit codes: the job succeeded, failed, the command line was wrong, or verify found
 * differences. */
enum { EXIT_OK = 0, EXIT_JOB_FAILED = 1, EXIT_USAGE = 2, EXIT_DIFFERENT = 3 };

/* "1.5 MB", "312 B" */
void cli_format_bytes(char *out, size_t size, double bytes);
/* "1,234,567" */
void cli_format_count(char *out, size_t size, int64_t n);

/* The progress callback: a live line on stderr, redrawn in place (only on a terminal). */
void cli_progress(const ccopy_progress_t *p, void *user_data);
/* End the live line (newline) if one was drawn. */
void cli_progress_end(void);

#endif
