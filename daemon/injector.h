/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The injector: a small process forked before the manager confines itself. It keeps only the
 * capabilities for ptrace, process_madvise, prlimit and reading seccomp filters, stays outside any
 * seccomp filter (a filtered tracer cannot read a target's filters), and serves fixed-size requests
 * from the manager over a socketpair, the target's pidfd passed with SCM_RIGHTS. It parses nothing
 * else, validates every request (a manager bug must not become a wild ptrace), and dies with the
 * manager. */

#include <stdint.h>
#include <sys/types.h>

#include "inject.h"
#include "pageflags.h"
#include "parse-util.h"
#include "prefetch.h"

#define INJECTOR_MAGIC 0x6d6c6b31U /* "mlk1" */
#define INJECTOR_MAX_RANGES 64
#define INJECTOR_MAX_LOCK_RANGES 16     /* LOCK_RANGES: calls in one stop (LOCK_SPANS_MAX) */
#define INJECTOR_REASON_MAX 48

typedef enum InjectorOp {
        INJECTOR_OP_PRECHECK = 1,       /* may this process be injected at all? */
        INJECTOR_OP_STEP,               /* attach, one call, detach */
        INJECTOR_OP_PREFETCH,           /* process_madvise(WILLNEED) over ranges */
        INJECTOR_OP_OPEN,               /* open /proc/PID/{maps,smaps} and pass the fd back */
        INJECTOR_OP_EXE,                /* readlink /proc/PID/exe */
        INJECTOR_OP_PRLIMIT,            /* raise RLIMIT_MEMLOCK's soft limit to value (never the hard) */
        INJECTOR_OP_PAGES,              /* per-page flags over ranges (pagemap + kpageflags) */
        INJECTOR_OP_RELOCK,             /* attach, munlock + mlock2 of one locked range, detach */
        INJECTOR_OP_PRLIMIT_RESTORE,    /* put the soft limit back to value, if still args[0] */
        INJECTOR_OP_LOCK_RANGES,        /* attach, mlock2 over each of ranges in order, detach */
        INJECTOR_OP_WATCH_MAPS,         /* a perf event on the process's new mappings (mapwatch.h),
                                           its fd passed back */
        _INJECTOR_OP_MAX,
} InjectorOp;

typedef enum InjectorFile {
        INJECTOR_FILE_MAPS,
        INJECTOR_FILE_SMAPS,
        _INJECTOR_FILE_MAX,
} InjectorFile;

#define INJECTOR_FLAG_ALLOW_PID1 (1U << 0)
#define INJECTOR_FLAG_PRECHECK (1U << 1)        /* OPEN: PRECHECK's checks first, refused as it refuses:
                                                   a job's first request, one round trip less */

typedef struct InjectorRequest {
        uint32_t magic;
        uint32_t op;                    /* InjectorOp */
        uint64_t serial;                /* echoed by the reply: pairs each reply with its request */
        int32_t pid;
        uint32_t flags;                 /* INJECTOR_FLAG_* */
        uint64_t starttime;             /* must equal /proc/PID/stat field 22: no pid reuse */
        int32_t call;                   /* STEP: InjectCall */
        uint32_t n_ranges;              /* PREFETCH, PAGES, LOCK_RANGES */
        uint64_t args[6];               /* STEP; RELOCK: start, length, mlock2 flags; OPEN: args[0] the
                                           most mappings the process may have (0: any), -E2BIG
                                           "too-many-maps" beyond; LOCK_RANGES: args[0] the mlock2
                                           flags, args[1] the hold after which no further call
                                           starts (usec, at most 60 s) */
        uint64_t timeout_usec;          /* STEP, RELOCK, LOCK_RANGES: bound on the wait for the stop */
        uint64_t value;                 /* OPEN: InjectorFile; PRLIMIT: the new soft limit;
                                           PRLIMIT_RESTORE: the soft limit to put back (args[0]: the
                                           one mlockd set, only replaced if still in place);
                                           PAGES: memcg inode for memcg_mlocked, range_memcg and
                                           charges (those charged elsewhere), 0: none */
        PrefetchRange ranges[INJECTOR_MAX_RANGES];
} InjectorRequest;

typedef struct InjectorReply {
        uint64_t serial;                /* the request's serial */
        int32_t r;                      /* 0 or negative errno */
        int32_t has_fd;
        int64_t result;                 /* STEP, RELOCK, LOCK_RANGES: the (first failed) syscall's return value;
                                           PRLIMIT: the soft limit before (RLIM_INFINITY as UINT64_MAX) */
        uint64_t held_usec;             /* STEP, RELOCK, LOCK_RANGES: how long the target was held */
        uint64_t total_usec;
        uint64_t advised;               /* PREFETCH: bytes advised; PRLIMIT: the soft limit now;
                                           LOCK_RANGES: how many ranges were locked (from the first;
                                           result: the next one's return value, 0 when the hold
                                           bound or the end stopped the batch) */
        char reason[INJECTOR_REASON_MAX]; /* PRECHECK/STEP: why refused */
        char path[4096];                /* EXE */
        PageCounts pages;               /* PAGES: summed over the ranges (reason on refusal:
                                           "kpageflags-unreadable") */
        PageCharges charges;            /* PAGES with a memcg inode: mlocked pages charged to other
                                           memcgs (charges.unread: kpagecgroup refused, no breakdown) */
        uint64_t range_memcg[INJECTOR_MAX_RANGES]; /* PAGES with a memcg inode: per range, mlocked
                                                      pages charged to that memcg */
} InjectorReply;

typedef struct Injector Injector;

/* Fork the injector. In the child this never returns. */
int injector_start(Injector **ret);
Injector *injector_free(Injector *i);
DEFINE_CLEANUP(Injector *, injector_free);
pid_t injector_pid(const Injector *i);

/* An injector already running as pid, reached over fd (taken): a test's fake, or a socket. */
int injector_from_fd(int fd, pid_t pid, Injector **ret);
/* The pid of a connected injector, once its greeting named it (injector-socket.h). */
void injector_set_pid(Injector *i, pid_t pid);
/* Keep the injector's capabilities (those of them we have) and nothing else. */
int injector_drop_capabilities(void);
/* The socket the manager talks on (injector-client.c watches it on the event loop). */
int injector_fd(const Injector *i);
/* Kill a stuck injector and reap it (never blocks on a live one). */
void injector_kill(Injector *i);
/* Reap it if it exited: 1 when gone, 0 when still running. */
int injector_reap(Injector *i);

/* One request out, one reply in (-ECONNRESET at end of file); the client pairs them by serial. */
int injector_send(Injector *i, const InjectorRequest *req, int pidfd);
int injector_receive(Injector *i, InjectorReply *reply, int *ret_fd);

/* One request, synchronously, for tests (the daemon goes through injector-client.c, which never
 * blocks). ret_fd receives a passed descriptor. */
int injector_call(Injector *i, const InjectorRequest *req, int pidfd, InjectorReply *reply, int *ret_fd);

/* Validation and execution, exported for tests: returns 0 when the request is acceptable. */
int injector_validate(const InjectorRequest *req, pid_t self, pid_t manager, const char **ret_why);
/* The injector's loop on fd; returns when the manager closes its end, or on SIGTERM. Every request
 * in hand is finished first (a step ends with the target restored and detached): SIGTERM, and the
 * parent-death signal, re-armed here as SIGTERM (parent is the expected parent: the manager when
 * forked by it, the listener of the injector service; 0: none), are only taken between requests.
 * manager is the process served (requests on it are refused). SIGINT is ignored (the manager's exit
 * ends us). */
int injector_serve(int fd, pid_t manager, pid_t parent);
