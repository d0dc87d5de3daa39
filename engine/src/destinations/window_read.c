/*
 * Reading a window back (see window_read.h). The sink hands over the stored bytes in chunks;
 * each chunk is hashed and counted, then, when documents are wanted, decompressed, and the raw
 * bytes are cut into documents: BSON by its length prefix, JSON lines at '\n'. A document that
 * straddles chunks is put together in one buffer that grows to the largest document only. A
 * framing error stops the documents but not the hashing, because when the stored bytes are not
 * the ones the manifest describes, the changed bytes are the news, not the parse error they
 * caused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common.h"
#include "extjson.h"
#include "stream.h"
#include "window_read.h"

#define MAX_BSON_SIZE CCOPY_EXTJSON_MAX_BSON
/* Canonical Extended JSON spells the smallest element (an empty key holding $undefined, 2 bytes
 * of BSON) in about 30 characters, so no line of a document up to MAX_BSON_SIZE is 16 times
 * longer; a line that is, is not one the writer made. */
#define MAX_LINE_SIZE (16 * MAX_BSON_SIZE)

typedef struct window_reader {
    const ccopy_manifest_t *manifest;
    int jsonl;
    EVP_MD_CTX *sha;
    uint64_t stored_bytes;
    _ccopy_unstream_t *unstream; /* NULL when only the stored bytes are checked */
    _ccopy_doc_fn on_doc;
    void *user_data;
    uint8_t *pending;            /* the start of a document that a later chunk completes */
    size_t pending_len, pending_cap;
    uint64_t raw_bytes;          /* raw bytes of the documents passed on so far */
    uint64_t documents;
    int doc_rc;                  /* on_doc's code: it stops the read */
    int framing_rc;              /* the first framing error: it stops the documents only */
    ccopy_error_t framing;
} window_reader_t;

/* Room for need bytes: exactly that once a BSON length says how much is coming. */
static void reserve_pending(window_reader_t *r, size_t need)
{
    if (need > r->pending_cap) {
        r->pending = _ccopy_realloc(r->pending, need);
        r->pending_cap = need;
    }
}

static void keep_pending(window_reader_t *r, const uint8_t *data, size_t len)
{
    if (r->pending_len + len > r->pending_cap) {
        size_t cap = r->pending_cap ? r->pending_cap : 4096;
        while (cap < r->pending_len + len)
            cap *= 2;
        reserve_pending(r, cap);
    }
    memcpy(r->pending + r->pending_len, data, len);
    r->pending_len += len;
}

/* A document the manifest's window cannot hold: a window's documents are those whose ObjectId
 * time is in [start, end), the non-ObjectId pass's those whose _id is no ObjectId. Data that
 * matches its SHA-256 and counts yet holds others (a manifest copied over another's) would
 * otherwise be restored as it is, and the window's own documents never were. */
static int check_belongs(window_reader_t *r, const bson_t *doc, ccopy_error_t *error)
{
    const ccopy_manifest_t *m = r->manifest;
    char start[CCOPY_TIME_TEXT_SIZE], end[CCOPY_TIME_TEXT_SIZE], at[CCOPY_TIME_TEXT_SIZE];
    char hex[25];
    bson_iter_t it;
    int is_oid = bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it);
    int64_t t;

    if (m->kind == CCOPY_MANIFEST_NON_OBJECTID) {
        if (!is_oid)
            return 0;
        bson_oid_to_string(bson_iter_oid(&it), hex);
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "the document at byte offset %llu has the ObjectId _id %s, which "
                                "the manifest's pass of non-ObjectId _ids cannot hold",
                                (unsigned long long)r->raw_bytes, hex);
    }
    if (is_oid) {
        t = (int64_t)bson_oid_get_time_t(bson_iter_oid(&it));
        if (t >= m->window.start && t < m->window.end)
            return 0; /* every document of a sound window: nothing formatted for it */
    }
    ccopy_time_format(start, m->window.start, NULL);
    ccopy_time_format(end, m->window.end, NULL);
    if (!is_oid)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "the document at byte offset %llu has no ObjectId _id, which the "
                                "manifest's window [%s, %s) cannot hold",
                                (unsigned long long)r->raw_bytes, start, end);
    bson_oid_to_string(bson_iter_oid(&it), hex);
    ccopy_time_format(at, t, NULL);
    return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                            "the document at byte offset %llu (_id %s) was created at %s, outside "
                            "the window [%s, %s) its manifest describes",
                            (unsigned long long)r->raw_bytes, hex, at, start, end);
}

static int pass_on(window_reader_t *r, const bson_t *doc, uint64_t raw_len, ccopy_error_t *error)
{
    int rc = check_belongs(r, doc, error);
    if (rc != 0)
        return rc; /* a framing error: the hashing goes on (see the file header) */
    rc = r->on_doc(doc, r->user_data, error);
    if (rc != 0)
        return r->doc_rc = rc;
    r->documents++;
    r->raw_bytes += raw_len;
    return 0;
}

static int emit_bson(window_reader_t *r, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    bson_t doc;
    if (!bson_init_static(&doc, data, len))
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "the document at byte offset %llu is not BSON (it does not end "
                                "with a zero byte)",
                                (unsigned long long)r->raw_bytes);
    return pass_on(r, &doc, len, error);
}

static int check_bson_length(window_reader_t *r, const uint8_t *prefix, size_t *out_len,
                             ccopy_error_t *error)
{
    int32_t declared = (int32_t)((uint32_t)prefix[0] | (uint32_t)prefix[1] << 8 |
                                 (uint32_t)prefix[2] << 16 | (uint32_t)prefix[3] << 24);
    if (declared < 5 || (size_t)declared > MAX_BSON_SIZE)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "the document at byte offset %llu declares a length of %ld bytes "
                                "(BSON documents here are 5 bytes to 64 MiB)",
                                (unsigned long long)r->raw_bytes, (long)declared);
    *out_len = (size_t)declared;
    return 0;
}

static int split_bson(window_reader_t *r, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    size_t doc_len;
    int rc;

    while (len > 0) {
        if (r->pending_len > 0 || len < 4) {
            /* complete the document begun in an earlier chunk: its length first */
            size_t take;
            if (r->pending_len < 4) {
                take = 4 - r->pending_len < len ? 4 - r->pending_len : len;
                keep_pending(r, data, take);
                data += take;
                len -= take;
                if (r->pending_len < 4)
                    return 0;
            }
            if ((rc = check_bson_length(r, r->pending, &doc_len, error)) != 0)
                return rc;
            reserve_pending(r, doc_len);
            take = doc_len - r->pending_len < len ? doc_len - r->pending_len : len;
            keep_pending(r, data, take);
            data += take;
            len -= take;
            if (r->pending_len < doc_len)
                return 0;
            rc = emit_bson(r, r->pending, doc_len, error);
            r->pending_len = 0;
            if (rc != 0)
                return rc;
            continue;
        }
        if ((rc = check_bson_length(r, data, &doc_len, error)) != 0)
            return rc;
        if (doc_len > len) {
            reserve_pending(r, doc_len);
            keep_pending(r, data, len);
            return 0;
        }
        /* whole documents are passed on from the chunk itself, without a copy */
        if ((rc = emit_bson(r, data, doc_len, error)) != 0)
            return rc;
        data += doc_len;
        len -= doc_len;
    }
    return 0;
}

/* A line is read as exactly the canonical Extended JSON the window writer wrote (extjson.h),
 * not with libbson's reader, which takes {"$regex": {...}} for a query operator it refuses and
 * cuts code at a NUL. */
static int emit_line(window_reader_t *r, const uint8_t *line, size_t len, ccopy_error_t *error)
{
    ccopy_error_t reason;
    bson_t *doc;
    int rc;

    doc = _ccopy_extjson_to_bson((const char *)line, len, &reason);
    if (!doc)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "line %llu (byte offset %llu) is not canonical Extended JSON: %s",
                                (unsigned long long)r->documents + 1,
                                (unsigned long long)r->raw_bytes, reason.message);
    rc = pass_on(r, doc, len + 1, error);
    bson_destroy(doc);
    return rc;
}

static int split_lines(window_reader_t *r, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    while (len > 0) {
        const uint8_t *end = memchr(data, '\n', len);
        size_t n;
        int rc;

        if (!end) {
            if (r->pending_len + len > MAX_LINE_SIZE)
                return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                        "line %llu (byte offset %llu) runs past %zu MiB without "
                                        "ending",
                                        (unsigned long long)r->documents + 1,
                                        (unsigned long long)r->raw_bytes, MAX_LINE_SIZE >> 20);
            keep_pending(r, data, len);
            return 0;
        }
        n = (size_t)(end - data);
        if (r->pending_len > 0) {
            keep_pending(r, data, n);
            rc = emit_line(r, r->pending, r->pending_len, error);
            r->pending_len = 0;
        } else {
            rc = emit_line(r, data, n, error);
        }
        if (rc != 0)
            return rc;
        data += n + 1;
        len -= n + 1;
    }
    return 0;
}

/* Raw (decompressed) bytes, from the unstream. */
static int on_raw(const uint8_t *data, size_t len, void *user_data, ccopy_error_t *error)
{
    window_reader_t *r = user_data;
    return r->jsonl ? split_lines(r, data, len, error) : split_bson(r, data, len, error);
}

/* Stored bytes, from the sink. */
static int on_stored(const uint8_t *data, size_t len, void *user_data, ccopy_error_t *error)
{
    window_reader_t *r = user_data;
    ccopy_error_t e;
    int rc;

    if (!EVP_DigestUpdate(r->sha, data, len))
        return _ccopy_error_set(error, CCOPY_EIO, CCOPY_DOMAIN_ENGINE, 0,
                                "SHA-256 of the stored data failed");
    r->stored_bytes += len;
    if (!r->unstream || r->framing_rc)
        return 0;
    memset(&e, 0, sizeof e);
    rc = _ccopy_unstream_write(r->unstream, data, len, &e);
    if (rc == CCOPY_ECORRUPT && !r->doc_rc) {
        r->framing_rc = rc;
        r->framing = e;
        return 0; /* keep hashing: see the file header */
    }
    if (rc != 0 && error)
        *error = e;
    return rc;
}

static void sha256_hex(EVP_MD_CTX *sha, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;

    out[0] = '\0';
    if (!EVP_DigestFinal_ex(sha, digest, &n) || n != 32)
        return;
    for (i = 0; i < n; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xf];
    }
    out[64] = '\0';
}

/* What the end of the data says against the manifest, once every chunk went through. */
static int check_end(window_reader_t *r, const char *where, ccopy_error_t *error)
{
    const ccopy_manifest_t *m = r->manifest;
    char actual[65];
    int rc;

    sha256_hex(r->sha, actual);
    if (r->stored_bytes != (uint64_t)m->stored_bytes)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "%s is %llu bytes, its manifest says %lld (SHA-256 %s, its "
                                "manifest says %s)",
                                where, (unsigned long long)r->stored_bytes,
                                (long long)m->stored_bytes, actual, m->sha256);
    if (strcmp(actual, m->sha256) != 0)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "SHA-256 of %s is %s, its manifest says %s", where, actual,
                                m->sha256);
    if (!r->unstream)
        return 0;
    if (r->framing_rc) {
        if (error)
            *error = r->framing;
        _ccopy_error_prefix(error, "%s", where);
        return r->framing_rc;
    }
    if ((rc = _ccopy_unstream_finish(r->unstream, error)) != 0) {
        _ccopy_error_prefix(error, "%s", where);
        return rc;
    }
    if (r->pending_len > 0 && r->jsonl)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "%s ends inside line %llu (byte offset %llu): it has no newline",
                                where, (unsigned long long)r->documents + 1,
                                (unsigned long long)r->raw_bytes);
    if (r->pending_len > 0)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "%s ends inside the document at byte offset %llu (%zu bytes of it "
                                "are there)",
                                where, (unsigned long long)r->raw_bytes, r->pending_len);
    if (r->documents != (uint64_t)m->documents)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "%s holds %llu document%s, its manifest says %lld", where,
                                (unsigned long long)r->documents, r->documents == 1 ? "" : "s",
                                (long long)m->documents);
    if (r->raw_bytes != (uint64_t)m->bytes)
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "%s holds %llu bytes of documents, its manifest says %lld", where,
                                (unsigned long long)r->raw_bytes, (long long)m->bytes);
    return 0;
}

int _ccopy_window_read(_ccopy_sink_t *sink, const ccopy_manifest_t *manifest, _ccopy_doc_fn on_doc,
                       void *user_data, ccopy_error_t *error)
{
    window_reader_t r;
    char *where;
    int compression, rc;

    if (!sink || !manifest || !manifest->database || !manifest->collection || !manifest->data ||
        !manifest->format || !manifest->compression)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "reading a window needs a sink and a manifest with database, "
                                "collection, data, format and compression");
    where = sink->ops->describe(sink, manifest->database, manifest->collection, manifest->data);
    compression = _ccopy_compression_from_name(manifest->compression);
    if (compression < 0 || (strcmp(manifest->format, "bson") != 0 &&
                            strcmp(manifest->format, "jsonl") != 0)) {
        rc = _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                              "the manifest of %s says format \"%s\", compression \"%s\"; this "
                              "version reads bson or jsonl, compressed with none, gzip or zstd",
                              where, manifest->format, manifest->compression);
        free(where);
        return rc;
    }

    memset(&r, 0, sizeof r);
    r.manifest = manifest;
    r.jsonl = strcmp(manifest->format, "jsonl") == 0;
    r.on_doc = on_doc;
    r.user_data = user_data;
    r.sha = EVP_MD_CTX_new();
    if (!r.sha || !EVP_DigestInit_ex(r.sha, EVP_sha256(), NULL)) {
        rc = _ccopy_error_set(error, CCOPY_ENOMEM, CCOPY_DOMAIN_ENGINE, 0,
                              "cannot start a SHA-256 to check %s", where);
        goto done;
    }
    if (on_doc) {
        r.unstream = _ccopy_unstream_new((_ccopy_compression_t)compression, on_raw, &r);
        if (!r.unstream) {
            rc = _ccopy_error_set(error, CCOPY_ENOMEM, CCOPY_DOMAIN_ENGINE, 0,
                                  "cannot start a %s decompressor to read %s",
                                  manifest->compression, where);
            goto done;
        }
    }
    rc = sink->ops->object_read(sink, manifest->database, manifest->collection, manifest->data,
                                on_stored, &r, error);
    if (rc == 0)
        rc = check_end(&r, where, error);

done:
    _ccopy_unstream_destroy(r.unstream);
    EVP_MD_CTX_free(r.sha);
    free(r.pending);
    free(where);
    return rc;
}
