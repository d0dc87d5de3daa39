/*
 * Library start-up: a reference count around mongoc_init() and curl_global_init(), both safe to
 * call more than once. mongoc_cleanup() and curl_global_cleanup() are left to the host
 * application, which may still use those libraries. The last ccopy_cleanup() forgets the tokens,
 * Key Vault challenges and remembered secrets the process held.
 */
#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <stdatomic.h>
#include <stdio.h>
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "cosmocopy/cosmocopy.h"
#include "credentials.h"
#include "version.h"

static atomic_int init_count;

/*
 * libmongoc keeps its performance counters in a shared-memory object named after the process
 * id (/dev/shm/mongoc-PID), removed only by mongoc_cleanup(). A process that is killed leaves
 * it behind, and a later process that is given the same id finds it there and warns ("Falling
 * back to malloc for counters") on stderr, ahead of its own output. The mapping outlives its
 * name, so the name is removed at once: nothing is left behind, whatever ends the process.
 */
static void forget_counters_name(void)
{
#ifdef __linux__
    char name[32];
    snprintf(name, sizeof name, "/mongoc-%u", (unsigned)getpid());
    shm_unlink(name);
#endif
}

void ccopy_init(void)
{
    if (atomic_fetch_add(&init_count, 1) == 0) {
        mongoc_init();
        forget_counters_name();
        curl_global_init(CURL_GLOBAL_DEFAULT);
    }
}

void ccopy_cleanup(void)
{
    int n = atomic_load(&init_count);
    while (n > 0 && !atomic_compare_exchange_weak(&init_count, &n, n - 1))
        ;
    if (n == 1)
        _ccopy_credentials_forget(); /* the last reference: no token or secret stays in memory */
}

const char *ccopy_version(void)
{
    return CCOPY_VERSION_STRING;
}
