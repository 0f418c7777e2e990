/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How long one accounting refresh takes for 1,000 cgroups: 1,000 real memory cgroups made below
 * our own, each refresh reads all of them with cgroup_read_memory() (memory.stat, limit, usage),
 * then they are removed. Prints median and p99 per full refresh. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "macro.h"
#include "parse-util.h"

#define N_CGROUPS 1000
#define N_REFRESH 101

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

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
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
        printf("full refresh of %d cgroups (%d runs): median %.2f ms, p99 %.2f ms, min %.2f ms, max %.2f ms"
               " (%.1f us per cgroup at the median)\n",
               N_CGROUPS, N_REFRESH, t[N_REFRESH / 2] / 1000.0, t[(N_REFRESH * 99 + 99) / 100 - 1] / 1000.0,
               t[0] / 1000.0, t[N_REFRESH - 1] / 1000.0, (double) t[N_REFRESH / 2] / N_CGROUPS);
        if (sum_unevictable != 0)
                printf("(unevictable seen: %" PRIu64 " bytes)\n", sum_unevictable);

        t0 = now_usec(CLOCK_MONOTONIC);
        cleanup();
        printf("removed them in %.1f ms\n", (double) (now_usec(CLOCK_MONOTONIC) - t0) / 1000.0);
        cgroup_layout_done(&l);
        return 0;
}
