/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The injector as its own service: mlockd-injector.service, started by systemd on the first
 * connection to mlockd-injector.socket (a SOCK_SEQPACKET socket, root-only), and the manager in
 * mlockd.service connecting to it instead of forking injectors (mlockd --injector-socket=PATH).
 *
 * The listener (mlockd --injector) takes the one listening socket systemd passes (sd_listen_fds,
 * Accept=no), keeps the injector's capabilities, and authenticates every peer at accept: its
 * SO_PEERCRED uid must be 0, and its cgroup (read through a pidfd of the peer, SO_PEERPIDFD where
 * the kernel has it) must name the unit given (mlockd.service by default). A root process of
 * another unit, one without CAP_SYS_PTRACE in particular, must not borrow the injector's. An
 * accepted connection is served by a child of its own (injector_serve(), which validates every
 * request as over the socket pair), so that a stuck or killed server costs one connection, not the
 * service, and SIGTERM ends the service only between requests.
 *
 * The greeting: the first message on every connection, before any request, is an InjectorReply
 * from the injector with serial 0. Either r is 0, result the pid of the process serving this
 * connection (the one to watch, and kill when it does not answer) and advised the pid of the
 * listener; or r is negative, reason says why the peer is refused, and the connection is closed.
 * The manager sends nothing before it has the greeting. */

#include <stdbool.h>
#include <sys/types.h>

#include "injector.h"

#define INJECTOR_PEER_UNIT "mlockd.service"

/* mlockd --injector: the listener's loop, until SIGTERM (then each server finishes the request in
 * progress, and the listener waits for them). peer_unit: the unit a peer's cgroup must name. */
int injector_listen_run(const char *peer_unit);

/* Whether the peer on a connected socket may use the injector. 0: *ret_pid is its pid. -EPERM:
 * *ret_why (static or caller-freed in *ret_why_buf) says why not. Other negative errno: the check
 * failed. Exported for tests. */
int injector_peer_check(int fd, const char *peer_unit, pid_t *ret_pid, char **ret_why);

/* The manager's side: connect to path (a nonblocking connect; under systemd the listening socket
 * always accepts into its backlog, even while the injector service restarts). The Injector's pid
 * is 0 until its greeting is read. */
int injector_socket_connect(const char *path, Injector **ret);
/* Take a greeting read from i: sets i's pid; *ret_listener is the listener's pid. -EPERM with
 * *ret_why (points into hello) when the injector refused us, -EBADMSG for a malformed greeting. */
int injector_socket_greeting(Injector *i, const InjectorReply *hello, pid_t *ret_listener, const char **ret_why);
/* At start-up, before the event loop: wait up to timeout for the greeting and take it. */
int injector_socket_wait_greeting(Injector *i, usec_t timeout, pid_t *ret_listener);
