/*
 * What the credentials layer shares (see credentials.h): the settings a job's options give,
 * reading the JSON answers of Key Vault and the token endpoints, and forgetting every token and
 * challenge when the library is cleaned up.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common.h"
#include "credentials.h"
#include "keyvault.h"
#include "token.h"

void _ccopy_credential_settings_default(_ccopy_credential_settings_t *s)
{
    const char *ca = getenv("SSL_CERT_FILE");
    memset(s, 0, sizeof *s);
    s->kind = CCOPY_CREDENTIAL_AUTO;
    s->ca_file = ca && *ca ? ca : NULL;
    s->backoff = (_ccopy_backoff_t){10, 200, 30000};
    s->timeout_ms = 60000;
}

void _ccopy_credential_settings_from(_ccopy_credential_settings_t *s, const _ccopy_settings_t *settings)
{
    _ccopy_credential_settings_default(s);
    if (!settings)
        return;
    /* the choices of option azure_credential are in the order of the enum */
    s->kind = (_ccopy_credential_kind_t)settings->azure_credential_choice;
    s->managed_identity_client_id = settings->managed_identity_client_id;
    if (settings->https_ca_file)
        s->ca_file = settings->https_ca_file;
    s->backoff.max_retries = (int)settings->retry_budget;
    s->backoff.base_ms = settings->retry_base_ms;
    s->backoff.cap_ms = settings->retry_max_delay_ms;
}

void _ccopy_credentials_forget(void)
{
    _ccopy_token_cache_clear();
    _ccopy_keyvault_forget();
    _ccopy_secrets_forget();
}

/* ---- JSON answers ------------------------------------------------------------------------- */

int _ccopy_json_parse(bson_t *doc, const char *text, size_t len)
{
    bson_error_t e;
    if (!text || len == 0 || len > INT32_MAX)
        return -1;
    return bson_init_from_json(doc, text, (ssize_t)len, &e) ? 0 : -1;
}

const char *_ccopy_json_string(const bson_t *doc, const char *path)
{
    bson_iter_t it, found;
    if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found) &&
        BSON_ITER_HOLDS_UTF8(&found))
        return bson_iter_utf8(&found, NULL);
    return NULL;
}

int _ccopy_json_int(const bson_t *doc, const char *path, int64_t *out)
{
    bson_iter_t it, found;
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &found))
        return -1;
    if (BSON_ITER_HOLDS_INT32(&found) || BSON_ITER_HOLDS_INT64(&found)) {
        *out = bson_iter_as_int64(&found);
        return 0;
    }
    if (BSON_ITER_HOLDS_DOUBLE(&found)) {
        double d = bson_iter_double(&found);
        if (!(d >= 0 && d < 9.0e15))
            return -1;
        *out = (int64_t)d;
        return 0;
    }
    if (BSON_ITER_HOLDS_UTF8(&found)) {
        const char *text = bson_iter_utf8(&found, NULL);
        char *end;
        long long v;
        if (!*text || strlen(text) > 18 || text[0] < '0' || text[0] > '9')
            return -1;
        v = strtoll(text, &end, 10);
        if (*end)
            return -1;
        *out = v;
        return 0;
    }
    return -1;
}

void _ccopy_json_wipe(bson_t *doc)
{
    /* the document's bytes are ours to overwrite: it is destroyed right after */
    OPENSSL_cleanse((void *)bson_get_data(doc), doc->len);
    bson_destroy(doc);
}
