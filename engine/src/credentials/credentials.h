/*
 * The credentials layer: what a job's options say about Microsoft Entra ID tokens and HTTPS
 * (option azure_credential, managed_identity_client_id, https_ca_file), shared by the token
 * sources (token.h), Key Vault (keyvault.h) and Blob Storage with Entra ID (destinations/).
 */
#ifndef CCOPY_CREDENTIALS_H
#define CCOPY_CREDENTIALS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "retry.h"
#include "settings.h"

/* Where tokens come from: the choices of option azure_credential, in their order. */
typedef enum _ccopy_credential_kind {
    CCOPY_CREDENTIAL_AUTO = 0,          /* each of the three below, in this order */
    CCOPY_CREDENTIAL_ENVIRONMENT,       /* AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET */
    CCOPY_CREDENTIAL_WORKLOAD_IDENTITY, /* ... AZURE_FEDERATED_TOKEN_FILE */
    CCOPY_CREDENTIAL_MANAGED_IDENTITY   /* App Service (IDENTITY_ENDPOINT), else IMDS */
} _ccopy_credential_kind_t;

typedef struct _ccopy_credential_settings {
    _ccopy_credential_kind_t kind;
    const char *managed_identity_client_id; /* NULL: $AZURE_CLIENT_ID, else system-assigned */
    const char *ca_file;       /* PEM bundle for every HTTPS request; NULL: the system's store */
    _ccopy_backoff_t backoff;  /* retries of one token or secret request */
    long timeout_ms;           /* of one try */
    atomic_int *canceled;      /* may be NULL */
    atomic_llong *retries;     /* may be NULL: counts retried requests */
} _ccopy_credential_settings_t;

/* auto, no client id, the system's CA store unless $SSL_CERT_FILE names one, 10 retries from
 * 200 ms up to 30 s, 60 s a try. */
void _ccopy_credential_settings_default(_ccopy_credential_settings_t *out);
/* The defaults, then what the settings say (azure_credential, managed_identity_client_id,
 * https_ca_file, the retry options); settings may be NULL. Strings are borrowed from the
 * settings (or the environment). */
void _ccopy_credential_settings_from(_ccopy_credential_settings_t *out,
                                     const _ccopy_settings_t *settings);

/* The answers of Key Vault and the token endpoints are JSON objects: parsed into *doc (0), or
 * -1 (nothing to destroy) when the text is not one. */
int _ccopy_json_parse(bson_t *doc, const char *text, size_t len);
/* A string field ("error.message": dotted paths reach inside objects), or NULL. */
const char *_ccopy_json_string(const bson_t *doc, const char *path);
/* A number field, given as a JSON number or a string of digits ("expires_on": IMDS sends
 * strings, Entra ID numbers): 0 with *out set, or -1. */
int _ccopy_json_int(const bson_t *doc, const char *path, int64_t *out);
/* Overwrite a parsed document's bytes (it held a secret or a token), then destroy it. */
void _ccopy_json_wipe(bson_t *doc);

/* Forget every token and Key Vault challenge this process holds (ccopy_cleanup's last call). */
void _ccopy_credentials_forget(void);

#endif
