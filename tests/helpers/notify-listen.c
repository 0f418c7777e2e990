/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Plays systemd's side of sd_notify for the tests: binds an AF_UNIX datagram socket at PATH and
 * prints every message it receives, one field per line, each message ending with a "--" line,
 * until it gets SIGTERM. Checks the sender's credentials are passed (SCM_CREDENTIALS) like PID 1
 * does, and prints "pid=N" for each message. */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, one = 1;

        if (argc != 2 || strlen(argv[1]) >= sizeof sa.sun_path) {
                fprintf(stderr, "usage: %s PATH\n", argv[0]);
                return 2;
        }
        strcpy(sa.sun_path, argv[1]);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0) {
                perror("socket");
                return 1;
        }
        printf("listening\n");
        fflush(stdout);

        for (;;) {
                char buf[4096];
                union {
                        struct cmsghdr h;
                        char b[CMSG_SPACE(sizeof(struct ucred))];
                } control;
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                                     .msg_controllen = sizeof control };
                ssize_t n = recvmsg(fd, &mh, 0);

                if (n < 0)
                        return 1;
                buf[n] = '\0';
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                                struct ucred u;
                                memcpy(&u, CMSG_DATA(c), sizeof u);
                                printf("pid=%d\n", (int) u.pid);
                        }
                printf("%s\n--\n", buf);
                fflush(stdout);
        }
}
