# policy: mlockd.conf and policy.d/*.conf parsed with inih (lib/policy.c), --check-config and
# --dump-config (daemon/main.c), the example configuration, its man pages, tests and fuzzer.
lib_libmlockd_la_SOURCES += lib/policy.c lib/policy.h

unit_tests += tests/test-policy
tests_test_policy_SOURCES = tests/test-policy.c
integration_tests += tests/check-config.sh
EXTRA_DIST += tests/check-config.sh
# fixtures: tests/data/policy/ (all of tests/data is distributed)

# ---- configuration: mlockd.conf in /etc/mlockd, an empty policy.d, examples under docdir ----
pkgsysconf_DATA += conf/mlockd.conf
EXTRA_DIST += conf/mlockd.conf
examplesdir = $(docdir)/examples/policy.d
dist_examples_DATA = conf/policy.d/database.conf conf/policy.d/cache.conf

# recipe-less so that other fragments may hook install-data-local too
install-data-local: install-policy-dir
install-policy-dir:
	$(MKDIR_P) '$(DESTDIR)$(pkgsysconfdir)/policy.d'
uninstall-local: uninstall-policy-dir
uninstall-policy-dir:
	-rmdir '$(DESTDIR)$(pkgsysconfdir)/policy.d'
.PHONY: install-policy-dir uninstall-policy-dir

# ---- man pages ----
man_MANS += doc/mlockd.conf.5 doc/mlockd.policy.5
generated_files += doc/mlockd.conf.5 doc/mlockd.policy.5
EXTRA_DIST += doc/mlockd.conf.5.in doc/mlockd.policy.5.in

# ---- fuzzing (not part of the build: needs clang's libFuzzer) ----
# "make fuzz" builds tests/fuzz/fuzz-policy with -fsanitize=fuzzer,address,undefined and runs it
# for FUZZ_RUNS executions on a copy of the seed corpus.
FUZZ_RUNS = 1000000
FUZZ_FLAGS =
fuzz_policy_sources = \
	tests/fuzz/fuzz-policy.c lib/policy.c lib/strv.c lib/parse-util.c lib/fileio.c lib/log.c
EXTRA_DIST += tests/fuzz/fuzz-policy.c tests/fuzz/corpus-policy
CLEANFILES += tests/fuzz/fuzz-policy

tests/fuzz/fuzz-policy: $(addprefix $(srcdir)/,$(fuzz_policy_sources)) $(srcdir)/lib/policy.h
	@if test -z "$(CLANG)"; then echo "make fuzz needs clang (libFuzzer); none was found" >&2; exit 1; fi
	$(AM_V_CCLD)$(MKDIR_P) $(@D) && $(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -include $(top_builddir)/config.h -I$(top_srcdir)/lib \
		-DSYSCONFDIR=\"$(sysconfdir)\" $(INIH_CFLAGS) $(LIBSYSTEMD_CFLAGS) \
		-o $@ $(addprefix $(srcdir)/,$(fuzz_policy_sources)) $(INIH_LIBS) $(LIBSYSTEMD_LIBS)

fuzz: tests/fuzz/fuzz-policy
	rm -rf tests/fuzz/corpus-policy.run && $(MKDIR_P) tests/fuzz/corpus-policy.run
	cp $(srcdir)/tests/fuzz/corpus-policy/* tests/fuzz/corpus-policy.run/
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		./tests/fuzz/fuzz-policy -runs=$(FUZZ_RUNS) -max_len=4096 -print_final_stats=1 \
		$(FUZZ_FLAGS) tests/fuzz/corpus-policy.run
.PHONY: fuzz
clean-local: clean-fuzz
clean-fuzz:
	rm -rf tests/fuzz/corpus-policy.run
.PHONY: clean-fuzz
