/*
 * Reading a secret from Azure Key Vault (see keyvault.h): Get Secret, with the challenge flow
 * the Azure SDKs use, the challenge kept per vault for the process's later reads, and each
 * answer Key Vault can give turned into an error that names the secret and the vault. Secret
 * values are remembered for masking the moment they arrive, and overwritten when freed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common.h"
#include "cosmocopy/credentials.h"
#include "http.h"
#include "keyvault.h"
#include "token.h"

#define MAX_ROUNDS 4 /* without a token, with one, with a fresh one after a refusal, spare */

void _ccopy_secret_free(char *value)
{
    if (!value)
        return;
    OPENSSL_cleanse(value, strlen(value));
    free(value);
}

/* ---- challenges kept per vault ------------------------------------------------------------ */

typedef struct known_vault {
    char *vault_url;
    char *scope;
    char *tenant;
} known_vault_t;

static pthread_mutex_t vaults_lock = PTHREAD_MUTEX_INITIALIZER;
static known_vault_t *vaults;
static size_t vault_count;

/* The scope (and tenant, may be NULL) this vault asked for last, as new strings; 0 when known. */
static int known_scope(const char *vault_url, char **scope, char **tenant)
{
    size_t i;
    int rc = -1;
    *scope = *tenant = NULL;
    pthread_mutex_lock(&vaults_lock);
    for (i = 0; i < vault_count; i++) {
        if (strcmp(vaults[i].vault_url, vault_url) == 0) {
            *scope = _ccopy_strdup(vaults[i].scope);
            *tenant = vaults[i].tenant ? _ccopy_strdup(vaults[i].tenant) : NULL;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&vaults_lock);
    return rc;
}

static void remember_scope(const char *vault_url, const _ccopy_challenge_t *c)
{
    size_t i;
    pthread_mutex_lock(&vaults_lock);
    for (i = 0; i < vault_count && strcmp(vaults[i].vault_url, vault_url) != 0; i++)
        ;
    if (i == vault_count) {
        vaults = _ccopy_realloc(vaults, (vault_count + 1) * sizeof *vaults);
        vaults[vault_count++].vault_url = _ccopy_strdup(vault_url);
    } else {
        free(vaults[i].scope);
        free(vaults[i].tenant);
    }
    vaults[i].scope = _ccopy_strdup(c->scope);
    vaults[i].tenant = c->tenant ? _ccopy_strdup(c->tenant) : NULL;
    pthread_mutex_unlock(&vaults_lock);
}

void _ccopy_keyvault_forget(void)
{
    size_t i;
    pthread_mutex_lock(&vaults_lock);
    for (i = 0; i < vault_count; i++) {
        free(vaults[i].vault_url);
        free(vaults[i].scope);
        free(vaults[i].tenant);
    }
    free(vaults);
    vaults = NULL;
    vault_count = 0;
    pthread_mutex_unlock(&vaults_lock);
}

/* ---- answers ------------------------------------------------------------------------------ */

/* Key Vault's error answer: {"error": {"code", "message", "innererror": {"code"}}}. */
typedef struct vault_error {
    char code[64], inner[64], message[256];
} vault_error_t;

static const char *or_empty(const char *text)
{
    return text ? text : "";
}

static void read_vault_error(vault_error_t *ve, const _ccopy_http_response_t *res)
{
    bson_t doc;
    memset(ve, 0, sizeof *ve);
    if (_ccopy_json_parse(&doc, res->body, res->body_len) != 0)
        return;
    snprintf(ve->code, sizeof ve->code, "%s", or_empty(_ccopy_json_string(&doc, "error.code")));
    snprintf(ve->inner, sizeof ve->inner, "%s",
             or_empty(_ccopy_json_string(&doc, "error.innererror.code")));
    snprintf(ve->message, sizeof ve->message, "%s",
             or_empty(_ccopy_json_string(&doc, "error.message")));
    bson_destroy(&doc);
}

static void describe_secret(char *out, size_t size, const _ccopy_keyvault_ref_t *ref)
{
    if (ref->version)
        snprintf(out, size, "version %s of secret %s", ref->version, ref->name);
    else
        snprintf(out, size, "secret %s", ref->name);
}

/* The secret's value from a 200 answer. */
static int read_value(char **out, const _ccopy_keyvault_ref_t *ref, const _ccopy_http_response_t *res,
                      ccopy_error_t *error)
{
    bson_t doc;
    const char *value;
    int rc = 0;
    if (_ccopy_json_parse(&doc, res->body, res->body_len) != 0)
        return _ccopy_error_set(error, CCOPY_ESERVER, CCOPY_DOMAIN_HTTP, res->status,
                                "Key Vault %s answered secret %s with something that is not JSON",
                                ref->host, ref->name);
    value = _ccopy_json_string(&doc, "value");
    if (!value)
        rc = _ccopy_error_set(error, CCOPY_ESERVER, CCOPY_DOMAIN_HTTP, res->status,
                              "Key Vault %s answered secret %s without a value", ref->host, ref->name);
    else if (!*value)
        rc = _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_HTTP, res->status,
                              "secret %s in Key Vault %s is empty", ref->name, ref->host);
    else {
        _ccopy_secret_remember(value);
        *out = _ccopy_strdup(value);
    }
    _ccopy_json_wipe(&doc);
    return rc;
}

/* An answer that is neither 200 nor 401. */
static int answer_error(const _ccopy_keyvault_ref_t *ref, const _ccopy_http_response_t *res,
                        ccopy_error_t *error)
{
    vault_error_t ve;
    char secret[256];
    read_vault_error(&ve, res);
    describe_secret(secret, sizeof secret, ref);
    if (res->status == 404)
        return _ccopy_error_set(error, CCOPY_ENOTFOUND, CCOPY_DOMAIN_HTTP, 404,
                                "%s not found in Key Vault %s", secret, ref->host);
    if (res->status == 403 && (strcasecmp(ve.inner, "SecretDisabled") == 0 ||
                               strcasecmp(ve.code, "SecretDisabled") == 0))
        return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, 403,
                                "%s in Key Vault %s is disabled", secret, ref->host);
    if (res->status == 403)
        return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, 403,
                                "Key Vault %s refused to read %s (403 %s%s%s): the identity needs "
                                "the Get permission on secrets (or the Key Vault Secrets User role)",
                                ref->host, secret, ve.code, ve.message[0] ? ": " : "", ve.message);
    /* the reading first: the vault's message is a sentence of its own, and ran into it */
    return _ccopy_error_set(error, CCOPY_ESERVER, CCOPY_DOMAIN_HTTP, res->status,
                            "reading %s, Key Vault %s answered %ld%s%s%s%s", secret, ref->host,
                            res->status, ve.code[0] ? " " : "", ve.code, ve.message[0] ? ": " : "",
                            ve.message);
}

/* ---- reading a secret --------------------------------------------------------------------- */

/* One GET of the secret, with a bearer token or without. */
static int get_once(const _ccopy_keyvault_ref_t *ref, const char *url, const char *token,
                    const _ccopy_credential_settings_t *settings, _ccopy_http_response_t *res,
                    ccopy_error_t *error)
{
    char *host = _ccopy_strdup_printf("Key Vault %s", ref->host);
    char *what = _ccopy_strdup_printf("reading secret %s", ref->name);
    char *auth = token ? _ccopy_strdup_printf("Authorization: Bearer %s", token) : NULL;
    const char *headers[] = {"Accept: application/json", auth, NULL};
    _ccopy_http_plain_t plain = {.method = "GET", .url = url, .host = host, .headers = headers};
    _ccopy_http_client_t client;
    int rc;

    plain.options.ca_file = settings->ca_file;
    _ccopy_http_client_init(&client, &settings->backoff, settings->timeout_ms, settings->canceled,
                            settings->retries);
    rc = _ccopy_http_send_plain(&client, &plain, res, what, error);
    _ccopy_http_client_cleanup(&client);
    if (rc == 0 && res->curl_code != CURLE_OK)
        rc = _ccopy_http_plain_error(host, res, what, error);
    if (auth) {
        OPENSSL_cleanse(auth, strlen(auth));
        free(auth);
    }
    free(host);
    free(what);
    return rc;
}

int _ccopy_keyvault_get_secret(char **out, const _ccopy_keyvault_ref_t *ref,
                               const _ccopy_credential_settings_t *settings, ccopy_error_t *error)
{
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    char *name = _ccopy_http_encode(ref->name, ""), *scope = NULL, *tenant = NULL, *token = NULL;
    char *url = _ccopy_strdup_printf("%s/secrets/%s%s%s?api-version=" CCOPY_KEYVAULT_API_VERSION,
                                     ref->vault_url, name, ref->version ? "/" : "",
                                     ref->version ? ref->version : "");
    int rc = 0, round, refusals = 0;

    *out = NULL;
    known_scope(ref->vault_url, &scope, &tenant);
    for (round = 0; round < MAX_ROUNDS && rc == 0 && !*out; round++) {
        _ccopy_challenge_t challenge;
        if (scope && !token)
            rc = _ccopy_token_get(&token, scope, settings, error);
        if (rc == 0)
            rc = get_once(ref, url, token, settings, &res, error);
        if (rc != 0)
            break;
        if (res.status == 200) {
            rc = read_value(out, ref, &res, error);
            break;
        }
        if (res.status != 401) {
            rc = answer_error(ref, &res, error);
            break;
        }
        if (_ccopy_challenge_parse(&challenge, res.www_authenticate) != 0) {
            vault_error_t ve;
            read_vault_error(&ve, &res);
            rc = _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, 401,
                                  token ? "Key Vault %s refused the token (401%s%s%s%s)"
                                        : "Key Vault %s answered 401 without a Bearer challenge "
                                          "(401%s%s%s%s)",
                                  ref->host, ve.code[0] ? " " : "", ve.code, ve.message[0] ? ": " : "",
                                  ve.message);
            break;
        }
        if (!_ccopy_challenge_scope_allowed(ref->host, challenge.scope)) {
            rc = _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, 401,
                                  "Key Vault %s asked for a token for %s, which is not a Key "
                                  "Vault resource: no token is sent to it",
                                  ref->host, challenge.scope);
            _ccopy_challenge_cleanup(&challenge);
            break;
        }
        if (token && scope && strcmp(challenge.scope, scope) == 0 && ++refusals > 1) {
            vault_error_t ve;
            read_vault_error(&ve, &res);
            rc = _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, 401,
                                  "Key Vault %s refused the token: %s%s%s (it asks for a token "
                                  "for %s%s%s)",
                                  ref->host, ve.code[0] ? ve.code : "401", ve.message[0] ? ": " : "",
                                  ve.message, challenge.scope, challenge.tenant ? " of tenant " : "",
                                  challenge.tenant ? challenge.tenant : "");
            _ccopy_token_drop(token);
            _ccopy_challenge_cleanup(&challenge);
            break;
        }
        /* a first challenge, another scope than the one known, or a token the vault no longer
         * takes: ask for a token again, a fresh one */
        if (token)
            _ccopy_token_drop(token);
        _ccopy_token_free(token);
        token = NULL;
        remember_scope(ref->vault_url, &challenge);
        free(scope);
        free(tenant);
        scope = _ccopy_strdup(challenge.scope);
        tenant = challenge.tenant ? _ccopy_strdup(challenge.tenant) : NULL;
        _ccopy_challenge_cleanup(&challenge);
    }
    if (rc == 0 && !*out)
        rc = _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, res.status,
                              "Key Vault %s kept asking for another token", ref->host);
    _ccopy_http_response_wipe(&res);
    _ccopy_token_free(token);
    free(scope);
    free(tenant);
    free(name);
    free(url);
    return rc;
}

/* ---- options ------------------------------------------------------------------------------ */

int _ccopy_keyvault_check(const char *option, const char *value, ccopy_error_t *error)
{
    _ccopy_keyvault_ref_t ref;
    int rc;
    if (!value || !_ccopy_keyvault_is_reference(value))
        return 0;
    rc = _ccopy_keyvault_ref_parse(&ref, value, error);
    if (rc != 0) {
        _ccopy_error_prefix(error, "option %s", option);
        return rc;
    }
    _ccopy_keyvault_ref_cleanup(&ref);
    return 0;
}

int _ccopy_keyvault_resolve(char **out, const char *option, const char *value,
                            const _ccopy_credential_settings_t *settings, ccopy_error_t *error)
{
    _ccopy_keyvault_ref_t ref;
    int rc;

    *out = NULL;
    if (!value || !_ccopy_keyvault_is_reference(value))
        return 0;
    rc = _ccopy_keyvault_ref_parse(&ref, value, error);
    if (rc == 0)
        rc = _ccopy_keyvault_get_secret(out, &ref, settings, error);
    _ccopy_keyvault_ref_cleanup(&ref);
    if (rc != 0)
        _ccopy_error_prefix(error, "option %s", option);
    return rc;
}

/* ---- the public face (cosmocopy/credentials.h) -------------------------------------------- */

int ccopy_keyvault_is_reference(const char *text)
{
    return _ccopy_keyvault_is_reference(text);
}

int ccopy_keyvault_resolve(char **out_value, const char *reference, const ccopy_options_t *options,
                           ccopy_error_t *error)
{
    _ccopy_settings_t settings;
    _ccopy_credential_settings_t credentials;
    _ccopy_keyvault_ref_t ref;
    char *value = NULL;
    int rc;

    if (out_value)
        *out_value = NULL;
    if (!out_value || !reference)
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                !reference ? "no Key Vault reference given"
                                           : "nowhere to put the secret's value (NULL)");
    rc = _ccopy_settings_load(&settings, options, error);
    if (rc != 0)
        return rc;
    _ccopy_credential_settings_from(&credentials, &settings);
    rc = _ccopy_keyvault_ref_parse(&ref, reference, error);
    if (rc == 0)
        rc = _ccopy_keyvault_get_secret(&value, &ref, &credentials, error);
    _ccopy_keyvault_ref_cleanup(&ref);
    _ccopy_settings_cleanup(&settings);
    *out_value = value;
    return rc;
}
