/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "metrics.h"
#include "tests.h"

static const char expected[] =
        "# HELP mlockd_build_info Always 1; the version of mlockd in its label.\n"
        "# TYPE mlockd_build_info gauge\n"
        "mlockd_build_info{version=\"1.2.3\"} 1\n"
        "# HELP mlockd_last_update_timestamp_seconds When mlockd wrote this file (Unix time); rewritten every AccountingInterval.\n"
        "# TYPE mlockd_last_update_timestamp_seconds gauge\n"
        "mlockd_last_update_timestamp_seconds 1700000000.25\n"
        "# HELP mlockd_cgroup_unevictable_bytes Unevictable memory of the cgroup as the kernel counts it (memory.stat).\n"
        "# TYPE mlockd_cgroup_unevictable_bytes gauge\n"
        "mlockd_cgroup_unevictable_bytes{cgroup=\"/system.slice/redis.service\"} 8388608\n"
        "mlockd_cgroup_unevictable_bytes{cgroup=\"/odd \\\"quoted\\\" \\\\ back\\\\x0aslash\"} 0\n"
        "# HELP mlockd_cgroup_locked_bytes Memory mlockd locked in processes of the cgroup.\n"
        "# TYPE mlockd_cgroup_locked_bytes gauge\n"
        "mlockd_cgroup_locked_bytes{cgroup=\"/system.slice/redis.service\"} 4194304\n"
        "mlockd_cgroup_locked_bytes{cgroup=\"/odd \\\"quoted\\\" \\\\ back\\\\x0aslash\"} 1\n"
        "# HELP mlockd_cgroup_budget_bytes CgroupMaxUnevictable= budget of the cgroup (0: none).\n"
        "# TYPE mlockd_cgroup_budget_bytes gauge\n"
        "mlockd_cgroup_budget_bytes{cgroup=\"/system.slice/redis.service\"} 8589934592\n"
        "mlockd_cgroup_budget_bytes{cgroup=\"/odd \\\"quoted\\\" \\\\ back\\\\x0aslash\"} 18446744073709551615\n"
        "# HELP mlockd_cgroup_foreign_bytes Memory charged to the cgroup that mlockd locked in processes of other cgroups.\n"
        "# TYPE mlockd_cgroup_foreign_bytes gauge\n"
        "mlockd_cgroup_foreign_bytes{cgroup=\"/system.slice/redis.service\"} 0\n"
        "mlockd_cgroup_foreign_bytes{cgroup=\"/odd \\\"quoted\\\" \\\\ back\\\\x0aslash\"} 33554432\n"
        "# HELP mlockd_locked_bytes Memory mlockd locked for the policy.\n"
        "# TYPE mlockd_locked_bytes gauge\n"
        "mlockd_locked_bytes{policy=\"redis\"} 4194304\n"
        "mlockd_locked_bytes{policy=\"caf\xc3\xa9 \\\\xff\\\\xc3\"} 0\n"
        "# HELP mlockd_targets Processes matched by the policy, by state and reason.\n"
        "# TYPE mlockd_targets gauge\n"
        "mlockd_targets{policy=\"redis\",state=\"locked\",reason=\"\"} 3\n"
        "mlockd_targets{policy=\"redis\",state=\"skipped\",reason=\"seccomp:unreadable\"} 1\n"
        "# HELP mlockd_injections_total Syscalls injected into targets.\n"
        "# TYPE mlockd_injections_total counter\n"
        "mlockd_injections_total 42\n"
        "# HELP mlockd_drift_rechecks_total Targets verified again because their lock drifted (VmLck or unevictable fell).\n"
        "# TYPE mlockd_drift_rechecks_total counter\n"
        "mlockd_drift_rechecks_total 2\n"
        "# HELP mlockd_injection_seconds Time a target was held for one injection.\n"
        "# TYPE mlockd_injection_seconds histogram\n"
        "mlockd_injection_seconds_bucket{le=\"5e-05\"} 10\n"
        "mlockd_injection_seconds_bucket{le=\"0.0001\"} 30\n"
        "mlockd_injection_seconds_bucket{le=\"0.001\"} 40\n"
        "mlockd_injection_seconds_bucket{le=\"0.1\"} 41\n"
        "mlockd_injection_seconds_bucket{le=\"+Inf\"} 42\n"
        "mlockd_injection_seconds_sum 0.3\n"
        "mlockd_injection_seconds_count 42\n";

static const MetricsCgroup cgroups[] = {
        { .path = "/system.slice/redis.service", .unevictable = 8388608, .locked = 4194304, .budget = 8589934592ULL },
        { .path = "/odd \"quoted\" \\ back\nslash", .unevictable = 0, .locked = 1, .budget = UINT64_MAX,
          .foreign = 33554432 },
};
static const MetricsPolicy policies[] = {
        { .name = "redis", .locked = 4194304 },
        { .name = "caf\xc3\xa9 \xff\xc3", .locked = 0 }, /* invalid UTF-8: a stray byte, a cut sequence */
};
static const MetricsTargets targets[] = {
        { .policy = "redis", .state = "locked", .count = 3 },
        { .policy = "redis", .state = "skipped:seccomp:unreadable", .count = 1 },
};
static const double bounds[] = { 0.00005, 0.0001, 0.001, 0.1 };
static const uint64_t buckets[] = { 10, 30, 40, 41 };

static MetricsSnapshot snapshot(void) {
        return (MetricsSnapshot) {
                .cgroups = cgroups, .n_cgroups = ELEMENTSOF(cgroups),
                .policies = policies, .n_policies = ELEMENTSOF(policies),
                .targets = targets, .n_targets = ELEMENTSOF(targets),
                .injections_total = 42,
                .drift_rechecks = 2,
                .injection_buckets = buckets, .injection_bucket_bounds = bounds, .n_buckets = ELEMENTSOF(bounds),
                .injection_seconds_sum = 0.3, .injection_count = 42,
                .version = "1.2.3", .timestamp = 1700000000.25,
        };
}

/* promtool check metrics < path: 0 clean, 1 problems, 77 when promtool is missing */
static int promtool_check(const char *path) {
        int status;
        pid_t pid;

        if (access("/usr/bin/promtool", X_OK) < 0 && access("/usr/local/bin/promtool", X_OK) < 0)
                return EXIT_TEST_SKIP;
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
                        _exit(127);
                execlp("promtool", "promtool", "check", "metrics", NULL);
                _exit(127);
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        if (WEXITSTATUS(status) == 127)
                return EXIT_TEST_SKIP;
        return WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(void) {
        _cleanup_free_ char *text = NULL, *back = NULL, *path = NULL, *bad_path = NULL;
        char dir[] = "/tmp/test-metrics.XXXXXX";
        MetricsSnapshot s = snapshot();
        struct stat st;
        int r;

        ASSERT_OK(metrics_format(&s, &text));
        if (strcmp(text, expected) != 0)
                test_fail("metrics_format() gave:\n%s\nexpected:\n%s", text, expected);
        text = (free(text), NULL);

        /* empty snapshot: every family still announced, histogram with only +Inf */
        MetricsSnapshot empty = {};
        ASSERT_OK(metrics_format(&empty, &text));
        ASSERT_NOT_NULL(strstr(text, "# TYPE mlockd_cgroup_unevictable_bytes gauge\n# HELP mlockd_cgroup_locked_bytes"));
        ASSERT_NOT_NULL(strstr(text, "\nmlockd_injection_seconds_bucket{le=\"+Inf\"} 0\nmlockd_injection_seconds_sum 0\n"));
        text = (free(text), NULL);

        /* defaults: this build's version, the time now */
        {
                struct timespec ts;
                double stamp;
                const char *p;

                ASSERT_OK(clock_gettime(CLOCK_REALTIME, &ts));
                ASSERT_OK(metrics_format(&empty, &text));
                ASSERT_NOT_NULL(strstr(text, "\nmlockd_build_info{version=\"" PACKAGE_VERSION "\"} 1\n"));
                p = strstr(text, "\nmlockd_last_update_timestamp_seconds ");
                ASSERT_NOT_NULL(p);
                stamp = strtod(p + strlen("\nmlockd_last_update_timestamp_seconds "), NULL);
                ASSERT_TRUE(stamp >= (double) ts.tv_sec && stamp < (double) ts.tv_sec + 60);
                text = (free(text), NULL);
        }

        /* no memory controller: the cgroup families are announced, with no series */
        s = snapshot();
        s.no_memory_controller = true;
        ASSERT_OK(metrics_format(&s, &text));
        ASSERT_NULL(strstr(text, "{cgroup="));
        ASSERT_NOT_NULL(strstr(text, "# TYPE mlockd_cgroup_foreign_bytes gauge\n# HELP mlockd_locked_bytes"));
        ASSERT_NOT_NULL(strstr(text, "mlockd_locked_bytes{policy=\"redis\"} 4194304\n"));
        text = (free(text), NULL);

        /* bad snapshots, ret untouched */
        text = strdup("untouched");
        s = snapshot();
        s.cgroups = NULL;
        ASSERT_ERROR(metrics_format(&s, &text), EINVAL);
        s = snapshot();
        s.injection_count = 40; /* fewer than the last bucket */
        ASSERT_ERROR(metrics_format(&s, &text), EINVAL);
        s = snapshot();
        s.injection_buckets = (const uint64_t[]) { 10, 9, 40, 41 };
        ASSERT_ERROR(metrics_format(&s, &text), EINVAL);
        s = snapshot();
        s.injection_bucket_bounds = (const double[]) { 0.1, 0.1, 0.2, 0.3 };
        ASSERT_ERROR(metrics_format(&s, &text), EINVAL);
        s = snapshot();
        s.injection_bucket_bounds = (const double[]) { 0.1, 0.2, 0.3, __builtin_inf() };
        ASSERT_ERROR(metrics_format(&s, &text), EINVAL);
        s = snapshot();
        s.targets = (const MetricsTargets[]) { { .policy = "a", .state = NULL }, { .policy = "b", .state = "c" } };
        ASSERT_ERROR(metrics_format(&s, &text), EINVAL);
        ASSERT_ERROR(metrics_format(NULL, &text), EINVAL);
        ASSERT_STREQ(text, "untouched");
        text = (free(text), NULL);

        /* the file: atomic, 0644, nothing left behind, and valid for Prometheus' own checker */
        ASSERT_NOT_NULL(mkdtemp(dir));
        ASSERT_TRUE(asprintf(&path, "%s/mlockd.prom", dir) > 0);
        s = snapshot();
        ASSERT_OK(metrics_write(path, &s));
        ASSERT_OK(metrics_write(path, &s)); /* replaces */
        ASSERT_OK(stat(path, &st));
        ASSERT_EQ(st.st_mode & 0777, 0644);
        ASSERT_OK(read_full_file(path, 1 << 20, &back, NULL));
        ASSERT_STREQ(back, expected);

        s.injection_count = 1;
        ASSERT_ERROR(metrics_write(path, &s), EINVAL);
        ASSERT_ERROR(metrics_write(NULL, &s), EINVAL);
        back = (free(back), NULL);
        ASSERT_OK(read_full_file(path, 1 << 20, &back, NULL));
        ASSERT_STREQ(back, expected); /* a failed write leaves the old file */
        ASSERT_TRUE(asprintf(&bad_path, "%s/no-such-dir/mlockd.prom", dir) > 0);
        s = snapshot();
        ASSERT_ERROR(metrics_write(bad_path, &s), ENOENT);

        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;
        ASSERT_NOT_NULL(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        ASSERT_EQ(n, 1);

        r = promtool_check(path);
        if (r == 1)
                test_fail("promtool check metrics rejected %s", path);

        /* the checker must be able to fail: the same text with a raw invalid byte where we wrote
         * its escape is rejected (the format wants UTF-8), so the escaping is needed */
        if (r == 0) {
                _cleanup_free_ char *raw_path = NULL, *raw = strdup(expected);
                char *esc;

                ASSERT_NOT_NULL(raw);
                esc = strstr(raw, "\\\\xff");
                ASSERT_NOT_NULL(esc);
                esc[0] = '\xff';
                memmove(esc + 1, esc + 5, strlen(esc + 5) + 1);
                ASSERT_TRUE(asprintf(&raw_path, "%s/raw.prom", dir) > 0);
                ASSERT_OK(write_file_atomic(raw_path, raw, strlen(raw), 0644));
                ASSERT_EQ(promtool_check(raw_path), 1);
                ASSERT_OK(unlink(raw_path));
        }

        /* a clean stop removes the file; removing it again is no error */
        ASSERT_OK(metrics_remove(path));
        ASSERT_TRUE(access(path, F_OK) < 0 && errno == ENOENT);
        ASSERT_OK(metrics_remove(path));
        ASSERT_ERROR(metrics_remove(""), EINVAL);
        ASSERT_OK(rmdir(dir));
        if (r == EXIT_TEST_SKIP)
                fprintf(stderr, "promtool not found: the format was not checked by Prometheus' parser\n");
        return r;
}
