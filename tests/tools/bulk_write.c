/*
 * ccopy_bulk_write: drives the engine's bulk writer (engine/src/writer.c) from the command line,
 * so integration tests can push documents through a throttling proxy and check the target with
 * an independent client. Not installed; the replicate and restore commands use the same writer.
 *
 *   ccopy_bulk_write URI DB COLL FILE.bson [--insert] [--ordered] [--batch N] [--max-ru N]
 *                    [--retry-budget N] [--retry-base-ms N]
 *
 * FILE.bson holds concatenated BSON documents. Prints one JSON line with what happened; exit
 * code 0 when every document was written, 3 when some were rejected, 1 on failure (message on
 * stderr), 2 on usage errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cosmocopy/cosmocopy.h"
#include "governor.h"
#include "request.h"
#include "source.h"
#include "writer.h"

static void on_reject(const bson_t *doc, int64_t code, const char *message, void *user_data)
{
    bson_iter_t id;
    char *json = NULL;
    (void)user_data;
    if (bson_iter_init_find(&id, doc, "_id")) {
        bson_t wrapper = BSON_INITIALIZER;
        bson_append_iter(&wrapper, "_id", 3, &id);
        json = bson_as_canonical_extended_json(&wrapper, NULL);
        bson_destroy(&wrapper);
    }
    fprintf(stderr, "rejected %s (%u bytes): code %lld: %s\n", json ? json : "(no _id)", doc->len,
            (long long)code, message);
    bson_free(json);
}

static void ignore_driver_log(mongoc_log_level_t level, const char *domain, const char *message,
                              void *data)
{
    (void)level, (void)domain, (void)message, (void)data;
}

int main(int argc, char **argv)
{
    const char *uri, *db, *coll, *file;
    int insert = 0, ordered = 0, batch = 100, i, rc = 0;
    int64_t max_ru = 0;
    _ccopy_backoff_t backoff = {10, 200, 30000};
    _ccopy_source_t *server = NULL;
    _ccopy_source_settings_t settings = {.server_timeout_ms = 10000, .socket_timeout_ms = 300000,
                                         .max_clients = 1};
    _ccopy_governor_t governor;
    _ccopy_request_shared_t shared;
    _ccopy_counters_t counters = {0};
    atomic_int canceled = 0;
    _ccopy_requester_t requester;
    _ccopy_bulk_result_t result = {0};
    ccopy_error_t error;
    mongoc_client_t *client;
    bson_reader_t *reader;
    bson_error_t e;
    const bson_t *doc;
    bson_t **docs = NULL;
    size_t count = 0, cap = 0, start;
    bool eof = false;
    uint64_t rng = 12345;

    if (argc < 5) {
        fprintf(stderr, "usage: %s URI DB COLL FILE.bson [--insert] [--ordered] [--batch N] "
                        "[--max-ru N] [--retry-budget N] [--retry-base-ms N]\n", argv[0]);
        return 2;
    }
    uri = argv[1], db = argv[2], coll = argv[3], file = argv[4];
    for (i = 5; i < argc; i++) {
        if (strcmp(argv[i], "--insert") == 0)
            insert = 1;
        else if (strcmp(argv[i], "--ordered") == 0)
            ordered = 1;
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max-ru") == 0 && i + 1 < argc)
            max_ru = atoll(argv[++i]);
        else if (strcmp(argv[i], "--retry-budget") == 0 && i + 1 < argc)
            backoff.max_retries = atoi(argv[++i]);
        else if (strcmp(argv[i], "--retry-base-ms") == 0 && i + 1 < argc)
            backoff.base_ms = atoll(argv[++i]);
        else {
            fprintf(stderr, "unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (batch < 1)
        batch = 1;

    ccopy_init();
    mongoc_log_set_handler(ignore_driver_log, NULL);
    reader = bson_reader_new_from_file(file, &e);
    if (!reader) {
        fprintf(stderr, "cannot read %s: %s\n", file, e.message);
        return 1;
    }
    while ((doc = bson_reader_read(reader, &eof)) != NULL) {
        if (count == cap) {
            cap = cap ? cap * 2 : 256;
            docs = _ccopy_realloc(docs, cap * sizeof *docs);
        }
        docs[count++] = bson_copy(doc);
    }
    bson_reader_destroy(reader);

    if (_ccopy_source_open(&server, uri, &settings, &error) != 0) {
        fprintf(stderr, "%s\n", error.message);
        return 1;
    }
    _ccopy_governor_init(&governor, (double)max_ru);
    _ccopy_request_shared_init(&shared, &governor);
    client = mongoc_client_pool_pop(server->pool);
    _ccopy_requester_init(&requester, client, &shared, &counters, &canceled);
    {
        _ccopy_bulk_config_t config = {
            .server = server,
            .requester = &requester,
            .db = db,
            .coll = coll,
            .mode = insert ? CCOPY_WRITE_INSERT : CCOPY_WRITE_UPSERT,
            .ordered = ordered,
            .backoff = backoff,
            .rng_state = &rng,
            .on_reject = on_reject,
        };
        for (start = 0; start < count && rc == 0; start += (size_t)batch) {
            size_t n = count - start < (size_t)batch ? count - start : (size_t)batch;
            rc = _ccopy_bulk_write(&config, (const bson_t *const *)docs + start, n, &result, &error);
        }
    }
    {
        _ccopy_governor_stats_t g = _ccopy_governor_stats(&governor);
        printf("{\"rc\": %d, \"documents\": %zu, \"written\": %lld, \"already\": %lld, "
               "\"resent\": %lld, \"rejected\": %lld, \"throttled\": %lld, \"throttle_events\": %lld, "
               "\"retries\": %lld, \"ru_charged\": %.2f, \"ru_source\": \"%s\"}\n",
               rc, count, (long long)result.written, (long long)result.already,
               (long long)result.resent, (long long)result.rejected, (long long)result.throttled,
               (long long)atomic_load(&counters.throttle_events),
               (long long)atomic_load(&counters.retries), g.ru_charged,
               g.charge_source == 2 ? "server" : "estimate");
    }
    if (rc != 0)
        fprintf(stderr, "%s\n", error.message);
    _ccopy_requester_cleanup(&requester);
    mongoc_client_pool_push(server->pool, client);
    _ccopy_source_close(server);
    _ccopy_governor_destroy(&governor);
    for (start = 0; start < count; start++)
        bson_destroy(docs[start]);
    free(docs);
    ccopy_cleanup();
    return rc != 0 ? 1 : result.rejected ? 3 : 0;
}
