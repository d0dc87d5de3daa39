/*
 * Shared by the fuzz targets: a NUL-terminated copy of the input, and a check that aborts (so
 * libFuzzer records the input) with the property that failed.
 */
#ifndef CCOPY_FUZZ_H
#define CCOPY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosmocopy/cosmocopy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* libFuzzer calls this once before the first input: what a program embedding the engine does. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ccopy_init();
    return 0;
}

#define FUZZ_CHECK(cond, ...)                                                              \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* The bytes as a C string of exactly size + 1 bytes (ASan sees any read past the NUL). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

/* Cut the input at the first NUL byte of [*pos, size) into a new C string; *pos moves past it. */
static inline char *fuzz_next_part(const uint8_t *data, size_t size, size_t *pos)
{
    size_t start = *pos, end = start;
    while (end < size && data[end] != '\0')
        end++;
    *pos = end < size ? end + 1 : size;
    return fuzz_text(data + start, end - start);
}

#endif
