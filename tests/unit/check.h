/* check.h — the tiny assertion kit of the C unit tests (one file per module,
 * run by ctest under ASan/UBSan). A failed CHECK prints file:line and the
 * expression, counts, and the test goes on; CHECK_DONE() returns the exit code. */
#ifndef ST_TEST_CHECK_H
#define ST_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        check_count++;                                                               \
        if (!(cond)) {                                                               \
            check_failures++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        check_count++;                                                               \
        if (!(cond)) {                                                               \
            check_failures++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_STR(a, b) CHECK_MSG(strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))

/* What a test left out because it needs the test-only hooks (a SMARTTECH_TEST_HOOKS build:
 * `make unit` has them, the release build does not). */
#define CHECK_SKIP_NO_HOOKS(what) fprintf(stderr, "skipped (needs a SMARTTECH_TEST_HOOKS build): %s\n", what)

#define CHECK_DONE()                                                                          \
    (fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures), check_failures ? 1 : 0)

#endif
