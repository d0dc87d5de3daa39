/**
 * @file cosmocopy.h
 * @brief The umbrella header of libcosmocopy: include this one.
 *
 * Call ccopy_init() once before anything else (it is reference-counted, so libraries embedding
 * cosmocopy may each call it) and ccopy_cleanup() as many times when done.
 */
#ifndef COSMOCOPY_H
#define COSMOCOPY_H

#include "cosmocopy/catalog.h"
#include "cosmocopy/credentials.h"
#include "cosmocopy/error.h"
#include "cosmocopy/export.h"
#include "cosmocopy/job.h"
#include "cosmocopy/manifest.h"
#include "cosmocopy/options.h"
#include "cosmocopy/results.h"
#include "cosmocopy/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Initialise the library (and libmongoc, which is safe to initialise more than once).
 * Reference-counted; thread-safe.
 */
CCOPY_EXPORT void ccopy_init(void);

/**
 * Drop one reference taken by ccopy_init(). The library never calls mongoc_cleanup(): the host
 * application may still be using libmongoc; call it yourself at exit if you want its memory back.
 */
CCOPY_EXPORT void ccopy_cleanup(void);

/** The library's version, such as "0.1.0". Static string. */
CCOPY_EXPORT const char *ccopy_version(void);

#ifdef __cplusplus
}
#endif

#endif
