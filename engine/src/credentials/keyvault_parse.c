/*
 * The text Key Vault work starts from (see keyvault.h): references to secrets as a person writes
 * them in a connection-string option, and the WWW-Authenticate challenge a vault answers with,
 * which says which token it takes. Both are untrusted input (tests/fuzz/fuzz_keyvault.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "keyvault.h"

#define FORMS "kv://VAULT/SECRET[/VERSION] or https://VAULT.vault.azure.net/secrets/SECRET[/VERSION]"

/* ---- references --------------------------------------------------------------------------- */

int _ccopy_keyvault_is_reference(const char *text)
{
    return text && (strncasecmp(text, "kv://", 5) == 0 || strncasecmp(text, "https://", 8) == 0);
}

void _ccopy_keyvault_ref_cleanup(_ccopy_keyvault_ref_t *ref)
{
    free(ref->vault_url);
    free(ref->host);
    free(ref->name);
    free(ref->version);
    memset(ref, 0, sizeof *ref);
}

/* Letters, digits and '-' (Key Vault's alphabet for vault and secret names), 1 to max bytes. */
static int name_ok(const char *text, size_t len, size_t max)
{
    size_t i;
    if (len == 0 || len > max)
        return 0;
    for (i = 0; i < len; i++)
        if (!isalnum((unsigned char)text[i]) && text[i] != '-')
            return 0;
    return 1;
}

/* A host[:port] as a URL may hold it: letters, digits, '.', '-', and a port, or [IPv6]:port. */
static int host_ok(const char *text, size_t len)
{
    const char *port = NULL, *end = text + len;
    size_t i;
    if (len == 0 || len > 255)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!isalnum(c) && !strchr(".-:[]", c))
            return 0;
    }
    if (text[0] == ':' || text[0] == '.')
        return 0;
    /* host, [IPv6] or either with :PORT, the port 1 to 65535: curl refused 127.0.0.1:99999 only
     * when the job read the secret (exit 1, "URL using bad/illegal format") */
    if (text[0] == '[') {
        const char *close = memchr(text, ']', len);
        if (!close || close == text + 1 || memchr(close + 1, '[', (size_t)(end - close - 1)) ||
            memchr(close + 1, ']', (size_t)(end - close - 1)))
            return 0;
        if (close + 1 < end) {
            if (close[1] != ':')
                return 0;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(text, ':', len);
        if (memchr(text, '[', len) || memchr(text, ']', len))
            return 0;
        if (colon) {
            if (memchr(colon + 1, ':', (size_t)(end - colon - 1)))
                return 0;
            port = colon + 1;
        }
    }
    if (port) {
        long value = 0;
        if (port == end || end - port > 5)
            return 0;
        for (; port < end; port++) {
            if (!isdigit((unsigned char)*port))
                return 0;
            value = value * 10 + (*port - '0');
        }
        if (value < 1 || value > 65535)
            return 0;
    }
    return 1;
}

static int ref_error(const char *text, ccopy_error_t *error, const char *why)
{
    return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                            "Key Vault reference \"%.200s\" %s (expected " FORMS ")", text, why);
}

/* SECRET[/VERSION][/] at path (no leading '/'), up to end. */
static int parse_secret_path(_ccopy_keyvault_ref_t *ref, const char *text, const char *path,
                             const char *end, ccopy_error_t *error)
{
    const char *slash = memchr(path, '/', (size_t)(end - path));
    const char *name_end = slash ? slash : end;
    if (name_end == path)
        return ref_error(text, error, "names no secret");
    if (!name_ok(path, (size_t)(name_end - path), 127))
        return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                "Key Vault reference \"%.200s\": a secret name has 1 to 127 "
                                "letters, digits and '-'",
                                text);
    ref->name = _ccopy_strndup(path, (size_t)(name_end - path));
    if (slash && slash + 1 < end) {
        const char *version = slash + 1;
        const char *version_end = memchr(version, '/', (size_t)(end - version));
        if (!version_end)
            version_end = end;
        if (version_end < end && version_end + 1 != end)
            return ref_error(text, error, "has more after the secret's version");
        if (!name_ok(version, (size_t)(version_end - version), 64) ||
            memchr(version, '-', (size_t)(version_end - version)))
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "Key Vault reference \"%.200s\": a secret version is letters "
                                    "and digits (32 hexadecimal digits)",
                                    text);
        ref->version = _ccopy_strndup(version, (size_t)(version_end - version));
    }
    return 0;
}

static int parse_kv(_ccopy_keyvault_ref_t *ref, const char *text, ccopy_error_t *error)
{
    const char *vault = text + 5, *end = text + strlen(text);
    const char *slash = strchr(vault, '/');
    size_t vlen = slash ? (size_t)(slash - vault) : strlen(vault);

    if (vlen == 0)
        return ref_error(text, error, "names no vault");
    if (memchr(vault, '.', vlen) || memchr(vault, ':', vlen)) {
        if (!host_ok(vault, vlen))
            return ref_error(text, error, "names a vault host that is not a host[:port]");
        ref->host = _ccopy_strndup(vault, vlen);
    } else {
        if (!name_ok(vault, vlen, 63))
            return _ccopy_error_set(error, CCOPY_EINVAL, CCOPY_DOMAIN_ENGINE, 0,
                                    "Key Vault reference \"%.200s\": a vault name has letters, "
                                    "digits and '-' (or give its host: kv://HOST[:PORT]/SECRET)",
                                    text);
        ref->host = _ccopy_strdup_printf("%.*s.vault.azure.net", (int)vlen, vault);
    }
    if (!slash || slash + 1 >= end)
        return ref_error(text, error, "names no secret");
    return parse_secret_path(ref, text, slash + 1, end, error);
}

static int parse_url(_ccopy_keyvault_ref_t *ref, const char *text, ccopy_error_t *error)
{
    static const char secrets[] = "/secrets/";
    const char *host = text + 8, *end = text + strcspn(text, "?#");
    const char *path = memchr(host, '/', (size_t)(end - host));
    size_t hlen = path ? (size_t)(path - host) : (size_t)(end - host);

    if (hlen == 0 || !host_ok(host, hlen))
        return ref_error(text, error, "names no vault host");
    if (!path || (size_t)(end - path) < sizeof secrets - 1 ||
        strncmp(path, secrets, sizeof secrets - 1) != 0)
        return ref_error(text, error, "is not a Key Vault secret URL (its path is not /secrets/NAME)");
    ref->host = _ccopy_strndup(host, hlen);
    return parse_secret_path(ref, text, path + sizeof secrets - 1, end, error);
}

int _ccopy_keyvault_ref_parse(_ccopy_keyvault_ref_t *ref, const char *text, ccopy_error_t *error)
{
    int rc;
    memset(ref, 0, sizeof *ref);
    if (!text || !_ccopy_keyvault_is_reference(text))
        return ref_error(text ? text : "", error, "is not a Key Vault reference");
    rc = strncasecmp(text, "kv://", 5) == 0 ? parse_kv(ref, text, error) : parse_url(ref, text, error);
    if (rc != 0) {
        _ccopy_keyvault_ref_cleanup(ref);
        return rc;
    }
    ref->vault_url = _ccopy_strdup_printf("https://%s", ref->host);
    return 0;
}

/* ---- challenges --------------------------------------------------------------------------- */

void _ccopy_challenge_cleanup(_ccopy_challenge_t *c)
{
    free(c->authority);
    free(c->tenant);
    free(c->scope);
    memset(c, 0, sizeof *c);
}

/* The next auth-param of a challenge at *p: name (into name, cut to its size) and value (new
 * string, quotes and backslash escapes removed). 0 when there is one; -1 at the end, or at a
 * token that starts the next challenge. */
static int next_param(const char **p, char *name, size_t name_size, char **value)
{
    const char *s = *p, *start;
    size_t n;
    char *out;

    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    start = s;
    while (*s && (isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
        s++;
    n = (size_t)(s - start);
    while (*s == ' ' || *s == '\t')
        s++;
    if (n == 0 || *s != '=')
        return -1;
    snprintf(name, name_size, "%.*s", (int)(n < name_size ? n : name_size - 1), start);
    s++;
    while (*s == ' ' || *s == '\t')
        s++;
    out = _ccopy_malloc(strlen(s) + 1);
    n = 0;
    if (*s == '"') {
        for (s++; *s && *s != '"'; s++) {
            if (*s == '\\' && s[1])
                s++;
            out[n++] = *s;
        }
        if (*s == '"')
            s++;
    } else {
        while (*s && *s != ',' && *s != ' ' && *s != '\t')
            out[n++] = *s++;
    }
    out[n] = '\0';
    *value = out;
    *p = s;
    return 0;
}

/* The first path segment of an https URL (login.microsoftonline.com/TENANT/...), or NULL. */
static char *first_segment(const char *url)
{
    const char *p = strstr(url, "://"), *end;
    if (!p)
        return NULL;
    p = strchr(p + 3, '/');
    if (!p)
        return NULL;
    p++;
    end = p + strcspn(p, "/?#");
    return end > p ? _ccopy_strndup(p, (size_t)(end - p)) : NULL;
}

int _ccopy_challenge_parse(_ccopy_challenge_t *c, const char *header)
{
    const char *p = header;
    char name[32], *value, *resource = NULL;

    memset(c, 0, sizeof *c);
    if (!header)
        return -1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] && p[6] != ' ' && p[6] != '\t'))
        return -1;
    p += 6;
    while (next_param(&p, name, sizeof name, &value) == 0) {
        char **slot = NULL;
        if (strcasecmp(name, "authorization") == 0 || strcasecmp(name, "authorization_uri") == 0)
            slot = &c->authority;
        else if (strcasecmp(name, "resource") == 0 || strcasecmp(name, "resource_id") == 0)
            slot = &resource;
        else if (strcasecmp(name, "scope") == 0)
            slot = &c->scope;
        if (slot && !*slot && *value) {
            *slot = value;
        } else {
            free(value);
        }
    }
    if (!c->scope && resource) {
        size_t n = strlen(resource);
        while (n > 0 && resource[n - 1] == '/')
            n--;
        c->scope = _ccopy_strdup_printf("%.*s/.default", (int)n, resource);
    }
    free(resource);
    if (!c->scope) {
        _ccopy_challenge_cleanup(c);
        return -1;
    }
    if (c->authority)
        c->tenant = first_segment(c->authority);
    return 0;
}

/* The host of an https URL without its port, lower case (new string), or NULL. */
static char *url_host(const char *url)
{
    const char *h;
    size_t n, i;
    char *out;
    if (strncasecmp(url, "https://", 8) != 0)
        return NULL;
    h = url + 8;
    n = strcspn(h, ":/?#");
    if (n == 0)
        return NULL;
    out = _ccopy_strndup(h, n);
    for (i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
    return out;
}

static int ends_with_domain(const char *host, const char *domain)
{
    size_t h = strlen(host), d = strlen(domain);
    return h > d + 1 && host[h - d - 1] == '.' && strcmp(host + h - d, domain) == 0;
}

int _ccopy_challenge_scope_allowed(const char *vault_host, const char *scope)
{
    char *resource_host = url_host(scope), *host;
    size_t n;
    int ok;
    if (!resource_host)
        return 0;
    n = strcspn(vault_host, ":");
    if (vault_host[0] == '[')
        n = strcspn(vault_host, "]") + 1;
    host = _ccopy_strndup(vault_host, n);
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strcmp(host, resource_host) == 0) {
        ok = 1; /* a vault that is its own resource (test doubles such as Lowkey Vault) */
    } else if (strncmp(resource_host, "vault.", 6) == 0 ||
               strncmp(resource_host, "managedhsm.", 11) == 0) {
        /* a vault under a Key Vault domain must be under this one (the SDKs' check); other
         * hosts (a test server on 127.0.0.1) may ask for a Key Vault token, never another */
        ok = !(strstr(host, ".vault.") || strstr(host, ".managedhsm.")) ||
             ends_with_domain(host, resource_host);
    } else {
        ok = 0;
    }
    free(host);
    free(resource_host);
    return ok;
}
