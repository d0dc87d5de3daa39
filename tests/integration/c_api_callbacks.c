/*
 * A C service that watches a backup job from outside the job: a thread of its own polls
 * ccopy_job_get_progress() as fast as it can (and ccopy_job_summary_json() every 64th time) from
 * before the run starts until it returns (planning included), and the log callback asks for the summary and the
 * progress of the job that is logging; or (done) the progress callback, once the job says it is
 * done, tries to take the backup folder's lock, as a service starting its next job would. Used by
 * test_c_api.py, also under ASan/UBSan.
 *
 * Usage: c_api_callbacks poll|log|done URI DB DIR
 * Prints {"rc", "polls", "summaries_in_log", "log_lines", "status_in_log", "lock_free_at_done",
 * "summary"}.
 */
#define _DEFAULT_SOURCE /* flock() and O_CLOEXEC under -std=c11 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <cosmocopy/cosmocopy.h>

typedef struct watch {
    ccopy_job_t *job;
    atomic_int done;
    long polls;
    int log_lines, summaries_in_log;
    char status_in_log[32];
    const char *dir;
    int lock_free_at_done; /* -1: the callback never saw the job done */
} watch_t;

/* The summary's status, copied out of its JSON text. */
static void status_of(char *out, size_t size, const char *summary)
{
    const char *at = strstr(summary, "\"status\": \"");
    snprintf(out, size, "%s", at ? at + strlen("\"status\": \"") : "missing");
    out[strcspn(out, "\"")] = '\0';
}

static void *poll_main(void *arg)
{
    watch_t *w = arg;
    while (!atomic_load(&w->done)) {
        ccopy_progress_t p = CCOPY_PROGRESS_INIT;
        ccopy_job_get_progress(w->job, &p);
        if (w->polls % 64 == 0)
            ccopy_free(ccopy_job_summary_json(w->job));
        w->polls++;
    }
    return NULL;
}

static int on_log(ccopy_log_level_t level, const char *message, void *user_data)
{
    watch_t *w = user_data;
    ccopy_progress_t p = CCOPY_PROGRESS_INIT;
    char *summary = ccopy_job_summary_json(w->job);
    (void)level;
    (void)message;
    ccopy_job_get_progress(w->job, &p);
    w->log_lines++;
    if (summary) {
        w->summaries_in_log++;
        status_of(w->status_in_log, sizeof w->status_in_log, summary);
    }
    ccopy_free(summary);
    return 0;
}

static int on_progress(const ccopy_progress_t *progress, void *user_data)
{
    watch_t *w = user_data;
    char path[1100];
    int fd;
    if (progress->phase != CCOPY_PHASE_DONE || w->lock_free_at_done >= 0)
        return 0;
    snprintf(path, sizeof path, "%s/.cosmocopy.lock", w->dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    w->lock_free_at_done = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (fd >= 0)
        close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    ccopy_options_t *opts;
    ccopy_error_t err;
    watch_t w;
    pthread_t poller;
    char sink[1024], *summary;
    int poll, rc;

    if (argc != 5 || (strcmp(argv[1], "poll") != 0 && strcmp(argv[1], "log") != 0 &&
                      strcmp(argv[1], "done") != 0))
        return 2;
    poll = strcmp(argv[1], "poll") == 0;
    ccopy_init();
    snprintf(sink, sizeof sink, "dir:%s", argv[4]);
    opts = ccopy_options_new();
    /* incremental: a first run logs a line for every collection while planning */
    if (ccopy_options_set(opts, "source", argv[2], &err) || ccopy_options_set(opts, "db", argv[3], &err) ||
        ccopy_options_set(opts, "sink", sink, &err) || ccopy_options_set(opts, "mode", "incremental", &err) ||
        ccopy_options_set(opts, "step", "1d", &err) || ccopy_options_set(opts, "settle_lag", "0s", &err) ||
        ccopy_options_set(opts, "parallel", "4", &err)) {
        fprintf(stderr, "setting options failed: %s\n", err.message);
        return 3;
    }
    memset(&w, 0, sizeof w);
    w.dir = argv[4];
    w.lock_free_at_done = -1;
    w.job = ccopy_job_new(opts, &err);
    ccopy_options_destroy(opts);
    if (!w.job) {
        fprintf(stderr, "job: %s\n", err.message);
        return 3;
    }
    if (strcmp(argv[1], "log") == 0)
        ccopy_job_set_log(w.job, on_log, &w);
    if (strcmp(argv[1], "done") == 0)
        ccopy_job_set_progress(w.job, on_progress, &w);
    if (poll && pthread_create(&poller, NULL, poll_main, &w) != 0) {
        fprintf(stderr, "could not start the polling thread\n");
        return 3;
    }
    rc = ccopy_job_run(w.job, &err);
    if (poll) {
        atomic_store(&w.done, 1);
        pthread_join(poller, NULL);
    }
    if (rc != 0)
        fprintf(stderr, "run: %s (%s)\n", err.message, ccopy_code_name(err.code));
    summary = ccopy_job_summary_json(w.job);
    printf("\n{\"rc\": %d, \"polls\": %ld, \"summaries_in_log\": %d, \"log_lines\": %d, "
           "\"status_in_log\": \"%s\", \"lock_free_at_done\": %d, \"summary\": %s}\n",
           rc, w.polls, w.summaries_in_log, w.log_lines, w.status_in_log, w.lock_free_at_done,
           summary);
    ccopy_free(summary);
    ccopy_job_destroy(w.job);
    ccopy_cleanup();
    return rc == 0 ? 0 : 1;
}
