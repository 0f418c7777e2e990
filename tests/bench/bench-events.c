/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Counts the process events the machine makes, as the daemon's subscription sees them (the proc
 * connector, fork and exec only: procmon_open_events()), for bench-lock.sh's idle section. Each
 * line read on stdin prints the counts so far, "forks N threads N execs N lost N", on one line;
 * end of input ends it. A bench reads them from a coprocess without forking anything itself. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "procmon.h"

int main(void) {
        _cleanup_close_ int fd = -EBADF;
        unsigned long forks = 0, threads = 0, execs = 0, lost = 0;
        char line[64];
        int r;

        r = procmon_open_events(&fd, false);
        if (r < 0) {
                fprintf(stderr, "skip: no proc connector: %s\n", strerror(-r));
                return 77;
        }
        for (;;) {
                struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = STDIN_FILENO, .events = POLLIN } };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                if (p[0].revents) {
                        ProcEvent ev[64];
                        size_t n;

                        while (procmon_receive(fd, ev, ELEMENTSOF(ev), &n) >= 0 && n > 0)
                                for (size_t i = 0; i < n; i++) {
                                        if (ev[i].type == PROC_EVENT_FORK)
                                                (*(ev[i].thread ? &threads : &forks))++;
                                        else if (ev[i].type == PROC_EVENT_EXEC)
                                                execs++;
                                        else if (ev[i].type == PROC_EVENT_LOST)
                                                lost++;
                                }
                }
                if (p[1].revents) {
                        if (!fgets(line, sizeof line, stdin))
                                return 0;
                        printf("forks %lu threads %lu execs %lu lost %lu\n", forks, threads, execs, lost);
                        fflush(stdout);
                }
        }
}
