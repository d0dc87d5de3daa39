/*
 * Connections to the source server and what a job asks of it before copying: which collections
 * exist, their indexes and options (for metadata.json), where the ObjectId range starts and how
 * many documents fall outside it. Driver errors are mapped here, once, to ccopy codes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "reader.h"
#include "source.h"
#include "version.h"

static char *hosts_text(const mongoc_uri_t *uri)
{
    const mongoc_host_list_t *h = mongoc_uri_get_hosts(uri);
    char *text = NULL;
    if (!h && mongoc_uri_get_srv_hostname(uri))
        return _ccopy_strdup(mongoc_uri_get_srv_hostname(uri));
    for (; h; h = h->next) {
        char *next = text ? _ccopy_strdup_printf("%s,%s", text, h->host_and_port)
                          : _ccopy_strdup(h->host_and_port);
        free(text);
        text = next;
    }
    return text ? text : _ccopy_strdup("(no host)");
}

#define PERCENT_ENCODING "(RFC 3986: ':' as %%3A, '@' as %%40, '/' as %%2F, '%%' as %%25)"

/* The credentials of a connection string as written: "scheme://" to the first '/' after it (or
 * '?', or the end) holds at most one '@'. libmongoc splits at the first one, so an unescaped '@'
 * in a password made the rest of it a host name, and the error named it ("cannot reach
 * PW@127.0.0.1"); its own message for other unescaped characters quotes the password. Neither
 * may reach a message: these checks say what is wrong without the text. */
static int credentials_problem(const char *uri_text, ccopy_error_t *error)
{
    const char *authority = strstr(uri_text, "://"), *p;
    int ats = 0;
    if (!authority)
        return 0;
    for (p = authority + 3; *p && *p != '/' && *p != '?'; p++)
        ats += *p == '@';
    if (ats > 1)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "malformed connection string: the user name or password holds "
                                "an unescaped '@'; percent-encode it " PERCENT_ENCODING);
    return 0;
}

/* libmongoc's message for a connection string it refused, unless it is about how the password
 * is written (it quotes it) or holds the password anyway (one of four bytes or more: a shorter
 * one is found in any message). Others stand ("MONGODB-X509 ... does not accept a password"). */
static int malformed(const char *uri_text, const bson_error_t *e, ccopy_error_t *error)
{
    const char *authority = strstr(uri_text, "://"), *at, *colon;
    int quotes_password = strstr(e->message, "Password \"") != NULL ||
                          strcasestr(e->message, "escapes in password") != NULL;
    if (authority && (at = strchr(authority + 3, '@')) != NULL &&
        (colon = memchr(authority + 3, ':', (size_t)(at - authority - 3))) != NULL &&
        at >= colon + 5) {
        char *password = _ccopy_strndup(colon + 1, (size_t)(at - colon - 1));
        quotes_password = quotes_password || strstr(e->message, password) != NULL;
        free(password);
    }
    if (quotes_password)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_MONGO, e->code,
                                "malformed connection string: the password is not "
                                "percent-encoded " PERCENT_ENCODING);
    return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_MONGO, e->code,
                            "malformed connection string: %s", e->message);
}

/* libmongoc accepts any authMechanism and only fails when it authenticates, after the
 * connection is made: a misspelt one is bad input, found at once. NULL (none given) is fine. */
static int known_auth_mechanism(const char *mechanism)
{
    static const char *const known[] = {"SCRAM-SHA-256", "SCRAM-SHA-1", "MONGODB-X509", "MONGODB-AWS",
                                        "PLAIN", "GSSAPI", "MONGODB-CR", NULL};
    size_t i;
    if (!mechanism)
        return 1;
    for (i = 0; known[i]; i++) {
        if (strcasecmp(mechanism, known[i]) == 0)
            return 1;
    }
    return 0;
}

void _ccopy_source_settings_from(_ccopy_source_settings_t *out, const _ccopy_settings_t *settings)
{
    out->server_timeout_ms = settings->server_timeout_ms;
    out->socket_timeout_ms = settings->socket_timeout_ms;
    out->tls_ca_file = settings->tls_ca_file;
    out->max_clients = (int)settings->parallel + 1;
}

int _ccopy_source_open(_ccopy_source_t **out, const char *uri_text,
                       const _ccopy_source_settings_t *settings, ccopy_error_t *error)
{
    int64_t server_timeout_ms = settings->server_timeout_ms;
    const char *ca = settings->tls_ca_file;
    bson_error_t e;
    mongoc_uri_t *uri;
    _ccopy_source_t *source;

    *out = NULL;
    if (!uri_text || !*uri_text)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "no source connection string given");
    if (credentials_problem(uri_text, error))
        return CCOPY_EINVAL;
    uri = mongoc_uri_new_with_error(uri_text, &e);
    if (!uri)
        return malformed(uri_text, &e, error);
    if (!known_auth_mechanism(mongoc_uri_get_auth_mechanism(uri))) {
        int rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                  "malformed connection string: unknown authMechanism \"%s\" "
                                  "(expected SCRAM-SHA-256, SCRAM-SHA-1, MONGODB-X509, MONGODB-AWS, "
                                  "PLAIN or GSSAPI)",
                                  mongoc_uri_get_auth_mechanism(uri));
        mongoc_uri_destroy(uri);
        return rc;
    }
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, (int32_t)server_timeout_ms);
    if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, (int32_t)server_timeout_ms);
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS) && settings->socket_timeout_ms > 0)
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS,
                                       (int32_t)settings->socket_timeout_ms);
    if (ca && *ca) {
        /* ccopy_job_new checked the file; this catches one removed since, in the same words */
        FILE *f = fopen(ca, "r");
        if (!f) {
            int err = errno;
            mongoc_uri_destroy(uri);
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_OS, err,
                                    "option tls_ca_file: CA file %s cannot be read: %s", ca,
                                    strerror(err));
        }
        fclose(f);
        /* Certificates are still checked: only tlsInsecure or tlsAllowInvalidCertificates in
         * the URI turn that off, and only when the user writes them. */
        mongoc_uri_set_option_as_bool(uri, MONGOC_URI_TLS, true);
        mongoc_uri_set_option_as_utf8(uri, MONGOC_URI_TLSCAFILE, ca);
    }
    if (!mongoc_uri_has_option(uri, MONGOC_URI_APPNAME))
        mongoc_uri_set_appname(uri, "cosmocopy/" CCOPY_VERSION_STRING);
    /* Cosmos DB refuses retryable writes and every read here is retried by the engine itself. */
    if (!mongoc_uri_has_option(uri, MONGOC_URI_RETRYREADS))
        mongoc_uri_set_option_as_bool(uri, MONGOC_URI_RETRYREADS, false);

    source = _ccopy_calloc(1, sizeof *source);
    source->uri = uri;
    source->hosts = hosts_text(uri);
    source->pool = mongoc_client_pool_new_with_error(uri, &e);
    if (!source->pool) {
        int rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_MONGO, e.code,
                                  "cannot use connection string for %s: %s", source->hosts,
                                  e.message);
        _ccopy_source_close(source);
        return rc;
    }
    mongoc_client_pool_set_error_api(source->pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_pool_max_size(source->pool,
                                (uint32_t)(settings->max_clients > 0 ? settings->max_clients : 1));
    *out = source;
    return 0;
}

void _ccopy_source_close(_ccopy_source_t *source)
{
    if (!source)
        return;
    if (source->pool)
        mongoc_client_pool_destroy(source->pool);
    mongoc_uri_destroy(source->uri);
    free(source->hosts);
    free(source);
}

static int is_network_domain(uint32_t domain)
{
    return domain == MONGOC_ERROR_STREAM || domain == MONGOC_ERROR_SERVER_SELECTION ||
           domain == MONGOC_ERROR_PROTOCOL;
}

_ccopy_retry_class_t _ccopy_source_error_class(const bson_error_t *e)
{
    if (is_network_domain(e->domain))
        return CCOPY_RETRY_NETWORK;
    if (e->domain == MONGOC_ERROR_CLIENT && e->code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
        return CCOPY_RETRY_NEVER;
    if (e->domain == MONGOC_ERROR_SERVER || e->domain == MONGOC_ERROR_QUERY ||
        e->domain == MONGOC_ERROR_WRITE_CONCERN || e->domain == MONGOC_ERROR_CURSOR)
        return _ccopy_classify_server_error(e->code, e->message);
    return CCOPY_RETRY_NEVER;
}

int _ccopy_source_error(_ccopy_source_t *source, ccopy_error_t *error, const bson_error_t *e,
                        const char *what)
{
    int code = CCOPY_ESERVER;
    const char *hosts = source ? source->hosts : "server";

    if (e->domain == MONGOC_ERROR_SERVER_SELECTION)
        return _ccopy_error_set(error, CCOPY_ETIMEDOUT, CCOPY_DOMAIN_MONGO, e->code,
                                "%s: cannot reach %s: %s", what, hosts, e->message);
    if (is_network_domain(e->domain))
        return _ccopy_error_set(error, CCOPY_ENETWORK, CCOPY_DOMAIN_MONGO, e->code,
                                "%s: connection to %s failed: %s", what, hosts, e->message);
    if ((e->domain == MONGOC_ERROR_CLIENT && e->code == MONGOC_ERROR_CLIENT_AUTHENTICATE) ||
        e->code == 13 || e->code == 18)
        return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_MONGO, e->code,
                                "%s: authentication failed on %s: %s", what, hosts, e->message);
    switch (_ccopy_classify_server_error(e->code, e->message)) {
    case CCOPY_RETRY_THROTTLED: code = CCOPY_ETHROTTLED; break;
    case CCOPY_RETRY_TIMEOUT: code = CCOPY_ETIMEDOUT; break;
    case CCOPY_RETRY_NETWORK: code = CCOPY_ENETWORK; break;
    default: code = e->code == 26 ? CCOPY_ENOTFOUND : CCOPY_ESERVER; break;
    }
    return _ccopy_error_set(error, code, CCOPY_DOMAIN_MONGO, e->code, "%s: %s answered: %s", what,
                            hosts, e->message);
}

int _ccopy_source_list_collections(_ccopy_source_t *source, mongoc_client_t *client, const char *db,
                                   char ***out_names, size_t *out_count, ccopy_error_t *error)
{
    mongoc_database_t *database = mongoc_client_get_database(client, db);
    mongoc_cursor_t *cursor = mongoc_database_find_collections_with_opts(database, NULL);
    const bson_t *info;
    bson_error_t e;
    char **names = NULL;
    size_t count = 0;
    int rc = 0;

    *out_names = NULL;
    *out_count = 0;
    while (mongoc_cursor_next(cursor, &info)) {
        bson_iter_t it;
        const char *name = NULL, *type = "collection";
        if (bson_iter_init_find(&it, info, "name") && BSON_ITER_HOLDS_UTF8(&it))
            name = bson_iter_utf8(&it, NULL);
        if (bson_iter_init_find(&it, info, "type") && BSON_ITER_HOLDS_UTF8(&it))
            type = bson_iter_utf8(&it, NULL);
        if (!name || strcmp(type, "collection") != 0 || strncmp(name, "system.", 7) == 0)
            continue;
        names = _ccopy_realloc(names, (count + 1) * sizeof *names);
        names[count++] = _ccopy_strdup(name);
    }
    if (mongoc_cursor_error(cursor, &e)) {
        char *what = _ccopy_strdup_printf("listing collections of database %s", db);
        rc = _ccopy_source_error(source, error, &e, what);
        free(what);
    } else if (count == 0) {
        rc = _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_ENGINE, 0,
                              "database %s not found on %s (it has no collections)", db,
                              source->hosts);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_database_destroy(database);
    if (rc != 0) {
        _ccopy_names_free(names, count);
        return rc;
    }
    _ccopy_names_sort(names, count);
    *out_names = names;
    *out_count = count;
    return 0;
}

/* The listCollections entry of one collection, copied into *out (initialised either way). */
static int collection_info(_ccopy_source_t *source, mongoc_client_t *client, const char *db,
                           const char *coll, bson_t *out, ccopy_error_t *error)
{
    mongoc_database_t *database = mongoc_client_get_database(client, db);
    bson_t opts = BSON_INITIALIZER, filter;
    mongoc_cursor_t *cursor;
    const bson_t *info;
    bson_error_t e;
    int found = 0, rc = 0;

    bson_init(out);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "filter", &filter);
    BSON_APPEND_UTF8(&filter, "name", coll);
    bson_append_document_end(&opts, &filter);
    cursor = mongoc_database_find_collections_with_opts(database, &opts);
    while (mongoc_cursor_next(cursor, &info)) {
        if (!found) {
            bson_destroy(out);
            bson_copy_to(info, out);
            found = 1;
        }
    }
    if (mongoc_cursor_error(cursor, &e)) {
        char *what = _ccopy_strdup_printf("reading the options of %s.%s", db, coll);
        rc = _ccopy_source_error(source, error, &e, what);
        free(what);
    } else if (!found) {
        rc = _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_ENGINE, 0,
                              "collection %s not found in database %s on %s", coll, db,
                              source->hosts);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_database_destroy(database);
    bson_destroy(&opts);
    return rc;
}

int _ccopy_source_metadata_json(_ccopy_source_t *source, mongoc_client_t *client, const char *db,
                                const char *coll, char **out_json, ccopy_error_t *error)
{
    mongoc_collection_t *collection;
    mongoc_cursor_t *cursor;
    bson_t info, meta = BSON_INITIALIZER, options, indexes;
    bson_iter_t it;
    const bson_t *index;
    bson_error_t e;
    uint32_t n = 0;
    int rc;
    char *json;

    *out_json = NULL;
    rc = collection_info(source, client, db, coll, &info, error);
    if (rc != 0) {
        bson_destroy(&info);
        return rc;
    }
    if (bson_iter_init_find(&it, &info, "options") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        bson_append_iter(&meta, "options", -1, &it);
    } else {
        BSON_APPEND_DOCUMENT_BEGIN(&meta, "options", &options);
        bson_append_document_end(&meta, &options);
    }
    collection = mongoc_client_get_collection(client, db, coll);
    cursor = mongoc_collection_find_indexes_with_opts(collection, NULL);
    BSON_APPEND_ARRAY_BEGIN(&meta, "indexes", &indexes);
    while (mongoc_cursor_next(cursor, &index)) {
        char key[16];
        const char *keyp;
        bson_uint32_to_string(n++, &keyp, key, sizeof key);
        BSON_APPEND_DOCUMENT(&indexes, keyp, index);
    }
    bson_append_array_end(&meta, &indexes);
    if (mongoc_cursor_error(cursor, &e)) {
        char *what = _ccopy_strdup_printf("reading the indexes of %s.%s", db, coll);
        rc = _ccopy_source_error(source, error, &e, what);
        free(what);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(collection);
    if (rc == 0) {
        bson_iter_t uuid;
        if (bson_iter_init(&it, &info) && bson_iter_find_descendant(&it, "info.uuid", &uuid) &&
            BSON_ITER_HOLDS_BINARY(&uuid)) {
            const uint8_t *bytes;
            uint32_t len, i;
            bson_subtype_t subtype;
            char hex[33] = "";
            bson_iter_binary(&uuid, &subtype, &len, &bytes);
            for (i = 0; i < len && i < 16; i++)
                snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
            BSON_APPEND_UTF8(&meta, "uuid", hex);
        }
        BSON_APPEND_UTF8(&meta, "collectionName", coll);
        BSON_APPEND_UTF8(&meta, "type", "collection");
        json = bson_as_canonical_extended_json(&meta, NULL);
        *out_json = _ccopy_strdup(json);
        bson_free(json);
    }
    bson_destroy(&meta);
    bson_destroy(&info);
    return rc;
}

/* The _id of the first document in _id order (direction 1) or the last (-1), if any. */
static int edge_id(_ccopy_source_t *source, mongoc_client_t *client, const char *db, const char *coll,
                   const bson_t *filter, int direction, bson_value_t *out, int *found,
                   ccopy_error_t *error)
{
    mongoc_collection_t *collection = mongoc_client_get_collection(client, db, coll);
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(direction), "}", "limit", BCON_INT64(1),
                            "projection", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(collection, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t e;
    int rc = 0;

    *found = 0;
    if (mongoc_cursor_next(cursor, &doc)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "_id")) {
            bson_value_copy(bson_iter_value(&it), out);
            *found = 1;
        }
    }
    if (mongoc_cursor_error(cursor, &e)) {
        char *what = _ccopy_strdup_printf("reading the first _id of %s.%s", db, coll);
        rc = _ccopy_source_error(source, error, &e, what);
        free(what);
    }
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    mongoc_collection_destroy(collection);
    return rc;
}

int _ccopy_source_oldest_oid_time(_ccopy_source_t *source, mongoc_client_t *client, const char *db,
                                  const char *coll, int64_t *out_time, ccopy_error_t *error)
{
    /* $gte the smallest ObjectId matches ObjectIds only (type bracketing) and is served by the
     * _id index, so this costs one index seek rather than a scan. */
    bson_oid_t zero;
    bson_t *filter;
    bson_value_t id;
    int found, rc;

    memset(&zero, 0, sizeof zero);
    filter = BCON_NEW("_id", "{", "$gte", BCON_OID(&zero), "}");
    rc = edge_id(source, client, db, coll, filter, 1, &id, &found, error);
    bson_destroy(filter);
    *out_time = -1;
    if (rc == 0 && found) {
        if (id.value_type == BSON_TYPE_OID)
            *out_time = (int64_t)bson_oid_get_time_t(&id.value.v_oid);
        bson_value_destroy(&id);
    }
    return rc;
}

int _ccopy_source_window_has_documents(_ccopy_source_t *source, mongoc_client_t *client,
                                       const char *db, const char *coll,
                                       const ccopy_window_t *window, int *out_has,
                                       ccopy_error_t *error)
{
    bson_t filter = BSON_INITIALIZER;
    bson_value_t id;
    int rc;

    _ccopy_window_filter(&filter, window, NULL);
    rc = edge_id(source, client, db, coll, &filter, 1, &id, out_has, error);
    if (rc == 0 && *out_has)
        bson_value_destroy(&id);
    bson_destroy(&filter);
    return rc;
}

int _ccopy_source_has_non_oid(_ccopy_source_t *source, mongoc_client_t *client, const char *db,
                              const char *coll, int *out_has, ccopy_error_t *error)
{
    /* In _id order every other BSON type sorts wholly before or wholly after ObjectId, so the
     * first and the last _id tell, with two index-served reads, whether any exists. */
    bson_t empty = BSON_INITIALIZER;
    int direction, rc = 0;

    *out_has = 0;
    for (direction = 1; rc == 0 && !*out_has && direction >= -1; direction -= 2) {
        bson_value_t id;
        int found;
        rc = edge_id(source, client, db, coll, &empty, direction, &id, &found, error);
        if (rc == 0 && found) {
            *out_has = id.value_type != BSON_TYPE_OID;
            bson_value_destroy(&id);
        }
    }
    bson_destroy(&empty);
    return rc;
}

void _ccopy_non_oid_filter(bson_t *filter)
{
    bson_t id, not;
    BSON_APPEND_DOCUMENT_BEGIN(filter, "_id", &id);
    BSON_APPEND_DOCUMENT_BEGIN(&id, "$not", &not);
    BSON_APPEND_INT32(&not, "$type", 7);
    bson_append_document_end(&id, &not);
    bson_append_document_end(filter, &id);
}

int _ccopy_source_count_non_oid(_ccopy_source_t *source, mongoc_client_t *client, const char *db,
                                const char *coll, int64_t *out_count, ccopy_error_t *error)
{
    mongoc_collection_t *collection = mongoc_client_get_collection(client, db, coll);
    bson_t filter = BSON_INITIALIZER;
    bson_error_t e;
    int64_t n;
    int has, rc;

    *out_count = 0;
    rc = _ccopy_source_has_non_oid(source, client, db, coll, &has, error);
    if (rc != 0 || !has) {
        mongoc_collection_destroy(collection);
        return rc;
    }
    _ccopy_non_oid_filter(&filter);
    n = mongoc_collection_count_documents(collection, &filter, NULL, NULL, NULL, &e);
    if (n < 0) {
        char *what = _ccopy_strdup_printf("counting documents of %s.%s whose _id is not an ObjectId",
                                          db, coll);
        rc = _ccopy_source_error(source, error, &e, what);
        free(what);
        n = 0;
    }
    *out_count = n;
    bson_destroy(&filter);
    mongoc_collection_destroy(collection);
    return rc;
}
