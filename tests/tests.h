/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Assertions for unit tests. A failed check prints FILE:LINE and the values, and exits 1;
 * EXIT_TEST_SKIP (77) and EXIT_TEST_ERROR (99) follow automake's test protocol. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_TEST_SKIP 77
#define EXIT_TEST_ERROR 99

#define test_fail(...)                                                          \
        do {                                                                    \
                fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                 \
                fprintf(stderr, __VA_ARGS__);                                   \
                fputc('\n', stderr);                                            \
                exit(EXIT_FAILURE);                                             \
        } while (0)

#define ASSERT_TRUE(expr)                                                       \
        do {                                                                    \
                if (!(expr))                                                    \
                        test_fail("Assertion failed: %s", #expr);               \
        } while (0)
#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))

/* expr returns >= 0 on success, negative errno on failure */
#define ASSERT_OK(expr)                                                         \
        ({                                                                      \
                __typeof__(expr) _r_ = (expr);                                  \
                if (_r_ < 0)                                                    \
                        test_fail("%s failed: %s", #expr, strerror((int) -_r_)); \
                _r_;                                                            \
        })
#define ASSERT_ERROR(expr, err)                                                 \
        do {                                                                    \
                long long _r_ = (long long) (expr);                             \
                if (_r_ != -(long long) (err))                                  \
                        test_fail("%s returned %lld (%s), expected -%s", #expr, _r_, \
                                  _r_ < 0 ? strerror((int) -_r_) : "success", #err); \
        } while (0)

#define ASSERT_EQ(a, b)                                                         \
        do {                                                                    \
                long long _a_ = (long long) (a), _b_ = (long long) (b);         \
                if (_a_ != _b_)                                                 \
                        test_fail("%s == %s: %lld != %lld", #a, #b, _a_, _b_);  \
        } while (0)
#define ASSERT_EQ_U64(a, b)                                                     \
        do {                                                                    \
                uint64_t _a_ = (uint64_t) (a), _b_ = (uint64_t) (b);            \
                if (_a_ != _b_)                                                 \
                        test_fail("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, _a_, _b_); \
        } while (0)
#define ASSERT_STREQ(a, b)                                                      \
        do {                                                                    \
                const char *_a_ = (a), *_b_ = (b);                              \
                if (!_a_ || !_b_ || strcmp(_a_, _b_) != 0)                      \
                        test_fail("%s == %s: \"%s\" != \"%s\"", #a, #b,         \
                                  _a_ ?: "(null)", _b_ ?: "(null)");            \
        } while (0)
#define ASSERT_NOT_NULL(p) ASSERT_TRUE((p) != NULL)
#define ASSERT_NULL(p) ASSERT_TRUE((p) == NULL)

/* The fixture directory, from $top_srcdir (set by the test harness) or the source tree. */
static inline const char *test_data_dir(void) {
        static char buf[4096];
        const char *top = getenv("top_srcdir");

        snprintf(buf, sizeof buf, "%s/tests/data", top ?: ".");
        return buf;
}
