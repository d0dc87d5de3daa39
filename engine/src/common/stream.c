/*
 * The data stream of one window and its inverse. A stream takes raw bytes, compresses them with
 * gzip or zstd, or passes them through, and hands the result to the sink in chunks of at most
 * chunk_size bytes, hashing every stored byte with SHA-256 on the way, so a window of any size
 * needs one output buffer. gzip is written as concatenated members of up to GZIP_MEMBER_SIZE raw
 * bytes each, compressed whole by libdeflate (about three times less CPU than zlib's deflate at
 * the same level and a ratio at least as good); every gzip reader, mongorestore --gzip included,
 * reads concatenated members as one stream. An unstream decompresses a stored object (concatenated gzip
 * members and zstd frames included) and tells a truncated or damaged object apart from the end
 * of the data, which is what verify and restore rely on.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#define ZLIB_CONST
#include <zlib.h>
#include <libdeflate.h>
#include <zstd.h>

#include "common.h"
#include "stream.h"

#define DEFAULT_CHUNK_SIZE ((size_t)1 << 20)
#define GZIP_DEFAULT_LEVEL 6
#define ZSTD_DEFAULT_LEVEL 1 /* 3 compresses bench documents 1.8% smaller for 80% more CPU */
#define GZIP_MEMBER_SIZE ((size_t)1 << 20) /* raw bytes per gzip member */
#define GUNZIP_WINDOW_BITS (15 + 32)    /* 32 KiB window, gzip or zlib wrapper detected */

typedef enum state { STATE_OPEN, STATE_FINISHED, STATE_FAILED } state_t;

struct _ccopy_stream {
    _ccopy_compression_t compression;
    _ccopy_stream_out_fn out;
    void *user_data;
    uint8_t *buf;
    size_t cap, len;
    struct libdeflate_compressor *deflater;
    uint8_t *member, *member_out; /* a gzip member's raw bytes, then the member */
    size_t member_len, member_out_cap;
    ZSTD_CStream *zc;
    EVP_MD_CTX *sha;
    uint64_t raw_bytes, stored_bytes;
    state_t state;
    char sha256_hex[65];
};

struct _ccopy_unstream {
    _ccopy_compression_t compression;
    _ccopy_stream_out_fn out;
    void *user_data;
    uint8_t *buf;
    size_t cap;
    z_stream zs;
    ZSTD_DStream *zd;
    int at_end; /* the last gzip member or zstd frame seen so far is complete */
    state_t state;
};

int _ccopy_compression_from_name(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "none") == 0)
        return CCOPY_COMPRESS_NONE;
    if (strcmp(name, "gzip") == 0)
        return CCOPY_COMPRESS_GZIP;
    if (strcmp(name, "zstd") == 0)
        return CCOPY_COMPRESS_ZSTD;
    return -1;
}

int _ccopy_compression_check_level(_ccopy_compression_t compression, int level, ccopy_error_t *error)
{
    int max = compression == CCOPY_COMPRESS_GZIP   ? Z_BEST_COMPRESSION
              : compression == CCOPY_COMPRESS_ZSTD ? ZSTD_maxCLevel()
                                                   : 0;
    if (level == 0 || (level >= 1 && level <= max))
        return 0;
    if (max == 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "option compress_level: %d needs a compression (option compress "
                                "gzip or zstd); without one only 0 is accepted",
                                level);
    return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                            "option compress_level: %s takes levels 1 to %d (0: its default, %d), "
                            "not %d",
                            _ccopy_compression_name(compression), max,
                            compression == CCOPY_COMPRESS_GZIP ? GZIP_DEFAULT_LEVEL
                                                               : ZSTD_DEFAULT_LEVEL,
                            level);
}

const char *_ccopy_compression_name(_ccopy_compression_t c)
{
    switch (c) {
    case CCOPY_COMPRESS_GZIP: return "gzip";
    case CCOPY_COMPRESS_ZSTD: return "zstd";
    default: return "none";
    }
}

const char *_ccopy_compression_suffix(_ccopy_compression_t c)
{
    switch (c) {
    case CCOPY_COMPRESS_GZIP: return ".gz";
    case CCOPY_COMPRESS_ZSTD: return ".zst";
    default: return "";
    }
}

/* zlib counts in uInt; a size_t-sized span is fed to it in pieces of at most this. */
static uInt zlib_span(size_t n)
{
    return n > UINT_MAX ? UINT_MAX : (uInt)n;
}

static int not_open(state_t state, const char *what, ccopy_error_t *error)
{
    return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "%s %s", what,
                            state == STATE_FINISHED ? "is already finished"
                                                    : "failed earlier and cannot continue");
}

_ccopy_stream_t *_ccopy_stream_new(_ccopy_compression_t compression, int level, size_t chunk_size,
                                   _ccopy_stream_out_fn out, void *user_data)
{
    _ccopy_stream_t *s;

    if (!out || (compression != CCOPY_COMPRESS_NONE && compression != CCOPY_COMPRESS_GZIP &&
                 compression != CCOPY_COMPRESS_ZSTD))
        return NULL;
    s = _ccopy_calloc(1, sizeof *s);
    s->compression = compression;
    s->out = out;
    s->user_data = user_data;
    s->cap = chunk_size ? chunk_size : DEFAULT_CHUNK_SIZE;
    s->buf = _ccopy_malloc(s->cap);
    /* Without memory for a digest: the engine's rule for memory (see _ccopy_malloc), so that a
     * stream without compression is never NULL. */
    s->sha = EVP_MD_CTX_new();
    if (!s->sha || !EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL))
        _ccopy_out_of_memory(sizeof(void *));
    if (compression == CCOPY_COMPRESS_GZIP) {
        /* libdeflate also has levels 10 to 12; the option keeps zlib's 1 to 9 */
        if (level < 0 || level > Z_BEST_COMPRESSION)
            goto fail;
        s->deflater = libdeflate_alloc_compressor(level ? level : GZIP_DEFAULT_LEVEL);
        if (!s->deflater)
            goto fail;
        s->member = _ccopy_malloc(GZIP_MEMBER_SIZE);
        s->member_out_cap = libdeflate_gzip_compress_bound(s->deflater, GZIP_MEMBER_SIZE);
        s->member_out = _ccopy_malloc(s->member_out_cap);
    }
    if (compression == CCOPY_COMPRESS_ZSTD) {
        s->zc = ZSTD_createCStream();
        /* The frame checksum (on by default in the zstd command line too) lets a restore detect
         * damage even without the manifest's SHA-256. */
        if (!s->zc ||
            ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel,
                                                level ? level : ZSTD_DEFAULT_LEVEL)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1)))
            goto fail;
    }
    return s;

fail:
    _ccopy_stream_destroy(s);
    return NULL;
}

void _ccopy_stream_destroy(_ccopy_stream_t *s)
{
    if (!s)
        return;
    if (s->deflater)
        libdeflate_free_compressor(s->deflater);
    free(s->member);
    free(s->member_out);
    ZSTD_freeCStream(s->zc);
    EVP_MD_CTX_free(s->sha);
    free(s->buf);
    free(s);
}

/* Hash and hand over one chunk of stored bytes. */
static int emit(_ccopy_stream_t *s, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    int rc;

    if (!EVP_DigestUpdate(s->sha, data, len))
        return _ccopy_error_set(error, CCOPY_EIO, CCOPY_DOMAIN_ENGINE, 0,
                                "SHA-256 of the stored data failed");
    rc = s->out(data, len, s->user_data, error);
    if (rc != 0)
        return rc;
    s->stored_bytes += len;
    return 0;
}

static int flush_buffer(_ccopy_stream_t *s, ccopy_error_t *error)
{
    int rc;

    if (s->len == 0)
        return 0;
    rc = emit(s, s->buf, s->len, error);
    s->len = 0;
    return rc;
}

static int write_plain(_ccopy_stream_t *s, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    int rc;

    if (s->len > 0) {
        size_t take = len < s->cap - s->len ? len : s->cap - s->len;
        memcpy(s->buf + s->len, data, take);
        s->len += take;
        data += take;
        len -= take;
        if (s->len < s->cap)
            return 0;
        if ((rc = flush_buffer(s, error)) != 0)
            return rc;
    }
    /* Whole chunks go straight from the caller's memory to the sink. */
    for (; len >= s->cap; data += s->cap, len -= s->cap) {
        if ((rc = emit(s, data, s->cap, error)) != 0)
            return rc;
    }
    memcpy(s->buf, data, len);
    s->len = len;
    return 0;
}

/* Compress the raw bytes gathered so far into one gzip member and hand it over, in chunks of at
 * most s->cap bytes. */
static int emit_member(_ccopy_stream_t *s, ccopy_error_t *error)
{
    size_t n = libdeflate_gzip_compress(s->deflater, s->member, s->member_len, s->member_out,
                                        s->member_out_cap);
    size_t done;
    int rc;

    if (n == 0) /* cannot happen: member_out holds the bound for a full member */
        return _ccopy_error_set(error, CCOPY_EIO, CCOPY_DOMAIN_ENGINE, 0,
                                "gzip compression failed: the output buffer is too small");
    s->member_len = 0;
    for (done = 0; done < n; done += s->cap) {
        size_t take = n - done < s->cap ? n - done : s->cap;
        if ((rc = emit(s, s->member_out + done, take, error)) != 0)
            return rc;
    }
    return 0;
}

static int run_gzip(_ccopy_stream_t *s, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    while (len > 0) {
        size_t take = GZIP_MEMBER_SIZE - s->member_len;
        int rc;

        if (take > len)
            take = len;
        memcpy(s->member + s->member_len, data, take);
        s->member_len += take;
        data += take;
        len -= take;
        if (s->member_len == GZIP_MEMBER_SIZE && (rc = emit_member(s, error)) != 0)
            return rc;
    }
    return 0;
}

static int run_zstd(_ccopy_stream_t *s, const uint8_t *data, size_t len, ZSTD_EndDirective mode,
                    ccopy_error_t *error)
{
    ZSTD_inBuffer in = {data, len, 0};
    size_t left;
    int rc;

    do {
        ZSTD_outBuffer out = {s->buf, s->cap, s->len};
        left = ZSTD_compressStream2(s->zc, &out, &in, mode);
        if (ZSTD_isError(left))
            return _ccopy_error_set(error, CCOPY_EIO, CCOPY_DOMAIN_ENGINE, 0,
                                    "zstd compression failed: %s", ZSTD_getErrorName(left));
        s->len = out.pos;
        if (s->len == s->cap && (rc = flush_buffer(s, error)) != 0)
            return rc;
    } while (in.pos < in.size || (mode == ZSTD_e_end && left > 0));
    return 0;
}

int _ccopy_stream_write(_ccopy_stream_t *s, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    int rc;

    if (s->state != STATE_OPEN)
        return not_open(s->state, "window stream", error);
    if (len == 0)
        return 0;
    switch (s->compression) {
    case CCOPY_COMPRESS_GZIP: rc = run_gzip(s, data, len, error); break;
    case CCOPY_COMPRESS_ZSTD: rc = run_zstd(s, data, len, ZSTD_e_continue, error); break;
    default: rc = write_plain(s, data, len, error); break;
    }
    if (rc != 0) {
        s->state = STATE_FAILED;
        return rc;
    }
    s->raw_bytes += len;
    return 0;
}

int _ccopy_stream_finish(_ccopy_stream_t *s, ccopy_error_t *error)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n, i;
    int rc = 0;

    if (s->state != STATE_OPEN)
        return not_open(s->state, "window stream", error);
    /* the last member; an empty window still gets one (empty) member, a valid gzip file */
    if (s->compression == CCOPY_COMPRESS_GZIP && (s->member_len > 0 || s->raw_bytes == 0))
        rc = emit_member(s, error);
    else if (s->compression == CCOPY_COMPRESS_ZSTD)
        rc = run_zstd(s, NULL, 0, ZSTD_e_end, error);
    if (rc == 0)
        rc = flush_buffer(s, error);
    if (rc == 0 && !EVP_DigestFinal_ex(s->sha, digest, &n))
        rc = _ccopy_error_set(error, CCOPY_EIO, CCOPY_DOMAIN_ENGINE, 0,
                              "SHA-256 of the stored data failed");
    if (rc != 0) {
        s->state = STATE_FAILED;
        return rc;
    }
    for (i = 0; i < n; i++) {
        s->sha256_hex[2 * i] = hex[digest[i] >> 4];
        s->sha256_hex[2 * i + 1] = hex[digest[i] & 0xf];
    }
    s->sha256_hex[2 * n] = '\0';
    s->state = STATE_FINISHED;
    return 0;
}

uint64_t _ccopy_stream_raw_bytes(const _ccopy_stream_t *s)
{
    return s->raw_bytes;
}

uint64_t _ccopy_stream_stored_bytes(const _ccopy_stream_t *s)
{
    return s->stored_bytes;
}

/* Before _ccopy_stream_finish() has succeeded, out is the empty string. */
void _ccopy_stream_stored_sha256_hex(const _ccopy_stream_t *s, char out[65])
{
    memcpy(out, s->sha256_hex, sizeof s->sha256_hex);
}

_ccopy_unstream_t *_ccopy_unstream_new(_ccopy_compression_t compression, _ccopy_stream_out_fn out,
                                       void *user_data)
{
    _ccopy_unstream_t *u;

    if (!out || (compression != CCOPY_COMPRESS_NONE && compression != CCOPY_COMPRESS_GZIP &&
                 compression != CCOPY_COMPRESS_ZSTD))
        return NULL;
    u = _ccopy_calloc(1, sizeof *u);
    u->compression = compression;
    u->out = out;
    u->user_data = user_data;
    if (compression == CCOPY_COMPRESS_NONE)
        return u;
    u->cap = DEFAULT_CHUNK_SIZE;
    u->buf = _ccopy_malloc(u->cap);
    if (compression == CCOPY_COMPRESS_GZIP && inflateInit2(&u->zs, GUNZIP_WINDOW_BITS) != Z_OK)
        goto fail;
    if (compression == CCOPY_COMPRESS_ZSTD && !(u->zd = ZSTD_createDStream()))
        goto fail;
    return u;

fail:
    _ccopy_unstream_destroy(u);
    return NULL;
}

void _ccopy_unstream_destroy(_ccopy_unstream_t *u)
{
    if (!u)
        return;
    /* inflateEnd() is a harmless no-op on a stream whose inflateInit2() failed. */
    if (u->compression == CCOPY_COMPRESS_GZIP)
        inflateEnd(&u->zs);
    ZSTD_freeDStream(u->zd);
    free(u->buf);
    free(u);
}

static int run_inflate(_ccopy_unstream_t *u, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    do {
        u->zs.next_in = data;
        u->zs.avail_in = zlib_span(len);
        len -= u->zs.avail_in;
        do {
            uInt room = zlib_span(u->cap);
            int zrc, rc;

            if (u->at_end) {
                if (u->zs.avail_in == 0)
                    break;
                /* More input after a member's trailer is the next gzip member. */
                inflateReset(&u->zs);
                u->at_end = 0;
            }
            u->zs.next_out = u->buf;
            u->zs.avail_out = room;
            zrc = inflate(&u->zs, Z_NO_FLUSH);
            if (zrc == Z_STREAM_END)
                u->at_end = 1;
            else if (zrc == Z_MEM_ERROR)
                return _ccopy_error_set(error, CCOPY_ENOMEM, CCOPY_DOMAIN_ENGINE, 0,
                                        "out of memory while decompressing gzip data");
            else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
                return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                        "gzip data is corrupt: %s",
                                        u->zs.msg ? u->zs.msg : zError(zrc));
            if (room > u->zs.avail_out &&
                (rc = u->out(u->buf, room - u->zs.avail_out, u->user_data, error)) != 0)
                return rc;
        } while (u->zs.avail_in > 0 || u->zs.avail_out == 0);
        data = u->zs.next_in; /* zlib consumed the whole piece */
    } while (len > 0);
    return 0;
}

static int run_unzstd(_ccopy_unstream_t *u, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    ZSTD_inBuffer in = {data, len, 0};

    for (;;) {
        ZSTD_outBuffer out = {u->buf, u->cap, 0};
        size_t hint = ZSTD_decompressStream(u->zd, &out, &in);
        int rc;

        if (ZSTD_isError(hint))
            return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                    "zstd data is corrupt: %s", ZSTD_getErrorName(hint));
        if (out.pos > 0 && (rc = u->out(u->buf, out.pos, u->user_data, error)) != 0)
            return rc;
        /* 0 means a frame ended and is fully flushed; more input starts the next frame. */
        u->at_end = hint == 0;
        if (in.pos == in.size && (hint == 0 || out.pos < out.size))
            return 0;
    }
}

int _ccopy_unstream_write(_ccopy_unstream_t *u, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    int rc;

    if (u->state != STATE_OPEN)
        return not_open(u->state, "decompression stream", error);
    if (len == 0)
        return 0;
    switch (u->compression) {
    case CCOPY_COMPRESS_GZIP: rc = run_inflate(u, data, len, error); break;
    case CCOPY_COMPRESS_ZSTD: rc = run_unzstd(u, data, len, error); break;
    default: rc = u->out(data, len, u->user_data, error); break;
    }
    if (rc != 0)
        u->state = STATE_FAILED;
    return rc;
}

int _ccopy_unstream_finish(_ccopy_unstream_t *u, ccopy_error_t *error)
{
    if (u->state != STATE_OPEN)
        return not_open(u->state, "decompression stream", error);
    if (u->compression != CCOPY_COMPRESS_NONE && !u->at_end) {
        u->state = STATE_FAILED;
        return _ccopy_error_set(error, CCOPY_ECORRUPT, CCOPY_DOMAIN_ENGINE, 0,
                                "%s data ends early: the stored object is truncated",
                                _ccopy_compression_name(u->compression));
    }
    u->state = STATE_FINISHED;
    return 0;
}
