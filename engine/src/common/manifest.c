/*
 * Manifests: the JSON record written after a window's data object is durable, and read back by
 * listing, verify and restore. Writing uses the engine's own JSON writer so the key order and
 * layout are fixed; reading goes through libbson, which also turns the Extended JSON of first_id
 * and last_id into BSON values that are serialised back to canonical text, so a manifest read
 * and written again is byte for byte the same. Both directions refuse what the other would
 * reject, so the engine never writes a manifest it cannot read.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <bson/bson.h>

#include "common.h"
#include "extjson.h"
#include "cosmocopy/manifest.h"
#include "jsonw.h"

#define MANIFEST_FORMAT_VERSION 1

static int is_sha256_hex(const char *text)
{
    size_t i;

    for (i = 0; i < 64; i++) {
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return 0;
    }
    return text[64] == '\0';
}

static int write_checks(const ccopy_manifest_t *m, ccopy_error_t *error)
{
    const char *unset = !m->database      ? "database"
                        : !m->collection  ? "collection"
                        : !m->data        ? "data"
                        : !m->format      ? "format"
                        : !m->compression ? "compression"
                                          : NULL;
    int rc;

    if (unset)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "cannot write a manifest without \"%s\"", unset);
    if (m->format_version != MANIFEST_FORMAT_VERSION)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "cannot write manifest format_version %d; "
                                "this engine writes version %d",
                                m->format_version, MANIFEST_FORMAT_VERSION);
    if (m->kind != CCOPY_MANIFEST_WINDOW && m->kind != CCOPY_MANIFEST_NON_OBJECTID)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "cannot write a manifest of unknown kind %d", (int)m->kind);
    if (m->kind == CCOPY_MANIFEST_WINDOW && (rc = ccopy_window_check(&m->window, error)) != 0) {
        _ccopy_error_prefix(error, "cannot write the manifest of %s.%s", m->database, m->collection);
        return rc;
    }
    if (m->documents < 0 || m->bytes < 0 || m->stored_bytes < 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "cannot write a manifest with negative documents, bytes or "
                                "stored_bytes");
    if (!is_sha256_hex(m->sha256))
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "cannot write a manifest whose sha256 is not 64 lower-case hex digits");
    return 0;
}

static void write_id(_ccopy_jsonw_t *w, const char *key, const char *id)
{
    _ccopy_jsonw_key(w, key);
    if (id)
        _ccopy_jsonw_raw(w, id);
    else
        _ccopy_jsonw_null(w);
}

int ccopy_manifest_to_json(char **out_json, const ccopy_manifest_t *manifest, ccopy_error_t *error)
{
    char start[CCOPY_TIME_TEXT_SIZE], end[CCOPY_TIME_TEXT_SIZE];
    _ccopy_jsonw_t w;
    int rc;

    if (!out_json || !manifest)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "no manifest or nowhere to put its JSON (NULL)");
    *out_json = NULL;
    if ((rc = write_checks(manifest, error)) != 0)
        return rc;
    /* ccopy_window_check() above keeps both times inside what ccopy_time_format() accepts. */
    if (manifest->kind == CCOPY_MANIFEST_WINDOW) {
        ccopy_time_format(start, manifest->window.start, NULL);
        ccopy_time_format(end, manifest->window.end, NULL);
    }

    _ccopy_jsonw_init(&w, 1);
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_int(&w, "format_version", manifest->format_version);
    _ccopy_jsonw_kv_string(&w, "kind",
                           manifest->kind == CCOPY_MANIFEST_WINDOW ? "window" : "non-objectid");
    _ccopy_jsonw_kv_string(&w, "database", manifest->database);
    _ccopy_jsonw_kv_string(&w, "collection", manifest->collection);
    _ccopy_jsonw_key(&w, "window");
    if (manifest->kind == CCOPY_MANIFEST_WINDOW) {
        _ccopy_jsonw_begin_object(&w);
        _ccopy_jsonw_kv_string(&w, "start", start);
        _ccopy_jsonw_kv_string(&w, "end", end);
        _ccopy_jsonw_kv_int(&w, "start_epoch", manifest->window.start);
        _ccopy_jsonw_kv_int(&w, "end_epoch", manifest->window.end);
        _ccopy_jsonw_end_object(&w);
    } else {
        _ccopy_jsonw_null(&w);
    }
    _ccopy_jsonw_kv_int(&w, "documents", manifest->documents);
    _ccopy_jsonw_kv_int(&w, "bytes", manifest->bytes);
    _ccopy_jsonw_kv_int(&w, "stored_bytes", manifest->stored_bytes);
    _ccopy_jsonw_kv_string(&w, "data", manifest->data);
    _ccopy_jsonw_kv_string(&w, "sha256", manifest->sha256);
    write_id(&w, "first_id", manifest->first_id);
    write_id(&w, "last_id", manifest->last_id);
    _ccopy_jsonw_kv_string(&w, "format", manifest->format);
    _ccopy_jsonw_kv_string(&w, "compression", manifest->compression);
    _ccopy_jsonw_kv_string(&w, "engine_version", manifest->engine_version);
    _ccopy_jsonw_kv_string(&w, "completed_at", manifest->completed_at);
    _ccopy_jsonw_end_object(&w);
    *out_json = _ccopy_jsonw_steal(&w);
    return 0;
}

static char *dup_or_null(const char *text)
{
    return text ? _ccopy_strdup(text) : NULL;
}

void _ccopy_manifest_copy(ccopy_manifest_t *out, const ccopy_manifest_t *m)
{
    *out = *m;
    out->database = dup_or_null(m->database);
    out->collection = dup_or_null(m->collection);
    out->data = dup_or_null(m->data);
    out->first_id = dup_or_null(m->first_id);
    out->last_id = dup_or_null(m->last_id);
    out->format = dup_or_null(m->format);
    out->compression = dup_or_null(m->compression);
    out->engine_version = dup_or_null(m->engine_version);
    out->completed_at = dup_or_null(m->completed_at);
}

void ccopy_manifest_cleanup(ccopy_manifest_t *manifest)
{
    if (!manifest)
        return;
    free(manifest->database);
    free(manifest->collection);
    free(manifest->data);
    free(manifest->first_id);
    free(manifest->last_id);
    free(manifest->format);
    free(manifest->compression);
    free(manifest->engine_version);
    free(manifest->completed_at);
    memset(manifest, 0, sizeof *manifest);
}

static int missing(ccopy_error_t *error, const char *field)
{
    return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                            "manifest field \"%s\" is missing", field);
}

static int malformed(ccopy_error_t *error, const char *field, const char *rule)
{
    return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                            "manifest field \"%s\" must be %s", field, rule);
}

/* field is a key, or a dotted path such as "window.start_epoch". */
static int find(bson_iter_t *it, const bson_t *doc, const char *field)
{
    bson_iter_t top;
    return bson_iter_init(&top, doc) && bson_iter_find_descendant(&top, field, it);
}

/* A string borrowed from doc. An optional field may be missing or null: *out is then NULL. */
static int get_text(const char **out, const bson_t *doc, const char *field, int required,
                    ccopy_error_t *error)
{
    bson_iter_t it;
    uint32_t len;

    *out = NULL;
    if (!find(&it, doc, field))
        return required ? missing(error, field) : 0;
    if (!required && BSON_ITER_HOLDS_NULL(&it))
        return 0;
    /* A NUL inside the JSON string would silently shorten the C string. */
    if (!BSON_ITER_HOLDS_UTF8(&it) || strlen(*out = bson_iter_utf8(&it, &len)) != len) {
        *out = NULL;
        return malformed(error, field, "a string");
    }
    return 0;
}

static int get_string(char **out, const bson_t *doc, const char *field, int required,
                      ccopy_error_t *error)
{
    const char *text;
    int rc = get_text(&text, doc, field, required, error);

    if (rc == 0 && text)
        *out = _ccopy_strdup(text);
    return rc;
}

static int get_count(int64_t *out, const bson_t *doc, const char *field, ccopy_error_t *error)
{
    bson_iter_t it;
    double d;

    if (!find(&it, doc, field))
        return missing(error, field);
    switch (bson_iter_type(&it)) {
    case BSON_TYPE_INT32:
        *out = bson_iter_int32(&it);
        break;
    case BSON_TYPE_INT64:
        *out = bson_iter_int64(&it);
        break;
    case BSON_TYPE_DOUBLE:
        /* JSON has one number type: a count written as 3.0 or 1e3 arrives as a double. */
        d = bson_iter_double(&it);
        if (!(d >= 0 && d < 9223372036854775808.0 && d == floor(d)))
            return malformed(error, field, "a non-negative integer");
        *out = (int64_t)d;
        break;
    default:
        return malformed(error, field, "a non-negative integer");
    }
    if (*out < 0)
        return malformed(error, field, "a non-negative integer");
    return 0;
}

char *_ccopy_bson_value_to_json(const bson_value_t *value)
{
    static const char head[] = "{ \"v\" : ", tail[] = " }";
    const size_t head_len = sizeof head - 1, tail_len = sizeof tail - 1;
    bson_t one = BSON_INITIALIZER, *back = NULL;
    size_t len;
    char *json, *out;

    bson_append_value(&one, "v", 1, value);
    json = bson_as_canonical_extended_json(&one, &len);
    /* The text must read back (as manifests are read) as the same value, or a manifest would
     * name another _id than the window holds: libbson prints a Decimal128 whose coefficient is
     * past 34 digits, a NaN's payload is lost, ... */
    if (json)
        back = _ccopy_extjson_to_bson(json, len, NULL);
    if (!back || back->len != one.len || memcmp(bson_get_data(back), bson_get_data(&one), one.len) != 0) {
        bson_free(json);
        json = NULL;
    }
    if (back)
        bson_destroy(back);
    bson_destroy(&one);
    /* libbson writes exactly `{ "v" : VALUE }`; the value is what lies between. */
    if (!json || len < head_len + tail_len || memcmp(json, head, head_len) != 0 ||
        memcmp(json + len - tail_len, tail, tail_len) != 0) {
        bson_free(json);
        return NULL;
    }
    len -= head_len + tail_len;
    out = _ccopy_malloc(len + 1);
    memcpy(out, json + head_len, len);
    out[len] = '\0';
    bson_free(json);
    return out;
}

/* The value as canonical Extended JSON text, the form the engine writes, or NULL for null. */
static int get_id(char **out, const bson_t *doc, const char *field, ccopy_error_t *error)
{
    bson_iter_t it;

    if (!find(&it, doc, field) || BSON_ITER_HOLDS_NULL(&it))
        return 0;
    *out = _ccopy_bson_value_to_json(bson_iter_value(&it));
    if (!*out)
        return malformed(error, field, "an Extended JSON value");
    return 0;
}

static int get_window(ccopy_manifest_t *m, const bson_t *doc, ccopy_error_t *error)
{
    ccopy_error_t why;
    bson_iter_t it;
    int found = find(&it, doc, "window");
    int rc;

    if (m->kind == CCOPY_MANIFEST_NON_OBJECTID) {
        if (found && !BSON_ITER_HOLDS_NULL(&it))
            return malformed(error, "window", "null for kind \"non-objectid\"");
        return 0;
    }
    if (!found)
        return missing(error, "window");
    if (!BSON_ITER_HOLDS_DOCUMENT(&it))
        return malformed(error, "window", "an object");
    /* The epochs are authoritative; start and end are their RFC 3339 text for people. */
    if ((rc = get_count(&m->window.start, doc, "window.start_epoch", error)) != 0 ||
        (rc = get_count(&m->window.end, doc, "window.end_epoch", error)) != 0)
        return rc;
    if (ccopy_window_check(&m->window, &why) != 0)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "manifest field \"window\": %s", why.message);
    return 0;
}

static int parse(ccopy_manifest_t *m, const bson_t *doc, ccopy_error_t *error)
{
    const char *text;
    int64_t version;
    int rc;

    if ((rc = get_count(&version, doc, "format_version", error)) != 0)
        return rc;
    if (version != MANIFEST_FORMAT_VERSION)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "manifest field \"format_version\" is %" PRId64
                                "; this engine reads version %d",
                                version, MANIFEST_FORMAT_VERSION);
    m->format_version = MANIFEST_FORMAT_VERSION;
    if ((rc = get_text(&text, doc, "kind", 1, error)) != 0)
        return rc;
    if (strcmp(text, "window") == 0)
        m->kind = CCOPY_MANIFEST_WINDOW;
    else if (strcmp(text, "non-objectid") == 0)
        m->kind = CCOPY_MANIFEST_NON_OBJECTID;
    else
        return malformed(error, "kind", "\"window\" or \"non-objectid\"");
    if ((rc = get_string(&m->database, doc, "database", 1, error)) != 0 ||
        (rc = get_string(&m->collection, doc, "collection", 1, error)) != 0 ||
        (rc = get_window(m, doc, error)) != 0 ||
        (rc = get_count(&m->documents, doc, "documents", error)) != 0 ||
        (rc = get_count(&m->bytes, doc, "bytes", error)) != 0 ||
        (rc = get_count(&m->stored_bytes, doc, "stored_bytes", error)) != 0 ||
        (rc = get_string(&m->data, doc, "data", 1, error)) != 0 ||
        (rc = get_text(&text, doc, "sha256", 1, error)) != 0)
        return rc;
    if (!is_sha256_hex(text))
        return malformed(error, "sha256", "64 lower-case hex digits");
    memcpy(m->sha256, text, sizeof m->sha256);
    if ((rc = get_id(&m->first_id, doc, "first_id", error)) != 0 ||
        (rc = get_id(&m->last_id, doc, "last_id", error)) != 0 ||
        (rc = get_string(&m->format, doc, "format", 1, error)) != 0 ||
        (rc = get_string(&m->compression, doc, "compression", 1, error)) != 0 ||
        (rc = get_string(&m->engine_version, doc, "engine_version", 0, error)) != 0 ||
        (rc = get_string(&m->completed_at, doc, "completed_at", 0, error)) != 0)
        return rc;
    return 0;
}

int _ccopy_manifest_from_bson(ccopy_manifest_t *out, const bson_t *doc, ccopy_error_t *error)
{
    int rc;
    memset(out, 0, sizeof *out);
    rc = parse(out, doc, error);
    if (rc != 0)
        ccopy_manifest_cleanup(out);
    return rc;
}

int ccopy_manifest_from_json(ccopy_manifest_t *out, const char *json, size_t len, ccopy_error_t *error)
{
    ccopy_error_t reason;
    bson_t *doc;
    int rc;

    if (!out || !json)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "no JSON or nowhere to put the manifest (NULL)");
    memset(out, 0, sizeof *out);
    /* the jsonl reader: first_id {"$regex": {...}} or code with a NUL reads back as written */
    doc = _ccopy_extjson_to_bson(json, len, &reason);
    if (!doc)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "manifest is not valid JSON: %s", reason.message);
    rc = parse(out, doc, error);
    bson_destroy(doc);
    if (rc != 0)
        ccopy_manifest_cleanup(out);
    return rc;
}
