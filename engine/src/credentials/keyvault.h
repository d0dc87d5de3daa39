/*
 * Azure Key Vault secrets behind connection-string options (source, target,
 * blob_connection_string): references, the vault's authentication challenge, and reading a
 * secret's value when a job opens what the option names. The value is never stored in the
 * options, the summary or a manifest, and is masked in every message (_ccopy_secret_remember).
 *
 * References: kv://VAULT/SECRET[/VERSION], where VAULT is a vault name (https://VAULT.vault.azure.net)
 * or, when it holds a '.' or ':', a host[:port] used as it is (https://HOST[:PORT]); or the
 * secret's URL, https://HOST[:PORT]/secrets/NAME[/VERSION]. No version: the latest.
 *
 * Challenge flow (as the Azure SDKs do it): the first request goes without a token; the 401's
 * WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="<resource>" (or
 * authorization_uri=, scope=) says which token the vault takes: scope = resource + "/.default".
 * The request is sent again with that token. The challenge is kept per vault, so later reads
 * send the token at once.
 */
#ifndef CCOPY_KEYVAULT_H
#define CCOPY_KEYVAULT_H

#include <stddef.h>

#include "cosmocopy/error.h"
#include "credentials.h"

#define CCOPY_KEYVAULT_API_VERSION "7.4"

/* Where a secret is. */
typedef struct _ccopy_keyvault_ref {
    char *vault_url; /* https://HOST[:PORT] */
    char *host;      /* HOST[:PORT], for messages */
    char *name;
    char *version;   /* NULL: the latest */
} _ccopy_keyvault_ref_t;

/* Whether text is meant as a Key Vault reference: it starts with kv:// or https:// (neither
 * starts a MongoDB connection string nor a storage connection string). */
int _ccopy_keyvault_is_reference(const char *text);

/* Parse a reference. EINVAL naming what is wrong (no vault, no secret name, a name with
 * characters Key Vault does not allow, a URL without /secrets/NAME ...). */
int _ccopy_keyvault_ref_parse(_ccopy_keyvault_ref_t *ref, const char *text, ccopy_error_t *error);
void _ccopy_keyvault_ref_cleanup(_ccopy_keyvault_ref_t *ref);

/* A Bearer challenge (WWW-Authenticate). */
typedef struct _ccopy_challenge {
    char *authority; /* https://login.microsoftonline.com/TENANT, as given; NULL when absent */
    char *tenant;    /* its last path segment; NULL when absent */
    char *scope;     /* scope=, else resource= + "/.default" */
} _ccopy_challenge_t;

/* Parse a WWW-Authenticate value: 0 when it is a Bearer challenge that names a scope or a
 * resource, else -1 (nothing to clean up). */
int _ccopy_challenge_parse(_ccopy_challenge_t *challenge, const char *header);
void _ccopy_challenge_cleanup(_ccopy_challenge_t *challenge);

/* Whether a vault at host may be sent a token for scope: the scope's resource must be a Key
 * Vault one (its host starts with "vault." or "managedhsm.", or is the vault's own host), and a
 * vault under a Key Vault domain (NAME.vault.azure.net) must be under the resource's domain.
 * This keeps a vault URL that points elsewhere from being handed a token for another service. */
int _ccopy_challenge_scope_allowed(const char *host, const char *scope);

/* The value of the secret ref names (a new string; free it with _ccopy_secret_free()).
 * Errors, each naming the secret and the vault, never a value: ENOTFOUND (no such secret or
 * version, or a vault host that does not resolve), EAUTH (the secret is disabled, the vault
 * refused the token, no token could be had), ENETWORK/ESERVER after the retries, EINVAL (a
 * certificate that cannot be checked, an answer without a value). */
int _ccopy_keyvault_get_secret(char **out, const _ccopy_keyvault_ref_t *ref,
                               const _ccopy_credential_settings_t *settings, ccopy_error_t *error);

/* The connection string an option's value stands for: *out is NULL when value is not a
 * reference (use value as it is), else the secret's value (new string; free it with
 * _ccopy_secret_free()), remembered for masking. Errors as above, prefixed "option NAME". */
int _ccopy_keyvault_resolve(char **out, const char *option, const char *value,
                            const _ccopy_credential_settings_t *settings, ccopy_error_t *error);

/* Check that a reference parses (options are checked before a job starts): 0 when value is not
 * a reference or a well-formed one, else EINVAL prefixed "option NAME". */
int _ccopy_keyvault_check(const char *option, const char *value, ccopy_error_t *error);

/* Overwrite a secret's value with zeros and free it; NULL is fine. */
void _ccopy_secret_free(char *value);

/* Forget the challenges kept per vault. */
void _ccopy_keyvault_forget(void);

#endif
