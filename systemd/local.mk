# systemd/local.mk: the units, the bus policy and activation file, and the self-hardening
# library (daemon/sandbox.c) with its tests. See doc/hardening.md.

mlockd_SOURCES += daemon/sandbox.c daemon/sandbox.h

# ---- installed files ----------------------------------------------------------------------------
# The manager (mlockd.service) and its injector (mlockd-injector.socket, mlockd-injector.service):
# these three names are relied on by packaging.
generated_files += systemd/mlockd.service systemd/mlockd-injector.service systemd/org.mlockd1.service
systemdsystemunit_DATA = systemd/mlockd.service systemd/mlockd-injector.service systemd/mlockd-injector.socket
dbussystemconf_DATA = systemd/org.mlockd1.conf
dbussystemservice_DATA = systemd/org.mlockd1.service
EXTRA_DIST += \
	systemd/mlockd.service.in \
	systemd/mlockd-injector.service.in \
	systemd/mlockd-injector.socket \
	systemd/org.mlockd1.conf \
	systemd/org.mlockd1.service.in \
	doc/hardening.md

# ---- tests ----------------------------------------------------------------------------------------
unit_tests += tests/test-sandbox
tests_test_sandbox_SOURCES = tests/test-sandbox.c daemon/sandbox.c daemon/sandbox.h
tests_test_sandbox_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(LIBCAP_CFLAGS) $(LIBSECCOMP_CFLAGS)
tests_test_sandbox_LDADD = lib/libmlockd.la $(LIBSYSTEMD_LIBS) $(LIBCAP_LIBS) $(LIBSECCOMP_LIBS)

# A bus peer that owns org.mlockd1 and serves dummy members, to test the bus policy file.
check_PROGRAMS += tests/helpers/bus-dummy
tests_helpers_bus_dummy_SOURCES = tests/helpers/bus-dummy.c
tests_helpers_bus_dummy_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS)
tests_helpers_bus_dummy_LDADD = $(LIBSYSTEMD_LIBS)

integration_tests += tests/systemd-unit.sh tests/bus-policy.sh
EXTRA_DIST += tests/systemd-unit.sh tests/bus-policy.sh
