/*
 * Microsoft Entra ID access tokens, the way the Azure SDKs get them: from the environment (a
 * service principal's client secret, or workload identity's federated token file), else from
 * a managed identity (App Service's IDENTITY_ENDPOINT, else the instance metadata service).
 *
 * Tokens are kept in memory only, in one cache for the whole process (thread-safe), keyed by
 * where they came from (source, authority, tenant, client id) and the scope; a token is used
 * until 5 minutes before it expires, or until half its life has passed when it lives shorter
 * than 10 minutes. Token requests are retried like every other request.
 */
#ifndef CCOPY_TOKEN_H
#define CCOPY_TOKEN_H

#include <stdint.h>

#include "cosmocopy/error.h"
#include "credentials.h"

#define CCOPY_SCOPE_STORAGE "https://storage.azure.com/.default"
#define CCOPY_SCOPE_KEYVAULT "https://vault.azure.net/.default"

/* A token for scope ("https://vault.azure.net/.default"): *out is a new string, to be freed
 * with _ccopy_token_free(). Errors: EAUTH when no source is available (the message names each
 * source tried and why it was skipped) or a source refused (naming it and its reason); the
 * request's own error when the source could not be reached (ENETWORK, ECANCELED ...). */
int _ccopy_token_get(char **out, const char *scope, const _ccopy_credential_settings_t *settings,
                     ccopy_error_t *error);

/* Overwrite a token with zeros and free it; NULL is fine. */
void _ccopy_token_free(char *token);

/* Drop `token` from the cache (a service refused it): the next get asks its source again. */
void _ccopy_token_drop(const char *token);

/* Forget every cached token. */
void _ccopy_token_cache_clear(void);

/* ---- token.c's sources (token_sources.c) ---- */

/* One token as a source answered it. */
typedef struct _ccopy_token {
    char *access_token;
    int64_t expires_at;   /* wall clock, epoch seconds */
    int64_t obtained_at;
} _ccopy_token_t;

/* The source a token comes from: which, and what identifies it in the cache. */
typedef struct _ccopy_token_source {
    _ccopy_credential_kind_t kind;  /* ENVIRONMENT, WORKLOAD_IDENTITY or MANAGED_IDENTITY */
    char *authority;     /* https://login.microsoftonline.com, an App Service or IMDS endpoint */
    char *tenant;        /* NULL for managed identity */
    char *client_id;     /* NULL: a system-assigned managed identity */
    char *secret;        /* the client secret, or the federated token file's path */
    int app_service;     /* managed identity: App Service (IDENTITY_ENDPOINT), else IMDS */
    int probe;           /* IMDS in auto mode: one short try first, to see that it is there */
} _ccopy_token_source_t;

void _ccopy_token_source_cleanup(_ccopy_token_source_t *source);

/* Pick the source the settings and the environment allow. 0 with *source filled; EAUTH with
 * "no credential available" and why each source was skipped in *error when there is none
 * (managed identity is always available but for a probe of IMDS, done at the first request). */
int _ccopy_token_source_pick(_ccopy_token_source_t *source,
                             const _ccopy_credential_settings_t *settings, char *skipped,
                             size_t skipped_size, ccopy_error_t *error);

/* Ask the source for a token for scope. skipped: what the pick said of the sources before it,
 * for the "no credential available" error of a probe that found no IMDS. */
int _ccopy_token_request(_ccopy_token_t *token, const _ccopy_token_source_t *source,
                         const char *scope, const _ccopy_credential_settings_t *settings,
                         const char *skipped, ccopy_error_t *error);

/* A token answer's fields (expires_in, expires_on as JSON numbers or strings), for tests: 0 with
 * *token filled, or EAUTH naming what is missing. now: the wall clock. */
int _ccopy_token_parse(_ccopy_token_t *token, const char *json, size_t len, int64_t now,
                       ccopy_error_t *error);

/* When a token obtained at obtained_at and expiring at expires_at is renewed. */
int64_t _ccopy_token_refresh_at(int64_t obtained_at, int64_t expires_at);

#endif
