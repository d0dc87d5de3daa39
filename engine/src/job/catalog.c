/*
 * Reading a backup's catalog for `cosmocopy list`: the manifests of every completed window, by
 * database and collection, through the same destination calls (catalog_list, catalog_read) that
 * plan, restore and verify use.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cosmocopy/catalog.h"
#include "dest_store.h"
#include "sink.h"

struct ccopy_catalog {
    _ccopy_dest_t *dest;
};

ccopy_catalog_t *ccopy_catalog_open(const char *location, ccopy_error_t *error)
{
    return ccopy_catalog_open_with_options(location, NULL, error);
}

ccopy_catalog_t *ccopy_catalog_open_with_options(const char *location, const ccopy_options_t *options,
                                                 ccopy_error_t *error)
{
    ccopy_catalog_t *catalog;
    _ccopy_dest_t *dest;
    _ccopy_dest_store_config_t config;
    memset(&config, 0, sizeof config);
    _ccopy_sink_settings_from_options(&config.sink, options);
    if (_ccopy_dest_store_open(&dest, location, 0, &config, error) != 0)
        return NULL;
    catalog = _ccopy_calloc(1, sizeof *catalog);
    catalog->dest = dest;
    return catalog;
}

void ccopy_catalog_destroy(ccopy_catalog_t *catalog)
{
    if (!catalog)
        return;
    _ccopy_dest_close(catalog->dest);
    free(catalog);
}

void ccopy_manifest_array_free(ccopy_manifest_t *manifests, size_t count)
{
    _ccopy_manifests_free(manifests, count);
}

/* Append one collection's manifests to *all. */
static int add_collection(ccopy_catalog_t *catalog, const char *db, const char *coll,
                          ccopy_manifest_t **all, size_t *count, ccopy_error_t *error)
{
    ccopy_manifest_t *m;
    size_t n, i;
    int rc = catalog->dest->ops->catalog_read(catalog->dest, NULL, db, coll, &m, &n, error);
    if (rc != 0)
        return rc;
    *all = _ccopy_realloc(*all, (*count + n) * sizeof **all);
    for (i = 0; i < n; i++)
        (*all)[(*count)++] = m[i];
    free(m); /* the strings moved into *all */
    return 0;
}

static int add_database(ccopy_catalog_t *catalog, const char *db, const char *coll,
                        ccopy_manifest_t **all, size_t *count, ccopy_error_t *error)
{
    char **colls;
    size_t n, i;
    int rc;
    if (coll)
        return add_collection(catalog, db, coll, all, count, error);
    rc = catalog->dest->ops->catalog_list(catalog->dest, db, &colls, &n, error);
    if (rc != 0)
        return rc;
    _ccopy_names_sort(colls, n);
    for (i = 0; i < n && rc == 0; i++)
        rc = add_collection(catalog, db, colls[i], all, count, error);
    _ccopy_names_free(colls, n);
    return rc;
}

int ccopy_catalog_list(ccopy_catalog_t *catalog, ccopy_manifest_t **out_manifests, size_t *out_count,
                       const char *db, const char *coll, ccopy_error_t *error)
{
    ccopy_manifest_t *all = NULL;
    size_t count = 0, i, n;
    char **dbs;
    int rc = 0;

    if (!catalog || !out_manifests || !out_count)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "no catalog or nowhere to put the manifests (NULL)");
    *out_manifests = NULL;
    *out_count = 0;
    if (db) {
        rc = add_database(catalog, db, coll, &all, &count, error);
    } else {
        rc = catalog->dest->ops->catalog_list(catalog->dest, NULL, &dbs, &n, error);
        if (rc == 0) {
            _ccopy_names_sort(dbs, n);
            for (i = 0; i < n && rc == 0; i++)
                rc = add_database(catalog, dbs[i], coll, &all, &count, error);
            _ccopy_names_free(dbs, n);
        }
    }
    if (rc != 0) {
        _ccopy_manifests_free(all, count);
        return rc;
    }
    *out_manifests = all;
    *out_count = count;
    return 0;
}

typedef struct document_reader {
    ccopy_document_cb on_document;
    void *user_data;
} document_reader_t;

static int give_document(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    document_reader_t *r = user_data;
    int status = r->on_document(bson_get_data(doc), doc->len, r->user_data);
    if (status != 0)
        return _ccopy_error_set(error, CCOPY_ESTOPPED, CCOPY_DOMAIN_ENGINE, status,
                                "stopped by the document callback (it returned %d)", status);
    return 0;
}

/* No callback: the documents are still framed and counted, so every check of the manifest is
 * made (a verifying pass before the one that acts). */
static int count_document(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    (void)doc;
    (void)user_data;
    (void)error;
    return 0;
}

int ccopy_catalog_read_window(ccopy_catalog_t *catalog, const ccopy_manifest_t *manifest,
                              ccopy_document_cb on_document, void *user_data, ccopy_error_t *error)
{
    document_reader_t reader = {on_document, user_data};
    _ccopy_dest_session_t *session = NULL;
    int rc;
    if (!catalog || !manifest)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "no catalog or no manifest given");
    rc = catalog->dest->ops->session_open(catalog->dest, &session, error);
    if (rc == 0)
        rc = catalog->dest->ops->window_read(session, manifest, on_document ? give_document : count_document,
                                             NULL, &reader, error);
    catalog->dest->ops->session_close(session);
    return rc;
}
