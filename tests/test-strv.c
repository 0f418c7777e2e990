/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "strv.h"
#include "tests.h"

int main(void) {
        _cleanup_strv_free_ char **l = NULL, **c = NULL, **s = NULL;

        ASSERT_EQ(strv_length(NULL), 0);
        ASSERT_OK(strv_extend(&l, "a"));
        ASSERT_OK(strv_extend(&l, "b"));
        ASSERT_EQ(strv_length(l), 2);
        ASSERT_TRUE(strv_contains(l, "b"));
        ASSERT_FALSE(strv_contains(l, "c"));
        c = strv_copy(l);
        ASSERT_NOT_NULL(c);
        ASSERT_STREQ(c[1], "b");
        ASSERT_NULL(c[2]);

        ASSERT_OK(strv_split("  all text  file:/usr/*\tanon ", " \t", &s));
        ASSERT_EQ(strv_length(s), 4);
        ASSERT_STREQ(s[0], "all");
        ASSERT_STREQ(s[2], "file:/usr/*");
        ASSERT_STREQ(s[3], "anon");
        s = strv_free(s);
        ASSERT_OK(strv_split("   ", " ", &s));
        ASSERT_EQ(strv_length(s), 0);
        return 0;
}
