/*
 * Unit tests for blob.c, blob_auth.c and the lease rules of blob_lease.c: connection strings
 * and SAS URLs as Azure writes them, name encoding, Content-MD5, the Shared Key string-to-sign
 * (laid out field by field from the REST documentation), which answers are retried, and when a
 * writer's lease counts as held.
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
    /* a path-style endpoint (Azurite's): the account is the path's first segment, not "127" */
    CHECK_INT(_ccopy_blob_account_from_connection_string(
                  &a, "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;SharedAccessSignature=sv=1&sig=abc",
                  &e), 0);
    CHECK_STR(a.account, "devstoreaccount1");
    _ccopy_blob_account_cleanup(&a);
}

CCOPY_TEST(connection_string_errors_name_the_part_and_never_the_key)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "", &e), CCOPY_EINVAL);
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "DefaultEndpointsProtocol=http;AccountName=x", &e),
              CCOPY_EINVAL);
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

/* Found by tests/fuzz/fuzz_blob_account: a second '/' after the account of a path-style URL
 * made the container name empty. */
CCOPY_TEST(sas_url_path_style_with_doubled_slashes)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    char *container, *prefix;
    CHECK_INT(_ccopy_blob_account_from_sas_url(&a, "http://127.0.0.1:10000/devstoreaccount1//bk//p?sv=1&sig=2",
                                               &container, &prefix, &e), 0);
    CHECK_STR(a.account, "devstoreaccount1");
    CHECK_STR(container, "bk");
    CHECK_STR(prefix, "p");
    free(container);
    free(prefix);
    _ccopy_blob_account_cleanup(&a);
    CHECK_INT(_ccopy_blob_account_from_sas_url(&a, "http://127.0.0.1:10000/devstoreaccount1//?sv=1&sig=2",
                                               &container, &prefix, &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "names no container");
}

/* Found by tests/fuzz/fuzz_blob_headers: "Retry-After: 99999999999999999999" multiplied
 * LLONG_MAX by 1000 (signed overflow; the wait came out negative). */
CCOPY_TEST(retry_after_header_in_ms_of_any_size)
{
    CHECK_INT(_ccopy_http_retry_after_ms("2"), 2000);
    CHECK_INT(_ccopy_http_retry_after_ms("0"), 0);
    CHECK_INT(_ccopy_http_retry_after_ms("120"), 120000);
    CHECK_INT(_ccopy_http_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
    CHECK_INT(_ccopy_http_retry_after_ms("-5"), -1);
    CHECK_INT(_ccopy_http_retry_after_ms("9007199254740"), INT64_C(9007199254740000));
    CHECK_INT(_ccopy_http_retry_after_ms("9007199254741"), INT64_C(1) << 53);
    CHECK_INT(_ccopy_http_retry_after_ms("99999999999999999999"), INT64_C(1) << 53);
}

CCOPY_TEST(container_url_without_container_or_over_http_without_sas_is_refused)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    char *container, *prefix;
    CHECK_INT(_ccopy_blob_account_from_sas_url(&a, "https://acct.blob.core.windows.net/?sv=1", &container,
                                               &prefix, &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "no container");
    CHECK_INT(_ccopy_blob_account_from_sas_url(&a, "https://acct.blob.core.windows.net/", &container,
                                               &prefix, &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "no container");
    /* without a SAS the requests carry Entra ID tokens: never over plain http */
    CHECK_INT(_ccopy_blob_account_from_sas_url(&a, "http://127.0.0.1:10000/devstoreaccount1/bk",
                                               &container, &prefix, &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "need https");
}

CCOPY_TEST(container_url_without_sas_uses_entra_id)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    char *container, *prefix;
    CHECK_INT(_ccopy_blob_account_from_sas_url(&a, "https://acct.blob.core.windows.net/bk/nightly/",
                                               &container, &prefix, &e), 0);
    CHECK(a.entra_id);
    CHECK(a.sas == NULL);
    CHECK_INT((long long)a.key_len, 0);
    CHECK_STR(a.account, "acct");
    CHECK_STR(a.endpoint, "https://acct.blob.core.windows.net");
    CHECK_STR(container, "bk");
    CHECK_STR(prefix, "nightly");
    free(container);
    free(prefix);
    _ccopy_blob_account_cleanup(&a);
    /* path style (Azurite in its OAuth mode): the account is the first segment */
    CHECK_INT(_ccopy_blob_account_from_sas_url(&a, "https://127.0.0.1:10443/devstoreaccount1/bk",
                                               &container, &prefix, &e), 0);
    CHECK(a.entra_id);
    CHECK_STR(a.account, "devstoreaccount1");
    CHECK_STR(a.endpoint, "https://127.0.0.1:10443/devstoreaccount1");
    CHECK_STR(container, "bk");
    CHECK_STR(prefix, "");
    free(container);
    free(prefix);
    _ccopy_blob_account_cleanup(&a);
}

CCOPY_TEST(connection_string_without_key_or_sas_uses_entra_id_over_https_only)
{
    _ccopy_blob_account_t a;
    ccopy_error_t e;
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "AccountName=acct;EndpointSuffix=core.windows.net",
                                                         &e), 0);
    CHECK(a.entra_id);
    CHECK_STR(a.endpoint, "https://acct.blob.core.windows.net");
    _ccopy_blob_account_cleanup(&a);
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "BlobEndpoint=https://acct.blob.core.windows.net/;",
                                                         &e), 0);
    CHECK(a.entra_id);
    CHECK_STR(a.account, "acct");
    _ccopy_blob_account_cleanup(&a);
    CHECK_INT(_ccopy_blob_account_from_connection_string(
                  &a, "DefaultEndpointsProtocol=http;AccountName=acct", &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, "need https");
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "AccountName=acct;AccountKey=QUJD", &e), 0);
    CHECK(!a.entra_id);
    _ccopy_blob_account_cleanup(&a);
}

CCOPY_TEST(entra_id_requests_carry_a_bearer_token_or_say_why_not)
{
    /* no credential set up: the request is not prepared, and the error says so */
    _ccopy_blob_account_t a;
    _ccopy_blob_request_t req = {.method = "GET", .container = "c", .query = "restype=container"};
    _ccopy_http_response_t res = {0};
    _ccopy_http_body_cursor_t cursor;
    ccopy_error_t e;
    CURL *curl = curl_easy_init();
    CHECK_INT(_ccopy_blob_account_from_connection_string(&a, "BlobEndpoint=https://acct.blob.core.windows.net",
                                                         &e), 0);
    CHECK(_ccopy_blob_prepare(curl, &a, &req, &res, &cursor, 1000, &e) == NULL);
    CHECK_INT(e.code, CCOPY_EAUTH);
    CHECK_CONTAINS(e.message, "Blob Storage account acct");
    curl_easy_cleanup(curl);
    _ccopy_http_response_reset(&res);
    _ccopy_blob_account_cleanup(&a);
}

CCOPY_TEST(a_refused_token_is_named_with_what_blob_storage_said)
{
    _ccopy_blob_account_t a = {.account = "acct", .endpoint = "https://acct.blob.core.windows.net",
                               .entra_id = 1};
    _ccopy_http_response_t r = {.status = 403};
    ccopy_error_t e;
    strcpy(r.error_code, "AuthenticationFailed");
    r.body = "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><Message>Server failed "
             "to authenticate</Message><AuthenticationErrorDetail>Invalid token audience."
             "</AuthenticationErrorDetail></Error>";
    CHECK_INT(_ccopy_blob_error(&a, &r, "checking container c", &e), CCOPY_EAUTH);
    CHECK_STR(e.message, "checking container c: Blob Storage refused the Entra ID token for account "
                         "acct (403 AuthenticationFailed: Invalid token audience.)");
    strcpy(r.error_code, "AuthorizationPermissionMismatch");
    r.body = NULL;
    CHECK_INT(_ccopy_blob_error(&a, &r, "writing x", &e), CCOPY_EAUTH);
    CHECK_CONTAINS(e.message, "Storage Blob Data Contributor");
}

CCOPY_TEST(blob_names_are_percent_encoded_but_slashes)
{
    char *s = _ccopy_http_encode("shop/orders/a b+c=d~e.bson", "/");
    CHECK_STR(s, "shop/orders/a%20b%2Bc%3Dd~e.bson");
    free(s);
    s = _ccopy_http_encode("MDAwMDAwMDE=", "/");
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
    _ccopy_http_response_t r = {0};
    long retry[] = {408, 429, 500, 502, 503, 504}, never[] = {200, 201, 400, 403, 404, 409, 412, 501, 505};
    size_t i;
    for (i = 0; i < sizeof retry / sizeof retry[0]; i++) {
        r.status = retry[i];
        CHECK(_ccopy_http_retryable(&r));
    }
    for (i = 0; i < sizeof never / sizeof never[0]; i++) {
        r.status = never[i];
        CHECK(!_ccopy_http_retryable(&r));
    }
    r.status = 500;
    strcpy(r.error_code, "FeatureNotSupported");
    CHECK(!_ccopy_http_retryable(&r));
    r.status = 0;
    r.curl_code = CURLE_RECV_ERROR;
    CHECK(_ccopy_http_retryable(&r));
    r.curl_code = CURLE_COULDNT_RESOLVE_HOST;
    CHECK(!_ccopy_http_retryable(&r));
}

CCOPY_TEST(errors_say_what_failed_and_for_which_account)
{
    _ccopy_blob_account_t a = {.account = "acct", .endpoint = "https://acct.blob.core.windows.net",
                               .key_len = 64};
    _ccopy_http_response_t r = {.status = 403};
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

/* ---- the lease on a writer's lock ---------------------------------------------------------- */

CCOPY_TEST(lease_is_counted_held_12_s_from_the_try_that_took_it_and_renewed_after_5_s)
{
    /* Blob Storage keeps a 15 s lease for 15 s after it took the request, which is after the
     * try started: 3 s of those are kept back */
    CHECK_INT(_ccopy_blob_lease_deadline_ms(1000000), 1012000);
    CHECK_INT(_ccopy_blob_lease_renew_at_ms(1000000), 1005000);
    CHECK(_ccopy_blob_lease_deadline_ms(0) < (int64_t)CCOPY_BLOB_LEASE_SECONDS * 1000);
    /* several tries of a renewal fit between the renewal and the deadline */
    CHECK(_ccopy_blob_lease_deadline_ms(0) - _ccopy_blob_lease_renew_at_ms(0) >=
          2 * CCOPY_BLOB_LEASE_TRY_MS);
}

CCOPY_TEST(lease_try_gets_no_more_than_the_lease_has_left)
{
    int64_t deadline = _ccopy_blob_lease_deadline_ms(0); /* 12,000 */
    /* a renewal on time: 3 s, or less when the client's own timeout is shorter */
    CHECK_INT(_ccopy_blob_lease_try_timeout_ms(5000, deadline, 300000), 3000);
    CHECK_INT(_ccopy_blob_lease_try_timeout_ms(5000, deadline, 1200), 1200);
    CHECK_INT(_ccopy_blob_lease_try_timeout_ms(5000, deadline, 0), 3000);
    /* late tries: what is left, then nothing */
    CHECK_INT(_ccopy_blob_lease_try_timeout_ms(10500, deadline, 300000), 1500);
    CHECK_INT(_ccopy_blob_lease_try_timeout_ms(11999, deadline, 300000), 1);
    CHECK_INT(_ccopy_blob_lease_try_timeout_ms(12000, deadline, 300000), 0);
    CHECK_INT(_ccopy_blob_lease_try_timeout_ms(20000, deadline, 300000), 0);
}

CCOPY_TEST(lease_retry_heeds_retry_after_only_while_the_lease_leaves_a_try)
{
    int64_t deadline = 12000;
    CHECK_INT(_ccopy_blob_lease_retry_at_ms(6000, deadline, -1), 6500);
    CHECK_INT(_ccopy_blob_lease_retry_at_ms(6000, deadline, 0), 6500);
    CHECK_INT(_ccopy_blob_lease_retry_at_ms(6000, deadline, 2000), 8000);
    CHECK_INT(_ccopy_blob_lease_retry_at_ms(6000, deadline, 5500), 11500);
    /* a Retry-After that would leave no try before the deadline is not waited for */
    CHECK_INT(_ccopy_blob_lease_retry_at_ms(6000, deadline, 5600), 6500);
    CHECK_INT(_ccopy_blob_lease_retry_at_ms(6000, deadline, 30000), 6500);
}

CCOPY_TEST(lease_verdict_of_each_answer_to_a_renewal)
{
    _ccopy_http_response_t r = {0};
    long again[] = {408, 429, 500, 502, 503, 504}, lost[] = {400, 403, 404, 409, 412};
    size_t i;
    r.status = 200;
    CHECK_INT(_ccopy_blob_lease_verdict(&r), CCOPY_BLOB_LEASE_RENEWED);
    for (i = 0; i < sizeof again / sizeof again[0]; i++) {
        r.status = again[i];
        CHECK_INT(_ccopy_blob_lease_verdict(&r), CCOPY_BLOB_LEASE_TRY_AGAIN);
    }
    for (i = 0; i < sizeof lost / sizeof lost[0]; i++) {
        r.status = lost[i];
        CHECK_INT(_ccopy_blob_lease_verdict(&r), CCOPY_BLOB_LEASE_LOST);
    }
    /* 409 LeaseIdMismatchWithLeaseOperation, LeaseNotPresentWithLeaseOperation, LeaseLost... */
    r.status = 409;
    strcpy(r.error_code, "LeaseIdMismatchWithLeaseOperation");
    CHECK_INT(_ccopy_blob_lease_verdict(&r), CCOPY_BLOB_LEASE_LOST);
    /* no answer says nothing of the lease, whatever the connection's failure */
    r.status = 0;
    r.error_code[0] = '\0';
    r.curl_code = CURLE_OPERATION_TIMEDOUT;
    CHECK_INT(_ccopy_blob_lease_verdict(&r), CCOPY_BLOB_LEASE_TRY_AGAIN);
    r.curl_code = CURLE_COULDNT_RESOLVE_HOST;
    CHECK_INT(_ccopy_blob_lease_verdict(&r), CCOPY_BLOB_LEASE_TRY_AGAIN);
}

typedef struct guard_state {
    int calls;
    int refuse_at; /* the call that refuses */
    long timeouts[8];
} guard_state_t;

static int test_guard(void *user_data, long *timeout_ms, ccopy_error_t *error)
{
    guard_state_t *g = user_data;
    g->timeouts[g->calls < 8 ? g->calls : 7] = *timeout_ms;
    if (++g->calls == g->refuse_at)
        return _ccopy_error_set(error, CCOPY_EBUSY, CCOPY_DOMAIN_HTTP, 409, "the lease is gone");
    *timeout_ms = 250;
    return 0;
}

CCOPY_TEST(guard_is_asked_before_every_try_and_stops_the_request)
{
    /* nothing listens on port 1: every try fails to connect, which is worth retrying */
    _ccopy_blob_account_t a;
    _ccopy_blob_request_t req = {.method = "PUT", .container = "c", .blob = "b"};
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    _ccopy_blob_client_t client = {.http = {.backoff = {.max_retries = 2, .base_ms = 1, .cap_ms = 1},
                                            .timeout_ms = 60000, .rng = 1}};
    guard_state_t g = {0};
    ccopy_error_t e;
    CHECK_INT(_ccopy_blob_account_from_connection_string(
                  &a, "AccountName=devstoreaccount1;AccountKey=" DEV_KEY
                      ";BlobEndpoint=http://127.0.0.1:1/devstoreaccount1", &e), 0);
    client.acct = &a;
    client.http.curl = curl_easy_init();
    client.http.guard = test_guard;
    client.http.guard_data = &g;

    /* allowed every time: one call per try, the first try and two retries */
    CHECK_INT(_ccopy_blob_send(&client, &req, &res, "writing b", &e), CCOPY_ENETWORK);
    CHECK_INT(g.calls, 3);
    CHECK_INT(g.timeouts[0], 60000);
    CHECK(client.http.try_started_ms > 0);

    /* refused before the second try: the guard's error, not the connection's */
    g = (guard_state_t){.refuse_at = 2};
    CHECK_INT(_ccopy_blob_send(&client, &req, &res, "writing b", &e), CCOPY_EBUSY);
    CHECK_INT(g.calls, 2);
    CHECK_STR(e.message, "the lease is gone");
    CHECK_INT(res.status, 0);

    /* refused before the first: nothing is sent */
    g = (guard_state_t){.refuse_at = 1};
    client.http.try_started_ms = 0;
    CHECK_INT(_ccopy_blob_send(&client, &req, &res, "writing b", &e), CCOPY_EBUSY);
    CHECK_INT(g.calls, 1);
    CHECK_INT(client.http.try_started_ms, 0);
    _ccopy_http_response_reset(&res);
    curl_easy_cleanup(client.http.curl);
    _ccopy_blob_account_cleanup(&a);
}
