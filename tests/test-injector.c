/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The injector process: it refuses malformed and out-of-bounds requests without touching anyone,
 * serves valid ones on a real child, checks the pidfd and the start time (no pid reuse), and holds
 * only its capabilities. */

#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fileio.h"
#include "injector.h"
#include "procfs.h"
#include "tests.h"

struct Injector { /* the layout injector.c uses: the test talks to the socket directly too */
        int fd;
        pid_t pid;
};

static pid_t child;
static void *child_anon;

static void start_child(void) {
        int p[2];

        ASSERT_OK(pipe(p));
        child = fork();
        ASSERT_TRUE(child >= 0);
        if (child == 0) {
                void *a = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (a == MAP_FAILED)
                        _exit(1);
                if (write(p[1], &a, sizeof a) != sizeof a)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(p[1]);
        ASSERT_EQ(read(p[0], &child_anon, sizeof child_anon), (long) sizeof child_anon);
        close(p[0]);
}

static InjectorRequest request(InjectorOp op) {
        ProcStat st = {};
        InjectorRequest r = { .magic = INJECTOR_MAGIC, .op = op, .pid = child };

        ASSERT_OK(procfs_read_stat("/proc", child, &st));
        r.starttime = st.starttime;
        proc_stat_done(&st);
        return r;
}

static int call(Injector *i, InjectorRequest *req, InjectorReply *reply, int *fd) {
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, req->pid > 0 ? req->pid : child, 0);
        *reply = (InjectorReply) {};
        return injector_call(i, req, pidfd, reply, fd);
}

static bool has_vmflag(pid_t pid, void *addr, const char *flag) {
        _cleanup_free_ char *text = NULL;
        char path[64], *p, *line;
        bool inside = false;

        snprintf(path, sizeof path, "/proc/%d/smaps", (int) pid);
        ASSERT_OK(read_full_file(path, 16 << 20, &text, NULL));
        p = text;
        while ((line = next_line(&p))) {
                unsigned long s, e;
                if (sscanf(line, "%lx-%lx ", &s, &e) == 2)
                        inside = (unsigned long) addr >= s && (unsigned long) addr < e;
                else if (inside && strncmp(line, "VmFlags:", 8) == 0)
                        return strstr(line, flag) != NULL;
        }
        return false;
}

static bool has_lo(pid_t pid, void *addr) {
        return has_vmflag(pid, addr, " lo");
}

int main(void) {
        _cleanup_(injector_freep) Injector *inj = NULL;
        InjectorRequest req, step;
        InjectorReply reply;
        int fd = -1;

        if (geteuid() != 0)
                return EXIT_TEST_SKIP;
        start_child();
        ASSERT_OK(injector_start(&inj));

        /* a short, malformed datagram */
        char junk[10] = "garbage";
        ASSERT_EQ(send(inj->fd, junk, sizeof junk, 0), (long) sizeof junk);
        ASSERT_EQ(recv(inj->fd, &reply, sizeof reply, 0), (long) sizeof reply);
        ASSERT_EQ(reply.r, -EBADMSG);

        /* bad magic, unknown op, pid 1, own pid, disallowed call, bad arguments: all refused */
        req = request(INJECTOR_OP_STEP);
        req.magic = 0;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        req = request(99);
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        req = request(INJECTOR_OP_STEP);
        req.pid = 1;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        ASSERT_STREQ(reply.reason, "refusing to act on pid 1");
        req = request(INJECTOR_OP_STEP);
        req.pid = getpid();
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        req = request(INJECTOR_OP_STEP);
        req.call = INJECT_GETPID;
        req.timeout_usec = USEC_PER_SEC;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        ASSERT_STREQ(reply.reason, "call not allowed");
        req.call = INJECT_MLOCK2;
        req.args[0] = (uint64_t) child_anon + 1;
        req.args[1] = 4096;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        ASSERT_STREQ(reply.reason, "bad mlock2 arguments");
        req.args[0] = (uint64_t) child_anon;
        req.args[2] = 0x80; /* unknown flag */
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        req = request(INJECTOR_OP_PREFETCH);
        req.n_ranges = INJECTOR_MAX_RANGES + 1;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        /* RELOCK: mlock2's arguments, and a timeout */
        req = request(INJECTOR_OP_RELOCK);
        req.args[0] = (uint64_t) child_anon + 1;
        req.args[1] = 4096;
        req.timeout_usec = USEC_PER_SEC;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        ASSERT_STREQ(reply.reason, "bad relock arguments");
        req.args[0] = (uint64_t) child_anon;
        req.args[2] = 0x80;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        req.args[2] = 0;
        req.args[3] = 1;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        req.args[3] = 0;
        req.timeout_usec = 0;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        ASSERT_STREQ(reply.reason, "timeout out of range");
        /* LOCK_RANGES: 1..INJECTOR_MAX_LOCK_RANGES page-aligned ranges, mlock2's flags, a hold bound */
        req = request(INJECTOR_OP_LOCK_RANGES);
        req.n_ranges = 1;
        req.ranges[0] = (PrefetchRange) { (uint64_t) child_anon, (uint64_t) child_anon + 4096 };
        req.args[1] = 1000;
        req.timeout_usec = USEC_PER_SEC;
        ASSERT_OK(injector_validate(&req, getpid(), 0, NULL));
        req.n_ranges = 0;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        ASSERT_STREQ(reply.reason, "range count out of bounds");
        req.n_ranges = INJECTOR_MAX_LOCK_RANGES + 1;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        req.n_ranges = 2;
        req.ranges[1] = (PrefetchRange) { (uint64_t) child_anon + 8192 + 1, (uint64_t) child_anon + 16384 };
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        ASSERT_STREQ(reply.reason, "bad lock range");
        req.ranges[1] = (PrefetchRange) { (uint64_t) child_anon + 8192, (uint64_t) child_anon + 8192 };
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        req.ranges[1] = (PrefetchRange) { (uint64_t) child_anon + 8192, (uint64_t) child_anon + 16384, 4096 };
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL); /* no chunk: that is prefetch's */
        req.ranges[1].chunk = 0;
        req.args[0] = 0x80;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        ASSERT_STREQ(reply.reason, "bad lock arguments");
        req.args[0] = 1;
        req.args[1] = 0;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        req.args[1] = 61 * USEC_PER_SEC;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        req.args[1] = 1000;
        req.args[5] = 1;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        req.args[5] = 0;
        req.timeout_usec = 0;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        ASSERT_STREQ(reply.reason, "timeout out of range");
        ASSERT_FALSE(has_lo(child, child_anon)); /* nothing was done to the child */

        /* a wrong start time: the process is not the one the manager found */
        req = request(INJECTOR_OP_OPEN);
        req.starttime++;
        ASSERT_ERROR(call(inj, &req, &reply, &fd), ESRCH);
        ASSERT_TRUE(fd < 0);

        /* a pidfd of another process than the request names */
        {
                _cleanup_close_ int self = (int) syscall(SYS_pidfd_open, getpid(), 0);
                req = request(INJECTOR_OP_OPEN);
                ASSERT_ERROR(injector_call(inj, &req, self, &reply, &fd), EBADF);
                /* and no pidfd at all */
                ASSERT_ERROR(injector_call(inj, &req, -1, &reply, &fd), EBADF);
        }

        /* valid: open the maps, read the exe, lock, unlock */
        req = request(INJECTOR_OP_OPEN);
        req.value = INJECTOR_FILE_SMAPS;
        ASSERT_OK(call(inj, &req, &reply, &fd));
        ASSERT_TRUE(fd >= 0);
        {
                _cleanup_free_ char *text = NULL;
                ASSERT_OK(read_full_fd(fd, 16 << 20, &text, NULL));
                ASSERT_NOT_NULL(strstr(text, "VmFlags:"));
                close(fd);
        }
        req = request(INJECTOR_OP_EXE);
        ASSERT_OK(call(inj, &req, &reply, NULL));
        ASSERT_TRUE(reply.path[0] == '/');

        /* OPEN with the pre-checks first: the fd when they pass, PRECHECK's refusal when not (a
         * zombie); the flag is for OPEN only */
        req = request(INJECTOR_OP_OPEN);
        req.value = INJECTOR_FILE_SMAPS;
        req.flags = INJECTOR_FLAG_PRECHECK;
        ASSERT_OK(call(inj, &req, &reply, &fd));
        ASSERT_TRUE(fd >= 0);
        close(fd);
        req.op = INJECTOR_OP_EXE;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), EINVAL);
        ASSERT_STREQ(reply.reason, "precheck flag on an operation other than open");
        {
                pid_t saved = child, zombie = fork();

                ASSERT_TRUE(zombie >= 0);
                if (zombie == 0)
                        _exit(0);
                child = zombie;
                ASSERT_OK(waitid(P_PID, zombie, NULL, WEXITED | WNOWAIT)); /* a zombie, not reaped */
                req = request(INJECTOR_OP_OPEN);
                req.value = INJECTOR_FILE_SMAPS;
                req.flags = INJECTOR_FLAG_PRECHECK;
                fd = -1;
                ASSERT_TRUE(call(inj, &req, &reply, &fd) < 0);
                ASSERT_TRUE(fd < 0);
                ASSERT_STREQ(reply.reason, "zombie");
                ASSERT_TRUE(waitpid(zombie, NULL, 0) == zombie);
                child = saved;
        }

        req = request(INJECTOR_OP_STEP);
        req.call = INJECT_MLOCK2;
        req.args[0] = (uint64_t) child_anon;
        req.args[1] = 8 << 20;
        req.args[2] = 1; /* MLOCK_ONFAULT */
        req.timeout_usec = 2 * USEC_PER_SEC;
        ASSERT_OK(call(inj, &req, &reply, NULL));
        ASSERT_EQ(reply.result, 0);
        ASSERT_TRUE(reply.held_usec > 0);
        ASSERT_TRUE(has_lo(child, child_anon));
        /* relock (munlock + mlock2 in one stop): locked as before, held once */
        req.op = INJECTOR_OP_RELOCK;
        ASSERT_OK(call(inj, &req, &reply, NULL));
        ASSERT_EQ(reply.result, 0);
        ASSERT_TRUE(reply.held_usec > 0);
        ASSERT_TRUE(has_lo(child, child_anon));
        ASSERT_TRUE(has_vmflag(child, child_anon, " lf")); /* onfault stays onfault */
        req.op = INJECTOR_OP_STEP;
        req.call = INJECT_MUNLOCK;
        req.args[2] = 0;
        ASSERT_OK(call(inj, &req, &reply, NULL));
        ASSERT_FALSE(has_lo(child, child_anon));
        {
                /* several ranges in one stop: each locked, one hold; a range not mapped fails there,
                 * those before it stay locked and none after it runs */
                InjectorRequest lr = request(INJECTOR_OP_LOCK_RANGES);
                uint64_t a = (uint64_t) child_anon;

                lr.n_ranges = 3;
                lr.ranges[0] = (PrefetchRange) { a, a + (1 << 20) };
                lr.ranges[1] = (PrefetchRange) { a + (2 << 20), a + (3 << 20) };
                lr.ranges[2] = (PrefetchRange) { a + (4 << 20), a + (5 << 20) };
                lr.args[0] = 1; /* MLOCK_ONFAULT */
                lr.args[1] = 60 * USEC_PER_SEC;
                lr.timeout_usec = 2 * USEC_PER_SEC;
                ASSERT_OK(call(inj, &lr, &reply, NULL));
                ASSERT_EQ(reply.result, 0);
                ASSERT_EQ_U64(reply.advised, 3);
                ASSERT_TRUE(reply.held_usec > 0);
                for (unsigned k = 0; k < 5; k++)
                        ASSERT_TRUE(has_lo(child, (char *) child_anon + ((size_t) k << 20)) == (k % 2 == 0));
                ASSERT_TRUE(has_vmflag(child, child_anon, " lf"));

                /* the hold bound: once a microsecond has passed, no call after the first starts */
                lr.ranges[0] = (PrefetchRange) { a + (1 << 20), a + (2 << 20) };
                lr.ranges[1] = (PrefetchRange) { a + (3 << 20), a + (4 << 20) };
                lr.n_ranges = 2;
                lr.args[1] = 1;
                ASSERT_OK(call(inj, &lr, &reply, NULL));
                ASSERT_EQ(reply.result, 0);
                ASSERT_EQ_U64(reply.advised, 1);
                ASSERT_TRUE(has_lo(child, (char *) child_anon + (1 << 20)));
                ASSERT_FALSE(has_lo(child, (char *) child_anon + (3 << 20)));

                /* nothing mapped at 64 KiB (mmap_min_addr and below: never in a PIE program): ENOMEM
                 * there, the first locked, the third never tried */
                lr.n_ranges = 3;
                lr.args[1] = 60 * USEC_PER_SEC;
                lr.ranges[0] = (PrefetchRange) { a + (3 << 20), a + (4 << 20) };
                lr.ranges[1] = (PrefetchRange) { 16 * 4096, 17 * 4096 };
                lr.ranges[2] = (PrefetchRange) { a + (5 << 20), a + (6 << 20) };
                ASSERT_OK(call(inj, &lr, &reply, NULL));
                ASSERT_EQ(reply.result, -ENOMEM);
                ASSERT_EQ_U64(reply.advised, 1);
                ASSERT_TRUE(has_lo(child, (char *) child_anon + (3 << 20)));
                ASSERT_FALSE(has_lo(child, (char *) child_anon + (5 << 20)));

                req.args[1] = 8 << 20;
                ASSERT_OK(call(inj, &req, &reply, NULL)); /* munlock it all again */
                ASSERT_FALSE(has_lo(child, child_anon));
                ASSERT_FALSE(has_lo(child, (char *) child_anon + (4 << 20)));
        }

        /* the identity is known now (no /proc file is read for it again), and still checked: a
         * wrong start time, another process's pidfd, a process that died */
        step = req;
        req = request(INJECTOR_OP_EXE);
        req.starttime++;
        ASSERT_ERROR(call(inj, &req, &reply, NULL), ESRCH);
        {
                _cleanup_close_ int self = (int) syscall(SYS_pidfd_open, getpid(), 0), pidfd = -EBADF;
                pid_t saved = child;

                req = request(INJECTOR_OP_EXE);
                ASSERT_ERROR(injector_call(inj, &req, self, &reply, &fd), EBADF);
                ASSERT_OK(call(inj, &req, &reply, NULL));

                start_child();
                pidfd = (int) syscall(SYS_pidfd_open, child, 0);
                ASSERT_TRUE(pidfd >= 0);
                req = request(INJECTOR_OP_EXE);
                ASSERT_OK(injector_call(inj, &req, pidfd, &reply, &fd));
                ASSERT_OK(kill(child, SIGKILL));
                ASSERT_TRUE(waitpid(child, NULL, 0) == child);
                /* refused by the full check (the pidfd names no process now), not by the exe
                 * lookup: gone */
                ASSERT_ERROR(injector_call(inj, &req, pidfd, &reply, &fd), ESRCH);
                ASSERT_STREQ(reply.reason, "gone");
                child = saved;
        }
        req = step;

        /* the injector keeps only its capabilities */
        {
                ProcStatus st = {};
                uint64_t allowed = (1ULL << 19) | (1ULL << 21) | (1ULL << 23) | (1ULL << 24);
                ASSERT_OK(procfs_read_status("/proc", inj->pid, 0, &st));
                ASSERT_EQ_U64(st.cap_eff & ~allowed, 0);
                ASSERT_TRUE(st.cap_eff & (1ULL << 19)); /* CAP_SYS_PTRACE */
        }

        /* SIGINT is the manager's: the injector goes on answering */
        ASSERT_EQ(kill(inj->pid, SIGINT), 0);
        req.call = INJECT_MLOCK2;
        req.args[2] = 1;
        ASSERT_OK(call(inj, &req, &reply, NULL));
        ASSERT_TRUE(has_lo(child, child_anon));

        /* SIGTERM is taken between requests: a step sent with it is answered (or, when the signal
         * came first, never read), then the injector exits 0 and the target runs, untraced */
        {
                _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, child, 0);
                ProcStatus st = {};
                int status, r;

                bool in_step = false;

                req.call = INJECT_MUNLOCK;
                req.args[2] = 0;
                ASSERT_OK(injector_send(inj, &req, pidfd));
                /* best when the step is under way: the target traced */
                for (unsigned k = 0; k < 200000 && !in_step; k++)
                        in_step = procfs_read_status("/proc", child, 0, &st) >= 0 && st.tracer_pid == inj->pid;
                ASSERT_EQ(kill(inj->pid, SIGTERM), 0);
                r = injector_receive(inj, &reply, &fd);
                ASSERT_TRUE(r == 0 || (!in_step && r == -ECONNRESET));
                if (r == 0) {
                        ASSERT_OK(reply.r);
                        ASSERT_FALSE(has_lo(child, child_anon));
                }
                fprintf(stderr, "SIGTERM %s the step: %s\n", in_step ? "during" : "around",
                        r == 0 ? "answered" : "not read");
                ASSERT_TRUE(waitpid(inj->pid, &status, 0) == inj->pid);
                inj->pid = 0;
                ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                ASSERT_OK(procfs_read_status("/proc", child, 0, &st));
                ASSERT_EQ(st.tracer_pid, 0);
                ASSERT_TRUE(st.state != 'T' && st.state != 't');
        }

        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 0;
}
