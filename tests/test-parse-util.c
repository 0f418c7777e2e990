/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "parse-util.h"
#include "tests.h"

static void test_parse_size(void) {
        uint64_t v = 42;

        ASSERT_OK(parse_size("0", &v));
        ASSERT_EQ_U64(v, 0);
        ASSERT_OK(parse_size("4096", &v));
        ASSERT_EQ_U64(v, 4096);
        ASSERT_OK(parse_size("512K", &v));
        ASSERT_EQ_U64(v, 512ULL << 10);
        ASSERT_OK(parse_size("2G", &v));
        ASSERT_EQ_U64(v, 2ULL << 30);
        ASSERT_OK(parse_size("8g", &v));
        ASSERT_EQ_U64(v, 8ULL << 30);
        ASSERT_OK(parse_size("3T", &v));
        ASSERT_EQ_U64(v, 3ULL << 40);
        ASSERT_OK(parse_size("1.5M", &v));
        ASSERT_EQ_U64(v, 3ULL << 19);
        ASSERT_OK(parse_size("64MiB", &v));
        ASSERT_EQ_U64(v, 64ULL << 20);
        ASSERT_OK(parse_size("64MB", &v));
        ASSERT_EQ_U64(v, 64ULL << 20);
        ASSERT_OK(parse_size("100B", &v));
        ASSERT_EQ_U64(v, 100);
        ASSERT_OK(parse_size("18446744073709551615", &v));
        ASSERT_EQ_U64(v, UINT64_MAX);
        ASSERT_OK(parse_size("16777215T", &v));
        ASSERT_EQ_U64(v, 16777215ULL << 40);

        v = 42;
        ASSERT_ERROR(parse_size("", &v), EINVAL);
        ASSERT_ERROR(parse_size(NULL, &v), EINVAL);
        ASSERT_ERROR(parse_size("-1", &v), EINVAL);
        ASSERT_ERROR(parse_size("-1G", &v), EINVAL);
        ASSERT_ERROR(parse_size("G", &v), EINVAL);
        ASSERT_ERROR(parse_size("12X", &v), EINVAL);
        ASSERT_ERROR(parse_size("12GG", &v), EINVAL);
        ASSERT_ERROR(parse_size("12 G", &v), EINVAL);
        ASSERT_ERROR(parse_size("1.5", &v), EINVAL);
        ASSERT_ERROR(parse_size("1.G", &v), EINVAL);
        ASSERT_ERROR(parse_size("0x10", &v), EINVAL);
        ASSERT_ERROR(parse_size("2G # comment", &v), EINVAL);
        ASSERT_ERROR(parse_size("18446744073709551616", &v), ERANGE);
        ASSERT_ERROR(parse_size("16777216T", &v), ERANGE);
        ASSERT_ERROR(parse_size("99999999999999999999999G", &v), ERANGE);
        ASSERT_EQ_U64(v, 42); /* untouched on failure */
}

static void test_parse_duration(void) {
        usec_t u = 42;

        ASSERT_OK(parse_duration("5ms", &u));
        ASSERT_EQ_U64(u, 5000);
        ASSERT_OK(parse_duration("250us", &u));
        ASSERT_EQ_U64(u, 250);
        ASSERT_OK(parse_duration("2s", &u));
        ASSERT_EQ_U64(u, 2000000);
        ASSERT_OK(parse_duration("3", &u));
        ASSERT_EQ_U64(u, 3000000);
        ASSERT_OK(parse_duration("1.5ms", &u));
        ASSERT_EQ_U64(u, 1500);
        ASSERT_OK(parse_duration("0.25s", &u));
        ASSERT_EQ_U64(u, 250000);
        ASSERT_OK(parse_duration("2min", &u));
        ASSERT_EQ_U64(u, 120000000);
        ASSERT_OK(parse_duration("7msec", &u));
        ASSERT_EQ_U64(u, 7000);
        ASSERT_OK(parse_duration("0us", &u));
        ASSERT_EQ_U64(u, 0);
        ASSERT_OK(parse_duration("1h", &u));
        ASSERT_EQ_U64(u, 3600000000);
        ASSERT_OK(parse_duration("1.5h", &u));
        ASSERT_EQ_U64(u, 5400000000);

        u = 42;
        ASSERT_ERROR(parse_duration("", &u), EINVAL);
        ASSERT_ERROR(parse_duration("ms", &u), EINVAL);
        ASSERT_ERROR(parse_duration("-5ms", &u), EINVAL);
        ASSERT_ERROR(parse_duration("5 ms", &u), EINVAL);
        ASSERT_ERROR(parse_duration("5mss", &u), EINVAL);
        ASSERT_ERROR(parse_duration("5hr", &u), EINVAL);
        ASSERT_ERROR(parse_duration("5d", &u), EINVAL);
        ASSERT_ERROR(parse_duration("5ms junk", &u), EINVAL);
        ASSERT_ERROR(parse_duration("1.ms", &u), EINVAL);
        ASSERT_ERROR(parse_duration("18446744073709551615s", &u), ERANGE);
        ASSERT_ERROR(parse_duration("99999999999999999999999", &u), ERANGE);
        ASSERT_ERROR(parse_duration("18446744073709551615us", &u), ERANGE); /* that is "infinity" */
        ASSERT_EQ_U64(u, 42);
}

static void test_parse_boolean(void) {
        ASSERT_EQ(parse_boolean("yes"), 1);
        ASSERT_EQ(parse_boolean("TRUE"), 1);
        ASSERT_EQ(parse_boolean("on"), 1);
        ASSERT_EQ(parse_boolean("1"), 1);
        ASSERT_EQ(parse_boolean("no"), 0);
        ASSERT_EQ(parse_boolean("False"), 0);
        ASSERT_EQ(parse_boolean("off"), 0);
        ASSERT_EQ(parse_boolean("0"), 0);
        ASSERT_ERROR(parse_boolean(""), EINVAL);
        ASSERT_ERROR(parse_boolean("yess"), EINVAL);
        ASSERT_ERROR(parse_boolean("2"), EINVAL);
        ASSERT_ERROR(parse_boolean(NULL), EINVAL);
}

static void test_parse_uint(void) {
        unsigned u = 42;
        uint64_t v;

        ASSERT_OK(parse_uint("4294967295", &u));
        ASSERT_EQ(u, 4294967295U);
        ASSERT_ERROR(parse_uint("4294967296", &u), ERANGE);
        ASSERT_ERROR(parse_uint("-1", &u), EINVAL);
        ASSERT_ERROR(parse_uint("12a", &u), EINVAL);
        ASSERT_ERROR(parse_uint("", &u), EINVAL);
        ASSERT_ERROR(parse_uint(" 1", &u), EINVAL);
        ASSERT_OK(parse_uint64("18446744073709551615", &v));
        ASSERT_ERROR(parse_uint64("18446744073709551616", &v), ERANGE);
}

static void test_format(void) {
        char b[FORMAT_BYTES_MAX], t[FORMAT_TIMESPAN_MAX];

        ASSERT_STREQ(format_bytes(b, sizeof b, 0), "0B");
        ASSERT_STREQ(format_bytes(b, sizeof b, 1023), "1023B");
        ASSERT_STREQ(format_bytes(b, sizeof b, 1024), "1K");
        ASSERT_STREQ(format_bytes(b, sizeof b, 3ULL << 19), "1.5M");
        ASSERT_STREQ(format_bytes(b, sizeof b, 64ULL << 20), "64M");
        ASSERT_STREQ(format_bytes(b, sizeof b, 2ULL << 30), "2G");
        ASSERT_STREQ(format_bytes(b, sizeof b, UINT64_MAX), "15.9E");
        ASSERT_STREQ(format_timespan(t, sizeof t, 5000), "5ms");
        ASSERT_STREQ(format_timespan(t, sizeof t, 250), "250us");
        ASSERT_STREQ(format_timespan(t, sizeof t, 2000000), "2s");
        ASSERT_STREQ(format_timespan(t, sizeof t, 1500), "1500us");
        ASSERT_STREQ(format_timespan(t, sizeof t, USEC_INFINITY), "infinity");
}

static void test_roundtrip(void) {
        /* whatever format_timespan prints, parse_duration reads back */
        static const usec_t values[] = { 0, 1, 100, 999, 1000, 5000, 1500, 1000000, 1250000, 86400000000ULL };
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
                char t[FORMAT_TIMESPAN_MAX];
                usec_t u;

                ASSERT_OK(parse_duration(format_timespan(t, sizeof t, values[i]), &u));
                ASSERT_EQ_U64(u, values[i]);
        }
}

int main(void) {
        test_parse_size();
        test_parse_duration();
        test_parse_boolean();
        test_parse_uint();
        test_format();
        test_roundtrip();
        return 0;
}
