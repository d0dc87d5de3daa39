/*
 * Streamed objects on a blob destination: a window's data. It streams into blocks (Put Block,
 * each with its Content-MD5), several in flight at once on a libcurl multi handle, and is
 * committed with Put Block List only when the window is done. Memory is the blocks in flight,
 * whatever the window's size. Block size doubles every 10,000 blocks, so a window never needs
 * more than 50,000. Data blobs are created with If-None-Match: * (write-once). A half-written
 * window (data without manifest, or uncommitted blocks) is redone from the start. When a
 * commit's answer is lost and the retry meets 409, the blob is ours if its x-ms-meta-sha256 is
 * what we sent. Blocks are sent only while the writer's lease is held (blob_lease.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "blob.h"
#include "blob_sink.h"
#include "common.h"
#include "sink.h"

#define MAX_BLOCK_SIZE ((size_t)4000 << 20)
#define BLOCKS_PER_DOUBLING 10000

typedef struct slot {
    CURL *curl;
    struct curl_slist *headers;
    uint8_t *data;
    size_t len, cap;
    char id[24], query[96], md5[32];
    _ccopy_blob_request_t req;
    _ccopy_http_response_t res;
    _ccopy_http_body_cursor_t cursor;
    int state; /* 0 free/filling, 1 in flight, 2 waiting to retry */
    int attempt;
    int64_t retry_at_ms;
} slot_t;

typedef struct blob_object {
    _ccopy_blob_sink_t *b;
    char *blob;
    _ccopy_blob_client_t client; /* delete at begin, commit at the end */
    CURLM *multi;
    slot_t *slots;
    int nslots, filling;
    char **ids;
    size_t nids, ids_cap;
    EVP_MD_CTX *sha;
    uint64_t rng;
    int failed;
    ccopy_error_t failure;
} blob_object_t;

static size_t block_size_for(const blob_object_t *o)
{
    size_t size = (size_t)o->b->settings.block_size;
    size_t doublings = o->nids / BLOCKS_PER_DOUBLING;
    while (doublings-- > 0 && size < MAX_BLOCK_SIZE / 2)
        size *= 2;
    return size;
}

static void fail(blob_object_t *o, const ccopy_error_t *e);

static void start_transfer(blob_object_t *o, slot_t *s)
{
    ccopy_error_t e;
    s->headers = _ccopy_blob_prepare(s->curl, &o->b->acct, &s->req, &s->res, &s->cursor,
                                     (long)o->b->settings.timeout_ms, &e);
    if (!s->headers) {
        /* not authorised (no token could be had): the block is not sent, the object fails */
        fail(o, &e);
        s->state = 0;
        s->len = 0;
        return;
    }
    curl_multi_add_handle(o->multi, s->curl);
    s->state = 1;
}

static void submit(blob_object_t *o, slot_t *s)
{
    char raw[16], *id, *enc;
    snprintf(raw, sizeof raw, "%08zu", o->nids); /* same length for every block of a blob */
    id = _ccopy_base64((const unsigned char *)raw, strlen(raw));
    snprintf(s->id, sizeof s->id, "%s", id);
    free(id);
    enc = _ccopy_http_encode(s->id, ""); /* '+', '/', '=' percent-encoded */
    snprintf(s->query, sizeof s->query, "comp=block&blockid=%s", enc);
    free(enc);
    if (o->nids == o->ids_cap) {
        o->ids_cap = o->ids_cap ? o->ids_cap * 2 : 64;
        o->ids = _ccopy_realloc(o->ids, o->ids_cap * sizeof *o->ids);
    }
    o->ids[o->nids++] = _ccopy_strdup(s->id);
    _ccopy_md5_base64(s->data, s->len, s->md5);
    s->req = (_ccopy_blob_request_t){.method = "PUT", .container = o->b->container, .blob = o->blob,
                                     .query = s->query, .content_md5 = s->md5,
                                     .body = s->data, .body_len = s->len};
    s->attempt = 0;
    start_transfer(o, s);
}

static void fail(blob_object_t *o, const ccopy_error_t *e)
{
    if (!o->failed) {
        o->failure = *e;
        o->failed = 1;
    }
}

/* Drop every transfer in flight or waiting to be retried: not another byte of them is sent. */
static void drop_transfers(blob_object_t *o)
{
    int i;
    for (i = 0; i < o->nslots; i++) {
        slot_t *s = &o->slots[i];
        if (s->state == 1)
            curl_multi_remove_handle(o->multi, s->curl);
        curl_slist_free_all(s->headers);
        s->headers = NULL;
        s->state = 0;
        s->len = 0;
    }
}

/* Move transfers along; wait up to wait_ms for something to happen. Blocks are sent only while
 * the lease is held: once it is lost, the object fails and its transfers are dropped. */
static void drive(blob_object_t *o, int wait_ms)
{
    CURLMsg *msg;
    int running = 0, left, i;
    int64_t now;

    if (o->b->leased) {
        ccopy_error_t e;
        if (_ccopy_blob_lease_check(o->b, NULL, &e) != 0) {
            fail(o, &e);
            drop_transfers(o);
            return;
        }
    }
    curl_multi_perform(o->multi, &running);
    while ((msg = curl_multi_info_read(o->multi, &left)) != NULL) {
        slot_t *s = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (i = 0; i < o->nslots; i++)
            if (o->slots[i].curl == msg->easy_handle)
                s = &o->slots[i];
        if (!s)
            continue;
        s->res.curl_code = msg->data.result;
        if (s->res.curl_code == CURLE_OK)
            curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->res.status);
        curl_multi_remove_handle(o->multi, s->curl);
        curl_slist_free_all(s->headers);
        s->headers = NULL;
        if (s->res.curl_code == CURLE_OK && s->res.status == 201) {
            s->state = 0;
            s->len = 0;
        } else if (_ccopy_http_retryable(&s->res) && ++s->attempt <= o->b->settings.backoff.max_retries) {
            int64_t delay = _ccopy_backoff_delay_ms(&o->b->settings.backoff, s->attempt,
                                                    s->res.retry_after_ms, &o->rng);
            char *what = _ccopy_strdup_printf("writing block %s of %s", s->id, o->blob);
            if (o->b->settings.retries)
                atomic_fetch_add(o->b->settings.retries, 1);
            _ccopy_http_note_retry(&s->res, what, delay, s->attempt,
                                   o->b->settings.backoff.max_retries);
            free(what);
            s->retry_at_ms = _ccopy_monotonic_ms() + delay;
            s->state = 2;
        } else {
            ccopy_error_t e;
            char *what = _ccopy_strdup_printf("writing block %s of %s", s->id, o->blob);
            _ccopy_blob_error(&o->b->acct, &s->res, what, &e);
            if (s->attempt > o->b->settings.backoff.max_retries)
                _ccopy_error_prefix(&e, "after %d retr%s", s->attempt - 1, s->attempt - 1 == 1 ? "y" : "ies");
            free(what);
            fail(o, &e);
            s->state = 0;
            s->len = 0;
        }
    }
    now = _ccopy_monotonic_ms();
    for (i = 0; i < o->nslots; i++)
        if (o->slots[i].state == 2 && o->slots[i].retry_at_ms <= now && !o->failed)
            start_transfer(o, &o->slots[i]); /* the same block id, the same bytes, signed anew */
    if (wait_ms > 0)
        curl_multi_poll(o->multi, NULL, 0, wait_ms, NULL);
}

static int busy_slots(const blob_object_t *o)
{
    int i, n = 0;
    for (i = 0; i < o->nslots; i++)
        n += o->slots[i].state != 0;
    return n;
}

static int canceled(const blob_object_t *o)
{
    return o->b->settings.canceled && atomic_load(o->b->settings.canceled);
}

/* A free slot to fill, waiting for one when all are busy. -1 on failure or cancel. */
static int next_slot(blob_object_t *o)
{
    for (;;) {
        int i;
        if (o->failed || canceled(o))
            return -1;
        for (i = 0; i < o->nslots; i++)
            if (o->slots[i].state == 0)
                return i;
        drive(o, 50);
    }
}

static int object_error(blob_object_t *o, ccopy_error_t *error)
{
    if (o->failed) {
        if (error)
            *error = o->failure;
        return o->failure.code;
    }
    return _ccopy_error_set(error, CCOPY_ECANCELED, CCOPY_DOMAIN_ENGINE, 0, "canceled");
}

static void object_free(blob_object_t *o)
{
    int i;
    size_t k;
    if (!o)
        return;
    for (i = 0; i < o->nslots; i++) {
        if (o->slots[i].state == 1)
            curl_multi_remove_handle(o->multi, o->slots[i].curl);
        curl_slist_free_all(o->slots[i].headers);
        curl_easy_cleanup(o->slots[i].curl);
        _ccopy_http_response_reset(&o->slots[i].res);
        free(o->slots[i].data);
    }
    free(o->slots);
    if (o->multi)
        curl_multi_cleanup(o->multi);
    for (k = 0; k < o->nids; k++)
        free(o->ids[k]);
    free(o->ids);
    if (o->client.http.curl)
        curl_easy_cleanup(o->client.http.curl);
    if (o->sha)
        EVP_MD_CTX_free(o->sha);
    free(o->blob);
    free(o);
}

int _ccopy_blob_object_begin(_ccopy_sink_t *sink, const char *db, const char *coll,
                             const char *name, void **out_object, ccopy_error_t *error)
{
    _ccopy_blob_sink_t *b = sink->impl;
    blob_object_t *o = _ccopy_calloc(1, sizeof *o);
    int i, rc;

    o->b = b;
    o->blob = _ccopy_blob_full_name(b, db, coll, name);
    _ccopy_blob_client_init(&o->client, b);
    if (b->leased) {
        /* the delete below and the commit: only while the lease is held */
        o->client.http.guard = _ccopy_blob_lease_guard;
        o->client.http.guard_data = b;
    }
    /* each of these fails only without memory: the engine's rule for it (see _ccopy_malloc) */
    o->multi = curl_multi_init();
    o->nslots = b->settings.blocks_in_flight > 0 ? b->settings.blocks_in_flight : 1;
    o->slots = _ccopy_calloc((size_t)o->nslots, sizeof *o->slots);
    for (i = 0; i < o->nslots; i++) {
        o->slots[i].curl = curl_easy_init();
        o->slots[i].res.body_limit = 1 << 20;
        if (!o->slots[i].curl)
            _ccopy_out_of_memory(sizeof(void *));
    }
    o->sha = EVP_MD_CTX_new();
    if (!o->multi || !o->sha || !EVP_DigestInit_ex(o->sha, EVP_sha256(), NULL))
        _ccopy_out_of_memory(sizeof(void *));
    o->rng = (uint64_t)_ccopy_monotonic_ms() * 0xBF58476D1CE4E5B9ULL + (uintptr_t)o;
    /* a half-written window from an earlier run: its data goes, the window is redone */
    rc = _ccopy_blob_delete(b, &o->client, o->blob, error);
    if (rc != 0) {
        object_free(o);
        return rc;
    }
    *out_object = o;
    return 0;
}

int _ccopy_blob_object_append(void *object, const uint8_t *data, size_t len, ccopy_error_t *error)
{
    blob_object_t *o = object;
    EVP_DigestUpdate(o->sha, data, len);
    while (len > 0) {
        slot_t *s;
        size_t want, take;
        if (o->filling < 0 || o->slots[o->filling].state != 0)
            o->filling = next_slot(o);
        if (o->filling < 0)
            return object_error(o, error);
        s = &o->slots[o->filling];
        want = block_size_for(o);
        if (s->cap < want) {
            s->data = _ccopy_realloc(s->data, want);
            s->cap = want;
        }
        take = want - s->len < len ? want - s->len : len;
        memcpy(s->data + s->len, data, take);
        s->len += take;
        data += take;
        len -= take;
        if (s->len == want) {
            submit(o, s);
            o->filling = -1;
        }
        drive(o, 0);
    }
    return o->failed ? object_error(o, error) : 0;
}

static int commit_block_list(blob_object_t *o, const char *sha_hex, ccopy_error_t *error)
{
    char *xml = NULL, *what = _ccopy_strdup_printf("committing %s", o->blob);
    char md5[32], meta[96];
    size_t len = 0, cap = 0, k;
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    int rc;

    cap = 64 + o->nids * 32;
    xml = _ccopy_malloc(cap);
    len = (size_t)snprintf(xml, cap, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for (k = 0; k < o->nids; k++)
        len += (size_t)snprintf(xml + len, cap - len, "<Latest>%s</Latest>", o->ids[k]);
    len += (size_t)snprintf(xml + len, cap - len, "</BlockList>");
    _ccopy_md5_base64((const uint8_t *)xml, len, md5);
    snprintf(meta, sizeof meta, "x-ms-meta-sha256:%s", sha_hex);
    {
        _ccopy_blob_request_t req = {.method = "PUT", .container = o->b->container, .blob = o->blob,
                                     .query = "comp=blocklist", .content_md5 = md5,
                                     .content_type = "application/xml", .if_none_match = "*",
                                     .xms = {meta, "x-ms-blob-content-type:application/octet-stream"},
                                     .body = (const uint8_t *)xml, .body_len = len};
        rc = _ccopy_blob_send(&o->client, &req, &res, what, error);
    }
    if (rc == 0 && res.status == 409) {
        /* an earlier try may have committed before its answer was lost: ours if it says so */
        _ccopy_blob_request_t head = {.method = "HEAD", .container = o->b->container, .blob = o->blob};
        rc = _ccopy_blob_send(&o->client, &head, &res, what, error);
        if (rc == 0 && !(res.status == 200 && strcmp(res.meta_sha256, sha_hex) == 0))
            rc = _ccopy_error_set(error, CCOPY_EBUSY, CCOPY_DOMAIN_HTTP, 409,
                                  "%s: another writer created it first", o->blob);
    } else if (rc == 0 && res.status != 201) {
        rc = _ccopy_blob_error(&o->b->acct, &res, what, error);
    }
    _ccopy_http_response_reset(&res);
    free(xml);
    free(what);
    return rc;
}

int _ccopy_blob_object_commit(void *object, ccopy_error_t *error)
{
    blob_object_t *o = object;
    unsigned char digest[32];
    unsigned int dlen = 0;
    char hex[65];
    int rc, i;

    if (o->filling >= 0 && o->slots[o->filling].len > 0) {
        submit(o, &o->slots[o->filling]);
        o->filling = -1;
    }
    while (busy_slots(o) > 0 && !o->failed && !canceled(o))
        drive(o, 50);
    if (o->failed || canceled(o)) {
        rc = object_error(o, error);
        object_free(o);
        return rc;
    }
    EVP_DigestFinal_ex(o->sha, digest, &dlen);
    for (i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    rc = commit_block_list(o, hex, error);
    object_free(o);
    return rc;
}

void _ccopy_blob_object_abort(void *object)
{
    object_free(object);
}
