/*
 * Error reporting: names for codes and domains, filling the caller-owned ccopy_error_t, and the
 * secret masking that every message goes through before it reaches a caller.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common.h"

const char *ccopy_code_name(int code)
{
    switch (code) {
    case CCOPY_OK: return "OK";
    case CCOPY_EINVAL: return "EINVAL";
    case CCOPY_ENOTFOUND: return "ENOTFOUND";
    case CCOPY_EAUTH: return "EAUTH";
    case CCOPY_ETHROTTLED: return "ETHROTTLED";
    case CCOPY_ETIMEDOUT: return "ETIMEDOUT";
    case CCOPY_ECANCELED: return "ECANCELED";
    case CCOPY_EIO: return "EIO";
    case CCOPY_ENOMEM: return "ENOMEM";
    case CCOPY_ESERVER: return "ESERVER";
    case CCOPY_ENETWORK: return "ENETWORK";
    case CCOPY_ECORRUPT: return "ECORRUPT";
    case CCOPY_EBUSY: return "EBUSY";
    case CCOPY_EPARTIAL: return "EPARTIAL";
    case CCOPY_EMISMATCH: return "EMISMATCH";
    case CCOPY_EREJECTED: return "EREJECTED";
    case CCOPY_ESTOPPED: return "ESTOPPED";
    default: return "EUNKNOWN";
    }
}

const char *ccopy_domain_name(int domain)
{
    switch (domain) {
    case CCOPY_DOMAIN_ENGINE: return "engine";
    case CCOPY_DOMAIN_MONGO: return "mongo";
    case CCOPY_DOMAIN_HTTP: return "http";
    case CCOPY_DOMAIN_TLS: return "tls";
    case CCOPY_DOMAIN_OS: return "os";
    default: return "unknown";
    }
}

int _ccopy_error_set(ccopy_error_t *error, int code, int domain, int64_t cause, const char *fmt, ...)
{
    if (error) {
        va_list ap;
        error->code = code;
        error->domain = domain;
        error->cause = cause;
        va_start(ap, fmt);
        vsnprintf(error->message, sizeof error->message, fmt, ap);
        va_end(ap);
        /* one line: a server's multi-line answer must not break a log line or a table */
        for (char *p = error->message; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        _ccopy_mask_secrets(error->message);
    }
    return code;
}

void _ccopy_error_prefix(ccopy_error_t *error, const char *fmt, ...)
{
    char old[CCOPY_ERROR_MESSAGE_SIZE];
    size_t n;
    va_list ap;

    if (!error)
        return;
    memcpy(old, error->message, sizeof old);
    va_start(ap, fmt);
    vsnprintf(error->message, sizeof error->message, fmt, ap);
    va_end(ap);
    n = strlen(error->message);
    if (n + 2 < sizeof error->message) {
        memcpy(error->message + n, ": ", 3);
        strncat(error->message, old, sizeof error->message - n - 3);
    }
    _ccopy_mask_secrets(error->message);
}

/* Write the stars that stand for a masked run of `run` bytes at `at`: "****", or as many '*' as
 * the run has when it is shorter, so that masking never makes a text longer. Returns how many. */
static size_t write_stars(char *at, size_t run)
{
    size_t n = run < 4 ? run : 4;
    memset(at, '*', n);
    return n;
}

static int prefix_at(const char *text, size_t i, const char *prefix)
{
    size_t n = strlen(prefix);
    size_t k;
    for (k = 0; k < n; k++) {
        if (!text[i + k] || tolower((unsigned char)text[i + k]) != tolower((unsigned char)prefix[k]))
            return 0;
    }
    return 1;
}

void ccopy_mask_secrets(char *text)
{
    _ccopy_mask_secrets(text);
}

/* ---- secrets known by their value --------------------------------------------------------- */

#define REMEMBERED_MAX 256
#define REMEMBERED_MIN_LEN 8

static pthread_mutex_t remembered_lock = PTHREAD_MUTEX_INITIALIZER;
static char *remembered[REMEMBERED_MAX];
static size_t remembered_count;

void _ccopy_secret_remember(const char *value)
{
    size_t i;
    if (!value || strlen(value) < REMEMBERED_MIN_LEN)
        return;
    pthread_mutex_lock(&remembered_lock);
    for (i = 0; i < remembered_count && strcmp(remembered[i], value) != 0; i++)
        ;
    if (i == remembered_count) {
        if (remembered_count == REMEMBERED_MAX) {
            /* the oldest goes: a process that read 256 secrets has long used the first */
            OPENSSL_cleanse(remembered[0], strlen(remembered[0]));
            free(remembered[0]);
            memmove(remembered, remembered + 1, (REMEMBERED_MAX - 1) * sizeof *remembered);
            remembered_count--;
        }
        remembered[remembered_count++] = _ccopy_strdup(value);
    }
    pthread_mutex_unlock(&remembered_lock);
}

void _ccopy_secrets_forget(void)
{
    size_t i;
    pthread_mutex_lock(&remembered_lock);
    for (i = 0; i < remembered_count; i++) {
        OPENSSL_cleanse(remembered[i], strlen(remembered[i]));
        free(remembered[i]);
    }
    remembered_count = 0;
    pthread_mutex_unlock(&remembered_lock);
}

/* Mark every occurrence of a remembered secret, and a secret cut off by the end of the text
 * (a message truncated to fit) when at least REMEMBERED_MIN_LEN bytes of it are there. */
static void mark_remembered(const char *text, unsigned char *masked)
{
    size_t k;
    pthread_mutex_lock(&remembered_lock);
    for (k = 0; k < remembered_count; k++) {
        const char *secret = remembered[k];
        size_t len = strlen(secret), i = 0;
        while (text[i]) {
            size_t left = strnlen(text + i, len);
            if (text[i] == secret[0] && (left == len || left >= REMEMBERED_MIN_LEN) &&
                memcmp(text + i, secret, left) == 0) {
                memset(masked + i, 1, left);
                i += left;
            } else
                i++;
        }
    }
    pthread_mutex_unlock(&remembered_lock);
}

static int base64url_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* A JSON Web Token (an Entra ID access token, a federated token): "eyJ" Base64url, a '.', and
 * more Base64url and dots. Marked wherever it appears, whoever put it in the text; one right
 * after a masked secret starts there too. */
static void mark_jwts(const char *text, unsigned char *masked)
{
    size_t i = 0;
    while (text[i]) {
        size_t end = i, dots = 0;
        if (strncmp(text + i, "eyJ", 3) != 0 ||
            (i > 0 && base64url_char(text[i - 1]) && !masked[i - 1])) {
            i++;
            continue;
        }
        while (base64url_char(text[end]) || text[end] == '.')
            dots += text[end++] == '.';
        if (dots > 0 && end - i >= 16)
            memset(masked + i, 1, end - i);
        i = end;
    }
}

/* The length of a key=value key at text[i] (with its '=') whose value is a secret that the fixed
 * keys do not name, or 0: any option whose name ends in "password" (libmongoc's
 * tlsCertificateKeyFilePassword, sslPEMKeyPassword...) and authMechanismProperties (which may
 * hold AWS_SESSION_TOKEN:...). */
static size_t other_secret_key(const char *text, size_t i)
{
    size_t k = i;
    while (isalnum((unsigned char)text[k]) || text[k] == '_' || text[k] == '.' || text[k] == '-')
        k++;
    if (text[k] != '=' || k == i)
        return 0;
    if ((k - i >= 8 && strncasecmp(text + k - 8, "password", 8) == 0) ||
        (k - i == 23 && strncasecmp(text + i, "authMechanismProperties", 23) == 0))
        return k - i + 1;
    return 0;
}

void _ccopy_mask_secrets(char *text)
{
    static const char *const keys[] = {"password=", "accountkey=", "sharedaccesssignature=", "sig=",
                                       "client_secret=", "access_token=", "client_assertion="};
    size_t len, i, out;
    unsigned char *masked;

    if (!text)
        return;
    /* Every rule marks what it masks on the text as it is, and the marked runs become "****"
     * after: masking a URI's credentials first had taken the "sig=" before a SAS signature
     * holding an '@' with it, and left the signature (found by tests/fuzz/fuzz_blob_account). */
    len = strlen(text);
    masked = calloc(len + 1, 1);
    if (!masked) {
        /* no memory to tell the secret apart: none of it is left */
        text[write_stars(text, len)] = '\0';
        return;
    }
    mark_remembered(text, masked);
    mark_jwts(text, masked);
    /* scheme://user:password@host. The credentials end at the last '@' before the first '/':
     * libmongoc takes a password holding '?', ',', quotes, blanks or line breaks unescaped, so
     * none of those can end the scan. Text after a URI without a '/' may be masked with it when
     * it holds an '@'; a password is never left. */
    for (i = 0; text[i]; i++) {
        if (text[i] == ':' && text[i + 1] == '/' && text[i + 2] == '/') {
            size_t user = i + 3, colon = 0, at = 0, k;
            for (k = user; text[k] && text[k] != '/'; k++) {
                if (text[k] == ':' && !colon)
                    colon = k;
                if (text[k] == '@')
                    at = k; /* the last '@' ends the credentials */
            }
            if (colon && at > colon)
                memset(masked + colon + 1, 1, at - colon - 1);
        }
    }
    for (i = 0; text[i]; i++) {
        size_t j, key = 0;
        if (i == 0 || strchr("?&; \t'\"", text[i - 1]))
            key = other_secret_key(text, i);
        for (j = 0; j < sizeof keys / sizeof keys[0] + (key != 0); j++) {
            if (j == sizeof keys / sizeof keys[0] ||
                ((i == 0 || strchr("?&; \t'\"", text[i - 1])) && prefix_at(text, i, keys[j]))) {
                size_t from = i + (j < sizeof keys / sizeof keys[0] ? strlen(keys[j]) : key),
                       to = from;
                /* a SAS inside a connection string holds '&': it ends at ';' */
                const char *stop = j == 2 ? "; \t\n'\"" : "&; \t\n'\"";
                /* a value that starts with blanks or quotes is still a value ("sig= abc"), and
                 * the blanks and quotes go with it: they may be all the value there is */
                while (text[to] && strchr(" \t'\"", text[to]))
                    to++;
                while (text[to] && !strchr(stop, text[to]))
                    to++;
                memset(masked + from, 1, to - from);
                if (to > i + 1)
                    i = to - 1;
                break;
            }
        }
    }
    /* never longer than what it replaces, so in place */
    for (i = out = 0; i < len;) {
        size_t run = 0;
        while (i + run < len && masked[i + run])
            run++;
        if (run) {
            out += write_stars(text + out, run);
            i += run;
        } else
            text[out++] = text[i++];
    }
    text[out] = '\0';
    free(masked);
}

void _ccopy_out_of_memory(size_t size)
{
    fprintf(stderr, "cosmocopy: out of memory allocating %zu bytes\n", size);
    abort();
}

void *_ccopy_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        _ccopy_out_of_memory(size);
    return p;
}

void *_ccopy_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        _ccopy_out_of_memory(count * size);
    return p;
}

void *_ccopy_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        _ccopy_out_of_memory(size);
    return p;
}

char *_ccopy_strdup(const char *text)
{
    size_t n = strlen(text) + 1;
    char *copy = _ccopy_malloc(n);
    memcpy(copy, text, n);
    return copy;
}

char *_ccopy_strndup(const char *text, size_t len)
{
    size_t n = strnlen(text, len);
    char *copy = _ccopy_malloc(n + 1);
    memcpy(copy, text, n);
    copy[n] = '\0';
    return copy;
}

char *_ccopy_strdup_printf(const char *fmt, ...)
{
    va_list ap, ap2;
    int n;
    char *out;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    out = _ccopy_malloc((size_t)n + 1);
    vsnprintf(out, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return out;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void _ccopy_names_sort(char **names, size_t count)
{
    if (count > 1)
        qsort(names, count, sizeof *names, compare_names);
}

void _ccopy_names_free(char **names, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int64_t _ccopy_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t _ccopy_now_seconds(void)
{
    return (int64_t)time(NULL);
}

int _ccopy_sleep_ms(int64_t ms, atomic_int *canceled)
{
    int64_t now = _ccopy_monotonic_ms();
    /* a back-off after RetryAfterMs=<int64 max> is INT64_MAX ms: wait until canceled */
    int64_t deadline = ms > INT64_MAX - now ? INT64_MAX : now + ms;
    for (;;) {
        int64_t left = deadline - _ccopy_monotonic_ms();
        struct timespec ts;
        if (canceled && atomic_load(canceled))
            return 1;
        if (left <= 0)
            return 0;
        if (left > 50)
            left = 50;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000L;
        nanosleep(&ts, NULL);
    }
}
