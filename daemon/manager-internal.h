/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Between the manager's files: manager.c (discovery, bus actions, reload, event sources, life
 * cycle), manager-jobs.c (running jobs through the injector and what their ends lead to) and
 * manager-account.c (cgroup accounts, metrics, status). Not for the bus. */

#include <stdbool.h>
#include <stdint.h>

#include "job.h"
#include "manager.h"

#define CAP_IPC_LOCK_BIT 14
/* How long the injector may take to answer: a step's stop wait plus the call itself (chunks are
 * sized for MaxPause, the first full one at ~2 ms); a stuck injector is killed after this. */
#define INJECTOR_STEP_SLACK_USEC (10 * USEC_PER_SEC)
#define INJECTOR_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define INJECTOR_PREFETCH_TIMEOUT_USEC (30 * USEC_PER_SEC)

typedef enum TargetNext {
        NEXT_NONE,
        NEXT_LOCK,
        NEXT_UNLOCK,
} TargetNext;

typedef enum TargetThen {
        THEN_NOTHING,
        THEN_RELEASE,           /* Release(): skipped:released */
        THEN_FORGET,            /* no policy matches any more */
        THEN_MODE_NONE,         /* Mode=none */
        THEN_RELOCK,            /* another policy: lock under it */
} TargetThen;

/* manager.c */
/* The injector worker for t's requests: the one it is bound to, else (then bound) the one with a
 * request for its pid still there (one tracer per process, across an exec), else the least queued. */
InjectorClient *manager_injector(Manager *m, Target *t);
Target *manager_get_candidate(Manager *m, pid_t pid);
void manager_update_locked_bytes(Manager *m);
const Policy *target_policy(Manager *m, const Target *t);
void target_answer_apply(Manager *m, Target *t, int r);
void target_answer_release(Manager *m, Target *t, int r);
void manager_set_state(Manager *m, Target *t, TargetState s, TargetReason r, const char *detail);
void manager_remove_target(Manager *m, Target *t);
void manager_arm_settle(Manager *m, bool soon);
/* A lock job of t ended: what t mapped meanwhile is looked at (its watch fired) or the settle
 * timer armed while it is young. */
void manager_young_job_done(Manager *m, Target *t);
/* The baseline of a watched target's size samples, read fresh (its statm) just before an smaps
 * read of a plan, a recheck or a job is sent, so that read sees whatever the baseline counts. Once
 * the watch expires, a sample that differs means a mapping made since that no smaps read saw (a
 * signal still queued, or a change the watch does not report): it is looked at. The first plan's
 * baseline is the VmSize read at discovery. Unwatched targets keep theirs in their samples. */
void target_mark_checked(Manager *m, Target *t);
bool target_young(const Target *t, usec_t now);
/* t's VmSize: one pread of its statm (kept open), or of its status where its cgroup's figures
 * moved (the drift check wants VmLck there too); within a round (m->tick), once. */
int manager_sample_size(Manager *m, Target *t, uint64_t *ret);
/* t's VmLck: one pread of its status (kept open; the kernel formats all of it, several times
 * statm's cost), for the drift check when something moved. */
int manager_sample_locked(Manager *m, Target *t, uint64_t *ret);
/* t's cgroup account, by the index cached in t while the table stays the same; NULL: none. */
CgroupAccount *manager_target_cgroup(Manager *m, Target *t);
/* Nothing in t's cgroup moved since the last tick (memory.stat's fingerprint), and under p a
 * mapping it made since would be locked when faulted in, which moves the figures: the tick need
 * not look at t's size. */
bool target_cgroup_idle(Manager *m, Target *t, const Policy *p);

/* manager-jobs.c: start t's job now, or after the one running; undo mlockd's part, then then. */
void manager_start_job(Manager *m, Target *t, JobKind kind, TargetThen then);
/* A lock job that re-verifies a locked target (drift): relocks under Relock=yes, reports else. */
void manager_start_recheck(Manager *m, Target *t);
/* A lock job planned from smaps (taken), which the caller read and left what may block out of. */
void manager_start_lock_from(Manager *m, Target *t, Maps *smaps);
void manager_unlock(Manager *m, Target *t, TargetThen then);

/* manager-account.c */
extern const double injection_bucket_bounds[8];
CgroupAccount *manager_find_cgroup(Manager *m, const char *path);
uint64_t manager_cgroup_in_flight(Manager *m, const char *memcg, size_t subtree_len, const Target *except);
uint64_t manager_cgroup_budget(Manager *m, const char *memcg);
/* What budgets count in the cgroup at memcg (inode ino): what its targets claim, less their pages
 * charged elsewhere, plus the pages charged there that other targets (but except) mlocked. */
uint64_t manager_cgroup_charged(Manager *m, const char *memcg, uint64_t ino, const Target *except);
/* Bytes of t's mlocked pages charged to other memcgs (all, or to the one of inode ino). */
uint64_t target_foreign_bytes(const Target *t, uint64_t ino);
void manager_account(Manager *m);
/* Each accounting tick: targets whose lock drifted (VmLck fell, or their cgroup's unevictable fell
 * below what mlockd verified there) are re-verified. */
void manager_check_drift(Manager *m);
/* What budgets count for a target: its mlocked bytes, or smaps Locked: where larger. */
uint64_t target_claimed(const Target *t);
void manager_write_metrics(Manager *m);
void manager_notify_status(Manager *m);
