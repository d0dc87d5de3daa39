/*
 * Unit tests for blob.c: connection strings and SAS URLs as Azure writes them, name encoding,
 * Content-MD5, the Shared Key string-to-sign (laid out field by field from the REST
 * documentation), and which answers are retried.
 */
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "common.h"
#include "harness.h"

#define DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

CCOPY_TEST(connection_string_of_a_real_account)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    CHECK_INT(_ccopy_blob_account_from_connection_string(
                  &a, "DefaultEndpointsProtocol=https;AccountName=shopbackups;AccountKey=" DEV_KEY
                      ";EndpointSuffix=core.windows.net", &e), 0);
    CHECK_STR(a.endpoint, "https://shopbackups.blob.core.windows.net");
    CHECK_STR(a.path_prefix, "");
    CHECK_STR(a.account, "shopbackups");
    CHECK_INT((long long)a.key_len, 64);
    CHECK(a.sas == NULL);
    _ccopy_blob_account_cleanup(&a);
}

CCOPY_TEST(connection_string_for_development_storage)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "UseDevelopmentStorage=true", &e), 0);
    CHECK_STR(a.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
    CHECK_STR(a.path_prefix, "/devstoreaccount1");
    CHECK_STR(a.account, "devstoreaccount1");
    CHECK_INT((long long)a.key_len, 64);
    _ccopy_blob_account_cleanup(&a);
}

CCOPY_TEST(connection_string_blob_endpoint_wins_and_trailing_slash_goes)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    CHECK_INT(_ccopy_blob_account_from_connection_string(
                  &a, "AccountName=devstoreaccount1;AccountKey=" DEV_KEY
                      ";BlobEndpoint=http://127.0.0.1:10099/devstoreaccount1/;", &e), 0);
    CHECK_STR(a.endpoint, "http://127.0.0.1:10099/devstoreaccount1");
    CHECK_STR(a.path_prefix, "/devstoreaccount1");
    _ccopy_blob_account_cleanup(&a);
}

CCOPY_TEST(connection_string_with_a_sas_only)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    CHECK_INT(_ccopy_blob_account_from_connection_string(
                  &a, "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=2021-12-02&sig=abc",
                  &e), 0);
    CHECK_STR(a.account, "acct");
    CHECK_STR(a.sas, "sv=2021-12-02&sig=abc");
    CHECK_INT((long long)a.key_len, 0);
    _ccopy_blob_account_cleanup(&a);
}

CCOPY_TEST(connection_string_errors_name_the_part_and_never_the_key)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "", &e), CCOPY_EINVAL);
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "AccountName=x", &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "neither AccountKey nor SharedAccessSignature");
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "AccountName=x;AccountKey=sec*ret", &e),
              CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "not valid Base64");
    CHECK(strstr(e.message, "sec*ret") == NULL);
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "garbage", &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "no '='");
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "AccountKey=" DEV_KEY ";BlobEndpoint=ftp://h/x",
                                                         &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "not an http:// or https:// URL");
}

CCOPY_TEST(sas_url_of_a_real_account)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    char *container, *prefix;
    CHECK_INT(_ccopy_blob_account_from_sas_url(
                  &a, "https://acct.blob.core.windows.net/backups/nightly/shop/?sv=2021-12-02&sp=racwdl&sig=x%2By",
                  &container, &prefix, &e), 0);
    CHECK_STR(a.endpoint, "https://acct.blob.core.windows.net");
    CHECK_STR(a.path_prefix, "");
    CHECK_STR(a.account, "acct");
    CHECK_STR(container, "backups");
    CHECK_STR(prefix, "nightly/shop");
    CHECK_STR(a.sas, "sv=2021-12-02&sp=racwdl&sig=x%2By");
    free(container);
    free(prefix);
    _ccopy_blob_account_cleanup(&a);
}

CCOPY_TEST(sas_url_path_style_for_the_emulator)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    char *container, *prefix;
    CHECK_INT(_ccopy_blob_account_from_sas_url(&a, "http://127.0.0.1:10000/devstoreaccount1/bk?sv=1&sig=2",
                                               &container, &prefix, &e), 0);
    CHECK_STR(a.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
    CHECK_STR(a.path_prefix, "/devstoreaccount1");
    CHECK_STR(a.account, "devstoreaccount1");
    CHECK_STR(container, "bk");
    CHECK_STR(prefix, "");
    free(container);
    free(prefix);
    _ccopy_blob_account_cleanup(&a);
}

CCOPY_TEST(sas_url_without_sas_or_container_is_refused)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    char *container, *prefix;
    CHECK_INT(_ccopy_blob_account_from_sas_url(&a, "https://acct.blob.core.windows.net/bk", &container,
                                               &prefix, &e), CCOPY_EINVAL);
    CHECK_INT(_ccopy_blob_account_from_sas_url(&a, "https://acct.blob.core.windows.net/?sv=1", &container,
                                               &prefix, &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "no container");
}

CCOPY_TEST(blob_names_are_percent_encoded_but_slashes)
{
    char *s = _ccopy_blob_encode_name("shop/orders/a b+c=d~e.bson");
    CHECK_STR(s, "shop/orders/a%20b%2Bc%3Dd~e.bson");
    free(s);
    s = _ccopy_blob_encode_name("MDAwMDAwMDE=");
    CHECK_STR(s, "MDAwMDAwMDE%3D");
    free(s);
}

CCOPY_TEST(content_md5_is_base64_of_the_digest)
{
    char md5[32];
    _ccopy_md5_base64((const uint8_t *)"hello", 5, md5);
    CHECK_STR(md5, "XUFAKrxLKna5cZ2REBfFkg==");
    _ccopy_md5_base64((const uint8_t *)"", 0, md5);
    CHECK_STR(md5, "1B2M2Y8AsgTpgAmY7PhCfg==");
}

CCOPY_TEST(string_to_sign_of_a_put_block)
{
    _ccopy_blob_account_t a = {.account = "devstoreaccount1"};
    _ccopy_blob_request_t req = {.method = "PUT", .container = "bk", .blob = "db/c/x.bson",
                                 .query = "comp=block&blockid=MDAwMDAwMDA%3D",
                                 .content_md5 = "XUFAKrxLKna5cZ2REBfFkg==",
                                 .body = (const uint8_t *)"hello", .body_len = 5};
    char *sts = _ccopy_blob_string_to_sign(&a, &req, "Sat, 21 Nov 2026 14:00:00 GMT",
                                           "/devstoreaccount1/bk/db/c/x.bson");
    CHECK_STR(sts, "PUT\n"
                   "\n"                          /* Content-Encoding */
                   "\n"                          /* Content-Language */
                   "5\n"                         /* Content-Length */
                   "XUFAKrxLKna5cZ2REBfFkg==\n"  /* Content-MD5 */
                   "\n"                          /* Content-Type */
                   "\n"                          /* Date: x-ms-date is used */
                   "\n\n"                        /* If-Modified-Since, If-Match */
                   "\n"                          /* If-None-Match */
                   "\n\n"                        /* If-Unmodified-Since, Range */
                   "x-ms-date:Sat, 21 Nov 2026 14:00:00 GMT\n"
                   "x-ms-version:" CCOPY_BLOB_API_VERSION "\n"
                   "/devstoreaccount1/devstoreaccount1/bk/db/c/x.bson\n"
                   "blockid:MDAwMDAwMDA=\n"
                   "comp:block");
    free(sts);
}

CCOPY_TEST(string_to_sign_zero_length_is_empty_and_query_names_sorted)
{
    _ccopy_blob_account_t a = {.account = "acct"};
    _ccopy_blob_request_t req = {.method = "GET", .container = "bk",
                                 .query = "restype=container&comp=list&prefix=a%2Fb%2F&marker=",
                                 .xms = {"x-ms-client-request-id:42"}};
    char *sts = _ccopy_blob_string_to_sign(&a, &req, "D", "/bk");
    CHECK_STR(sts, "GET\n\n\n\n\n\n\n\n\n\n\n\n"
                   "x-ms-client-request-id:42\n"
                   "x-ms-date:D\n"
                   "x-ms-version:" CCOPY_BLOB_API_VERSION "\n"
                   "/acct/bk\n"
                   "comp:list\n"
                   "marker:\n"
                   "prefix:a/b/\n"
                   "restype:container");
    free(sts);
}

CCOPY_TEST(string_to_sign_carries_if_none_match_and_content_type)
{
    _ccopy_blob_account_t a = {.account = "acct"};
    _ccopy_blob_request_t req = {.method = "PUT", .container = "bk", .blob = "m.json",
                                 .content_type = "application/json", .if_none_match = "*",
                                 .xms = {"x-ms-blob-type:BlockBlob"},
                                 .body = (const uint8_t *)"{}", .body_len = 2};
    char *sts = _ccopy_blob_string_to_sign(&a, &req, "D", "/bk/m.json");
    CHECK_STR(sts, "PUT\n\n\n2\n\napplication/json\n\n\n\n*\n\n\n"
                   "x-ms-blob-type:BlockBlob\n"
                   "x-ms-date:D\n"
                   "x-ms-version:" CCOPY_BLOB_API_VERSION "\n"
                   "/acct/bk/m.json");
    free(sts);
}

CCOPY_TEST(which_answers_are_retried)
{
    _ccopy_blob_response_t r = {0};
    long retry[] = {408, 429, 500, 502, 503, 504}, never[] = {200, 201, 400, 403, 404, 409, 412, 501, 505};
    size_t i;
    for (i = 0; i < sizeof retry / sizeof retry[0]; i++) {
        r.status = retry[i];
        CHECK(_ccopy_blob_retryable(&r));
    }
    for (i = 0; i < sizeof never / sizeof never[0]; i++) {
        r.status = never[i];
        CHECK(!_ccopy_blob_retryable(&r));
    }
    r.status = 500;
    strcpy(r.error_code, "FeatureNotSupported");
    CHECK(!_ccopy_blob_retryable(&r));
    r.status = 0;
    r.curl_code = CURLE_RECV_ERROR;
    CHECK(_ccopy_blob_retryable(&r));
    r.curl_code = CURLE_COULDNT_RESOLVE_HOST;
    CHECK(!_ccopy_blob_retryable(&r));
}

CCOPY_TEST(errors_say_what_failed_and_for_which_account)
{
    _ccopy_blob_account_t a = {.account = "acct", .endpoint = "https://acct.blob.core.windows.net",
                               .key_len = 64};
    _ccopy_blob_response_t r = {.status = 403};
    ccopy_error_t e;
    strcpy(r.error_code, "AuthenticationFailed");
    CHECK_INT(_ccopy_blob_error(&a, &r, "writing x", &e), CCOPY_EAUTH);
    CHECK_CONTAINS(e.message, "authentication failed for account acct");
    a.key_len = 0;
    CHECK_INT(_ccopy_blob_error(&a, &r, "writing x", &e), CCOPY_EAUTH);
    CHECK_CONTAINS(e.message, "SAS");
    r.status = 404;
    CHECK_INT(_ccopy_blob_error(&a, &r, "reading y", &e), CCOPY_ENOTFOUND);
    r.status = 0;
    r.curl_code = CURLE_COULDNT_CONNECT;
    CHECK_INT(_ccopy_blob_error(&a, &r, "reading y", &e), CCOPY_ENETWORK);
    CHECK_CONTAINS(e.message, "https://acct.blob.core.windows.net");
}
