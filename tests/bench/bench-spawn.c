/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Spawn N copies of a target program at once and measure, for each, the time from just before its
 * exec to the moment the kernel reports locked memory for it (/proc/PID/status VmLck > 0).
 *
 *   bench-spawn [-r] [-w] N TIMEOUT_SEC MIN_KB PROGRAM [ARGS...]
 *
 * A process counts as locked once its VmLck reaches MIN_KB (its own mapping, not just what the loader
 * had mapped at exec). Prints median, p90, p99 and max latency, the time until all were locked, and how many were not
 * locked within the timeout. Kills every process it started.
 *
 * -r  also print every latency ("latency_ms X", one a line, in start order) for the caller to pool
 * -w  once measured, print "holding" and keep the processes alive until a line (or EOF) on stdin */

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static long vmlck_kb(pid_t pid) {
        char path[64], line[256];
        long v = -1;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (strncmp(line, "VmLck:", 6) == 0) {
                        v = strtol(line + 6, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char *argv[]) {
        int n, timeout, pending, missed = 0, c;
        bool raw = false, hold = false;
        long min_kb;
        pid_t *pids;
        double *start, *lat, t0, deadline, all_done = 0;

        while ((c = getopt(argc, argv, "+rw")) >= 0)
                switch (c) {
                case 'r': raw = true; break;
                case 'w': hold = true; break;
                default: return 2;
                }
        argc -= optind - 1;
        argv += optind - 1;
        if (argc < 5) {
                fprintf(stderr, "usage: %s [-r] [-w] N TIMEOUT_SEC MIN_KB PROGRAM [ARGS...]\n", argv[0]);
                return 2;
        }
        n = atoi(argv[1]);
        timeout = atoi(argv[2]);
        min_kb = atol(argv[3]);
        pids = calloc((size_t) n, sizeof *pids);
        start = calloc((size_t) n, sizeof *start);
        lat = calloc((size_t) n, sizeof *lat);
        if (!pids || !start || !lat)
                return 1;

        t0 = now();
        for (int i = 0; i < n; i++) {
                start[i] = now();
                pids[i] = fork();
                if (pids[i] < 0) {
                        perror("fork");
                        n = i;
                        break;
                }
                if (pids[i] == 0) {
                        if (!freopen("/dev/null", "w", stdout))
                                _exit(127);
                        execv(argv[4], argv + 4);
                        _exit(127);
                }
        }

        deadline = now() + timeout;
        pending = n;
        while (pending > 0 && now() < deadline) {
                for (int i = 0; i < n; i++) {
                        if (lat[i] > 0)
                                continue;
                        if (vmlck_kb(pids[i]) >= min_kb) {
                                lat[i] = now() - start[i];
                                pending--;
                        }
                }
                usleep(200);
        }
        all_done = now() - t0;
        for (int i = 0; i < n; i++)
                if (lat[i] <= 0) {
                        missed++;
                        lat[i] = 1e9;
                } else if (raw)
                        printf("latency_ms %.3f\n", lat[i] * 1e3);
        if (hold) {
                char line[16];

                printf("holding %d locked of %d\n", n - missed, n);
                fflush(stdout);
                (void) !fgets(line, sizeof line, stdin);
        }
        for (int i = 0; i < n; i++)
                kill(pids[i], SIGKILL);
        for (int i = 0; i < n; i++)
                waitpid(pids[i], NULL, 0);

        qsort(lat, (size_t) n, sizeof *lat, cmp);
        printf("processes: %d, locked: %d, missed: %d\n", n, n - missed, missed);
        if (n - missed > 0) {
                int ok = n - missed;
                printf("exec->locked latency: median %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                       lat[ok / 2] * 1e3, lat[ok * 9 / 10] * 1e3, lat[ok * 99 / 100] * 1e3, lat[ok - 1] * 1e3);
        }
        printf("time until all locked: %.3f s\n", all_done);
        return missed > 0;
}
