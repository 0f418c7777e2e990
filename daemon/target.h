/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A target: one process a policy matched, its state, and its ledger.
 *
 * The ledger records what mlockd itself locked: ranges with the mode it used, and whether it set
 * MCL_FUTURE. Memory the target had locked on its own is not in it: it is adopted, never relocked
 * in another mode, never unlocked. Undoing mlockd's part (Release, a policy gone, Mode=none, a
 * lowered MaxLocked=) works from the ledger and the current maps only:
 *   - munlock exactly the ledger's ranges (clipped to what is still mapped), the last ones first
 *     when only part is given back;
 *   - after MCL_FUTURE, munlockall() (the only call that clears it), then the target's own locked
 *     ranges are locked again in their own mode (full stays full, onfault stays onfault).
 * After a restart the ledger is empty: locks found in place are adopted and, for MaxLocked=, count
 * as held (they may be mlockd's from before).
 *
 * States and reasons are enums with one string table each; the strings ("locked",
 * "partial:rlimit", "skipped:seccomp:kill_process", ...) exist only at the edges. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "inject.h"
#include "maps.h"
#include "pageflags.h"
#include "parse-util.h"
#include "policy.h"
#include "procfs.h"

typedef enum TargetState {
        TARGET_PENDING,
        TARGET_LOCKED,
        TARGET_PARTIAL,
        TARGET_SKIPPED,
        TARGET_FAILED,
        _TARGET_STATE_MAX,
        _TARGET_STATE_INVALID = -EINVAL,
} TargetState;

typedef enum TargetReason {
        TARGET_REASON_NONE,
        TARGET_REASON_RELEASED,
        TARGET_REASON_MODE_NONE,
        TARGET_REASON_DRY_RUN,
        TARGET_REASON_NO_POLICY,
        TARGET_REASON_PRECHECK,
        TARGET_REASON_SELF,
        TARGET_REASON_PID1,
        TARGET_REASON_KERNEL,
        TARGET_REASON_ZOMBIE,
        TARGET_REASON_EXITING,
        TARGET_REASON_GONE,
        TARGET_REASON_TRACED,
        TARGET_REASON_EPERM,
        TARGET_REASON_TIMEOUT,
        TARGET_REASON_UNSUPPORTED,
        TARGET_REASON_INJECT,
        TARGET_REASON_INJECTOR,
        TARGET_REASON_MAPS,
        TARGET_REASON_PLAN,
        TARGET_REASON_LIMIT,
        TARGET_REASON_BUDGET,
        TARGET_REASON_RLIMIT,
        TARGET_REASON_ENOMEM,
        TARGET_REASON_EAGAIN,
        TARGET_REASON_ERROR,
        TARGET_REASON_INCOMPLETE,
        TARGET_REASON_NOT_LOCKED,
        TARGET_REASON_NOT_MLOCKED,      /* VM_LOCKED, but present pages the kernel did not mlock */
        TARGET_REASON_FOLIO,            /* large folios cut by the target's own VMA edges */
        TARGET_REASON_DRIFTED,          /* it undid mlockd's lock since, and Relock=no */
        TARGET_REASON_SECCOMP,          /* with a detail: the filter's action ("kill_process", ...) */
        TARGET_REASON_UNINTERRUPTIBLE,  /* pending: every thread in D state, the step is retried */
        TARGET_REASON_STUCK,            /* failed: an injected call did not return in time */
        TARGET_REASON_TOO_MANY_MAPS,    /* skipped: more mappings than MaxMappings= */
        TARGET_REASON_BUDGET_FOREIGN,   /* pages charged to another cgroup took it past its budget:
                                           given back there */
        _TARGET_REASON_MAX,
        _TARGET_REASON_INVALID = -EINVAL,
} TargetReason;

const char *target_state_to_string(TargetState s);
const char *target_reason_to_string(TargetReason r);
/* A sentence for people: "the target's seccomp filter cannot be read". */
const char *target_reason_describe(TargetReason r, const char *detail);
/* "seccomp:kill_process" -> SECCOMP with detail "kill_process"; unknown text -> _INVALID. */
TargetReason target_reason_from_string(const char *s, const char **ret_detail);
/* "skipped:seccomp:unreadable", "locked", ... (caller frees). */
int target_state_format(TargetState s, TargetReason r, const char *detail, char **ret);

typedef struct LedgerRange {
        uint64_t start, end;
        LockMode mode;                  /* how mlockd locked it: ONFAULT or FULL */
} LedgerRange;

typedef struct Ledger {
        LedgerRange *ranges;            /* sorted, disjoint */
        size_t n;
        bool future;                    /* mlockd set MCL_FUTURE */
} Ledger;

void ledger_done(Ledger *l);
/* Record [start, end) as locked by mlockd in mode (replacing what the ledger had there). */
int ledger_add(Ledger *l, uint64_t start, uint64_t end, LockMode mode);
void ledger_remove(Ledger *l, uint64_t start, uint64_t end);
uint64_t ledger_bytes(const Ledger *l);
/* Forget what is no longer mapped or no longer locked (the target unmapped or unlocked it). */
int ledger_prune(Ledger *l, const Maps *smaps);

/* The maps as the planner should see them: smaps regions split at the ledger's edges, and every
 * piece the kernel shows locked that is not mlockd's marked not lockable (adopted, left alone).
 * *ret_adopted: bytes of such pieces the selection (regions, file_globs) would have taken. The
 * returned regions borrow smaps' paths: free with ledger_maps_free(). */
int ledger_planner_maps(const Ledger *l, const Maps *smaps, unsigned regions, char *const *file_globs,
                        Maps **ret, uint64_t *ret_adopted);
Maps *ledger_maps_free(Maps *m);
/* Whether smaps shows a mapping the selection (regions, file_globs) takes that neither the ledger
 * nor the kernel's lock covers: more to lock. Regions left out as may_block or not lockable do not
 * count; a VM_LOCKED mapping counts as covered (MCL_FUTURE locks a mapping as it is made). Pure. */
bool ledger_needs_more(const Ledger *l, const Maps *smaps, unsigned regions, char *const *file_globs);

typedef struct LedgerStep {
        InjectCall call;                /* INJECT_MUNLOCK, INJECT_MUNLOCKALL, or INJECT_MLOCK2 (restore) */
        uint64_t start, len;
        unsigned flags;                 /* MLOCK2: MLOCK_ONFAULT or 0 */
} LedgerStep;

/* The injected calls that give back all of mlockd's part but keep bytes (0: give back all), given
 * the current smaps. Pure. */
int ledger_unlock_steps(const Ledger *l, const Maps *smaps, uint64_t keep, LedgerStep **ret, size_t *ret_n);
/* Apply a done step to the ledger. */
void ledger_step_done(Ledger *l, const LedgerStep *s);

typedef struct Manager Manager;
typedef struct Job Job;

typedef struct Target {
        Manager *manager;
        pid_t pid;
        int pidfd;
        uint64_t starttime;     /* /proc/PID/stat field 22: with pid, the identity of the process */
        char *comm;
        char *exe;
        char *cgroup;           /* the path Cgroup= matches (unified or name=systemd) */
        char *memcg;            /* the memory cgroup path, for accounting */
        char *policy;           /* name of the matched policy, NULL when none */
        char *state;            /* the state string, from state/reason/detail (the bus reads it) */
        uint64_t locked_bytes;  /* what mlockd holds there, as verified: mlocked pages (kpageflags), or
                                   smaps Locked: where the per-page flags cannot be read */
        uint64_t smaps_locked;  /* smaps Locked: over the same ranges (a PSS figure), beside it */
        bool pages_verified;    /* locked_bytes is the kernel's per-page count */
        PageCharges foreign;    /* of the mlocked pages, those charged to other memcgs (page cache
                                   another cgroup read first), in pages, from the last verify */
        uint64_t memcg_ino;     /* the inode of its memory cgroup's directory (kpagecgroup's name
                                   for it), 0: unknown */
        size_t account;         /* its index in manager->cgroups, valid while account_gen is the
                                   manager's cgroups_gen (0: look it up); SIZE_MAX: none */
        uint64_t account_gen;
        uint64_t not_mlocked;   /* bytes of mlockd's locked ranges the kernel did not mlock (partial:
                                   not-mlocked, folio, drifted) */
        uint64_t vm_locked;     /* VmLck when the last job ended: a drop is drift */
        uint64_t cg_unevictable; /* its memory cgroup's unevictable then: a drop may be drift */
        bool released;          /* Release()d: left alone until it execs */

        /* private to the manager and the job */
        TargetState state_id;
        TargetReason reason;
        char *detail;
        uid_t uid;
        Ledger ledger;
        bool inherited;         /* found by the first scan: locks in place may be mlockd's from before */
        Job *job;               /* the job running, NULL when none */
        usec_t max_hold;        /* the last lock job's longest step (DescribeTarget) */
        unsigned replans;       /* the last lock job's plans redone (ENOMEM, trims) */
        usec_t discovered;      /* CLOCK_MONOTONIC when mlockd found it (a young target is rechecked often) */
        bool deferred;          /* a candidate found by a fork/exec event: young, rechecked on the settle timer */
        bool trimmed;           /* the last plan was cut by MaxLocked= or a budget: no recheck */
        uint64_t checked_size;  /* VmSize (bytes) at the last recheck, 0: none yet */
        bool sampled_old;       /* its size looked at once since it stopped being young */
        int statm_fd;           /* /proc/PID/statm, kept open for the tick's samples; -EBADF: none */
        int status_fd;          /* /proc/PID/status, kept open once the drift check read it */
        uint64_t sampled_tick;  /* the round of vm_size, 0: none */
        uint64_t vm_size;       /* VmSize (bytes) then */
        uint64_t status_tick;   /* the round of vm_lck (read with vm_size from status), 0: none */
        uint64_t vm_lck;        /* VmLck (bytes) then */
        bool drift_read;        /* the drift check read VmLck since the last job ended */
        struct InjectorClient *injector; /* the worker all its requests go to, bound at the first
                                            (manager_injector()); NULL: none yet */
        struct InjectorCall *call;      /* a request of its own in flight (exe, recheck) */
        struct InjectorCall *job_call;  /* the job's request in flight */
        int next_job;           /* TargetNext: what runs when the job ends */
        int unlock_then;        /* TargetThen: what an unlock job leads to */
        struct sd_bus_message **apply_waiters, **release_waiters; /* calls answered when jobs end */
        size_t n_apply_waiters, n_release_waiters;
        struct sd_event_source *exit_source; /* the pidfd: the process exited */
        struct sd_event_source *hold_source; /* the job's next step held back: every thread in D */
        struct MapWatch *watch; /* young, one thread: its new mappings signalled (lib/mapwatch.h);
                                   NULL: sampled on the settle timer */
        struct sd_event_source *watch_source;
        bool watch_pending;     /* the watch fired while a job or recheck was under way */
        usec_t hold_backoff;    /* the wait before the held-back step is tried again */
} Target;

int target_new(Manager *m, pid_t pid, Target **ret);
Target *target_free(Target *t);
DEFINE_CLEANUP(Target *, target_free);
/* Set state, reason and detail; returns 1 when the state string changed. */
int target_set_state(Target *t, TargetState s, TargetReason r, const char *detail);
