/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The manager's side of the injector protocol, on the event loop. Requests wait in one FIFO and up
 * to INJECTOR_CLIENT_MAX_IN_FLIGHT of them are in flight at once (the injector serves them in
 * order, one at a time, and finds the next one waiting when it has answered one); each carries a
 * serial that its reply echoes, a reply is paired with the call in flight of that serial, and a
 * reply with an unknown serial is dropped and logged. The oldest call in flight has a deadline,
 * counted from when it became the oldest (a call does not time out on account of those before
 * it), an sd-event timer, never a blocking poll.
 *
 * Supervision: the injector's pidfd is watched, so its death is seen at once. When it dies, or does
 * not answer in time (then it is killed), the replies it sent before are read, and the oldest call
 * left in flight, the one it was in, fails: its target is checked first (/proc/PID/status State and
 * TracerPid), and the reply handler learns whether it was left running (-ECONNRESET after a death:
 * safe to retry; -ETIMEDOUT after a timeout: not to be retried, the target may be stuck in the
 * kernel and would hold the next injector too) or stopped or traced (-ENOTRECOVERABLE). Then a
 * spare injector takes over and the queue goes on, the calls behind that one in flight (never
 * started) sent again first.
 *
 * Why a spare: the manager runs under a seccomp filter without fork and without the injector's
 * capabilities (daemon/sandbox.c), so it cannot make a new injector once it is confined. Two are
 * forked before confinement; the spare idles until it is needed. When the spare is used up too,
 * the "lost" handler is told, and the manager exits non-zero so that systemd (Restart=on-failure)
 * starts a fresh pair; locks in place are adopted by the new daemon. See doc/hardening.md.
 *
 * Socket mode (the injector service, injector-socket.h): no spare; a lost connection is replaced
 * by a new one to the same socket, whose greeting is awaited (nothing is sent meanwhile) for
 * INJECTOR_GREETING_TIMEOUT_USEC. A connection that is refused, or never greets, is not retried:
 * the "lost" handler is told. */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "injector.h"

#define INJECTOR_GREETING_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define INJECTOR_CLIENT_MAX_IN_FLIGHT 8

typedef struct InjectorClient InjectorClient;
typedef struct InjectorCall InjectorCall;

/* r: the reply's r (reply set); with reply NULL: -ETIMEDOUT the injector did not answer in time and
 * was killed, the target running untraced; -ECONNRESET the injector died and the target is running
 * untraced; -ENOTRECOVERABLE lost and the target left stopped or traced; -ECANCELED never (cancelled calls get no callback). fd: a passed descriptor,
 * the handler owns it (-EBADF when none). reply is NULL when r comes from the client. */
typedef void (*InjectorReplyHandler)(int r, const InjectorReply *reply, int fd, void *userdata);
/* The last injector is gone and no spare is left. */
typedef void (*InjectorLostHandler)(InjectorClient *c, void *userdata);

/* Takes the injectors (active and spare; spare may be NULL). */
int injector_client_new(sd_event *e, Injector *active, Injector *spare, InjectorLostHandler lost,
                        void *userdata, InjectorClient **ret);
/* Socket mode: connect to the injector service at path and wait (before the event loop runs, at
 * most INJECTOR_GREETING_TIMEOUT_USEC) for its greeting. Logs its errors. */
int injector_client_new_socket(sd_event *e, const char *path, InjectorLostHandler lost, void *userdata,
                               InjectorClient **ret);
InjectorClient *injector_client_free(InjectorClient *c);
DEFINE_CLEANUP(InjectorClient *, injector_client_free);

/* Queue req (its serial is set here) for pidfd (duplicated), with a deadline of timeout from when it
 * is the oldest call in flight. ret_call (optional) may be passed to injector_client_cancel() until the handler runs. */
int injector_client_submit(InjectorClient *c, const InjectorRequest *req, int pidfd, usec_t timeout,
                           InjectorReplyHandler handler, void *userdata, InjectorCall **ret_call);
/* The handler will not be called (the request may still be in flight; its reply is then dropped). */
void injector_client_cancel(InjectorClient *c, InjectorCall *call);

/* Socket mode: reconnect to path on a loss. listener: the injector service's listener (from the
 * first greeting), never a target either. */
int injector_client_set_socket(InjectorClient *c, const char *path, pid_t listener);

/* Our injectors (the active one, the spare, the service's listener): never targets. */
bool injector_client_is_ours(const InjectorClient *c, pid_t pid);
uint64_t injector_client_dropped(const InjectorClient *c);    /* replies dropped: serial mismatch */
unsigned injector_client_restarts(const InjectorClient *c);   /* injectors lost */
size_t injector_client_queued(const InjectorClient *c);       /* requests waiting or in flight */
/* Whether a request for pid is in flight or waits (cancelled or not, until it leaves the queue):
 * the manager sends the next ones for pid to the same client, so that one process never has two
 * tracers. A lookup, not a walk of the queue. */
bool injector_client_has_pid(const InjectorClient *c, pid_t pid);

/* What the client checks after losing an injector: is pid left stopped or traced? 1 when it is,
 * 0 when it runs untraced, -ESRCH when it is gone. proc_root for tests. */
int injector_target_left_stopped(const char *proc_root, pid_t pid);
