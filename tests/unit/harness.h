/*
 * A minimal test harness: each CCOPY_TEST(name) is a case; the binary runs the case named on its
 * command line (or all of them), so CMake registers every case as its own ctest test.
 */
#ifndef CCOPY_TEST_HARNESS_H
#define CCOPY_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*ccopy_test_fn)(void);
struct ccopy_test_case {
    const char *name;
    ccopy_test_fn fn;
};

#define CCOPY_MAX_TESTS 256
static struct ccopy_test_case ccopy_tests[CCOPY_MAX_TESTS];
static int ccopy_test_count;
static int ccopy_test_failures;

#define CCOPY_TEST(case_name)                                                    \
    static void test_##case_name(void);                                          \
    __attribute__((constructor)) static void register_##case_name(void)         \
    {                                                                            \
        ccopy_tests[ccopy_test_count].name = #case_name;                         \
        ccopy_tests[ccopy_test_count++].fn = test_##case_name;                   \
    }                                                                            \
    static void test_##case_name(void)

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
            ccopy_test_failures++;                                                    \
        }                                                                             \
    } while (0)

#define CHECK_INT(a, b)                                                                     \
    do {                                                                                    \
        long long va_ = (long long)(a), vb_ = (long long)(b);                               \
        if (va_ != vb_) {                                                                   \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
                    #a, va_, #b, vb_);                                                      \
            ccopy_test_failures++;                                                          \
        }                                                                                   \
    } while (0)

#define CHECK_STR(a, b)                                                                       \
    do {                                                                                      \
        const char *sa_ = (a), *sb_ = (b);                                                    \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                          \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
                    sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                              \
            ccopy_test_failures++;                                                            \
        }                                                                                     \
    } while (0)

/* The message contains the fragment (case-sensitive). */
#define CHECK_CONTAINS(text, fragment)                                                         \
    do {                                                                                       \
        const char *t_ = (text), *f_ = (fragment);                                             \
        if (!t_ || !strstr(t_, f_)) {                                                          \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,    \
                    t_ ? t_ : "(null)", f_);                                                   \
            ccopy_test_failures++;                                                             \
        }                                                                                      \
    } while (0)

int main(int argc, char **argv)
{
    int i, ran = 0;
    for (i = 0; i < ccopy_test_count; i++) {
        if (argc > 1 && strcmp(argv[1], ccopy_tests[i].name) != 0)
            continue;
        ccopy_tests[i].fn();
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test case named %s\n", argc > 1 ? argv[1] : "(any)");
        return 2;
    }
    if (ccopy_test_failures) {
        fprintf(stderr, "%d check(s) failed\n", ccopy_test_failures);
        return 1;
    }
    return 0;
}

#endif
