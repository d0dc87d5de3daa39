/*
 * The Azure Blob Storage sink. Objects are block blobs named PREFIX/<db>/<coll>/<name>, the
 * same names the folder sink uses for files, so the catalog, incremental runs and list work the
 * same on both.
 *
 * This file opens and closes the sink and reads, writes and removes small objects (manifests,
 * the catalog): one request each, on the sink's shared client. Manifests are created with
 * If-None-Match: * (write-once); a window is complete when its manifest exists, and when a
 * write's answer is lost and the retry meets 409, the manifest is ours if its content is what we
 * sent. The rest lives beside it (blob_sink.h): the writer's lock (blob_lease.c), streamed
 * window data (blob_upload.c), reading it back (blob_download.c) and listing (blob_listing.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob.h"
#include "blob_sink.h"
#include "common.h"
#include "keyvault.h"
#include "sink.h"

#define LOCK_NAME ".cosmocopy.lock"

char *_ccopy_blob_full_name(const _ccopy_blob_sink_t *b, const char *db, const char *coll,
                            const char *name)
{
    const char *sep = b->prefix[0] ? "/" : "";
    char *d = _ccopy_sink_component(db), *c = _ccopy_sink_component(coll), *full;
    if (!c)
        full = _ccopy_strdup_printf("%s%s%s/%s", b->prefix, sep, d, name ? name : "");
    else
        full = _ccopy_strdup_printf("%s%s%s/%s/%s", b->prefix, sep, d, c, name ? name : "");
    free(d);
    free(c);
    return full;
}

static char *blob_describe(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name)
{
    _ccopy_blob_sink_t *b = sink->impl;
    char *path = _ccopy_blob_full_name(b, db, coll, name);
    char *text = _ccopy_strdup_printf("azblob://%s/%s", b->container, path);
    free(path);
    return text;
}

void _ccopy_blob_client_init(_ccopy_blob_client_t *c, const _ccopy_blob_sink_t *b)
{
    memset(c, 0, sizeof *c);
    _ccopy_http_client_init(&c->http, &b->settings.backoff, (long)b->settings.timeout_ms,
                            b->settings.canceled, b->settings.retries);
    c->acct = &b->acct;
}

/* One small request on the sink's shared client. */
int _ccopy_blob_small_send(_ccopy_blob_sink_t *b, const _ccopy_blob_request_t *req,
                           _ccopy_http_response_t *res, const char *what, ccopy_error_t *error)
{
    int rc;
    pthread_mutex_lock(&b->lock);
    rc = _ccopy_blob_send(&b->client, req, res, what, error);
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* One small write on the sink's shared client, made only while the lease is held. */
static int small_write(_ccopy_blob_sink_t *b, const _ccopy_blob_request_t *req,
                       _ccopy_http_response_t *res, const char *what, ccopy_error_t *error)
{
    int rc;
    pthread_mutex_lock(&b->lock);
    b->client.http.guard = b->leased ? _ccopy_blob_lease_guard : NULL;
    b->client.http.guard_data = b;
    rc = _ccopy_blob_send(&b->client, req, res, what, error);
    b->client.http.guard = NULL;
    pthread_mutex_unlock(&b->lock);
    return rc;
}

static int blob_open(_ccopy_sink_t *sink, int for_writing, ccopy_error_t *error)
{
    _ccopy_blob_sink_t *b = sink->impl;
    _ccopy_blob_request_t req = {.method = "GET", .container = b->container,
                                 .query = "restype=container"};
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    char *what = _ccopy_strdup_printf("checking container %s of account %s", b->container,
                                      b->acct.account);
    int rc = _ccopy_blob_small_send(b, &req, &res, what, error);

    /* A SAS scoped to a container may not read the container's properties; listing it is the
     * check that such a SAS can pass. */
    if (rc == 0 && res.status == 403 && b->acct.sas) {
        _ccopy_blob_request_t list = {.method = "GET", .container = b->container,
                                      .query = "restype=container&comp=list&maxresults=1"};
        rc = _ccopy_blob_small_send(b, &list, &res, what, error);
    }
    if (rc == 0 && res.status == 404 && strcmp(res.error_code, "ContainerNotFound") == 0) {
        if (!for_writing || !b->settings.create_container) {
            /* reading a backup: the container a person named is missing, as a folder can be */
            rc = _ccopy_error_set(error, for_writing ? CCOPY_ENOTFOUND : CCOPY_EINVAL, CCOPY_DOMAIN_HTTP, 404,
                                  "container %s does not exist in account %s%s", b->container,
                                  b->acct.account,
                                  for_writing ? " (option create_container creates it)" : "");
        } else {
            _ccopy_blob_request_t create = {.method = "PUT", .container = b->container,
                                            .query = "restype=container"};
            rc = _ccopy_blob_small_send(b, &create, &res, what, error);
            if (rc == 0 && res.status != 201 && res.status != 409)
                rc = _ccopy_blob_error(&b->acct, &res, what, error);
        }
    } else if (rc == 0 && res.status != 200) {
        rc = _ccopy_blob_error(&b->acct, &res, what, error);
    }
    _ccopy_http_response_reset(&res);
    free(what);
    if (rc == 0 && for_writing && for_writing != CCOPY_SINK_HELPER)
        rc = _ccopy_blob_lock_take(b, error);
    return rc;
}

/* ---- small objects ------------------------------------------------------------------------ */

static int blob_read_small(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                           char **out, size_t *out_len, ccopy_error_t *error)
{
    _ccopy_blob_sink_t *b = sink->impl;
    char *blob = _ccopy_blob_full_name(b, db, coll, name);
    char *what = _ccopy_strdup_printf("reading %s", blob);
    _ccopy_blob_request_t req = {.method = "GET", .container = b->container, .blob = blob};
    _ccopy_http_response_t res = {.body_limit = 64 << 20};
    int rc = _ccopy_blob_small_send(b, &req, &res, what, error);

    if (rc == 0 && res.status == 404)
        rc = _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_HTTP, 404, "%s: not found", blob);
    else if (rc == 0 && res.status != 200)
        rc = _ccopy_blob_error(&b->acct, &res, what, error);
    if (rc == 0) {
        *out_len = res.body_len;
        *out = res.body ? res.body : _ccopy_strdup("");
        res.body = NULL;
    }
    _ccopy_http_response_reset(&res);
    free(what);
    free(blob);
    return rc;
}

static int ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text), s = strlen(suffix);
    return n >= s && strcmp(text + n - s, suffix) == 0;
}

static int blob_write_small(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                            const char *data, size_t len, ccopy_error_t *error)
{
    _ccopy_blob_sink_t *b = sink->impl;
    char *blob = _ccopy_blob_full_name(b, db, coll, name);
    char *what = _ccopy_strdup_printf("writing %s", blob);
    char md5[32];
    /* manifests are write-once: one exists only when its window is complete */
    int once = ends_with(name, ".manifest.json");
    _ccopy_blob_request_t req = {.method = "PUT", .container = b->container, .blob = blob,
                                 .content_md5 = md5, .content_type = "application/json",
                                 .if_none_match = once ? "*" : NULL,
                                 .xms = {"x-ms-blob-type:BlockBlob"},
                                 .body = (const uint8_t *)data, .body_len = len};
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    int rc;

    _ccopy_md5_base64((const uint8_t *)data, len, md5);
    rc = small_write(b, &req, &res, what, error);
    if (rc == 0 && res.status == 409 && once) {
        /* already there: ours if an earlier try of this very write went through */
        char *have = NULL;
        size_t have_len = 0;
        rc = blob_read_small(sink, db, coll, name, &have, &have_len, error);
        if (rc == 0 && (have_len != len || memcmp(have, data, len) != 0))
            rc = _ccopy_error_set(error, CCOPY_EBUSY, CCOPY_DOMAIN_HTTP, 409,
                                  "%s: another writer created it first", blob);
        free(have);
    } else if (rc == 0 && res.status != 201) {
        rc = _ccopy_blob_error(&b->acct, &res, what, error);
    }
    _ccopy_http_response_reset(&res);
    free(what);
    free(blob);
    return rc;
}

int _ccopy_blob_delete(_ccopy_blob_sink_t *b, _ccopy_blob_client_t *client, const char *blob,
                       ccopy_error_t *error)
{
    char *what = _ccopy_strdup_printf("removing %s", blob);
    _ccopy_blob_request_t req = {.method = "DELETE", .container = b->container, .blob = blob};
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    int rc = client ? _ccopy_blob_send(client, &req, &res, what, error)
                    : small_write(b, &req, &res, what, error);
    if (rc == 0 && res.status != 202 && res.status != 200 && res.status != 404)
        rc = _ccopy_blob_error(&b->acct, &res, what, error);
    _ccopy_http_response_reset(&res);
    free(what);
    return rc;
}

static int blob_remove(_ccopy_sink_t *sink, const char *db, const char *coll, const char *name,
                       ccopy_error_t *error)
{
    _ccopy_blob_sink_t *b = sink->impl;
    char *blob = _ccopy_blob_full_name(b, db, coll, name);
    int rc = _ccopy_blob_delete(b, NULL, blob, error);
    free(blob);
    return rc;
}

static void blob_close(_ccopy_sink_t *sink)
{
    _ccopy_blob_sink_t *b = sink->impl;
    if (!b)
        return;
    _ccopy_blob_lock_release(b);
    if (b->client.http.curl)
        curl_easy_cleanup(b->client.http.curl);
    pthread_mutex_destroy(&b->lock);
    pthread_mutex_destroy(&b->lease_lock);
    pthread_cond_destroy(&b->lease_cond);
    free(b->lock_blob);
    free(b->lock_where);
    _ccopy_blob_account_cleanup(&b->acct);
    free(b->container);
    free(b->prefix);
    free(b);
}

static const _ccopy_sink_ops_t blob_ops = {
    .scheme = "azblob",
    .open = blob_open,
    .list = _ccopy_blob_list,
    .list_groups = _ccopy_blob_list_groups,
    .read_small = blob_read_small,
    .write_small = blob_write_small,
    .remove = blob_remove,
    .object_begin = _ccopy_blob_object_begin,
    .object_append = _ccopy_blob_object_append,
    .object_commit = _ccopy_blob_object_commit,
    .object_abort = _ccopy_blob_object_abort,
    .object_read = _ccopy_blob_object_read,
    .describe = blob_describe,
    .close = blob_close,
};

static char *trim_slashes(const char *text)
{
    size_t n;
    while (*text == '/')
        text++;
    n = strlen(text);
    while (n > 0 && text[n - 1] == '/')
        n--;
    return _ccopy_strndup(text, n);
}

int _ccopy_sink_blob_new(_ccopy_sink_t **out, const char *location,
                         const _ccopy_sink_settings_t *settings, ccopy_error_t *error)
{
    _ccopy_blob_sink_t *b = _ccopy_calloc(1, sizeof *b);
    _ccopy_sink_t *sink;
    int rc;

    b->settings = *settings;
    b->settings.credentials.canceled = settings->canceled;
    b->settings.credentials.retries = settings->retries;
    if (strncmp(location, "azblob://", 9) == 0) {
        const char *rest = location + 9, *slash = strchr(rest, '/');
        const char *cs = settings->blob_connection_string, *option = "blob_connection_string";
        char *secret = NULL;
        if (!cs || !*cs) {
            cs = getenv("AZURE_STORAGE_CONNECTION_STRING");
            option = "blob_connection_string ($AZURE_STORAGE_CONNECTION_STRING)";
        }
        if (!cs || !*cs) {
            free(b);
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "no credentials for %s: give option blob_connection_string, set "
                                    "AZURE_STORAGE_CONNECTION_STRING, or use a container URL (with a SAS, "
                                    "or without one for Microsoft Entra ID)",
                                    location);
        }
        /* a Key Vault reference: the connection string is the secret's value, read now */
        rc = _ccopy_keyvault_resolve(&secret, option, cs, &b->settings.credentials, error);
        if (rc == 0 &&
            (rc = _ccopy_blob_account_from_connection_string(&b->acct, secret ? secret : cs,
                                                             error)) == CCOPY_EINVAL) {
            /* name where the malformed text came from */
            char was[sizeof error->message];
            snprintf(was, sizeof was, "%s", error->message);
            _ccopy_error_set(error, rc, error->domain, error->cause, "%s: %s",
                             strchr(option, '$') ? "$AZURE_STORAGE_CONNECTION_STRING"
                                                 : "option blob_connection_string",
                             was);
        }
        _ccopy_secret_free(secret);
        if (rc != 0) {
            free(b);
            return rc;
        }
        b->container = slash ? _ccopy_strndup(rest, (size_t)(slash - rest)) : _ccopy_strdup(rest);
        b->prefix = trim_slashes(slash ? slash + 1 : "");
    } else {
        char *container = NULL, *prefix = NULL;
        rc = _ccopy_blob_account_from_sas_url(&b->acct, location, &container, &prefix, error);
        if (rc != 0) {
            free(b);
            return rc;
        }
        b->container = container;
        b->prefix = trim_slashes(prefix);
        free(prefix);
    }
    b->acct.credentials = &b->settings.credentials;
    pthread_mutex_init(&b->lock, NULL);
    pthread_mutex_init(&b->lease_lock, NULL);
    {
        /* the renewer waits on the monotonic clock, as the lease's deadline is kept */
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&b->lease_cond, &attr);
        pthread_condattr_destroy(&attr);
    }
    b->lock_blob = _ccopy_strdup_printf("%s%s%s", b->prefix, b->prefix[0] ? "/" : "", LOCK_NAME);
    b->lock_where = _ccopy_strdup_printf("azblob://%s/%s", b->container, b->lock_blob);
    _ccopy_blob_client_init(&b->client, b);
    sink = _ccopy_calloc(1, sizeof *sink);
    sink->ops = &blob_ops;
    sink->impl = b;
    /* the container name was checked with the location (_ccopy_sink_check_location) */
    *out = sink;
    return 0;
}
