/*
 * Source and target connection strings: the engine's secret masking (every message and log line
 * goes through it) and its use of libmongoc's parser. Masking never grows past the text, never
 * leaves a password libmongoc would use in the text, and never breaks on any bytes; opening a
 * source from the text works or fails with a masked message. mongodb+srv:// strings are masked
 * but not opened: opening one asks DNS.
 */
#include <mongoc/mongoc.h>

#include "common.h"
#include "fuzz.h"
#include "source.h"

/* When the password is written as such in the credentials (scheme://user:PASSWORD@, before the
 * first '/'; not percent-encoded), the text up to and including "PASSWORD@", else NULL. Masking
 * leaves what comes before the password as it was, so the masked text must not start so. */
static char *written(const char *text, const char *password)
{
    const char *s = strstr(text, "://"), *at, *colon;
    size_t end;
    if (!s)
        return NULL;
    s += 3;
    end = strcspn(s, "/");
    at = memchr(s, '@', end);
    colon = at ? memchr(s, ':', (size_t)(at - s)) : NULL;
    if (!colon || (size_t)(at - colon - 1) != strlen(password) ||
        memcmp(colon + 1, password, strlen(password)) != 0)
        return NULL;
    return strndup(text, (size_t)(at - text) + 1);
}

/* Whether the hosts text holds the password because of it: with the password overwritten, the
 * hosts text no longer holds it (":27017" is added to every host, for one). */
static int hosts_leak(const char *text, const char *password, const _ccopy_source_settings_t *settings)
{
    char *other = strdup(text), *at = strstr(other, password);
    _ccopy_source_t *source = NULL;
    int leak;

    memset(at, strchr(password, 'Q') ? 'W' : 'Q', strlen(password));
    if (_ccopy_source_open(&source, other, settings, NULL) != 0) {
        free(other);
        return 0;
    }
    leak = !strstr(source->hosts, password);
    _ccopy_source_close(source);
    free(other);
    return leak;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size), *masked = fuzz_text(data, size);
    _ccopy_source_settings_t settings = {.server_timeout_ms = 1000, .max_clients = 1};
    _ccopy_source_t *source = NULL;
    const char *password = NULL;
    char *span = NULL;
    mongoc_uri_t *uri;
    ccopy_error_t error;

    static int quiet;
    if (!quiet) {
        mongoc_log_set_handler(NULL, NULL); /* libmongoc's parse warnings would flood the log */
        quiet = 1;
    }
    _ccopy_mask_secrets(masked);
    FUZZ_CHECK(strlen(masked) <= strlen(text), "masking made \"%s\" longer", text);
    uri = mongoc_uri_new_with_error(text, NULL);
    if (uri)
        password = mongoc_uri_get_password(uri);
    /* a password of 4 or more characters written as such is masked (to "****") */
    span = password && strlen(password) >= 4 && strspn(password, "*") < strlen(password)
               ? written(text, password)
               : NULL; /* a password of stars looks masked already */
    if (span)
        FUZZ_CHECK(strncmp(masked, span, strlen(span)) != 0, "the password of %s survives as %s",
                   text, masked);
    if (strncasecmp(text, "mongodb+srv:", 12) != 0) {
        memset(&error, 0, sizeof error);
        if (_ccopy_source_open(&source, text, &settings, &error) == 0) {
            FUZZ_CHECK(source->hosts, "no hosts");
            if (span && strstr(source->hosts, password))
                FUZZ_CHECK(!hosts_leak(text, password, &settings), "hosts %s", source->hosts);
            _ccopy_source_close(source);
        } else {
            FUZZ_CHECK(error.message[0], "no message");
            if (span) {
                char *cred = malloc(strlen(password) + 3);
                sprintf(cred, ":%s@", password);
                FUZZ_CHECK(!strstr(error.message, cred), "the password is in %s", error.message);
                free(cred);
            }
        }
    }
    mongoc_uri_destroy(uri);
    free(span);
    free(masked);
    free(text);
    return 0;
}
