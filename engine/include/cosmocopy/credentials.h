/**
 * @file credentials.h
 * @brief Azure Key Vault references and Microsoft Entra ID credentials.
 *
 * **Key Vault references.** Wherever a connection string is taken (options `source`, `target`,
 * `blob_connection_string`, and `$AZURE_STORAGE_CONNECTION_STRING`), a reference to a Key Vault
 * secret that holds it works too:
 *
 * - `kv://VAULT/SECRET[/VERSION]`: VAULT is a vault name (`https://VAULT.vault.azure.net`) or,
 *   when it holds a '.' or a ':', a host[:port] used as it is (`kv://127.0.0.1:8443/src`);
 * - the secret's URL, `https://HOST[:PORT]/secrets/SECRET[/VERSION]`.
 *
 * Without a version, the latest. The secret is read when the job opens what the option names
 * (the form is checked by ccopy_job_new()); its value is never kept in the options, the
 * summary or a manifest, and every message masks it (ccopy_mask_secrets()).
 *
 * **Tokens** come from the first source that is set up, in this order (option
 * `azure_credential` picks one: `environment`, `workload-identity`, `managed-identity`):
 *
 * 1. environment: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` (a service
 *    principal), from `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com`);
 * 2. workload identity: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE`
 *    (read again for every token request);
 * 3. managed identity: App Service (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`), else the instance
 *    metadata service (`AZURE_POD_IDENTITY_AUTHORITY_HOST` or `http://169.254.169.254`); a
 *    user-assigned identity by option `managed_identity_client_id` (default `$AZURE_CLIENT_ID`).
 *
 * The tenant is `AZURE_TENANT_ID`'s; the tenant a vault's challenge names is only reported when
 * the vault refuses the token. Tokens are kept in memory for the whole process, shared by every
 * job and thread, and renewed 5 minutes before they expire (at half their life when they live
 * less than 10 minutes); ccopy_cleanup()'s last call forgets them. Key Vault's 401 challenge
 * says which token it takes (its `resource` or `scope`); a token for any service other than
 * Key Vault is never sent to a vault.
 *
 * **Blob Storage with Entra ID**: a blob connection string without `AccountKey` and without
 * `SharedAccessSignature`, or a container URL without a SAS, authorises every request with a
 * token for `https://storage.azure.com/.default` (https only).
 *
 * **HTTPS**: certificates are always checked, against the system's CA store, or the PEM bundle
 * of option `https_ca_file` (default `$SSL_CERT_FILE`).
 */
#ifndef COSMOCOPY_CREDENTIALS_H
#define COSMOCOPY_CREDENTIALS_H

#include "cosmocopy/error.h"
#include "cosmocopy/export.h"
#include "cosmocopy/options.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Whether text is meant as a Key Vault reference: it starts with `kv://` or `https://` (which
 * neither a MongoDB nor a storage connection string does). It may still be malformed.
 * Thread-safe.
 */
CCOPY_EXPORT int ccopy_keyvault_is_reference(const char *text);

/**
 * Read the value of the Key Vault secret a reference names, as a job does.
 *
 * @param out_value  receives the value (free it with ccopy_free()); NULL on error
 * @param reference  `kv://VAULT/SECRET[/VERSION]` or `https://HOST/secrets/SECRET[/VERSION]`
 * @param options    `azure_credential`, `managed_identity_client_id`, `https_ca_file` and the
 *                   `retry_*` options are used; NULL: every one at its default
 * @return 0; CCOPY_EINVAL for a malformed reference or a certificate that cannot be checked;
 *         CCOPY_ENOTFOUND when the secret (or version) does not exist or the vault's host does
 *         not resolve; CCOPY_EAUTH when the secret is disabled, no credential is available
 *         (the message names each source tried and why it was skipped), Entra ID refused the
 *         credential, or the vault refused the token; CCOPY_ENETWORK or CCOPY_ESERVER once the
 *         retries are spent. Messages name the secret and the vault, never a value.
 *
 * Thread-safe; blocks for the requests it makes. The value is remembered for masking.
 */
CCOPY_EXPORT int ccopy_keyvault_resolve(char **out_value, const char *reference,
                                        const ccopy_options_t *options, ccopy_error_t *error);

#ifdef __cplusplus
}
#endif

#endif
