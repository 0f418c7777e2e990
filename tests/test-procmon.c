/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* procmon.c: the datagram parser on messages laid out here byte by byte (kernel ABI: nlmsghdr,
 * cn_msg, proc_event), the /proc scan on a fixture tree and on the real /proc, and the real proc
 * connector: a forked child's FORK, EXEC, EXIT; a thread's FORK; ENOBUFS reported as LOST. */
#include <fcntl.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "parse-util.h"
#include "procmon.h"
#include "tests.h"

/* the proc_event "what" values (linux/cn_proc.h) */
#define W_NONE 0x00000000U
#define W_FORK 0x00000001U
#define W_EXEC 0x00000002U
#define W_UID 0x00000004U
#define W_COMM 0x00000200U
#define W_EXIT 0x80000000U

#define NL_HDR 16
#define CN_HDR 20
#define EV_HDR 16 /* what, cpu, timestamp_ns */
#define EV_SIZE 40 /* sizeof(struct proc_event) */
#define MSG_SIZE (NL_HDR + CN_HDR + EV_SIZE)

static void put32(uint8_t *p, size_t off, uint32_t v) {
        memcpy(p + off, &v, sizeof v);
}
static void put16(uint8_t *p, size_t off, uint16_t v) {
        memcpy(p + off, &v, sizeof v);
}

/* One connector message at p: returns its size. data[] are the event union's first u32 fields. */
static size_t build(uint8_t *p, uint32_t what, const uint32_t *data, size_t ndata) {
        memset(p, 0, MSG_SIZE);
        put32(p, 0, MSG_SIZE);             /* nlmsg_len */
        put16(p, 4, NLMSG_DONE);           /* nlmsg_type, as cn_netlink_send() uses */
        put32(p, NL_HDR + 0, CN_IDX_PROC); /* cn_msg.id.idx */
        put32(p, NL_HDR + 4, CN_VAL_PROC); /* cn_msg.id.val */
        put16(p, NL_HDR + 16, EV_SIZE);    /* cn_msg.len */
        put32(p, NL_HDR + CN_HDR + 0, what);
        put32(p, NL_HDR + CN_HDR + 4, 1); /* cpu */
        for (size_t i = 0; i < ndata; i++)
                put32(p, NL_HDR + CN_HDR + EV_HDR + 4 * i, data[i]);
        return MSG_SIZE;
}

static void test_parse(void) {
        uint8_t buf[4 * MSG_SIZE];
        ProcEvent ev[4];
        size_t n = 99, len;

        /* fork of a process: parent 100/100, child 200/200 */
        len = build(buf, W_FORK, (uint32_t[]) { 100, 100, 200, 200 }, 4);
        ASSERT_OK(procmon_parse(buf, len, 0, ev, 4, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(ev[0].type, PROC_EVENT_FORK);
        ASSERT_EQ(ev[0].pid, 200);
        ASSERT_EQ(ev[0].tgid, 200);
        ASSERT_EQ(ev[0].parent_pid, 100);
        ASSERT_EQ(ev[0].parent_tgid, 100);
        ASSERT_FALSE(ev[0].thread);

        /* a new thread 201 in group 200, created by thread 205 of the same group */
        len = build(buf, W_FORK, (uint32_t[]) { 205, 200, 201, 200 }, 4);
        ASSERT_OK(procmon_parse(buf, len, 0, ev, 4, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(ev[0].type, PROC_EVENT_FORK);
        ASSERT_EQ(ev[0].pid, 201);
        ASSERT_EQ(ev[0].tgid, 200);
        ASSERT_EQ(ev[0].parent_tgid, 200);
        ASSERT_TRUE(ev[0].thread);

        len = build(buf, W_EXEC, (uint32_t[]) { 200, 200 }, 2);
        ASSERT_OK(procmon_parse(buf, len, 0, ev, 4, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(ev[0].type, PROC_EVENT_EXEC);
        ASSERT_EQ(ev[0].pid, 200);
        ASSERT_EQ(ev[0].tgid, 200);
        ASSERT_FALSE(ev[0].thread);

        /* exit of a non-leader thread, then of the leader */
        len = build(buf, W_EXIT, (uint32_t[]) { 201, 200, 0, 17, 100, 100 }, 6);
        len += build(buf + len, W_EXIT, (uint32_t[]) { 200, 200, 0x0100, 17, 100, 100 }, 6);
        ASSERT_OK(procmon_parse(buf, len, 0, ev, 4, &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(ev[0].type, PROC_EVENT_EXIT);
        ASSERT_EQ(ev[0].pid, 201);
        ASSERT_EQ(ev[0].tgid, 200);
        ASSERT_TRUE(ev[0].thread);
        ASSERT_EQ(ev[1].type, PROC_EVENT_EXIT);
        ASSERT_EQ(ev[1].pid, 200);
        ASSERT_FALSE(ev[1].thread);
        ASSERT_EQ(ev[1].exit_code, 0x0100);
        ASSERT_EQ(ev[1].parent_tgid, 100);

        /* comm: 16 bytes on the wire, always NUL-terminated here */
        len = build(buf, W_COMM, (uint32_t[]) { 200, 200 }, 2);
        memcpy(buf + NL_HDR + CN_HDR + EV_HDR + 8, "redis-server", 13);
        ASSERT_OK(procmon_parse(buf, len, 0, ev, 4, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(ev[0].type, PROC_EVENT_COMM);
        ASSERT_STREQ(ev[0].comm, "redis-server");
        memset(buf + NL_HDR + CN_HDR + EV_HDR + 8, 'x', 16);
        ASSERT_OK(procmon_parse(buf, len, 0, ev, 4, &n));
        ASSERT_STREQ(ev[0].comm, "xxxxxxxxxxxxxxx");

        /* the subscription ack and event types we do not use are skipped */
        len = build(buf, W_NONE, (uint32_t[]) { 0 }, 1);
        len += build(buf + len, W_UID, (uint32_t[]) { 200, 200, 0, 0 }, 4);
        len += build(buf + len, W_EXEC, (uint32_t[]) { 300, 300 }, 2);
        n = 99;
        ASSERT_OK(procmon_parse(buf, len, 0, ev, 4, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(ev[0].pid, 300);
        /* another connector user (idx != CN_IDX_PROC) is skipped */
        len = build(buf, W_EXEC, (uint32_t[]) { 300, 300 }, 2);
        put32(buf, NL_HDR, CN_IDX_PROC + 1);
        ASSERT_OK(procmon_parse(buf, len, 0, ev, 4, &n));
        ASSERT_EQ(n, 0);

        /* a datagram not from the kernel: refused, nothing written */
        len = build(buf, W_EXEC, (uint32_t[]) { 400, 400 }, 2);
        n = 99;
        ev[0].pid = -1;
        ASSERT_ERROR(procmon_parse(buf, len, 4242, ev, 4, &n), EPERM);
        ASSERT_EQ(n, 99);
        ASSERT_EQ(ev[0].pid, -1);

        /* truncated: every prefix of a valid message is refused without crashing */
        len = build(buf, W_FORK, (uint32_t[]) { 100, 100, 200, 200 }, 4);
        for (size_t cut = 1; cut < len; cut++) {
                uint8_t *copy = malloc(cut); /* exact size, so ASan sees any overread */
                ASSERT_NOT_NULL(copy);
                memcpy(copy, buf, cut);
                ASSERT_ERROR(procmon_parse(copy, cut, 0, ev, 4, &n), EBADMSG);
                free(copy);
        }
        /* nlmsg_len claiming more than the datagram, or less than a header */
        put32(buf, 0, MSG_SIZE + 8);
        ASSERT_ERROR(procmon_parse(buf, len, 0, ev, 4, &n), EBADMSG);
        put32(buf, 0, 8);
        ASSERT_ERROR(procmon_parse(buf, len, 0, ev, 4, &n), EBADMSG);
        /* cn_msg.len larger than the payload; a fork event too short for its fields */
        len = build(buf, W_FORK, (uint32_t[]) { 100, 100, 200, 200 }, 4);
        put16(buf, NL_HDR + 16, EV_SIZE + 1);
        ASSERT_ERROR(procmon_parse(buf, len, 0, ev, 4, &n), EBADMSG);
        put16(buf, NL_HDR + 16, EV_HDR + 12);
        ASSERT_ERROR(procmon_parse(buf, len, 0, ev, 4, &n), EBADMSG);
        /* a valid message followed by a truncated one: refused as a whole, nothing written */
        len = build(buf, W_EXEC, (uint32_t[]) { 500, 500 }, 2);
        len += build(buf + len, W_EXEC, (uint32_t[]) { 501, 501 }, 2) - 10;
        put32(buf, MSG_SIZE, MSG_SIZE - 10);
        ev[0].pid = -1;
        ASSERT_ERROR(procmon_parse(buf, len, 0, ev, 4, &n), EBADMSG);
        ASSERT_EQ(ev[0].pid, -1);
        /* netlink error messages are not events */
        len = build(buf, W_EXEC, (uint32_t[]) { 500, 500 }, 2);
        put16(buf, 4, NLMSG_ERROR);
        ASSERT_ERROR(procmon_parse(buf, len, 0, ev, 4, &n), EBADMSG);

        /* more events than room */
        len = build(buf, W_EXEC, (uint32_t[]) { 600, 600 }, 2);
        len += build(buf + len, W_EXEC, (uint32_t[]) { 601, 601 }, 2);
        ASSERT_ERROR(procmon_parse(buf, len, 0, ev, 1, &n), ENOBUFS);
        ASSERT_OK(procmon_parse(buf, len, 0, ev, 2, &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(ev[1].pid, 601);

        ASSERT_OK(procmon_parse(buf, 0, 0, ev, 4, &n));
        ASSERT_EQ(n, 0);
        ASSERT_ERROR(procmon_parse(NULL, 4, 0, ev, 4, &n), EINVAL);

        ASSERT_STREQ(proc_event_type_to_string(PROC_EVENT_LOST), "lost");
        ASSERT_STREQ(proc_event_type_to_string(PROC_EVENT_FORK), "fork");
        ASSERT_NULL(proc_event_type_to_string(_PROC_EVENT_TYPE_MAX));
        ASSERT_NULL(proc_event_type_to_string(_PROC_EVENT_TYPE_INVALID));
        ASSERT_EQ(proc_event_type_from_string("exec"), PROC_EVENT_EXEC);
        ASSERT_EQ(proc_event_type_from_string("bogus"), _PROC_EVENT_TYPE_INVALID);
}

/* Mutated valid datagrams (fixed seed): any result but a crash or an overread (ASan). */
static void test_parse_fuzz(void) {
        uint8_t good[3 * MSG_SIZE];
        size_t len;
        unsigned seed = 12345;

        len = build(good, W_FORK, (uint32_t[]) { 100, 100, 201, 200 }, 4);
        len += build(good + len, W_COMM, (uint32_t[]) { 200, 200, 0x41414141, 0x41414141 }, 4);
        len += build(good + len, W_EXIT, (uint32_t[]) { 200, 200, 0, 17, 1, 1 }, 6);

        for (int i = 0; i < 20000; i++) {
                size_t cut = (size_t) rand_r(&seed) % (len + 1), n = 0;
                uint8_t *buf = malloc(cut ?: 1);
                ProcEvent ev[3];
                int r;

                ASSERT_NOT_NULL(buf);
                memcpy(buf, good, cut);
                for (int k = rand_r(&seed) % 4; k >= 0 && cut > 0; k--)
                        buf[(size_t) rand_r(&seed) % cut] = (uint8_t) rand_r(&seed);
                r = procmon_parse(buf, cut, 0, ev, ELEMENTSOF(ev), &n);
                ASSERT_TRUE(r == 0 || r == -EBADMSG || r == -ENOBUFS);
                if (r == 0)
                        ASSERT_TRUE(n <= ELEMENTSOF(ev));
                free(buf);
        }
}

static void test_scan_fixture(void) {
        _cleanup_free_ char *root = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;

        ASSERT_TRUE(asprintf(&root, "%s/procmon/proc", test_data_dir()) > 0);
        ASSERT_OK(procmon_scan(root, &pids, &n));
        /* numeric directories only, ascending; not "0", "012", "12a", "-5", a regular file "99",
         * or a number beyond pid_t */
        ASSERT_EQ(n, 6);
        ASSERT_EQ(pids[0], 1);
        ASSERT_EQ(pids[1], 7);
        ASSERT_EQ(pids[2], 42);
        ASSERT_EQ(pids[3], 1000);
        ASSERT_EQ(pids[4], 65536);
        ASSERT_EQ(pids[5], 2147483647);

        pids = (free(pids), NULL);
        ASSERT_ERROR(procmon_scan("/nonexistent/proc", &pids, &n), ENOENT);
        ASSERT_NULL(pids);
}

static void *thread_main(void *arg) {
        int *fd = arg;
        char c;
        /* wait until told to end */
        (void) read(*fd, &c, 1);
        return NULL;
}

static void test_scan_real(void) {
        _cleanup_free_ pid_t *pids = NULL;
        pthread_t t;
        int pipefd[2];
        pid_t tid = 0;
        bool self = false;
        size_t n = 0;

        ASSERT_OK(pipe2(pipefd, O_CLOEXEC));
        ASSERT_EQ(pthread_create(&t, NULL, thread_main, &pipefd[0]), 0);
        /* the thread's id: the task that is not us in /proc/self/task */
        for (int i = 0; i < 1000 && tid == 0; i++) {
                char path[64];
                for (pid_t p = getpid() + 1; p < getpid() + 64 && tid == 0; p++) {
                        snprintf(path, sizeof path, "/proc/self/task/%d", (int) p);
                        if (access(path, F_OK) == 0)
                                tid = p;
                }
                if (tid == 0)
                        usleep(1000);
        }

        ASSERT_OK(procmon_scan("/proc", &pids, &n));
        ASSERT_TRUE(n >= 2);
        ASSERT_EQ(pids[0], 1);
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        ASSERT_TRUE(pids[i - 1] < pids[i]);
                if (pids[i] == getpid())
                        self = true;
                if (tid > 0)
                        ASSERT_TRUE(pids[i] != tid); /* threads are not listed */
        }
        ASSERT_TRUE(self);

        ASSERT_EQ(write(pipefd[1], "x", 1), 1);
        ASSERT_EQ(pthread_join(t, NULL), 0);
        close(pipefd[0]);
        close(pipefd[1]);
}

/* Collect events until pred says stop or the (generous) deadline passes. */
typedef bool (*EventSink)(const ProcEvent *e, void *userdata);

static void pump(int fd, EventSink sink, void *userdata, int timeout_s) {
        struct timespec start, now;

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                ProcEvent ev[64];
                size_t n = 0;
                int r;

                r = procmon_receive(fd, ev, ELEMENTSOF(ev), &n);
                if (r == -EAGAIN) {
                        struct pollfd pfd = { .fd = fd, .events = POLLIN };
                        (void) poll(&pfd, 1, 200);
                } else {
                        ASSERT_OK(r);
                        ASSERT_TRUE(n > 0);
                        for (size_t i = 0; i < n; i++)
                                if (sink(&ev[i], userdata))
                                        return;
                }
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec > timeout_s)
                        return;
        }
}

typedef struct ChildWatch {
        pid_t child, tid;
        pid_t sentinel; /* its exec, queued after all of child's events, ends the watch */
        int seen_fork, seen_exec, seen_exit, seen_thread, seen_comm, order_ok, lost;
} ChildWatch;

static bool child_sink(const ProcEvent *e, void *userdata) {
        ChildWatch *w = userdata;

        if (e->type == PROC_EVENT_LOST) {
                w->lost++; /* a busy machine overflowed even 8 MiB: the caller retries */
                return false;
        }
        if (w->sentinel > 0 && e->tgid == w->sentinel && e->type == PROC_EVENT_EXEC)
                return true;
        if (e->tgid != w->child)
                return false;
        switch (e->type) {
        case PROC_EVENT_FORK:
                if (e->pid == w->child) {
                        ASSERT_FALSE(e->thread);
                        ASSERT_EQ(e->parent_tgid, getpid());
                        w->seen_fork++;
                } else {
                        ASSERT_TRUE(e->thread);
                        w->tid = e->pid;
                        w->seen_thread++;
                }
                break;
        case PROC_EVENT_EXEC:
                ASSERT_EQ(e->pid, w->child);
                w->order_ok = w->seen_fork == 1;
                w->seen_exec++;
                break;
        case PROC_EVENT_COMM:
                if (streq(e->comm, "procmon-probe"))
                        w->seen_comm++;
                break;
        case PROC_EVENT_EXIT:
                if (e->pid == w->child) {
                        ASSERT_FALSE(e->thread);
                        w->order_ok = w->order_ok && w->seen_exec == 1;
                        w->seen_exit++;
                        return true;
                }
                ASSERT_TRUE(e->thread);
                break;
        default:
                break;
        }
        return false;
}

/* A child that execs a shell which renames itself and exits 3: FORK, EXEC, COMM, EXIT. With
 * sentinel, the watch ends on a second child's exec instead of the first one's exit. */
static ChildWatch run_shell_child(int fd, bool sentinel) {
        ChildWatch w = {};
        int status;
        pid_t pid;

        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                execl("/bin/sh", "sh", "-c", "printf procmon-probe > /proc/self/comm; exit 3", (char *) NULL);
                _exit(127);
        }
        w.child = pid;
        if (sentinel) {
                /* no exit event to end on: once the child is reaped, a second child's exec comes
                 * after every event of the first */
                ASSERT_EQ(waitpid(pid, &status, 0), pid);
                w.sentinel = fork();
                ASSERT_TRUE(w.sentinel >= 0);
                if (w.sentinel == 0) {
                        execl("/bin/true", "true", (char *) NULL);
                        _exit(127);
                }
                pump(fd, child_sink, &w, 60);
                ASSERT_EQ(waitpid(w.sentinel, NULL, 0), w.sentinel);
        } else {
                pump(fd, child_sink, &w, 60);
                ASSERT_EQ(waitpid(pid, &status, 0), pid);
        }
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3);
        return w;
}

/* A child that starts a thread, then execs: the thread's FORK is marked and names the group. */
static ChildWatch run_thread_child(int fd) {
        ChildWatch w = {};
        int status;
        pid_t pid;

        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                pthread_t t;
                int p[2];
                if (pipe(p) < 0 || pthread_create(&t, NULL, thread_main, &p[0]) != 0)
                        _exit(1);
                close(p[1]); /* the thread's read returns 0 */
                pthread_join(t, NULL);
                execl("/bin/true", "true", (char *) NULL);
                _exit(127);
        }
        w.child = pid;
        pump(fd, child_sink, &w, 60);
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        return w;
}

static bool have_cap(unsigned cap) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        unsigned long long eff = 0;

        ASSERT_NOT_NULL(f);
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "CapEff: %llx", &eff) == 1)
                        break;
        fclose(f);
        return (eff >> cap) & 1;
}

/* The manager's subscription: fork and exec arrive; on 6.6+ neither the comm nor the exit event
 * does (exits are known from pidfds; every thread's exit would wake the daemon). */
static void test_connector_no_comm(void) {
        struct utsname u;
        unsigned major = 0, minor = 0;
        ChildWatch w;
        int fd = -EBADF;

        ASSERT_OK(procmon_open_events(&fd, false));
        for (int attempt = 0;; attempt++) {
                w = run_shell_child(fd, true);
                if (w.lost == 0 || attempt == 3)
                        break;
        }
        ASSERT_EQ(w.lost, 0);
        ASSERT_EQ(w.seen_fork, 1);
        ASSERT_EQ(w.seen_exec, 1);
        ASSERT_TRUE(w.order_ok);
        ASSERT_OK(uname(&u));
        if (sscanf(u.release, "%u.%u", &major, &minor) == 2 && (major > 6 || (major == 6 && minor >= 6))) {
                ASSERT_EQ(w.seen_comm, 0);
                ASSERT_EQ(w.seen_exit, 0);
        } else
                printf("kernel %s predates proc_input filtering: comm events not filtered\n", u.release);
        safe_close(fd);
}

static void test_connector(void) {
        ChildWatch w;
        int fd = -EBADF, r;

        r = procmon_open(&fd);
        if (r < 0) {
                printf("SKIP: cannot open the proc connector: %s\n", strerror(-r));
                exit(EXIT_TEST_SKIP);
        }
        ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        ASSERT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
        {
                /* SO_RCVBUFFORCE took with CAP_NET_ADMIN (the kernel doubles what it is given) */
                int size = 0;
                socklen_t len = sizeof size;
                ASSERT_OK(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len));
                if (have_cap(12 /* CAP_NET_ADMIN */))
                        ASSERT_TRUE(size >= 8 * 1024 * 1024);
                else
                        ASSERT_TRUE(size > 0);
        }

        for (int attempt = 0;; attempt++) {
                w = run_shell_child(fd, false);
                if (w.lost == 0 || attempt == 3)
                        break;
        }
        ASSERT_EQ(w.lost, 0);
        ASSERT_EQ(w.seen_fork, 1);
        ASSERT_EQ(w.seen_exec, 1);
        ASSERT_EQ(w.seen_exit, 1);
        ASSERT_EQ(w.seen_comm, 1);
        ASSERT_TRUE(w.order_ok);
        ASSERT_EQ(w.seen_thread, 0);
        test_connector_no_comm();

        for (int attempt = 0;; attempt++) {
                w = run_thread_child(fd);
                if (w.lost == 0 || attempt == 3)
                        break;
        }
        ASSERT_EQ(w.lost, 0);
        ASSERT_EQ(w.seen_fork, 1);
        ASSERT_EQ(w.seen_thread, 1);
        ASSERT_TRUE(w.tid > 0 && w.tid != w.child);
        ASSERT_EQ(w.seen_exec, 1);
        ASSERT_EQ(w.seen_exit, 1);

        close(fd);
}

static bool lost_sink(const ProcEvent *e, void *userdata) {
        int *lost = userdata;
        if (e->type == PROC_EVENT_LOST)
                (*lost)++;
        return false;
}

static pid_t fork_and_reap(void) {
        pid_t pid = fork();

        ASSERT_TRUE(pid >= 0);
        if (pid == 0)
                _exit(0);
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
        return pid;
}

/* With a tiny receive queue and many unread events, the kernel drops some: reported once as LOST,
 * and the socket keeps working afterwards. */
static void test_overflow(void) {
        int fd = -EBADF, size = 1, lost = 0, r;
        ChildWatch w = {};
        pid_t pid;

        r = procmon_open(&fd);
        if (r < 0)
                return;
        ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size)); /* the kernel's minimum */

        for (int i = 0; i < 200; i++)
                (void) fork_and_reap();
        pump(fd, lost_sink, &lost, 2);
        ASSERT_TRUE(lost >= 1);

        /* still subscribed: a new child is seen whole */
        size = 1 << 20;
        ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                execl("/bin/true", "true", (char *) NULL);
                _exit(127);
        }
        w.child = pid;
        pump(fd, child_sink, &w, 60);
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
        ASSERT_EQ(w.seen_exit, 1);
        ASSERT_EQ(w.seen_exec, 1);
        close(fd);
}

typedef struct ForkSeen {
        pid_t child;
        bool seen, lost;
} ForkSeen;

static bool fork_sink(const ProcEvent *e, void *userdata) {
        ForkSeen *f = userdata;

        f->lost = f->lost || e->type == PROC_EVENT_LOST;
        f->seen = f->seen || (e->type == PROC_EVENT_FORK && e->tgid == f->child);
        return f->seen;
}

/* The kernel fact behind the manager's rescan (on_procmon()): after an overflow, netlink queues
 * nothing and reports no further loss until the queue has been read empty once (its congested
 * state). A child forked after the loss was reported but before that read is never seen, and no
 * second loss says so: a rescan done at the report would miss it. procmon_receive() returns 1 (or
 * -EAGAIN) once it read the queue empty, and from then a child is seen again. */
static void test_congested(void) {
        ForkSeen x = {}, y = {};
        int fd = -EBADF, size = 1, r;
        char buf[8192];

        r = procmon_open_events(&fd, false);
        if (r < 0)
                return; /* test_connector() said why */
        ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size)); /* the kernel's minimum */
        for (int i = 0; i < 200; i++)
                (void) fork_and_reap();

        /* the loss is reported first, ahead of what is queued, which stays */
        ASSERT_TRUE(recv(fd, buf, sizeof buf, MSG_DONTWAIT) < 0);
        ASSERT_EQ(errno, ENOBUFS);
        x.child = fork_and_reap();

        for (;;) {
                ProcEvent ev[64];
                size_t n = 0;

                r = procmon_receive(fd, ev, ELEMENTSOF(ev), &n);
                if (r == -EAGAIN)
                        break;
                ASSERT_OK(r);
                for (size_t i = 0; i < n; i++)
                        (void) fork_sink(&ev[i], &x);
                if (r == 1)
                        break;
        }
        ASSERT_FALSE(x.seen);
        ASSERT_FALSE(x.lost);

        /* read empty: queued again */
        size = 1 << 20;
        ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size));
        y.child = fork_and_reap();
        pump(fd, fork_sink, &y, 10);
        ASSERT_TRUE(y.seen);
        safe_close(fd);
}

/* The probe: our own child's events come in the initial PID namespace; from inside a new one the
 * kernel accepts the subscription and sends nothing, and the probe says so. */
static void test_probe(void) {
        int fd = -EBADF, status = 0;
        pid_t pid;

        if (procmon_open(&fd) < 0)
                return; /* test_connector() said why */
        ASSERT_EQ(procmon_probe(fd, 5 * USEC_PER_SEC), 1);
        safe_close(fd);
        ASSERT_ERROR(procmon_probe(-EBADF, USEC_PER_SEC), EBADF);

        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                pid_t inner;

                if (unshare(CLONE_NEWPID) < 0) {
                        fprintf(stderr, "# PID namespace case skipped: unshare(CLONE_NEWPID): %m\n");
                        _exit(EXIT_TEST_SKIP);
                }
                inner = fork(); /* pid 1 of the new namespace */
                if (inner == 0) {
                        int f = -EBADF;

                        if (getpid() != 1 || procmon_open(&f) < 0)
                                _exit(EXIT_TEST_ERROR);
                        _exit(procmon_probe(f, 300 * USEC_PER_MSEC) == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
                }
                if (inner < 0 || waitpid(inner, &status, 0) != inner || !WIFEXITED(status))
                        _exit(EXIT_TEST_ERROR);
                _exit(WEXITSTATUS(status));
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        if (WEXITSTATUS(status) != EXIT_TEST_SKIP)
                ASSERT_EQ(WEXITSTATUS(status), EXIT_SUCCESS);
}

/* A fork that an exec of the same process follows in the batch is not looked at; one whose
 * exec is not in the batch, a thread's, and another process's are. */
static void test_superseded(void) {
        const ProcEvent ev[] = {
                { .type = PROC_EVENT_FORK, .pid = 10, .tgid = 10, .parent_pid = 1, .parent_tgid = 1 },
                { .type = PROC_EVENT_FORK, .pid = 11, .tgid = 11, .parent_pid = 1, .parent_tgid = 1 },
                { .type = PROC_EVENT_FORK, .pid = 13, .tgid = 12, .parent_pid = 12, .parent_tgid = 12,
                  .thread = true },
                { .type = PROC_EVENT_EXEC, .pid = 10, .tgid = 10 },
                { .type = PROC_EVENT_EXEC, .pid = 12, .tgid = 12 },
                { .type = PROC_EVENT_FORK, .pid = 14, .tgid = 14, .parent_pid = 10, .parent_tgid = 10 },
        };
        size_t n = ELEMENTSOF(ev);

        ASSERT_TRUE(procmon_superseded(ev, n, 0));
        ASSERT_FALSE(procmon_superseded(ev, n, 1)); /* no exec of 11 in the batch */
        ASSERT_FALSE(procmon_superseded(ev, n, 2)); /* a thread */
        ASSERT_FALSE(procmon_superseded(ev, n, 3)); /* an exec itself */
        ASSERT_FALSE(procmon_superseded(ev, n, 5)); /* last */
        ASSERT_FALSE(procmon_superseded(ev, 3, 0)); /* its exec comes in the next batch */
        ASSERT_FALSE(procmon_superseded(ev, n, n));
        ASSERT_FALSE(procmon_superseded(NULL, 0, 0));
}

int main(void) {
        test_superseded();
        test_parse();
        test_parse_fuzz();
        test_scan_fixture();
        test_scan_real();
        test_connector();
        test_probe();
        test_overflow();
        test_congested();
        return 0;
}
