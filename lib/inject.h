/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The injection engine: run a few short syscalls (mlock2, mlockall, ...) inside another process.
 *
 * One thread of the target is seized and interrupted (PTRACE_SEIZE + PTRACE_INTERRUPT), its
 * signals are blocked for the window (PTRACE_SETSIGMASK), and each call runs at a syscall
 * instruction that already exists in the target (the vdso first, then an executable mapping):
 * nothing is ever written into the target's memory. The result is taken at the syscall-exit stop,
 * where the exact saved registers go back; detach follows at once, so the kernel itself restarts
 * whatever syscall the target was blocked in: PTRACE_DETACH sets TIF_SIGPENDING, and the return to
 * user space applies the kernel's restart logic to the restored orig_rax/rax (staying attached and
 * resuming instead made a read() return errno 512; rewinding by hand, as compel does, lost a
 * signal in 20 of 20 runs here). A group-stopped target stays
 * stopped; signals that arrive meanwhile are delivered afterwards.
 *
 * A tracer that vanishes (SIGKILL, a crash) harms no target. Calls are self-restoring where the
 * target allows: the call runs at a "syscall; ret" of the target's own text, on a signal frame
 * written below its red zone that holds the saved registers (with the kernel's restart adjustment),
 * mask and FPU/xstate, and returns into the target's own rt_sigreturn (a libc's __restore_rt).
 * Left alone, the target finishes the call and resumes as it was; while we are there the frame is
 * never used. Elsewhere (no gadgets, ia32 and aarch64 tasks, a shadow stack, a filter refusing
 * rt_sigreturn, an unwritable stack) PTRACE_O_EXITKILL is on while fake registers are live, and a
 * vanished tracer kills the target rather than corrupt it. Signals are blocked only during a call:
 * between calls a vanished tracer leaves the target's own mask.
 *
 * All ptrace requests on a Tracee must come from the thread that attached. The calls must be short:
 * a long job is several attach/detach steps. Nothing here logs above debug. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "parse-util.h"

typedef enum InjectCall {
        INJECT_MLOCK,
        INJECT_MLOCK2,
        INJECT_MUNLOCK,
        INJECT_MLOCKALL,
        INJECT_MUNLOCKALL,
        INJECT_GETPID,          /* harmless, for tests and benchmarks */
        _INJECT_CALL_MAX,
        _INJECT_CALL_INVALID = -EINVAL,
} InjectCall;

typedef struct Tracee Tracee;

typedef struct InjectStats {
        usec_t held;            /* the target stopped: from PTRACE_INTERRUPT to PTRACE_DETACH */
        usec_t total;           /* from seize to detach */
        unsigned calls;         /* calls that ran (not those refused by the seccomp pre-check) */
        unsigned frame_calls;   /* of which self-restoring (on a frame; see inject.c) */
        usec_t stop_wait;       /* of held: from PTRACE_INTERRUPT until the stop was reaped (the
                                   target getting to a point where it can stop: its CPU, the kernel) */
        usec_t in_calls;        /* of held: the injected syscalls running, from the resume at their
                                   instruction to their exit stop (the kernel's work: mlock2 itself) */
        uint64_t pidfs_ino;     /* the process's pidfs inode, when attached with a cache (0: none) */
        pid_t tid;              /* the thread held */
        uint64_t release_runtime; /* its run time at the release, ns (0: unknown) */
        uint64_t release_timeslices; /* how many times it had been switched in then */
        usec_t run_wait;        /* before the seize: waiting for the thread held last (a hold of
                                   this process just before) to run (inject_cache_note_hold) */
        bool run_wait_expired;  /* that wait gave up at its bound, the thread not run */
        const char *run_wait_end; /* what ended that wait: "not held lately", "ran", "asleep",
                                     "ran elsewhere", "ran here", "no schedstat", "bound" */
} InjectStats;

/* Pre-flight checks on the process, without touching it. Returns 0 when injection may be tried,
 * or a negative errno with *ret_reason set to a static string: "self", "pid1", "kernel",
 * "zombie", "exiting", "traced", "gone". allow_pid1: a policy named pid 1 explicitly. */
int inject_precheck(const char *proc_root, pid_t pid, bool allow_pid1, const char **ret_reason);

/* Attach to one thread of pid (tid 0: choose, preferring a sleeping thread). pidfd is a pidfd of
 * the process taken at discovery (may be -1: then one is opened; it is borrowed, never closed);
 * the engine checks it has not exited. timeout bounds the wait for a thread in D state before
 * seizing it, and for the stop. Errors: -ESRCH gone/exec'd, -EBUSY already traced, -EPERM not
 * permitted (or pid is the caller itself), -ETIMEDOUT, -EOPNOTSUPP unsupported arch/ABI,
 * -ENOEXEC no syscall instruction found in the target. */
int inject_attach(pid_t pid, int pidfd, pid_t tid, usec_t timeout, Tracee **ret);

/* What inject_attach() finds by scanning a process (its syscall instruction, the self-restoring
 * gadgets, whether its executable is Go) kept by the caller between attaches, so that later steps on
 * the same process skip the scan: up to size processes, the least recently used evicted. An entry
 * is keyed by the process's pidfs inode (never reused; nothing is cached without pidfs), its
 * executable's inode and its vdso's address, so an exec or a reused pid misses; and every address
 * is still checked against the stopped target's bytes before use: a difference drops the entry,
 * and the attach starts again with a scan. A scan itself takes what earlier scans found in the same
 * file mapping (the C library: file, offset and length) in other processes, placed at this
 * process's address of it; a difference there forgets every such find. */
typedef struct InjectCache InjectCache;
typedef struct InjectCacheStats {
        uint64_t hits, misses, stale;
        uint64_t file_hits;     /* byte strings placed in (or known absent from) a file mapping
                                   without reading it: another process maps that file */
} InjectCacheStats;
int inject_cache_new(size_t size, InjectCache **ret);
InjectCache *inject_cache_free(InjectCache *c);
DEFINE_CLEANUP(InjectCache *, inject_cache_free);
void inject_cache_stats(const InjectCache *c, InjectCacheStats *ret);
/* After a detach, its stats (of an attach with this cache): the process's hold, so that its next
 * attach within a second first lets that thread run (a hold right after another, the target not
 * run between, adds to it). */
void inject_cache_note_hold(InjectCache *cache, const InjectStats *stats);
/* inject_attach() with the cache (NULL: none). */
int inject_attach_cached(pid_t pid, int pidfd, pid_t tid, usec_t timeout, InjectCache *cache, Tracee **ret);

/* Run one call inside the stopped tracee; *ret_result is the syscall's return (0 or -errno; the
 * pid for INJECT_GETPID). Runs the seccomp pre-check first when the thread is in filter (or strict)
 * mode: if the filters would not ALLOW/LOG it (or cannot be read), returns -EPERM without running
 * it and inject_seccomp_action(t) names the action ("kill_process", "kill_thread", "trap",
 * "errno", "user_notif", "trace", "unknown", "strict", "unreadable"); "rolled_back" when the call
 * ran but the exit stop showed the filter acted. -ESRCH: the target died. */
int inject_call(Tracee *t, InjectCall call, const uint64_t args[6], long *ret_result);
/* The seccomp action that refused the last call, or NULL. */
const char *inject_seccomp_action(const Tracee *t);
/* Whether the target was in group-stop (it stays stopped after detach). */
bool inject_tracee_group_stopped(const Tracee *t);
/* How long the tracee has been held so far (as InjectStats.held would count it now). */
usec_t inject_held(const Tracee *t);

/* Restore everything and detach; frees t. Always safe to call (NULL too); stats optional.
 * Returns 0, or -ESRCH when the target died meanwhile. */
int inject_detach(Tracee *t, InjectStats *ret_stats);

bool inject_supported(void);
const char *inject_call_to_string(InjectCall c);
InjectCall inject_call_from_string(const char *s);
