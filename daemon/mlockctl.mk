# mlockctl, the bus API (org.mlockd1.Manager) and their man pages.
mlockctl_SOURCES += \
	daemon/mlockctl-format.c daemon/mlockctl-format.h \
	daemon/manager-bus.h

# The vtable and handlers: linked into mlockd once the manager is merged. Until then they are
# compiled and exercised by tests/test-manager-bus, with the manager_* functions stubbed.

unit_tests += tests/test-mlockctl-format tests/test-manager-bus
tests_test_mlockctl_format_SOURCES = tests/test-mlockctl-format.c \
	daemon/mlockctl-format.c daemon/mlockctl-format.h
tests_test_mlockctl_format_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS)
tests_test_manager_bus_SOURCES = tests/test-manager-bus.c \
	daemon/manager-bus.c daemon/manager-bus.h daemon/manager.h
tests_test_manager_bus_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS)

operator_tests = tests/bus.sh tests/mlockctl.sh tests/mlockctl-stub.sh tests/lock-symlink.sh tests/alerts.sh tests/dry-run.sh tests/completion.sh
integration_tests += $(operator_tests)
EXTRA_DIST += $(operator_tests) tests/bus-lib.sh tests/alerts-test.yml

# mlockd --dry-run: lib/ alone, with mlockctl's tables and JSON
mlockd_SOURCES += daemon/dry-run.c daemon/dry-run.h daemon/mlockctl-format.c daemon/mlockctl-format.h

# Example alert rules for the metrics textfile
dist_doc_DATA = doc/alerts.yml

man_MANS += doc/mlockctl.1 doc/org.mlockd1.5
generated_files += doc/mlockctl.1 doc/org.mlockd1.5
EXTRA_DIST += doc/mlockctl.1.in doc/org.mlockd1.5.in

# Shell completions for mlockctl and mlockd
bashcompletion_DATA = shell-completion/bash/mlockctl shell-completion/bash/mlockd
zshcompletion_DATA = shell-completion/zsh/_mlockctl shell-completion/zsh/_mlockd
EXTRA_DIST += $(bashcompletion_DATA) $(zshcompletion_DATA)
