/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "procmon.h"

/* The proc connector's wire format (linux/cn_proc.h). That header's enum names collide with
 * ProcEventType's, so the few definitions needed are restated here; they are kernel ABI. */
enum {
        CN_PROC_NONE = 0x00000000, /* the ack of a (un)subscription */
        CN_PROC_FORK = 0x00000001,
        CN_PROC_EXEC = 0x00000002,
        CN_PROC_COMM = 0x00000200,
        CN_PROC_EXIT = 0x80000000,
};
enum { CN_PROC_MCAST_LISTEN = 1 };

struct cn_proc_event {
        uint32_t what;
        uint32_t cpu;
        uint64_t timestamp_ns;
        union {
                struct {
                        int32_t parent_pid, parent_tgid, child_pid, child_tgid;
                } fork;
                struct {
                        int32_t process_pid, process_tgid;
                } exec;
                struct {
                        int32_t process_pid, process_tgid;
                        char comm[16];
                } comm;
                struct {
                        int32_t process_pid, process_tgid;
                        uint32_t exit_code, exit_signal;
                        int32_t parent_pid, parent_tgid;
                } exit;
        } data;
};
#define CN_PROC_HEADER_SIZE offsetof(struct cn_proc_event, data)

/* Big enough for any datagram the connector sends (one event each), with room for batching. */
#define PROCMON_RECV_BUFFER 8192
/* Asked of the kernel for the socket's receive queue; bursts of fork/exit are common. */
#define PROCMON_RCVBUF (8U * 1024U * 1024U)

static const char *const proc_event_type_table[_PROC_EVENT_TYPE_MAX] = {
        [PROC_EVENT_FORK] = "fork",
        [PROC_EVENT_EXEC] = "exec",
        [PROC_EVENT_EXIT] = "exit",
        [PROC_EVENT_COMM] = "comm",
        [PROC_EVENT_LOST] = "lost",
};

const char *proc_event_type_to_string(ProcEventType t) {
        if (t < 0 || t >= _PROC_EVENT_TYPE_MAX)
                return NULL;
        return proc_event_type_table[t];
}

ProcEventType proc_event_type_from_string(const char *s) {
        if (!s)
                return _PROC_EVENT_TYPE_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(proc_event_type_table); i++)
                if (streq(proc_event_type_table[i], s))
                        return (ProcEventType) i;
        return _PROC_EVENT_TYPE_INVALID;
}

/* One subscription message: the op alone (every kernel), or the 6.6+ struct proc_input
 * {mcast_op, event_type}, a filter the kernel applies to this socket before queueing. */
static int procmon_send(int fd, uint32_t op, bool filtered, uint32_t events) {
        struct {
                struct nlmsghdr nlh;
                struct cn_msg cn;
                uint32_t op;
                uint32_t events;
        } req;
        size_t payload = filtered ? 2 * sizeof(uint32_t) : sizeof(uint32_t);
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        ssize_t n;

        memset(&req, 0, sizeof req);
        req.nlh.nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + payload);
        req.nlh.nlmsg_type = NLMSG_DONE;
        req.nlh.nlmsg_pid = 0;
        req.cn.id.idx = CN_IDX_PROC;
        req.cn.id.val = CN_VAL_PROC;
        req.cn.len = (uint16_t) payload;
        req.op = op;
        req.events = events;

        n = sendto(fd, &req, req.nlh.nlmsg_len, 0, (struct sockaddr *) &kernel,
                   sizeof kernel);
        if (n < 0)
                return -errno;
        if ((size_t) n != req.nlh.nlmsg_len)
                return -EIO;
        return 0;
}

/* Listen, then narrow to events. Kernels before 6.6 silently ignore a message whose length is not
 * exactly that of the op (no error to fall back on), so the plain op goes first and makes the
 * subscription everywhere; 6.6+ then replaces this socket's filter (ALL) with events, without
 * counting a second listener (cn_proc_mcast_ctl). An error on the second message keeps the
 * unfiltered subscription. */
static int procmon_subscribe(int fd, uint32_t events) {
        int r;

        r = procmon_send(fd, CN_PROC_MCAST_LISTEN, false, 0);
        if (r < 0)
                return r;
        r = procmon_send(fd, CN_PROC_MCAST_LISTEN, true, events);
        if (r < 0)
                log_debug_errno(r, "procmon: cannot filter the proc connector, receiving every event: %m");
        return 0;
}

static int procmon_open_mask(int *ret_fd, uint32_t events) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_nl addr = {
                .nl_family = AF_NETLINK,
                .nl_groups = CN_IDX_PROC,
                .nl_pid = 0, /* let the kernel pick a unique port id */
        };
        int size = (int) PROCMON_RCVBUF, r;

        if (!ret_fd)
                return -EINVAL;

        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
        if (fd < 0)
                return -errno;

        /* A large queue makes losses rare; they are still detected (ENOBUFS) and reported. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
                log_debug("SO_RCVBUFFORCE failed (%m), falling back to SO_RCVBUF");
                if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0)
                        log_debug("SO_RCVBUF failed (%m), keeping the default receive buffer");
        }

        if (bind(fd, (struct sockaddr *) &addr, sizeof addr) < 0)
                return -errno;

        r = procmon_subscribe(fd, events);
        if (r < 0)
                return r;

        *ret_fd = TAKE_FD(fd);
        return 0;
}

int procmon_open_events(int *ret_fd, bool comm) {
        /* no exit: the manager learns of exits from pidfds, and every thread's exit would wake it */
        return procmon_open_mask(ret_fd, CN_PROC_FORK | CN_PROC_EXEC | (comm ? CN_PROC_COMM : 0));
}

int procmon_open(int *ret_fd) {
        return procmon_open_mask(ret_fd, CN_PROC_FORK | CN_PROC_EXEC | CN_PROC_EXIT | CN_PROC_COMM);
}

static void proc_event_from_wire(const struct cn_proc_event *w, ProcEvent *e) {
        *e = (ProcEvent) {};

        switch (w->what) {
        case CN_PROC_FORK:
                e->type = PROC_EVENT_FORK;
                e->pid = w->data.fork.child_pid;
                e->tgid = w->data.fork.child_tgid;
                e->parent_pid = w->data.fork.parent_pid;
                e->parent_tgid = w->data.fork.parent_tgid;
                break;
        case CN_PROC_EXEC:
                e->type = PROC_EVENT_EXEC;
                e->pid = w->data.exec.process_pid;
                e->tgid = w->data.exec.process_tgid;
                break;
        case CN_PROC_COMM:
                e->type = PROC_EVENT_COMM;
                e->pid = w->data.comm.process_pid;
                e->tgid = w->data.comm.process_tgid;
                memcpy(e->comm, w->data.comm.comm, sizeof e->comm - 1);
                e->comm[sizeof e->comm - 1] = '\0';
                break;
        case CN_PROC_EXIT:
                e->type = PROC_EVENT_EXIT;
                e->pid = w->data.exit.process_pid;
                e->tgid = w->data.exit.process_tgid;
                e->parent_pid = w->data.exit.parent_pid;
                e->parent_tgid = w->data.exit.parent_tgid;
                e->exit_code = (int) w->data.exit.exit_code;
                break;
        }
        e->thread = e->pid != e->tgid;
}

/* How many bytes of the event union an event type needs; 0 for events we ignore. */
static size_t cn_proc_needed(uint32_t what) {
        switch (what) {
        case CN_PROC_FORK:
                return CN_PROC_HEADER_SIZE + sizeof(((struct cn_proc_event *) NULL)->data.fork);
        case CN_PROC_EXEC:
                return CN_PROC_HEADER_SIZE + sizeof(((struct cn_proc_event *) NULL)->data.exec);
        case CN_PROC_COMM:
                return CN_PROC_HEADER_SIZE + sizeof(((struct cn_proc_event *) NULL)->data.comm);
        case CN_PROC_EXIT:
                /* parent_pid/parent_tgid were appended in 4.x; older kernels send 16 bytes less */
                return CN_PROC_HEADER_SIZE + offsetof(__typeof__(((struct cn_proc_event *) NULL)->data.exit),
                                                      parent_pid);
        default:
                return 0;
        }
}

int procmon_parse(const void *buf, size_t len, uint32_t sender_pid, ProcEvent *events, size_t max,
                  size_t *ret_n) {
        const uint8_t *p = buf;
        size_t n = 0, left = len;

        if (!buf && len > 0)
                return -EINVAL;
        if (!ret_n || (!events && max > 0))
                return -EINVAL;

        if (sender_pid != 0)
                return -EPERM; /* only the kernel speaks for the proc connector */

        /* First pass validates and counts, so nothing is written for a bad datagram. */
        for (int pass = 0; pass < 2; pass++) {
                p = buf;
                left = len;
                n = 0;

                while (left > 0) {
                        struct nlmsghdr nlh;
                        struct cn_msg cn;
                        struct cn_proc_event ev = {};
                        size_t payload, needed, aligned;

                        if (left < sizeof nlh)
                                return -EBADMSG;
                        memcpy(&nlh, p, sizeof nlh);
                        if (nlh.nlmsg_len < sizeof nlh || nlh.nlmsg_len > left)
                                return -EBADMSG;

                        aligned = NLMSG_ALIGN(nlh.nlmsg_len);
                        if (aligned > left)
                                aligned = left; /* the last message needs no padding */

                        if (nlh.nlmsg_type == NLMSG_NOOP)
                                goto next;
                        if (nlh.nlmsg_type == NLMSG_ERROR || nlh.nlmsg_type == NLMSG_OVERRUN)
                                return -EBADMSG;

                        payload = nlh.nlmsg_len - NLMSG_HDRLEN;
                        if (nlh.nlmsg_len < NLMSG_HDRLEN || payload < sizeof cn)
                                return -EBADMSG;
                        memcpy(&cn, p + NLMSG_HDRLEN, sizeof cn);
                        if (cn.len > payload - sizeof cn)
                                return -EBADMSG;
                        if (cn.id.idx != CN_IDX_PROC || cn.id.val != CN_VAL_PROC)
                                goto next; /* another connector user */
                        if (cn.len < CN_PROC_HEADER_SIZE)
                                return -EBADMSG;

                        memcpy(&ev, p + NLMSG_HDRLEN + sizeof cn, MIN((size_t) cn.len, sizeof ev));
                        needed = cn_proc_needed(ev.what);
                        if (needed == 0)
                                goto next; /* acks, uid/gid/sid/ptrace/coredump: not ours */
                        if (cn.len < needed)
                                return -EBADMSG;

                        if (pass == 1)
                                proc_event_from_wire(&ev, &events[n]);
                        n++;
                next:
                        p += aligned;
                        left -= aligned;
                }

                if (pass == 0 && n > max)
                        return -ENOBUFS;
        }

        *ret_n = n;
        return 0;
}

bool procmon_superseded(const ProcEvent *events, size_t n, size_t i) {
        if (!events || i >= n || events[i].type != PROC_EVENT_FORK || events[i].thread)
                return false;
        for (size_t j = i + 1; j < n; j++)
                if (events[j].type == PROC_EVENT_EXEC && events[j].tgid == events[i].tgid)
                        return true;
        return false;
}

int procmon_receive(int fd, ProcEvent *events, size_t max, size_t *ret_n) {
        bool drained = false;
        size_t n = 0;

        if (fd < 0 || !ret_n || (!events && max > 0))
                return -EINVAL;

        while (n < max) {
                _Alignas(struct nlmsghdr) uint8_t buf[PROCMON_RECV_BUFFER];
                struct sockaddr_nl sender = {};
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
                struct msghdr mh = {
                        .msg_name = &sender,
                        .msg_namelen = sizeof sender,
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                };
                size_t k = 0;
                ssize_t len;
                int r;

                len = recvmsg(fd, &mh, MSG_DONTWAIT);
                if (len < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                drained = true;
                                break;
                        }
                        if (errno == ENOBUFS) {
                                /* The kernel dropped events; the error is reported once. */
                                events[n++] = (ProcEvent) { .type = PROC_EVENT_LOST };
                                continue;
                        }
                        if (n > 0)
                                break; /* hand over what we have; the error recurs on the next call */
                        return -errno;
                }
                if (mh.msg_flags & MSG_TRUNC) {
                        log_debug("procmon: truncated datagram of %zd bytes, treating as lost", len);
                        events[n++] = (ProcEvent) { .type = PROC_EVENT_LOST };
                        continue;
                }
                if (mh.msg_namelen < sizeof sender || sender.nl_family != AF_NETLINK) {
                        log_debug("procmon: datagram without a netlink sender, ignoring");
                        continue;
                }

                r = procmon_parse(buf, (size_t) len, sender.nl_pid, events + n, max - n, &k);
                if (r == -ENOBUFS) {
                        /* More events in one datagram than fit: better a rescan than a silent gap. */
                        events[n++] = (ProcEvent) { .type = PROC_EVENT_LOST };
                        continue;
                }
                if (r < 0) {
                        log_debug_errno(r, "procmon: bad datagram from port %u, ignoring: %m",
                                        sender.nl_pid);
                        continue;
                }
                n += k;
        }

        if (n == 0 && max > 0)
                return -EAGAIN;
        *ret_n = n;
        return drained;
}

int procmon_probe(int fd, uint64_t timeout_usec) {
        ProcEvent events[64];
        uint64_t deadline;
        bool seen = false;
        pid_t child;
        struct timespec ts;

        if (fd < 0)
                return -EBADF;
        child = fork();
        if (child < 0)
                return -errno;
        if (child == 0)
                _exit(EXIT_SUCCESS);

        clock_gettime(CLOCK_MONOTONIC, &ts);
        deadline = (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U + timeout_usec;
        while (!seen) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                uint64_t now;
                size_t n = 0;
                int r;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                now = (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
                if (now >= deadline)
                        break;
                r = poll(&p, 1, (int) ((deadline - now + 999) / 1000));
                if (r < 0 && errno != EINTR)
                        break;
                if (r <= 0)
                        continue;
                if (procmon_receive(fd, events, ELEMENTSOF(events), &n) < 0)
                        continue;
                /* an overflow (events dropped, maybe ours) also says the connector delivers */
                for (size_t i = 0; i < n; i++)
                        if (events[i].type == PROC_EVENT_LOST || events[i].tgid == child || events[i].pid == child)
                                seen = true;
        }
        (void) waitpid(child, NULL, 0);
        return seen;
}

static int pid_cmp(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return x < y ? -1 : x > y;
}

static bool parse_pid_name(const char *s, pid_t *ret) {
        unsigned long v = 0;

        if (!s || *s < '1' || *s > '9')
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                v = v * 10 + (unsigned long) (*s - '0');
                if (v > (unsigned long) INT32_MAX)
                        return false;
        }
        *ret = (pid_t) v;
        return true;
}

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

int procmon_scan(const char *proc_root, pid_t **ret_pids, size_t *ret_n) {
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        size_t n = 0, allocated = 0;
        int fd;

        if (!proc_root || !ret_pids || !ret_n)
                return -EINVAL;

        fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                safe_close(fd);
                return r;
        }

        for (;;) {
                struct dirent *de;
                pid_t pid;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        break;
                }
                /* /proc lists thread-group leaders only; threads hide under PID/task/ */
                if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                        continue;
                if (!parse_pid_name(de->d_name, &pid))
                        continue;

                if (n >= allocated) {
                        size_t want = allocated ? allocated * 2 : 256;
                        pid_t *q = reallocarray(pids, want, sizeof *pids);
                        if (!q)
                                return -ENOMEM;
                        pids = q;
                        allocated = want;
                }
                pids[n++] = pid;
        }

        if (n > 0)
                qsort(pids, n, sizeof *pids, pid_cmp);
        *ret_pids = n > 0 ? TAKE_PTR(pids) : NULL;
        *ret_n = n;
        return 0;
}
