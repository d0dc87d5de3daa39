/*
 * Azure's answers as the blob client reads them: header lines (x-ms-error-code, ETag,
 * Content-Range, Retry-After, Content-Length ...) and the body, fed the way libcurl does, one
 * line per call and the body in pieces, then judged (retry or not) and turned into an error.
 */
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "fuzz.h"

#define FIELD_OK(f) (strnlen((f), sizeof(f)) < sizeof(f))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    _ccopy_blob_account_t acct = {.endpoint = "https://acct.blob.core.windows.net",
                                  .path_prefix = "", .account = "acct"};
    _ccopy_http_response_t res = {.body_limit = 4096};
    ccopy_error_t error;
    size_t pos = 0;
    char *copy;

    if (size < 2)
        return 0;
    _ccopy_http_response_reset(&res);
    res.status = 200 + data[0] % 4 * 100 + data[1] % 30; /* 200..529 */
    acct.key_len = data[0] & 0x80 ? 0 : 1;
    acct.entra_id = (data[0] & 0xc0) == 0xc0; /* neither key nor SAS */
    data += 2;
    size -= 2;
    /* each header line in a buffer of its own length: a read past it is caught */
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (data + pos)) + 1 : size - pos;
        copy = malloc(len);
        memcpy(copy, data + pos, len);
        pos += len;
        if (len <= 2 && (copy[0] == '\n' || copy[0] == '\r')) {
            free(copy);
            break; /* the blank line: the body follows */
        }
        FUZZ_CHECK(_ccopy_http_on_header(copy, 1, len, &res) == len, "header refused");
        free(copy);
    }
    while (pos < size) {
        size_t len = size - pos < 1000 ? size - pos : 1000;
        copy = malloc(len);
        memcpy(copy, data + pos, len);
        pos += len;
        if (_ccopy_http_on_body(copy, 1, len, &res) != len)
            pos = size; /* over the limit: the transfer stops */
        free(copy);
    }
    FUZZ_CHECK(FIELD_OK(res.error_code) && FIELD_OK(res.meta_sha256) && FIELD_OK(res.lease_id) &&
                   FIELD_OK(res.etag) && FIELD_OK(res.content_range) && FIELD_OK(res.www_authenticate),
               "a header field is not terminated");
    FUZZ_CHECK(res.retry_after_ms >= -1 && res.content_length >= -1, "negative Retry-After or Content-Length");
    FUZZ_CHECK(res.body_len <= 4096 && (!res.body || res.body[res.body_len] == '\0'), "body");
    (void)_ccopy_http_retryable(&res);
    memset(&error, 0, sizeof error);
    FUZZ_CHECK(_ccopy_blob_error(&acct, &res, "listing azblob://c/p", &error) != 0 && error.message[0],
               "no error");
    _ccopy_http_response_reset(&res);
    return 0;
}
