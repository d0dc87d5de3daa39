/**
 * @file export.h
 * @brief Symbol visibility: only symbols marked CCOPY_EXPORT leave the shared library.
 */
#ifndef COSMOCOPY_EXPORT_H
#define COSMOCOPY_EXPORT_H

#if defined(CCOPY_STATIC)
#define CCOPY_EXPORT
#elif defined(__GNUC__) || defined(__clang__)
#define CCOPY_EXPORT __attribute__((visibility("default")))
#else
#define CCOPY_EXPORT
#endif

#endif
