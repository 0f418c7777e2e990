# inject.mk: the injection engine (ptrace attach, one or several short syscalls in one stop,
# detach), its /proc parsers and the seccomp pre-check; tests on real child processes.
lib_libmlockd_la_SOURCES += \
	lib/procfs.c lib/procfs.h \
	lib/seccomp-check.c lib/seccomp-check.h
lib_libmlockd_la_CFLAGS += $(LIBSECCOMP_CFLAGS)

unit_tests += tests/test-procfs tests/test-seccomp-check
tests_test_procfs_SOURCES = tests/test-procfs.c
tests_test_seccomp_check_SOURCES = tests/test-seccomp-check.c
tests_test_seccomp_check_CFLAGS = $(AM_CFLAGS) $(LIBSECCOMP_CFLAGS)
