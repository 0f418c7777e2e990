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

lib_libmlockd_la_SOURCES += \
	lib/inject.c lib/inject.h lib/inject-arch.h
if INJECT_X86_64
lib_libmlockd_la_SOURCES += lib/inject-x86_64.c
endif
if INJECT_AARCH64
lib_libmlockd_la_SOURCES += lib/inject-aarch64.c
endif
if INJECT_NONE
lib_libmlockd_la_SOURCES += lib/inject-none.c
endif
EXTRA_DIST += lib/inject-x86_64.c lib/inject-aarch64.c lib/inject-none.c

# The workload the injection tests and the benchmark inject into; no sanitizers: their shadow
# mappings would make mlockall() meaningless.
check_PROGRAMS += tests/helpers/victim
tests_helpers_victim_SOURCES = tests/helpers/victim.c
tests_helpers_victim_CFLAGS = $(WARN_CFLAGS) $(LIBSECCOMP_CFLAGS) -pthread
tests_helpers_victim_LDFLAGS = -pthread
tests_helpers_victim_LDADD = $(LIBSECCOMP_LIBS)

unit_tests += tests/test-inject
tests_test_inject_SOURCES = tests/test-inject.c tests/test-inject-util.h

bench_programs += tests/bench/bench-inject
tests_bench_bench_inject_SOURCES = tests/bench/bench-inject.c tests/test-inject-util.h

unit_tests += tests/test-inject-ia32
tests_test_inject_ia32_SOURCES = tests/test-inject-ia32.c tests/test-inject-util.h
