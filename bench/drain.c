/*
 * The raw-drain baseline of the backup benchmark: the same windows as a backup, read with the
 * same parallelism and batch size through plain libmongoc cursors that only iterate. Whatever
 * cosmocopy does beyond this (writing, hashing, compressing, cataloguing) is its overhead.
 *
 * Usage: ccopy_bench_drain URI DB COLLECTION FROM TO STEP PARALLEL BATCH_SIZE
 * Prints one JSON line: {"documents": N, "bytes": N, "seconds": S}.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "cosmocopy/cosmocopy.h"

typedef struct drain {
    mongoc_client_pool_t *pool;
    const char *db, *coll;
    ccopy_window_t *windows;
    size_t count;
    atomic_size_t next;
    atomic_llong documents, bytes;
    int batch_size;
} drain_t;

static void append_bound(bson_t *range, const char *op, int64_t t)
{
    uint8_t bytes[12];
    bson_oid_t oid;
    ccopy_oid_from_time(bytes, t, NULL);
    memcpy(oid.bytes, bytes, 12);
    BSON_APPEND_OID(range, op, &oid);
}

static void *drain_main(void *arg)
{
    drain_t *d = arg;
    mongoc_client_t *client = mongoc_client_pool_pop(d->pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, d->db, d->coll);
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "batchSize", BCON_INT32(d->batch_size));
    size_t i;

    while ((i = atomic_fetch_add(&d->next, 1)) < d->count) {
        bson_t filter = BSON_INITIALIZER, range;
        mongoc_cursor_t *cursor;
        const bson_t *doc;
        bson_error_t e;
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &range);
        append_bound(&range, "$gte", d->windows[i].start);
        append_bound(&range, "$lt", d->windows[i].end);
        bson_append_document_end(&filter, &range);
        cursor = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
        while (mongoc_cursor_next(cursor, &doc)) {
            atomic_fetch_add(&d->documents, 1);
            atomic_fetch_add(&d->bytes, (long long)doc->len);
        }
        if (mongoc_cursor_error(cursor, &e)) {
            fprintf(stderr, "drain: %s\n", e.message);
            exit(1);
        }
        mongoc_cursor_destroy(cursor);
        bson_destroy(&filter);
    }
    bson_destroy(opts);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(d->pool, client);
    return NULL;
}

int main(int argc, char **argv)
{
    drain_t d;
    ccopy_error_t e;
    int64_t from, to, step, now = (int64_t)time(NULL);
    int parallel, i;
    pthread_t threads[64];
    struct timespec t0, t1;
    mongoc_uri_t *uri;

    if (argc != 9) {
        fprintf(stderr, "usage: %s URI DB COLLECTION FROM TO STEP PARALLEL BATCH_SIZE\n", argv[0]);
        return 2;
    }
    memset(&d, 0, sizeof d);
    if (ccopy_time_parse(&from, argv[4], now, &e) || ccopy_time_parse(&to, argv[5], now, &e) ||
        ccopy_duration_parse(&step, argv[6], &e) ||
        ccopy_plan_cut(&d.windows, &d.count, from, to, step, &e)) {
        fprintf(stderr, "drain: %s\n", e.message);
        return 2;
    }
    parallel = atoi(argv[7]);
    if (parallel < 1 || parallel > 64)
        parallel = 1;
    d.batch_size = atoi(argv[8]);
    d.db = argv[2];
    d.coll = argv[3];
    mongoc_init();
    uri = mongoc_uri_new(argv[1]);
    d.pool = mongoc_client_pool_new(uri);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < parallel; i++)
        pthread_create(&threads[i], NULL, drain_main, &d);
    for (i = 0; i < parallel; i++)
        pthread_join(threads[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("{\"documents\": %lld, \"bytes\": %lld, \"seconds\": %.3f}\n", (long long)d.documents,
           (long long)d.bytes, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    mongoc_client_pool_destroy(d.pool);
    mongoc_uri_destroy(uri);
    ccopy_free(d.windows);
    mongoc_cleanup();
    return 0;
}
