/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SIGKILL at the worst moment, for the kill-safety tests: poll every thread of TARGET until one is
 * traced and running (State R or D: inside an injected call; at a ptrace stop it is t), then
 * SIGKILL VICTIM (0: the tracer itself). Gives up after TIMEOUT_MS and kills VICTIM anyway (if
 * given). Prints "killed PID in_call=0|1"; exit 1 when there was nothing to kill.
 *
 *   killer TARGET VICTIM TIMEOUT_MS */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The tracer of a thread of target that is traced and running, or 0. */
static pid_t tracer_in_call(pid_t target) {
        char path[384];
        struct dirent *de;
        pid_t found = 0;
        DIR *d;

        snprintf(path, sizeof path, "/proc/%d/task", (int) target);
        d = opendir(path);
        if (!d)
                return -1;
        while (!found && (de = readdir(d))) {
                char buf[4096], *s, *t;
                ssize_t n;
                int fd;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "/proc/%d/task/%s/status", (int) target, de->d_name);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                n = read(fd, buf, sizeof buf - 1);
                close(fd);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                s = strstr(buf, "\nState:\t");
                t = strstr(buf, "\nTracerPid:\t");
                if (s && t && (s[8] == 'R' || s[8] == 'D') && atoi(t + 12) > 0)
                        found = atoi(t + 12);
        }
        closedir(d);
        return found;
}

int main(int argc, char *argv[]) {
        pid_t target, victim, tracer = 0;
        long long deadline;

        if (argc != 4) {
                fprintf(stderr, "usage: killer TARGET VICTIM TIMEOUT_MS\n");
                return 2;
        }
        target = atoi(argv[1]);
        victim = atoi(argv[2]);
        deadline = now_ms() + atoll(argv[3]);
        while (now_ms() < deadline && (tracer = tracer_in_call(target)) == 0)
                ;
        if (tracer < 0)
                tracer = 0;
        if (victim == 0)
                victim = tracer;
        if (victim <= 0 || kill(victim, SIGKILL) < 0)
                return 1;
        printf("killed %d in_call=%d\n", (int) victim, tracer > 0);
        return 0;
}
