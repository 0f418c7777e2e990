# policy: mlockd.conf and policy.d/*.conf, parsed with inih; --check-config/--dump-config in main.c.
lib_libmlockd_la_SOURCES += lib/policy.c lib/policy.h
unit_tests += tests/test-policy
tests_test_policy_SOURCES = tests/test-policy.c
