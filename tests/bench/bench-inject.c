/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How long an injection takes and how long the target is held, over 1,000 runs of
 * attach -> mlock2(4 KiB, MLOCK_ONFAULT) -> detach:
 *   round trip   the three calls, as the injector sees them;
 *   engine held  InjectStats.held (PTRACE_INTERRUPT to PTRACE_DETACH), and .total;
 *   target stall the gap the busy target itself sees in its CLOCK_MONOTONIC loop around each run;
 * for a busy target and one asleep in pause(), each without and with the cache of what the first
 * attach found (inject_attach_cached(): the daemon's injector keeps one); and next to it, a few runs of
 *   gdb -p PID -batch -ex 'call (int)mlockall(5)'
 * Prints figures, asserts nothing. */
#include <sys/mman.h>
#include <time.h>

#include "../test-inject-util.h"

#define RUNS 1000
#define GDB_RUNS 5

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return (x > y) - (x < y);
}

static void print_row(const char *name, uint64_t *v, size_t n, double scale) {
        if (n == 0) {
                printf("  %-28s (no samples)\n", name);
                return;
        }
        qsort(v, n, sizeof(uint64_t), cmp_u64);
        printf("  %-28s median %8.1f us   p90 %8.1f us   p99 %8.1f us   (n=%zu)\n", name,
               (double) v[n / 2] / scale, (double) v[n * 90 / 100] / scale, (double) v[n * 99 / 100] / scale, n);
}

static void bench(const char *mode, bool cached) {
        _cleanup_(inject_cache_freep) InjectCache *cache = NULL;
        static uint64_t rt[RUNS], held[RUNS], total[RUNS], win_start[RUNS], win_end[RUNS], stall[RUNS];
        size_t n_stall = 0;
        char line[256];
        Child c;

        if (cached)
                ASSERT_OK(inject_cache_new(16, &cache));
        child_start(&c, mode, NULL);
        usleep(100 * 1000);
        for (size_t i = 0; i < RUNS; i++) {
                uint64_t args[6] = { c.anon, 4096, 1 };
                InjectStats st;
                struct timespec a, b;
                Tracee *t;
                long r;

                clock_gettime(CLOCK_MONOTONIC, &a);
                ASSERT_OK(inject_attach_cached(c.pid, -1, 0, 5 * USEC_PER_SEC, cache, &t));
                ASSERT_OK(inject_call(t, INJECT_MLOCK2, args, &r));
                ASSERT_OK(inject_detach(t, &st));
                clock_gettime(CLOCK_MONOTONIC, &b);
                ASSERT_EQ(r, 0);
                win_start[i] = (uint64_t) a.tv_sec * 1000000000ULL + (uint64_t) a.tv_nsec;
                win_end[i] = (uint64_t) b.tv_sec * 1000000000ULL + (uint64_t) b.tv_nsec;
                rt[i] = win_end[i] - win_start[i];
                held[i] = st.held;
                total[i] = st.total;
                usleep(2000);   /* spaced, so each stall is one injection's */
        }

        if (streq(mode, "clock")) {
                size_t n_gaps = 0, g = 0;
                uint64_t (*gaps)[2];

                ASSERT_EQ(kill(c.pid, SIGUSR1), 0);
                ASSERT_NOT_NULL(child_line(&c, 60000, line, sizeof line));
                ASSERT_EQ(sscanf(line, "gaps %zu", &n_gaps), 1);
                gaps = calloc(n_gaps + 1, sizeof(*gaps));
                ASSERT_NOT_NULL(gaps);
                for (size_t i = 0; i < n_gaps; i++) {
                        unsigned long long s, l;

                        ASSERT_NOT_NULL(child_line(&c, 60000, line, sizeof line));
                        ASSERT_EQ(sscanf(line, "g %llu %llu", &s, &l), 2);
                        gaps[i][0] = s;
                        gaps[i][1] = l;
                }
                /* the target's longest gap overlapping each injection window */
                for (size_t i = 0; i < RUNS; i++) {
                        uint64_t best = 0;

                        while (g < n_gaps && gaps[g][0] + gaps[g][1] < win_start[i])
                                g++;
                        for (size_t k = g; k < n_gaps && gaps[k][0] <= win_end[i]; k++)
                                best = MAX(best, gaps[k][1]);
                        if (best > 0)
                                stall[n_stall++] = best;
                }
                free(gaps);
        }
        child_done(&c);

        printf("%s target (%s), %d runs of attach -> mlock2(4K, ONFAULT) -> detach, %s:\n",
               streq(mode, "clock") ? "busy" : "sleeping", mode, RUNS,
               cached ? "scan cached" : "a scan each");
        print_row("round trip", rt, RUNS, 1000.0);
        print_row("engine total (seize..detach)", total, RUNS, 1.0);
        print_row("engine held (interrupt..detach)", held, RUNS, 1.0);
        if (streq(mode, "clock"))
                print_row("target's own stall", stall, n_stall, 1000.0);
}

static void bench_gdb(void) {
        uint64_t v[GDB_RUNS];
        size_t n = 0;
        char cmd[256];
        Child c;

        if (system("command -v gdb >/dev/null 2>&1") != 0) {
                printf("gdb: not installed, skipped\n");
                return;
        }
        child_start(&c, "pause", NULL);
        for (size_t i = 0; i < GDB_RUNS; i++) {
                usec_t a, b;

                snprintf(cmd, sizeof cmd,
                         "gdb -p %d -batch -ex 'call (int)mlockall(5)' </dev/null >/dev/null 2>&1", (int) c.pid);
                a = now_usec(CLOCK_MONOTONIC);
                if (system(cmd) != 0)
                        continue;
                b = now_usec(CLOCK_MONOTONIC);
                v[n++] = b - a;
        }
        printf("gdb -p PID -batch -ex 'call (int)mlockall(5)', %d runs (%s):\n", GDB_RUNS,
               vm_lck(c.pid) > 0 ? "target locked" : "target NOT locked");
        print_row("gdb round trip", v, n, 1.0);
        child_done(&c);
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        if (!inject_supported()) {
                printf("injection not supported here\n");
                return 0;
        }
        bench("clock", false);
        bench("clock", true);
        bench("pause", false);
        bench("pause", true);
        bench_gdb();
        return 0;
}
