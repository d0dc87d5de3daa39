/*
 * The jsonl reader restore and verify use (_ccopy_extjson_to_bson): any bytes (someone with
 * write access to the backup may put anything in a window) read as a valid BSON document or fail
 * with a message naming the byte; never a crash, a read past the line or unbounded work. A
 * document it reads and that the writer accepts reads back the same after a round trip.
 */
#include <bson/bson.h>

#include "extjson.h"
#include "fuzz.h"
#include "jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exactly size bytes, no terminator: the reader goes by the length */
    char *text = malloc(size ? size : 1), *line = NULL;
    ccopy_error_t error;
    bson_t *doc, *again;
    size_t len = 0;

    memcpy(text, data, size);
    memset(&error, 0, sizeof error);
    doc = _ccopy_extjson_to_bson(text, size, &error);
    if (!doc) {
        FUZZ_CHECK(error.code == CCOPY_ECORRUPT && error.message[0], "code %d", error.code);
        FUZZ_CHECK(!strchr(error.message, '\n'), "a message of more than one line: %s", error.message);
        free(text);
        return 0;
    }
    FUZZ_CHECK(bson_validate(doc, BSON_VALIDATE_NONE, NULL), "an invalid document");
    if (_ccopy_jsonw_bson_line(&line, &len, doc, &error) == 0) {
        again = _ccopy_extjson_to_bson(line, len - 1, &error);
        FUZZ_CHECK(again && again->len == doc->len &&
                       memcmp(bson_get_data(again), bson_get_data(doc), doc->len) == 0,
                   "%.*s changes when written and read again", (int)len, line);
        bson_destroy(again);
        bson_free(line);
    }
    bson_destroy(doc);
    free(text);
    return 0;
}
