/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Planning and verifying a lock, and running one bounded step of it.
 *
 * plan:   the target's maps, filtered by Regions= and trimmed to the budgets (MaxLocked=, the cgroup's
 *         lockable bytes, RLIMIT_MEMLOCK), become page-aligned ranges, merged where contiguous;
 *         Regions=all with Future=yes ends with one mlockall().
 * steps:  each range is locked in chunks, each chunk its own attach/inject/detach, sized from the
 *         measured rate so that no single call holds the target longer than MaxPause.
 * verify: smaps says what the kernel locked (Locked:, VmFlags lo/lf); the state follows. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "inject.h"
#include "maps.h"
#include "parse-util.h"
#include "policy.h"

typedef struct LockParams {
        LockMode mode;
        unsigned regions;
        char *const *file_globs;
        bool future;
        uint64_t max_locked;            /* MaxLocked=, 0: none */
        uint64_t held;                  /* what mlockd already holds in the target: counts against max_locked */
        uint64_t budget;                /* what the cgroup may still take, UINT64_MAX: unbounded */
        uint64_t memlock_limit;         /* target's RLIMIT_MEMLOCK soft, UINT64_MAX: unlimited/CAP_IPC_LOCK */
        uint64_t vm_locked;             /* target's VmLck now: counts against memlock_limit */
} LockParams;

typedef struct LockRange {
        uint64_t start, end;
        bool locked;                    /* already locked as wanted (adopted), nothing to do */
} LockRange;

typedef struct LockPlan {
        LockRange *ranges;
        size_t n_ranges;
        uint64_t bytes;                 /* sum of ranges to lock */
        uint64_t wanted;                /* what the policy asked for, before trimming */
        const char *trimmed;            /* NULL, or why less than wanted: "limit", "budget", "rlimit" */
        int mlockall_flags;             /* 0: none; else MCL_* to finish with */
        bool future_refused;            /* Future= asked for, refused: under a finite RLIMIT_MEMLOCK,
                                         * MCL_FUTURE makes the target's own later mmap fail (EAGAIN) */
} LockPlan;

int lock_plan(const Maps *maps, const LockParams *p, LockPlan **ret);
LockPlan *lock_plan_free(LockPlan *plan);
DEFINE_CLEANUP(LockPlan *, lock_plan_free);

/* The next chunk for a step, from the rate seen so far (bytes per usec, 0: unknown) so that a call
 * takes at most max_pause; page aligned, at least one page. */
uint64_t lock_chunk_size(LockMode mode, double rate, usec_t max_pause);

typedef struct LockVerify {
        uint64_t locked;                /* smaps Locked: over the planned ranges */
        uint64_t flagged;               /* bytes of planned ranges whose VMAs carry the wanted flags */
        uint64_t planned;
        bool complete;                  /* every planned byte is in a VMA with the wanted flags */
} LockVerify;
/* What the kernel says about the plan's ranges, from smaps. mode decides the wanted flags: lo (full),
 * lo+lf (onfault), neither (none, after an unlock). */
void lock_verify(const Maps *smaps, const LockPlan *plan, LockMode mode, LockVerify *ret);

/* One step in-process: attach, run call with args, detach. *ret_result is the syscall's result;
 * *ret_reason (optional) a static reason when the step was refused ("seccomp:kill_process", ...). */
int lock_step(pid_t pid, int pidfd, InjectCall call, const uint64_t args[6], usec_t timeout,
              long *ret_result, InjectStats *ret_stats, const char **ret_reason);
