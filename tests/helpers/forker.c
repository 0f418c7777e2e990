/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* forker N: fork N children that exit at once, one after another, each reaped before the next.
 * A burst of N process events (tests/lock-events-lost.sh overflows the daemon's queue with it). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        long n;

        if (argc != 2 || (n = strtol(argv[1], NULL, 10)) <= 0) {
                fprintf(stderr, "usage: %s N\n", argv[0]);
                return 2;
        }
        for (long i = 0; i < n; i++) {
                pid_t pid = fork();

                if (pid < 0) {
                        perror("fork");
                        return 1;
                }
                if (pid == 0)
                        _exit(0);
                if (waitpid(pid, NULL, 0) != pid) {
                        perror("waitpid");
                        return 1;
                }
        }
        return 0;
}
