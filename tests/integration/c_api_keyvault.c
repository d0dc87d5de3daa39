/*
 * A C service reading a connection string from Azure Key Vault the way a job does, through
 * ccopy_keyvault_resolve(), with the https_ca_file option. Used by test_c_api.py.
 *
 * Usage: c_api_keyvault REFERENCE CA_FILE
 * Prints {"rc", "code", "message", "value"} (value: the secret, or null).
 */
#include <stdio.h>

#include <cosmocopy/cosmocopy.h>

int main(int argc, char **argv)
{
    ccopy_options_t *opts;
    ccopy_error_t err = {0};
    char *value = NULL;
    int rc;

    if (argc != 3) {
        fprintf(stderr, "usage: c_api_keyvault REFERENCE CA_FILE\n");
        return 2;
    }
    ccopy_init();
    opts = ccopy_options_new();
    ccopy_options_set(opts, "https_ca_file", argv[2], NULL);
    rc = ccopy_keyvault_resolve(&value, argv[1], opts, &err);
    /* the values here are test strings without quotes or backslashes */
    printf("{\"rc\": %d, \"code\": \"%s\", \"message\": \"%s\", \"value\": %s%s%s, "
           "\"is_reference\": %d}\n",
           rc, rc ? ccopy_code_name(err.code) : "OK", rc ? err.message : "", value ? "\"" : "",
           value ? value : "null", value ? "\"" : "", ccopy_keyvault_is_reference(argv[1]));
    ccopy_free(value);
    ccopy_options_destroy(opts);
    ccopy_cleanup();
    return rc == 0 ? 0 : 1;
}
