/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "tests.h"
#include "utf8.h"

static void check_escape(const char *in, const char *want) {
        char *out = NULL;

        ASSERT_OK(utf8_escape_invalid(in, &out));
        ASSERT_STREQ(out, want);
        /* what comes out is always acceptable as it is */
        ASSERT_TRUE(utf8_is_printable(out));
        free(out);
}

int main(void) {
        char *buf = NULL;

        /* valid text is left alone, a backslash too (systemd's "\x2d" in unit names) */
        ASSERT_TRUE(utf8_is_printable(NULL));
        ASSERT_TRUE(utf8_is_printable(""));
        ASSERT_TRUE(utf8_is_printable("redis-server"));
        ASSERT_TRUE(utf8_is_printable("/system.slice/dev-disk-by\\x2duuid.swap"));
        ASSERT_TRUE(utf8_is_printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
        check_escape("caf\xc3\xa9", "caf\xc3\xa9");
        check_escape("a\\b", "a\\b");
        check_escape(NULL, "");

        /* the comm of the issue: invalid bytes */
        ASSERT_FALSE(utf8_is_printable("x\xff\xfe"));
        check_escape("x\xff\xfe", "x\\xff\\xfe");
        /* control characters: C0, DEL, C1 (U+0085 as \xc2\x85) */
        check_escape("a\nb\tc\x1b[31m", "a\\x0ab\\x09c\\x1b[31m");
        check_escape("\x7f", "\\x7f");
        check_escape("\xc2\x85", "\\xc2\\x85");
        /* truncated sequences, at the end and before another character */
        check_escape("ab\xe2\x82", "ab\\xe2\\x82");
        check_escape("\xe2\x82z", "\\xe2\\x82z");
        check_escape("\xc3", "\\xc3");
        /* a lone continuation byte, overlong forms, surrogates, beyond U+10FFFF */
        check_escape("\x80", "\\x80");
        check_escape("\xc0\xaf", "\\xc0\\xaf");
        check_escape("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
        check_escape("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf");
        check_escape("\xed\xa0\x80", "\\xed\\xa0\\x80");
        check_escape("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
        check_escape("\xf5\x80", "\\xf5\\x80");
        /* noncharacters, which sd-bus refuses: U+FFFE, U+FDD0, U+1FFFF */
        check_escape("\xef\xbf\xbe", "\\xef\\xbf\\xbe");
        check_escape("\xef\xb7\x90", "\\xef\\xb7\\x90");
        check_escape("\xf0\x9f\xbf\xbf", "\\xf0\\x9f\\xbf\\xbf");
        /* the largest valid character passes */
        check_escape("\xf4\x8f\xbf\xbd", "\xf4\x8f\xbf\xbd");

        /* utf8_safe(): the string itself when it can be, an escaped copy otherwise */
        ASSERT_STREQ(utf8_safe(NULL, &buf), "");
        ASSERT_NULL(buf);
        ASSERT_STREQ(utf8_safe("ok", &buf), "ok");
        ASSERT_NULL(buf);
        ASSERT_STREQ(utf8_safe("x\xff", &buf), "x\\xff");
        ASSERT_NOT_NULL(buf);
        ASSERT_STREQ(utf8_safe("y\xfe", &buf), "y\\xfe"); /* reused: the old copy is freed */
        free(buf);
        return 0;
}
