/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How long one accounting refresh takes for 1,000 cgroups: 1,000 real memory cgroups made below
 * our own, each refresh reads all of them with cgroup_read_memory() (memory.stat, limit, usage),
 * then they are removed. Prints median and p99 per full refresh.
 *
 * The daemon's own path is measured too: manager_account() (daemon/manager-account.c, linked in
 * whole) over a manager holding 1,000 targets, one in each cgroup, as an accounting tick runs it;
 * the rest of the manager (policies, the bus, sampling) is stubbed below, unused by it.
 *
 * First, the figure against its floor: N_ROUNDS interleaved rounds of a tick's refresh through the
 * library (memory.stat alone, cgroup_read_memory_fields(CGROUP_READ_STAT); and all three files)
 * beside a plain C loop that opens each memory.stat by path, read()s it into one buffer
 * and picks the unevictable figure with strstr(); medians and their ratio. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "fileio.h"
#include "macro.h"
#include "manager-internal.h"
#include "parse-util.h"

/* The manager's other parts, as manager_account() needs them with no policy and no job. */
const Policy *target_policy(Manager *m, const Target *t) {
        return NULL;
}
void bus_emit_budget_exceeded(Manager *m, const CgroupAccount *c) {
}
uint64_t job_in_flight(const Job *j) {
        return 0;
}
uint64_t manager_policy_locked(Manager *m, const char *policy) {
        return 0;
}
void manager_start_recheck(Manager *m, Target *t) {
}
int manager_sample_size(Manager *m, Target *t, uint64_t *ret) {
        return -ESRCH;
}
int manager_sample_locked(Manager *m, Target *t, uint64_t *ret) {
        return -ESRCH;
}

#define N_CGROUPS 1000
#define N_REFRESH 101
#define N_REFRESH_PART 21
#define N_ROUNDS 21

static char *base;
static char *paths[N_CGROUPS]; /* relative to the memory root */
static char *dirs[N_CGROUPS];  /* absolute */

static void cleanup(void) {
        unsigned left = 0;

        for (size_t i = 0; i < N_CGROUPS; i++) {
                if (dirs[i] && rmdir(dirs[i]) < 0 && errno != ENOENT)
                        left++;
                free(dirs[i]);
                free(paths[i]);
                dirs[i] = paths[i] = NULL;
        }
        if (base && rmdir(base) < 0 && errno != ENOENT)
                fprintf(stderr, "warning: could not remove %s: %m\n", base);
        if (left > 0)
                fprintf(stderr, "warning: %u cgroups could not be removed\n", left);
        free(base);
        base = NULL;
}

static void print_stats_n(const char *what, const uint64_t *t, size_t n) {
        printf("%s, %d cgroups, %zu runs: median %.2f ms, p99 %.2f ms, min %.2f ms, max %.2f ms"
               " (%.1f us per cgroup at the median)\n",
               what, N_CGROUPS, n, t[n / 2] / 1000.0, t[(n * 99 + 99) / 100 - 1] / 1000.0, t[0] / 1000.0,
               t[n - 1] / 1000.0, (double) t[n / 2] / N_CGROUPS);
}

static void print_stats(const char *what, const uint64_t *t) {
        print_stats_n(what, t, N_REFRESH);
}

/* dirs[i]/name, in a buffer reused by the caller's loop */
static const char *file_path(size_t i, const char *name) {
        static char buf[8192];

        snprintf(buf, sizeof buf, "%s/%s", dirs[i], name);
        return buf;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* The floor: what a refresh costs written by hand, one open + read + close per cgroup. */
static int plain_refresh(CgroupVersion v, uint64_t *sum) {
        static char buf[64 * 1024];
        const char *key = v == CGROUP_V1 ? "\ntotal_unevictable " : "\nunevictable ";

        for (size_t i = 0; i < N_CGROUPS; i++) {
                const char *p;
                ssize_t n;
                int fd;

                fd = open(file_path(i, "memory.stat"), O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                n = read(fd, buf + 1, sizeof buf - 2);
                close(fd);
                if (n < 0)
                        return -errno;
                buf[0] = '\n';
                buf[n + 1] = '\0';
                p = strstr(buf, key);
                if (!p)
                        return -EBADMSG;
                *sum += strtoull(p + strlen(key), NULL, 10);
        }
        return 0;
}

/* What a tick costs through the library: memory.stat alone (what a tick needs), or all three files. */
static int lib_refresh(const CgroupLayout *l, CgroupReadFlags what, uint64_t *sum) {
        for (size_t i = 0; i < N_CGROUPS; i++) {
                CgroupMemory m = {};
                int r;

                r = cgroup_read_memory_fields(l, paths[i], what, &m);
                if (r < 0)
                        return r;
                *sum += m.unevictable;
        }
        return 0;
}

int main(void) {
        _cleanup_(cgroup_paths_done) CgroupPaths own = {};
        CgroupLayout l = {};
        uint64_t t[N_REFRESH], sum_unevictable = 0;
        usec_t t0;
        int r;

        r = cgroup_layout_detect("/sys/fs/cgroup", &l);
        if (r < 0) {
                fprintf(stderr, "skip: no memory cgroup controller: %s\n", strerror(-r));
                return 77;
        }
        r = cgroup_pid_get_paths("/proc", getpid(), &own);
        if (r < 0 || !own.memory) {
                fprintf(stderr, "skip: cannot find our own memory cgroup\n");
                return 77;
        }
        const char *own_path = streq(own.memory, "/") ? "" : own.memory;
        if (asprintf(&base, "%s%s/mlockd-bench-%d", l.memory_root, own_path, (int) getpid()) < 0)
                return 1;
        if (mkdir(base, 0755) < 0) {
                fprintf(stderr, "skip: cannot create %s: %m\n", base);
                free(base);
                base = NULL;
                return 77;
        }
        atexit(cleanup);

        t0 = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < N_CGROUPS; i++) {
                if (asprintf(&paths[i], "%s/mlockd-bench-%d/c%04zu", own_path, (int) getpid(), i) < 0 ||
                    asprintf(&dirs[i], "%s%s", l.memory_root, paths[i]) < 0)
                        return 1;
                if (mkdir(dirs[i], 0755) < 0) {
                        fprintf(stderr, "cannot create %s: %m\n", dirs[i]);
                        free(dirs[i]);
                        dirs[i] = NULL;
                        return 1;
                }
        }
        printf("cgroup %s, memory root %s\n", cgroup_version_to_string(l.memory_version), l.memory_root);
        printf("created %d memory cgroups in %.1f ms\n", N_CGROUPS,
               (double) (now_usec(CLOCK_MONOTONIC) - t0) / 1000.0);

        {
                uint64_t t_lib[N_ROUNDS], t_all[N_ROUNDS], t_plain[N_ROUNDS], t_daemon[N_ROUNDS], sum_lib = 0,
                         sum_all = 0, sum_plain = 0, sum_daemon = 0;
                static Target targets[N_CGROUPS];
                static Target *target_list[N_CGROUPS];
                Manager m = { .targets = target_list, .n_targets = N_CGROUPS, .cgroup_layout = l,
                              .have_cgroup_layout = true };

                for (size_t i = 0; i < N_CGROUPS; i++) {
                        targets[i] = (Target) { .pid = (pid_t) (i + 1), .memcg = paths[i], .statm_fd = -EBADF, .status_fd = -EBADF };
                        target_list[i] = &targets[i];
                }
                manager_account(&m); /* the first tick makes the table, as the daemon's does */

                for (size_t k = 0; k < N_ROUNDS; k++) {
                        t0 = now_usec(CLOCK_MONOTONIC);
                        manager_account(&m);
                        t_daemon[k] = now_usec(CLOCK_MONOTONIC) - t0;
                        if (m.n_cgroups != N_CGROUPS) {
                                fprintf(stderr, "manager_account(): %zu accounts for %d cgroups\n", m.n_cgroups,
                                        N_CGROUPS);
                                return 1;
                        }
                        for (size_t j = 0; j < m.n_cgroups; j++)
                                sum_daemon += m.cgroups[j].unevictable;

                        t0 = now_usec(CLOCK_MONOTONIC);
                        r = lib_refresh(&l, CGROUP_READ_STAT, &sum_lib);
                        t_lib[k] = now_usec(CLOCK_MONOTONIC) - t0;
                        if (r < 0) {
                                fprintf(stderr, "library refresh: %s\n", strerror(-r));
                                return 1;
                        }
                        t0 = now_usec(CLOCK_MONOTONIC);
                        r = lib_refresh(&l, CGROUP_READ_ALL, &sum_all);
                        t_all[k] = now_usec(CLOCK_MONOTONIC) - t0;
                        if (r < 0) {
                                fprintf(stderr, "library refresh: %s\n", strerror(-r));
                                return 1;
                        }
                        t0 = now_usec(CLOCK_MONOTONIC);
                        r = plain_refresh(l.memory_version, &sum_plain);
                        t_plain[k] = now_usec(CLOCK_MONOTONIC) - t0;
                        if (r < 0) {
                                fprintf(stderr, "plain refresh: %s\n", strerror(-r));
                                return 1;
                        }
                }
                qsort(t_lib, N_ROUNDS, sizeof t_lib[0], cmp_u64);
                qsort(t_daemon, N_ROUNDS, sizeof t_daemon[0], cmp_u64);
                qsort(t_all, N_ROUNDS, sizeof t_all[0], cmp_u64);
                qsort(t_plain, N_ROUNDS, sizeof t_plain[0], cmp_u64);
                printf("tick refresh of %d cgroups, %d interleaved rounds, medians: library, memory.stat alone"
                       " %.2f ms; plain C loop over memory.stat %.2f ms; ratio %.2f%s\n",
                       N_CGROUPS, N_ROUNDS, t_lib[N_ROUNDS / 2] / 1000.0, t_plain[N_ROUNDS / 2] / 1000.0,
                       (double) t_lib[N_ROUNDS / 2] / (double) MAX(t_plain[N_ROUNDS / 2], UINT64_C(1)),
                       sum_lib == sum_plain && sum_all == sum_plain ? "" : " (they disagree on unevictable!)");
                printf("daemon's tick (manager_account(), %d targets in as many cgroups): %.2f ms; ratio to the plain"
                       " loop %.2f%s\n",
                       N_CGROUPS, t_daemon[N_ROUNDS / 2] / 1000.0,
                       (double) t_daemon[N_ROUNDS / 2] / (double) MAX(t_plain[N_ROUNDS / 2], UINT64_C(1)),
                       sum_daemon == sum_plain ? "" : " (it disagrees on unevictable!)");
                for (size_t j = 0; j < m.n_cgroups; j++)
                        free(m.cgroups[j].path);
                free(m.cgroups);
                printf("  (library with limit and usage too, as cgroup_read_memory(): %.2f ms, ratio %.2f)\n",
                       t_all[N_ROUNDS / 2] / 1000.0,
                       (double) t_all[N_ROUNDS / 2] / (double) MAX(t_plain[N_ROUNDS / 2], UINT64_C(1)));
        }

        for (size_t k = 0; k < N_REFRESH; k++) {
                t0 = now_usec(CLOCK_MONOTONIC);
                for (size_t i = 0; i < N_CGROUPS; i++) {
                        CgroupMemory m;

                        r = cgroup_read_memory(&l, paths[i], &m);
                        if (r < 0) {
                                fprintf(stderr, "cgroup_read_memory(%s): %s\n", paths[i], strerror(-r));
                                return 1;
                        }
                        sum_unevictable += m.unevictable;
                }
                t[k] = now_usec(CLOCK_MONOTONIC) - t0;
        }

        qsort(t, N_REFRESH, sizeof t[0], cmp_u64);
        print_stats("full refresh (cgroup_read_memory)", t);

        /* the same through directory fds kept open across refreshes (no path walk per cgroup) */
        static int fds[N_CGROUPS];
        size_t n_fds = 0;
        for (; n_fds < N_CGROUPS; n_fds++) {
                fds[n_fds] = open(dirs[n_fds], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fds[n_fds] < 0)
                        break;
        }
        if (n_fds == N_CGROUPS) {
                for (size_t k = 0; k < N_REFRESH; k++) {
                        t0 = now_usec(CLOCK_MONOTONIC);
                        for (size_t i = 0; i < N_CGROUPS; i++) {
                                CgroupMemory m;

                                r = cgroup_read_memory_at(&l, fds[i], false, &m);
                                if (r < 0) {
                                        fprintf(stderr, "cgroup_read_memory_at(%s): %s\n", paths[i], strerror(-r));
                                        return 1;
                                }
                        }
                        t[k] = now_usec(CLOCK_MONOTONIC) - t0;
                }
                qsort(t, N_REFRESH, sizeof t[0], cmp_u64);
                print_stats("full refresh (cgroup_read_memory_at, fds kept open)", t);
        } else
                printf("cannot keep %d directories open (%m), not measured\n", N_CGROUPS);
        for (size_t i = 0; i < n_fds; i++)
                safe_close(fds[i]);

        /* where the time goes: each file alone, read through an open directory fd */
        static const char *const files[2][3] = {
                [CGROUP_V1] = { "memory.stat", "memory.limit_in_bytes", "memory.usage_in_bytes" },
                [CGROUP_V2] = { "memory.stat", "memory.max", "memory.current" },
        };
        for (size_t f = 0; f < 3; f++) {
                for (size_t k = 0; k < N_REFRESH_PART; k++) {
                        t0 = now_usec(CLOCK_MONOTONIC);
                        for (size_t i = 0; i < N_CGROUPS; i++) {
                                _cleanup_free_ char *text = NULL;

                                r = read_full_file_at(AT_FDCWD, file_path(i, files[l.memory_version][f]),
                                                      64 * 1024, &text, NULL);
                                if (r < 0) {
                                        fprintf(stderr, "read %s: %s\n", files[l.memory_version][f], strerror(-r));
                                        return 1;
                                }
                        }
                        t[k] = now_usec(CLOCK_MONOTONIC) - t0;
                }
                qsort(t, N_REFRESH_PART, sizeof t[0], cmp_u64);
                _cleanup_free_ char *what = NULL;
                if (asprintf(&what, "  %s alone", files[l.memory_version][f]) < 0)
                        return 1;
                print_stats_n(what, t, N_REFRESH_PART);
        }
        if (sum_unevictable != 0)
                printf("(unevictable seen: %" PRIu64 " bytes)\n", sum_unevictable);

        t0 = now_usec(CLOCK_MONOTONIC);
        cleanup();
        printf("removed them in %.1f ms\n", (double) (now_usec(CLOCK_MONOTONIC) - t0) / 1000.0);
        cgroup_layout_done(&l);
        return 0;
}
