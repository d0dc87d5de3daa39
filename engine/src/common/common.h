/*
 * Private helpers shared by every module: setting a ccopy_error_t, masking secrets in text,
 * checked allocation and monotonic clocks. Never installed.
 */
#ifndef CCOPY_COMMON_H
#define CCOPY_COMMON_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cosmocopy/error.h"

#if defined(__GNUC__)
#define CCOPY_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CCOPY_NORETURN __attribute__((noreturn))
#else
#define CCOPY_PRINTF(f, a)
#define CCOPY_NORETURN
#endif

/* Fill *error (if not NULL) and return code, so callers can write `return _ccopy_error_set(...)`.
 * The formatted message is passed through _ccopy_mask_secrets() before it is stored. */
int _ccopy_error_set(ccopy_error_t *error, int code, int domain, int64_t cause, const char *fmt, ...)
    CCOPY_PRINTF(5, 6);

/* Prefix an existing message: "context: old message". Keeps code, domain and cause. */
void _ccopy_error_prefix(ccopy_error_t *error, const char *fmt, ...) CCOPY_PRINTF(2, 3);

/* Replace, in place, with "****": every secret remembered by _ccopy_secret_remember (also when
 * the text ends inside it), every JSON Web Token ("eyJ...": access tokens), the password of
 * every "scheme://user:password@" and the value of every password=, AccountKey=,
 * SharedAccessSignature=, sig=, client_secret=, access_token= and client_assertion= parameter. */
void _ccopy_mask_secrets(char *text);

/* Remember a secret by its value (one read from Key Vault, a client secret, a token), so that
 * every message masks it from now on, wherever it appears. Values shorter than 8 bytes are not
 * remembered: they would mask ordinary words. Thread-safe. */
void _ccopy_secret_remember(const char *value);
/* Forget (and overwrite) every remembered secret: ccopy_cleanup's last call. */
void _ccopy_secrets_forget(void);

/* malloc/calloc/strdup that never return NULL: on failure they print one line and abort,
 * because every caller would otherwise have to unwind a half-built state for an event that
 * a 64-bit process essentially never sees. */
void *_ccopy_malloc(size_t size);
CCOPY_NORETURN void _ccopy_out_of_memory(size_t size); /* the one line, then abort() */
void *_ccopy_calloc(size_t count, size_t size);
void *_ccopy_realloc(void *ptr, size_t size);
char *_ccopy_strdup(const char *text);
char *_ccopy_strndup(const char *text, size_t len); /* at most len bytes, NUL-terminated */
char *_ccopy_strdup_printf(const char *fmt, ...) CCOPY_PRINTF(1, 2);

/* Lists of names (collections, databases, objects): sort by strcmp, and free each and the array. */
void _ccopy_names_sort(char **names, size_t count);
void _ccopy_names_free(char **names, size_t count);

/* Monotonic time in milliseconds, and wall-clock time in whole seconds. */
int64_t _ccopy_monotonic_ms(void);
int64_t _ccopy_now_seconds(void);

/* Sleep up to ms milliseconds, waking early (returning non-zero) once *canceled becomes true. */
int _ccopy_sleep_ms(int64_t ms, atomic_int *canceled);

#endif
