/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mlockctl's tables, JSON and exit statuses, on fixed rows: no bus, no daemon. */

#include <string.h>

#include "manager-bus.h"
#include "mlockctl-format.h"
#include "tests.h"

static const TableColumn target_columns[] = {
        { "PID", "pid", CELL_UINT },
        { "COMM", "comm", CELL_STRING },
        { "LOCKED", "locked_bytes", CELL_BYTES },
        { "BUDGET", "budget_bytes", CELL_LIMIT },
        { "STATE", "state", CELL_STRING },
};

/* Run a printer into a string. */
#define CAPTURE(call)                                                           \
        ({                                                                      \
                char *_buf_ = NULL;                                             \
                size_t _size_ = 0;                                              \
                FILE *_f_ = open_memstream(&_buf_, &_size_);                    \
                ASSERT_NOT_NULL(_f_);                                           \
                ASSERT_OK(call(_f_));                                           \
                ASSERT_EQ(fclose(_f_), 0);                                      \
                _buf_;                                                          \
        })

static Table *make_rows(void) {
        Table *t = NULL;

        ASSERT_OK(table_new(target_columns, ELEMENTSOF(target_columns), &t));
        ASSERT_OK(table_add_row(t, (uint64_t) 4242, "redis-server", (uint64_t) 16 << 20, (uint64_t) 0,
                                "locked"));
        ASSERT_OK(table_add_row(t, (uint64_t) 7, "a", (uint64_t) 1536, (uint64_t) 8ULL << 30,
                                "partial:rlimit"));
        ASSERT_OK(table_add_row(t, (uint64_t) 123456, NULL, (uint64_t) 12, (uint64_t) 3 << 19,
                                "skipped:seccomp"));
        return t;
}

static void test_table(void) {
        _cleanup_(table_freep) Table *t = make_rows();
        _cleanup_free_ char *with_legend = NULL, *without = NULL;

#define PRINT_LEGEND(f) table_print(t, f, true)
#define PRINT_PLAIN(f) table_print(t, f, false)
        with_legend = CAPTURE(PRINT_LEGEND);
        without = CAPTURE(PRINT_PLAIN);

        /* Numbers right-aligned, strings left, the last column without trailing blanks. */
        ASSERT_STREQ(with_legend,
                     "   PID COMM         LOCKED BUDGET STATE\n"
                     "  4242 redis-server    16M      - locked\n"
                     "     7 a              1.5K     8G partial:rlimit\n"
                     "123456                 12B   1.5M skipped:seccomp\n");
        ASSERT_STREQ(without,
                     "  4242 redis-server  16M    - locked\n"
                     "     7 a            1.5K   8G partial:rlimit\n"
                     "123456               12B 1.5M skipped:seccomp\n");
        ASSERT_EQ(table_get_rows(t), 3);
}

static void test_table_escapes(void) {
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *text = NULL, *json = NULL;

        ASSERT_OK(table_new(target_columns, ELEMENTSOF(target_columns), &t));
        /* A comm can hold anything a process puts in it; a terminal escape must not get through. */
        ASSERT_OK(table_add_row(t, (uint64_t) 1, "ev\x1b[2Jil\n", (uint64_t) 0, (uint64_t) 0,
                                "q\"uote\\d"));

#define PRINT_LEGEND(f) table_print(t, f, true)
#define PRINT_JSON(f) table_print_json(t, f)
        text = CAPTURE(PRINT_LEGEND);
        json = CAPTURE(PRINT_JSON);

        ASSERT_STREQ(text,
                     "PID COMM            LOCKED BUDGET STATE\n"
                     "  1 ev\\x1b[2Jil\\x0a     0B      - q\"uote\\d\n");
        ASSERT_STREQ(json,
                     "[{\"pid\":1,\"comm\":\"ev\\u001b[2Jil\\n\",\"locked_bytes\":0,"
                     "\"budget_bytes\":0,\"state\":\"q\\\"uote\\\\d\"}]");
}

static void test_table_empty_cells(void) {
        static const TableColumn columns[] = {
                { "PID", "pid", CELL_UINT },
                { "STATE", "state", CELL_STRING },
                { "CGROUP", "cgroup", CELL_STRING },
        };
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *text = NULL;

        ASSERT_OK(table_new(columns, ELEMENTSOF(columns), &t));
        ASSERT_OK(table_add_row(t, (uint64_t) 1, "pending", ""));
        ASSERT_OK(table_add_row(t, (uint64_t) 22, "", "/a"));

#define PRINT_T(f) table_print(t, f, true)
        text = CAPTURE(PRINT_T);
        /* An empty last cell leaves no trailing blanks; an empty middle one keeps the columns. */
        ASSERT_STREQ(text,
                     "PID STATE   CGROUP\n"
                     "  1 pending\n"
                     " 22         /a\n");
}

static void test_json(void) {
        _cleanup_(table_freep) Table *t = make_rows(), *empty = NULL;
        _cleanup_free_ char *json = NULL, *json_empty = NULL, *text_empty = NULL;

        json = CAPTURE(PRINT_JSON);
        /* Sizes in bytes, a NULL string as "", budget 0 stays 0. */
        ASSERT_STREQ(json,
                     "[{\"pid\":4242,\"comm\":\"redis-server\",\"locked_bytes\":16777216,"
                     "\"budget_bytes\":0,\"state\":\"locked\"},"
                     "{\"pid\":7,\"comm\":\"a\",\"locked_bytes\":1536,"
                     "\"budget_bytes\":8589934592,\"state\":\"partial:rlimit\"},"
                     "{\"pid\":123456,\"comm\":\"\",\"locked_bytes\":12,"
                     "\"budget_bytes\":1572864,\"state\":\"skipped:seccomp\"}]");

        ASSERT_OK(table_new(target_columns, ELEMENTSOF(target_columns), &empty));
#define PRINT_EMPTY_JSON(f) table_print_json(empty, f)
#define PRINT_EMPTY(f) table_print(empty, f, true)
        json_empty = CAPTURE(PRINT_EMPTY_JSON);
        text_empty = CAPTURE(PRINT_EMPTY);
        ASSERT_STREQ(json_empty, "[]");
        ASSERT_STREQ(text_empty, "PID COMM LOCKED BUDGET STATE\n");
}

static void test_json_string(void) {
        _cleanup_free_ char *s = NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ASSERT_NOT_NULL(f);
        json_print_string(f, "a\"b\\c\td\re\x01\x1f\x7f é/");
        json_print_string(f, NULL);
        ASSERT_EQ(fclose(f), 0);
        s = buf;
        ASSERT_STREQ(s, "\"a\\\"b\\\\c\\td\\re\\u0001\\u001f\\u007f é/\"\"\"");
}

static void test_table_new_invalid(void) {
        static const TableColumn bad[] = { { "X", NULL, CELL_STRING } };
        static const TableColumn bad_type[] = { { "X", "x", _CELL_TYPE_MAX } };
        Table *t = NULL;

        ASSERT_ERROR(table_new(bad, ELEMENTSOF(bad), &t), EINVAL);
        ASSERT_ERROR(table_new(bad_type, ELEMENTSOF(bad_type), &t), EINVAL);
        ASSERT_ERROR(table_new(target_columns, 0, &t), EINVAL);
        ASSERT_NULL(t);
        ASSERT_NULL(table_free(NULL));
}

static void test_exit_status(void) {
        static const struct {
                const char *name;
                int status;
        } cases[] = {
                { SD_BUS_ERROR_SERVICE_UNKNOWN, MLOCKCTL_EXIT_NOT_RUNNING },
                { SD_BUS_ERROR_NAME_HAS_NO_OWNER, MLOCKCTL_EXIT_NOT_RUNNING },
                { "org.freedesktop.DBus.Error.Spawn.ChildExited", MLOCKCTL_EXIT_NOT_RUNNING },
                { "org.freedesktop.systemd1.UnitMasked", MLOCKCTL_EXIT_NOT_RUNNING },   /* a masked unit */
                { "org.freedesktop.systemd1.NoSuchUnit", MLOCKCTL_EXIT_NOT_RUNNING },
                { SD_BUS_ERROR_AUTH_FAILED, MLOCKCTL_EXIT_ACCESS_DENIED },
                { MLOCKD_ERROR_FAILED, MLOCKCTL_EXIT_FAILURE },
                { SD_BUS_ERROR_ACCESS_DENIED, MLOCKCTL_EXIT_ACCESS_DENIED },
                { MLOCKD_ERROR_NO_SUCH_PROCESS, MLOCKCTL_EXIT_NO_SUCH_PROCESS },
                { MLOCKD_ERROR_NOT_MATCHED, MLOCKCTL_EXIT_NO_SUCH_PROCESS },
                { MLOCKD_ERROR_REFUSED, MLOCKCTL_EXIT_FAILURE },
                { MLOCKD_ERROR_INVALID_CONFIG, MLOCKCTL_EXIT_FAILURE },
                { SD_BUS_ERROR_INVALID_ARGS, MLOCKCTL_EXIT_FAILURE },
                { SD_BUS_ERROR_NO_REPLY, MLOCKCTL_EXIT_FAILURE },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(cases[i].name, "x");

                if (mlockctl_exit_status(-EIO, &e) != cases[i].status)
                        test_fail("%s: exit status %d, expected %d", cases[i].name,
                                  mlockctl_exit_status(-EIO, &e), cases[i].status);
        }

        ASSERT_EQ(mlockctl_exit_status(0, NULL), MLOCKCTL_EXIT_SUCCESS);
        ASSERT_EQ(mlockctl_exit_status(-ENOENT, NULL), MLOCKCTL_EXIT_NOT_RUNNING);     /* no socket */
        ASSERT_EQ(mlockctl_exit_status(-ECONNREFUSED, NULL), MLOCKCTL_EXIT_NOT_RUNNING);
        ASSERT_EQ(mlockctl_exit_status(-EACCES, NULL), MLOCKCTL_EXIT_ACCESS_DENIED);
        ASSERT_EQ(mlockctl_exit_status(-ENOMEM, NULL), MLOCKCTL_EXIT_FAILURE);
        ASSERT_EQ(mlockctl_exit_status(-ENOENT, &SD_BUS_ERROR_NULL), MLOCKCTL_EXIT_NOT_RUNNING);
}

static void test_json_modes(void) {
        _cleanup_free_ char *text = NULL, *empty = NULL;

        ASSERT_EQ(json_mode_from_string(NULL), JSON_SHORT); /* plain --json */
        ASSERT_EQ(json_mode_from_string("short"), JSON_SHORT);
        ASSERT_EQ(json_mode_from_string("pretty"), JSON_PRETTY);
        ASSERT_EQ(json_mode_from_string("off"), JSON_OFF);
        ASSERT_EQ(json_mode_from_string("Pretty"), _JSON_MODE_INVALID);
        ASSERT_EQ(json_mode_from_string(""), _JSON_MODE_INVALID);

#define PRETTY(f) json_print_pretty(f, "{\"a\":[1,{\"b\":\"x,{\\\"y:[\"}],\"c\":{},\"d\":[]}\n")
        text = CAPTURE(PRETTY);
        ASSERT_STREQ(text, "{\n"
                           "  \"a\": [\n"
                           "    1,\n"
                           "    {\n"
                           "      \"b\": \"x,{\\\"y:[\"\n"
                           "    }\n"
                           "  ],\n"
                           "  \"c\": {},\n"
                           "  \"d\": []\n"
                           "}\n");
#define PRETTY_EMPTY(f) json_print_pretty(f, "[]")
        empty = CAPTURE(PRETTY_EMPTY);
        ASSERT_STREQ(empty, "[]\n");
}

static void test_error_map(void) {
        /* The client maps the daemon's names back to errnos. */
        sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(MLOCKD_ERROR_NOT_MATCHED, "x");
        sd_bus_error e2 = SD_BUS_ERROR_MAKE_CONST(MLOCKD_ERROR_NO_SUCH_PROCESS, "x");
        sd_bus_error e3 = SD_BUS_ERROR_MAKE_CONST(MLOCKD_ERROR_REFUSED, "x");

        ASSERT_OK(sd_bus_error_add_map(mlockd_bus_error_map));
        ASSERT_EQ(sd_bus_error_get_errno(&e), ENOENT);
        ASSERT_EQ(sd_bus_error_get_errno(&e2), ESRCH);
        ASSERT_EQ(sd_bus_error_get_errno(&e3), EPERM);
}

int main(void) {
        test_table();
        test_table_escapes();
        test_table_empty_cells();
        test_json();
        test_json_string();
        test_json_modes();
        test_table_new_invalid();
        test_exit_status();
        test_error_map();
        return 0;
}
