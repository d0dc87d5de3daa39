/*
 * Library start-up: a reference count around mongoc_init() and curl_global_init(), both safe to
 * call more than once. mongoc_cleanup() and curl_global_cleanup() are left to the host
 * application, which may still use those libraries.
 */
#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <stdatomic.h>

#include "cosmocopy/cosmocopy.h"
#include "version.h"

static atomic_int init_count;

void ccopy_init(void)
{
    if (atomic_fetch_add(&init_count, 1) == 0) {
        mongoc_init();
        curl_global_init(CURL_GLOBAL_DEFAULT);
    }
}

void ccopy_cleanup(void)
{
    int n = atomic_load(&init_count);
    while (n > 0 && !atomic_compare_exchange_weak(&init_count, &n, n - 1))
        ;
}

const char *ccopy_version(void)
{
    return CCOPY_VERSION_STRING;
}
