# policy: mlockd.conf and policy.d/*.conf, parsed with inih; --check-config/--dump-config in main.c.
lib_libmlockd_la_SOURCES += lib/policy.c lib/policy.h
