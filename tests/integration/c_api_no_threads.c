/*
 * A C service on a machine out of threads: this program's pthread_create() stands in for the C
 * library's and refuses the threads libcosmocopy asks for once CCOPY_TEST_THREADS_ALLOWED of
 * them were started (threads of the driver and of the sanitizer runtime are always started).
 * Then it runs a backup, or a restore with drop, and prints what the job returned.
 * Used by test_c_api.py.
 *
 * Usage: c_api_no_threads backup URI DB DIR
 *        c_api_no_threads restore URI DB DIR TARGET_DB
 * Prints {"rc", "code", "message", "summary"}.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cosmocopy/cosmocopy.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static atomic_int engine_threads;

/* Whether the thread's function is libcosmocopy's. */
static int from_engine(void *(*start)(void *))
{
    Dl_info info;
    void *address;
    memcpy(&address, &start, sizeof address);
    return dladdr(address, &info) != 0 && info.dli_fname && strstr(info.dli_fname, "libcosmocopy");
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
    static create_fn real;
    const char *allowed = getenv("CCOPY_TEST_THREADS_ALLOWED");
    if (!real) {
        void *symbol = dlsym(RTLD_NEXT, "pthread_create");
        memcpy(&real, &symbol, sizeof real);
    }
    if (allowed && from_engine(start) && atomic_fetch_add(&engine_threads, 1) >= atoi(allowed))
        return EAGAIN;
    return real(thread, attr, start, arg);
}

int main(int argc, char **argv)
{
    ccopy_options_t *opts;
    ccopy_error_t err;
    ccopy_job_t *job;
    char sink[1024], *summary;
    int restore, rc;

    if (argc < 5 || (strcmp(argv[1], "backup") != 0 && strcmp(argv[1], "restore") != 0))
        return 2;
    restore = strcmp(argv[1], "restore") == 0;
    if (restore && argc != 6)
        return 2;
    ccopy_init();
    snprintf(sink, sizeof sink, "dir:%s", argv[4]);
    opts = ccopy_options_new();
    if (ccopy_options_set(opts, "sink", sink, &err) || ccopy_options_set(opts, "db", argv[3], &err) ||
        ccopy_options_set(opts, "parallel", "2", &err) ||
        (restore ? ccopy_options_set(opts, "target", argv[2], &err) ||
                       ccopy_options_set(opts, "target_db", argv[5], &err) ||
                       ccopy_options_set(opts, "drop", "yes", &err)
                 : ccopy_options_set(opts, "source", argv[2], &err) ||
                       ccopy_options_set(opts, "step", "1d", &err))) {
        fprintf(stderr, "setting options failed: %s\n", err.message);
        return 3;
    }
    job = ccopy_job_new_kind(restore ? CCOPY_JOB_RESTORE : CCOPY_JOB_BACKUP, opts, &err);
    ccopy_options_destroy(opts);
    if (!job) {
        fprintf(stderr, "job: %s\n", err.message);
        return 3;
    }
    memset(&err, 0, sizeof err);
    rc = ccopy_job_run(job, &err);
    summary = ccopy_job_summary_json(job);
    printf("\n{\"rc\": %d, \"code\": \"%s\", \"summary\": %s}\n", rc, rc ? ccopy_code_name(rc) : "",
           summary);
    ccopy_free(summary);
    ccopy_job_destroy(job);
    ccopy_cleanup();
    return rc == 0 ? 0 : 1;
}
