/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "macro.h"
#include "parse-util.h"

/* Leading digits of s as uint64, with overflow check. *end points past them. Needs at least one digit. */
static int parse_digits(const char *s, uint64_t *ret, const char **end) {
        uint64_t v = 0;
        const char *p = s;

        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++) {
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        *end = p;
        return 0;
}

/* Optional ".123" after the integer part: returns the fraction scaled to 'scale' (truncated). */
static int parse_fraction(const char **p, uint64_t scale, uint64_t *ret) {
        uint64_t v = 0, div = 1;
        const char *q = *p;

        *ret = 0;
        if (*q != '.')
                return 0;
        q++;
        if (!isdigit((unsigned char) *q))
                return -EINVAL;
        for (; isdigit((unsigned char) *q); q++)
                if (div < 1000000000000ULL) { /* enough precision; ignore the rest */
                        v = v * 10 + (uint64_t) (*q - '0');
                        div *= 10;
                }
        *ret = (uint64_t) ((__uint128_t) v * scale / div);
        *p = q;
        return 0;
}

static int mul_add(uint64_t a, uint64_t factor, uint64_t add, uint64_t *ret) {
        if (factor != 0 && a > UINT64_MAX / factor)
                return -ERANGE;
        a *= factor;
        if (a > UINT64_MAX - add)
                return -ERANGE;
        *ret = a + add;
        return 0;
}

/* The common head of a size or duration: blanks, the integer part (*ret), and where the optional
 * ".digits" fraction (*ret_frac) and the unit after it (*ret_unit) start. */
static int parse_number_head(const char *s, uint64_t *ret, const char **ret_frac, const char **ret_unit) {
        const char *q;
        int r;

        if (!s)
                return -EINVAL;
        while (isspace((unsigned char) *s))
                s++;
        r = parse_digits(s, ret, ret_frac);
        if (r < 0)
                return r;
        q = *ret_frac;
        if (*q == '.') {
                q++;
                while (isdigit((unsigned char) *q))
                        q++;
        }
        *ret_unit = q;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                char suffix;
                uint64_t factor;
        } table[] = {
                { 'K', 1ULL << 10 }, { 'M', 1ULL << 20 }, { 'G', 1ULL << 30 }, { 'T', 1ULL << 40 },
        };
        uint64_t v, frac = 0, factor = 1;
        const char *p, *q;
        int r;

        /* find the suffix first: the fraction is scaled by it */
        r = parse_number_head(s, &v, &p, &q);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (toupper((unsigned char) *q) == table[i].suffix) {
                        factor = table[i].factor;
                        break;
                }
        if (*p == '.') {
                if (factor == 1)
                        return -EINVAL; /* "1.5" bytes makes no sense */
                r = parse_fraction(&p, factor, &frac);
                if (r < 0)
                        return r;
        }
        if (factor != 1) {
                p++;
                if (*p == 'i' && p[1] == 'B')
                        p += 2;
                else if (*p == 'B')
                        p++;
        } else if (*p == 'B')
                p++;
        while (isspace((unsigned char) *p))
                p++;
        if (*p != '\0')
                return -EINVAL;

        r = mul_add(v, factor, frac, &v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

int parse_duration(const char *s, usec_t *ret) {
        static const struct {
                const char *suffix;
                usec_t factor;
        } table[] = {
                /* longest first so "ms" is not read as "m" + junk */
                { "usec", 1 },
                { "msec", USEC_PER_MSEC },
                { "min", 60 * USEC_PER_SEC },
                { "sec", USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
                { "us", 1 },
                { "ms", USEC_PER_MSEC },
                { "s", USEC_PER_SEC },
                { "", USEC_PER_SEC },
        };
        uint64_t v, frac;
        const char *p, *unit, *tail;
        int r;

        r = parse_number_head(s, &v, &p, &unit);
        if (r < 0)
                return r;
        tail = unit + strlen(unit);
        while (tail > unit && isspace((unsigned char) tail[-1]))
                tail--;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t l = strlen(table[i].suffix);
                if ((size_t) (tail - unit) != l || strncmp(unit, table[i].suffix, l) != 0)
                        continue;
                r = parse_fraction(&p, table[i].factor, &frac);
                if (r < 0)
                        return r;
                r = mul_add(v, table[i].factor, frac, &v);
                if (r < 0)
                        return r;
                if (v == USEC_INFINITY)
                        return -ERANGE;
                *ret = v;
                return 0;
        }
        return -EINVAL;
}

int parse_boolean(const char *s) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

int parse_uint64(const char *s, uint64_t *ret) {
        uint64_t v;
        const char *p;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_digits(s, &v, &p);
        if (r < 0)
                return r;
        if (*p != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_uint(const char *s, unsigned *ret) {
        uint64_t v;
        int r;

        r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

char *format_bytes(char *buf, size_t size, uint64_t bytes) {
        static const char suffixes[] = "KMGTPE";

        if (bytes < 1024) {
                snprintf(buf, size, "%" PRIu64 "B", bytes);
                return buf;
        }
        for (size_t i = ELEMENTSOF(suffixes) - 1; i-- > 0;) {
                uint64_t f = 1ULL << (10 * (i + 1));
                if (bytes >= f) {
                        uint64_t whole = bytes / f, tenth = (bytes % f) * 10 / f;
                        if (tenth > 0 && whole < 100)
                                snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "%c", whole, tenth, suffixes[i]);
                        else
                                snprintf(buf, size, "%" PRIu64 "%c", whole, suffixes[i]);
                        return buf;
                }
        }
        return buf; /* not reached */
}

char *format_timespan(char *buf, size_t size, usec_t usec) {
        if (usec == USEC_INFINITY)
                snprintf(buf, size, "infinity");
        else if (usec >= USEC_PER_SEC && usec % USEC_PER_SEC == 0)
                snprintf(buf, size, "%" PRIu64 "s", usec / USEC_PER_SEC);
        else if (usec >= USEC_PER_SEC)
                snprintf(buf, size, "%" PRIu64 ".%06" PRIu64 "s", usec / USEC_PER_SEC, usec % USEC_PER_SEC);
        else if (usec >= USEC_PER_MSEC && usec % USEC_PER_MSEC == 0)
                snprintf(buf, size, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
        else
                snprintf(buf, size, "%" PRIu64 "us", usec);
        return buf;
}

usec_t now_usec(int clock_id) {
        struct timespec ts;

        if (clock_gettime(clock_id, &ts) < 0)
                return 0;
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}
