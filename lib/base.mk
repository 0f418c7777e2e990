# lib basics: logging, bounded file reads, value parsers, string lists.
# log.c speaks the journal's native protocol (sd_journal_send) for target results.
lib_libmlockd_la_CFLAGS += $(LIBSYSTEMD_CFLAGS)
unit_tests += tests/test-parse-util tests/test-fileio tests/test-strv tests/test-log tests/test-utf8
tests_test_log_SOURCES = tests/test-log.c daemon/sandbox.c
tests_test_log_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(LIBCAP_CFLAGS) $(LIBSECCOMP_CFLAGS)
tests_test_parse_util_SOURCES = tests/test-parse-util.c
tests_test_fileio_SOURCES = tests/test-fileio.c
tests_test_strv_SOURCES = tests/test-strv.c
# utf8.c: strings from targets escaped for the bus, metrics and logs
lib_libmlockd_la_SOURCES += lib/utf8.c lib/utf8.h
tests_test_utf8_SOURCES = tests/test-utf8.c
EXTRA_DIST += lib/base.mk
