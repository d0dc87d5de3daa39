/*
 * The process's token cache (see token.h): tokens by source and scope, in memory only, handed
 * out until they are due for renewal. One lock guards the entries; another lets one request
 * for a token run at a time, so threads that need the same token while it is being fetched
 * wait for it instead of asking the source each. A renewal that fails while the old token is
 * still valid for a while hands out the old token: the source may be back by the next one.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common.h"
#include "token.h"

#define SKIPPED_SIZE 400
#define STILL_VALID_SECONDS 30 /* a token this close to its expiry is not handed out */

typedef struct entry {
    char *key;
    char *token;
    int64_t expires_at, refresh_at;
} entry_t;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t fetch_lock = PTHREAD_MUTEX_INITIALIZER;
static entry_t *entries;
static size_t entry_count;

void _ccopy_token_free(char *token)
{
    if (!token)
        return;
    OPENSSL_cleanse(token, strlen(token));
    free(token);
}

static void entry_free(entry_t *e)
{
    free(e->key);
    _ccopy_token_free(e->token);
    memset(e, 0, sizeof *e);
}

/* Source and scope: a client secret counts by its SHA-256, so a new secret (or a rejected one
 * put right) is never answered with a token of the old one. */
static char *cache_key(const _ccopy_token_source_t *s, const char *scope)
{
    char fingerprint[2 * 8 + 1] = "";
    if (s->secret) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int n = 0, i;
        EVP_Digest(s->secret, strlen(s->secret), digest, &n, EVP_sha256(), NULL);
        for (i = 0; i < 8 && i < n; i++)
            snprintf(fingerprint + 2 * i, 3, "%02x", digest[i]);
    }
    return _ccopy_strdup_printf("%d|%s|%s|%s|%s|%s", (int)s->kind, s->authority ? s->authority : "",
                                s->tenant ? s->tenant : "", s->client_id ? s->client_id : "",
                                fingerprint, scope);
}

/* Under cache_lock. */
static entry_t *find(const char *key)
{
    size_t i;
    for (i = 0; i < entry_count; i++)
        if (strcmp(entries[i].key, key) == 0)
            return &entries[i];
    return NULL;
}

/* A copy of the cached token for key when it is not yet due (or, when due_too, still valid). */
static char *cached(const char *key, int due_too)
{
    int64_t now = _ccopy_now_seconds();
    char *token = NULL;
    entry_t *e;
    pthread_mutex_lock(&cache_lock);
    e = find(key);
    if (e && (now < e->refresh_at || (due_too && now < e->expires_at - STILL_VALID_SECONDS)))
        token = _ccopy_strdup(e->token);
    pthread_mutex_unlock(&cache_lock);
    return token;
}

static void store(const char *key, const _ccopy_token_t *t)
{
    entry_t *e;
    pthread_mutex_lock(&cache_lock);
    e = find(key);
    if (!e) {
        entries = _ccopy_realloc(entries, (entry_count + 1) * sizeof *entries);
        e = &entries[entry_count++];
        e->key = _ccopy_strdup(key);
    } else {
        _ccopy_token_free(e->token);
    }
    e->token = _ccopy_strdup(t->access_token);
    e->expires_at = t->expires_at;
    e->refresh_at = _ccopy_token_refresh_at(t->obtained_at, t->expires_at);
    pthread_mutex_unlock(&cache_lock);
}

int _ccopy_token_get(char **out, const char *scope, const _ccopy_credential_settings_t *settings,
                     ccopy_error_t *error)
{
    _ccopy_token_source_t source;
    _ccopy_token_t token;
    char skipped[SKIPPED_SIZE], *key;
    int rc;

    *out = NULL;
    rc = _ccopy_token_source_pick(&source, settings, skipped, sizeof skipped, error);
    if (rc != 0)
        return rc;
    key = cache_key(&source, scope);
    *out = cached(key, 0);
    if (!*out) {
        pthread_mutex_lock(&fetch_lock);
        *out = cached(key, 0); /* another thread may have fetched it meanwhile */
        if (!*out) {
            rc = _ccopy_token_request(&token, &source, scope, settings, skipped, error);
            if (rc == 0) {
                _ccopy_secret_remember(token.access_token);
                store(key, &token);
                *out = token.access_token;
            } else if (rc != CCOPY_ECANCELED) {
                *out = cached(key, 1);
                if (*out)
                    rc = 0;
            }
        }
        pthread_mutex_unlock(&fetch_lock);
    }
    free(key);
    _ccopy_token_source_cleanup(&source);
    return rc;
}

void _ccopy_token_drop(const char *token)
{
    size_t i;
    pthread_mutex_lock(&cache_lock);
    for (i = 0; i < entry_count; i++) {
        if (strcmp(entries[i].token, token) == 0) {
            entry_free(&entries[i]);
            entries[i] = entries[--entry_count];
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
}

void _ccopy_token_cache_clear(void)
{
    size_t i;
    pthread_mutex_lock(&cache_lock);
    for (i = 0; i < entry_count; i++)
        entry_free(&entries[i]);
    free(entries);
    entries = NULL;
    entry_count = 0;
    pthread_mutex_unlock(&cache_lock);
}
