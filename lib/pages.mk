# pages.mk: per-page truth (pagemap + kpageflags) and the pacing of lock steps by kind of memory.
lib_libmlockd_la_SOURCES += \
	lib/pageflags.c lib/pageflags.h \
	lib/pace.c lib/pace.h

unit_tests += tests/test-pageflags tests/test-pace
tests_test_pageflags_SOURCES = tests/test-pageflags.c
tests_test_pace_SOURCES = tests/test-pace.c
# the pace against modelled machines (make bench)
bench_programs += tests/bench/bench-pace-model
tests_bench_bench_pace_model_SOURCES = tests/bench/bench-pace-model.c

# reads a pid's per-page counts for the integration tests and the kernel-facts experiments
check_PROGRAMS += tests/helpers/pagecount
tests_helpers_pagecount_SOURCES = tests/helpers/pagecount.c

# the experiments behind doc/kernel-facts.md (make bench; tests/bench/kernel-facts.sh makes swap)
bench_programs += tests/bench/kernel-facts
# no sanitizers (their shadow mappings would make mlockall() meaningless), so the two engine files
# it needs are built into it rather than linked from the sanitized libmlockd
tests_bench_kernel_facts_SOURCES = tests/bench/kernel-facts.c lib/pageflags.c lib/fileio.c
tests_bench_kernel_facts_CFLAGS = $(WARN_CFLAGS)
tests_bench_kernel_facts_LDFLAGS =
tests_bench_kernel_facts_LDADD =
bench_scripts += tests/bench/kernel-facts.sh
EXTRA_DIST += tests/bench/kernel-facts.sh doc/kernel-facts.md tests/data/pageflags/make-fixtures.py
