/**
 * @file error.h
 * @brief Return codes and the caller-owned error struct used by every fallible call.
 *
 * Fallible calls return 0 or a negative ::ccopy_code_t; constructors return NULL.
 * Details go into an optional, caller-owned ::ccopy_error_t (pass NULL to ignore them), written
 * only when the call fails: a call that succeeds leaves it as it was, so test the return value,
 * not error.code. Nothing is kept in thread-local "last error" state. Memory: like libbson and
 * libmongoc, which it runs on, the library ends the process with a message when one of its own
 * allocations fails (nothing is half-written: a window is complete only once its manifest is);
 * CCOPY_ENOMEM is returned where a library it calls reports the failure (OpenSSL, a codec). A NULL handle (job, options, catalog) or
 * output pointer is CCOPY_EINVAL, never a crash: a call returning a count or text then returns
 * 0 or NULL, and a setter returning nothing does nothing.
 */
#ifndef COSMOCOPY_ERROR_H
#define COSMOCOPY_ERROR_H

#include <stdint.h>

#include "cosmocopy/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a caller does next; keep this set small. */
typedef enum ccopy_code {
    CCOPY_OK = 0,
    CCOPY_EINVAL = -1,     /**< bad argument, option, time or connection string: fix the input   */
    CCOPY_ENOTFOUND = -2,  /**< database, collection, folder or window does not exist           */
    CCOPY_EAUTH = -3,      /**< authentication or authorisation refused                          */
    CCOPY_ETHROTTLED = -4, /**< the server kept throttling past the retry budget                 */
    CCOPY_ETIMEDOUT = -5,  /**< a host did not answer in time                                    */
    CCOPY_ECANCELED = -6,  /**< ccopy_job_cancel() was called; completed windows are kept        */
    CCOPY_EIO = -7,        /**< local I/O failed (cause holds errno, e.g. ENOSPC)                */
    CCOPY_ENOMEM = -8,     /**< an allocation a library reported failed (see above)              */
    CCOPY_ESERVER = -9,    /**< the server answered with an error that retrying cannot fix       */
    CCOPY_ENETWORK = -10,  /**< the connection failed and stayed failed past the retry budget    */
    CCOPY_ECORRUPT = -11,  /**< stored data does not match its manifest                          */
    CCOPY_EBUSY = -12,     /**< another job holds the destination's lock                         */
    CCOPY_EPARTIAL = -13,  /**< not returned by this version: a job whose windows failed returns
                                the first failure's code, the summary counting them; kept so
                                that the values stay as they are                               */
    CCOPY_EMISMATCH = -14, /**< verify compared and found differences; see the summary           */
    CCOPY_EREJECTED = -15, /**< the target refused some documents for good (too large...)       */
    CCOPY_ESTOPPED = -16   /**< a callback returned non-zero (cause holds its value); completed
                                windows are kept, running again continues                      */
} ccopy_code_t;

/** Which layer produced the error; ccopy_error_t.cause is that layer's own code. */
typedef enum ccopy_domain {
    CCOPY_DOMAIN_ENGINE = 1, /**< cosmocopy itself (cause is 0 or a ccopy_code_t)        */
    CCOPY_DOMAIN_MONGO = 2,  /**< server or driver (cause: server code or mongoc code)    */
    CCOPY_DOMAIN_HTTP = 3,   /**< HTTP (cause: status code or CURLcode)                   */
    CCOPY_DOMAIN_TLS = 4,    /**< TLS (cause: library code)                               */
    CCOPY_DOMAIN_OS = 5      /**< operating system (cause: errno)                         */
} ccopy_domain_t;

/** Size of ccopy_error_t.message including the terminating NUL. */
#define CCOPY_ERROR_MESSAGE_SIZE 496

/**
 * Details of a failed call. Owned by the caller, usually on the stack.
 * The message is one line for a person and never holds a secret.
 */
typedef struct ccopy_error {
    int32_t code;                            /**< the ccopy_code_t the call returned         */
    int32_t domain;                          /**< a ccopy_domain_t                            */
    int64_t cause;                           /**< the domain's own code                       */
    char message[CCOPY_ERROR_MESSAGE_SIZE];  /**< NUL-terminated, possibly truncated          */
} ccopy_error_t;

/**
 * Symbolic name of a code, such as "EINVAL".
 * @return a static string; "EUNKNOWN" for a value outside ::ccopy_code_t. Thread-safe.
 */
CCOPY_EXPORT const char *ccopy_code_name(int code);

/**
 * Name of a domain, such as "mongo".
 * @return a static string; "unknown" for a value outside ::ccopy_domain_t. Thread-safe.
 */
CCOPY_EXPORT const char *ccopy_domain_name(int domain);

/**
 * Mask secrets in text, in place: the password of every "scheme://user:password@", the
 * values of password=, AccountKey=, SharedAccessSignature=, sig=, client_secret=,
 * access_token= and client_assertion=, every JSON Web Token (an access token), and every
 * secret the library read from Azure Key Vault or a token endpoint in this process become
 * "****" (or as many '*' as the secret has characters, when shorter).
 * The text never grows. Thread-safe. Every message the library produces is already masked;
 * this is for text a host application prints itself (its own arguments, say).
 */
CCOPY_EXPORT void ccopy_mask_secrets(char *text);

#ifdef __cplusplus
}
#endif

#endif
