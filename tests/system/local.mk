# tests/system/local.mk: make check-system, the system test (tests/system/run.sh): mlockd's .deb
# built from this tree, installed into a bookworm root made with mmdebstrap (cached under
# /var/cache/mlockd-system-test), booted with systemd-nspawn and checked on its real systemd and
# system bus. Not part of make check: it needs root and the Debian archive. A host that cannot
# run it (run.sh exits 77) is a skip, printed with the reason; MLOCKD_SYSTEM_TEST_REQUIRED=yes
# makes a skip an error (for CI that must run it).
check-system:
	@rc=0; top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' MAKE='$(MAKE)' \
		$(SHELL) '$(srcdir)/tests/system/run.sh' || rc=$$?; \
	if test $$rc -eq 77; then \
		echo "check-system: SKIPPED (the reason is above)"; \
		test "x$(MLOCKD_SYSTEM_TEST_REQUIRED)" != xyes; exit $$?; \
	fi; \
	exit $$rc
.PHONY: check-system
CLEANFILES += tests/system/system-test.log

EXTRA_DIST += \
	tests/system/local.mk \
	tests/system/run.sh \
	tests/system/checks.sh \
	tests/system/packages \
	tests/system/cgroup-memory-rw.service \
	tests/system/mlockd-system-test.service
