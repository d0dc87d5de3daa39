/* Error codes, names, message prefixes and the masking of secrets in every message. */
#include "common.h"
#include "harness.h"

static void masked(const char *input, const char *expected)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", input);
    _ccopy_mask_secrets(buf);
    CHECK_STR(buf, expected);
}

CCOPY_TEST(code_names)
{
    CHECK_STR(ccopy_code_name(CCOPY_OK), "OK");
    CHECK_STR(ccopy_code_name(CCOPY_EINVAL), "EINVAL");
    CHECK_STR(ccopy_code_name(CCOPY_ETHROTTLED), "ETHROTTLED");
    CHECK_STR(ccopy_code_name(CCOPY_EPARTIAL), "EPARTIAL");
    CHECK_STR(ccopy_code_name(CCOPY_EMISMATCH), "EMISMATCH");
    CHECK_STR(ccopy_code_name(CCOPY_EREJECTED), "EREJECTED");
    CHECK_STR(ccopy_code_name(-999), "EUNKNOWN");
    CHECK_STR(ccopy_domain_name(CCOPY_DOMAIN_MONGO), "mongo");
    CHECK_STR(ccopy_domain_name(99), "unknown");
}

CCOPY_TEST(error_set_fills_every_field)
{
    ccopy_error_t e;
    int rc = _ccopy_error_set(&e, CCOPY_EIO, CCOPY_DOMAIN_OS, 28, "cannot write %s", "/x/y");
    CHECK_INT(rc, CCOPY_EIO);
    CHECK_INT(e.code, CCOPY_EIO);
    CHECK_INT(e.domain, CCOPY_DOMAIN_OS);
    CHECK_INT(e.cause, 28);
    CHECK_STR(e.message, "cannot write /x/y");
    CHECK_INT(_ccopy_error_set(NULL, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "ignored"), CCOPY_EINVAL);
}

CCOPY_TEST(error_prefix_keeps_code)
{
    ccopy_error_t e;
    _ccopy_error_set(&e, CCOPY_ENETWORK, CCOPY_DOMAIN_MONGO, 6, "connection reset");
    _ccopy_error_prefix(&e, "window %s", "shop.orders");
    CHECK_STR(e.message, "window shop.orders: connection reset");
    CHECK_INT(e.code, CCOPY_ENETWORK);
    CHECK_INT(e.cause, 6);
}

CCOPY_TEST(error_message_truncates_safely)
{
    ccopy_error_t e;
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    _ccopy_error_set(&e, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0, "%s", big);
    CHECK_INT(strlen(e.message), CCOPY_ERROR_MESSAGE_SIZE - 1);
    _ccopy_error_prefix(&e, "prefix");
    CHECK_INT(strlen(e.message), CCOPY_ERROR_MESSAGE_SIZE - 1);
    CHECK(strncmp(e.message, "prefix: x", 9) == 0);
}

CCOPY_TEST(mask_uri_password)
{
    masked("mongodb://alice:s3cret@host:27017/db", "mongodb://alice:****@host:27017/db");
    masked("cannot parse mongodb://u:p%40ss@h1,h2/?ssl=true", "cannot parse mongodb://u:****@h1,h2/?ssl=true");
    masked("mongodb+srv://acct:KEY==@acct.mongo.cosmos.azure.com:10255/", "mongodb+srv://acct:****@acct.mongo.cosmos.azure.com:10255/");
}

CCOPY_TEST(mask_password_with_at_sign)
{
    masked("mongodb://bob:pa@ss@host/", "mongodb://bob:****@host/");
}

/* libmongoc takes a password with an unescaped '?', ',', quote or blank (it ends at the first '@'
 * before the first '/'); masking stopped at those characters and left the password in the
 * message (found by tests/fuzz/fuzz_mongo_uri). */
CCOPY_TEST(mask_password_with_query_comma_or_quote)
{
    masked("mongodb://u:pAss?w,rd@127.0.0.1/?x=1", "mongodb://u:****@127.0.0.1/?x=1");
    masked("mongodb://u:it's\"ok\"@h", "mongodb://u:****@h");
    masked("source \"mongodb://u:p?w,x@h:1\" is unreachable", "source \"mongodb://u:****@h:1\" is unreachable");
    masked("mongodb://h1:1,h2:2/?w=1 (user@example.com)", "mongodb://h1:1,h2:2/?w=1 (user@example.com)");
    /* blanks and line breaks too (found by fuzzing) */
    masked("mongodb://u:pass word@h/db", "mongodb://u:****@h/db");
    masked("mongodb://u:a\nb\tc@h", "mongodb://u:****@h");
}

/* libmongoc's other secret options: any option named ...password (the TLS key file's), and
 * authMechanismProperties, which may carry AWS_SESSION_TOKEN; they were left in messages and in
 * the command line that ps shows. */
CCOPY_TEST(mask_other_secret_uri_options)
{
    masked("mongodb://h/?tls=true&tlsCertificateKeyFilePassword=hunter2&x=1",
           "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=****&x=1");
    masked("mongodb://h/?sslPEMKeyPassword=hunter2", "mongodb://h/?sslPEMKeyPassword=****");
    masked("mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok",
           "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=****");
    /* not a key: left as it is */
    masked("passwords=none here; mypassword is not a key", "passwords=none here; mypassword is not a key");
    masked("mongodb://h/?passwordless=true", "mongodb://h/?passwordless=true");
}

CCOPY_TEST(mask_leaves_uri_without_password)
{
    masked("mongodb://127.0.0.1:27017/", "mongodb://127.0.0.1:27017/");
    masked("mongodb://user@host/", "mongodb://user@host/");
    masked("http://host:10000/devstoreaccount1", "http://host:10000/devstoreaccount1");
}

CCOPY_TEST(mask_key_value_secrets)
{
    masked("AccountName=dev;AccountKey=Eby8vdM02x==;EndpointSuffix=core", "AccountName=dev;AccountKey=****;EndpointSuffix=core");
    masked("https://a.blob.core.windows.net/c?sv=2021&sig=abc%2Bdef&se=x", "https://a.blob.core.windows.net/c?sv=2021&sig=****&se=x");
    masked("mongodb://h/?authSource=admin&password=hunter2", "mongodb://h/?authSource=admin&password=****");
    masked("BlobEndpoint=http://h/;SharedAccessSignature=sv=2021&sig=zzz;x=1", "BlobEndpoint=http://h/;SharedAccessSignature=****;x=1");
    /* found by fuzz_blob_account: a value after blanks or a quote was left in the clear, and
     * so was a value of quotes alone */
    masked("c?sv=1&sig= abc%2B&x=1", "c?sv=1&sig=****&x=1");
    masked("AccountKey='Eby8vdM0'", "AccountKey=****'");
    masked("BlobEndpoint \"h&sig=\" is not a URL", "BlobEndpoint \"h&sig=**** not a URL");
}

/* Found by fuzz_blob_account: the credentials of a URI without a '/' ran to an '@' inside a SAS
 * signature, so masking them took the "sig=" along and left the signature after the '@'. Both
 * rules mask what they find in the text as it was. */
CCOPY_TEST(mask_signature_holding_the_at_that_ends_uri_credentials)
{
    masked("http://127.0.0.1:10000?sv=1&sig=@c2lnbmF0dXJl%3D needs https",
           "http://127.0.0.1:**** needs https");
    masked("mongodb://u:pa&sig=xyz@host/db", "mongodb://u:****");
    masked("http://h:1?sig=abcdefgh&x=@y", "http://h:****@y");
}

CCOPY_TEST(mask_short_secret)
{
    masked("mongodb://u:p@h/", "mongodb://u:*@h/");
    masked("mongodb://u:pw@h/", "mongodb://u:**@h/");
}
