/*
 * The store destination over a folder: a window written through the destination calls comes
 * back through its catalog and window_read byte for byte; metadata.json round-trips; an aborted
 * window leaves no catalog entry; and a store refuses to drop a collection.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
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
    CHECK_INT(dest->ops->prepare_collection(dest, "shop", "orders", 0, &e), 0);
    CHECK_INT(dest->ops->prepare_collection(dest, "shop", "orders", 1, &e), CCOPY_EINVAL);

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
