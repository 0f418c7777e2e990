/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A job on one target, as an explicit state machine; each phase is one injector round trip:
 *
 *   LOCK:   precheck -> open smaps, plan (ledger: adopt the target's own locks; account: budgets)
 *           [-> give back what is held beyond MaxLocked=, plan again] [-> raise RLIMIT_MEMLOCK,
 *           plan again] [-> prefetch] -> lock steps (chunks sized for MaxPause) [-> MCL_FUTURE]
 *           -> open smaps, verify.
 *   UNLOCK: open smaps -> the ledger's unlock steps -> done (Release, policy gone, Mode=none).
 *
 * The job talks to the injector only through JobOps.submit and learns the answer through
 * job_reply(), so tests drive it with a fake (tests/test-job.c). It changes the target's ledger
 * and rate as steps succeed; the end state is in job->state/reason/detail when ops.finished runs
 * (job->gone: the process went away). */

#include <stdbool.h>
#include <stdint.h>

#include "account.h"
#include "injector.h"
#include "lock.h"
#include "mounts.h"
#include "target.h"

typedef enum JobKind {
        JOB_LOCK,
        JOB_UNLOCK,
        _JOB_KIND_MAX,
} JobKind;

typedef enum JobPhase {
        JOB_PRECHECK,
        JOB_PLAN,               /* waiting for smaps to plan from */
        JOB_TRIM,               /* giving back beyond MaxLocked= */
        JOB_PRLIMIT,
        JOB_PREFETCH,
        JOB_LOCK_STEP,
        JOB_MLOCKALL,
        JOB_VERIFY,             /* waiting for smaps to verify from */
        JOB_UNLOCK_MAPS,        /* waiting for smaps to unlock from */
        JOB_UNLOCK_STEP,
        JOB_DONE,
        _JOB_PHASE_MAX,
} JobPhase;

/* The policy's settings, copied: a reload may free the policy while the job runs. */
typedef struct JobSpec {
        LockMode mode;
        unsigned regions;
        char **file_globs;
        bool future;
        bool prefetch;
        bool lock_network_files;        /* LockNetworkFiles=: else files on network/FUSE filesystems are left out */
        bool raise_memlock_limit;
        usec_t max_pause;
        uint64_t max_locked;
        bool dry_run;
        unsigned max_mappings;          /* [Daemon] MaxMappings=: more, and the plan is refused (0: any) */
} JobSpec;

/* What the manager reads when the job plans. */
typedef struct JobLimits {
        uint64_t vm_locked;             /* VmLck */
        uint64_t memlock_limit;         /* RLIMIT_MEMLOCK soft, UINT64_MAX: unlimited or CAP_IPC_LOCK */
        AccountResult account;          /* from account_target() with the held bytes given */
} JobLimits;

typedef struct Job Job;

typedef struct JobOps {
        /* Send req about the job's target; the answer comes back through job_reply(). */
        int (*submit)(Job *j, const InjectorRequest *req, void *userdata);
        /* Limits and budgets for planning; held: what mlockd holds in the target. */
        int (*limits)(Job *j, uint64_t held, JobLimits *ret, void *userdata);
        /* A step ran (for metrics); held_usec: how long the target was held. */
        void (*stepped)(Job *j, uint64_t held_usec, void *userdata);
        /* The target's mounts (for the filesystem of each file mapping); optional. */
        int (*mounts)(Job *j, Mounts **ret, void *userdata);
        /* The job ended; it may be freed from here. */
        void (*finished)(Job *j, void *userdata);
} JobOps;

struct Job {
        JobKind kind;
        JobPhase phase;
        Target *target;
        JobSpec spec;
        const JobOps *ops;
        void *userdata;

        InjectorRequest last;           /* resent once after a lost injector */
        unsigned retries;
        unsigned replans;
        LockPlan *plan;
        Maps *planner_maps;             /* what plan came from (kept for a replan after prlimit) */
        Maps *planner_smaps;            /* the smaps planner_maps borrows its paths from */
        LockParams params;
        PrefetchRange *prefetch;
        size_t n_prefetch, prefetch_at;
        size_t cursor_range;
        uint64_t cursor_offset, chunk;
        LedgerStep *steps;
        size_t n_steps, step_at;
        TargetReason error;             /* the first failed call's reason */
        usec_t max_hold;

        /* the outcome */
        TargetState state;
        TargetReason reason;
        char detail[INJECTOR_REASON_MAX];
        uint64_t locked_bytes;
        bool gone;
        uint64_t raised_limit;          /* RLIMIT_MEMLOCK soft limit raised to this, 0: not */
        uint64_t saved_limit;           /* the soft limit before, put back when the job ends */
        bool limit_asked;               /* the raise was asked for (once a job) */
};

int job_new(JobKind kind, Target *t, const JobSpec *spec, const JobOps *ops, void *userdata, Job **ret);
Job *job_free(Job *j);
DEFINE_CLEANUP(Job *, job_free);
/* Send the first request. */
void job_start(Job *j);
/* The answer to the last request: r as InjectorClient handlers get it; fd is taken. */
void job_reply(Job *j, int r, const InjectorReply *reply, int fd);
/* Bytes planned and not yet locked (in flight, for the cgroup's budget). */
uint64_t job_in_flight(const Job *j);

int job_spec_from_policy(const Policy *p, bool dry_run, JobSpec *ret);
void job_spec_done(JobSpec *s);
