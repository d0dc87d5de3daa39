/*
 * Where a blob sink is: --blob-connection-string values and container URLs, with a SAS or
 * without one for Entra ID (--to, --from, --backup). The first byte picks the parser, the rest is the text. Any text parses or
 * fails with a message that never holds the AccountKey or the SAS signature; a parsed account
 * signs and addresses a request (built, never sent) without trouble.
 */
#include <curl/curl.h>

#include "blob.h"
#include "fuzz.h"
#include "sink.h"

/* The value after `key` where a parameter starts (the text's start, '?', '&' or ';'), after any
 * blanks or quotes, up to ';', '&', a blank, a quote or a line break, when it is long enough to
 * be told apart and occurs once in the text, else NULL. An account key or a SAS signature is
 * Base64, percent-encoded in a URL: it never holds a blank or a quote, and messages mask a
 * secret up to those so that the words after it stay readable. */
static char *secret_of(const char *text, const char *key)
{
    const char *p = text, *end;
    char *value;
    while ((p = strcasestr(p, key)) != NULL && p != text && !strchr("?&;", p[-1]))
        p++;
    if (!p)
        return NULL;
    p += strlen(key);
    p += strspn(p, " \t'\"");
    end = p + strcspn(p, ";& \t\n'\"");
    if (end - p < 8)
        return NULL;
    value = strndup(p, (size_t)(end - p));
    if (strstr(strstr(text, value) + 1, value)) {
        free(value);
        return NULL;
    }
    return value;
}

static void use_account(const _ccopy_blob_account_t *acct, const char *container, const char *prefix)
{
    static CURL *curl;
    _ccopy_blob_request_t req = {.method = "PUT", .container = container, .blob = prefix,
                                 .query = "comp=block&blockid=AAAA%3D%3D", .content_md5 = "x",
                                 .body = (const uint8_t *)"data", .body_len = 4};
    _ccopy_http_response_t res = {0};
    _ccopy_http_body_cursor_t cursor;
    struct curl_slist *headers;
    ccopy_error_t error;

    FUZZ_CHECK(acct->endpoint && acct->path_prefix && acct->account, "incomplete account");
    FUZZ_CHECK(strncmp(acct->endpoint, "http://", 7) == 0 || strncmp(acct->endpoint, "https://", 8) == 0,
               "endpoint %s", acct->endpoint);
    FUZZ_CHECK(strlen(acct->path_prefix) <= strlen(acct->endpoint) &&
                   strcmp(acct->endpoint + strlen(acct->endpoint) - strlen(acct->path_prefix),
                          acct->path_prefix) == 0,
               "path prefix %s is not the end of %s", acct->path_prefix, acct->endpoint);
    FUZZ_CHECK(acct->key_len > 0 || acct->sas || acct->entra_id, "neither key, SAS nor Entra ID");
    FUZZ_CHECK(!acct->entra_id || strncmp(acct->endpoint, "https://", 8) == 0,
               "Entra ID tokens over %s", acct->endpoint);
    memset(&error, 0, sizeof error);
    if (!curl)
        curl = curl_easy_init();
    /* an Entra ID account without credential settings is refused before anything is built */
    headers = _ccopy_blob_prepare(curl, acct, &req, &res, &cursor, 1000, &error);
    FUZZ_CHECK((headers != NULL) == !acct->entra_id, "prepared: %s", error.message);
    curl_slist_free_all(headers);
    _ccopy_http_response_reset(&res);
}

/* The message for the text with `secret` overwritten: when it still holds the secret's
 * characters, they come from the message's own words, not from the secret. */
static int secret_leaks(int which, const char *text, const char *secret, const char *message)
{
    char *other = strdup(text), *at = strstr(other, secret), *container = NULL, *prefix = NULL;
    _ccopy_blob_account_t acct;
    ccopy_error_t error;
    int leaks;

    if (!strstr(message, secret)) {
        free(other);
        return 0;
    }
    memset(at, strchr(secret, 'Q') ? 'W' : 'Q', strlen(secret));
    memset(&error, 0, sizeof error);
    if (which == 0 ? _ccopy_blob_account_from_connection_string(&acct, other, &error) == 0
                   : _ccopy_blob_account_from_sas_url(&acct, other, &container, &prefix, &error) == 0)
        _ccopy_blob_account_cleanup(&acct);
    leaks = !strstr(error.message, secret);
    free(container);
    free(prefix);
    free(other);
    return leaks;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    _ccopy_blob_account_t acct;
    ccopy_error_t error;
    char *text, *container = NULL, *prefix = NULL, *key, *sig;
    int which;

    if (size < 1)
        return 0;
    which = data[0] & 1;
    text = fuzz_text(data + 1, size - 1);
    memset(&error, 0, sizeof error);
    if (which == 0) {
        key = secret_of(text, "AccountKey=");
        sig = secret_of(text, "sig=");
        if (_ccopy_blob_account_from_connection_string(&acct, text, &error) == 0) {
            use_account(&acct, "container", "db/coll/x.bson");
            _ccopy_blob_account_cleanup(&acct);
        } else {
            FUZZ_CHECK(error.message[0], "no message");
        }
    } else {
        key = NULL;
        sig = secret_of(text, "sig=");
        /* what --to accepts before it reaches the parser */
        _ccopy_sink_check_location(text, &error);
        if (_ccopy_blob_account_from_sas_url(&acct, text, &container, &prefix, &error) == 0) {
            FUZZ_CHECK(container && *container && prefix, "no container");
            FUZZ_CHECK((acct.sas != NULL) != acct.entra_id && acct.key_len == 0, "no SAS");
            use_account(&acct, container, *prefix ? prefix : NULL);
            _ccopy_blob_account_cleanup(&acct);
        } else {
            FUZZ_CHECK(error.message[0] && !container && !prefix, "no message");
        }
    }
    FUZZ_CHECK(!key || !secret_leaks(which, text, key, error.message), "the AccountKey is in \"%s\"",
               error.message);
    FUZZ_CHECK(!sig || !secret_leaks(which, text, sig, error.message),
               "the SAS signature is in \"%s\"", error.message);
    free(key);
    free(sig);
    free(container);
    free(prefix);
    free(text);
    return 0;
}
