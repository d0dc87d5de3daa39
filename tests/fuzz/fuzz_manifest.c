/*
 * Manifests as read back from a folder or a container (anyone with write access to the backup
 * can put any bytes there): parsing never crashes and never reads past the given length, and a
 * manifest it accepts is written back, read again and written again byte for byte the same.
 */
#include "cosmocopy/manifest.h"
#include "fuzz.h"

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exactly size bytes, no NUL after them: the parser must go by the length */
    char *json = malloc(size ? size : 1);
    char *out = NULL, *out2 = NULL;
    ccopy_manifest_t m, back;
    ccopy_error_t error;

    memcpy(json, data, size);
    memset(&error, 0, sizeof error);
    if (ccopy_manifest_from_json(&m, json, size, &error) != 0) {
        FUZZ_CHECK(error.code == CCOPY_ECORRUPT && error.message[0], "code %d", error.code);
        FUZZ_CHECK(m.database == NULL && m.data == NULL && m.first_id == NULL, "not zeroed");
        free(json);
        return 0;
    }
    FUZZ_CHECK(ccopy_manifest_to_json(&out, &m, &error) == 0, "accepted, then not written: %s",
               error.message);
    FUZZ_CHECK(ccopy_manifest_from_json(&back, out, strlen(out), &error) == 0,
               "written, then not read: %s\n%s", error.message, out);
    FUZZ_CHECK(back.kind == m.kind && back.window.start == m.window.start &&
                   back.window.end == m.window.end && back.documents == m.documents &&
                   back.bytes == m.bytes && back.stored_bytes == m.stored_bytes &&
                   strcmp(back.sha256, m.sha256) == 0 && same(back.database, m.database) &&
                   same(back.collection, m.collection) && same(back.data, m.data) &&
                   same(back.first_id, m.first_id) && same(back.last_id, m.last_id) &&
                   same(back.format, m.format) && same(back.compression, m.compression) &&
                   same(back.engine_version, m.engine_version) &&
                   same(back.completed_at, m.completed_at),
               "differs after a round trip:\n%s", out);
    FUZZ_CHECK(ccopy_manifest_to_json(&out2, &back, &error) == 0 && strcmp(out, out2) == 0,
               "written twice, differently:\n%s\n%s", out, out2 ? out2 : "(null)");
    ccopy_manifest_cleanup(&m);
    ccopy_manifest_cleanup(&back);
    ccopy_free(out);
    ccopy_free(out2);
    free(json);
    return 0;
}
