/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* The length of the valid, printable UTF-8 sequence at s, or 0 when the byte at s must be escaped. */
static size_t utf8_char_length(const unsigned char *s) {
        uint32_t c;
        size_t n;

        if (s[0] < 0x80)
                return s[0] >= 0x20 && s[0] != 0x7f ? 1 : 0;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, c = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, c = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, c = s[0] & 0x07;
        else
                return 0; /* a continuation byte, 0xc0/0xc1 (overlong), 0xf5 and above */

        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0; /* also stops at the terminating NUL */
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff)
                return 0; /* overlong, or beyond Unicode */
        if (c >= 0xd800 && c <= 0xdfff)
                return 0; /* a surrogate */
        if ((c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe)
                return 0; /* a noncharacter: sd-bus refuses these too */
        if (c >= 0x80 && c < 0xa0)
                return 0; /* C1 controls */
        return n;
}

bool utf8_is_printable(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        if (!s)
                return true;
        while (*p) {
                size_t n = utf8_char_length(p);

                if (n == 0)
                        return false;
                p += n;
        }
        return true;
}

int utf8_escape_invalid(const char *s, char **ret) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *) (s ?: "");
        char *buf, *o;

        buf = malloc(strlen((const char *) p) * 4 + 1);
        if (!buf)
                return -ENOMEM;
        o = buf;
        while (*p) {
                size_t n = utf8_char_length(p);

                if (n > 0) {
                        memcpy(o, p, n);
                        o += n;
                        p += n;
                        continue;
                }
                *o++ = '\\';
                *o++ = 'x';
                *o++ = hex[*p >> 4];
                *o++ = hex[*p & 0xf];
                p++;
        }
        *o = '\0';
        *ret = buf;
        return 0;
}

const char *utf8_safe(const char *s, char **buf) {
        if (!s)
                return "";
        if (utf8_is_printable(s))
                return s;
        free(*buf);
        *buf = NULL;
        if (utf8_escape_invalid(s, buf) < 0)
                return "?";
        return *buf;
}
