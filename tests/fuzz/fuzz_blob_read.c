/*
 * Reading a blob back across tries (restore, verify): each try's answer says where its body
 * starts (206 with Content-Range, or 200) and carries an ETag, and a try after a cut asks for the
 * rest. Any answers a server (or something between) sends are taken or refused with a message;
 * the reader never hands a byte out twice.
 *
 * Input: tries, each "STATUS-BYTE CONTENT-RANGE\n ETAG\n LENGTH-BYTE BODY".
 */
#include <string.h>

#include "blob_sink.h"
#include "fuzz.h"

static int count_out(const uint8_t *data, size_t len, void *user_data, ccopy_error_t *error)
{
    (void)data;
    (void)error;
    *(uint64_t *)user_data += len;
    return 0;
}

static size_t take_line(const uint8_t *data, size_t size, size_t *pos, char *out, size_t cap)
{
    size_t n = 0;
    while (*pos < size && data[*pos] != '\n') {
        if (n + 1 < cap)
            out[n++] = (char)data[*pos];
        (*pos)++;
    }
    if (*pos < size)
        (*pos)++;
    out[n] = '\0';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t handed = 0;
    ccopy_error_t error;
    _ccopy_blob_read_t r;
    size_t pos = 0;
    int tries = 0;

    memset(&r, 0, sizeof r);
    memset(&error, 0, sizeof error);
    r.where = "azblob://c/db/coll/x.bson";
    r.out = count_out;
    r.user_data = &handed;
    r.error = &error;
    r.size = -1;
    while (pos < size && tries++ < 16) {
        _ccopy_http_response_t res;
        size_t len, piece;
        memset(&res, 0, sizeof res);
        _ccopy_http_response_reset(&res);
        res.status = data[pos++] & 1 ? 206 : 200;
        take_line(data, size, &pos, res.content_range, sizeof res.content_range);
        take_line(data, size, &pos, res.etag, sizeof res.etag);
        len = pos < size ? data[pos++] : 0;
        if (len > size - pos)
            len = size - pos;
        r.answering = 0;
        r.rc = 0;
        /* the body in pieces of up to 7 bytes, as a transfer hands them over */
        for (piece = 0; piece < len && r.rc == 0; piece += 7)
            _ccopy_blob_read_piece(&res, data + pos + piece, len - piece < 7 ? len - piece : 7, &r);
        pos += len;
        FUZZ_CHECK(r.rc == 0 || error.message[0], "stopped without a message");
        FUZZ_CHECK(handed == r.delivered, "handed %llu, counted %llu", (unsigned long long)handed,
                   (unsigned long long)r.delivered);
        if (r.rc != 0)
            break;
    }
    return 0;
}
