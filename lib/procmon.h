/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Discovery of processes: the netlink proc connector (fork, exec, exit, comm as they happen) and a
 * full scan of /proc (at start, after a reload, when events were lost or the connector is missing).
 *
 * Threads are not processes: every event names the thread group (tgid) and marks events about a
 * non-leader thread with `thread`, so the caller acts once per thread group. Messages whose sender
 * is not the kernel (nl_pid != 0) are dropped. NETLINK_NO_ENOBUFS is never set: when the kernel
 * drops events the receive path reports one PROC_EVENT_LOST and the caller rescans /proc.
 *
 * Caveats the caller must know:
 *  - EXIT with !thread is the leader's exit. A leader that called pthread_exit() leaves while
 *    its other threads run on, so the group ends only when the pidfd polls readable (or the last
 *    EXIT of the tgid arrives); act on the pidfd, not on the event alone.
 *  - A pid is reused only after it is reaped; events name pids, not processes, so compare the
 *    start time (or hold a pidfd) before acting on a pid from an event.
 *  - The connector only works from the initial pid and user namespaces (requests from other
 *    namespaces are silently ignored by the kernel: no events, no error). */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum ProcEventType {
        PROC_EVENT_FORK,
        PROC_EVENT_EXEC,
        PROC_EVENT_EXIT,
        PROC_EVENT_COMM,
        PROC_EVENT_LOST, /* ENOBUFS: events were dropped, rescan */
        _PROC_EVENT_TYPE_MAX,
        _PROC_EVENT_TYPE_INVALID = -EINVAL,
} ProcEventType;

#define PROC_EVENT_COMM_MAX 16

typedef struct ProcEvent {
        ProcEventType type;
        pid_t pid, tgid;               /* the subject (for FORK: the child); 0 for LOST */
        pid_t parent_pid, parent_tgid; /* FORK only (EXIT: the parent the kernel reported) */
        bool thread;                   /* the subject is not its group's leader (pid != tgid): FORK of
                                          a thread, EXIT or COMM of a non-leader thread */
        int exit_code;                 /* EXIT only: the wait status the kernel reported */
        char comm[PROC_EVENT_COMM_MAX]; /* COMM only: the new name, NUL-terminated */
} ProcEvent;

/* Open, bind and subscribe; *ret_fd is nonblocking and cloexec. The receive buffer is raised with
 * SO_RCVBUFFORCE (needs CAP_NET_ADMIN), else SO_RCVBUF (capped by net.core.rmem_max).
 * Errors: those of socket/bind/send, e.g. -EPROTONOSUPPORT without CONFIG_PROC_EVENTS,
 * -EPERM on kernels before 6.6 without CAP_NET_ADMIN. */
int procmon_open(int *ret_fd);
/* The same, subscribed to fork and exec only, plus comm when asked: on 6.6+ the kernel filters
 * (struct proc_input), so EXIT (every thread's), UID/GID/SID/PTRACE/COREDUMP (and comm, unless
 * asked) events are never queued nor wake the reader; older kernels deliver everything and the
 * caller ignores what it did not ask for. procmon_open() subscribes to fork, exec, exit and comm. */
int procmon_open_events(int *ret_fd, bool comm);

/* Whether the connector on fd really delivers: fork a child that exits at once and wait up to
 * timeout_usec for an event naming it, or an overflow. 1: it does; 0: nothing came (in a PID or
 * user namespace other than the initial ones the kernel accepts the subscription and sends
 * nothing). Events of other processes read meanwhile are dropped: scan /proc afterwards. */
int procmon_probe(int fd, uint64_t timeout_usec);

/* Receive what is queued, up to max events: 1 when it read the queue empty, 0 when it stopped
 * before (more may be queued: call again), -EAGAIN when nothing is queued. A lost-events condition
 * yields one PROC_EVENT_LOST event. After it the kernel drops every event, and says so no more,
 * until the queue has been read empty once (netlink's congested state; doc/kernel-facts.md): a
 * rescan for the loss belongs after that, when this returns 1 or -EAGAIN. Unknown/ignored events
 * are skipped, and so are malformed datagrams and datagrams not sent by the kernel. */
int procmon_receive(int fd, ProcEvent *events, size_t max, size_t *ret_n);
/* Whether events[i] is a process's FORK that a later EXEC of the same process in events[0..n)
 * supersedes: the image forked is gone already, and looking at it (an exe read through the
 * injector) would only delay the one exec'd. Pure. */
bool procmon_superseded(const ProcEvent *events, size_t n, size_t i);

/* Parse one datagram (for tests/fuzzing); sender_pid is nl_pid of the sender.
 * Returns 0 (*ret_n events, possibly 0 for acks and ignored event types), -EPERM when the sender
 * is not the kernel, -EBADMSG for a truncated or malformed datagram, -ENOBUFS when it holds more
 * events than max (nothing is written then). */
int procmon_parse(const void *buf, size_t len, uint32_t sender_pid, ProcEvent *events, size_t max,
                  size_t *ret_n);

/* All thread-group ids under proc_root (numeric directory names, as /proc lists them), ascending.
 * *ret_pids is malloc'd (NULL when *ret_n is 0). */
int procmon_scan(const char *proc_root, pid_t **ret_pids, size_t *ret_n);

const char *proc_event_type_to_string(ProcEventType t);
ProcEventType proc_event_type_from_string(const char *s);
