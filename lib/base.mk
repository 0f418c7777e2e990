# lib basics: logging, bounded file reads, value parsers, string lists.
unit_tests += tests/test-parse-util tests/test-fileio tests/test-strv
tests_test_parse_util_SOURCES = tests/test-parse-util.c
tests_test_fileio_SOURCES = tests/test-fileio.c
tests_test_strv_SOURCES = tests/test-strv.c
EXTRA_DIST += lib/base.mk
