/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A snapshot of plain structs in, a Prometheus textfile out (node_exporter's textfile collector
 * format, text exposition 0.0.4), written atomically (temporary file in the same directory, then
 * rename; the temporary name does not end in ".prom", so the collector never reads half a file).
 *
 * Families, each with HELP and TYPE, in this order (series in the order given):
 *   mlockd_build_info{version}                gauge   1
 *   mlockd_last_update_timestamp_seconds      gauge   when this file was written (Unix time)
 *   mlockd_cgroup_unevictable_bytes{cgroup}   gauge   kernel's memory.stat unevictable
 *   mlockd_cgroup_locked_bytes{cgroup}        gauge   what mlockd locked there
 *   mlockd_cgroup_budget_bytes{cgroup}        gauge   CgroupMaxUnevictable= (0: none)
 *   mlockd_cgroup_foreign_bytes{cgroup}       gauge   charged there, mlocked by targets elsewhere
 *   mlockd_locked_bytes{policy}               gauge
 *   mlockd_targets{policy,state,reason}       gauge   state "partial:rlimit" -> state="partial",
 *                                                     reason="rlimit" (reason="" when none)
 *   mlockd_injections_total                   counter
 *   mlockd_drift_rechecks_total               counter
 *   mlockd_injection_seconds                  histogram (_bucket{le}, _sum, _count)
 * Label values are escaped (\\, \", \n); bytes that are not valid UTF-8 (cgroup paths are
 * arbitrary bytes) become U+FFFD, since the format requires UTF-8. Callers pass each cgroup,
 * policy and (policy, state) once: duplicate series are not detected. Without a memory
 * controller the cgroup families have no series: there is nothing to enforce a budget with, and
 * a 0 would read as a measured figure. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct MetricsCgroup {
        const char *path;
        uint64_t unevictable, locked, budget;
        uint64_t foreign;       /* charged there, mlocked by targets in other cgroups */
} MetricsCgroup;

typedef struct MetricsPolicy {
        const char *name;
        uint64_t locked;
} MetricsPolicy;

typedef struct MetricsTargets {
        const char *policy;
        const char *state;
        unsigned count;
} MetricsTargets;

typedef struct MetricsSnapshot {
        const MetricsCgroup *cgroups;
        size_t n_cgroups;
        const MetricsPolicy *policies;
        size_t n_policies;
        const MetricsTargets *targets;
        size_t n_targets;
        uint64_t injections_total;
        uint64_t drift_rechecks;        /* rechecks started because a target's lock drifted */
        const uint64_t *injection_buckets;     /* cumulative counts per bucket bound below */
        const double *injection_bucket_bounds; /* seconds, ascending; +Inf implied */
        size_t n_buckets;
        double injection_seconds_sum;
        uint64_t injection_count;
        const char *version;         /* NULL: PACKAGE_VERSION */
        double timestamp;            /* Unix time of the snapshot; 0: now (CLOCK_REALTIME) */
        bool no_memory_controller;   /* true: no cgroup series */
} MetricsSnapshot;

/* -EINVAL for a NULL array with a non-zero count, a NULL label value, bucket bounds that are not
 * finite and strictly ascending, or bucket counts that decrease or exceed injection_count. */
int metrics_format(const MetricsSnapshot *s, char **ret_text);
/* metrics_format() + write_file_atomic(path, ..., 0644). */
int metrics_write(const char *path, const MetricsSnapshot *s);
/* Remove the file at a clean stop, so that no figure outlives the daemon (a missing file, or a
 * stale timestamp, is what alerts look for). A missing file is no error. */
int metrics_remove(const char *path);
