/*
 * What every sink shares: choosing a sink from its location, reading a collection's catalog of
 * manifests, naming window objects, and the window writer that turns a stream of documents into
 * a committed data object followed by its manifest.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "common.h"
#include "extjson.h"
#include "jsonw.h"
#include "cosmocopy/options.h"
#include "sink.h"
#include "version.h"

/* azblob://, or a container URL: with a SAS, or (https only) without one for Entra ID. */
static int is_blob_location(const char *location)
{
    return strncmp(location, "azblob://", 9) == 0 || strncmp(location, "https://", 8) == 0 ||
           (strncmp(location, "http://", 7) == 0 && strchr(location, '?') != NULL);
}

/* A container URL is read at once, so a malformed one is refused before any work. */
static int check_sas_url(const char *location, ccopy_error_t *error)
{
    _ccopy_blob_account_t acct;
    char *container = NULL, *prefix = NULL;
    int rc = _ccopy_blob_account_from_sas_url(&acct, location, &container, &prefix, error);
    if (rc == 0) {
        const char *why = _ccopy_container_name_problem(container);
        _ccopy_blob_account_cleanup(&acct);
        if (why)
            rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                  "option sink: container name \"%s\" %s", container, why);
    }
    free(container);
    free(prefix);
    return rc;
}

/* Why Blob Storage would refuse a container name (it answers 400 InvalidResourceName), or NULL:
 * 3 to 63 lowercase letters, digits and hyphens, starting with a letter or a digit, every hyphen
 * between two of them; or one of the service's own $root, $web and $logs. */
const char *_ccopy_container_name_problem(const char *name)
{
    size_t n = strlen(name), i;
    if (strcmp(name, "$root") == 0 || strcmp(name, "$web") == 0 || strcmp(name, "$logs") == 0)
        return NULL;
    if (n < 3 || n > 63)
        return "must be 3 to 63 characters";
    for (i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return "may hold only lowercase letters, digits and hyphens";
        if (c == '-' && (i == 0 || i == n - 1 || name[i + 1] == '-'))
            return "must start and end with a letter or a digit, with no two hyphens in a row";
    }
    return NULL;
}

int _ccopy_sink_check_location(const char *location, ccopy_error_t *error)
{
    if (!location || !*location)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option sink: no destination given (expected dir:PATH, "
                                "azblob://CONTAINER[/PREFIX] or a container URL with a SAS)");
    if (strncmp(location, "dir:", 4) == 0 && location[4])
        return 0;
    if (strncmp(location, "azblob://", 9) == 0 && location[9] && location[9] != '/') {
        char *container = _ccopy_strndup(location + 9, strcspn(location + 9, "/"));
        const char *why = _ccopy_container_name_problem(container);
        int rc = 0;
        if (why)
            rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                  "option sink: container name \"%s\" %s", container, why);
        free(container);
        return rc;
    }
    if (is_blob_location(location) && strncmp(location, "azblob://", 9) != 0)
        return check_sas_url(location, error);
    {
        char *shown = _ccopy_strdup(location);
        int rc, path;
        _ccopy_mask_secrets(shown);
        /* a backup's location, written or read (restore, list, verify --backup) */
        path = shown[0] == '/' || shown[0] == '.' || shown[0] == '~';
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                              "option sink: unsupported destination \"%s\"%s%s%s: expected dir:PATH, "
                              "azblob://CONTAINER[/PREFIX] or a container URL "
                              "(https://ACCOUNT.blob.core.windows.net/CONTAINER, with a SAS ?sv=... "
                              "or without one for Microsoft Entra ID)",
                              shown, path ? " (a folder is written dir:" : "", path ? shown : "",
                              path ? ")" : "");
        free(shown);
        return rc;
    }
}

void _ccopy_sink_settings_default(_ccopy_sink_settings_t *s)
{
    memset(s, 0, sizeof *s);
    s->block_size = 4 << 20;
    s->blocks_in_flight = 4;
    s->backoff = (_ccopy_backoff_t){10, 200, 30000};
    s->timeout_ms = 300000;
    _ccopy_credential_settings_default(&s->credentials);
}

void _ccopy_sink_settings_from(_ccopy_sink_settings_t *s, const _ccopy_settings_t *settings)
{
    _ccopy_sink_settings_default(s);
    if (!settings)
        return;
    s->blob_connection_string = settings->blob_connection_string;
    s->create_container = settings->create_container_choice; /* no|yes */
    s->block_size = settings->block_size;
    s->blocks_in_flight = (int)settings->blocks_in_flight;
    s->backoff.max_retries = (int)settings->retry_budget;
    s->backoff.base_ms = settings->retry_base_ms;
    s->backoff.cap_ms = settings->retry_max_delay_ms;
    s->timeout_ms = settings->blob_timeout_ms;
    _ccopy_credential_settings_from(&s->credentials, settings);
}

void _ccopy_sink_settings_from_options(_ccopy_sink_settings_t *s, const ccopy_options_t *o)
{
    _ccopy_settings_t settings;
    _ccopy_sink_settings_default(s);
    if (!o || _ccopy_settings_load(&settings, o, NULL) != 0)
        return;
    _ccopy_sink_settings_from(s, &settings);
    /* These callers keep the options, not the settings, so the strings must be theirs. */
    s->blob_connection_string = ccopy_options_get(o, "blob_connection_string");
    s->credentials.managed_identity_client_id = ccopy_options_get(o, "managed_identity_client_id");
    if (ccopy_options_get(o, "https_ca_file"))
        s->credentials.ca_file = ccopy_options_get(o, "https_ca_file");
    _ccopy_settings_cleanup(&settings);
}

int _ccopy_sink_open(_ccopy_sink_t **out, const char *location, int for_writing,
                     const _ccopy_sink_settings_t *settings, ccopy_error_t *error)
{
    _ccopy_sink_settings_t defaults;
    _ccopy_sink_t *sink = NULL;
    int rc;

    *out = NULL;
    if (!settings) {
        _ccopy_sink_settings_default(&defaults);
        settings = &defaults;
    }
    rc = _ccopy_sink_check_location(location, error);
    if (rc == 0)
        rc = strncmp(location, "dir:", 4) == 0 ? _ccopy_sink_dir_new(&sink, location + 4, error)
                                               : _ccopy_sink_blob_new(&sink, location, settings, error);
    if (rc != 0)
        return rc;
    sink->location = _ccopy_strdup(location);
    _ccopy_mask_secrets(sink->location);
    rc = sink->ops->open(sink, for_writing, error);
    if (rc != 0) {
        _ccopy_sink_close(sink);
        return rc;
    }
    sink->locked = for_writing == 1;
    *out = sink;
    return 0;
}

/* The characters a component escapes, each with its escape: '%' itself; '/', which cannot be
 * in a file name and nests blob names; '\\', which Blob Storage reads as '/'; and '.', only
 * as the last character (a path segment of a blob name must not end with one). */
static const struct {
    char c;
    const char *escape;
} ESCAPES[] = {{'%', "%25"}, {'/', "%2F"}, {'\\', "%5C"}, {'.', "%2E"}};
#define N_ESCAPES (sizeof ESCAPES / sizeof ESCAPES[0])

/* The escape at p, or NULL. */
static const char *escape_at(const char *p)
{
    size_t i;
    for (i = 0; p[0] == '%' && i < N_ESCAPES; i++)
        if (strncmp(p, ESCAPES[i].escape, 3) == 0)
            return ESCAPES[i].escape;
    return NULL;
}

/* The escape of the character at p of a name (NULL: the character stands for itself). */
static const char *escape_of(const char *p)
{
    size_t i;
    if (*p == '.' && p[1] != '\0')
        return NULL;
    for (i = 0; i < N_ESCAPES; i++)
        if (*p == ESCAPES[i].c)
            return ESCAPES[i].escape;
    return NULL;
}

static int needs_escape(const char *name)
{
    const char *p;
    for (p = name; *p; p++)
        if (escape_at(p) || (*p != '%' && escape_of(p)))
            return 1;
    return 0;
}

char *_ccopy_sink_component(const char *name)
{
    size_t n = 0;
    const char *p, *e;
    char *out, *q;
    if (!name || !needs_escape(name))
        return name ? _ccopy_strdup(name) : NULL;
    for (p = name; *p; p++)
        n += escape_of(p) ? 3 : 1;
    out = q = _ccopy_malloc(n + 1);
    for (p = name; *p; p++) {
        if ((e = escape_of(p)) != NULL) {
            memcpy(q, e, 3);
            q += 3;
        } else {
            *q++ = *p;
        }
    }
    *q = '\0';
    return out;
}

char *_ccopy_sink_component_name(const char *component)
{
    char *out = _ccopy_strdup(component), *q = out;
    const char *p, *e;
    size_t i;
    for (p = component; *p;) {
        if ((e = escape_at(p)) != NULL) {
            for (i = 0; ESCAPES[i].escape != e; i++)
                ;
            *q++ = ESCAPES[i].c;
            p += 3;
        } else {
            *q++ = *p++;
        }
    }
    *q = '\0';
    return out;
}

void _ccopy_sink_component_names(char **names, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++) {
        char *name = _ccopy_sink_component_name(names[i]);
        free(names[i]);
        names[i] = name;
    }
}

void _ccopy_sink_close(_ccopy_sink_t *sink)
{
    if (!sink)
        return;
    free(sink->location);
    sink->ops->close(sink);
    free(sink);
}

void _ccopy_manifests_free(ccopy_manifest_t *manifests, size_t count)
{
    size_t i;
    if (!manifests)
        return; /* whatever the count: the handle promise of error.h */
    for (i = 0; i < count; i++)
        ccopy_manifest_cleanup(&manifests[i]);
    free(manifests);
}

static int manifest_order(const void *a, const void *b)
{
    const ccopy_manifest_t *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->window.start != y->window.start)
        return x->window.start < y->window.start ? -1 : 1;
    return (x->window.end > y->window.end) - (x->window.end < y->window.end);
}

int _ccopy_sink_read_manifests(_ccopy_sink_t *sink, const char *db, const char *coll,
                               ccopy_manifest_t **out, size_t *out_count, ccopy_error_t *error)
{
    char **names = NULL;
    size_t count = 0, i, n = 0;
    ccopy_manifest_t *manifests;
    int rc;

    *out = NULL;
    *out_count = 0;
    rc = sink->ops->list(sink, db, coll, ".manifest.json", &names, &count, error);
    if (rc != 0)
        return rc;
    manifests = _ccopy_calloc(count, sizeof *manifests);
    for (i = 0; i < count; i++) {
        char *text = NULL;
        size_t len = 0;
        rc = sink->ops->read_small(sink, db, coll, names[i], &text, &len, error);
        if (rc == CCOPY_ENOTFOUND)
            continue; /* removed between listing and reading: it is not a completed window */
        if (rc == 0) {
            rc = ccopy_manifest_from_json(&manifests[n], text, len, error);
            free(text);
        }
        if (rc != 0) {
            char *where = sink->ops->describe(sink, db, coll, names[i]);
            _ccopy_error_prefix(error, "manifest %s", where);
            free(where);
            _ccopy_manifests_free(manifests, n);
            _ccopy_names_free(names, count);
            return rc;
        }
        n++;
    }
    _ccopy_names_free(names, count);
    qsort(manifests, n, sizeof *manifests, manifest_order);
    *out = manifests;
    *out_count = n;
    return 0;
}

/* Whether name is what a window writer names a data object: STEM.FORMAT[.COMPRESSION], the
 * stem "non-objectid" or START_END in compact times ("20260101T000000Z_20260101T040000Z"). */
static int is_data_name(const char *name)
{
    static const char *const formats[] = {".bson", ".jsonl"};
    static const char *const compressions[] = {"", ".gz", ".zst"};
    const char *rest = name;
    size_t i, j;

    if (strncmp(name, "non-objectid", 12) == 0) {
        rest = name + 12;
    } else {
        static const char shape[] = "ddddddddTddddddZ_ddddddddTddddddZ";
        for (i = 0; shape[i]; i++) {
            if (shape[i] == 'd' ? !isdigit((unsigned char)name[i]) : name[i] != shape[i])
                return 0;
        }
        rest = name + i;
    }
    for (i = 0; i < sizeof formats / sizeof *formats; i++) {
        size_t n = strlen(formats[i]);
        if (strncmp(rest, formats[i], n) != 0)
            continue;
        for (j = 0; j < sizeof compressions / sizeof *compressions; j++)
            if (strcmp(rest + n, compressions[j]) == 0)
                return 1;
    }
    return 0;
}

int _ccopy_sink_remove_orphans(_ccopy_sink_t *sink, const char *db, const char *coll,
                               const ccopy_manifest_t *manifests, size_t count,
                               ccopy_error_t *error)
{
    char **names = NULL;
    size_t n = 0, i, j;
    int rc;

    if (!sink->locked)
        return 0; /* another process may be writing here: its windows are not ours to judge */
    rc = sink->ops->list(sink, db, coll, "", &names, &n, error);
    for (i = 0; rc == 0 && i < n; i++) {
        int kept = !is_data_name(names[i]);
        for (j = 0; !kept && j < count; j++)
            kept = manifests[j].data && strcmp(manifests[j].data, names[i]) == 0;
        if (!kept)
            rc = sink->ops->remove(sink, db, coll, names[i], error);
    }
    _ccopy_names_free(names, n);
    return rc;
}

/* "2026-01-01T04:00:00Z" -> "20260101T040000Z" */
static void compact_time(char *out, int64_t t)
{
    char text[CCOPY_TIME_TEXT_SIZE];
    const char *p;
    ccopy_time_format(text, t, NULL);
    for (p = text; *p; p++) {
        if (*p != '-' && *p != ':')
            *out++ = *p;
    }
    *out = '\0';
}

static char *window_stem(ccopy_manifest_kind_t kind, const ccopy_window_t *window)
{
    char a[CCOPY_TIME_TEXT_SIZE], b[CCOPY_TIME_TEXT_SIZE];
    if (kind == CCOPY_MANIFEST_NON_OBJECTID)
        return _ccopy_strdup("non-objectid");
    compact_time(a, window->start);
    compact_time(b, window->end);
    return _ccopy_strdup_printf("%s_%s", a, b);
}

char *_ccopy_window_data_name(ccopy_manifest_kind_t kind, const ccopy_window_t *window,
                              const char *format, _ccopy_compression_t compression)
{
    char *stem = window_stem(kind, window);
    char *name = _ccopy_strdup_printf("%s.%s%s", stem, format, _ccopy_compression_suffix(compression));
    free(stem);
    return name;
}

char *_ccopy_window_manifest_name(ccopy_manifest_kind_t kind, const ccopy_window_t *window)
{
    char *stem = window_stem(kind, window);
    char *name = _ccopy_strdup_printf("%s.manifest.json", stem);
    free(stem);
    return name;
}

struct _ccopy_window_writer {
    _ccopy_sink_t *sink;
    _ccopy_window_writer_config_t config;
    char *db, *coll, *format;
    char *data_name, *manifest_name;
    void *object;
    _ccopy_stream_t *stream;
    uint64_t documents;
    bson_value_t first_id, last_id;
    int have_ids;
    int committed;
};

static int writer_out(const uint8_t *data, size_t len, void *user_data, ccopy_error_t *error)
{
    _ccopy_window_writer_t *w = user_data;
    return w->sink->ops->object_append(w->object, data, len, error);
}

static void writer_reset_state(_ccopy_window_writer_t *w)
{
    if (w->stream)
        _ccopy_stream_destroy(w->stream);
    w->stream = NULL;
    if (w->object)
        w->sink->ops->object_abort(w->object);
    w->object = NULL;
    if (w->have_ids) {
        bson_value_destroy(&w->first_id);
        bson_value_destroy(&w->last_id);
    }
    w->have_ids = 0;
    w->documents = 0;
}

static int writer_begin(_ccopy_window_writer_t *w, ccopy_error_t *error)
{
    int rc = w->sink->ops->object_begin(w->sink, w->db, w->coll, w->data_name, &w->object, error);
    if (rc != 0)
        return rc;
    w->stream = _ccopy_stream_new(w->config.compression, w->config.compress_level, 0, writer_out, w);
    if (!w->stream)
        return _ccopy_compression_check_level(w->config.compression, w->config.compress_level, error)
                   ? CCOPY_EINVAL
                   : _ccopy_error_set(error, CCOPY_EIO, CCOPY_DOMAIN_ENGINE, 0,
                                      "cannot set up %s compression for %s",
                                      _ccopy_compression_name(w->config.compression), w->data_name);
    return 0;
}

int _ccopy_window_writer_new(_ccopy_window_writer_t **out, _ccopy_sink_t *sink,
                             const _ccopy_window_writer_config_t *config, ccopy_error_t *error)
{
    _ccopy_window_writer_t *w = _ccopy_calloc(1, sizeof *w);
    int rc;

    w->sink = sink;
    w->config = *config;
    w->db = _ccopy_strdup(config->db);
    w->coll = _ccopy_strdup(config->coll);
    w->format = _ccopy_strdup(config->format);
    w->config.db = w->db;
    w->config.coll = w->coll;
    w->config.format = w->format;
    w->data_name = _ccopy_window_data_name(config->kind, &config->window, w->format, config->compression);
    w->manifest_name = _ccopy_window_manifest_name(config->kind, &config->window);
    rc = writer_begin(w, error);
    if (rc != 0) {
        _ccopy_window_writer_destroy(w);
        *out = NULL;
        return rc;
    }
    *out = w;
    return 0;
}

int _ccopy_window_writer_add(_ccopy_window_writer_t *w, const bson_t *doc, ccopy_error_t *error)
{
    bson_iter_t it;
    int rc;

    if (strcmp(w->format, "jsonl") == 0) {
        size_t len;
        char *line;
        /* refuses what would not read back as the same bytes (jsonw.h) */
        if ((rc = _ccopy_jsonw_bson_line(&line, &len, doc, error)) != 0)
            return rc;
        rc = _ccopy_stream_write(w->stream, (const uint8_t *)line, len, error);
        bson_free(line);
    } else {
        rc = _ccopy_stream_write(w->stream, bson_get_data(doc), doc->len, error);
    }
    if (rc != 0)
        return rc;
    if (bson_iter_init_find(&it, doc, "_id")) {
        if (!w->have_ids) {
            bson_value_copy(bson_iter_value(&it), &w->first_id);
            bson_value_copy(bson_iter_value(&it), &w->last_id);
            w->have_ids = 1;
        } else {
            bson_value_destroy(&w->last_id);
            bson_value_copy(bson_iter_value(&it), &w->last_id);
        }
    }
    w->documents++;
    return 0;
}

int _ccopy_window_writer_restart(_ccopy_window_writer_t *w, ccopy_error_t *error)
{
    writer_reset_state(w);
    return writer_begin(w, error);
}

static char *now_text(void)
{
    char text[CCOPY_TIME_TEXT_SIZE];
    ccopy_time_format(text, _ccopy_now_seconds(), NULL);
    return _ccopy_strdup(text);
}

int _ccopy_window_writer_commit(_ccopy_window_writer_t *w, ccopy_manifest_t *out_manifest,
                                ccopy_error_t *error)
{
    ccopy_manifest_t m;
    char *json = NULL;
    int rc;

    rc = _ccopy_stream_finish(w->stream, error);
    /* An older manifest (the non-objectid pass of an earlier full run) must go before its data
     * object is replaced, or a crash in between would leave a manifest that lies. */
    if (rc == 0)
        rc = w->sink->ops->remove(w->sink, w->db, w->coll, w->manifest_name, error);
    if (rc == 0) {
        rc = w->sink->ops->object_commit(w->object, error);
        w->object = NULL;
    }
    if (rc != 0)
        return rc;

    memset(&m, 0, sizeof m);
    m.format_version = 1;
    m.kind = w->config.kind;
    m.database = w->db;
    m.collection = w->coll;
    m.window = w->config.kind == CCOPY_MANIFEST_WINDOW ? w->config.window : (ccopy_window_t){0, 0};
    m.documents = (int64_t)w->documents;
    m.bytes = (int64_t)_ccopy_stream_raw_bytes(w->stream);
    m.stored_bytes = (int64_t)_ccopy_stream_stored_bytes(w->stream);
    m.data = w->data_name;
    _ccopy_stream_stored_sha256_hex(w->stream, m.sha256);
    m.first_id = w->have_ids ? _ccopy_bson_value_to_json(&w->first_id) : NULL;
    m.last_id = w->have_ids ? _ccopy_bson_value_to_json(&w->last_id) : NULL;
    m.format = w->format;
    m.compression = (char *)_ccopy_compression_name(w->config.compression);
    m.engine_version = CCOPY_VERSION_STRING;
    m.completed_at = now_text();

    rc = ccopy_manifest_to_json(&json, &m, error);
    if (rc == 0)
        rc = w->sink->ops->write_small(w->sink, w->db, w->coll, w->manifest_name, json, strlen(json),
                                       error);
    if (rc == 0) {
        w->committed = 1;
        if (out_manifest)
            rc = ccopy_manifest_from_json(out_manifest, json, strlen(json), error);
    }
    free(json);
    free(m.first_id);
    free(m.last_id);
    free(m.completed_at);
    return rc;
}

void _ccopy_window_writer_destroy(_ccopy_window_writer_t *w)
{
    if (!w)
        return;
    writer_reset_state(w);
    free(w->db);
    free(w->coll);
    free(w->format);
    free(w->data_name);
    free(w->manifest_name);
    free(w);
}

uint64_t _ccopy_window_writer_documents(const _ccopy_window_writer_t *w)
{
    return w->documents;
}

uint64_t _ccopy_window_writer_stored_bytes(const _ccopy_window_writer_t *w)
{
    return w->stream ? _ccopy_stream_stored_bytes(w->stream) : 0;
}
