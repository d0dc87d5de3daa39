/*
 * Listing a blob destination: List Blobs answers (XML) read for the names of blobs or virtual
 * folders and the next page's marker, page after page, then cut down to what the sink's list and
 * list_groups return (the same names the folder sink returns for files and folders).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "blob_sink.h"
#include "common.h"
#include "sink.h"

static char *xml_unescape(const char *s, size_t n)
{
    char *out = _ccopy_malloc(n + 1);
    size_t i = 0, o = 0;
    while (i < n) {
        if (s[i] == '&') {
            static const struct { const char *ent; char c; } ents[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
            size_t k, done = 0;
            for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
                size_t len = strlen(ents[k].ent);
                if (i + len <= n && strncmp(s + i, ents[k].ent, len) == 0) {
                    out[o++] = ents[k].c;
                    i += len;
                    done = 1;
                    break;
                }
            }
            if (done)
                continue;
        }
        out[o++] = s[i++];
    }
    out[o] = '\0';
    return out;
}

/* The text of every <tag>...</tag> inside each <within>...</within> of xml. */
void _ccopy_blob_xml_collect(const char *xml, const char *within, const char *tag, char ***names,
                             size_t *count, size_t *cap)
{
    char open_w[32], close_w[32], open_t[32], close_t[32];
    const char *p = xml;
    snprintf(open_w, sizeof open_w, "<%s>", within);
    snprintf(close_w, sizeof close_w, "</%s>", within);
    snprintf(open_t, sizeof open_t, "<%s>", tag);
    snprintf(close_t, sizeof close_t, "</%s>", tag);
    while ((p = strstr(p, open_w)) != NULL) {
        const char *end = strstr(p, close_w), *a, *z;
        if (!end)
            break;
        a = strstr(p, open_t);
        if (a && a < end) {
            a += strlen(open_t);
            z = strstr(a, close_t);
            if (z && z < end) {
                if (*count == *cap) {
                    *cap = *cap ? *cap * 2 : 64;
                    *names = _ccopy_realloc(*names, *cap * sizeof **names);
                }
                (*names)[(*count)++] = xml_unescape(a, (size_t)(z - a));
            }
        }
        p = end + strlen(close_w);
    }
}

/* Every blob (or, with a delimiter, every virtual folder) under `prefix`, paging by marker. */
static int list_prefix(_ccopy_blob_sink_t *b, const char *prefix, int folders, char ***out,
                       size_t *out_count, ccopy_error_t *error)
{
    char **names = NULL, *marker = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;

    do {
        char *ep = _ccopy_http_encode(prefix, "/"), *em = marker ? _ccopy_http_encode(marker, "/") : NULL;
        char *query = _ccopy_strdup_printf("restype=container&comp=list&prefix=%s%s%s%s", ep,
                                           folders ? "&delimiter=%2F" : "", em ? "&marker=" : "",
                                           em ? em : "");
        _ccopy_blob_request_t req = {.method = "GET", .container = b->container, .query = query};
        _ccopy_http_response_t res = {.body_limit = 64 << 20};
        char *what = _ccopy_strdup_printf("listing azblob://%s/%s", b->container, prefix);
        rc = _ccopy_blob_small_send(b, &req, &res, what, error);
        if (rc == 0 && res.status != 200)
            rc = _ccopy_blob_error(&b->acct, &res, what, error);
        free(marker);
        marker = NULL;
        if (rc == 0 && res.body) {
            const char *m = strstr(res.body, "<NextMarker>");
            _ccopy_blob_xml_collect(res.body, folders ? "BlobPrefix" : "Blob", "Name", &names,
                                    &count, &cap);
            if (m) {
                const char *z = strstr(m, "</NextMarker>");
                m += strlen("<NextMarker>");
                if (z && z > m)
                    marker = xml_unescape(m, (size_t)(z - m));
            }
        }
        _ccopy_http_response_reset(&res);
        free(what);
        free(query);
        free(ep);
        free(em);
    } while (rc == 0 && marker);
    free(marker);
    if (rc != 0) {
        _ccopy_names_free(names, count);
        return rc;
    }
    *out = names;
    *out_count = count;
    return 0;
}

int _ccopy_blob_list(_ccopy_sink_t *sink, const char *db, const char *coll, const char *suffix,
                     char ***out_names, size_t *out_count, ccopy_error_t *error)
{
    _ccopy_blob_sink_t *b = sink->impl;
    char *prefix = _ccopy_blob_full_name(b, db, coll, NULL), **names = NULL;
    size_t count = 0, i, n = 0, plen = strlen(prefix), slen = strlen(suffix);
    int rc = list_prefix(b, prefix, 0, &names, &count, error);

    if (rc == 0) {
        for (i = 0; i < count; i++) {
            const char *rest = names[i] + plen;
            size_t rlen = strlen(rest);
            if (strncmp(names[i], prefix, plen) == 0 && !strchr(rest, '/') && rlen >= slen &&
                strcmp(rest + rlen - slen, suffix) == 0) {
                char *keep = _ccopy_strdup(rest);
                free(names[i]);
                names[n++] = keep;
            } else {
                free(names[i]);
            }
        }
        _ccopy_names_sort(names, n);
        *out_names = names;
        *out_count = n;
    }
    free(prefix);
    return rc;
}

int _ccopy_blob_list_groups(_ccopy_sink_t *sink, const char *db, char ***out_names,
                            size_t *out_count, ccopy_error_t *error)
{
    _ccopy_blob_sink_t *b = sink->impl;
    char *prefix = db ? _ccopy_blob_full_name(b, db, NULL, NULL)
                      : _ccopy_strdup_printf("%s%s", b->prefix, b->prefix[0] ? "/" : "");
    char **names = NULL;
    size_t count = 0, i, plen = strlen(prefix);
    int rc = list_prefix(b, prefix, 1, &names, &count, error);

    if (rc == 0) {
        for (i = 0; i < count; i++) {
            /* "prefix/db/" -> "db" */
            char *name = _ccopy_strdup(names[i] + (strncmp(names[i], prefix, plen) == 0 ? plen : 0));
            size_t n = strlen(name);
            if (n > 0 && name[n - 1] == '/')
                name[n - 1] = '\0';
            free(names[i]);
            names[i] = name;
        }
        _ccopy_sink_component_names(names, count);
        _ccopy_names_sort(names, count);
        *out_names = names;
        *out_count = count;
    }
    free(prefix);
    return rc;
}
