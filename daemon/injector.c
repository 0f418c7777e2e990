/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "injector.h"
#include "lock.h"
#include "mapwatch.h"
#include "log.h"
#include "procfs.h"
#include "sandbox.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

_Static_assert(INJECTOR_MAX_LOCK_RANGES <= LOCK_SPANS_MAX, "a LOCK_RANGES request fits one lock_ranges_step()");

#define INJECTOR_REPLY_TIMEOUT_MS 30000
#define INJECTOR_KILL_WAIT_MS 2000

struct Injector {
        int fd;
        pid_t pid;
};

/* What the injector keeps: ptrace injection and reading seccomp filters, process_madvise, prlimit. */
static const cap_value_t injector_caps[] = { CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_SYS_NICE, CAP_SYS_RESOURCE };

pid_t injector_pid(const Injector *i) {
        return i ? i->pid : 0;
}

int injector_from_fd(int fd, pid_t pid, Injector **ret) {
        Injector *i;

        i = calloc(1, sizeof *i);
        if (!i)
                return -ENOMEM;
        i->fd = fd;
        i->pid = pid;
        *ret = i;
        return 0;
}

void injector_set_pid(Injector *i, pid_t pid) {
        if (i)
                i->pid = pid;
}

int injector_fd(const Injector *i) {
        return i ? i->fd : -EBADF;
}

void injector_kill(Injector *i) {
        _cleanup_close_ int pidfd = -EBADF;

        if (!i || i->pid <= 0)
                return;
        pidfd = (int) syscall(SYS_pidfd_open, i->pid, 0);
        if (pidfd < 0 || syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0)
                (void) kill(i->pid, SIGKILL);
        /* SIGKILL ends it: this wait is short. A server of the injector service is not our child
         * (its listener reaps it): wait for its exit on the pidfd instead, so that what it traced
         * is detached before the caller looks at the target. */
        if (waitpid(i->pid, NULL, 0) < 0 && errno == ECHILD && pidfd >= 0)
                (void) poll(&(struct pollfd) { .fd = pidfd, .events = POLLIN }, 1, INJECTOR_KILL_WAIT_MS);
        i->pid = 0;
}

int injector_reap(Injector *i) {
        pid_t p;

        if (!i || i->pid <= 0)
                return 1;
        p = waitpid(i->pid, NULL, WNOHANG);
        if (p == 0)
                return 0;
        i->pid = 0;
        return 1;
}

Injector *injector_free(Injector *i) {
        if (!i)
                return NULL;
        safe_close(i->fd);
        if (i->pid > 0) {
                /* closing the socket ends its loop; reap it */
                (void) waitpid(i->pid, NULL, 0);
        }
        free(i);
        return NULL;
}

int injector_validate(const InjectorRequest *req, pid_t self, pid_t manager, const char **ret_why) {
        const uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
        const char *why = NULL;

        if (req->magic != INJECTOR_MAGIC)
                why = "bad magic";
        else if (req->op < INJECTOR_OP_PRECHECK || req->op >= _INJECTOR_OP_MAX)
                why = "unknown operation";
        else if (req->pid <= 0 || req->pid > 4194304)
                why = "pid out of range";
        else if (req->pid == self || req->pid == manager)
                why = "refusing to act on mlockd itself";
        else if (req->pid == 1 && !(req->flags & INJECTOR_FLAG_ALLOW_PID1))
                why = "refusing to act on pid 1";
        else if (req->flags & ~(INJECTOR_FLAG_ALLOW_PID1 | INJECTOR_FLAG_PRECHECK))
                why = "unknown flags";
        else if ((req->flags & INJECTOR_FLAG_PRECHECK) && req->op != INJECTOR_OP_OPEN)
                why = "precheck flag on an operation other than open";
        else if (req->op == INJECTOR_OP_STEP) {
                const uint64_t *a = req->args;

                switch (req->call) {
                case INJECT_MLOCK2:
                        if (a[0] % page != 0 || a[1] == 0 || a[1] % page != 0 || a[0] + a[1] < a[0] ||
                            (a[2] & ~(uint64_t) MLOCK_ONFAULT) || a[3] || a[4] || a[5])
                                why = "bad mlock2 arguments";
                        break;
                case INJECT_MUNLOCK:
                        if (a[0] % page != 0 || a[1] == 0 || a[0] + a[1] < a[0] || a[2] || a[3] || a[4] || a[5])
                                why = "bad munlock arguments";
                        break;
                case INJECT_MLOCKALL:
                        if (a[0] == 0 || (a[0] & ~(uint64_t) (MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) ||
                            a[1] || a[2] || a[3] || a[4] || a[5])
                                why = "bad mlockall arguments";
                        break;
                case INJECT_MUNLOCKALL:
                        if (a[0] || a[1] || a[2] || a[3] || a[4] || a[5])
                                why = "bad munlockall arguments";
                        break;
                default:
                        why = "call not allowed";
                }
                if (!why && (req->timeout_usec == 0 || req->timeout_usec > 60 * USEC_PER_SEC))
                        why = "timeout out of range";
        } else if (req->op == INJECTOR_OP_LOCK_RANGES) {
                const uint64_t *a = req->args;

                if (req->n_ranges == 0 || req->n_ranges > INJECTOR_MAX_LOCK_RANGES)
                        why = "range count out of bounds";
                else if ((a[0] & ~(uint64_t) MLOCK_ONFAULT) || a[1] == 0 || a[1] > 60 * USEC_PER_SEC ||
                         a[2] || a[3] || a[4] || a[5])
                        why = "bad lock arguments";
                else if (req->timeout_usec == 0 || req->timeout_usec > 60 * USEC_PER_SEC)
                        why = "timeout out of range";
                for (uint32_t k = 0; !why && k < req->n_ranges; k++) {
                        const PrefetchRange *r = &req->ranges[k];
                        if (r->end <= r->start || r->start % page || r->end % page || r->chunk)
                                why = "bad lock range";
                }
        } else if (req->op == INJECTOR_OP_RELOCK) {
                const uint64_t *a = req->args;

                if (a[0] % page != 0 || a[1] == 0 || a[1] % page != 0 || a[0] + a[1] < a[0] ||
                    (a[2] & ~(uint64_t) MLOCK_ONFAULT) || a[3] || a[4] || a[5])
                        why = "bad relock arguments";
                else if (req->timeout_usec == 0 || req->timeout_usec > 60 * USEC_PER_SEC)
                        why = "timeout out of range";
        } else if (req->op == INJECTOR_OP_PREFETCH) {
                if (req->n_ranges == 0 || req->n_ranges > INJECTOR_MAX_RANGES)
                        why = "range count out of bounds";
                for (uint32_t k = 0; !why && k < req->n_ranges; k++) {
                        const PrefetchRange *r = &req->ranges[k];
                        if (r->end <= r->start || r->chunk == 0)
                                why = "bad prefetch range";
                }
        } else if (req->op == INJECTOR_OP_PAGES) {
                if (req->n_ranges == 0 || req->n_ranges > INJECTOR_MAX_RANGES)
                        why = "range count out of bounds";
                for (uint32_t k = 0; !why && k < req->n_ranges; k++) {
                        const PrefetchRange *r = &req->ranges[k];
                        if (r->end <= r->start || r->start % 4096 || r->end % 4096 || r->chunk)
                                why = "bad pages range";
                }
        } else if (req->op == INJECTOR_OP_OPEN) {
                if (req->value >= _INJECTOR_FILE_MAX)
                        why = "unknown file";
        } else if (req->op == INJECTOR_OP_PRLIMIT) {
                if (req->value == 0)
                        why = "bad limit";
        } else if (req->op == INJECTOR_OP_PRLIMIT_RESTORE) {
                if (req->args[0] <= req->value)
                        why = "a restore must lower the limit";
        }

        if (why) {
                if (ret_why)
                        *ret_why = why;
                return -EINVAL;
        }
        return 0;
}

#define INJECTOR_IDENTITY_CACHE_SIZE 1024

/* Identities checked already. A pidfd's pidfs inode names one process for as long as the system
 * runs, and a live process keeps its pid and start time: a request on a pidfd of a known inode,
 * with the pid and start time it was checked with, is about that process while it has not exited,
 * and no /proc file is read again. Without pidfs (anonymous pidfds share one inode) every request
 * is checked in full. */
typedef struct Identity {
        uint64_t ino;
        pid_t pid;
        uint64_t starttime;
} Identity;

static Identity identities[INJECTOR_IDENTITY_CACHE_SIZE];
static size_t identities_next;

static bool identity_known(uint64_t ino, const InjectorRequest *req, int pidfd) {
        if (ino == 0)
                return false;
        for (size_t k = 0; k < ELEMENTSOF(identities); k++)
                if (identities[k].ino == ino)
                        return identities[k].pid == req->pid && identities[k].starttime == req->starttime &&
                               poll(&(struct pollfd) { .fd = pidfd, .events = POLLIN }, 1, 0) == 0;
        return false;
}

static void identity_remember(uint64_t ino, const InjectorRequest *req) {
        if (ino == 0)
                return;
        identities[identities_next] = (Identity) { .ino = ino, .pid = req->pid, .starttime = req->starttime };
        identities_next = (identities_next + 1) % ELEMENTSOF(identities);
}

/* The pidfd must belong to req->pid, and the process must still be the one the manager found. */
static int check_identity(const InjectorRequest *req, int pidfd) {
        ProcStat st = {};
        uint64_t ino;
        pid_t pid;
        int r;

        if (pidfd < 0)
                return -EBADF;
        if (pidfd_pidfs_inode(pidfd, &ino) < 0)
                ino = 0; /* none to go by: checked in full */
        if (identity_known(ino, req, pidfd))
                return 0;
        r = pidfd_get_pid(pidfd, &pid);
        if (r == -ESRCH)
                return r;
        if (r < 0 || pid != req->pid)
                return -EBADF;

        r = procfs_read_stat("/proc", req->pid, &st);
        if (r < 0)
                return -ESRCH;
        r = st.starttime == req->starttime ? 0 : -ESRCH;
        proc_stat_done(&st);
        if (r == 0)
                identity_remember(ino, req);
        return r;
}

static void set_reason(InjectorReply *reply, const char *reason) {
        if (reason)
                snprintf(reply->reason, sizeof reply->reason, "%s", reason);
}

/* Per-page flags over the ranges. Read here because PFNs and /proc/kpageflags need CAP_SYS_ADMIN,
 * which the injector keeps and the manager does not. */
static int handle_pages(const InjectorRequest *req, int pidfd, InjectorReply *reply) {
        _cleanup_(pageflags_freep) PageFlags *p = NULL;
        const char *why = NULL;
        PageCounts c = {};
        int r;

        r = pageflags_open("/proc", req->pid, req->value ? PAGEFLAGS_CGROUP : 0, &p, &why);
        if (r < 0 && req->value && streq_ptr(why, "kpagecgroup-unreadable")) {
                /* the flags without the charges, rather than nothing */
                reply->charges.unread = 1;
                why = NULL;
                r = pageflags_open("/proc", req->pid, 0, &p, &why);
        }
        for (uint32_t k = 0; r >= 0 && k < req->n_ranges; k++) {
                uint64_t before = c.memcg_mlocked;

                r = pageflags_count_charged(p, req->ranges[k].start, req->ranges[k].end, req->value, &c,
                                            req->value ? &reply->charges : NULL, &why);
                reply->range_memcg[k] = c.memcg_mlocked - before;
        }
        if (r < 0) {
                set_reason(reply, why);
                return r;
        }
        /* the counts are of the process the manager meant only if it is still there */
        r = check_identity(req, pidfd);
        if (r < 0)
                return r;
        reply->pages = c;
        return 0;
}

/* RLIMIT_MEMLOCK is the kernel's guard against unprivileged locking: only the soft limit is raised,
 * never above the hard one, and the hard limit is never touched (a raised hard limit would outlive
 * the lock and pass to every child). The manager decides whether at all (match_may_raise_memlock())
 * and puts the soft limit back when the lock is done. */
static int handle_prlimit(const InjectorRequest *req, InjectorReply *reply) {
        struct rlimit old, rl;

        if (prlimit(req->pid, RLIMIT_MEMLOCK, NULL, &old) < 0)
                return -errno;
        reply->result = (int64_t) old.rlim_cur;
        reply->advised = old.rlim_cur;
        rl = (struct rlimit) { .rlim_cur = MIN((rlim_t) req->value, old.rlim_max), .rlim_max = old.rlim_max };
        if (rl.rlim_cur <= old.rlim_cur)
                return 0; /* never lower anything */
        if (prlimit(req->pid, RLIMIT_MEMLOCK, &rl, NULL) < 0)
                return -errno;
        reply->advised = rl.rlim_cur;
        return 0;
}

/* The soft limit back to what it was, unless the process (or anyone) changed it meanwhile. */
static int handle_prlimit_restore(const InjectorRequest *req) {
        struct rlimit now, rl;

        if (prlimit(req->pid, RLIMIT_MEMLOCK, NULL, &now) < 0)
                return -errno;
        if (now.rlim_cur != (rlim_t) req->args[0])
                return -ESTALE;
        rl = (struct rlimit) { .rlim_cur = MIN((rlim_t) req->value, now.rlim_max), .rlim_max = now.rlim_max };
        if (prlimit(req->pid, RLIMIT_MEMLOCK, &rl, NULL) < 0)
                return -errno;
        return 0;
}

/* 1 when pid has more than max mappings, counted in /proc/PID/maps, which the kernel writes
 * without walking page tables (smaps walks every one of them): cheap, and stopped at max. */
static int count_mappings(pid_t pid, uint64_t max) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], buf[65536];
        uint64_t lines = 0;
        ssize_t n;

        snprintf(path, sizeof path, "/proc/%d/maps", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        while ((n = read(fd, buf, sizeof buf)) > 0) {
                for (const char *p = buf; (p = memchr(p, '\n', (size_t) (buf + n - p))); p++)
                        lines++;
                if (lines > max)
                        return 1;
        }
        if (n < 0)
                return -errno;
        return 0;
}

/* What the engine found in each target by scanning it (its syscall instruction and gadgets), kept
 * for its later steps: one injector process serves every step. NULL (no memory): steps scan. */
#define INJECTOR_SITES_CACHE_SIZE 1024

static InjectCache *sites_cache(void) {
        static InjectCache *cache;

        if (!cache)
                (void) inject_cache_new(INJECTOR_SITES_CACHE_SIZE, &cache);
        return cache;
}

/* Needs CAP_PERFMON, which CAP_SYS_ADMIN includes, and ptrace read access. Opened by pid: checked
 * again afterwards, as OPEN's files are. */
static int handle_watch_maps(const InjectorRequest *req, int pidfd, int *ret_fd) {
        int fd, r;

        r = mapwatch_open(req->pid, &fd);
        if (r < 0)
                return r;
        r = check_identity(req, pidfd);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

static int handle(const InjectorRequest *req, int pidfd, InjectorReply *reply, int *ret_fd) {
        const char *why = NULL;
        int r;

        r = check_identity(req, pidfd);
        if (r < 0) {
                set_reason(reply, r == -ESRCH ? "gone" : "bad pidfd");
                return r;
        }

        if (req->op == INJECTOR_OP_PRECHECK || (req->flags & INJECTOR_FLAG_PRECHECK)) {
                r = inject_precheck("/proc", req->pid, req->flags & INJECTOR_FLAG_ALLOW_PID1, &why);
                set_reason(reply, why);
                if (r < 0 || req->op == INJECTOR_OP_PRECHECK)
                        return r;
        }

        switch (req->op) {
        case INJECTOR_OP_PRECHECK:
                return 0; /* above */

        case INJECTOR_OP_STEP:
        case INJECTOR_OP_RELOCK:
        case INJECTOR_OP_LOCK_RANGES: {
                InjectStats stats = {};
                long result = 0;
                size_t done = 0;

                r = inject_precheck("/proc", req->pid, req->flags & INJECTOR_FLAG_ALLOW_PID1, &why);
                if (r < 0) {
                        set_reason(reply, why);
                        return r;
                }
                if (req->op == INJECTOR_OP_LOCK_RANGES) {
                        LockSpan spans[INJECTOR_MAX_LOCK_RANGES];

                        for (uint32_t k = 0; k < req->n_ranges; k++)
                                spans[k] = (LockSpan) { req->ranges[k].start, req->ranges[k].end - req->ranges[k].start };
                        r = lock_ranges_step(req->pid, pidfd, sites_cache(), spans, req->n_ranges,
                                             (unsigned) req->args[0], req->timeout_usec, req->args[1], &done,
                                             &result, &stats, &why);
                } else if (req->op == INJECTOR_OP_RELOCK)
                        r = lock_relock_step(req->pid, pidfd, sites_cache(), req->args[0], req->args[1],
                                             (unsigned) req->args[2], req->timeout_usec, &result, &stats, &why);
                else
                        r = lock_step(req->pid, pidfd, sites_cache(), (InjectCall) req->call, req->args,
                                      req->timeout_usec, &result, &stats, &why);
                if (r < 0) {
                        if (why) {
                                char buf[INJECTOR_REASON_MAX];
                                snprintf(buf, sizeof buf, "seccomp:%s", why);
                                set_reason(reply, buf);
                        }
                        return r;
                }
                reply->result = result;
                reply->advised = done;
                reply->held_usec = stats.held;
                reply->total_usec = stats.total;
                /* where a hold went, for tests/bench/bench-pace.sh: waiting for the stop (the
                 * scheduler) against the call itself (the kernel's work); the rest is ours */
                log_debug("Process %d: held %" PRIu64 " us, of which %" PRIu64 " us waiting for the stop and %"
                          PRIu64 " us in the calls; before it, %" PRIu64 " us waiting for the thread held last to "
                          "run%s.", (int) req->pid, (uint64_t) stats.held, (uint64_t) stats.stop_wait,
                          (uint64_t) stats.in_calls, (uint64_t) stats.run_wait,
                          stats.run_wait_expired ? " (it did not)" : "");
                return 0;
        }

        case INJECTOR_OP_PREFETCH:
                return prefetch_ranges(pidfd, req->ranges, req->n_ranges, &reply->advised);

        case INJECTOR_OP_PAGES:
                return handle_pages(req, pidfd, reply);

        case INJECTOR_OP_OPEN: {
                char path[64];
                int fd;

                if (req->args[0] > 0) {
                        r = count_mappings(req->pid, req->args[0]);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                set_reason(reply, "too-many-maps");
                                return -E2BIG;
                        }
                }

                snprintf(path, sizeof path, "/proc/%d/%s", req->pid,
                         req->value == INJECTOR_FILE_SMAPS ? "smaps" : "maps");
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                /* opened after the identity check: make sure it is still the same process */
                r = check_identity(req, pidfd);
                if (r < 0) {
                        safe_close(fd);
                        return r;
                }
                *ret_fd = fd;
                return 0;
        }

        case INJECTOR_OP_EXE: {
                /* the tested reader: " (deleted)" stripped, so a replaced binary still matches */
                _cleanup_free_ char *exe = NULL;

                r = procfs_read_exe("/proc", req->pid, &exe);
                if (r < 0)
                        return r;
                if (strlen(exe) >= sizeof reply->path)
                        return -ENAMETOOLONG;
                strcpy(reply->path, exe);
                return 0;
        }

        case INJECTOR_OP_PRLIMIT:
                return handle_prlimit(req, reply);

        case INJECTOR_OP_PRLIMIT_RESTORE:
                return handle_prlimit_restore(req);

        case INJECTOR_OP_WATCH_MAPS:
                return handle_watch_maps(req, pidfd, ret_fd);
        }
        return -EINVAL;
}

static ssize_t recv_with_fd(int fd, void *buf, size_t size, int *ret_fd) {
        union {
                struct cmsghdr cmsghdr;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = buf, .iov_len = size };
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = &control, .msg_controllen = sizeof control,
        };
        ssize_t n;

        *ret_fd = -EBADF;
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        int nfds = (int) ((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                        int *fds = (int *) CMSG_DATA(c);
                        for (int k = 0; k < nfds; k++) {
                                if (*ret_fd < 0)
                                        *ret_fd = fds[k];
                                else
                                        safe_close(fds[k]);
                        }
                }
        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
                *ret_fd = safe_close(*ret_fd);
                return -EMSGSIZE;
        }
        return n;
}

static int send_with_fd(int fd, const void *buf, size_t size, int pass_fd) {
        union {
                struct cmsghdr cmsghdr;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (pass_fd >= 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = sizeof control;
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t) size)
                return -errno ?: -EIO;
        return 0;
}

/* Test builds only (sanitizers on): MLOCKD_TEST_INJECTOR_STALL=N makes the injector stop
 * answering at its Nth STEP request, before it touches the target, as an injector stuck in a
 * target's uninterruptible call would. tests/lock-injector.sh forces the manager's timeout with it. */
static unsigned test_stall_at(void) {
#ifdef HAVE_SANITIZERS
        const char *e = getenv("MLOCKD_TEST_INJECTOR_STALL");

        return e ? (unsigned) strtoul(e, NULL, 10) : 0;
#else
        return 0;
#endif
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) {
        stop_signal = sig;
}

/* A request in hand is always carried to its end: a step ends with the target's registers and mask
 * back and the target detached. So SIGTERM, and the parent-death signal, which becomes SIGTERM
 * here, are blocked except while we wait for a request, and end the loop only between requests.
 * SIGINT (a terminal's ^C reaches the whole process group) is left to the manager, whose exit
 * closes the socket. The OOM killer is asked to spare us (best effort: lowering oom_score_adj
 * needs CAP_SYS_RESOURCE). Returns the mask to wait with. */
static int injector_handle_signals(pid_t parent, sigset_t *ret_wait_mask) {
        struct sigaction sa = { .sa_handler = on_stop_signal };
        sigset_t block;
        int fd;

        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &block, ret_wait_mask) < 0)
                return -errno;
        sigdelset(ret_wait_mask, SIGTERM);
        if (sigaction(SIGTERM, &sa, NULL) < 0)
                return -errno;
        (void) signal(SIGINT, SIG_IGN);
        (void) signal(SIGPIPE, SIG_IGN);

        /* The parent is often SIGKILLed; a SIGKILL here would cut a step in the middle. */
        if (parent > 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
                        return -errno;
                if (getppid() != parent)
                        stop_signal = SIGTERM;  /* it died before the signal was re-armed */
        }

        fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "-1000", 5) != 5)
                log_debug_errno(errno, "Cannot set the injector's oom_score_adj to -1000, ignoring: %m");
        safe_close(fd);
        return 0;
}

/* Wait for a request, or for SIGTERM: 1 when fd is readable, 0 when we are to stop. */
static int wait_request(int fd, const sigset_t *wait_mask) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        for (;;) {
                if (stop_signal)
                        return 0;
                if (ppoll(&p, 1, NULL, wait_mask) > 0)
                        return 1;
                if (errno != EINTR)
                        return -errno;
        }
}

int injector_serve(int fd, pid_t manager, pid_t parent) {
        pid_t self = getpid();
        unsigned stall_at = test_stall_at(), steps = 0;
        _cleanup_close_ int warm = -EBADF;
        sigset_t wait_mask;
        int r;

        (void) mapwatch_keep_warm(&warm); /* INJECTOR_OP_WATCH_MAPS in microseconds, not 5-14 ms */
        r = injector_handle_signals(parent, &wait_mask);
        if (r < 0)
                return r;
        if (stall_at > 0)
                log_notice("Test hook: this injector stops answering at STEP request %u.", stall_at);

        for (;;) {
                _cleanup_close_ int pidfd = -EBADF, out_fd = -EBADF;
                InjectorRequest req;
                InjectorReply reply = {};
                const char *why = NULL;
                ssize_t n;

                r = wait_request(fd, &wait_mask);
                if (r < 0)
                        return r;
                if (r == 0) {
                        log_info("Injector: signal %d, no request in hand, exiting.", (int) stop_signal);
                        return 0;
                }
                n = recv_with_fd(fd, &req, sizeof req, &pidfd);
                if (n == 0)
                        return 0; /* the manager went away */
                if (n < 0) {
                        if (n == -EINTR)
                                continue;
                        if (n == -ECONNRESET)
                                return 0; /* it went away with a request of ours unread: the same */
                        if (n == -EMSGSIZE) {
                                reply.r = -EMSGSIZE;
                                set_reason(&reply, "malformed request");
                                (void) send_with_fd(fd, &reply, sizeof reply, -EBADF);
                                continue;
                        }
                        return (int) n;
                }
                if ((size_t) n == sizeof req) {
                        reply.serial = req.serial;
                        if ((req.op == INJECTOR_OP_STEP || req.op == INJECTOR_OP_LOCK_RANGES) && stall_at > 0 &&
                            ++steps == stall_at)
                                for (;;)
                                        pause();
                }
                if ((size_t) n != sizeof req) {
                        reply.r = -EBADMSG;
                        set_reason(&reply, "malformed request");
                } else if (injector_validate(&req, self, manager, &why) < 0) {
                        log_debug("Refusing request: %s", why);
                        reply.r = -EINVAL;
                        set_reason(&reply, why);
                } else
                        reply.r = handle(&req, pidfd, &reply, &out_fd);

                reply.has_fd = out_fd >= 0;
                r = send_with_fd(fd, &reply, sizeof reply, out_fd);
                if (stop_signal) {
                        log_info("Injector: signal %d, request done, exiting.", (int) stop_signal);
                        return 0;
                }
                if (r == -EPIPE || r == -ECONNRESET) {
                        /* the manager went away while we finished the request: as at end-of-file */
                        log_info("Injector: the manager is gone, request done, exiting.");
                        return 0;
                }
                if (r < 0)
                        return r;
        }
}

/* Keep those of injector_caps we have (CAP_SYS_RESOURCE may be missing: then no prlimit). */
int injector_drop_capabilities(void) {
        cap_value_t keep[ELEMENTSOF(injector_caps)];
        size_t n = 0;
        cap_t caps;

        caps = cap_get_proc();
        if (!caps)
                return -errno;
        for (size_t k = 0; k < ELEMENTSOF(injector_caps); k++) {
                cap_flag_value_t v = CAP_CLEAR;

                if (cap_get_flag(caps, injector_caps[k], CAP_PERMITTED, &v) >= 0 && v == CAP_SET)
                        keep[n++] = injector_caps[k];
        }
        cap_free(caps);
        return sandbox_keep_capabilities(keep, n);
}

int injector_start(Injector **ret) {
        _cleanup_close_ int manager_end = -EBADF, injector_end = -EBADF;
        int fds[2];
        Injector *i;
        pid_t manager = getpid(), pid;
        int r;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
                return log_error_errno(errno, "Failed to create the injector socket pair: %m");
        manager_end = fds[0];
        injector_end = fds[1];

        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork the injector: %m");
        if (pid == 0) {
                manager_end = safe_close(manager_end);
                /* nothing of the manager's: in particular not another injector's socket, whose
                 * end-of-file would then never come */
                if (injector_end > 3)
                        (void) close_range(3, (unsigned) injector_end - 1, 0);
                (void) close_range((unsigned) injector_end + 1, ~0U, 0);
                log_set_prefix("injector");
                r = sandbox_die_with_parent(manager);
                if (r >= 0)
                        r = injector_drop_capabilities();
                if (r >= 0)
                        r = sandbox_no_new_privs();
                if (r < 0) {
                        log_error_errno(r, "Failed to confine the injector: %m");
                        _exit(EXIT_FAILURE);
                }
                r = injector_serve(injector_end, manager, manager);
                if (r < 0)
                        log_error_errno(r, "Injector failed: %m");
                _exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }

#ifdef HAVE_SANITIZERS
        /* the test hook is for the first injector only: the spare must answer */
        (void) unsetenv("MLOCKD_TEST_INJECTOR_STALL");
#endif
        i = calloc(1, sizeof *i);
        if (!i) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return log_oom();
        }
        i->fd = TAKE_FD(manager_end);
        i->pid = pid;
        *ret = i;
        return 0;
}

int injector_send(Injector *i, const InjectorRequest *req, int pidfd) {
        if (!i || i->fd < 0)
                return -ENOTCONN;
        return send_with_fd(i->fd, req, sizeof *req, pidfd);
}

int injector_receive(Injector *i, InjectorReply *reply, int *ret_fd) {
        int fd = -EBADF;
        ssize_t n;

        if (!i || i->fd < 0)
                return -ENOTCONN;
        n = recv_with_fd(i->fd, reply, sizeof *reply, &fd);
        if (n < 0)
                return (int) n;
        if ((size_t) n != sizeof *reply) {
                safe_close(fd);
                return n == 0 ? -ECONNRESET : -EBADMSG;
        }
        *ret_fd = fd;
        return 0;
}

int injector_call(Injector *i, const InjectorRequest *req, int pidfd, InjectorReply *reply, int *ret_fd) {
        struct pollfd p;
        int fd = -EBADF, r;
        ssize_t n;

        if (!i || i->fd < 0)
                return -ENOTCONN;

        r = send_with_fd(i->fd, req, sizeof *req, pidfd);
        if (r < 0)
                return r;

        p = (struct pollfd) { .fd = i->fd, .events = POLLIN };
        r = poll(&p, 1, INJECTOR_REPLY_TIMEOUT_MS);
        if (r < 0)
                return -errno;
        if (r == 0)
                return -ETIMEDOUT;

        n = recv_with_fd(i->fd, reply, sizeof *reply, &fd);
        if (n < 0)
                return (int) n;
        if ((size_t) n != sizeof *reply) {
                safe_close(fd);
                return n == 0 ? -ECONNRESET : -EBADMSG;
        }
        if (reply->serial != req->serial) {
                safe_close(fd);
                return -EBADMSG;
        }
        if (ret_fd)
                *ret_fd = fd;
        else
                safe_close(fd);
        return reply->r;
}
