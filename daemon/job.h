/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A job on one target, as an explicit state machine; each phase is one injector round trip:
 *
 *   LOCK:   precheck -> open smaps, plan (ledger: adopt the target's own locks; account: budgets)
 *           [-> give back what is held beyond MaxLocked=, plan again] [-> raise RLIMIT_MEMLOCK,
 *           plan again] -> survey (per-page counts of what is to lock: resident, swapped, absent,
 *           huge) [-> prefetch] -> lock steps (paced by kind of memory for MaxPause, edges on folio
 *           boundaries) [-> MCL_FUTURE] -> open smaps (cross-check) -> per-page verify
 *           [-> relock what is VM_LOCKED but not mlocked (munlock + mlock2 in one stop), verify
 *           again; at most JOB_VERIFY_ROUNDS times]
 *           [-> pages charged to another cgroup took it past its budget: locate them (per-range
 *           counts for that memcg), munlock the pieces that hold them, verify again; once].
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
#include "pace.h"
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
        JOB_SURVEY,             /* per-page counts of what is to lock, for the pace */
        JOB_PREFETCH,
        JOB_LOCK_STEP,
        JOB_MLOCKALL,
        JOB_VERIFY,             /* waiting for smaps to verify from */
        JOB_PAGES,              /* per-page counts of the locked ranges */
        JOB_RELOCK,             /* munlock + mlock2 of ranges with pages not mlocked */
        JOB_FOREIGN_LOCATE,     /* per-range counts of pages charged to a cgroup over its budget */
        JOB_FOREIGN_UNLOCK,     /* munlock of the pieces that hold them */
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
        bool relock;                    /* Relock=: a recheck may lock again what drifted */
        bool recheck;                   /* a periodic re-verification, not a first lock */
        FolioSizes folios;              /* the enabled large-folio sizes: chunk edges fall on them */
        unsigned max_mappings;          /* [Daemon] MaxMappings=: more, and the plan is refused (0: any) */
        uint64_t memcg_ino;             /* the target's memcg inode: verify breaks down the pages
                                           charged elsewhere (0: it does not) */
} JobSpec;

/* How many times verify may relock before it reports what stays not mlocked. */
#define JOB_VERIFY_ROUNDS 3
/* Plans smaller than this are locked without a survey of their pages first. */
#define JOB_SURVEY_MIN (8ULL << 20)
/* Per-page counts are asked for a block of this size at a time (aligned: every folio size). */
#define JOB_WINDOW (128ULL << 20)

/* A piece of the plan for per-page counts: mlockd's own (in the ledger, relocked in its mode when
 * pages are missing) or not. */
typedef struct JobPiece {
        uint64_t start, end;
        bool ours;
        LockMode mode;
} JobPiece;

/* Pieces [first, first + n) in one JOB_WINDOW block, of one owner and mode: one PAGES request. */
typedef struct JobWindow {
        size_t first, n;
        uint64_t bytes;
        PageCounts counts;
        PageCharges charges;            /* of its mlocked pages, those charged to other memcgs */
        bool counted;
} JobWindow;

/* Pieces of mlockd's ranges given back where a cgroup's budget is exceeded by pages charged there:
 * the grain of what is given back (edges on PMD-sized folio boundaries; 64 pieces, one request,
 * per JOB_WINDOW). */
#define JOB_FOREIGN_GRAIN (JOB_WINDOW / INJECTOR_MAX_RANGES)

typedef struct JobForeign {
        uint64_t ino[PAGE_CHARGES_MAX];         /* the memcgs over their budget */
        uint64_t want[PAGE_CHARGES_MAX];        /* pages to give back there */
        size_t n, at;
        PrefetchRange *pieces;                  /* mlockd's pieces in windows with pages there */
        uint64_t *located;                      /* pages of memcg ino[at] in each */
        bool *picked;                           /* to give back */
        size_t n_pieces, piece_at;
} JobForeign;

void job_foreign_done(JobForeign *f);
/* Cut [start, end) into pieces at JOB_FOREIGN_GRAIN boundaries, added to f. */
int job_foreign_add(JobForeign *f, uint64_t start, uint64_t end);
/* The munlock steps for f's picked pieces, adjacent ones merged. */
int job_foreign_steps(const JobForeign *f, LedgerStep **ret, size_t *ret_n);

typedef struct JobPages {
        JobPiece *pieces;
        size_t n_pieces;
        JobWindow *windows;
        size_t n_windows, at;
} JobPages;

void job_pages_done(JobPages *pg);
/* Add [start, end) cut at JOB_WINDOW boundaries, starting a window where block, owner or mode
 * change (or a window is full). */
int job_pages_add(JobPages *pg, uint64_t start, uint64_t end, bool ours, LockMode mode);
/* Pages that should be mlocked and are not: present, not mlocked, not the zero page; for a full
 * lock also what is in swap. */
uint64_t job_window_missing(const JobWindow *w, LockMode mode);

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
        /* How many of the pages charged to other memcgs (charged, from verify) to give back, per
         * entry of charged, because they put that cgroup past its budget; optional. */
        int (*foreign)(Job *j, const PageCharges *charged, uint64_t ret_pages[PAGE_CHARGES_MAX], void *userdata);
        /* The target's mounts (for the filesystem of each file mapping); optional. */
        int (*mounts)(Job *j, Mounts **ret, void *userdata);
        /* Whether mappings made since the plan are to be locked by this job too (a young target
         * whose mappings are signalled): a verify read that shows one plans again; optional. */
        bool (*follow)(Job *j, void *userdata);
        /* The job ended; it may be freed from here. */
        void (*finished)(Job *j, void *userdata);
} JobOps;

/* One mlock2 of a lock step, and where the plan's cursor stands once it is done. */
typedef struct JobChunk {
        uint64_t start, length;
        PaceMix mix;
        size_t range_after;
        uint64_t offset_after;
} JobChunk;

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
        unsigned follows;               /* plans made again from a verify read (ops->follow) */
        LockPlan *plan;
        Maps *planner_maps;             /* what plan came from (kept for a replan after prlimit) */
        Maps *plan_smaps;               /* the smaps planner_maps borrows from */
        bool maps_given;                /* plan_smaps came with the job (a recheck's read, what may
                                           block left out): planned from after the precheck */
        LockParams params;
        PrefetchRange *prefetch;
        size_t n_prefetch, prefetch_at;
        size_t cursor_range;
        uint64_t cursor_offset, chunk;
        JobChunk batch[INJECTOR_MAX_LOCK_RANGES]; /* the lock step in flight: its calls, in order */
        size_t n_batch;
        LedgerStep *steps;
        size_t n_steps, step_at;
        TargetReason error;             /* the first failed call's reason */
        usec_t max_hold;
        Pace pace;                      /* step sizes by kind of memory (lib/pace.h) */
        JobPages survey;                /* what is to lock, counted before the steps */
        JobPages verify;                /* what was locked, counted after */
        size_t relock_window, relock_piece;
        uint64_t relock_offset, relock_chunk;
        PaceMix step_mix;               /* the last step's mix, for pace_record() */
        unsigned rounds;                /* relock rounds done */
        bool pages_unreadable;          /* kpageflags could not be read: smaps is all there is */
        LockVerify smaps_verify;        /* the cross-check */
        uint64_t folio_split;           /* bytes where the target's own VMA edges cut a folio */
        uint64_t inherited_locked;      /* locks found in place after a restart (smaps) */
        PageCharges foreign;            /* verified: mlocked pages charged to other memcgs */
        JobForeign trim;                /* giving back pages charged where a budget is exceeded */
        bool foreign_over;              /* a cgroup's budget was exceeded by pages charged there */
        bool foreign_asked;             /* the manager was asked (once a job) */

        /* the outcome */
        TargetState state;
        TargetReason reason;
        char detail[INJECTOR_REASON_MAX];
        uint64_t locked_bytes;          /* truly mlocked (per page), or smaps Locked: when unreadable */
        uint64_t smaps_locked;          /* smaps Locked: over the same ranges, beside it */
        bool pages_verified;            /* locked_bytes is the kernel's per-page word */
        uint64_t not_mlocked;           /* bytes VM_LOCKED by mlockd and still not mlocked */
        uint64_t large_not_mlocked;     /* of them, in large folios */
        bool drifted;                   /* a recheck found mlockd's lock undone, and Relock=no */
        uint64_t relocked;              /* bytes the first verify found not mlocked in mlockd's ranges */
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
