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
 * The observer keeps its cost small beside what it measures: after each sweep over the pending ones
 * it sleeps four times as long as the sweep took (at least 200 us), so that it takes at most a fifth
 * of one CPU. With 2,000 pending, sweeps 200 us apart kept one of this machine's two CPUs busy,
 * which slowed the daemon it measured and hardly the processes that lock themselves (each is
 * pending for a millisecond or so). Keeping every status file open instead made each fork copy
 * thousands of descriptors and was slower on both sides.
 *
 * -r  also print every latency ("latency_ms X", one a line, in start order) for the caller to pool
 * -w  once measured, print "holding" and keep the processes alive until a line (or EOF) on stdin */

#include <fcntl.h>
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

/* VmLck in kB, or -1 */
static long vmlck_kb(pid_t pid) {
        char path[64], buf[4096];
        const char *p;
        ssize_t k;
        int fd;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        k = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (k <= 0)
                return -1;
        buf[k] = 0;
        p = strstr(buf, "\nVmLck:");
        return p ? strtol(p + 7, NULL, 10) : -1;
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
                double sweep = now(), pause;

                for (int i = 0; i < n; i++) {
                        if (lat[i] > 0)
                                continue;
                        if (vmlck_kb(pids[i]) >= min_kb) {
                                lat[i] = now() - start[i];
                                pending--;
                        }
                }
                pause = 4 * (now() - sweep);
                usleep(pause > 200e-6 ? (useconds_t) (pause * 1e6) : 200);
        }
        all_done = now() - t0;
        for (int i = 0; i < n; i++)
                if (lat[i] <= 0) {
                        /* which, and what the kernel says of it, for the daemon's log */
                        fprintf(stderr, "missed: pid %d, VmLck %ld kB\n", (int) pids[i], vmlck_kb(pids[i]));
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
