/*
 * Azure Blob Storage accounts and signatures (see blob.h): connection strings and container
 * URLs (with a SAS, or without one for Microsoft Entra ID), the Base64, MD5 and URL decoding
 * they use, and the Shared Key string-to-sign.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "blob.h"
#include "common.h"

#define DEV_ACCOUNT "devstoreaccount1"
#define DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

/* ---- encoding ----------------------------------------------------------------------------- */

char *_ccopy_base64(const unsigned char *data, size_t len)
{
    char *out = _ccopy_malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* Decode Base64 into out (at most cap bytes); -1 when malformed or too long. */
static long base64_decode(const char *text, unsigned char *out, size_t cap)
{
    size_t n = strlen(text), pad = 0;
    unsigned char *tmp;
    int got;
    if (n == 0 || n % 4 != 0)
        return -1;
    if (text[n - 1] == '=')
        pad++;
    if (n > 1 && text[n - 2] == '=')
        pad++;
    tmp = _ccopy_malloc(n / 4 * 3 + 1);
    got = EVP_DecodeBlock(tmp, (const unsigned char *)text, (int)n);
    if (got < 0 || (size_t)got - pad > cap) {
        free(tmp);
        return -1;
    }
    memcpy(out, tmp, (size_t)got - pad);
    free(tmp);
    return (long)((size_t)got - pad);
}

void _ccopy_md5_base64(const uint8_t *data, size_t len, char out[32])
{
    unsigned char digest[16];
    unsigned int dlen = 0;
    EVP_Digest(data, len, digest, &dlen, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)out, digest, 16);
}

static char *url_decode(const char *text, size_t len)
{
    char *out = _ccopy_malloc(len + 1);
    size_t i, o = 0;
    for (i = 0; i < len; i++) {
        if (text[i] == '%' && i + 2 < len && isxdigit((unsigned char)text[i + 1]) &&
            isxdigit((unsigned char)text[i + 2])) {
            char h[3] = {text[i + 1], text[i + 2], 0};
            out[o++] = (char)strtol(h, NULL, 16);
            i += 2;
        } else {
            out[o++] = text[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- accounts ----------------------------------------------------------------------------- */

void _ccopy_blob_account_cleanup(_ccopy_blob_account_t *acct)
{
    free(acct->endpoint);
    free(acct->path_prefix);
    free(acct->account);
    free(acct->sas);
    memset(acct, 0, sizeof *acct);
}

/* Whether a host (no port) is an IP address or localhost: Azurite's path-style URLs. */
static int path_style_host(const char *host, size_t len)
{
    size_t i;
    if (len == 9 && strncmp(host, "localhost", 9) == 0)
        return 1;
    for (i = 0; i < len; i++)
        if (!isdigit((unsigned char)host[i]) && host[i] != '.' && host[i] != ':' && host[i] != '[' &&
            host[i] != ']')
            return 0;
    return len > 0;
}

/* Split "scheme://host[:port]/path" into endpoint parts. *rest points after the host. */
static int split_url(const char *url, size_t *host_start, size_t *host_len, const char **rest)
{
    const char *p = strstr(url, "://"), *h, *end;
    if (!p || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
        return -1;
    h = p + 3;
    end = h + strcspn(h, "/?");
    *host_start = (size_t)(h - url);
    *host_len = (size_t)(end - h);
    *rest = end;
    return *host_len ? 0 : -1;
}

/* Endpoint and signed path prefix from a BlobEndpoint URL. */
static int set_endpoint(_ccopy_blob_account_t *acct, const char *endpoint, ccopy_error_t *error)
{
    size_t hs, hl, n = strlen(endpoint);
    const char *rest;
    if (split_url(endpoint, &hs, &hl, &rest) != 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "BlobEndpoint \"%s\" is not an http:// or https:// URL", endpoint);
    while (n > 0 && endpoint[n - 1] == '/')
        n--;
    free(acct->endpoint);
    acct->endpoint = _ccopy_malloc(n + 1);
    memcpy(acct->endpoint, endpoint, n);
    acct->endpoint[n] = '\0';
    free(acct->path_prefix);
    acct->path_prefix = _ccopy_strdup(acct->endpoint + (rest - endpoint));
    return 0;
}

int _ccopy_blob_account_from_connection_string(_ccopy_blob_account_t *acct, const char *text,
                                               ccopy_error_t *error)
{
    char *copy, *item, *save = NULL;
    char *protocol = NULL, *name = NULL, *key = NULL, *suffix = NULL, *endpoint = NULL, *sas = NULL;
    int dev = 0, rc = 0;

    memset(acct, 0, sizeof *acct);
    if (!text || !*text)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "the blob connection string is empty");
    copy = _ccopy_strdup(text);
    for (item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(item, '=');
        while (*item == ' ')
            item++;
        if (!*item)
            continue;
        if (!eq) {
            rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                  "malformed blob connection string: a part has no '=' (expected "
                                  "Name=value;Name=value)");
            break;
        }
        *eq = '\0';
        if (strcasecmp(item, "DefaultEndpointsProtocol") == 0)
            protocol = eq + 1;
        else if (strcasecmp(item, "AccountName") == 0)
            name = eq + 1;
        else if (strcasecmp(item, "AccountKey") == 0)
            key = eq + 1;
        else if (strcasecmp(item, "EndpointSuffix") == 0)
            suffix = eq + 1;
        else if (strcasecmp(item, "BlobEndpoint") == 0)
            endpoint = eq + 1;
        else if (strcasecmp(item, "SharedAccessSignature") == 0)
            sas = eq + 1;
        else if (strcasecmp(item, "UseDevelopmentStorage") == 0)
            dev = strcasecmp(eq + 1, "true") == 0;
        /* QueueEndpoint, TableEndpoint, FileEndpoint ... do not concern blobs */
    }
    if (rc == 0 && dev) {
        name = name ? name : DEV_ACCOUNT;
        key = key ? key : DEV_KEY;
        endpoint = endpoint ? endpoint : "http://127.0.0.1:10000/" DEV_ACCOUNT;
    }
    if (rc == 0 && !name && !endpoint)
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                              "malformed blob connection string: no AccountName (or BlobEndpoint)");
    if (rc == 0 && key) {
        long n = base64_decode(key, acct->key, sizeof acct->key);
        if (n <= 0)
            rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                  "the AccountKey of the blob connection string is not valid Base64");
        else
            acct->key_len = (size_t)n;
    }
    if (rc == 0 && sas && !key)
        acct->sas = _ccopy_strdup(sas[0] == '?' ? sas + 1 : sas);
    if (rc == 0) {
        if (endpoint) {
            rc = set_endpoint(acct, endpoint, error);
        } else {
            char *url = _ccopy_strdup_printf("%s://%s.blob.%s", protocol ? protocol : "https", name,
                                             suffix ? suffix : "core.windows.net");
            rc = set_endpoint(acct, url, error);
            free(url);
        }
    }
    if (rc == 0 && !key && !sas) {
        /* neither: Microsoft Entra ID, whose tokens never travel over plain http */
        acct->entra_id = 1;
        if (strncmp(acct->endpoint, "https://", 8) != 0)
            rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                  "the blob connection string has neither AccountKey nor "
                                  "SharedAccessSignature, so Microsoft Entra ID tokens would be sent, "
                                  "and they need https: %s is not (DefaultEndpointsProtocol=https)",
                                  acct->endpoint);
    }
    if (rc == 0) {
        if (name) {
            acct->account = _ccopy_strdup(name);
        } else {
            /* no AccountName: the first label of the host (acct.blob.core.windows.net), or,
             * for a path-style endpoint (an IP address or localhost, Azurite's
             * http://127.0.0.1:10000/devstoreaccount1), the first segment of its path */
            size_t hs, hl, host_len;
            const char *rest;
            split_url(acct->endpoint, &hs, &hl, &rest);
            host_len = strcspn(acct->endpoint + hs, ":/");
            if (host_len > hl)
                host_len = hl;
            while (*rest == '/')
                rest++;
            if (path_style_host(acct->endpoint + hs, host_len) && *rest)
                acct->account = _ccopy_strndup(rest, strcspn(rest, "/"));
            else
                acct->account = _ccopy_strndup(acct->endpoint + hs,
                                               strcspn(acct->endpoint + hs, ".:/"));
        }
    }
    free(copy);
    if (rc != 0)
        _ccopy_blob_account_cleanup(acct);
    return rc;
}

int _ccopy_blob_account_from_sas_url(_ccopy_blob_account_t *acct, const char *url, char **container,
                                     char **prefix, ccopy_error_t *error)
{
    size_t hs, hl;
    const char *rest, *q = strchr(url, '?'), *path;
    char *endpoint, *segs, *p;
    int path_style;

    memset(acct, 0, sizeof *acct);
    *container = *prefix = NULL;
    if (split_url(url, &hs, &hl, &rest) != 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "destination URL is not a blob container URL "
                                "(https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX], with a "
                                "SAS ?sv=... or without one for Microsoft Entra ID)");
    if (q && !q[1])
        q = NULL; /* a bare '?': no SAS */
    if (!q && strncmp(url, "https://", 8) != 0)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "a container URL without a SAS uses Microsoft Entra ID tokens, "
                                "which need https: give an https:// URL, or one with its SAS");
    path_style = path_style_host(url + hs, strcspn(url + hs, ":/?") < hl ? strcspn(url + hs, ":/?") : hl);
    path = rest;
    segs = _ccopy_strndup(path, q ? (size_t)(q - path) : strlen(path));
    p = segs;
    while (*p == '/')
        p++;
    if (path_style) {
        char *slash = strchr(p, '/');
        if (!slash) {
            free(segs);
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "destination URL names no container (expected "
                                    "http://HOST:PORT/ACCOUNT/CONTAINER[/PREFIX]?sv=...)");
        }
        acct->account = _ccopy_strndup(p, (size_t)(slash - p));
        p = slash + 1;
        while (*p == '/')
            p++;
        endpoint = _ccopy_strdup_printf("%.*s/%s", (int)(hs + hl), url, acct->account);
    } else {
        acct->account = _ccopy_strndup(url + hs, strcspn(url + hs, ".:/"));
        endpoint = _ccopy_strndup(url, hs + hl);
    }
    if (!*p) {
        free(segs);
        free(endpoint);
        _ccopy_blob_account_cleanup(acct);
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "destination URL names no container");
    }
    if (q && strncmp(q + 1, "sig=", 4) != 0 && !strstr(q, "&sig=")) {
        free(segs);
        free(endpoint);
        _ccopy_blob_account_cleanup(acct);
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "the SAS of the container URL has no signature (no sig parameter): "
                                "give the whole URL with its SAS, as the portal shows it");
    }
    *container = _ccopy_strndup(p, strcspn(p, "/"));
    p += strlen(*container);
    while (*p == '/')
        p++;
    *prefix = url_decode(p, strlen(p));
    {
        size_t n = strlen(*prefix);
        while (n > 0 && (*prefix)[n - 1] == '/')
            (*prefix)[--n] = '\0';
    }
    set_endpoint(acct, endpoint, error);
    free(endpoint);
    free(segs);
    if (q)
        acct->sas = _ccopy_strdup(q + 1);
    else
        acct->entra_id = 1;
    return 0;
}

/* ---- signing ------------------------------------------------------------------------------ */

typedef struct qparam {
    char *name, *value;
} qparam_t;

static int qparam_order(const void *a, const void *b)
{
    const qparam_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static int xms_order(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void append(char **buf, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = _ccopy_realloc(*buf, *cap);
    }
    memcpy(*buf + *len, text, n + 1);
    *len += n;
}

char *_ccopy_blob_string_to_sign(const _ccopy_blob_account_t *acct, const _ccopy_blob_request_t *req,
                                 const char *x_ms_date, const char *encoded_path)
{
    char *s = NULL, length[32] = "";
    size_t len = 0, cap = 0, nx = 0, nq = 0, i;
    const char *xms[16];
    qparam_t params[16];
    char date_header[80], version_header[64];

    append(&s, &len, &cap, req->method);
    append(&s, &len, &cap, "\n\n\n"); /* Content-Encoding, Content-Language */
    if (req->body_len > 0)
        snprintf(length, sizeof length, "%zu", req->body_len);
    append(&s, &len, &cap, length);
    append(&s, &len, &cap, "\n");
    append(&s, &len, &cap, req->content_md5 ? req->content_md5 : "");
    append(&s, &len, &cap, "\n");
    append(&s, &len, &cap, req->content_type ? req->content_type : "");
    append(&s, &len, &cap, "\n\n\n"); /* Date (x-ms-date is used), If-Modified-Since */
    append(&s, &len, &cap, req->if_match ? req->if_match : "");
    append(&s, &len, &cap, "\n");
    append(&s, &len, &cap, req->if_none_match ? req->if_none_match : "");
    append(&s, &len, &cap, "\n\n\n"); /* If-Unmodified-Since, Range */

    snprintf(date_header, sizeof date_header, "x-ms-date:%s", x_ms_date);
    snprintf(version_header, sizeof version_header, "x-ms-version:%s", CCOPY_BLOB_API_VERSION);
    xms[nx++] = date_header;
    xms[nx++] = version_header;
    for (i = 0; i < 8 && req->xms[i]; i++)
        xms[nx++] = req->xms[i];
    qsort(xms, nx, sizeof xms[0], xms_order);
    for (i = 0; i < nx; i++) {
        append(&s, &len, &cap, xms[i]);
        append(&s, &len, &cap, "\n");
    }

    append(&s, &len, &cap, "/");
    append(&s, &len, &cap, acct->account);
    append(&s, &len, &cap, encoded_path);
    if (req->query && *req->query) {
        char *copy = _ccopy_strdup(req->query), *item, *save = NULL;
        for (item = strtok_r(copy, "&", &save); item && nq < 16; item = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(item, '=');
            size_t nlen = eq ? (size_t)(eq - item) : strlen(item);
            char *name = url_decode(item, nlen), *p;
            for (p = name; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            params[nq].name = name;
            params[nq].value = eq ? url_decode(eq + 1, strlen(eq + 1)) : _ccopy_strdup("");
            nq++;
        }
        free(copy);
        qsort(params, nq, sizeof params[0], qparam_order);
        for (i = 0; i < nq; i++) {
            /* several values of one name: sorted and comma-joined after one name */
            if (i == 0 || strcmp(params[i].name, params[i - 1].name) != 0) {
                append(&s, &len, &cap, "\n");
                append(&s, &len, &cap, params[i].name);
                append(&s, &len, &cap, ":");
            } else {
                append(&s, &len, &cap, ",");
            }
            append(&s, &len, &cap, params[i].value);
        }
        for (i = 0; i < nq; i++) {
            free(params[i].name);
            free(params[i].value);
        }
    }
    return s;
}
