# cgroup.mk: per-cgroup memory accounting (layout, /proc/PID/cgroup, memory.stat, budgets), systemd
# unit names from cgroup paths, and the Prometheus metrics textfile.
lib_libmlockd_la_SOURCES += \
	lib/cgroup.c lib/cgroup.h \
	lib/units.c lib/units.h \
	lib/metrics.c lib/metrics.h \
	lib/account.c lib/account.h

unit_tests += tests/test-cgroup tests/test-units tests/test-metrics tests/test-account
tests_test_account_SOURCES = tests/test-account.c
tests_test_cgroup_SOURCES = tests/test-cgroup.c
tests_test_units_SOURCES = tests/test-units.c
tests_test_metrics_SOURCES = tests/test-metrics.c

# fixtures: tests/data is distributed whole (Makefile.am); these are the trees the tests read
#   tests/data/cgroup/{v1,v2,v2-nomemory,hybrid-unified,none}: cgroupfs roots
#   tests/data/cgroup/proc/PID/cgroup: /proc/PID/cgroup texts

bench_programs += tests/bench/bench-cgroup
# with the manager's accounting itself (daemon/manager-account.c), the rest of the manager stubbed
tests_bench_bench_cgroup_SOURCES = tests/bench/bench-cgroup.c daemon/manager-account.c
tests_bench_bench_cgroup_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS) -I$(top_srcdir)/daemon
