/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cgroup.h"
#include "injector-socket.h"
#include "log.h"
#include "policy.h"
#include "sandbox.h"
#include "units.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif

/* A manager connects once per injector worker (Injectors=, each connection served by a process of
 * its own): a manager's workers at most, and its successor's while the old servers finish. */
#define INJECTOR_MAX_CONNECTIONS (2 * POLICY_MAX_INJECTORS)

static int peer_pidfd(int fd, pid_t pid) {
        socklen_t l = sizeof(int);
        int pidfd = -EBADF;

        /* the kernel's pidfd of the process that connected, immune to pid reuse */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &l) >= 0 && pidfd >= 0)
                return pidfd;
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        return pidfd < 0 ? -errno : pidfd;
}

static int refuse(char **ret_why, const char *fmt, ...) _printf_(2, 3);
static int refuse(char **ret_why, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(ret_why, fmt, ap);
        va_end(ap);
        return r < 0 ? -ENOMEM : -EPERM;
}

int injector_peer_check(int fd, const char *peer_unit, pid_t *ret_pid, char **ret_why) {
        _cleanup_(cgroup_paths_done) CgroupPaths paths = {};
        _cleanup_free_ char *unit = NULL;
        _cleanup_close_ int pidfd = -EBADF;
        struct ucred uc = {};
        socklen_t l = sizeof uc;
        const char *path;
        int r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0)
                return -errno;
        if (uc.uid != 0)
                return refuse(ret_why, "uid %u is not root (pid %d)", (unsigned) uc.uid, (int) uc.pid);
        if (uc.pid <= 0)
                return refuse(ret_why, "peer is in another PID namespace");

        pidfd = peer_pidfd(fd, uc.pid);
        if (pidfd < 0)
                return refuse(ret_why, "peer pid %d is gone", (int) uc.pid);

        r = cgroup_pid_get_paths("/proc", uc.pid, &paths);
        if (r < 0)
                return refuse(ret_why, "cannot read the cgroup of peer pid %d", (int) uc.pid);
        path = cgroup_paths_match_path(&paths);
        if (!path || unit_from_cgroup_path(path, &unit) < 0 || !streq(unit, peer_unit))
                return refuse(ret_why, "not in %s (pid %d, cgroup %s)", peer_unit, (int) uc.pid, path ?: "?");

        /* the cgroup read was of the process that connected only if it still runs: a pid reused by
         * another process means the peer is gone and its pidfd says so */
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
                return refuse(ret_why, "peer pid %d is gone", (int) uc.pid);

        *ret_pid = uc.pid;
        return 0;
}

static int send_greeting(int fd, int r, const char *why) {
        InjectorReply hello = { .serial = 0, .r = r, .result = getpid(), .advised = (uint64_t) getppid() };

        if (why)
                snprintf(hello.reason, sizeof hello.reason, "%s", why);
        if (send(fd, &hello, sizeof hello, MSG_NOSIGNAL) != (ssize_t) sizeof hello)
                return -errno;
        return 0;
}

typedef struct Connection {
        pid_t server;   /* the child serving it */
        int fd;         /* our copy: shut down for reading on SIGTERM */
} Connection;

/* The child: serve one authenticated manager until it closes (or SIGTERM shut the socket). */
static _noreturn_ void serve_connection(int listen_fd, int sfd, Connection *conns, int fd, pid_t peer,
                                        pid_t listener) {
        int r;

        safe_close(listen_fd);
        safe_close(sfd);
        for (size_t k = 0; k < INJECTOR_MAX_CONNECTIONS; k++)
                if (conns[k].server > 0)
                        safe_close(conns[k].fd);
        /* SIGTERM stays blocked here: the listener ends us between requests, never inside one */
        r = send_greeting(fd, 0, NULL);
        if (r >= 0)
                r = injector_serve(fd, peer, listener); /* the listener's death ends us between steps */
        if (r == -EPIPE || r == -ECONNRESET)
                r = 0; /* the manager went away with a reply on its way */
        if (r < 0)
                log_error_errno(r, "Serving the manager (pid %d) failed: %m", (int) peer);
        _exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

static void accept_one(int listen_fd, int sfd, Connection *conns, const char *peer_unit) {
        _cleanup_free_ char *why = NULL;
        _cleanup_close_ int fd = -EBADF;
        Connection *slot = NULL;
        pid_t peer = 0, pid, listener;
        int r;

        fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
                log_debug_errno(errno, "accept() failed, ignoring: %m");
                return;
        }

        r = injector_peer_check(fd, peer_unit, &peer, &why);
        if (r < 0) {
                if (r == -EPERM)
                        log_warning("Refusing a connection: %s.", why);
                else
                        log_warning_errno(r, "Refusing a connection, its peer could not be checked: %m");
                (void) send_greeting(fd, -EPERM, why ?: "peer could not be checked");
                return;
        }
        for (size_t k = 0; k < INJECTOR_MAX_CONNECTIONS && !slot; k++)
                if (conns[k].server <= 0)
                        slot = &conns[k];
        if (!slot) {
                log_warning("Refusing a connection from pid %d: %d connections are served already.", (int) peer,
                            INJECTOR_MAX_CONNECTIONS);
                (void) send_greeting(fd, -EBUSY, "too many connections");
                return;
        }

        listener = getpid();
        pid = fork();
        if (pid < 0) {
                r = -errno;
                log_error_errno(r, "Failed to fork a server for pid %d: %m", (int) peer);
                (void) send_greeting(fd, r, "fork failed");
                return;
        }
        if (pid == 0)
                serve_connection(listen_fd, sfd, conns, fd, peer, listener);

        log_info("Serving the manager (pid %d) in process %d.", (int) peer, (int) pid);
#ifdef HAVE_SANITIZERS
        /* the test hook (injector.c) is for the first server only: the next must answer */
        (void) unsetenv("MLOCKD_TEST_INJECTOR_STALL");
#endif
        *slot = (Connection) { .server = pid, .fd = TAKE_FD(fd) };
}

static size_t reap_servers(Connection *conns) {
        size_t left = 0;

        for (size_t k = 0; k < INJECTOR_MAX_CONNECTIONS; k++) {
                int status;

                if (conns[k].server <= 0)
                        continue;
                if (waitpid(conns[k].server, &status, WNOHANG) == conns[k].server) {
                        log_debug("Server %d ended (status 0x%x).", (int) conns[k].server, (unsigned) status);
                        conns[k].server = 0;
                        conns[k].fd = safe_close(conns[k].fd);
                } else
                        left++;
        }
        return left;
}

static int listen_fd_from_systemd(void) {
        int n, r;

        n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets passed by systemd: %m");
        if (n != 1)
                return log_error_errno(EINVAL, "mlockd --injector expects exactly one listening socket from "
                                       "systemd (mlockd-injector.socket), got %d.", n);
        r = sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_SEQPACKET, 1, NULL, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to check the passed socket: %m");
        if (r == 0)
                return log_error_errno(EINVAL, "The passed socket is not a listening AF_UNIX SOCK_SEQPACKET socket.");
        return SD_LISTEN_FDS_START;
}

int injector_listen_run(const char *peer_unit) {
        Connection conns[INJECTOR_MAX_CONNECTIONS] = {};
        _cleanup_close_ int sfd = -EBADF;
        bool stopping = false;
        sigset_t mask;
        int listen_fd, r;

        log_set_prefix("injector");
        listen_fd = listen_fd_from_systemd();
        if (listen_fd < 0)
                return listen_fd;
        (void) fcntl(listen_fd, F_SETFD, FD_CLOEXEC);

        r = injector_drop_capabilities();
        if (r >= 0)
                r = sandbox_no_new_privs();
        if (r < 0)
                return log_error_errno(r, "Failed to confine the injector: %m");

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return log_error_errno(errno, "Failed to make a signalfd: %m");

        (void) sd_notify(false, "READY=1");
        log_info("Listening for %s.", peer_unit);

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = sfd, .events = POLLIN },
                        { .fd = listen_fd, .events = stopping ? 0 : POLLIN },
                };
                struct signalfd_siginfo si;

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "poll() failed: %m");
                }
                while (read(sfd, &si, sizeof si) == (ssize_t) sizeof si)
                        if (si.ssi_signo != SIGCHLD && !stopping) {
                                stopping = true;
                                (void) sd_notify(false, "STOPPING=1");
                                log_info("Stopping: each server finishes its request first.");
                                /* each server's next read is end-of-file, after the request in hand */
                                for (size_t k = 0; k < INJECTOR_MAX_CONNECTIONS; k++)
                                        if (conns[k].server > 0)
                                                (void) shutdown(conns[k].fd, SHUT_RD);
                        }
                if (reap_servers(conns) == 0 && stopping)
                        return 0;
                if (!stopping && (p[1].revents & POLLIN))
                        accept_one(listen_fd, sfd, conns, peer_unit);
        }
}

int injector_socket_connect(const char *path, Injector **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        r = injector_from_fd(fd, 0, ret);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        return 0;
}

int injector_socket_greeting(Injector *i, const InjectorReply *hello, pid_t *ret_listener, const char **ret_why) {
        if (hello->serial != 0 || hello->has_fd || hello->reason[sizeof hello->reason - 1])
                return -EBADMSG;
        if (hello->r < 0) {
                *ret_why = hello->reason;
                return -EPERM;
        }
        if (hello->r > 0 || hello->result <= 0 || hello->result > 4194304 || hello->advised > 4194304)
                return -EBADMSG;
        injector_set_pid(i, (pid_t) hello->result);
        *ret_listener = (pid_t) hello->advised;
        return 0;
}

int injector_socket_wait_greeting(Injector *i, usec_t timeout, pid_t *ret_listener) {
        struct pollfd p = { .fd = injector_fd(i), .events = POLLIN };
        const char *why = NULL;
        InjectorReply hello;
        int fd = -EBADF, r;

        r = poll(&p, 1, (int) (timeout / USEC_PER_MSEC));
        if (r < 0)
                return -errno;
        if (r == 0)
                return -ETIMEDOUT;
        r = injector_receive(i, &hello, &fd);
        if (r < 0)
                return r;
        safe_close(fd);
        r = injector_socket_greeting(i, &hello, ret_listener, &why);
        if (r == -EPERM)
                log_error("The injector refused this manager: %s.", why);
        return r;
}
