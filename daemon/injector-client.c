/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "injector-client.h"
#include "injector-socket.h"
#include "log.h"
#include "procfs.h"

struct InjectorCall {
        InjectorCall *prev, *next;
        InjectorRequest req;
        int pidfd;
        usec_t timeout;
        InjectorReplyHandler handler;
        void *userdata;
        bool cancelled;
};

struct InjectorClient {
        sd_event *event;
        Injector *active, *spare;
        int active_pidfd;
        sd_event_source *io_source, *exit_source, *timer_source;

        InjectorCall *head, *tail;      /* FIFO; the first n_sent are in flight, oldest first */
        size_t n_sent;
        size_t n_queued;
        void *pids;                     /* tsearch() tree of PidCount: the pids of the queued calls */
        bool draining;                  /* a lost injector's replies are read: nothing is sent */
        uint64_t next_serial;

        /* socket mode: reconnect to the injector service instead of taking a spare */
        char *socket_path;
        pid_t listener;
        bool greeting;                  /* connected, its greeting not read yet: nothing is sent */

        uint64_t dropped;
        unsigned restarts;
        InjectorLostHandler lost;
        void *userdata;
};

static const char *const op_names[_INJECTOR_OP_MAX] = {
        [INJECTOR_OP_PRECHECK] = "precheck", [INJECTOR_OP_STEP] = "step",
        [INJECTOR_OP_PREFETCH] = "prefetch", [INJECTOR_OP_OPEN] = "open",
        [INJECTOR_OP_EXE] = "exe",           [INJECTOR_OP_PRLIMIT] = "prlimit",
        [INJECTOR_OP_PAGES] = "pages",       [INJECTOR_OP_RELOCK] = "relock",
        [INJECTOR_OP_PRLIMIT_RESTORE] = "prlimit-restore", [INJECTOR_OP_LOCK_RANGES] = "lock-ranges",
        [INJECTOR_OP_WATCH_MAPS] = "watch-maps",
};

static const char *op_name(uint32_t op) {
        return op < _INJECTOR_OP_MAX && op_names[op] ? op_names[op] : "?";
}

int injector_target_left_stopped(const char *proc_root, pid_t pid) {
        ProcStatus st = {};

        if (procfs_read_status(proc_root, pid, 0, &st) < 0)
                return -ESRCH;
        if (st.state == 'Z' || st.state == 'X')
                return -ESRCH;
        return st.tracer_pid != 0 || st.state == 't' || st.state == 'T';
}

/* How many queued calls (in flight or not, cancelled or not) are about a pid: which worker serves
 * a pid is asked for every new target, and a walk of a queue thousands long cost the manager 5% of
 * its CPU with 2,000 processes started at once. */
typedef struct PidCount {
        pid_t pid;
        size_t n;
} PidCount;

static int pid_count_compare(const void *a, const void *b) {
        pid_t x = ((const PidCount *) a)->pid, y = ((const PidCount *) b)->pid;

        return (x > y) - (x < y);
}

static int pids_add(InjectorClient *c, pid_t pid) {
        PidCount key = { .pid = pid }, *e, **found;

        found = tfind(&key, &c->pids, pid_count_compare);
        if (found) {
                (*found)->n++;
                return 0;
        }
        e = malloc(sizeof *e);
        if (!e)
                return -ENOMEM;
        *e = (PidCount) { .pid = pid, .n = 1 };
        if (!tsearch(e, &c->pids, pid_count_compare)) {
                free(e);
                return -ENOMEM;
        }
        return 0;
}

static void pids_remove(InjectorClient *c, pid_t pid) {
        PidCount key = { .pid = pid }, *e, **found;

        found = tfind(&key, &c->pids, pid_count_compare);
        if (!found || --(*found)->n > 0)
                return;
        e = *found;
        (void) tdelete(&key, &c->pids, pid_count_compare);
        free(e);
}

static void call_free(InjectorCall *call) {
        if (!call)
                return;
        safe_close(call->pidfd);
        free(call);
}

/* Take call out of the queue (in flight or not). */
static InjectorCall *queue_unlink(InjectorClient *c, InjectorCall *call, bool in_flight) {
        if (call->prev)
                call->prev->next = call->next;
        else
                c->head = call->next;
        if (call->next)
                call->next->prev = call->prev;
        else
                c->tail = call->prev;
        call->prev = call->next = NULL;
        c->n_queued--;
        pids_remove(c, call->req.pid);
        if (in_flight)
                c->n_sent--;
        return call;
}

static InjectorCall *queue_pop(InjectorClient *c) {
        return c->head ? queue_unlink(c, c->head, c->n_sent > 0) : NULL;
}

/* The call in flight whose serial this is, or NULL. */
static InjectorCall *queue_find_sent(InjectorClient *c, uint64_t serial) {
        InjectorCall *call = c->head;

        for (size_t k = 0; k < c->n_sent && call; k++, call = call->next)
                if (call->req.serial == serial)
                        return call;
        return NULL;
}

/* The deadline is the oldest call's in flight, counted from when it became the oldest: calls queued
 * behind a slow one in the injector do not time out on its account. */
static void client_arm_deadline(InjectorClient *c) {
        if (c->greeting || !c->timer_source)
                return;
        if (c->n_sent == 0) {
                (void) sd_event_source_set_enabled(c->timer_source, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time_relative(c->timer_source, c->head->timeout);
        (void) sd_event_source_set_enabled(c->timer_source, SD_EVENT_ONESHOT);
}

static void client_detach_sources(InjectorClient *c) {
        c->io_source = sd_event_source_disable_unref(c->io_source);
        c->exit_source = sd_event_source_disable_unref(c->exit_source);
        c->timer_source = sd_event_source_disable_unref(c->timer_source);
        c->active_pidfd = safe_close(c->active_pidfd);
}

static void client_send_next(InjectorClient *c);
static void client_lose(InjectorClient *c, const char *why);

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        InjectorClient *c = userdata;

        char b[FORMAT_TIMESPAN_MAX];

        if (c->greeting)
                log_error("The injector at %s did not greet within %s.", c->socket_path,
                          format_timespan(b, sizeof b, INJECTOR_GREETING_TIMEOUT_USEC));
        else if (c->n_sent > 0)
                log_error("The injector (pid %d) did not answer request %" PRIu64 " (%s, pid %d) within %s; "
                          "killing it.", (int) injector_pid(c->active), c->head->req.serial,
                          op_name(c->head->req.op), (int) c->head->req.pid,
                          format_timespan(b, sizeof b, c->head->timeout));
        client_lose(c, "timeout");
        return 0;
}

static int on_exit_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        InjectorClient *c = userdata;

        log_error("The injector (pid %d) died.", (int) injector_pid(c->active));
        client_lose(c, "died");
        return 0;
}

static int client_watch_exit(InjectorClient *c);

/* Socket mode: the first message names the server to watch (injector-socket.h). */
static void client_take_greeting(InjectorClient *c, const InjectorReply *hello, int passed) {
        const char *why = NULL;
        int r;

        safe_close(passed);
        r = injector_socket_greeting(c->active, hello, &c->listener, &why);
        if (r == -EPERM) {
                log_error("The injector at %s refused this manager: %s.", c->socket_path, why);
                client_lose(c, "refused us");
                return;
        }
        if (r < 0) {
                log_error("The injector at %s sent a malformed greeting.", c->socket_path);
                client_lose(c, "failed");
                return;
        }
        c->greeting = false;
        (void) sd_event_source_set_enabled(c->timer_source, SD_EVENT_OFF);
        r = client_watch_exit(c);
        if (r < 0) {
                log_error_errno(r, "Failed to watch the injector (pid %d): %m", (int) injector_pid(c->active));
                client_lose(c, "failed");
                return;
        }
        log_notice("Connected to the injector at %s again (server pid %d).", c->socket_path,
                   (int) injector_pid(c->active));
        client_send_next(c);
}

/* A reply to one of the calls in flight (the injector answers in order; any is accepted), or one
 * with an unknown serial, dropped. */
static void client_dispatch(InjectorClient *c, const InjectorReply *reply, int passed) {
        InjectorCall *call = queue_find_sent(c, reply->serial);
        bool oldest = call && call == c->head;

        if (!call) {
                c->dropped++;
                log_warning("Dropping an injector reply with serial %" PRIu64 ", expected %" PRIu64 ".",
                            reply->serial, c->n_sent > 0 ? c->head->req.serial : 0);
                safe_close(passed);
                return;
        }
        queue_unlink(c, call, true);
        if (oldest)
                client_arm_deadline(c);
        if (call->cancelled)
                safe_close(passed);
        else
                call->handler(reply->r, reply, passed, call->userdata);
        call_free(call);
}

static int on_reply(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        InjectorClient *c = userdata;
        InjectorReply reply = {};
        int passed = -EBADF, r;

        r = injector_receive(c->active, &reply, &passed);
        if (r == -EAGAIN || r == -EINTR)
                return 0;
        if (r == -ECONNRESET) {
                /* end of file: it exited (its pidfd may not have been seen yet) */
                log_error("The injector (pid %d) died.", (int) injector_pid(c->active));
                client_lose(c, "died");
                return 0;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to read from the injector (pid %d), killing it: %m",
                                (int) injector_pid(c->active));
                client_lose(c, "failed");
                return 0;
        }
        if (c->greeting) {
                client_take_greeting(c, &reply, passed);
                return 0;
        }
        client_dispatch(c, &reply, passed);
        client_send_next(c);
        return 0;
}

static int client_watch_exit(InjectorClient *c) {
        int r;

        c->active_pidfd = (int) syscall(SYS_pidfd_open, injector_pid(c->active), 0);
        if (c->active_pidfd < 0)
                return -errno;
        r = sd_event_add_io(c->event, &c->exit_source, c->active_pidfd, EPOLLIN, on_exit_event, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(c->exit_source, "injector-exit");
        /* seen before a reply that will never come, and before new work */
        (void) sd_event_source_set_priority(c->exit_source, SD_EVENT_PRIORITY_IMPORTANT);
        return 0;
}

/* Watch the active injector. One whose pid is not known yet (a new connection to the injector
 * service) is watched for its greeting first, under the timer. */
static int client_attach(InjectorClient *c) {
        int r;

        r = sd_event_add_io(c->event, &c->io_source, injector_fd(c->active), EPOLLIN, on_reply, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(c->io_source, "injector");

        c->greeting = injector_pid(c->active) <= 0;
        if (!c->greeting) {
                r = client_watch_exit(c);
                if (r < 0)
                        return r;
        }

        r = sd_event_add_time_relative(c->event, &c->timer_source, CLOCK_MONOTONIC,
                                       c->greeting ? INJECTOR_GREETING_TIMEOUT_USEC : USEC_PER_SEC, USEC_PER_MSEC,
                                       on_timeout, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(c->timer_source, "injector-timeout");
        return sd_event_source_set_enabled(c->timer_source, c->greeting ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
}

/* Socket mode: a new connection in place of the lost one (systemd restarts the injector service
 * if it is the listener that died; the connection waits in the socket's backlog meanwhile). */
static int client_reconnect(InjectorClient *c) {
        int r;

        r = injector_socket_connect(c->socket_path, &c->active);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the injector at %s: %m", c->socket_path);
        r = client_attach(c);
        if (r < 0) {
                log_error_errno(r, "Failed to watch the injector connection: %m");
                client_detach_sources(c);
                c->active = injector_free(c->active);
                return r;
        }
        return 0;
}

/* The replies a lost (killed and reaped) injector sent before it went: the calls they answer are
 * done, and the oldest call left is the one it was in. Nothing is sent meanwhile. */
static void client_drain(InjectorClient *c) {
        bool reset = false;

        c->draining = true;
        while (c->n_sent > 0) {
                struct pollfd p = { .fd = injector_fd(c->active), .events = POLLIN };
                InjectorReply reply = {};
                int passed = -EBADF, r;

                if (poll(&p, 1, 0) <= 0)
                        break;
                r = injector_receive(c->active, &reply, &passed);
                if (r == -ECONNRESET && !reset) {
                        /* it died with requests unread: the kernel reports that once, before the
                         * replies still queued (sock_error() comes first in a datagram receive) */
                        reset = true;
                        continue;
                }
                if (r < 0)
                        break;
                client_dispatch(c, &reply, passed);
        }
        c->draining = false;
}

/* The active injector is gone or stuck: fail the call it was in after checking its target, then
 * carry on with the spare, or tell the manager there is none. The calls behind it in flight were
 * never started (the injector serves one at a time): they are sent again. */
static void client_lose(InjectorClient *c, const char *why) {
        InjectorCall *call = NULL;
        bool was_greeting = c->greeting, timeout = streq(why, "timeout");
        uint64_t stuck = timeout && c->n_sent > 0 ? c->head->req.serial : 0;
        int left = 0, r;

        c->greeting = false;
        injector_kill(c->active); /* reaped: the kernel has detached whatever it traced */
        if (!was_greeting)
                client_drain(c);
        client_detach_sources(c);
        c->active = injector_free(c->active);
        c->restarts++;

        if (c->n_sent > 0)
                call = queue_pop(c);
        if (c->n_sent > 0)
                log_debug("Sending %zu request(s) again that the lost injector had not started.", c->n_sent);
        c->n_sent = 0;
        if (call) {
                left = injector_target_left_stopped("/proc", call->req.pid);
                if (left > 0)
                        log_error("Process %d was left stopped or traced by the lost injector.",
                                  (int) call->req.pid);
        }

        /* the spare first, so that the handler may send the request again */
        if (c->spare) {
                c->active = TAKE_PTR(c->spare);
                r = client_attach(c);
                if (r >= 0)
                        log_notice("The spare injector (pid %d) takes over after the injector %s.",
                                   (int) injector_pid(c->active), why);
                else {
                        log_error_errno(r, "Failed to watch the spare injector: %m");
                        client_detach_sources(c);
                        injector_kill(c->active);
                        c->active = injector_free(c->active);
                }
        } else if (c->socket_path && !was_greeting) {
                /* a connection that never greeted is not retried: the service is down or refuses us */
                if (client_reconnect(c) >= 0)
                        log_notice("Reconnecting to the injector at %s after the injector %s.", c->socket_path, why);
        }

        if (call) {
                if (!call->cancelled)
                        /* a call that timed out is not retried: its target may hold any injector
                         * the same way (stuck in the kernel); one answered meanwhile was not it */
                        call->handler(!c->active                          ? -ENOTCONN
                                      : left > 0                          ? -ENOTRECOVERABLE
                                      : stuck && call->req.serial == stuck ? -ETIMEDOUT
                                                                          : -ECONNRESET,
                                      NULL, -EBADF, call->userdata);
                call_free(call);
        }

        if (c->active) {
                client_send_next(c);
                return;
        }

        log_error("No injector is left (the last one %s).", why);
        while ((call = queue_pop(c))) {
                if (!call->cancelled)
                        call->handler(-ENOTCONN, NULL, -EBADF, call->userdata);
                call_free(call);
        }
        if (c->lost)
                c->lost(c, c->userdata);
}

/* Up to INJECTOR_CLIENT_MAX_IN_FLIGHT requests in flight: the injector finds the next one waiting
 * when it has answered one, and the manager reads replies while it works. */
static void client_send_next(InjectorClient *c) {
        while (c->n_sent < INJECTOR_CLIENT_MAX_IN_FLIGHT && c->active && !c->greeting && !c->draining) {
                InjectorCall *call = c->head;
                int r;

                for (size_t k = 0; k < c->n_sent && call; k++)
                        call = call->next;
                if (!call)
                        return;
                if (call->cancelled) {
                        call_free(queue_unlink(c, call, false));
                        continue;
                }
                r = injector_send(c->active, &call->req, call->pidfd);
                if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN) {
                        /* it exited before its pidfd or end of file was seen */
                        log_error("The injector (pid %d) died.", (int) injector_pid(c->active));
                        client_lose(c, "went away");
                        return;
                }
                if (r < 0) {
                        log_debug_errno(r, "Failed to send request %" PRIu64 " to the injector: %m",
                                        call->req.serial);
                        queue_unlink(c, call, false);
                        call->handler(r, NULL, -EBADF, call->userdata);
                        call_free(call);
                        continue;
                }
                if (c->n_sent++ == 0)
                        client_arm_deadline(c);
        }
}

int injector_client_submit(InjectorClient *c, const InjectorRequest *req, int pidfd, usec_t timeout,
                           InjectorReplyHandler handler, void *userdata, InjectorCall **ret_call) {
        InjectorCall *call;

        if (!c || !req || !handler)
                return -EINVAL;
        if (!c->active)
                return -ENOTCONN;

        call = calloc(1, sizeof *call);
        if (!call)
                return -ENOMEM;
        if (pids_add(c, req->pid) < 0) {
                free(call);
                return -ENOMEM;
        }
        call->req = *req;
        call->req.serial = ++c->next_serial;
        call->pidfd = pidfd >= 0 ? fcntl(pidfd, F_DUPFD_CLOEXEC, 3) : -EBADF;
        if (pidfd >= 0 && call->pidfd < 0) {
                int r = -errno;

                pids_remove(c, req->pid);
                free(call);
                return r;
        }
        call->timeout = timeout;
        call->handler = handler;
        call->userdata = userdata;

        call->prev = c->tail;
        if (c->tail)
                c->tail->next = call;
        else
                c->head = call;
        c->tail = call;
        c->n_queued++;
        if (ret_call)
                *ret_call = call;

        client_send_next(c);
        return 0;
}

void injector_client_cancel(InjectorClient *c, InjectorCall *call) {
        if (call)
                call->cancelled = true;
}

int injector_client_new(sd_event *e, Injector *active, Injector *spare, InjectorLostHandler lost,
                        void *userdata, InjectorClient **ret) {
        InjectorClient *c;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->active = active;
        c->spare = spare;
        c->active_pidfd = -EBADF;
        c->lost = lost;
        c->userdata = userdata;
        r = client_attach(c);
        if (r < 0) {
                injector_client_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

InjectorClient *injector_client_free(InjectorClient *c) {
        InjectorCall *call;

        if (!c)
                return NULL;
        while ((call = queue_pop(c)))
                call_free(call);
        tdestroy(c->pids, free); /* empty by now */
        client_detach_sources(c);
        injector_free(c->active);
        injector_free(c->spare);
        free(c->socket_path);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

int injector_client_set_socket(InjectorClient *c, const char *path, pid_t listener) {
        char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        free(c->socket_path);
        c->socket_path = p;
        c->listener = listener;
        return 0;
}

bool injector_client_is_ours(const InjectorClient *c, pid_t pid) {
        return c && pid > 0 &&
               (pid == injector_pid(c->active) || pid == injector_pid(c->spare) || pid == c->listener);
}

uint64_t injector_client_dropped(const InjectorClient *c) {
        return c ? c->dropped : 0;
}

unsigned injector_client_restarts(const InjectorClient *c) {
        return c ? c->restarts : 0;
}

size_t injector_client_queued(const InjectorClient *c) {
        return c ? c->n_queued : 0;
}

bool injector_client_has_pid(const InjectorClient *c, pid_t pid) {
        PidCount key = { .pid = pid };

        return c && tfind(&key, &c->pids, pid_count_compare);
}

int injector_client_new_socket(sd_event *e, const char *path, InjectorLostHandler lost, void *userdata,
                               InjectorClient **ret) {
        _cleanup_(injector_client_freep) InjectorClient *c = NULL;
        _cleanup_(injector_freep) Injector *i = NULL;
        char b[FORMAT_TIMESPAN_MAX];
        pid_t listener = 0;
        int r;

        r = injector_socket_connect(path, &i);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the injector at %s: %m", path);
        r = injector_socket_wait_greeting(i, INJECTOR_GREETING_TIMEOUT_USEC, &listener);
        if (r == -ETIMEDOUT)
                return log_error_errno(r, "The injector at %s did not greet within %s.", path,
                                       format_timespan(b, sizeof b, INJECTOR_GREETING_TIMEOUT_USEC));
        if (r == -EPERM)
                return r; /* logged with the injector's reason */
        if (r < 0)
                return log_error_errno(r, "Failed to read the greeting of the injector at %s: %m", path);

        r = injector_client_new(e, TAKE_PTR(i), NULL, lost, userdata, &c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the injector: %m");
        r = injector_client_set_socket(c, path, listener);
        if (r < 0)
                return log_oom();
        log_info("Connected to the injector at %s (server pid %d, listener pid %d).", path,
                 (int) injector_pid(c->active), (int) listener);
        *ret = TAKE_PTR(c);
        return 0;
}
