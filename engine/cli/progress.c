/*
 * The live progress line of `cosmocopy backup` on a terminal: windows done and left, documents,
 * megabytes, rates, retries and an estimate of the time left, redrawn in place on stderr.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int line_drawn;

void cli_format_bytes(char *out, size_t size, double bytes)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000.0 && u < 4) {
        bytes /= 1000.0;
        u++;
    }
    if (u == 0)
        snprintf(out, size, "%.0f %s", bytes, units[u]);
    else
        snprintf(out, size, "%.1f %s", bytes, units[u]);
}

void cli_format_count(char *out, size_t size, int64_t n)
{
    char digits[32];
    size_t len, i, o = 0;
    snprintf(digits, sizeof digits, "%lld", (long long)(n < 0 ? -n : n));
    len = strlen(digits);
    if (n < 0 && o + 1 < size)
        out[o++] = '-';
    for (i = 0; i < len && o + 1 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0 && o + 2 < size)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void format_eta(char *out, size_t size, double seconds)
{
    long s = (long)(seconds + 0.5);
    if (seconds < 0)
        snprintf(out, size, "--:--");
    else if (s >= 3600)
        snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        snprintf(out, size, "%ld:%02ld", s / 60, s % 60);
}

int cli_progress(const ccopy_progress_t *p, void *user_data)
{
    char docs[32], bytes[32], rate[32], eta[32];
    const char *label = "windows";
    long long done = p->windows_done;
    (void)user_data;
    if (p->phase == CCOPY_PHASE_PLANNING)
        return 0;
    if (done == 0 && p->windows_verified > 0) { /* verify, and restore's check before writing */
        label = "checked";
        done = p->windows_verified;
    }
    cli_format_count(docs, sizeof docs, p->documents);
    cli_format_bytes(bytes, sizeof bytes, (double)p->bytes);
    cli_format_bytes(rate, sizeof rate, p->bytes_per_second);
    format_eta(eta, sizeof eta, p->eta_seconds);
    fprintf(stderr, "\r\033[K%s %lld/%lld (%lld left)  docs %s  %s  %.0f docs/s  %s/s  %.0f RU/s  "
            "throttled %lld  retries %lld  ETA %s",
            label, done, (long long)p->windows_total,
            (long long)(p->windows_total - done - p->windows_failed), docs, bytes,
            p->documents_per_second, rate, p->ru_per_second, (long long)p->throttle_events,
            (long long)p->retries, eta);
    fflush(stderr);
    line_drawn = 1;
    return 0;
}

void cli_progress_end(void)
{
    if (line_drawn) {
        fputc('\n', stderr);
        line_drawn = 0;
    }
}
