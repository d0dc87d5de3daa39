/*
 * Reading windows back: what the folder sink and the window writer stored comes back byte for
 * byte (bson) or as the same canonical Extended JSON (jsonl), in every compression, with a
 * document larger than a read chunk; and every way the stored data can disagree with its
 * manifest (a changed byte, a cut file, a missing file, a wrong count, bad framing) is an error
 * that names the object and says what differs.
 */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fixtures.h"
#include "harness.h"
#include "sink.h"
#include "window_read.h"

typedef struct buffer {
    uint8_t *data;
    size_t len;
} buffer_t;

static void append(buffer_t *b, const void *data, size_t len)
{
    b->data = realloc(b->data, b->len + len + 1);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

/* Every BSON type, the values FerretDB refuses, and one document larger than the 1 MiB chunks
 * the sink reads in. */
#define DOC_COUNT 5
#define BIG_BINARY_SIZE ((size_t)1536 * 1024)

static void make_documents(bson_t docs[DOC_COUNT])
{
    bson_t child;
    bson_oid_t oid;
    uint8_t *big;
    size_t i;

    ccopy_test_every_type_doc(&docs[0]);

    bson_init(&docs[1]);
    bson_oid_init_from_string(&oid, "6955b9000000000000000002");
    BSON_APPEND_OID(&docs[1], "_id", &oid);
    BSON_APPEND_UTF8(&docs[1], "plain", "second");

    /* larger than a chunk: it straddles at least two */
    big = malloc(BIG_BINARY_SIZE);
    for (i = 0; i < BIG_BINARY_SIZE; i++)
        big[i] = (uint8_t)(i * 131 + (i >> 11));
    bson_init(&docs[2]);
    bson_oid_init_from_string(&oid, "6955b9000000000000000003");
    BSON_APPEND_OID(&docs[2], "_id", &oid);
    BSON_APPEND_BINARY(&docs[2], "big", BSON_SUBTYPE_BINARY, big, (uint32_t)BIG_BINARY_SIZE);
    BSON_APPEND_UTF8(&docs[2], "after", "the big field");
    free(big);

    bson_init(&docs[3]);
    bson_oid_init_from_string(&oid, "6955b9010000000000000004");
    BSON_APPEND_OID(&docs[3], "_id", &oid);
    BSON_APPEND_DOCUMENT_BEGIN(&docs[3], "empty", &child);
    bson_append_document_end(&docs[3], &child);

    bson_init(&docs[4]);
    bson_oid_init_from_string(&oid, "6955b9010000000000000005");
    BSON_APPEND_OID(&docs[4], "_id", &oid);
    BSON_APPEND_INT32(&docs[4], "last", 5);
}

static void free_documents(bson_t *docs, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        bson_destroy(&docs[i]);
}

typedef struct fixture {
    char *dir;
    _ccopy_sink_t *sink;
} fixture_t;

static void fixture_setup(fixture_t *f)
{
    char location[300];
    ccopy_error_t e;
    f->dir = ccopy_test_temp_dir();
    CHECK(f->dir != NULL);
    snprintf(location, sizeof location, "dir:%s/backup", f->dir);
    f->sink = NULL;
    if (_ccopy_sink_open(&f->sink, location, 1, NULL, &e) != 0)
        fprintf(stderr, "open sink: %s\n", e.message);
    CHECK(f->sink != NULL);
}

static void fixture_teardown(fixture_t *f)
{
    _ccopy_sink_close(f->sink);
    ccopy_test_remove_tree(f->dir);
    free(f->dir);
}

/* A window as written: its manifest, the path of its data file, and what reading it must give
 * (bson: the documents' bytes; jsonl: their canonical Extended JSON, one per line). */
typedef struct written {
    ccopy_manifest_t manifest;
    char path[600];
    buffer_t expected;
} written_t;

static void canonical_line(buffer_t *out, const bson_t *doc)
{
    size_t len = 0;
    char *json = bson_as_canonical_extended_json(doc, &len);
    CHECK(json != NULL);
    if (json)
        append(out, json, len);
    append(out, "\n", 1);
    bson_free(json);
}

static void write_window(fixture_t *f, const char *format, _ccopy_compression_t compression,
                         const bson_t *docs, size_t n, written_t *out)
{
    _ccopy_window_writer_config_t wc;
    _ccopy_window_writer_t *w = NULL;
    ccopy_error_t e;
    size_t i;
    bson_iter_t it;

    memset(out, 0, sizeof *out);
    memset(&wc, 0, sizeof wc);
    /* a window holds documents of its time; the test vectors' _ids are no ObjectIds, so they
     * go where such documents go, the non-ObjectId pass */
    wc.kind = n > 0 && !(bson_iter_init_find(&it, &docs[0], "_id") && BSON_ITER_HOLDS_OID(&it))
                  ? CCOPY_MANIFEST_NON_OBJECTID
                  : CCOPY_MANIFEST_WINDOW;
    wc.window = (ccopy_window_t){1767225600, 1767240000};
    wc.db = "shop";
    wc.coll = "orders";
    wc.format = format;
    wc.compression = compression;
    CHECK_INT(_ccopy_window_writer_new(&w, f->sink, &wc, &e), 0);
    for (i = 0; i < n; i++) {
        memset(&e, 0, sizeof e);
        CHECK_INT(_ccopy_window_writer_add(w, &docs[i], &e), 0);
        if (e.message[0])
            fprintf(stderr, "%s\n", e.message);
        if (strcmp(format, "jsonl") == 0)
            canonical_line(&out->expected, &docs[i]);
        else
            append(&out->expected, bson_get_data(&docs[i]), docs[i].len);
    }
    CHECK_INT(_ccopy_window_writer_commit(w, &out->manifest, &e), 0);
    _ccopy_window_writer_destroy(w);
    snprintf(out->path, sizeof out->path, "%s/backup/shop/orders/%s", f->dir, out->manifest.data);
}

static void written_cleanup(written_t *wr)
{
    ccopy_manifest_cleanup(&wr->manifest);
    free(wr->expected.data);
}

/* What on_doc saw. */
typedef struct collected {
    int jsonl;
    buffer_t bytes;
    buffer_t raw; /* the documents' BSON, whatever the format */
    size_t count;
    size_t fail_at; /* 0: never; else return ECANCELED at this document (1-based) */
} collected_t;

static int collect_doc(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    collected_t *c = user_data;
    c->count++;
    if (c->fail_at && c->count == c->fail_at) {
        snprintf(error->message, sizeof error->message, "the consumer had enough at %zu", c->count);
        error->code = CCOPY_ECANCELED;
        return CCOPY_ECANCELED;
    }
    if (c->jsonl)
        canonical_line(&c->bytes, doc);
    else
        append(&c->bytes, bson_get_data(doc), doc->len);
    append(&c->raw, bson_get_data(doc), doc->len);
    return 0;
}

static void round_trip(const char *format, _ccopy_compression_t compression)
{
    fixture_t f;
    bson_t docs[DOC_COUNT];
    written_t wr;
    collected_t c;
    ccopy_error_t e;

    fixture_setup(&f);
    make_documents(docs);
    write_window(&f, format, compression, docs, DOC_COUNT, &wr);
    CHECK_INT(wr.manifest.documents, DOC_COUNT);

    memset(&c, 0, sizeof c);
    c.jsonl = strcmp(format, "jsonl") == 0;
    memset(&e, 0, sizeof e);
    CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, collect_doc, &c, &e), 0);
    if (e.message[0])
        fprintf(stderr, "%s\n", e.message);
    CHECK_INT(c.count, DOC_COUNT);
    CHECK_INT(c.bytes.len, wr.expected.len);
    CHECK(c.bytes.data && memcmp(c.bytes.data, wr.expected.data, wr.expected.len) == 0);
    /* and in either format, the very bytes that were written */
    {
        buffer_t original = {NULL, 0};
        size_t i;
        for (i = 0; i < DOC_COUNT; i++)
            append(&original, bson_get_data(&docs[i]), docs[i].len);
        CHECK_INT(c.raw.len, original.len);
        CHECK(c.raw.data && memcmp(c.raw.data, original.data, original.len) == 0);
        free(original.data);
    }
    /* checking the stored bytes alone */
    CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, NULL, NULL, &e), 0);

    free(c.bytes.data);
    free(c.raw.data);
    written_cleanup(&wr);
    free_documents(docs, DOC_COUNT);
    fixture_teardown(&f);
}

CCOPY_TEST(bson_uncompressed_reads_back_byte_for_byte)
{
    round_trip("bson", CCOPY_COMPRESS_NONE);
}

CCOPY_TEST(bson_gzip_reads_back_byte_for_byte)
{
    round_trip("bson", CCOPY_COMPRESS_GZIP);
}

CCOPY_TEST(bson_zstd_reads_back_byte_for_byte)
{
    round_trip("bson", CCOPY_COMPRESS_ZSTD);
}

CCOPY_TEST(jsonl_uncompressed_reads_back_the_same_extended_json)
{
    round_trip("jsonl", CCOPY_COMPRESS_NONE);
}

CCOPY_TEST(jsonl_gzip_reads_back_the_same_extended_json)
{
    round_trip("jsonl", CCOPY_COMPRESS_GZIP);
}

CCOPY_TEST(jsonl_zstd_reads_back_the_same_extended_json)
{
    round_trip("jsonl", CCOPY_COMPRESS_ZSTD);
}

/* ---- fidelity: what a jsonl window holds comes back as the same BSON, or is refused ------ */

/* Each document read back must be the vector of its position, byte for byte. */
typedef struct vector_check {
    const bson_t *docs;
    size_t count, same;
} vector_check_t;

static int check_vector(const bson_t *doc, void *user_data, ccopy_error_t *error)
{
    vector_check_t *v = user_data;
    const bson_t *expected = &v->docs[v->count];

    if (doc->len == expected->len &&
        memcmp(bson_get_data(doc), bson_get_data(expected), doc->len) == 0) {
        v->same++;
    } else {
        char *json = bson_as_canonical_extended_json(expected, NULL);
        fprintf(stderr, "vector \"%s\" came back different: %s\n",
                ccopy_test_jsonl_vectors[v->count].what, json ? json : "?");
        bson_free(json);
    }
    v->count++;
    return 0;
}

static void vectors_round_trip(const char *format, _ccopy_compression_t compression)
{
    fixture_t f;
    bson_t docs[CCOPY_TEST_JSONL_VECTORS];
    written_t wr;
    vector_check_t v;
    ccopy_error_t e;
    size_t i;

    fixture_setup(&f);
    for (i = 0; i < CCOPY_TEST_JSONL_VECTORS; i++)
        CHECK(ccopy_test_bson_from_hex(&docs[i], ccopy_test_jsonl_vectors[i].hex));
    write_window(&f, format, compression, docs, CCOPY_TEST_JSONL_VECTORS, &wr);
    memset(&v, 0, sizeof v);
    v.docs = docs;
    memset(&e, 0, sizeof e);
    CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, check_vector, &v, &e), 0);
    if (e.message[0])
        fprintf(stderr, "%s\n", e.message);
    CHECK_INT(v.count, CCOPY_TEST_JSONL_VECTORS);
    CHECK_INT(v.same, CCOPY_TEST_JSONL_VECTORS);
    written_cleanup(&wr);
    free_documents(docs, CCOPY_TEST_JSONL_VECTORS);
    fixture_teardown(&f);
}

CCOPY_TEST(jsonl_uncompressed_gives_back_every_vector_byte_for_byte)
{
    vectors_round_trip("jsonl", CCOPY_COMPRESS_NONE);
}

CCOPY_TEST(jsonl_gzip_gives_back_every_vector_byte_for_byte)
{
    vectors_round_trip("jsonl", CCOPY_COMPRESS_GZIP);
}

CCOPY_TEST(jsonl_zstd_gives_back_every_vector_byte_for_byte)
{
    vectors_round_trip("jsonl", CCOPY_COMPRESS_ZSTD);
}

CCOPY_TEST(bson_gives_back_every_vector_byte_for_byte)
{
    vectors_round_trip("bson", CCOPY_COMPRESS_ZSTD);
}

/* What canonical Extended JSON cannot carry is refused when the window is written, naming the
 * document and the field; a bson window takes it. */
static void check_refused(fixture_t *f, const bson_t *doc, const char *id, const char *field)
{
    _ccopy_window_writer_config_t wc;
    _ccopy_window_writer_t *w = NULL;
    ccopy_error_t e;
    char text[300];

    memset(&wc, 0, sizeof wc);
    wc.kind = CCOPY_MANIFEST_WINDOW;
    wc.window = (ccopy_window_t){1767225600, 1767240000};
    wc.db = "shop";
    wc.coll = "orders";
    wc.format = "jsonl";
    wc.compression = CCOPY_COMPRESS_NONE;
    CHECK_INT(_ccopy_window_writer_new(&w, f->sink, &wc, &e), 0);
    memset(&e, 0, sizeof e);
    CHECK_INT(_ccopy_window_writer_add(w, doc, &e), CCOPY_EREJECTED);
    snprintf(text, sizeof text, "the document with _id %s cannot be backed up as JSON lines", id);
    CHECK_CONTAINS(e.message, text);
    snprintf(text, sizeof text, "field \"%s\"", field);
    if (field[0])
        CHECK_CONTAINS(e.message, text);
    CHECK_CONTAINS(e.message, "back this collection up with --format bson");
    _ccopy_window_writer_destroy(w);

    wc.format = "bson";
    CHECK_INT(_ccopy_window_writer_new(&w, f->sink, &wc, &e), 0);
    CHECK_INT(_ccopy_window_writer_add(w, doc, &e), 0);
    _ccopy_window_writer_destroy(w);
}

CCOPY_TEST(jsonl_refuses_at_backup_what_would_read_back_different)
{
    fixture_t f;
    size_t i;

    fixture_setup(&f);
    for (i = 0; i < CCOPY_TEST_JSONL_REFUSALS; i++) {
        bson_t doc;
        char id[64];
        CHECK(ccopy_test_bson_from_hex(&doc, ccopy_test_jsonl_refusals[i].hex));
        fprintf(stderr, "refusal: %s\n", ccopy_test_jsonl_refusals[i].what);
        snprintf(id, sizeof id, "{ \"$numberInt\" : \"%zu\" }", i + 1);
        check_refused(&f, &doc, id, ccopy_test_jsonl_refusals[i].field);
        bson_destroy(&doc);
    }
    fixture_teardown(&f);
}

/* libbson writes "{ ... }" for a document nested deeper than 200 levels. */
CCOPY_TEST(jsonl_refuses_documents_nested_deeper_than_it_writes)
{
    fixture_t f;
    bson_t *level = bson_new(), *outer;
    bson_oid_t oid;
    int i;

    fixture_setup(&f);
    for (i = 0; i < 210; i++) {
        outer = bson_new();
        BSON_APPEND_DOCUMENT(outer, "n", level);
        bson_destroy(level);
        level = outer;
    }
    outer = bson_new();
    bson_oid_init_from_string(&oid, "6955b9000000000000000001");
    BSON_APPEND_OID(outer, "_id", &oid);
    BSON_APPEND_DOCUMENT(outer, "deep", level);
    check_refused(&f, outer, "{ \"$oid\" : \"6955b9000000000000000001\" }", "");
    bson_destroy(outer);
    bson_destroy(level);
    fixture_teardown(&f);
}

static const char *const formats[] = {"bson", "jsonl"};
static const _ccopy_compression_t compressions[] = {CCOPY_COMPRESS_NONE, CCOPY_COMPRESS_GZIP,
                                                    CCOPY_COMPRESS_ZSTD};

CCOPY_TEST(empty_window_reads_back_empty)
{
    size_t i, k;
    for (i = 0; i < 2; i++) {
        for (k = 0; k < 3; k++) {
            fixture_t f;
            written_t wr;
            collected_t c;
            ccopy_error_t e;

            fixture_setup(&f);
            write_window(&f, formats[i], compressions[k], NULL, 0, &wr);
            memset(&c, 0, sizeof c);
            CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, collect_doc, &c, &e), 0);
            CHECK_INT(c.count, 0);
            CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, NULL, NULL, &e), 0);
            written_cleanup(&wr);
            fixture_teardown(&f);
        }
    }
}

/* A document whose 4-byte length straddles the first 1 MiB chunk boundary. */
CCOPY_TEST(length_prefix_split_across_chunks)
{
    fixture_t f;
    bson_t docs[3];
    written_t wr;
    collected_t c;
    ccopy_error_t e;
    bson_oid_t oid;
    const size_t first_len = ((size_t)1 << 20) - 2;
    uint8_t *fill = calloc(1, first_len);

    fixture_setup(&f);
    bson_init(&docs[0]);
    bson_oid_init_from_string(&oid, "6955b9000000000000000001");
    BSON_APPEND_OID(&docs[0], "_id", &oid);
    /* 5 (length, end) + 17 (_id) + 8 (binary element head) + data */
    BSON_APPEND_BINARY(&docs[0], "b", BSON_SUBTYPE_BINARY, fill, (uint32_t)(first_len - 30));
    CHECK_INT(docs[0].len, first_len);
    bson_init(&docs[1]);
    bson_oid_init_from_string(&oid, "6955b9000000000000000002");
    BSON_APPEND_OID(&docs[1], "_id", &oid);
    bson_init(&docs[2]);
    bson_oid_init_from_string(&oid, "6955b9000000000000000003");
    BSON_APPEND_OID(&docs[2], "_id", &oid);
    write_window(&f, "bson", CCOPY_COMPRESS_NONE, docs, 3, &wr);

    memset(&c, 0, sizeof c);
    CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, collect_doc, &c, &e), 0);
    CHECK_INT(c.count, 3);
    CHECK_INT(c.bytes.len, wr.expected.len);
    CHECK(c.bytes.data && memcmp(c.bytes.data, wr.expected.data, wr.expected.len) == 0);

    free(c.bytes.data);
    free(c.raw.data);
    free(fill);
    written_cleanup(&wr);
    free_documents(docs, 3);
    fixture_teardown(&f);
}

static void rewrite_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *out = fopen(path, "wb");
    CHECK(out != NULL);
    if (out) {
        CHECK_INT(fwrite(data, 1, len, out), len);
        fclose(out);
    }
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *in = fopen(path, "rb");
    uint8_t *buf;
    long n;
    *len = 0;
    if (!in)
        return NULL;
    fseek(in, 0, SEEK_END);
    n = ftell(in);
    fseek(in, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, in);
    fclose(in);
    return buf;
}

/* One byte changed anywhere: whatever decompressing or splitting made of it, the message says
 * the SHA-256 differs and names the file; with and without documents. */
CCOPY_TEST(changed_byte_is_a_sha256_mismatch_naming_the_file)
{
    size_t i, k;
    for (i = 0; i < 2; i++) {
        for (k = 0; k < 3; k++) {
            fixture_t f;
            bson_t docs[DOC_COUNT];
            written_t wr;
            collected_t c;
            ccopy_error_t e;
            uint8_t *stored;
            size_t len = 0;

            fixture_setup(&f);
            make_documents(docs);
            write_window(&f, formats[i], compressions[k], docs, DOC_COUNT, &wr);
            stored = read_whole(wr.path, &len);
            CHECK(stored != NULL && len > 100);
            if (stored) {
                stored[len / 2] ^= 0x01;
                rewrite_file(wr.path, stored, len);
            }
            memset(&c, 0, sizeof c);
            c.jsonl = i == 1;
            CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, collect_doc, &c, &e), CCOPY_ECORRUPT);
            CHECK_CONTAINS(e.message, wr.path);
            CHECK_CONTAINS(e.message, "SHA-256 of");
            CHECK_CONTAINS(e.message, wr.manifest.sha256);
            CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, NULL, NULL, &e), CCOPY_ECORRUPT);
            CHECK_CONTAINS(e.message, "SHA-256 of");
            CHECK_CONTAINS(e.message, wr.path);
            free(c.bytes.data);
            free(c.raw.data);
            free(stored);
            written_cleanup(&wr);
            free_documents(docs, DOC_COUNT);
            fixture_teardown(&f);
        }
    }
}

CCOPY_TEST(truncated_file_is_corrupt)
{
    size_t i, k;
    for (i = 0; i < 2; i++) {
        for (k = 0; k < 3; k++) {
            fixture_t f;
            bson_t docs[DOC_COUNT];
            written_t wr;
            collected_t c;
            ccopy_error_t e;
            uint8_t *stored;
            size_t len = 0;
            char size_text[64];

            fixture_setup(&f);
            make_documents(docs);
            write_window(&f, formats[i], compressions[k], docs, DOC_COUNT, &wr);
            stored = read_whole(wr.path, &len);
            CHECK(stored != NULL && len > 100);
            if (stored)
                rewrite_file(wr.path, stored, len - 7);
            memset(&c, 0, sizeof c);
            c.jsonl = i == 1;
            CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, collect_doc, &c, &e), CCOPY_ECORRUPT);
            CHECK_CONTAINS(e.message, wr.path);
            snprintf(size_text, sizeof size_text, "is %zu bytes, its manifest says %zu", len - 7, len);
            CHECK_CONTAINS(e.message, size_text);
            CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, NULL, NULL, &e), CCOPY_ECORRUPT);
            CHECK_CONTAINS(e.message, size_text);
            free(c.bytes.data);
            free(c.raw.data);
            free(stored);
            written_cleanup(&wr);
            free_documents(docs, DOC_COUNT);
            fixture_teardown(&f);
        }
    }
}

CCOPY_TEST(missing_data_file_is_not_found_naming_it)
{
    fixture_t f;
    bson_t docs[DOC_COUNT];
    written_t wr;
    collected_t c;
    ccopy_error_t e;

    fixture_setup(&f);
    make_documents(docs);
    write_window(&f, "bson", CCOPY_COMPRESS_ZSTD, docs, DOC_COUNT, &wr);
    CHECK_INT(unlink(wr.path), 0);
    memset(&c, 0, sizeof c);
    CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, collect_doc, &c, &e), CCOPY_ENOTFOUND);
    CHECK_CONTAINS(e.message, wr.path);
    CHECK_INT(c.count, 0);
    CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, NULL, NULL, &e), CCOPY_ENOTFOUND);
    CHECK_CONTAINS(e.message, wr.path);
    written_cleanup(&wr);
    free_documents(docs, DOC_COUNT);
    fixture_teardown(&f);
}

/* The count is only known from the documents, so the stored-bytes check alone accepts it. */
CCOPY_TEST(wrong_document_count_is_corrupt)
{
    fixture_t f;
    bson_t docs[DOC_COUNT];
    written_t wr;
    collected_t c;
    ccopy_error_t e;

    fixture_setup(&f);
    make_documents(docs);
    write_window(&f, "jsonl", CCOPY_COMPRESS_GZIP, docs, DOC_COUNT, &wr);
    wr.manifest.documents = DOC_COUNT + 1;
    memset(&c, 0, sizeof c);
    c.jsonl = 1;
    CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, collect_doc, &c, &e), CCOPY_ECORRUPT);
    CHECK_CONTAINS(e.message, wr.path);
    CHECK_CONTAINS(e.message, "holds 5 documents, its manifest says 6");
    CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, NULL, NULL, &e), 0);
    free(c.bytes.data);
    free(c.raw.data);
    written_cleanup(&wr);
    free_documents(docs, DOC_COUNT);
    fixture_teardown(&f);
}

CCOPY_TEST(on_doc_error_stops_the_read_with_that_error)
{
    fixture_t f;
    bson_t docs[DOC_COUNT];
    written_t wr;
    collected_t c;
    ccopy_error_t e;

    fixture_setup(&f);
    make_documents(docs);
    write_window(&f, "bson", CCOPY_COMPRESS_ZSTD, docs, DOC_COUNT, &wr);
    memset(&c, 0, sizeof c);
    c.fail_at = 2;
    memset(&e, 0, sizeof e);
    CHECK_INT(_ccopy_window_read(f.sink, &wr.manifest, collect_doc, &c, &e), CCOPY_ECANCELED);
    CHECK_STR(e.message, "the consumer had enough at 2");
    CHECK_INT(c.count, 2); /* nothing after the refusal */
    free(c.bytes.data);
    free(c.raw.data);
    written_cleanup(&wr);
    free_documents(docs, DOC_COUNT);
    fixture_teardown(&f);
}

/* A data file whose manifest matches it but whose content is not what the writer makes: the
 * framing error names the object and where in the data it is. */
static void check_framing_as(ccopy_manifest_kind_t kind, const char *format, const uint8_t *data,
                             size_t len, int64_t documents, const char *expected)
{
    fixture_t f;
    ccopy_manifest_t m;
    collected_t c;
    ccopy_error_t e;
    unsigned char digest[32];
    char path[600];
    size_t i;

    fixture_setup(&f);
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.window = (ccopy_window_t){1767225600, 1767240000};
    m.database = "shop";
    m.collection = "orders";
    m.data = strcmp(format, "bson") == 0 ? "framing.bson" : "framing.jsonl";
    m.format = (char *)format;
    m.compression = "none";
    m.documents = documents;
    m.bytes = (int64_t)len;
    m.stored_bytes = (int64_t)len;
    EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL);
    for (i = 0; i < 32; i++)
        snprintf(m.sha256 + 2 * i, 3, "%02x", digest[i]);
    snprintf(path, sizeof path, "%s/backup/shop/orders", f.dir);
    {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
        CHECK_INT(system(cmd), 0);
    }
    snprintf(path, sizeof path, "%s/backup/shop/orders/%s", f.dir, m.data);
    rewrite_file(path, data, len);
    memset(&c, 0, sizeof c);
    c.jsonl = strcmp(format, "jsonl") == 0;
    CHECK_INT(_ccopy_window_read(f.sink, &m, collect_doc, &c, &e), CCOPY_ECORRUPT);
    CHECK_CONTAINS(e.message, path);
    CHECK_CONTAINS(e.message, expected);
    CHECK_INT(_ccopy_window_read(f.sink, &m, NULL, NULL, &e), 0); /* the bytes are as stored */
    free(c.bytes.data);
    free(c.raw.data);
    fixture_teardown(&f);
}

/* Documents without _id: the non-ObjectId pass is where they can be. */
static void check_framing(const char *format, const uint8_t *data, size_t len, int64_t documents,
                          const char *expected)
{
    check_framing_as(CCOPY_MANIFEST_NON_OBJECTID, format, data, len, documents, expected);
}

/* Data that matches its SHA-256 and counts but holds documents its window cannot (a manifest
 * copied over another window's) is corrupt, naming the document: restore would write those
 * documents, and the window's own never. */
CCOPY_TEST(document_outside_the_manifests_window_is_corrupt)
{
    static const char inside[] = "{\"_id\": {\"$oid\": \"6955b9000000000000000001\"}}\n";
    static const char later[] = "{\"_id\": {\"$oid\": \"6955b9000000000000000001\"}}\n"
                                "{\"_id\": {\"$oid\": \"6955f1400000000000000002\"}}\n";
    static const char text_id[] = "{\"_id\": \"A-1\"}\n";
    check_framing_as(CCOPY_MANIFEST_WINDOW, "jsonl", (const uint8_t *)later, sizeof later - 1, 2,
                     "the document at byte offset 46 (_id 6955f1400000000000000002) was created at "
                     "2026-01-01T04:00:00Z, outside the window [2026-01-01T00:00:00Z, "
                     "2026-01-01T04:00:00Z) its manifest describes");
    check_framing_as(CCOPY_MANIFEST_WINDOW, "jsonl", (const uint8_t *)text_id, sizeof text_id - 1,
                     1, "has no ObjectId _id, which the manifest's window [2026-01-01T00:00:00Z");
    check_framing_as(CCOPY_MANIFEST_NON_OBJECTID, "jsonl", (const uint8_t *)inside,
                     sizeof inside - 1, 1,
                     "has the ObjectId _id 6955b9000000000000000001, which the manifest's pass of "
                     "non-ObjectId _ids cannot hold");
}

CCOPY_TEST(bad_bson_length_names_the_byte_offset)
{
    /* an empty document, then one that declares 3 bytes */
    static const uint8_t data[] = {5, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0};
    check_framing("bson", data, sizeof data, 2, "at byte offset 5 declares a length of 3 bytes");
}

CCOPY_TEST(oversized_bson_length_is_corrupt)
{
    static const uint8_t data[] = {5, 0, 0, 0, 0, 0, 0, 0, 0x10, 0};
    check_framing("bson", data, sizeof data, 2, "declares a length of 268435456 bytes");
}

CCOPY_TEST(document_cut_at_the_end_is_corrupt)
{
    static const uint8_t data[] = {5, 0, 0, 0, 0, 12, 0, 0, 0, 0x10, 'a', 0};
    check_framing("bson", data, sizeof data, 2, "ends inside the document at byte offset 5");
}

CCOPY_TEST(line_that_is_not_extended_json_names_the_line)
{
    static const char text[] = "{\"a\": {\"$numberInt\": \"1\"}}\n{not json\n";
    check_framing("jsonl", (const uint8_t *)text, sizeof text - 1, 2, "line 2 (byte offset 27)");
}

CCOPY_TEST(line_without_newline_at_the_end_is_corrupt)
{
    static const char text[] = "{\"a\": {\"$numberInt\": \"1\"}}\n{\"b\": 2}";
    check_framing("jsonl", (const uint8_t *)text, sizeof text - 1, 2, "ends inside line 2");
}

CCOPY_TEST(damaged_compressed_stream_is_corrupt)
{
    /* a gzip header followed by bytes that are not deflate data */
    static const uint8_t data[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff};
    fixture_t f;
    ccopy_manifest_t m;
    collected_t c;
    ccopy_error_t e;
    unsigned char digest[32];
    char path[600], cmd[700];
    size_t i;

    fixture_setup(&f);
    memset(&m, 0, sizeof m);
    m.database = "shop";
    m.collection = "orders";
    m.data = "damaged.bson.gz";
    m.format = "bson";
    m.compression = "gzip";
    m.stored_bytes = sizeof data;
    EVP_Digest(data, sizeof data, digest, NULL, EVP_sha256(), NULL);
    for (i = 0; i < 32; i++)
        snprintf(m.sha256 + 2 * i, 3, "%02x", digest[i]);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/backup/shop/orders'", f.dir);
    CHECK_INT(system(cmd), 0);
    snprintf(path, sizeof path, "%s/backup/shop/orders/%s", f.dir, m.data);
    rewrite_file(path, data, sizeof data);
    memset(&c, 0, sizeof c);
    CHECK_INT(_ccopy_window_read(f.sink, &m, collect_doc, &c, &e), CCOPY_ECORRUPT);
    CHECK_CONTAINS(e.message, path);
    CHECK_CONTAINS(e.message, "gzip data is corrupt");
    free(c.bytes.data);
    free(c.raw.data);
    fixture_teardown(&f);
}
