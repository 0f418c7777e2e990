/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "metrics.h"
#include "utf8.h"

/* A label value between double quotes: text from targets escaped as on the bus (lib/utf8.h: valid
 * UTF-8, no control characters, so the same cgroup path reads the same in ListCgroups), then
 * Prometheus' escapes for a backslash and a double quote. */
static void put_label_value(FILE *f, const char *v) {
        _cleanup_free_ char *escaped = NULL;

        fputc('"', f);
        for (const char *s = utf8_safe(v, &escaped); *s; s++)
                switch (*s) {
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '"':
                        fputs("\\\"", f);
                        break;
                default:
                        fputc(*s, f);
                }
        fputc('"', f);
}

/* Shortest decimal that reads back as the same double; Prometheus' spelling of the specials. */
static void put_double(FILE *f, double d) {
        char buf[64];

        if (isnan(d)) {
                fputs("NaN", f);
                return;
        }
        if (isinf(d)) {
                fputs(d > 0 ? "+Inf" : "-Inf", f);
                return;
        }
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, sizeof buf, "%.*g", prec, d);
                if (strtod(buf, NULL) == d)
                        break;
        }
        fputs(buf, f);
}

static void put_family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int snapshot_validate(const MetricsSnapshot *s) {
        if ((s->n_cgroups > 0 && !s->cgroups) || (s->n_policies > 0 && !s->policies) ||
            (s->n_targets > 0 && !s->targets) ||
            (s->n_buckets > 0 && (!s->injection_buckets || !s->injection_bucket_bounds)))
                return -EINVAL;

        for (size_t i = 0; i < s->n_cgroups; i++)
                if (!s->cgroups[i].path)
                        return -EINVAL;
        for (size_t i = 0; i < s->n_policies; i++)
                if (!s->policies[i].name)
                        return -EINVAL;
        for (size_t i = 0; i < s->n_targets; i++)
                if (!s->targets[i].policy || !s->targets[i].state)
                        return -EINVAL;

        for (size_t i = 0; i < s->n_buckets; i++) {
                if (!isfinite(s->injection_bucket_bounds[i]) ||
                    (i > 0 && !(s->injection_bucket_bounds[i] > s->injection_bucket_bounds[i - 1])))
                        return -EINVAL;
                if ((i > 0 && s->injection_buckets[i] < s->injection_buckets[i - 1]) ||
                    s->injection_buckets[i] > s->injection_count)
                        return -EINVAL;
        }
        return 0;
}

static void put_cgroup_family(FILE *f, const MetricsSnapshot *s, const char *name, const char *help,
                              size_t offset) {
        put_family(f, name, "gauge", help);
        for (size_t i = 0; !s->no_memory_controller && i < s->n_cgroups; i++) {
                const MetricsCgroup *c = s->cgroups + i;

                fprintf(f, "%s{cgroup=", name);
                put_label_value(f, c->path);
                fprintf(f, "} %" PRIu64 "\n", *(const uint64_t *) ((const char *) c + offset));
        }
}

int metrics_format(const MetricsSnapshot *s, char **ret_text) {
        _cleanup_free_ char *text = NULL;
        double timestamp;
        size_t size = 0;
        FILE *f;
        int r;

        if (!s || !ret_text)
                return -EINVAL;
        r = snapshot_validate(s);
        if (r < 0)
                return r;
        timestamp = s->timestamp;
        if (timestamp == 0) {
                struct timespec ts;

                if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                        return -errno;
                timestamp = (double) ts.tv_sec + (double) (ts.tv_nsec / 1000000) / 1e3; /* ms */
        }

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;

        put_family(f, "mlockd_build_info", "gauge", "Always 1; the version of mlockd in its label.");
        fputs("mlockd_build_info{version=", f);
        put_label_value(f, s->version ?: PACKAGE_VERSION);
        fputs("} 1\n", f);

        put_family(f, "mlockd_last_update_timestamp_seconds", "gauge",
                   "When mlockd wrote this file (Unix time); rewritten every AccountingInterval.");
        fputs("mlockd_last_update_timestamp_seconds ", f);
        put_double(f, timestamp);
        fputc('\n', f);

        put_cgroup_family(f, s, "mlockd_cgroup_unevictable_bytes",
                          "Unevictable memory of the cgroup as the kernel counts it (memory.stat).",
                          offsetof(MetricsCgroup, unevictable));
        put_cgroup_family(f, s, "mlockd_cgroup_locked_bytes",
                          "Memory mlockd locked in processes of the cgroup.",
                          offsetof(MetricsCgroup, locked));
        put_cgroup_family(f, s, "mlockd_cgroup_budget_bytes",
                          "CgroupMaxUnevictable= budget of the cgroup (0: none).",
                          offsetof(MetricsCgroup, budget));
        put_cgroup_family(f, s, "mlockd_cgroup_foreign_bytes",
                          "Memory charged to the cgroup that mlockd locked in processes of other cgroups.",
                          offsetof(MetricsCgroup, foreign));

        put_family(f, "mlockd_locked_bytes", "gauge", "Memory mlockd locked for the policy.");
        for (size_t i = 0; i < s->n_policies; i++) {
                fputs("mlockd_locked_bytes{policy=", f);
                put_label_value(f, s->policies[i].name);
                fprintf(f, "} %" PRIu64 "\n", s->policies[i].locked);
        }

        put_family(f, "mlockd_targets", "gauge", "Processes matched by the policy, by state and reason.");
        for (size_t i = 0; i < s->n_targets; i++) {
                const char *state = s->targets[i].state, *colon = strchr(state, ':');
                _cleanup_free_ char *word = strndup(state, colon ? (size_t) (colon - state) : strlen(state));

                if (!word) {
                        fclose(f);
                        return -ENOMEM;
                }
                fputs("mlockd_targets{policy=", f);
                put_label_value(f, s->targets[i].policy);
                fputs(",state=", f);
                put_label_value(f, word);
                fputs(",reason=", f);
                put_label_value(f, colon ? colon + 1 : "");
                fprintf(f, "} %u\n", s->targets[i].count);
        }

        put_family(f, "mlockd_injections_total", "counter", "Syscalls injected into targets.");
        fprintf(f, "mlockd_injections_total %" PRIu64 "\n", s->injections_total);
        put_family(f, "mlockd_drift_rechecks_total", "counter",
                   "Targets verified again because their lock drifted (VmLck or unevictable fell).");
        fprintf(f, "mlockd_drift_rechecks_total %" PRIu64 "\n", s->drift_rechecks);

        put_family(f, "mlockd_injection_seconds", "histogram",
                   "Time a target was held for one injection.");
        for (size_t i = 0; i < s->n_buckets; i++) {
                fputs("mlockd_injection_seconds_bucket{le=\"", f);
                put_double(f, s->injection_bucket_bounds[i]);
                fprintf(f, "\"} %" PRIu64 "\n", s->injection_buckets[i]);
        }
        fprintf(f, "mlockd_injection_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", s->injection_count);
        fputs("mlockd_injection_seconds_sum ", f);
        put_double(f, s->injection_seconds_sum);
        fprintf(f, "\nmlockd_injection_seconds_count %" PRIu64 "\n", s->injection_count);

        r = ferror(f) ? -ENOMEM : 0;
        if (fclose(f) != 0 && r == 0)
                r = -ENOMEM;
        if (r < 0)
                return r;

        *ret_text = TAKE_PTR(text);
        return 0;
}

int metrics_write(const char *path, const MetricsSnapshot *s) {
        _cleanup_free_ char *text = NULL;
        int r;

        if (isempty(path))
                return -EINVAL;
        r = metrics_format(s, &text);
        if (r < 0)
                return r;
        return write_file_atomic(path, text, strlen(text), 0644);
}

int metrics_remove(const char *path) {
        if (isempty(path))
                return -EINVAL;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}
