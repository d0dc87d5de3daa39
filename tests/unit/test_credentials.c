/* Key Vault references, WWW-Authenticate challenges, token answers, where tokens come from, and
 * the masking of secrets known by their value (credentials/). Nothing here is sent anywhere. */
#include <stdlib.h>

#include "common.h"
#include "cosmocopy/credentials.h"
#include "credentials.h"
#include "harness.h"
#include "keyvault.h"
#include "token.h"

/* ---- references ---------------------------------------------------------------------------- */

static void ref_ok(const char *text, const char *url, const char *host, const char *name,
                   const char *version)
{
    _ccopy_keyvault_ref_t ref;
    ccopy_error_t e = {0};
    CHECK_INT(_ccopy_keyvault_ref_parse(&ref, text, &e), 0);
    if (e.message[0])
        fprintf(stderr, "%s: %s\n", text, e.message);
    CHECK_STR(ref.vault_url, url);
    CHECK_STR(ref.host, host);
    CHECK_STR(ref.name, name);
    if (version)
        CHECK_STR(ref.version, version);
    else
        CHECK(ref.version == NULL);
    _ccopy_keyvault_ref_cleanup(&ref);
}

static void ref_bad(const char *text, const char *why)
{
    _ccopy_keyvault_ref_t ref;
    ccopy_error_t e;
    CHECK_INT(_ccopy_keyvault_ref_parse(&ref, text, &e), CCOPY_EINVAL);
    CHECK_CONTAINS(e.message, why);
    CHECK(ref.vault_url == NULL && ref.name == NULL);
}

CCOPY_TEST(kv_references_name_a_vault_by_name_or_host)
{
    ref_ok("kv://myvault/src-conn", "https://myvault.vault.azure.net", "myvault.vault.azure.net",
           "src-conn", NULL);
    ref_ok("kv://myvault/src-conn/", "https://myvault.vault.azure.net", "myvault.vault.azure.net",
           "src-conn", NULL);
    ref_ok("kv://myvault/src-conn/0123456789abcdef0123456789abcdef", "https://myvault.vault.azure.net",
           "myvault.vault.azure.net", "src-conn", "0123456789abcdef0123456789abcdef");
    ref_ok("kv://127.0.0.1:8443/src", "https://127.0.0.1:8443", "127.0.0.1:8443", "src", NULL);
    ref_ok("kv://vault.example.org/src/v2", "https://vault.example.org", "vault.example.org", "src",
           "v2");
    ref_ok("KV://myvault/src", "https://myvault.vault.azure.net", "myvault.vault.azure.net", "src",
           NULL);
}

CCOPY_TEST(secret_urls_are_references)
{
    ref_ok("https://myvault.vault.azure.net/secrets/src-conn", "https://myvault.vault.azure.net",
           "myvault.vault.azure.net", "src-conn", NULL);
    ref_ok("https://myvault.vault.azure.net/secrets/src-conn/", "https://myvault.vault.azure.net",
           "myvault.vault.azure.net", "src-conn", NULL);
    ref_ok("https://myvault.vault.azure.net/secrets/src-conn/abc123?api-version=7.4",
           "https://myvault.vault.azure.net", "myvault.vault.azure.net", "src-conn", "abc123");
    ref_ok("https://127.0.0.1:43123/secrets/dst", "https://127.0.0.1:43123", "127.0.0.1:43123", "dst",
           NULL);
    ref_ok("kv://[::1]:8443/dst", "https://[::1]:8443", "[::1]:8443", "dst", NULL);
    ref_ok("kv://127.0.0.1:65535/dst", "https://127.0.0.1:65535", "127.0.0.1:65535", "dst", NULL);
}

CCOPY_TEST(malformed_references_say_what_is_wrong)
{
    ref_bad("kv://", "names no vault");
    ref_bad("kv:///src", "names no vault");
    ref_bad("kv://myvault", "names no secret");
    ref_bad("kv://myvault/", "names no secret");
    ref_bad("kv://my_vault/src", "a vault name has letters, digits and '-'");
    ref_bad("kv://myvault/src_conn", "a secret name has 1 to 127 letters, digits and '-'");
    ref_bad("kv://myvault/src/v1/more", "has more after the secret's version");
    ref_bad("kv://myvault/src/v-1", "a secret version is letters and digits");
    ref_bad("kv://user@host.example/src", "not a host[:port]");
    /* a port out of range, empty or doubled: found when the job is made, not when it reads */
    ref_bad("kv://127.0.0.1:99999/src", "not a host[:port]");
    ref_bad("kv://127.0.0.1:0/src", "not a host[:port]");
    ref_bad("kv://127.0.0.1:/src", "not a host[:port]");
    ref_bad("kv://a:1:2/src", "not a host[:port]");
    ref_bad("kv://[::1]x/src", "not a host[:port]");
    ref_bad("kv://[]:80/src", "not a host[:port]");
    ref_bad("https://h.example:70000/secrets/s", "names no vault host");
    ref_bad("https://myvault.vault.azure.net/keys/k", "is not a Key Vault secret URL");
    ref_bad("https://myvault.vault.azure.net/", "is not a Key Vault secret URL");
    ref_bad("https:///secrets/x", "names no vault host");
    ref_bad("https://myvault.vault.azure.net/secrets/", "names no secret");
    ref_bad("mongodb://host/", "is not a Key Vault reference");
}

CCOPY_TEST(what_counts_as_a_reference_and_option_checks)
{
    ccopy_error_t e;
    CHECK(_ccopy_keyvault_is_reference("kv://v/s"));
    CHECK(_ccopy_keyvault_is_reference("https://v.vault.azure.net/secrets/s"));
    CHECK(!_ccopy_keyvault_is_reference("mongodb://u:p@h/"));
    CHECK(!_ccopy_keyvault_is_reference("AccountName=a;AccountKey=QUJD"));
    CHECK(!_ccopy_keyvault_is_reference(NULL));
    CHECK(ccopy_keyvault_is_reference("kv://v/s"));
    CHECK_INT(_ccopy_keyvault_check("source", "mongodb://h/", &e), 0);
    CHECK_INT(_ccopy_keyvault_check("source", NULL, &e), 0);
    CHECK_INT(_ccopy_keyvault_check("source", "kv://v/s", &e), 0);
    CHECK_INT(_ccopy_keyvault_check("target", "kv://v", &e), CCOPY_EINVAL);
    CHECK_STR(e.message, "option target: Key Vault reference \"kv://v\" names no secret (expected "
                         "kv://VAULT/SECRET[/VERSION] or "
                         "https://VAULT.vault.azure.net/secrets/SECRET[/VERSION])");
}

CCOPY_TEST(resolving_a_plain_connection_string_reads_nothing)
{
    _ccopy_credential_settings_t s;
    char *out = (char *)"untouched";
    ccopy_error_t e;
    _ccopy_credential_settings_default(&s);
    CHECK_INT(_ccopy_keyvault_resolve(&out, "source", "mongodb://127.0.0.1/", &s, &e), 0);
    CHECK(out == NULL);
    CHECK_INT(_ccopy_keyvault_resolve(&out, "source", "kv://bad_vault/x", &s, &e), CCOPY_EINVAL);
    CHECK(out == NULL);
    CHECK_CONTAINS(e.message, "option source: Key Vault reference");
}

/* ---- challenges ---------------------------------------------------------------------------- */

static void challenge_ok(const char *header, const char *authority, const char *tenant,
                         const char *scope)
{
    _ccopy_challenge_t c;
    CHECK_INT(_ccopy_challenge_parse(&c, header), 0);
    if (authority)
        CHECK_STR(c.authority, authority);
    else
        CHECK(c.authority == NULL);
    if (tenant)
        CHECK_STR(c.tenant, tenant);
    else
        CHECK(c.tenant == NULL);
    CHECK_STR(c.scope, scope);
    _ccopy_challenge_cleanup(&c);
}

CCOPY_TEST(key_vault_challenges_give_the_scope_and_tenant)
{
    challenge_ok("Bearer authorization=\"https://login.microsoftonline.com/72f988bf-86f1\", "
                 "resource=\"https://vault.azure.net\"",
                 "https://login.microsoftonline.com/72f988bf-86f1", "72f988bf-86f1",
                 "https://vault.azure.net/.default");
    /* Lowkey Vault's spelling, the resource with a trailing slash */
    challenge_ok("Bearer resource=\"https://127.0.0.1:8443/\", authorization_uri=\"https://127.0.0.1:8443/t1/x\"",
                 "https://127.0.0.1:8443/t1/x", "t1", "https://127.0.0.1:8443/.default");
    /* a scope wins over a resource; unquoted values; odd spacing and case */
    challenge_ok("bearer  Scope=https://vault.azure.net/.default ,resource=\"https://other\"", NULL,
                 NULL, "https://vault.azure.net/.default");
    /* Blob Storage's form: resource_id, and an authority whose first segment is the tenant */
    challenge_ok("Bearer authorization_uri=https://login.microsoftonline.com/tid/oauth2/authorize "
                 "resource_id=https://storage.azure.com",
                 "https://login.microsoftonline.com/tid/oauth2/authorize", "tid",
                 "https://storage.azure.com/.default");
    /* escapes inside quotes */
    challenge_ok("Bearer resource=\"https://vault.azure.net\\\\\", authorization=\"\\\"a\\\"\"",
                 "\"a\"", NULL, "https://vault.azure.net\\/.default");
}

CCOPY_TEST(what_is_not_a_bearer_challenge_is_refused)
{
    _ccopy_challenge_t c;
    CHECK_INT(_ccopy_challenge_parse(&c, NULL), -1);
    CHECK_INT(_ccopy_challenge_parse(&c, ""), -1);
    CHECK_INT(_ccopy_challenge_parse(&c, "Basic realm=\"x\""), -1);
    CHECK_INT(_ccopy_challenge_parse(&c, "BearerX resource=\"https://vault.azure.net\""), -1);
    CHECK_INT(_ccopy_challenge_parse(&c, "Bearer authorization=\"https://login/t\""), -1);
    CHECK_INT(_ccopy_challenge_parse(&c, "Bearer resource=\"\""), -1);
    CHECK_INT(_ccopy_challenge_parse(&c, "Bearer resource=\"https://vault.azure.net"), 0);
    _ccopy_challenge_cleanup(&c);
}

CCOPY_TEST(a_vault_is_only_sent_tokens_for_key_vault)
{
    CHECK(_ccopy_challenge_scope_allowed("myvault.vault.azure.net", "https://vault.azure.net/.default"));
    CHECK(_ccopy_challenge_scope_allowed("MyVault.Vault.Azure.Net:443", "https://vault.azure.net/.default"));
    CHECK(_ccopy_challenge_scope_allowed("v.vault.azure.cn", "https://vault.azure.cn/.default"));
    CHECK(_ccopy_challenge_scope_allowed("hsm.managedhsm.azure.net", "https://managedhsm.azure.net/.default"));
    /* a test server on loopback, and a vault that is its own resource */
    CHECK(_ccopy_challenge_scope_allowed("127.0.0.1:43123", "https://vault.azure.net/.default"));
    CHECK(_ccopy_challenge_scope_allowed("127.0.0.1:8443", "https://127.0.0.1:8443/.default"));
    /* never a token for another service, nor a vault of another cloud */
    CHECK(!_ccopy_challenge_scope_allowed("myvault.vault.azure.net", "https://management.azure.com/.default"));
    CHECK(!_ccopy_challenge_scope_allowed("myvault.vault.azure.net", "https://storage.azure.com/.default"));
    CHECK(!_ccopy_challenge_scope_allowed("127.0.0.1:1", "https://graph.microsoft.com/.default"));
    CHECK(!_ccopy_challenge_scope_allowed("myvault.vault.azure.net", "https://vault.azure.cn/.default"));
    CHECK(!_ccopy_challenge_scope_allowed("myvault.vault.azure.net", "http://vault.azure.net/.default"));
}

/* ---- token answers ------------------------------------------------------------------------- */

CCOPY_TEST(token_answers_give_expiry_as_numbers_or_strings)
{
    _ccopy_token_t t;
    ccopy_error_t e;
    const char *entra = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
                        "\"access_token\":\"eyJ0eXAi.eyJhdWQi.sig\"}";
    const char *imds = "{\"access_token\":\"abc\",\"refresh_token\":\"\",\"expires_in\":\"86399\","
                       "\"expires_on\":\"1800086399\",\"not_before\":\"1800000000\","
                       "\"resource\":\"https://vault.azure.net\",\"token_type\":\"Bearer\"}";
    const char *lowkey = "{\"access_token\":\"abc\",\"expires_on\":1800003600,\"expires_in\":3600}";
    CHECK_INT(_ccopy_token_parse(&t, entra, strlen(entra), 1800000000, &e), 0);
    CHECK_STR(t.access_token, "eyJ0eXAi.eyJhdWQi.sig");
    CHECK_INT(t.expires_at, 1800003599);
    CHECK_INT(t.obtained_at, 1800000000);
    free(t.access_token);
    CHECK_INT(_ccopy_token_parse(&t, imds, strlen(imds), 1800000000, &e), 0);
    CHECK_INT(t.expires_at, 1800086399);
    free(t.access_token);
    CHECK_INT(_ccopy_token_parse(&t, lowkey, strlen(lowkey), 1800000000, &e), 0);
    CHECK_INT(t.expires_at, 1800003600);
    free(t.access_token);
    /* neither: a short life is assumed, so it is asked again soon */
    CHECK_INT(_ccopy_token_parse(&t, "{\"access_token\":\"abc\"}", 22, 1800000000, &e), 0);
    CHECK_INT(t.expires_at, 1800000600);
    free(t.access_token);
    /* an expires_on in the past (or a date string) falls back to expires_in */
    {
        const char *old = "{\"access_token\":\"abc\",\"expires_on\":\"09/14/2017 00:00:00 PM +00:00\","
                          "\"expires_in\":\"600\"}";
        CHECK_INT(_ccopy_token_parse(&t, old, strlen(old), 1800000000, &e), 0);
        CHECK_INT(t.expires_at, 1800000600);
        free(t.access_token);
    }
}

CCOPY_TEST(token_answers_without_a_usable_token_are_refused)
{
    _ccopy_token_t t;
    ccopy_error_t e;
    CHECK_INT(_ccopy_token_parse(&t, "not json", 8, 0, &e), CCOPY_EAUTH);
    CHECK_CONTAINS(e.message, "not a JSON object");
    CHECK_INT(_ccopy_token_parse(&t, "{\"expires_in\":1}", 16, 0, &e), CCOPY_EAUTH);
    CHECK_CONTAINS(e.message, "no usable access_token");
    /* a token that would break the header it goes into */
    CHECK_INT(_ccopy_token_parse(&t, "{\"access_token\":\"a\\r\\nX-Evil: 1\"}", 33, 0, &e), CCOPY_EAUTH);
    CHECK_INT(_ccopy_token_parse(&t, "{\"access_token\":\"\"}", 19, 0, &e), CCOPY_EAUTH);
    CHECK_INT(_ccopy_token_parse(&t, "{\"access_token\":7}", 18, 0, &e), CCOPY_EAUTH);
    CHECK(t.access_token == NULL);
}

CCOPY_TEST(tokens_are_renewed_5_minutes_before_expiry_or_at_half_life)
{
    CHECK_INT(_ccopy_token_refresh_at(1000, 1000 + 3599), 1000 + 3599 - 300);
    CHECK_INT(_ccopy_token_refresh_at(1000, 1000 + 86399), 1000 + 86399 - 300);
    CHECK_INT(_ccopy_token_refresh_at(1000, 1000 + 600), 1000 + 300);
    CHECK_INT(_ccopy_token_refresh_at(1000, 1000 + 599), 1000 + 299);
    CHECK_INT(_ccopy_token_refresh_at(1000, 1000 + 60), 1000 + 30);
    CHECK_INT(_ccopy_token_refresh_at(1000, 900), 1000);
}

CCOPY_TEST(json_numbers_are_read_from_numbers_or_digit_strings)
{
    bson_t doc;
    int64_t v = -1;
    const char *text = "{\"a\":5,\"b\":\"17\",\"c\":\"x1\",\"d\":2.5,\"e\":{\"f\":\"9\"},\"g\":-3.0,"
                       "\"h\":\"\",\"i\":\"99999999999999999999\"}";
    CHECK_INT(_ccopy_json_parse(&doc, text, strlen(text)), 0);
    CHECK_INT(_ccopy_json_int(&doc, "a", &v), 0);
    CHECK_INT(v, 5);
    CHECK_INT(_ccopy_json_int(&doc, "b", &v), 0);
    CHECK_INT(v, 17);
    CHECK_INT(_ccopy_json_int(&doc, "c", &v), -1);
    CHECK_INT(_ccopy_json_int(&doc, "d", &v), 0);
    CHECK_INT(v, 2);
    CHECK_INT(_ccopy_json_int(&doc, "e.f", &v), 0);
    CHECK_INT(v, 9);
    CHECK_INT(_ccopy_json_int(&doc, "g", &v), -1);
    CHECK_INT(_ccopy_json_int(&doc, "h", &v), -1);
    CHECK_INT(_ccopy_json_int(&doc, "i", &v), -1);
    CHECK_INT(_ccopy_json_int(&doc, "missing", &v), -1);
    CHECK(_ccopy_json_string(&doc, "e.f") != NULL);
    CHECK(_ccopy_json_string(&doc, "a") == NULL);
    bson_destroy(&doc);
    CHECK_INT(_ccopy_json_parse(&doc, "{\"a\":", 5), -1);
    CHECK_INT(_ccopy_json_parse(&doc, "", 0), -1);
}

/* ---- where tokens come from ---------------------------------------------------------------- */

static void clear_environment(void)
{
    static const char *const names[] = {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                                        "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST",
                                        "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
                                        "AZURE_POD_IDENTITY_AUTHORITY_HOST"};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
}

static int pick(_ccopy_token_source_t *s, _ccopy_credential_kind_t kind, char *skipped,
                ccopy_error_t *e)
{
    _ccopy_credential_settings_t settings;
    _ccopy_credential_settings_default(&settings);
    settings.kind = kind;
    return _ccopy_token_source_pick(s, &settings, skipped, 400, e);
}

CCOPY_TEST(sources_are_tried_in_the_sdks_order)
{
    _ccopy_token_source_t s;
    char skipped[400];
    ccopy_error_t e;

    clear_environment();
    setenv("AZURE_TENANT_ID", "t1", 1);
    setenv("AZURE_CLIENT_ID", "c1", 1);
    setenv("AZURE_CLIENT_SECRET", "a-client-secret", 1);
    setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token", 1);
    CHECK_INT(pick(&s, CCOPY_CREDENTIAL_AUTO, skipped, &e), 0);
    CHECK_INT(s.kind, CCOPY_CREDENTIAL_ENVIRONMENT);
    CHECK_STR(s.authority, "https://login.microsoftonline.com");
    CHECK_STR(s.tenant, "t1");
    CHECK_STR(s.client_id, "c1");
    _ccopy_token_source_cleanup(&s);

    unsetenv("AZURE_CLIENT_SECRET");
    setenv("AZURE_AUTHORITY_HOST", "https://127.0.0.1:9/", 1);
    CHECK_INT(pick(&s, CCOPY_CREDENTIAL_AUTO, skipped, &e), 0);
    CHECK_INT(s.kind, CCOPY_CREDENTIAL_WORKLOAD_IDENTITY);
    CHECK_STR(s.authority, "https://127.0.0.1:9");
    CHECK_STR(s.secret, "/var/run/token");
    CHECK_STR(skipped, "environment: AZURE_CLIENT_SECRET not set");
    _ccopy_token_source_cleanup(&s);

    /* no environment credential: a managed identity, user-assigned by AZURE_CLIENT_ID */
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");
    CHECK_INT(pick(&s, CCOPY_CREDENTIAL_AUTO, skipped, &e), 0);
    CHECK_INT(s.kind, CCOPY_CREDENTIAL_MANAGED_IDENTITY);
    CHECK_STR(s.authority, "http://169.254.169.254");
    CHECK_STR(s.client_id, "c1");
    CHECK(s.probe && !s.app_service);
    CHECK_STR(skipped, "environment: AZURE_CLIENT_SECRET not set; workload identity: "
                       "AZURE_FEDERATED_TOKEN_FILE not set");
    _ccopy_token_source_cleanup(&s);

    setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token", 1);
    setenv("IDENTITY_HEADER", "header-value", 1);
    CHECK_INT(pick(&s, CCOPY_CREDENTIAL_MANAGED_IDENTITY, skipped, &e), 0);
    CHECK(s.app_service && !s.probe);
    CHECK_STR(s.authority, "http://127.0.0.1:9/msi/token");
    CHECK_STR(skipped, "");
    _ccopy_token_source_cleanup(&s);
    clear_environment();
}

CCOPY_TEST(a_chosen_source_that_is_not_set_up_says_what_is_missing)
{
    _ccopy_token_source_t s;
    char skipped[400];
    ccopy_error_t e;

    clear_environment();
    CHECK_INT(pick(&s, CCOPY_CREDENTIAL_ENVIRONMENT, skipped, &e), CCOPY_EAUTH);
    CHECK_STR(e.message, "no Microsoft Entra ID credential available (option azure_credential is "
                         "environment): environment: AZURE_TENANT_ID, AZURE_CLIENT_ID and "
                         "AZURE_CLIENT_SECRET not set");
    setenv("AZURE_TENANT_ID", "t1", 1);
    setenv("AZURE_CLIENT_ID", "c1", 1);
    CHECK_INT(pick(&s, CCOPY_CREDENTIAL_WORKLOAD_IDENTITY, skipped, &e), CCOPY_EAUTH);
    CHECK_STR(e.message, "no Microsoft Entra ID credential available (option azure_credential is "
                         "workload-identity): workload identity: AZURE_FEDERATED_TOKEN_FILE not set");
    /* a token never goes to a plain-http authority */
    setenv("AZURE_CLIENT_SECRET", "a-client-secret", 1);
    setenv("AZURE_AUTHORITY_HOST", "http://login.example", 1);
    CHECK_INT(pick(&s, CCOPY_CREDENTIAL_ENVIRONMENT, skipped, &e), CCOPY_EAUTH);
    CHECK_CONTAINS(e.message, "AZURE_AUTHORITY_HOST http://login.example is not an https:// URL");
    /* ... and auto does not pass over the principal to ask a managed identity for its client */
    setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token", 1);
    setenv("IDENTITY_HEADER", "header-value", 1);
    CHECK_INT(pick(&s, CCOPY_CREDENTIAL_AUTO, skipped, &e), CCOPY_EAUTH);
    CHECK_CONTAINS(e.message, "environment: AZURE_AUTHORITY_HOST http://login.example is not an "
                              "https:// URL");
    /* a host alone is https, as the Azure SDKs read their sovereign clouds' hosts */
    setenv("AZURE_AUTHORITY_HOST", "login.microsoftonline.us/", 1);
    CHECK_INT(pick(&s, CCOPY_CREDENTIAL_AUTO, skipped, &e), 0);
    CHECK_INT(s.kind, CCOPY_CREDENTIAL_ENVIRONMENT);
    CHECK_STR(s.authority, "https://login.microsoftonline.us");
    _ccopy_token_source_cleanup(&s);
    clear_environment();
}

CCOPY_TEST(the_managed_identity_client_id_option_wins_over_the_environment)
{
    _ccopy_credential_settings_t settings;
    _ccopy_token_source_t s;
    char skipped[400];
    ccopy_error_t e;
    clear_environment();
    setenv("AZURE_CLIENT_ID", "from-env", 1);
    _ccopy_credential_settings_default(&settings);
    settings.kind = CCOPY_CREDENTIAL_MANAGED_IDENTITY;
    settings.managed_identity_client_id = "from-option";
    CHECK_INT(_ccopy_token_source_pick(&s, &settings, skipped, sizeof skipped, &e), 0);
    CHECK_STR(s.client_id, "from-option");
    CHECK(!s.probe); /* chosen: no probe, the full retries */
    _ccopy_token_source_cleanup(&s);
    clear_environment();
}

CCOPY_TEST(credential_settings_come_from_the_options)
{
    ccopy_options_t *o = ccopy_options_new();
    _ccopy_settings_t settings;
    _ccopy_credential_settings_t s;
    ccopy_error_t e;
    unsetenv("SSL_CERT_FILE");
    CHECK_INT(ccopy_options_set(o, "azure_credential", "workload-identity", &e), 0);
    CHECK_INT(ccopy_options_set(o, "managed_identity_client_id", "abc", &e), 0);
    CHECK_INT(ccopy_options_set(o, "https_ca_file", "/etc/ca.pem", &e), 0);
    CHECK_INT(ccopy_options_set(o, "retry_budget", "3", &e), 0);
    CHECK_INT(ccopy_options_set(o, "azure_credential", "cli", &e), CCOPY_EINVAL);
    CHECK_INT(_ccopy_settings_load(&settings, o, &e), 0);
    _ccopy_credential_settings_from(&s, &settings);
    CHECK_INT(s.kind, CCOPY_CREDENTIAL_WORKLOAD_IDENTITY);
    CHECK_STR(s.managed_identity_client_id, "abc");
    CHECK_STR(s.ca_file, "/etc/ca.pem");
    CHECK_INT(s.backoff.max_retries, 3);
    _ccopy_settings_cleanup(&settings);
    /* without the option, $SSL_CERT_FILE */
    setenv("SSL_CERT_FILE", "/from/env.pem", 1);
    _ccopy_credential_settings_from(&s, NULL);
    CHECK_STR(s.ca_file, "/from/env.pem");
    CHECK_INT(s.kind, CCOPY_CREDENTIAL_AUTO);
    unsetenv("SSL_CERT_FILE");
    ccopy_options_destroy(o);
}

/* ---- masking ------------------------------------------------------------------------------- */

static void masked(const char *input, const char *expected)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", input);
    _ccopy_mask_secrets(buf);
    CHECK_STR(buf, expected);
}

CCOPY_TEST(remembered_secrets_are_masked_wherever_they_appear)
{
    _ccopy_secret_remember("Zk9vQmFyQmF6UXV4");
    _ccopy_secret_remember("short"); /* too short to remember: it would mask words */
    masked("value Zk9vQmFyQmF6UXV4 and again Zk9vQmFyQmF6UXV4.", "value **** and again ****.");
    masked("a message cut off inside Zk9vQmFyQm", "a message cut off inside ****");
    masked("too little of it: Zk9vQm", "too little of it: Zk9vQm");
    masked("short words stay", "short words stay");
    /* every rule looks at the text as it was: a token right after a remembered secret is one */
    masked("Zk9vQmFyQmF6UXV4eyJ0eXAiOiJKV1QiLCJhbGci.eyJhdWQiOiJodHRwcyJ9 done", "**** done");
    masked("mongodb://u:Zk9vQmFyQmF6UXV4@h/", "mongodb://u:****@h/");
    _ccopy_secrets_forget();
    masked("value Zk9vQmFyQmF6UXV4", "value Zk9vQmFyQmF6UXV4");
}

CCOPY_TEST(tokens_and_assertions_are_masked)
{
    masked("Authorization: Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwcyJ9.c2ln done",
           "Authorization: Bearer **** done");
    masked("client_assertion=abc.def&scope=x", "client_assertion=****&scope=x");
    masked("eyJhbGciOiJIUzI1NiJ9 without a dot stays", "eyJhbGciOiJIUzI1NiJ9 without a dot stays");
    masked("keyJ0eXAiOiJKV1QiLCJhbGci.x is not one", "keyJ0eXAiOiJKV1QiLCJhbGci.x is not one");
}
