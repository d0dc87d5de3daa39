/*
 * The folder sink and the window writer: byte-exact fidelity for every BSON type (including
 * data FerretDB refuses: nested arrays, NaN, -0, keys with '.' or '$', duplicate keys), the
 * manifest it writes, and the durability rules (nothing complete before commit, temporaries
 * cleaned, one writer at a time).
 */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common.h"
#include "fixtures.h"
#include "harness.h"
#include "sink.h"

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Every BSON type, and what FerretDB would refuse. */
static void crafted_documents(bson_t docs[3])
{
    bson_t child;
    bson_oid_t oid;

    ccopy_test_every_type_doc(&docs[0]);

    bson_init(&docs[1]);
    bson_oid_init_from_string(&oid, "6955b9000000000000000002");
    BSON_APPEND_OID(&docs[1], "_id", &oid);
    BSON_APPEND_UTF8(&docs[1], "plain", "second");

    bson_init(&docs[2]);
    bson_oid_init_from_string(&oid, "6955b9010000000000000003");
    BSON_APPEND_OID(&docs[2], "_id", &oid);
    BSON_APPEND_DOCUMENT_BEGIN(&docs[2], "empty", &child);
    bson_append_document_end(&docs[2], &child);
}

static _ccopy_sink_t *open_sink(const char *dir)
{
    _ccopy_sink_t *sink = NULL;
    char location[300];
    ccopy_error_t e;
    snprintf(location, sizeof location, "dir:%s/backup", dir);
    if (_ccopy_sink_open(&sink, location, 1, NULL, &e) != 0)
        fprintf(stderr, "open sink: %s\n", e.message);
    return sink;
}

/* A temporary folder sink and the crafted documents, for one test. */
typedef struct fixture {
    char *dir;
    _ccopy_sink_t *sink;
    bson_t docs[3];
} fixture_t;

static void fixture_setup(fixture_t *f)
{
    f->dir = ccopy_test_temp_dir();
    f->sink = open_sink(f->dir);
    CHECK(f->sink != NULL);
    crafted_documents(f->docs);
}

static void fixture_teardown(fixture_t *f)
{
    int i;
    for (i = 0; i < 3; i++)
        bson_destroy(&f->docs[i]);
    _ccopy_sink_close(f->sink);
    ccopy_test_remove_tree(f->dir);
    free(f->dir);
}

static const ccopy_window_t test_window = {1767225600, 1767240000};

static _ccopy_window_writer_config_t config_for(const char *format, _ccopy_compression_t c)
{
    _ccopy_window_writer_config_t wc;
    memset(&wc, 0, sizeof wc);
    wc.kind = CCOPY_MANIFEST_WINDOW;
    wc.window = test_window;
    wc.db = "shop";
    wc.coll = "orders";
    wc.format = format;
    wc.compression = c;
    return wc;
}

typedef struct buffer {
    uint8_t *data;
    size_t len;
} buffer_t;

static int collect(const uint8_t *data, size_t len, void *user_data, ccopy_error_t *error)
{
    buffer_t *out = user_data;
    (void)error;
    out->data = realloc(out->data, out->len + len + 1);
    memcpy(out->data + out->len, data, len);
    out->len += len;
    return 0;
}

/* Write the crafted documents through the writer and read back the raw (decompressed) bytes. */
static void round_trip(_ccopy_compression_t compression)
{
    fixture_t f;
    _ccopy_window_writer_config_t wc = config_for("bson", compression);
    _ccopy_window_writer_t *w = NULL;
    ccopy_manifest_t m;
    ccopy_error_t e;
    buffer_t raw = {NULL, 0}, expected = {NULL, 0};
    char path[512];
    uint8_t *stored;
    size_t stored_len = 0, i;
    _ccopy_unstream_t *u;
    unsigned char digest[32];
    char hex[65];

    fixture_setup(&f);
    CHECK_INT(_ccopy_window_writer_new(&w, f.sink, &wc, &e), 0);
    for (i = 0; i < 3; i++) {
        CHECK_INT(_ccopy_window_writer_add(w, &f.docs[i], &e), 0);
        collect(bson_get_data(&f.docs[i]), f.docs[i].len, &expected, NULL);
    }
    CHECK_INT(_ccopy_window_writer_commit(w, &m, &e), 0);
    _ccopy_window_writer_destroy(w);

    snprintf(path, sizeof path, "%s/backup/shop/orders/%s", f.dir, m.data);
    stored = read_file(path, &stored_len);
    CHECK(stored != NULL);
    u = _ccopy_unstream_new(compression, collect, &raw);
    CHECK_INT(_ccopy_unstream_write(u, stored, stored_len, &e), 0);
    CHECK_INT(_ccopy_unstream_finish(u, &e), 0);
    _ccopy_unstream_destroy(u);
    CHECK_INT(raw.len, expected.len);
    CHECK(raw.data && memcmp(raw.data, expected.data, expected.len) == 0);

    CHECK_INT(m.documents, 3);
    CHECK_INT(m.bytes, expected.len);
    CHECK_INT(m.stored_bytes, stored_len);
    EVP_Digest(stored, stored_len, digest, NULL, EVP_sha256(), NULL);
    for (i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    CHECK_STR(m.sha256, hex);
    CHECK_STR(m.first_id, "{ \"$oid\" : \"6955b9000000000000000001\" }");
    CHECK_STR(m.last_id, "{ \"$oid\" : \"6955b9010000000000000003\" }");
    CHECK_STR(m.compression, _ccopy_compression_name(compression));
    CHECK_INT(m.window.start, test_window.start);
    CHECK_INT(m.window.end, test_window.end);

    ccopy_manifest_cleanup(&m);
    free(stored);
    free(raw.data);
    free(expected.data);
    fixture_teardown(&f);
}

CCOPY_TEST(bson_fidelity_every_type_uncompressed)
{
    round_trip(CCOPY_COMPRESS_NONE);
}

CCOPY_TEST(bson_fidelity_every_type_gzip)
{
    round_trip(CCOPY_COMPRESS_GZIP);
}

CCOPY_TEST(bson_fidelity_every_type_zstd)
{
    round_trip(CCOPY_COMPRESS_ZSTD);
}

CCOPY_TEST(jsonl_is_canonical_extended_json_that_parses_back)
{
    fixture_t f;
    _ccopy_window_writer_config_t wc = config_for("jsonl", CCOPY_COMPRESS_NONE);
    _ccopy_window_writer_t *w = NULL;
    ccopy_manifest_t m;
    ccopy_error_t e;
    char path[512], *line, *save = NULL;
    uint8_t *text;
    size_t len = 0, i;

    fixture_setup(&f);
    CHECK_INT(_ccopy_window_writer_new(&w, f.sink, &wc, &e), 0);
    for (i = 1; i < 3; i++) /* documents whose types Extended JSON round-trips exactly */
        CHECK_INT(_ccopy_window_writer_add(w, &f.docs[i], &e), 0);
    CHECK_INT(_ccopy_window_writer_commit(w, &m, &e), 0);
    _ccopy_window_writer_destroy(w);
    CHECK_STR(m.data, "20260101T000000Z_20260101T040000Z.jsonl");
    CHECK_STR(m.format, "jsonl");
    snprintf(path, sizeof path, "%s/backup/shop/orders/%s", f.dir, m.data);
    text = read_file(path, &len);
    CHECK(text != NULL);
    text[len] = '\0';
    CHECK_INT(m.bytes, len);
    i = 1;
    for (line = strtok_r((char *)text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        bson_error_t be;
        bson_t *parsed = bson_new_from_json((const uint8_t *)line, -1, &be);
        CHECK(parsed != NULL);
        if (parsed) {
            CHECK_INT(parsed->len, f.docs[i].len);
            CHECK(memcmp(bson_get_data(parsed), bson_get_data(&f.docs[i]), f.docs[i].len) == 0);
            bson_destroy(parsed);
        }
    }
    CHECK_INT(i, 3);
    ccopy_manifest_cleanup(&m);
    free(text);
    fixture_teardown(&f);
}

/* Entries of a folder that are data, manifests or temporaries (not the lock). */
static int folder_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *entry;
    int entries = 0;
    CHECK(d != NULL);
    while (d && (entry = readdir(d)) != NULL)
        entries += entry->d_name[0] != '.' || strncmp(entry->d_name, ".tmp.", 5) == 0;
    if (d)
        closedir(d);
    return entries;
}

CCOPY_TEST(nothing_is_complete_before_commit)
{
    fixture_t f;
    _ccopy_window_writer_config_t wc = config_for("bson", CCOPY_COMPRESS_NONE);
    _ccopy_window_writer_t *w = NULL;
    ccopy_manifest_t *list = NULL;
    size_t count = 99;
    ccopy_error_t e;
    char path[512];

    fixture_setup(&f);
    CHECK_INT(_ccopy_window_writer_new(&w, f.sink, &wc, &e), 0);
    CHECK_INT(_ccopy_window_writer_add(w, &f.docs[1], &e), 0);
    CHECK_INT(_ccopy_sink_read_manifests(f.sink, "shop", "orders", &list, &count, &e), 0);
    CHECK_INT(count, 0);
    _ccopy_manifests_free(list, count);
    _ccopy_window_writer_destroy(w); /* abandoned: no data file, no manifest, no temporary */
    snprintf(path, sizeof path, "%s/backup/shop/orders", f.dir);
    CHECK_INT(folder_entries(path), 0);
    fixture_teardown(&f);
}

CCOPY_TEST(restart_discards_what_was_written)
{
    fixture_t f;
    _ccopy_window_writer_config_t wc = config_for("bson", CCOPY_COMPRESS_ZSTD);
    _ccopy_window_writer_t *w = NULL;
    ccopy_manifest_t m;
    ccopy_error_t e;

    fixture_setup(&f);
    CHECK_INT(_ccopy_window_writer_new(&w, f.sink, &wc, &e), 0);
    CHECK_INT(_ccopy_window_writer_add(w, &f.docs[0], &e), 0);
    CHECK_INT(_ccopy_window_writer_restart(w, &e), 0);
    CHECK_INT(_ccopy_window_writer_add(w, &f.docs[1], &e), 0);
    CHECK_INT(_ccopy_window_writer_commit(w, &m, &e), 0);
    CHECK_INT(m.documents, 1);
    CHECK_INT(m.bytes, f.docs[1].len);
    CHECK_STR(m.first_id, "{ \"$oid\" : \"6955b9000000000000000002\" }");
    ccopy_manifest_cleanup(&m);
    _ccopy_window_writer_destroy(w);
    fixture_teardown(&f);
}

CCOPY_TEST(stale_temporaries_are_removed_at_open)
{
    char *dir = ccopy_test_temp_dir();
    char path[512];
    _ccopy_sink_t *sink;
    FILE *f;

    snprintf(path, sizeof path, "mkdir -p '%s/backup/shop/orders'", dir);
    CHECK_INT(system(path), 0);
    snprintf(path, sizeof path, "%s/backup/shop/orders/.tmp.x.bson.123.0", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    sink = open_sink(dir);
    CHECK(sink != NULL);
    CHECK(!file_exists(path));
    _ccopy_sink_close(sink);
    ccopy_test_remove_tree(dir);
    free(dir);
}

CCOPY_TEST(second_writer_is_refused)
{
    char *dir = ccopy_test_temp_dir();
    char location[300];
    _ccopy_sink_t *first = open_sink(dir), *second = NULL;
    ccopy_error_t e;

    snprintf(location, sizeof location, "dir:%s/backup", dir);
    CHECK(first != NULL);
    CHECK_INT(_ccopy_sink_open(&second, location, 1, NULL, &e), CCOPY_EBUSY);
    CHECK_CONTAINS(e.message, "another cosmocopy job is writing to");
    CHECK(second == NULL);
    _ccopy_sink_close(first);
    CHECK_INT(_ccopy_sink_open(&second, location, 1, NULL, &e), 0); /* the lock went with the first */
    _ccopy_sink_close(second);
    ccopy_test_remove_tree(dir);
    free(dir);
}

/* Two jobs of one process (a Dask worker's threads running the same task twice) write the
 * same window into the same folder at once, as helpers without the lock: each writes its own
 * temporary, and both commits land (the same content, renamed into place one after the other). */
CCOPY_TEST(two_sinks_of_one_process_write_the_same_object_at_once)
{
    char *dir = ccopy_test_temp_dir();
    char location[300], path[600];
    _ccopy_sink_t *a = NULL, *b = NULL;
    void *oa = NULL, *ob = NULL;
    uint8_t *got;
    size_t len = 0;
    ccopy_error_t e;

    snprintf(location, sizeof location, "dir:%s/backup", dir);
    CHECK_INT(_ccopy_sink_open(&a, location, CCOPY_SINK_HELPER, NULL, &e), 0);
    CHECK_INT(_ccopy_sink_open(&b, location, CCOPY_SINK_HELPER, NULL, &e), 0);
    CHECK_INT(a->ops->object_begin(a, "shop", "orders", "w.bson", &oa, &e), 0);
    CHECK_INT(b->ops->object_begin(b, "shop", "orders", "w.bson", &ob, &e), 0);
    CHECK_INT(a->ops->object_append(oa, (const uint8_t *)"same", 4, &e), 0);
    CHECK_INT(b->ops->object_append(ob, (const uint8_t *)"same", 4, &e), 0);
    CHECK_INT(a->ops->object_commit(oa, &e), 0);
    CHECK_INT(b->ops->object_commit(ob, &e), 0);
    snprintf(path, sizeof path, "%s/backup/shop/orders/w.bson", dir);
    got = read_file(path, &len);
    CHECK(got != NULL && len == 4 && memcmp(got, "same", 4) == 0);
    free(got);
    _ccopy_sink_close(a);
    _ccopy_sink_close(b);
    ccopy_test_remove_tree(dir);
    free(dir);
}

CCOPY_TEST(unwritable_folder_names_path_and_reason)
{
    char *dir = ccopy_test_temp_dir();
    char location[600], file[300];
    _ccopy_sink_t *sink = NULL;
    ccopy_error_t e;
    FILE *f;

    snprintf(file, sizeof file, "%s/afile", dir);
    f = fopen(file, "w");
    if (f)
        fclose(f);
    snprintf(location, sizeof location, "dir:%s/sub", file);
    /* a file where the folder should be is the person's doing: bad input, exit 2 */
    CHECK_INT(_ccopy_sink_open(&sink, location, 1, NULL, &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "cannot create folder");
    CHECK_CONTAINS(e.message, file);
    CHECK_CONTAINS(e.message, "not a folder");
    ccopy_test_remove_tree(dir);
    free(dir);
}

CCOPY_TEST(names_that_leave_the_folder_are_refused)
{
    fixture_t f;
    _ccopy_window_writer_config_t wc = config_for("bson", CCOPY_COMPRESS_NONE);
    _ccopy_window_writer_t *w = NULL;
    ccopy_error_t e;

    fixture_setup(&f);
    wc.coll = "../escape";
    CHECK_INT(_ccopy_window_writer_new(&w, f.sink, &wc, &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "../escape");
    CHECK(w == NULL);
    fixture_teardown(&f);
}

/* '/' cannot be in a folder name, Blob Storage reads '\' as '/' and a blob name's segment must
 * not end with '.': such names are escaped, and so are the names whose escape could otherwise be
 * misread; every other name is as written. */
CCOPY_TEST(names_with_a_slash_are_escaped_reversibly)
{
    static const char *const cases[][2] = {
        {"orders", "orders"},          {"100%", "100%"},         {"a%2fb", "a%2fb"},
        {"a/b", "a%2Fb"},              {"a%2Fb", "a%252Fb"},     {"a%25", "a%2525"},
        {"x/../../y", "x%2F..%2F..%2Fy"}, {"50%/x", "50%25%2Fx"}, {"/", "%2F"},
        {"%2", "%2"},                  {"a\\b", "a%5Cb"},          {"a.", "a%2E"},
        {"a.b", "a.b"},                {"a..", "a.%2E"},         {"a%2E", "a%252E"},
        {"%5C", "%255C"},              {"x%2e", "x%2e"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *component = _ccopy_sink_component(cases[i][0]);
        char *name = _ccopy_sink_component_name(component);
        CHECK_STR(component, cases[i][1]);
        CHECK_STR(name, cases[i][0]);
        CHECK(strchr(component, '/') == NULL);
        free(component);
        free(name);
    }
    CHECK(_ccopy_sink_component(NULL) == NULL);
}

CCOPY_TEST(a_collection_with_a_slash_stays_in_its_folder)
{
    fixture_t f;
    _ccopy_window_writer_config_t wc = config_for("bson", CCOPY_COMPRESS_NONE);
    _ccopy_window_writer_t *w = NULL;
    ccopy_error_t e;
    char **names = NULL;
    size_t count = 0;
    char *folder;
    struct stat st;

    fixture_setup(&f);
    wc.coll = "x/../../y";
    CHECK_INT(_ccopy_window_writer_new(&w, f.sink, &wc, &e), 0);
    CHECK_INT(_ccopy_window_writer_commit(w, NULL, &e), 0);
    _ccopy_window_writer_destroy(w);
    folder = _ccopy_strdup_printf("%s/backup/%s/x%%2F..%%2F..%%2Fy", f.dir, wc.db);
    CHECK(stat(folder, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_INT(f.sink->ops->list_groups(f.sink, wc.db, &names, &count, &e), 0);
    CHECK_INT((int)count, 1);
    if (count == 1)
        CHECK_STR(names[0], "x/../../y");
    _ccopy_names_free(names, count);
    free(folder);
    fixture_teardown(&f);
}

CCOPY_TEST(window_names_sort_by_time)
{
    ccopy_window_t a = {1767225600, 1767240000}, b = {1767240000, 1767254400};
    char *na = _ccopy_window_data_name(CCOPY_MANIFEST_WINDOW, &a, "bson", CCOPY_COMPRESS_GZIP);
    char *nb = _ccopy_window_data_name(CCOPY_MANIFEST_WINDOW, &b, "bson", CCOPY_COMPRESS_ZSTD);
    char *ma = _ccopy_window_manifest_name(CCOPY_MANIFEST_WINDOW, &a);
    char *nn = _ccopy_window_data_name(CCOPY_MANIFEST_NON_OBJECTID, &a, "jsonl", CCOPY_COMPRESS_NONE);
    CHECK_STR(na, "20260101T000000Z_20260101T040000Z.bson.gz");
    CHECK_STR(nb, "20260101T040000Z_20260101T080000Z.bson.zst");
    CHECK_STR(ma, "20260101T000000Z_20260101T040000Z.manifest.json");
    CHECK_STR(nn, "non-objectid.jsonl");
    CHECK(strcmp(na, nb) < 0);
    free(na);
    free(nb);
    free(ma);
    free(nn);
}

/* Data objects go out in aligned blocks with O_DIRECT where the filesystem takes it, the tail
 * through the page cache: every size around a block comes back byte for byte, whatever the
 * appends' sizes, and an object aborted after some blocks leaves nothing behind. */
static char *temp_dir_in(const char *base)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "%s/ccopy-test-XXXXXX", base);
    return mkdtemp(tmpl) ? strdup(tmpl) : NULL;
}

static void direct_blocks_round_trip(const char *base)
{
    static const size_t sizes[] = {0, 1, 4095, 4096, (1u << 20) - 1, 1u << 20, (1u << 20) + 1,
                                   (5u << 19) + 123, 3u << 20};
    static const size_t chunks[] = {7, 65536, 300001, 1u << 20, 3};
    char *dir = base ? temp_dir_in(base) : ccopy_test_temp_dir();
    _ccopy_sink_t *sink = open_sink(dir);
    size_t i, j, max = 3u << 20;
    uint8_t *pattern = malloc(max);
    ccopy_error_t e;

    CHECK(sink != NULL);
    for (i = 0; i < max; i++)
        pattern[i] = (uint8_t)(i * 131 + (i >> 12));
    for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        for (j = 0; j < sizeof chunks / sizeof *chunks; j++) {
            void *object = NULL;
            size_t off = 0, len = 0;
            char name[64], path[512];
            uint8_t *back;
            snprintf(name, sizeof name, "obj-%zu-%zu.bson", sizes[i], chunks[j]);
            CHECK_INT(sink->ops->object_begin(sink, "shop", "orders", name, &object, &e), 0);
            while (off < sizes[i]) {
                size_t n = sizes[i] - off < chunks[j] ? sizes[i] - off : chunks[j];
                CHECK_INT(sink->ops->object_append(object, pattern + off, n, &e), 0);
                off += n;
            }
            CHECK_INT(sink->ops->object_commit(object, &e), 0);
            snprintf(path, sizeof path, "%s/backup/shop/orders/%s", dir, name);
            back = read_file(path, &len);
            CHECK(back != NULL);
            CHECK(len == sizes[i]);
            CHECK(len == 0 || memcmp(back, pattern, len) == 0);
            free(back);
        }
    }
    {
        void *object = NULL;
        char path[512];
        CHECK_INT(sink->ops->object_begin(sink, "shop", "orders", "aborted.bson", &object, &e), 0);
        CHECK_INT(sink->ops->object_append(object, pattern, (5u << 19) + 123, &e), 0);
        sink->ops->object_abort(object);
        snprintf(path, sizeof path, "%s/backup/shop/orders/aborted.bson", dir);
        CHECK(!file_exists(path));
        snprintf(path, sizeof path, "%s/backup/shop/orders", dir);
        CHECK_INT(folder_entries(path), (int)(sizeof sizes / sizeof *sizes * sizeof chunks / sizeof *chunks));
    }
    free(pattern);
    _ccopy_sink_close(sink);
    ccopy_test_remove_tree(dir);
    free(dir);
}

CCOPY_TEST(data_objects_in_direct_blocks_come_back_exact)
{
    direct_blocks_round_trip(NULL);
}

CCOPY_TEST(data_objects_in_direct_blocks_come_back_exact_on_tmpfs)
{
    struct stat st;
    if (stat("/dev/shm", &st) != 0 || !S_ISDIR(st.st_mode))
        return; /* no tmpfs here: the test above covers the folder's own filesystem */
    direct_blocks_round_trip("/dev/shm");
}
