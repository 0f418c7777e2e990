# hostile.mk: targets that do what any local user may do to a tracer (issue 14): odd names, huge
# maps, userfaultfd, D state, borrowed limits. Each test checks that nobody else is held up.
check_PROGRAMS += tests/helpers/hostile
tests_helpers_hostile_SOURCES = tests/helpers/hostile.c
tests_helpers_hostile_LDADD = $(LIBSECCOMP_LIBS)
# no sanitizers in a workload (see tests/helpers/target)
tests_helpers_hostile_CFLAGS = $(WARN_CFLAGS) $(HARDEN_CFLAGS) $(LIBSECCOMP_CFLAGS)
tests_helpers_hostile_LDFLAGS = $(HARDEN_LDFLAGS)

hostile_integration_tests = \
	tests/target-strings.sh \
	tests/lock-rlimit-lend.sh \
	tests/lock-uffd.sh \
	tests/lock-dstate.sh \
	tests/lock-many-maps.sh \
	tests/release-refused.sh
integration_tests += $(hostile_integration_tests)
EXTRA_DIST += tests/hostile.mk tests/hostile-lib.sh $(hostile_integration_tests)
