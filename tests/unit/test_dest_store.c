/*
 * The store destination over a folder: a window written through the destination calls comes
 * back through its catalog and window_read byte for byte; metadata.json round-trips; an aborted
 * window leaves no catalog entry; a store refuses to drop a collection; and preparing a
 * collection removes the data a failed window left without its manifest, and nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "cosmocopy/catalog.h"
#include "dest_store.h"
#include "fixtures.h"
#include "harness.h"

typedef struct collected {
    bson_t docs[4];
    size_t count;
} collected_t;

static int collect(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    collected_t *c = user_data;
    (void)error;
    if (c->count < 4)
        bson_copy_to(doc, &c->docs[c->count]);
    c->count++;
    return 0;
}

static void make_doc(bson_t *doc, const char *oid_text, int n)
{
    bson_oid_t oid;
    bson_init(doc);
    bson_oid_init_from_string(&oid, oid_text);
    BSON_APPEND_OID(doc, "_id", &oid);
    BSON_APPEND_INT32(doc, "n", n);
}

CCOPY_TEST(window_written_through_the_destination_reads_back)
{
    char *dir = ccopy_test_temp_dir();
    char *location = malloc(strlen(dir) + 8), *text = NULL;
    _ccopy_dest_store_config_t config;
    _ccopy_dest_t *dest = NULL;
    _ccopy_dest_session_t *session = NULL;
    _ccopy_dest_window_t *w = NULL;
    _ccopy_dest_window_spec_t spec = {CCOPY_MANIFEST_WINDOW, {1767225600, 1767229200}, "shop", "orders"};
    ccopy_manifest_t m, *list = NULL;
    collected_t got;
    bson_t docs[3];
    char **names = NULL;
    size_t count = 0, i;
    int64_t n = 0;
    ccopy_error_t e;

    sprintf(location, "dir:%s", dir);
    memset(&config, 0, sizeof config);
    _ccopy_sink_settings_default(&config.sink);
    config.format = "bson";
    config.compression = CCOPY_COMPRESS_ZSTD;
    config.compress_level = 3;
    CHECK_INT(_ccopy_dest_store_open(&dest, location, 1, &config, &e), 0);
    CHECK_STR(dest->ops->name, "folder");
    CHECK_INT(dest->ops->is_backup, 1);

    CHECK_INT(dest->ops->put_metadata(dest, "shop", "orders", "{\"indexes\": []}", &e), 0);
    CHECK_INT(dest->ops->get_metadata(dest, "shop", "orders", &text, &e), 0);
    CHECK_STR(text, "{\"indexes\": []}");
    free(text);
    CHECK_INT(dest->ops->get_metadata(dest, "shop", "users", &text, &e), CCOPY_ENOTFOUND);
    CHECK_INT(dest->ops->prepare_collection(dest, "shop", "orders", 0, NULL, 0, &e), 0);
    CHECK_INT(dest->ops->prepare_collection(dest, "shop", "orders", 1, NULL, 0, &e), CCOPY_EINVAL);

    make_doc(&docs[0], "6955b9000000000000000001", 1);
    make_doc(&docs[1], "6955b9000000000000000002", 2);
    make_doc(&docs[2], "6955b9000000000000000003", 3);
    CHECK_INT(dest->ops->session_open(dest, &session, &e), 0);
    /* an aborted window leaves nothing in the catalog */
    CHECK_INT(dest->ops->window_begin(session, &spec, &w, &e), 0);
    CHECK_INT(dest->ops->window_add(w, &docs[0], &e), 0);
    dest->ops->window_abort(w);
    CHECK_INT(dest->ops->catalog_read(dest, NULL, "shop", "orders", &list, &count, &e), 0);
    CHECK_INT(count, 0);
    _ccopy_manifests_free(list, count);

    CHECK_INT(dest->ops->window_begin(session, &spec, &w, &e), 0);
    CHECK_INT(dest->ops->window_add(w, &docs[2], &e), 0);
    CHECK_INT(dest->ops->window_restart(w, &e), 0); /* thrown away */
    for (i = 0; i < 3; i++)
        CHECK_INT(dest->ops->window_add(w, &docs[i], &e), 0);
    memset(&m, 0, sizeof m);
    CHECK_INT(dest->ops->window_commit(w, &m, &e), 0);
    dest->ops->window_abort(w);
    CHECK_INT(m.documents, 3);
    ccopy_manifest_cleanup(&m);

    CHECK_INT(dest->ops->catalog_list(dest, NULL, &names, &count, &e), 0);
    CHECK_INT(count, 1);
    CHECK_STR(names[0], "shop");
    _ccopy_names_free(names, count);
    CHECK_INT(dest->ops->catalog_list(dest, "shop", &names, &count, &e), 0);
    CHECK_INT(count, 1);
    CHECK_STR(names[0], "orders");
    _ccopy_names_free(names, count);

    CHECK_INT(dest->ops->catalog_read(dest, NULL, "shop", "orders", &list, &count, &e), 0);
    CHECK_INT(count, 1);
    CHECK_INT(list[0].window.start, 1767225600);
    CHECK_INT(dest->ops->window_count(session, &list[0], &n, &e), 0);
    CHECK_INT(n, 3);
    CHECK_INT(dest->ops->window_read(session, &list[0], NULL, NULL, NULL, &e), 0);
    memset(&got, 0, sizeof got);
    CHECK_INT(dest->ops->window_read(session, &list[0], collect, NULL, &got, &e), 0);
    CHECK_INT(got.count, 3);
    for (i = 0; i < 3; i++) {
        CHECK(bson_equal(&got.docs[i], &docs[i]));
        bson_destroy(&got.docs[i]);
        bson_destroy(&docs[i]);
    }
    _ccopy_manifests_free(list, count);
    text = dest->ops->describe(dest);
    CHECK_STR(text, location);
    free(text);
    dest->ops->session_close(session);
    _ccopy_dest_close(dest);
    ccopy_test_remove_tree(dir);
    free(location);
    free(dir);
}

typedef struct counted {
    size_t calls, stop_at;
    uint32_t first_len;
} counted_t;

static int count_docs(const uint8_t *bson, size_t len, void *user_data)
{
    counted_t *c = user_data;
    uint32_t framed;
    memcpy(&framed, bson, sizeof framed);
    if (c->calls == 0)
        c->first_len = framed == len ? (uint32_t)len : 0;
    c->calls++;
    return c->calls == c->stop_at ? 42 : 0;
}

/* The public reader of a backup's windows: documents as raw BSON in order, checked against the
 * manifest; a callback's non-zero status stops the read as CCOPY_ESTOPPED carrying it. */
CCOPY_TEST(catalog_reads_a_window_and_its_callback_can_stop_it)
{
    char *dir = ccopy_test_temp_dir();
    char *location = malloc(strlen(dir) + 8);
    _ccopy_dest_store_config_t config;
    _ccopy_dest_t *dest = NULL;
    _ccopy_dest_session_t *session = NULL;
    _ccopy_dest_window_t *w = NULL;
    _ccopy_dest_window_spec_t spec = {CCOPY_MANIFEST_WINDOW, {1767225600, 1767229200}, "shop", "orders"};
    ccopy_catalog_t *catalog;
    ccopy_manifest_t m, *list = NULL;
    counted_t counted;
    bson_t doc;
    size_t count = 0;
    int i;
    ccopy_error_t e;

    sprintf(location, "dir:%s", dir);
    memset(&config, 0, sizeof config);
    _ccopy_sink_settings_default(&config.sink);
    config.format = "jsonl";
    config.compression = CCOPY_COMPRESS_GZIP;
    CHECK_INT(_ccopy_dest_store_open(&dest, location, 1, &config, &e), 0);
    CHECK_INT(dest->ops->session_open(dest, &session, &e), 0);
    CHECK_INT(dest->ops->window_begin(session, &spec, &w, &e), 0);
    for (i = 0; i < 5; i++) {
        char oid[25];
        snprintf(oid, sizeof oid, "6955b90000000000000000%02d", i + 1);
        make_doc(&doc, oid, i);
        CHECK_INT(dest->ops->window_add(w, &doc, &e), 0);
        bson_destroy(&doc);
    }
    memset(&m, 0, sizeof m);
    CHECK_INT(dest->ops->window_commit(w, &m, &e), 0);
    dest->ops->window_abort(w);
    ccopy_manifest_cleanup(&m);
    dest->ops->session_close(session);
    _ccopy_dest_close(dest);

    catalog = ccopy_catalog_open(location, &e);
    CHECK(catalog != NULL);
    CHECK_INT(ccopy_catalog_list(catalog, &list, &count, NULL, NULL, &e), 0);
    CHECK_INT(count, 1);
    CHECK_INT(ccopy_catalog_read_window(catalog, &list[0], NULL, NULL, &e), 0); /* check only */
    memset(&counted, 0, sizeof counted);
    CHECK_INT(ccopy_catalog_read_window(catalog, &list[0], count_docs, &counted, &e), 0);
    CHECK_INT(counted.calls, 5);
    CHECK(counted.first_len > 5);
    memset(&counted, 0, sizeof counted);
    counted.stop_at = 2;
    CHECK_INT(ccopy_catalog_read_window(catalog, &list[0], count_docs, &counted, &e), CCOPY_ESTOPPED);
    CHECK_INT(e.cause, 42);
    CHECK_INT(counted.calls, 2);
    CHECK(strstr(e.message, "stopped by the document callback (it returned 42)") != NULL);
    ccopy_manifest_array_free(list, count);
    ccopy_manifest_array_free(NULL, 5); /* a NULL handle is never a crash, whatever the count */
    ccopy_catalog_destroy(catalog);
    free(location);
    ccopy_test_remove_tree(dir);
    free(dir);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char *path = malloc(strlen(dir) + strlen(name) + 32);
    FILE *f;
    sprintf(path, "%s/shop/orders/%s", dir, name);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
    free(path);
}

static int has_file(const char *dir, const char *name)
{
    char *path = malloc(strlen(dir) + strlen(name) + 32);
    int there;
    sprintf(path, "%s/shop/orders/%s", dir, name);
    there = access(path, F_OK) == 0;
    free(path);
    return there;
}

/* A window whose data was renamed into place but whose manifest was not (a full disk, a kill)
 * is redone by the next run, often cut into windows of other names: the leftover data would
 * stay beside them for good, and `cat *.bson | mongorestore` would read it. Preparing the
 * collection for writing removes it; a reader, a helper without the lock, or a file not named
 * as a window's data leaves everything alone. */
CCOPY_TEST(preparing_a_collection_removes_data_no_manifest_names)
{
    static const char *const orphans[] = {
        "20260101T000000Z_20260102T000000Z.bson", "20260102T000000Z_20260103T000000Z.bson.zst",
        "20260103T000000Z_20260103T060000Z.jsonl.gz", "non-objectid.bson",
        "20260104T000000Z_20260105T000000Z.bson.gz"};
    static const char *const kept[] = {
        "20260104T000000Z_20260105T000000Z.bson", "metadata.json", "notes.txt",
        "20260101T000000Z_20260102T000000Z.bson.bak", "2026010T000000Z_20260102T000000Z.bson",
        "20260104T000000Z_20260105T000000Z.manifest.json"};
    char *dir = ccopy_test_temp_dir();
    char *location = malloc(strlen(dir) + 8), *folder = malloc(strlen(dir) + 32);
    _ccopy_dest_store_config_t config;
    _ccopy_dest_t *dest = NULL;
    ccopy_manifest_t m;
    size_t i;
    int helper;
    ccopy_error_t e;

    sprintf(location, "dir:%s", dir);
    sprintf(folder, "%s/shop", dir);
    CHECK_INT(mkdir(folder, 0777), 0);
    sprintf(folder, "%s/shop/orders", dir);
    CHECK_INT(mkdir(folder, 0777), 0);
    memset(&config, 0, sizeof config);
    _ccopy_sink_settings_default(&config.sink);
    config.format = "bson";
    memset(&m, 0, sizeof m);
    m.data = "20260104T000000Z_20260105T000000Z.bson"; /* the window a manifest names */

    for (helper = 1; helper >= 0; helper--) {
        for (i = 0; i < sizeof orphans / sizeof *orphans; i++)
            put_file(dir, orphans[i], "x");
        for (i = 0; i < sizeof kept / sizeof *kept; i++)
            put_file(dir, kept[i], "x");
        /* a reader and a distributed runner's helper never remove anything */
        CHECK_INT(_ccopy_dest_store_open(&dest, location, helper ? CCOPY_SINK_HELPER : 0, &config,
                                         &e),
                  0);
        CHECK_INT(dest->ops->prepare_collection(dest, "shop", "orders", 0, &m, 1, &e), 0);
        _ccopy_dest_close(dest);
        for (i = 0; i < sizeof orphans / sizeof *orphans; i++)
            CHECK(has_file(dir, orphans[i]));
    }
    CHECK_INT(_ccopy_dest_store_open(&dest, location, 1, &config, &e), 0);
    CHECK_INT(dest->ops->prepare_collection(dest, "shop", "orders", 0, &m, 1, &e), 0);
    _ccopy_dest_close(dest);
    for (i = 0; i < sizeof orphans / sizeof *orphans; i++)
        CHECK(!has_file(dir, orphans[i]));
    for (i = 0; i < sizeof kept / sizeof *kept; i++)
        CHECK(has_file(dir, kept[i]));
    ccopy_test_remove_tree(dir);
    free(folder);
    free(location);
    free(dir);
}
