# discovery.mk: process discovery (proc connector, /proc scan), young processes' new mappings
# (mapwatch: a perf event), memory maps, prefetch.
lib_libmlockd_la_SOURCES += \
	lib/procmon.c lib/procmon.h \
	lib/mapwatch.c lib/mapwatch.h \
	lib/maps.c lib/maps.h \
	lib/mounts.c lib/mounts.h \
	lib/prefetch.c lib/prefetch.h

unit_tests += tests/test-procmon tests/test-mapwatch tests/test-maps tests/test-prefetch tests/test-mounts
tests_test_procmon_SOURCES = tests/test-procmon.c
tests_test_procmon_LDADD = $(LDADD) -lpthread
tests_test_mapwatch_SOURCES = tests/test-mapwatch.c
tests_test_mapwatch_LDADD = $(LDADD) -lpthread
tests_test_maps_SOURCES = tests/test-maps.c
tests_test_prefetch_SOURCES = tests/test-prefetch.c
tests_test_mounts_SOURCES = tests/test-mounts.c

# Where page cache read by process_madvise(WILLNEED) is charged (memcg v1); prints figures.
bench_programs += tests/helpers/memcg-experiment
tests_helpers_memcg_experiment_SOURCES = tests/helpers/memcg-experiment.c

EXTRA_DIST += \
	tests/data/maps \
	tests/data/procmon

# The machine's process events as the daemon's subscription sees them (bench-lock.sh, idle)
bench_programs += tests/bench/bench-events
tests_bench_bench_events_SOURCES = tests/bench/bench-events.c
