/*
 * Where tokens come from (see token.h), each asked the way the Azure SDKs ask it:
 *
 *   environment        POST {AZURE_AUTHORITY_HOST}/{AZURE_TENANT_ID}/oauth2/v2.0/token with
 *                      client_id, client_secret, scope, grant_type=client_credentials
 *   workload identity  the same with client_assertion (AZURE_FEDERATED_TOKEN_FILE's content,
 *                      read again for every request: the file is rotated) instead of the secret
 *   managed identity   App Service: GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=R
 *                      with X-IDENTITY-HEADER; else IMDS: GET {AZURE_POD_IDENTITY_AUTHORITY_HOST
 *                      or http://169.254.169.254}/metadata/identity/oauth2/token
 *                      ?api-version=2018-02-01&resource=R with Metadata: true; &client_id=ID
 *                      for a user-assigned identity
 *
 * The tenant is always AZURE_TENANT_ID's: a service principal belongs to one tenant, and the
 * tenant a Key Vault challenge names is only mentioned when the vault refuses the token.
 * Refusals name the source, the client and the tenant, and Entra ID's AADSTS code; never a
 * secret, an assertion or a token.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common.h"
#include "http.h"
#include "token.h"

#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define DEFAULT_IMDS "http://169.254.169.254"
#define DEFAULT_LIFETIME 600 /* seconds: a token whose answer says nothing of its expiry */
#define PROBE_CONNECT_MS 1000
#define PROBE_TIMEOUT_MS 3000
#define FEDERATED_TOKEN_MAX (64 << 10)

void _ccopy_token_source_cleanup(_ccopy_token_source_t *s)
{
    free(s->authority);
    free(s->tenant);
    free(s->client_id);
    if (s->secret)
        OPENSSL_cleanse(s->secret, strlen(s->secret));
    free(s->secret);
    memset(s, 0, sizeof *s);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static char *without_trailing_slashes(const char *text)
{
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '/')
        n--;
    return _ccopy_strndup(text, n);
}

/* "AZURE_TENANT_ID and AZURE_CLIENT_SECRET not set" for the names whose variable is unset. */
static void missing(char *out, size_t size, const char *const *names, size_t count)
{
    size_t i, used = 0, n = 0, total = 0;
    for (i = 0; i < count; i++)
        total += !env(names[i]);
    out[0] = '\0';
    for (i = 0; i < count; i++) {
        if (env(names[i]))
            continue;
        n++;
        used += (size_t)snprintf(out + used, used < size ? size - used : 0, "%s%s",
                                 n == 1 ? "" : n == total ? " and " : ", ", names[i]);
    }
    if (n > 0 && used < size)
        snprintf(out + used, size - used, " not set");
}

static void add_skipped(char *skipped, size_t size, const char *source, const char *why)
{
    size_t used = strlen(skipped);
    if (used < size)
        snprintf(skipped + used, size - used, "%s%s: %s", used ? "; " : "", source, why);
}

/* An Entra ID source (environment or workload identity) when its three variables are set: 1
 * with *s filled, else 0 with why it was skipped. The last variable is the secret (the client
 * secret, or the federated token file's path). */
static int entra_source(_ccopy_token_source_t *s, _ccopy_credential_kind_t kind,
                        const char *const names[3], char *why, size_t size)
{
    const char *authority = env("AZURE_AUTHORITY_HOST");
    missing(why, size, names, 3);
    if (why[0])
        return 0;
    /* A host alone is https, as the Azure SDKs read it (their sovereign clouds' hosts,
     * AzureAuthorityHosts.AZURE_GOVERNMENT = "login.microsoftonline.us", have no scheme); any
     * other scheme is refused, and with every variable set that is an error, not a source to
     * pass over: auto went on to a managed identity and asked it for the principal's client. */
    if (authority && strstr(authority, "://") && strncmp(authority, "https://", 8) != 0) {
        snprintf(why, size, "AZURE_AUTHORITY_HOST %s is not an https:// URL", authority);
        return -1;
    }
    s->kind = kind;
    if (authority && !strstr(authority, "://")) {
        char *https = _ccopy_strdup_printf("https://%s", authority);
        s->authority = without_trailing_slashes(https);
        free(https);
    } else {
        s->authority = without_trailing_slashes(authority ? authority : DEFAULT_AUTHORITY);
    }
    s->tenant = _ccopy_strdup(env(names[0]));
    s->client_id = _ccopy_strdup(env(names[1]));
    s->secret = _ccopy_strdup(env(names[2]));
    if (kind == CCOPY_CREDENTIAL_ENVIRONMENT)
        _ccopy_secret_remember(s->secret);
    return 1;
}

static int bad_authority(ccopy_error_t *error, const char *source, const char *why)
{
    return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_ENGINE, 0,
                            "no Microsoft Entra ID credential available: %s: %s (a host alone is "
                            "read as https://HOST)",
                            source, why);
}

int _ccopy_token_source_pick(_ccopy_token_source_t *s, const _ccopy_credential_settings_t *settings,
                             char *skipped, size_t skipped_size, ccopy_error_t *error)
{
    static const char *const env_names[] = {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"};
    static const char *const wi_names[] = {"AZURE_TENANT_ID", "AZURE_CLIENT_ID",
                                           "AZURE_FEDERATED_TOKEN_FILE"};
    _ccopy_credential_kind_t kind = settings->kind;
    char why[160];
    int found;

    memset(s, 0, sizeof *s);
    skipped[0] = '\0';
    if (kind == CCOPY_CREDENTIAL_AUTO || kind == CCOPY_CREDENTIAL_ENVIRONMENT) {
        found = entra_source(s, CCOPY_CREDENTIAL_ENVIRONMENT, env_names, why, sizeof why);
        if (found < 0)
            return bad_authority(error, "environment", why);
        if (found)
            return 0;
        add_skipped(skipped, skipped_size, "environment", why);
    }
    if (kind == CCOPY_CREDENTIAL_AUTO || kind == CCOPY_CREDENTIAL_WORKLOAD_IDENTITY) {
        found = entra_source(s, CCOPY_CREDENTIAL_WORKLOAD_IDENTITY, wi_names, why, sizeof why);
        if (found < 0)
            return bad_authority(error, "workload identity", why);
        if (found)
            return 0;
        add_skipped(skipped, skipped_size, "workload identity", why);
    }
    if (kind == CCOPY_CREDENTIAL_AUTO || kind == CCOPY_CREDENTIAL_MANAGED_IDENTITY) {
        const char *client_id = settings->managed_identity_client_id
                                    ? settings->managed_identity_client_id
                                    : env("AZURE_CLIENT_ID");
        s->kind = CCOPY_CREDENTIAL_MANAGED_IDENTITY;
        s->client_id = client_id ? _ccopy_strdup(client_id) : NULL;
        if (env("IDENTITY_ENDPOINT") && env("IDENTITY_HEADER")) {
            s->app_service = 1;
            s->authority = _ccopy_strdup(env("IDENTITY_ENDPOINT"));
            s->secret = _ccopy_strdup(env("IDENTITY_HEADER"));
            _ccopy_secret_remember(s->secret);
        } else {
            const char *host = env("AZURE_POD_IDENTITY_AUTHORITY_HOST");
            s->authority = without_trailing_slashes(host ? host : DEFAULT_IMDS);
            s->probe = kind == CCOPY_CREDENTIAL_AUTO;
        }
        return 0;
    }
    return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_ENGINE, 0,
                            "no Microsoft Entra ID credential available (option azure_credential "
                            "is %s): %s",
                            kind == CCOPY_CREDENTIAL_ENVIRONMENT ? "environment" : "workload-identity",
                            skipped);
}

/* ---- answers ------------------------------------------------------------------------------ */

int64_t _ccopy_token_refresh_at(int64_t obtained_at, int64_t expires_at)
{
    int64_t life = expires_at - obtained_at;
    return life >= 600 ? expires_at - 300 : obtained_at + (life > 0 ? life / 2 : 0);
}

/* A token goes into an HTTP header: visible ASCII only, so an answer cannot add a header. */
static int token_text_ok(const char *t)
{
    if (!*t)
        return 0;
    for (; *t; t++)
        if (*t <= ' ' || *t > '~')
            return 0;
    return 1;
}

int _ccopy_token_parse(_ccopy_token_t *token, const char *json, size_t len, int64_t now,
                       ccopy_error_t *error)
{
    bson_t doc;
    const char *access;
    int64_t expires_on = 0, expires_in = 0;
    int rc = 0;

    memset(token, 0, sizeof *token);
    if (_ccopy_json_parse(&doc, json, len) != 0)
        return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_ENGINE, 0,
                                "the token answer is not a JSON object");
    access = _ccopy_json_string(&doc, "access_token");
    if (!access || !token_text_ok(access)) {
        rc = _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_ENGINE, 0,
                              "the token answer has no usable access_token");
    } else {
        token->access_token = _ccopy_strdup(access);
        token->obtained_at = now;
        /* expires_on (epoch seconds) when given, as a number (Entra ID) or a string (IMDS,
         * App Service); else expires_in from now */
        if (_ccopy_json_int(&doc, "expires_on", &expires_on) == 0 && expires_on > now)
            token->expires_at = expires_on;
        else if (_ccopy_json_int(&doc, "expires_in", &expires_in) == 0 && expires_in > 0 &&
                 expires_in < 10 * 365 * 86400)
            token->expires_at = now + expires_in;
        else
            token->expires_at = now + DEFAULT_LIFETIME;
    }
    _ccopy_json_wipe(&doc);
    return rc;
}

/* The first line of what an error answer says, from whichever field it uses: Entra ID's
 * error_description ("AADSTS7000215: Invalid client secret provided. ...\r\nTrace ID: ..."),
 * IMDS's too, App Service's message, or an error object's message. */
static void answer_says(char *out, size_t size, const _ccopy_http_response_t *res, char *aadsts,
                        size_t aadsts_size)
{
    static const char *const fields[] = {"error_description", "message", "error.message", "error",
                                         "Message"};
    bson_t doc;
    const char *text = NULL;
    size_t i;

    out[0] = '\0';
    aadsts[0] = '\0';
    if (_ccopy_json_parse(&doc, res->body, res->body_len) != 0) {
        if (res->body && res->body_len < 200)
            snprintf(out, size, "%s", res->body);
        for (char *p = out; *p; p++)
            if (*p == '\r' || *p == '\n')
                *p = '\0';
        return;
    }
    for (i = 0; i < sizeof fields / sizeof fields[0] && !text; i++)
        text = _ccopy_json_string(&doc, fields[i]);
    if (text) {
        const char *code = strstr(text, "AADSTS"), *trace = strstr(text, " Trace ID:");
        size_t n = strcspn(text, "\r\n");
        if (trace && (size_t)(trace - text) < n)
            n = (size_t)(trace - text);
        snprintf(out, size, "%.*s", (int)(n < 300 ? n : 300), text);
        if (code)
            snprintf(aadsts, aadsts_size, "%.*s", (int)(6 + strspn(code + 6, "0123456789")), code);
    }
    bson_destroy(&doc);
}

/* ---- requests ----------------------------------------------------------------------------- */

static char *read_assertion(const char *path, ccopy_error_t *error)
{
    FILE *f = fopen(path, "rb");
    char *text;
    size_t n;
    if (!f) {
        int err = errno;
        _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_OS, err,
                         "workload identity: the federated token file %s (AZURE_FEDERATED_TOKEN_FILE) "
                         "cannot be read: %s",
                         path, strerror(err));
        return NULL;
    }
    text = _ccopy_malloc(FEDERATED_TOKEN_MAX + 1);
    n = fread(text, 1, FEDERATED_TOKEN_MAX, f);
    fclose(f);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    text[n] = '\0';
    if (n == 0) {
        free(text);
        _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_ENGINE, 0,
                         "workload identity: the federated token file %s (AZURE_FEDERATED_TOKEN_FILE) "
                         "is empty",
                         path);
        return NULL;
    }
    _ccopy_secret_remember(text);
    return text;
}

/* The resource a managed identity is asked for: the scope without "/.default". */
static char *resource_of(const char *scope)
{
    size_t n = strlen(scope);
    if (n > 9 && strcmp(scope + n - 9, "/.default") == 0)
        n -= 9;
    return _ccopy_strndup(scope, n);
}

static int entra_refusal(const _ccopy_token_source_t *s, const _ccopy_http_response_t *res,
                         ccopy_error_t *error)
{
    char says[320], aadsts[24];
    answer_says(says, sizeof says, res, aadsts, sizeof aadsts);
    /* which of the three values was wrong: the tenant, the client ID, or the secret */
    if (strcmp(aadsts, "AADSTS90002") == 0 || strcmp(aadsts, "AADSTS900023") == 0)
        return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, res->status,
                                "Entra ID knows no tenant %s (%ld: %s)", s->tenant, res->status,
                                says);
    if (strcmp(aadsts, "AADSTS700016") == 0)
        return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, res->status,
                                "Entra ID knows no client %s in tenant %s (%ld: %s)", s->client_id,
                                s->tenant, res->status, says);
    if (s->kind == CCOPY_CREDENTIAL_ENVIRONMENT &&
        (strcmp(aadsts, "AADSTS7000215") == 0 || strcmp(aadsts, "AADSTS7000222") == 0))
        return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, res->status,
                                "Entra ID refused the client secret of client %s for tenant %s "
                                "(%s%s)",
                                s->client_id, s->tenant, aadsts,
                                strcmp(aadsts, "AADSTS7000222") == 0 ? ": the secret expired" : "");
    return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, res->status,
                            "Entra ID refused the %s of client %s for tenant %s (%ld%s%s)",
                            s->kind == CCOPY_CREDENTIAL_ENVIRONMENT ? "client secret"
                                                                    : "federated token (workload identity)",
                            s->client_id, s->tenant, res->status, says[0] ? ": " : "", says);
}

static int managed_refusal(const _ccopy_token_source_t *s, const char *where, const char *resource,
                           const _ccopy_http_response_t *res, ccopy_error_t *error)
{
    char says[320], aadsts[24];
    answer_says(says, sizeof says, res, aadsts, sizeof aadsts);
    return _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP, res->status,
                            "managed identity (%s) refused a token for %s%s%s (%ld%s%s)", where,
                            resource, s->client_id ? " for client " : "",
                            s->client_id ? s->client_id : "", res->status, says[0] ? ": " : "", says);
}

static int request_entra(_ccopy_token_t *token, const _ccopy_token_source_t *s, const char *scope,
                         const _ccopy_credential_settings_t *settings, ccopy_error_t *error)
{
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                          "Accept: application/json", NULL};
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    _ccopy_http_client_t client;
    char *tenant = _ccopy_http_encode(s->tenant, ""), *client_id = _ccopy_http_encode(s->client_id, "");
    char *scope_enc = _ccopy_http_encode(scope, ""), *secret = NULL, *body = NULL;
    char *url = _ccopy_strdup_printf("%s/%s/oauth2/v2.0/token", s->authority, tenant);
    char *host = _ccopy_strdup_printf("Entra ID at %s", s->authority);
    char *what = _ccopy_strdup_printf("getting a token for %s", scope);
    int rc = 0;

    if (s->kind == CCOPY_CREDENTIAL_ENVIRONMENT) {
        secret = _ccopy_http_encode(s->secret, "");
        body = _ccopy_strdup_printf("grant_type=client_credentials&client_id=%s&client_secret=%s"
                                    "&scope=%s",
                                    client_id, secret, scope_enc);
    } else {
        char *assertion = read_assertion(s->secret, error);
        if (!assertion) {
            rc = error ? error->code : CCOPY_EAUTH;
        } else {
            secret = _ccopy_http_encode(assertion, "");
            body = _ccopy_strdup_printf(
                "grant_type=client_credentials&client_id=%s&client_assertion=%s"
                "&client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Aclient-assertion-type"
                "%%3Ajwt-bearer&scope=%s",
                client_id, secret, scope_enc);
            OPENSSL_cleanse(assertion, strlen(assertion));
            free(assertion);
        }
    }
    if (rc == 0) {
        _ccopy_http_plain_t plain = {.method = "POST", .url = url, .host = host, .headers = headers,
                                     .body = body};
        plain.options.ca_file = settings->ca_file;
        _ccopy_http_client_init(&client, &settings->backoff, settings->timeout_ms, settings->canceled,
                                settings->retries);
        rc = _ccopy_http_send_plain(&client, &plain, &res, what, error);
        _ccopy_http_client_cleanup(&client);
        if (rc == 0 && res.curl_code != CURLE_OK)
            rc = _ccopy_http_plain_error(host, &res, what, error);
        else if (rc == 0 && res.status == 200)
            rc = _ccopy_token_parse(token, res.body, res.body_len, _ccopy_now_seconds(), error);
        else if (rc == 0 && res.status >= 400 && res.status < 500)
            rc = entra_refusal(s, &res, error);
        else if (rc == 0)
            rc = _ccopy_http_plain_error(host, &res, what, error);
        if (rc != 0 && res.status == 200)
            _ccopy_error_prefix(error, "%s", host); /* the answer was not a token */
    }
    if (secret)
        OPENSSL_cleanse(secret, strlen(secret));
    if (body)
        OPENSSL_cleanse(body, strlen(body));
    _ccopy_http_response_wipe(&res);
    free(secret);
    free(body);
    free(tenant);
    free(client_id);
    free(scope_enc);
    free(url);
    free(host);
    free(what);
    return rc;
}

/* In auto mode, whether the probe's answer says there is no managed identity here, as the
 * Azure SDKs judge it: nothing answered, something that is not IMDS answered (not JSON: a
 * proxy's refusal), or IMDS has no identity for this machine (400). Why, in *why. */
static int probe_unavailable(char *why, size_t size, const _ccopy_token_source_t *s,
                             const _ccopy_http_response_t *res)
{
    bson_t doc;
    char says[320], aadsts[24];
    if (res->curl_code != CURLE_OK) {
        snprintf(why, size, "did not answer");
        return 1;
    }
    if (_ccopy_json_parse(&doc, res->body, res->body_len) != 0) {
        snprintf(why, size, "did not answer (something else did, with %ld and no JSON)", res->status);
        return 1;
    }
    bson_destroy(&doc);
    if (res->status == 400) {
        answer_says(says, sizeof says, res, aadsts, sizeof aadsts);
        snprintf(why, size, "has no identity%s%s for this machine (400%s%s)",
                 s->client_id ? " with client ID " : "", s->client_id ? s->client_id : "",
                 says[0] ? ": " : "", says);
        return 1;
    }
    return 0;
}

static int request_managed(_ccopy_token_t *token, const _ccopy_token_source_t *s, const char *scope,
                           const _ccopy_credential_settings_t *settings, const char *skipped,
                           ccopy_error_t *error)
{
    _ccopy_http_response_t res = {.body_limit = 1 << 20};
    _ccopy_http_client_t client;
    char *resource = resource_of(scope), *resource_enc = _ccopy_http_encode(resource, "");
    char *client_enc = s->client_id ? _ccopy_http_encode(s->client_id, "") : NULL;
    char *url, *where, *header = NULL, *what, why[400];
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    int rc = 0;

    if (s->app_service) {
        url = _ccopy_strdup_printf("%s%sapi-version=2019-08-01&resource=%s%s%s", s->authority,
                                   strchr(s->authority, '?') ? "&" : "?", resource_enc,
                                   client_enc ? "&client_id=" : "", client_enc ? client_enc : "");
        where = _ccopy_strdup_printf("App Service at %s", s->authority);
        header = _ccopy_strdup_printf("X-IDENTITY-HEADER: %s", s->secret);
        headers[1] = header;
    } else {
        url = _ccopy_strdup_printf("%s/metadata/identity/oauth2/token?api-version=2018-02-01"
                                   "&resource=%s%s%s",
                                   s->authority, resource_enc, client_enc ? "&client_id=" : "",
                                   client_enc ? client_enc : "");
        where = _ccopy_strdup_printf("IMDS at %s", s->authority);
        headers[1] = "Metadata: true";
    }
    what = _ccopy_strdup_printf("getting a token for %s", resource);
    {
        _ccopy_http_plain_t plain = {.method = "GET", .url = url, .host = where, .headers = headers};
        int ask = 1;
        plain.options.ca_file = settings->ca_file;
        plain.options.no_proxy = 1; /* the identity endpoints are local: never through a proxy */
        if (s->probe) {
            /* auto: is there an IMDS at all? One short try; silence means no managed identity */
            _ccopy_backoff_t once = {0, 0, 0};
            plain.options.connect_timeout_ms = PROBE_CONNECT_MS;
            _ccopy_http_client_init(&client, &once, PROBE_TIMEOUT_MS, settings->canceled, NULL);
            rc = _ccopy_http_send_plain(&client, &plain, &res, what, error);
            _ccopy_http_client_cleanup(&client);
            plain.options.connect_timeout_ms = 0;
            if (rc != CCOPY_ECANCELED)
                rc = 0; /* the one try's failure is judged here, not reported as it is */
            if (rc == 0 && probe_unavailable(why, sizeof why, s, &res))
                rc = _ccopy_error_set(error, CCOPY_EAUTH, CCOPY_DOMAIN_HTTP,
                                      res.curl_code != CURLE_OK ? (int64_t)res.curl_code : res.status,
                                      "no Microsoft Entra ID credential available: %s%smanaged "
                                      "identity: %s not set and IMDS at %s %s (option "
                                      "azure_credential chooses a source)",
                                      skipped, skipped[0] ? "; " : "",
                                      env("IDENTITY_ENDPOINT") ? "IDENTITY_HEADER" : "IDENTITY_ENDPOINT",
                                      s->authority, why);
            /* IMDS answered: its answer stands, unless it is one worth asking again */
            ask = rc == 0 && _ccopy_http_retryable(&res);
        }
        if (ask) {
            _ccopy_http_client_init(&client, &settings->backoff, settings->timeout_ms,
                                    settings->canceled, settings->retries);
            rc = _ccopy_http_send_plain(&client, &plain, &res, what, error);
            _ccopy_http_client_cleanup(&client);
        }
    }
    if (rc == 0 && res.curl_code != CURLE_OK)
        rc = _ccopy_http_plain_error(where, &res, what, error);
    else if (rc == 0 && res.status == 200)
        rc = _ccopy_token_parse(token, res.body, res.body_len, _ccopy_now_seconds(), error);
    else if (rc == 0 && res.status >= 400 && res.status < 500)
        rc = managed_refusal(s, where, resource, &res, error);
    else if (rc == 0)
        rc = _ccopy_http_plain_error(where, &res, what, error);
    if (rc != 0 && res.status == 200)
        _ccopy_error_prefix(error, "managed identity (%s)", where); /* the answer was not a token */
    _ccopy_http_response_wipe(&res);
    if (header)
        OPENSSL_cleanse(header, strlen(header));
    free(header);
    free(url);
    free(where);
    free(what);
    free(resource);
    free(resource_enc);
    free(client_enc);
    return rc;
}

int _ccopy_token_request(_ccopy_token_t *token, const _ccopy_token_source_t *source,
                         const char *scope, const _ccopy_credential_settings_t *settings,
                         const char *skipped, ccopy_error_t *error)
{
    memset(token, 0, sizeof *token);
    if (source->kind == CCOPY_CREDENTIAL_MANAGED_IDENTITY)
        return request_managed(token, source, scope, settings, skipped, error);
    return request_entra(token, source, scope, settings, error);
}
