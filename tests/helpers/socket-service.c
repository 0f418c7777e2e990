/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* socket-service PATH PROGRAM [ARG...]: what systemd does for mlockd-injector.socket and
 * mlockd-injector.service, for tests on hosts without systemd. It listens on a SOCK_SEQPACKET
 * socket at PATH (mode 0600) and keeps it open, starts PROGRAM with it as fd 3 (LISTEN_FDS=1,
 * LISTEN_PID) in a process group of its own, and when PROGRAM dies, kills what is left of that
 * group (KillMode=mixed) and starts it again 100 ms later (Restart=always, RestartSec=100ms), so
 * connections made meanwhile wait in the backlog. Each start is logged as "started PID" on
 * standard output. SIGTERM is passed on to PROGRAM, whose exit then ends this one with its status.
 * MLOCKD_TEST_INJECTOR_STALL is passed to the first start only. */

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_term(int sig) {
        stopping = 1;
}

static pid_t start(int lfd, char **argv) {
        char buf[32];
        pid_t pid = fork();

        if (pid != 0)
                return pid;
        (void) setpgid(0, 0);
        /* its own process group is out of reach of a SIGKILL to this one (a failed test's cleanup):
         * it goes with us, as a service goes with its manager */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (dup2(lfd, 3) < 0)
                _exit(99);
        snprintf(buf, sizeof buf, "%d", (int) getpid());
        setenv("LISTEN_PID", buf, 1);
        setenv("LISTEN_FDS", "1", 1);
        execvp(argv[0], argv);
        _exit(99);
}

int main(int argc, char *argv[]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct sigaction act = { .sa_handler = on_term };
        int lfd, status = 0;
        pid_t pid;

        if (argc < 3 || strlen(argv[1]) >= sizeof sa.sun_path) {
                fprintf(stderr, "usage: %s PATH PROGRAM [ARG...]\n", argv[0]);
                return 99;
        }
        strcpy(sa.sun_path, argv[1]);
        lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0); /* no CLOEXEC: fd 3 of the program */
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0 || chmod(argv[1], 0600) < 0 ||
            listen(lfd, 16) < 0) {
                perror("listen");
                return 99;
        }
        sigaction(SIGTERM, &act, NULL);
        setvbuf(stdout, NULL, _IOLBF, 0);

        for (;;) {
                pid = start(lfd, argv + 2);
                if (pid < 0)
                        return 99;
                printf("started %d\n", (int) pid);
                /* the injector's test hook (a stuck server) is for the first start only */
                (void) unsetenv("MLOCKD_TEST_INJECTOR_STALL");
                /* polled, so that a SIGTERM at any moment is passed on; the exit is seen without
                 * reaping, so that the group is killed while its leader's pid (a zombie) cannot be
                 * another process's: pids wrap on a busy test host */
                for (bool sent = false;;) {
                        siginfo_t si = {};

                        if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
                                break;
                        if (stopping && !sent)
                                sent = kill(pid, SIGTERM) == 0;
                        usleep(10 * 1000);
                }
                (void) kill(-pid, SIGKILL); /* what the main process left behind */
                (void) waitpid(pid, &status, 0);
                if (stopping) {
                        unlink(argv[1]);
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
                }
                printf("exited %d, status 0x%x\n", (int) pid, (unsigned) status);
                usleep(100 * 1000);
        }
}
