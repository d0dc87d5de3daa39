/*
 * Extended JSON as the engine writes it: any bytes that are a structurally valid BSON document
 * (what a server may send) become one jsonl line (format jsonl) that has no newline inside and
 * that the engine's reader turns back into the same bytes, or are refused with a one-line
 * message naming the document; every top-level value (a manifest's first_id/last_id)
 * becomes canonical text that reads back as itself, or null; and the engine's own JSON writer turns any
 * UTF-8 string into a JSON string that reads back unchanged.
 */
#include <bson/bson.h>

#include "extjson.h"
#include "fuzz.h"
#include "jsonw.h"

/* A manifest's first_id/last_id: text only when it reads back, as manifests are read, as the
 * very value (else the manifest says null). */
static void check_value(const bson_value_t *value)
{
    char *text = _ccopy_bson_value_to_json(value), *wrapped;
    bson_t one = BSON_INITIALIZER, *back;
    ccopy_error_t error;

    if (!text)
        return;
    bson_append_value(&one, "v", 1, value);
    wrapped = bson_strdup_printf("{ \"v\" : %s }", text);
    back = _ccopy_extjson_to_bson(wrapped, strlen(wrapped), &error);
    FUZZ_CHECK(back, "first_id %s is not read back: %s", text, error.message);
    FUZZ_CHECK(back->len == one.len && memcmp(bson_get_data(back), bson_get_data(&one), one.len) == 0,
               "first_id %s reads back as another value", text);
    bson_destroy(back);
    bson_destroy(&one);
    bson_free(wrapped);
    free(text);
}

static void check_document(const bson_t *doc)
{
    ccopy_error_t error;
    char *line = NULL;
    size_t len = 0;
    bson_t *back;
    bson_iter_t it;

    memset(&error, 0, sizeof error);
    if (_ccopy_jsonw_bson_line(&line, &len, doc, &error) != 0) {
        /* the backup refuses the document, naming it: a failed window, never a wrong one */
        FUZZ_CHECK(error.code == CCOPY_EREJECTED && error.message[0], "code %d", error.code);
        FUZZ_CHECK(!strchr(error.message, '\n'), "a message of more than one line: %s", error.message);
    } else {
        FUZZ_CHECK(len > 0 && line[len - 1] == '\n' && !memchr(line, '\n', len - 1),
                   "not one line: %.*s", (int)len, line);
        /* the reader restore uses gives back the very bytes */
        back = _ccopy_extjson_to_bson(line, len - 1, &error);
        FUZZ_CHECK(back, "the line %.*s is not read back: %s", (int)len, line, error.message);
        FUZZ_CHECK(back->len == doc->len &&
                       memcmp(bson_get_data(back), bson_get_data(doc), doc->len) == 0,
                   "the line %.*s reads back as another document", (int)len, line);
        bson_destroy(back);
        bson_free(line);
    }
    if (bson_iter_init(&it, doc)) {
        while (bson_iter_next(&it))
            check_value(bson_iter_value(&it));
    }
}

static void check_string(const char *text, size_t len)
{
    _ccopy_jsonw_t w;
    char *json;
    bson_error_t e;
    bson_iter_t it;
    bson_t *doc;
    uint32_t back_len;

    if (!bson_utf8_validate(text, len, false))
        return;
    _ccopy_jsonw_init(&w, 0);
    _ccopy_jsonw_begin_object(&w);
    _ccopy_jsonw_kv_string(&w, "k", text);
    _ccopy_jsonw_end_object(&w);
    json = _ccopy_jsonw_steal(&w);
    doc = bson_new_from_json((const uint8_t *)json, -1, &e);
    FUZZ_CHECK(doc != NULL, "%s: %s", json, e.message);
    FUZZ_CHECK(bson_iter_init_find(&it, doc, "k") && BSON_ITER_HOLDS_UTF8(&it), "%s", json);
    FUZZ_CHECK(strcmp(bson_iter_utf8(&it, &back_len), text) == 0 && back_len == len, "%s", json);
    bson_destroy(doc);
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy;
    char *text;
    bson_t doc;

    text = fuzz_text(data, size);
    check_string(text, strlen(text));
    free(text);

    /* The length prefix is set from the input's size, so mutations keep a plausible document. */
    if (size < 5 || size > (1 << 20))
        return 0;
    copy = malloc(size);
    memcpy(copy, data, size);
    copy[0] = (uint8_t)size;
    copy[1] = (uint8_t)(size >> 8);
    copy[2] = (uint8_t)(size >> 16);
    copy[3] = 0;
    if (bson_init_static(&doc, copy, size) && bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
        check_document(&doc);
    free(copy);
    return 0;
}
