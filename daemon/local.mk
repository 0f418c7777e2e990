# The daemon: manager, injector process, matching and the lock engine it drives.
lib_libmlockd_la_SOURCES += \
	lib/match.c lib/match.h \
	lib/lock.c lib/lock.h

mlockd_SOURCES += \
	daemon/manager.c daemon/manager.h daemon/manager-internal.h \
	daemon/manager-jobs.c daemon/manager-account.c \
	daemon/injector.c daemon/injector.h \
	daemon/injector-client.c daemon/injector-client.h \
	daemon/injector-socket.c daemon/injector-socket.h \
	daemon/target.c daemon/target.h \
	daemon/job.c daemon/job.h \
	daemon/manager-bus.c daemon/manager-bus.h

man_MANS += doc/mlockd.8
# mlockd(8) points at the hardening notes; install them with the README
doc_DATA = README.md doc/hardening.md doc/throughput.md
EXTRA_DIST += doc/throughput.md
generated_files += doc/mlockd.8
EXTRA_DIST += doc/mlockd.8.in daemon/local.mk

unit_tests += tests/test-match tests/test-lock tests/test-injector tests/test-injector-client \
	tests/test-target tests/test-job
tests_test_match_SOURCES = tests/test-match.c
tests_test_lock_SOURCES = tests/test-lock.c
tests_test_injector_SOURCES = tests/test-injector.c daemon/injector.c daemon/sandbox.c
tests_test_injector_CFLAGS = $(AM_CFLAGS) $(LIBCAP_CFLAGS) $(LIBSECCOMP_CFLAGS)
tests_test_target_SOURCES = tests/test-target.c daemon/target.c
tests_test_target_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS)
tests_test_job_SOURCES = tests/test-job.c daemon/job.c daemon/target.c
tests_test_job_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS)
tests_test_injector_client_SOURCES = tests/test-injector-client.c daemon/injector-client.c daemon/injector.c \
	daemon/injector-socket.c daemon/injector-socket.h \
	daemon/sandbox.c
tests_test_injector_client_CFLAGS = $(AM_CFLAGS) $(LIBCAP_CFLAGS) $(LIBSECCOMP_CFLAGS) $(LIBSYSTEMD_CFLAGS)
unit_tests += tests/test-injector-pages
tests_test_injector_pages_SOURCES = tests/test-injector-pages.c daemon/injector.c daemon/sandbox.c
tests_test_injector_pages_CFLAGS = $(AM_CFLAGS) $(LIBCAP_CFLAGS) $(LIBSECCOMP_CFLAGS)

# For tests/lock-injector-socket.sh: a socket unit and its service (Accept=no, Restart=always)
# without systemd, and a program under a unit's SystemCallFilter=.
check_PROGRAMS += tests/helpers/socket-service
tests_helpers_socket_service_SOURCES = tests/helpers/socket-service.c
tests_helpers_socket_service_CFLAGS = $(WARN_CFLAGS)
tests_helpers_socket_service_LDADD =
check_PROGRAMS += tests/helpers/syscall-filter
tests_helpers_syscall_filter_SOURCES = tests/helpers/syscall-filter.c
tests_helpers_syscall_filter_CFLAGS = $(WARN_CFLAGS) $(LIBSECCOMP_CFLAGS)
tests_helpers_syscall_filter_LDADD = $(LIBSECCOMP_LIBS)

daemon_integration_tests = \
	tests/lock-onfault.sh \
	tests/lock-full.sh \
	tests/lock-maxpause.sh \
	tests/lock-lifecycle.sh \
	tests/lock-fork-defer.sh \
	tests/lock-regions.sh \
	tests/lock-rlimit.sh \
	tests/lock-reload.sh \
	tests/lock-recheck.sh \
	tests/lock-young-watch.sh \
	tests/tick-idle.sh \
	tests/discover-prefilter.sh \
	tests/lock-rename.sh \
	tests/lock-exe-access.sh \
	tests/lock-sigterm.sh \
	tests/lock-many.sh \
	tests/lock-pool.sh \
	tests/lock-pool-loss.sh \
	tests/cgroup-budget.sh \
	tests/cgroup-limit.sh \
	tests/cgroup-limit-parent.sh \
	tests/metrics.sh \
	tests/notify.sh \
	tests/privsep.sh \
	tests/lock-seccomp.sh \
	tests/lock-own.sh \
	tests/lock-maxlocked.sh \
	tests/lock-apply-async.sh \
	tests/lock-injector.sh \
	tests/lock-injector-socket.sh \
	tests/lock-pidns.sh \
	tests/lock-no-net-admin.sh \
	tests/lock-events-lost.sh \
	tests/lock-leader-exit.sh \
	tests/lock-thp.sh \
	tests/lock-swap.sh \
	tests/lock-drift.sh \
	tests/cgroup-budget-swap.sh \
	tests/cgroup-foreign.sh \
	tests/lock-kill.sh
integration_tests += $(daemon_integration_tests)
# tests/lock-kill.sh: SIGKILL at the moment a target is inside an injected call
check_PROGRAMS += tests/helpers/killer
tests_helpers_killer_SOURCES = tests/helpers/killer.c
tests_helpers_killer_LDADD =
# tests/lock-events-lost.sh: a burst of process events
check_PROGRAMS += tests/helpers/forker
tests_helpers_forker_SOURCES = tests/helpers/forker.c
tests_helpers_forker_LDADD =
EXTRA_DIST += $(daemon_integration_tests) tests/pool-lib.sh

check_PROGRAMS += tests/helpers/notify-listen
tests_helpers_notify_listen_SOURCES = tests/helpers/notify-listen.c
tests_helpers_notify_listen_LDADD =

bench_programs += tests/bench/bench-spawn tests/bench/bench-hold
tests_bench_bench_spawn_SOURCES = tests/bench/bench-spawn.c
tests_bench_bench_spawn_LDADD =
tests_bench_bench_hold_SOURCES = tests/bench/bench-hold.c
bench_scripts += tests/bench/bench-lock.sh tests/bench/bench-apply.sh tests/bench/bench-pace.sh tests/bench/bench-kill.sh
EXTRA_DIST += tests/bench/bench-lock.sh tests/bench/bench-apply.sh tests/bench/bench-pace.sh tests/bench/bench-kill.sh
