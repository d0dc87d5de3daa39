/*
 * What the credentials layer reads from people and servers: Key Vault references (option
 * values), WWW-Authenticate challenges and token answers (servers), and secrets known by their
 * value in messages. The first byte picks the parser, the rest is its text. A reference parses
 * into a vault URL and names Key Vault allows, or fails with a message; a challenge gives a
 * scope; a token answer gives a token that can go into a header and an expiry after now; a
 * remembered secret never survives masking.
 */
#include <ctype.h>

#include "common.h"
#include "fuzz.h"
#include "keyvault.h"
#include "token.h"

static int all_of(const char *text, const char *extra)
{
    for (; *text; text++)
        if (!isalnum((unsigned char)*text) && !strchr(extra, *text))
            return 0;
    return 1;
}

static void reference(const char *text)
{
    _ccopy_keyvault_ref_t ref;
    ccopy_error_t error;
    memset(&error, 0, sizeof error);
    if (_ccopy_keyvault_ref_parse(&ref, text, &error) != 0) {
        FUZZ_CHECK(error.message[0] && !ref.vault_url && !ref.name, "a refusal without a message");
        FUZZ_CHECK(_ccopy_keyvault_check("source", text, &error) != 0 ||
                       !_ccopy_keyvault_is_reference(text),
                   "the option check takes what the parser refuses");
        return;
    }
    FUZZ_CHECK(ref.host && *ref.host && strncmp(ref.vault_url, "https://", 8) == 0 &&
                   strcmp(ref.vault_url + 8, ref.host) == 0,
               "vault URL %s for host %s", ref.vault_url, ref.host);
    FUZZ_CHECK(all_of(ref.host, ".-:[]"), "host %s", ref.host);
    FUZZ_CHECK(*ref.name && strlen(ref.name) <= 127 && all_of(ref.name, "-"), "name %s", ref.name);
    FUZZ_CHECK(!ref.version || (*ref.version && all_of(ref.version, "")), "version %s", ref.version);
    _ccopy_keyvault_ref_cleanup(&ref);
}

static void challenge(const char *text)
{
    _ccopy_challenge_t c;
    if (_ccopy_challenge_parse(&c, text) != 0)
        return;
    FUZZ_CHECK(c.scope && *c.scope, "a challenge without a scope");
    FUZZ_CHECK(!c.tenant || (c.authority && *c.tenant && !strchr(c.tenant, '/')), "tenant");
    (void)_ccopy_challenge_scope_allowed("myvault.vault.azure.net", c.scope);
    (void)_ccopy_challenge_scope_allowed("127.0.0.1:8443", c.scope);
    _ccopy_challenge_cleanup(&c);
}

static void token_answer(const uint8_t *data, size_t size)
{
    _ccopy_token_t t;
    ccopy_error_t error;
    const int64_t now = 1800000000;
    memset(&error, 0, sizeof error);
    if (_ccopy_token_parse(&t, (const char *)data, size, now, &error) != 0) {
        FUZZ_CHECK(error.message[0] && !t.access_token, "a refusal without a message");
        return;
    }
    for (const char *p = t.access_token; *p; p++)
        FUZZ_CHECK(*p > ' ' && *p <= '~', "a token byte 0x%02x that breaks a header", *p);
    FUZZ_CHECK(t.expires_at > now, "a token that expired when it came: %lld", (long long)t.expires_at);
    FUZZ_CHECK(_ccopy_token_refresh_at(t.obtained_at, t.expires_at) <= t.expires_at, "renewed late");
    free(t.access_token);
}

/* secret NUL text: the secret remembered, then the text (with the secret in it) masked */
static void masking(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    char *secret = fuzz_next_part(data, size, &pos), *text = fuzz_next_part(data, size, &pos);
    char *with = malloc(2 * strlen(text) + strlen(secret) + 1);
    size_t half = strlen(text) / 2;
    if (!with)
        abort();
    sprintf(with, "%.*s%s%s", (int)half, text, secret, text + half);
    _ccopy_secret_remember(secret);
    _ccopy_mask_secrets(with);
    FUZZ_CHECK(strlen(secret) < 8 || strchr(secret, '*') || !strstr(with, secret),
               "the secret survived in \"%s\"", with);
    _ccopy_secrets_forget();
    free(with);
    free(secret);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    if (size < 1)
        return 0;
    text = fuzz_text(data + 1, size - 1);
    switch (data[0] & 3) {
    case 0: reference(text); break;
    case 1: challenge(text); break;
    case 2: token_answer(data + 1, size - 1); break;
    default: masking(data + 1, size - 1); break;
    }
    free(text);
    return 0;
}
