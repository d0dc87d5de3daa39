/*
 * Unit tests for the window data stream: round trips through every codec, the chunking the sink
 * sees, the stored SHA-256 checked against an independent digest, decoding by independent
 * readers (zlib and zstd one-shot APIs), concatenated members and frames, damaged input, and
 * errors raised by the output callback.
 */
#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>

#include "common.h"
#include "harness.h"
#include "stream.h"

#define MIB ((size_t)1 << 20)
#define BIG (5 * MIB)

/* Collects what a stream or unstream hands to its output callback. */
typedef struct collector {
    uint8_t *data;
    size_t len, cap;
    size_t limit;       /* largest chunk allowed; 0 for no limit */
    size_t chunks;      /* callback calls */
    size_t bad_chunks;  /* empty chunks or chunks above limit */
    size_t fail_at;     /* the call (1-based) that fails with CCOPY_EIO; 0 for never */
    const uint8_t *where[16]; /* the first chunks' addresses */
    size_t sizes[16];
} collector_t;

static int collect(const uint8_t *data, size_t len, void *user_data, ccopy_error_t *error)
{
    collector_t *c = user_data;

    c->chunks++;
    if (c->fail_at && c->chunks == c->fail_at)
        return _ccopy_error_set(error, CCOPY_EIO, CCOPY_DOMAIN_OS, 28,
                                "cannot write window data: disk full");
    if (len == 0 || (c->limit && len > c->limit))
        c->bad_chunks++;
    if (c->chunks <= 16) {
        c->where[c->chunks - 1] = data;
        c->sizes[c->chunks - 1] = len;
    }
    if (c->len + len > c->cap) {
        c->cap = (c->len + len) * 2;
        c->data = realloc(c->data, c->cap);
    }
    memcpy(c->data + c->len, data, len);
    c->len += len;
    return 0;
}

static void collector_free(collector_t *c)
{
    free(c->data);
    memset(c, 0, sizeof *c);
}

static uint8_t *random_bytes(size_t len, uint64_t seed)
{
    uint8_t *data = malloc(len ? len : 1);
    size_t i;

    for (i = 0; i < len; i++) {
        /* xorshift64: cheap, deterministic, incompressible enough */
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        data[i] = (uint8_t)(seed >> 32);
    }
    return data;
}

static uint8_t *repetitive_bytes(size_t len)
{
    static const char line[] =
        "{\"_id\":{\"$oid\":\"65f0a1b2c3d4e5f601234567\"},\"sku\":\"A-100\",\"qty\":3}\n";
    uint8_t *data = malloc(len ? len : 1);
    size_t i;

    for (i = 0; i < len; i++)
        data[i] = (uint8_t)line[i % (sizeof line - 1)];
    return data;
}

static void sha256_hex(char out[65], const uint8_t *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n, i;

    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* Compress data through a stream, writing it in pieces of varying size. */
static int compress_all(collector_t *out, _ccopy_compression_t compression, int level,
                        size_t chunk_size, const uint8_t *data, size_t len, char sha[65])
{
    static const size_t pieces[] = {1, 100, 4096, 65535, 300000, MIB + 3, 7};
    _ccopy_stream_t *s = _ccopy_stream_new(compression, level, chunk_size, collect, out);
    ccopy_error_t error;
    size_t at = 0, k = 0, before = out->len; /* out may already hold earlier objects */
    int rc = 0;

    CHECK(s != NULL);
    out->limit = chunk_size ? chunk_size : MIB;
    while (rc == 0 && at < len) {
        size_t n = pieces[k++ % (sizeof pieces / sizeof pieces[0])];
        if (n > len - at)
            n = len - at;
        rc = _ccopy_stream_write(s, data + at, n, &error);
        at += n;
        CHECK_INT(_ccopy_stream_raw_bytes(s), at);
    }
    if (rc == 0)
        rc = _ccopy_stream_finish(s, &error);
    CHECK_INT(rc, 0);
    CHECK_INT(_ccopy_stream_raw_bytes(s), len);
    CHECK_INT(_ccopy_stream_stored_bytes(s), out->len - before);
    _ccopy_stream_stored_sha256_hex(s, sha);
    _ccopy_stream_destroy(s);
    return rc;
}

/* Decompress data through an unstream in pieces of the given size (0: all at once). */
static int decompress_all(collector_t *out, _ccopy_compression_t compression, const uint8_t *data,
                          size_t len, size_t piece, ccopy_error_t *error)
{
    _ccopy_unstream_t *u = _ccopy_unstream_new(compression, collect, out);
    size_t at = 0;
    int rc = 0;

    CHECK(u != NULL);
    while (rc == 0 && at < len) {
        size_t n = piece && piece < len - at ? piece : len - at;
        rc = _ccopy_unstream_write(u, data + at, n, error);
        at += n;
    }
    if (rc == 0)
        rc = _ccopy_unstream_finish(u, error);
    _ccopy_unstream_destroy(u);
    return rc;
}

/* Decode with the codec libraries' own one-shot APIs, not with our unstream. */
static void check_independent_decode(_ccopy_compression_t compression, const uint8_t *stored,
                                     size_t stored_len, const uint8_t *raw, size_t raw_len)
{
    uint8_t *plain = malloc(raw_len + 1);

    if (compression == CCOPY_COMPRESS_GZIP) {
        z_stream z;
        memset(&z, 0, sizeof z);
        uLong total = 0;
        CHECK_INT(inflateInit2(&z, 15 + 16), Z_OK); /* gzip wrapper only */
        z.next_in = (Bytef *)stored;
        z.avail_in = (uInt)stored_len;
        z.next_out = plain;
        z.avail_out = (uInt)raw_len + 1;
        /* one member per MiB of raw bytes, each a complete gzip stream */
        do {
            CHECK_INT(inflate(&z, Z_FINISH), Z_STREAM_END);
            total += z.total_out;
            if (z.avail_in > 0)
                CHECK_INT(inflateReset(&z), Z_OK);
        } while (z.avail_in > 0);
        CHECK_INT(total, raw_len);
        CHECK_INT(z.avail_in, 0);
        inflateEnd(&z);
    } else if (compression == CCOPY_COMPRESS_ZSTD) {
        CHECK_INT(ZSTD_decompress(plain, raw_len + 1, stored, stored_len), raw_len);
    } else if (raw_len > 0) {
        CHECK_INT(stored_len, raw_len);
        memcpy(plain, stored, raw_len);
    }
    CHECK(raw_len == 0 || memcmp(plain, raw, raw_len) == 0);
    free(plain);
}

static void round_trip(_ccopy_compression_t compression, const uint8_t *raw, size_t len,
                       size_t chunk_size)
{
    collector_t stored = {0}, plain = {0}, plain_bytewise = {0};
    ccopy_error_t error;
    char sha[65], expected_sha[65];

    compress_all(&stored, compression, 0, chunk_size, raw, len, sha);
    CHECK_INT(stored.bad_chunks, 0);
    sha256_hex(expected_sha, stored.data, stored.len);
    CHECK_STR(sha, expected_sha);
    if (compression == CCOPY_COMPRESS_NONE) {
        CHECK_INT(stored.len, len);
    } else {
        CHECK(stored.len > 0); /* even empty input has a header and a trailer */
    }
    check_independent_decode(compression, stored.data, stored.len, raw, len);

    CHECK_INT(decompress_all(&plain, compression, stored.data, stored.len, 0, &error), 0);
    CHECK_INT(plain.len, len);
    CHECK(len == 0 || memcmp(plain.data, raw, len) == 0);
    CHECK_INT(plain.bad_chunks, 0);

    /* Odd input pieces move every codec boundary across write calls. */
    CHECK_INT(decompress_all(&plain_bytewise, compression, stored.data, stored.len,
                             len > MIB ? 9973 : 1, &error),
              0);
    CHECK_INT(plain_bytewise.len, len);
    CHECK(len == 0 || memcmp(plain_bytewise.data, raw, len) == 0);

    collector_free(&stored);
    collector_free(&plain);
    collector_free(&plain_bytewise);
}

static void round_trip_empty(_ccopy_compression_t compression)
{
    round_trip(compression, (const uint8_t *)"", 0, 0);
}

static void round_trip_small(_ccopy_compression_t compression)
{
    static const char text[] = "{\"_id\":1,\"name\":\"first\"}\n{\"_id\":2,\"name\":\"second\"}\n";
    round_trip(compression, (const uint8_t *)text, sizeof text - 1, 0);
}

static void round_trip_random(_ccopy_compression_t compression)
{
    uint8_t *raw = random_bytes(BIG, 0x9e3779b97f4a7c15u);
    round_trip(compression, raw, BIG, 64 * 1024);
    round_trip(compression, raw, BIG, 0);
    free(raw);
}

static void round_trip_repetitive(_ccopy_compression_t compression)
{
    uint8_t *raw = repetitive_bytes(BIG);
    round_trip(compression, raw, BIG, 64 * 1024);
    free(raw);
}

CCOPY_TEST(round_trip_empty_none) { round_trip_empty(CCOPY_COMPRESS_NONE); }
CCOPY_TEST(round_trip_empty_gzip) { round_trip_empty(CCOPY_COMPRESS_GZIP); }
CCOPY_TEST(round_trip_empty_zstd) { round_trip_empty(CCOPY_COMPRESS_ZSTD); }
CCOPY_TEST(round_trip_small_none) { round_trip_small(CCOPY_COMPRESS_NONE); }
CCOPY_TEST(round_trip_small_gzip) { round_trip_small(CCOPY_COMPRESS_GZIP); }
CCOPY_TEST(round_trip_small_zstd) { round_trip_small(CCOPY_COMPRESS_ZSTD); }
CCOPY_TEST(round_trip_random_none) { round_trip_random(CCOPY_COMPRESS_NONE); }
CCOPY_TEST(round_trip_random_gzip) { round_trip_random(CCOPY_COMPRESS_GZIP); }
CCOPY_TEST(round_trip_random_zstd) { round_trip_random(CCOPY_COMPRESS_ZSTD); }
CCOPY_TEST(round_trip_repetitive_none) { round_trip_repetitive(CCOPY_COMPRESS_NONE); }
CCOPY_TEST(round_trip_repetitive_gzip) { round_trip_repetitive(CCOPY_COMPRESS_GZIP); }
CCOPY_TEST(round_trip_repetitive_zstd) { round_trip_repetitive(CCOPY_COMPRESS_ZSTD); }

CCOPY_TEST(repetitive_data_compresses)
{
    uint8_t *raw = repetitive_bytes(BIG);
    collector_t gz = {0}, zs = {0};
    char sha[65];

    compress_all(&gz, CCOPY_COMPRESS_GZIP, 0, 0, raw, BIG, sha);
    compress_all(&zs, CCOPY_COMPRESS_ZSTD, 0, 0, raw, BIG, sha);
    CHECK(gz.len < BIG / 50);
    CHECK(zs.len < BIG / 50);
    collector_free(&gz);
    collector_free(&zs);
    free(raw);
}

CCOPY_TEST(tiny_chunks)
{
    static const _ccopy_compression_t all[] = {CCOPY_COMPRESS_NONE, CCOPY_COMPRESS_GZIP,
                                               CCOPY_COMPRESS_ZSTD};
    uint8_t *raw = random_bytes(20000, 42);
    size_t i;

    for (i = 0; i < 3; i++) {
        round_trip(all[i], raw, 20000, 1);
        round_trip(all[i], raw, 20000, 7);
    }
    free(raw);
}

CCOPY_TEST(levels)
{
    uint8_t *raw = repetitive_bytes(200000);
    collector_t fast = {0}, best = {0}, plain = {0};
    ccopy_error_t error;
    char sha[65];

    compress_all(&fast, CCOPY_COMPRESS_GZIP, 1, 0, raw, 200000, sha);
    compress_all(&best, CCOPY_COMPRESS_GZIP, 9, 0, raw, 200000, sha);
    CHECK(best.len <= fast.len);
    CHECK_INT(decompress_all(&plain, CCOPY_COMPRESS_GZIP, best.data, best.len, 0, &error), 0);
    CHECK_INT(plain.len, 200000);
    collector_free(&fast);
    collector_free(&best);
    collector_free(&plain);

    compress_all(&fast, CCOPY_COMPRESS_ZSTD, 1, 0, raw, 200000, sha);
    compress_all(&best, CCOPY_COMPRESS_ZSTD, 19, 0, raw, 200000, sha);
    CHECK(best.len <= fast.len);
    CHECK_INT(decompress_all(&plain, CCOPY_COMPRESS_ZSTD, best.data, best.len, 0, &error), 0);
    CHECK_INT(plain.len, 200000);
    collector_free(&fast);
    collector_free(&best);
    collector_free(&plain);

    CHECK(_ccopy_stream_new(CCOPY_COMPRESS_GZIP, 10, 0, collect, &plain) == NULL);
    free(raw);
}

CCOPY_TEST(levels_are_checked_against_each_codec)
{
    static const struct {
        _ccopy_compression_t codec;
        int level, ok;
        const char *says;
    } cases[] = {
        {CCOPY_COMPRESS_GZIP, 0, 1, NULL},
        {CCOPY_COMPRESS_GZIP, 1, 1, NULL},
        {CCOPY_COMPRESS_GZIP, 9, 1, NULL},
        {CCOPY_COMPRESS_GZIP, 10, 0, "gzip takes levels 1 to 9 (0: its default, 6), not 10"},
        {CCOPY_COMPRESS_GZIP, 12, 0, "gzip takes levels 1 to 9 (0: its default, 6), not 12"},
        {CCOPY_COMPRESS_GZIP, -1, 0, "gzip takes levels 1 to 9"},
        {CCOPY_COMPRESS_ZSTD, 0, 1, NULL},
        {CCOPY_COMPRESS_ZSTD, 22, 1, NULL},
        {CCOPY_COMPRESS_ZSTD, 23, 0, "zstd takes levels 1 to 22 (0: its default, 1), not 23"},
        {CCOPY_COMPRESS_NONE, 0, 1, NULL},
        {CCOPY_COMPRESS_NONE, 5, 0, "5 needs a compression (option compress gzip or zstd)"},
    };
    collector_t out = {0};
    ccopy_error_t error;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        _ccopy_stream_t *s;
        memset(&error, 0, sizeof error);
        if (cases[i].ok) {
            CHECK_INT(_ccopy_compression_check_level(cases[i].codec, cases[i].level, &error), 0);
            /* every level the check lets through makes a stream */
            s = _ccopy_stream_new(cases[i].codec, cases[i].level, 0, collect, &out);
            CHECK(s != NULL);
            _ccopy_stream_destroy(s);
            continue;
        }
        CHECK_INT(_ccopy_compression_check_level(cases[i].codec, cases[i].level, &error), CCOPY_EINVAL);
        CHECK(strstr(error.message, "compress_level") != NULL);
        CHECK(strstr(error.message, cases[i].says) != NULL);
    }
    collector_free(&out);
}

CCOPY_TEST(none_fills_chunks_and_passes_big_writes_through)
{
    collector_t out = {0};
    uint8_t *raw = random_bytes(10500, 7);
    _ccopy_stream_t *s = _ccopy_stream_new(CCOPY_COMPRESS_NONE, 0, 1000, collect, &out);
    ccopy_error_t error;
    size_t i;

    CHECK_INT(_ccopy_stream_write(s, raw, 500, &error), 0);
    CHECK_INT(out.chunks, 0);
    CHECK_INT(_ccopy_stream_write(s, raw + 500, 10000, &error), 0);
    /* one buffered chunk topped up to 1000 bytes, then nine handed over from the caller's memory */
    CHECK_INT(out.chunks, 10);
    CHECK_INT(out.sizes[0], 1000);
    for (i = 1; i < 10; i++) {
        CHECK_INT(out.sizes[i], 1000);
        CHECK(out.where[i] == raw + 1000 * i);
    }
    CHECK_INT(_ccopy_stream_stored_bytes(s), 10000);
    CHECK_INT(_ccopy_stream_finish(s, &error), 0);
    CHECK_INT(out.chunks, 11);
    CHECK_INT(out.sizes[10], 500);
    CHECK_INT(_ccopy_stream_stored_bytes(s), 10500);
    CHECK(memcmp(out.data, raw, 10500) == 0);
    _ccopy_stream_destroy(s);
    collector_free(&out);
    free(raw);
}

CCOPY_TEST(unstream_none_passes_through)
{
    collector_t out = {0};
    ccopy_error_t error;

    CHECK_INT(decompress_all(&out, CCOPY_COMPRESS_NONE, (const uint8_t *)"abcdef", 6, 4, &error), 0);
    CHECK_INT(out.chunks, 2);
    CHECK_INT(out.len, 6);
    CHECK(memcmp(out.data, "abcdef", 6) == 0);
    collector_free(&out);
}

static void check_concatenation(_ccopy_compression_t compression)
{
    static const char *const parts[] = {"first part, ", "", "second part, ", "third part"};
    collector_t stored = {0};
    ccopy_error_t error;
    char sha[65];
    size_t i, piece;

    for (i = 0; i < 4; i++)
        compress_all(&stored, compression, 0, 0, (const uint8_t *)parts[i], strlen(parts[i]), sha);
    for (piece = 0; piece <= 3; piece++) {
        collector_t plain = {0};
        CHECK_INT(decompress_all(&plain, compression, stored.data, stored.len, piece, &error), 0);
        CHECK_INT(plain.len, strlen("first part, second part, third part"));
        CHECK(plain.len && memcmp(plain.data, "first part, second part, third part", plain.len) == 0);
        collector_free(&plain);
    }
    collector_free(&stored);
}

CCOPY_TEST(concatenated_gzip_members) { check_concatenation(CCOPY_COMPRESS_GZIP); }
CCOPY_TEST(concatenated_zstd_frames) { check_concatenation(CCOPY_COMPRESS_ZSTD); }

CCOPY_TEST(concatenated_large_members)
{
    uint8_t *raw = random_bytes(3 * MIB, 99);
    collector_t stored = {0}, plain = {0};
    ccopy_error_t error;
    char sha[65];

    compress_all(&stored, CCOPY_COMPRESS_GZIP, 0, 0, raw, 2 * MIB, sha);
    compress_all(&stored, CCOPY_COMPRESS_GZIP, 0, 0, raw + 2 * MIB, MIB, sha);
    CHECK_INT(decompress_all(&plain, CCOPY_COMPRESS_GZIP, stored.data, stored.len, 0, &error), 0);
    CHECK_INT(plain.len, 3 * MIB);
    CHECK(memcmp(plain.data, raw, 3 * MIB) == 0);
    collector_free(&stored);
    collector_free(&plain);

    compress_all(&stored, CCOPY_COMPRESS_ZSTD, 0, 0, raw, 2 * MIB, sha);
    compress_all(&stored, CCOPY_COMPRESS_ZSTD, 0, 0, raw + 2 * MIB, MIB, sha);
    CHECK_INT(decompress_all(&plain, CCOPY_COMPRESS_ZSTD, stored.data, stored.len, 0, &error), 0);
    CHECK_INT(plain.len, 3 * MIB);
    CHECK(memcmp(plain.data, raw, 3 * MIB) == 0);
    collector_free(&stored);
    collector_free(&plain);
    free(raw);
}

static void check_truncated(_ccopy_compression_t compression, const char *codec)
{
    uint8_t *raw = random_bytes(100000, 5);
    collector_t stored = {0};
    char sha[65];
    size_t cuts[4], i;

    compress_all(&stored, compression, 0, 0, raw, 100000, sha);
    cuts[0] = 0;
    cuts[1] = 5;
    cuts[2] = stored.len / 2;
    cuts[3] = stored.len - 1;
    for (i = 0; i < 4; i++) {
        collector_t plain = {0};
        ccopy_error_t error;
        memset(&error, 0, sizeof error);
        CHECK_INT(decompress_all(&plain, compression, stored.data, cuts[i], 0, &error), CCOPY_ECORRUPT);
        CHECK_INT(error.code, CCOPY_ECORRUPT);
        CHECK_INT(error.domain, CCOPY_DOMAIN_ENGINE);
        CHECK_CONTAINS(error.message, codec);
        CHECK_CONTAINS(error.message, "ends early");
        collector_free(&plain);
    }
    collector_free(&stored);
    free(raw);
}

CCOPY_TEST(truncated_gzip) { check_truncated(CCOPY_COMPRESS_GZIP, "gzip"); }
CCOPY_TEST(truncated_zstd) { check_truncated(CCOPY_COMPRESS_ZSTD, "zstd"); }

static void check_garbage(_ccopy_compression_t compression, const char *codec)
{
    static const char garbage[] = "this is not compressed data at all, just text";
    uint8_t *raw = random_bytes(100000, 6);
    collector_t plain = {0}, stored = {0};
    ccopy_error_t error;
    char sha[65];
    size_t i;

    memset(&error, 0, sizeof error);
    CHECK_INT(decompress_all(&plain, compression, (const uint8_t *)garbage, sizeof garbage - 1, 0,
                             &error),
              CCOPY_ECORRUPT);
    CHECK_INT(error.domain, CCOPY_DOMAIN_ENGINE);
    CHECK_CONTAINS(error.message, codec);
    CHECK_CONTAINS(error.message, "corrupt");
    collector_free(&plain);

    /* A valid object followed by junk. */
    compress_all(&stored, compression, 0, 0, raw, 1000, sha);
    collect((const uint8_t *)garbage, sizeof garbage - 1, &stored, &error);
    CHECK_INT(decompress_all(&plain, compression, stored.data, stored.len, 0, &error), CCOPY_ECORRUPT);
    CHECK_CONTAINS(error.message, codec);
    collector_free(&plain);
    collector_free(&stored);

    /* Damage in the middle is caught by the codec's own checks (CRC-32, XXH64). */
    compress_all(&stored, compression, 0, 0, raw, 100000, sha);
    for (i = stored.len / 2; i < stored.len / 2 + 8; i++)
        stored.data[i] ^= 0x5a;
    CHECK_INT(decompress_all(&plain, compression, stored.data, stored.len, 0, &error), CCOPY_ECORRUPT);
    CHECK_CONTAINS(error.message, codec);
    collector_free(&plain);
    collector_free(&stored);
    free(raw);
}

CCOPY_TEST(garbage_gzip) { check_garbage(CCOPY_COMPRESS_GZIP, "gzip"); }
CCOPY_TEST(garbage_zstd) { check_garbage(CCOPY_COMPRESS_ZSTD, "zstd"); }

static void check_out_error_on_write(_ccopy_compression_t compression)
{
    uint8_t *raw = random_bytes(BIG, 11);
    collector_t out = {0};
    _ccopy_stream_t *s = _ccopy_stream_new(compression, 0, 64 * 1024, collect, &out);
    ccopy_error_t error;
    int rc = 0;
    size_t at;

    out.fail_at = 2;
    for (at = 0; rc == 0 && at < BIG; at += 100000)
        rc = _ccopy_stream_write(s, raw + at, BIG - at < 100000 ? BIG - at : 100000, &error);
    CHECK_INT(rc, CCOPY_EIO);
    CHECK_INT(error.code, CCOPY_EIO);
    CHECK_INT(error.domain, CCOPY_DOMAIN_OS);
    CHECK_INT(error.cause, 28);
    CHECK_STR(error.message, "cannot write window data: disk full");
    CHECK_INT(out.chunks, 2); /* the write stopped at the failing call */
    CHECK_INT(_ccopy_stream_stored_bytes(s), 64 * 1024);

    CHECK_INT(_ccopy_stream_write(s, raw, 10, &error), CCOPY_EINVAL);
    CHECK_CONTAINS(error.message, "failed earlier");
    CHECK_INT(_ccopy_stream_finish(s, &error), CCOPY_EINVAL);
    CHECK_INT(out.chunks, 2);
    _ccopy_stream_destroy(s);
    collector_free(&out);
    free(raw);
}

CCOPY_TEST(out_error_stops_write_none) { check_out_error_on_write(CCOPY_COMPRESS_NONE); }
CCOPY_TEST(out_error_stops_write_gzip) { check_out_error_on_write(CCOPY_COMPRESS_GZIP); }
CCOPY_TEST(out_error_stops_write_zstd) { check_out_error_on_write(CCOPY_COMPRESS_ZSTD); }

CCOPY_TEST(out_error_at_finish)
{
    static const _ccopy_compression_t all[] = {CCOPY_COMPRESS_NONE, CCOPY_COMPRESS_GZIP,
                                               CCOPY_COMPRESS_ZSTD};
    size_t i;

    for (i = 0; i < 3; i++) {
        collector_t out = {0};
        _ccopy_stream_t *s = _ccopy_stream_new(all[i], 0, 0, collect, &out);
        ccopy_error_t error;
        char sha[65];

        out.fail_at = 1;
        CHECK_INT(_ccopy_stream_write(s, (const uint8_t *)"abc", 3, &error), 0);
        CHECK_INT(_ccopy_stream_finish(s, &error), CCOPY_EIO);
        CHECK_INT(error.cause, 28);
        _ccopy_stream_stored_sha256_hex(s, sha);
        CHECK_STR(sha, "");
        _ccopy_stream_destroy(s);
        collector_free(&out);
    }
}

CCOPY_TEST(out_error_in_unstream)
{
    static const _ccopy_compression_t all[] = {CCOPY_COMPRESS_NONE, CCOPY_COMPRESS_GZIP,
                                               CCOPY_COMPRESS_ZSTD};
    uint8_t *raw = random_bytes(3 * MIB, 12);
    size_t i;

    for (i = 0; i < 3; i++) {
        collector_t stored = {0}, plain = {0};
        ccopy_error_t error;
        char sha[65];

        compress_all(&stored, all[i], 0, 0, raw, 3 * MIB, sha);
        plain.fail_at = 2;
        CHECK_INT(decompress_all(&plain, all[i], stored.data, stored.len, MIB, &error), CCOPY_EIO);
        CHECK_INT(error.cause, 28);
        CHECK_INT(plain.chunks, 2);
        collector_free(&stored);
        collector_free(&plain);
    }
    free(raw);
}

CCOPY_TEST(write_after_finish)
{
    collector_t out = {0};
    _ccopy_stream_t *s = _ccopy_stream_new(CCOPY_COMPRESS_GZIP, 0, 0, collect, &out);
    _ccopy_unstream_t *u = _ccopy_unstream_new(CCOPY_COMPRESS_NONE, collect, &out);
    ccopy_error_t error;

    CHECK_INT(_ccopy_stream_finish(s, &error), 0);
    CHECK_INT(_ccopy_stream_write(s, (const uint8_t *)"x", 1, &error), CCOPY_EINVAL);
    CHECK_CONTAINS(error.message, "already finished");
    CHECK_INT(_ccopy_stream_finish(s, &error), CCOPY_EINVAL);
    CHECK_INT(_ccopy_unstream_finish(u, &error), 0);
    CHECK_INT(_ccopy_unstream_write(u, (const uint8_t *)"x", 1, &error), CCOPY_EINVAL);
    _ccopy_stream_destroy(s);
    _ccopy_unstream_destroy(u);
    collector_free(&out);
}

CCOPY_TEST(empty_sha256_of_empty_plain_stream)
{
    collector_t out = {0};
    _ccopy_stream_t *s = _ccopy_stream_new(CCOPY_COMPRESS_NONE, 0, 0, collect, &out);
    ccopy_error_t error;
    char sha[65];

    CHECK_INT(_ccopy_stream_finish(s, &error), 0);
    CHECK_INT(out.chunks, 0);
    _ccopy_stream_stored_sha256_hex(s, sha);
    CHECK_STR(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    _ccopy_stream_destroy(s);
}

CCOPY_TEST(empty_compressed_object_is_truncated)
{
    collector_t out = {0};
    ccopy_error_t error;

    CHECK_INT(decompress_all(&out, CCOPY_COMPRESS_GZIP, NULL, 0, 0, &error), CCOPY_ECORRUPT);
    CHECK_CONTAINS(error.message, "gzip data ends early");
    CHECK_INT(decompress_all(&out, CCOPY_COMPRESS_ZSTD, NULL, 0, 0, &error), CCOPY_ECORRUPT);
    CHECK_CONTAINS(error.message, "zstd data ends early");
    CHECK_INT(decompress_all(&out, CCOPY_COMPRESS_NONE, NULL, 0, 0, &error), 0);
}

CCOPY_TEST(compression_names)
{
    CHECK_INT(_ccopy_compression_from_name("none"), CCOPY_COMPRESS_NONE);
    CHECK_INT(_ccopy_compression_from_name("gzip"), CCOPY_COMPRESS_GZIP);
    CHECK_INT(_ccopy_compression_from_name("zstd"), CCOPY_COMPRESS_ZSTD);
    CHECK_INT(_ccopy_compression_from_name("lz4"), -1);
    CHECK_INT(_ccopy_compression_from_name("GZIP"), -1);
    CHECK_INT(_ccopy_compression_from_name(""), -1);
    CHECK_INT(_ccopy_compression_from_name(NULL), -1);

    CHECK_STR(_ccopy_compression_name(CCOPY_COMPRESS_NONE), "none");
    CHECK_STR(_ccopy_compression_name(CCOPY_COMPRESS_GZIP), "gzip");
    CHECK_STR(_ccopy_compression_name(CCOPY_COMPRESS_ZSTD), "zstd");
    CHECK_STR(_ccopy_compression_suffix(CCOPY_COMPRESS_NONE), "");
    CHECK_STR(_ccopy_compression_suffix(CCOPY_COMPRESS_GZIP), ".gz");
    CHECK_STR(_ccopy_compression_suffix(CCOPY_COMPRESS_ZSTD), ".zst");
}

CCOPY_TEST(unknown_compression_is_refused)
{
    collector_t out = {0};

    CHECK(_ccopy_stream_new((_ccopy_compression_t)3, 0, 0, collect, &out) == NULL);
    CHECK(_ccopy_unstream_new((_ccopy_compression_t)3, collect, &out) == NULL);
}
