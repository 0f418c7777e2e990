/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manager's jobs: each target's job (daemon/job.c) runs through the injector client, its
 * limits come from /proc and lib/account.c, and its end leads on: a state, a Release answered, a
 * target forgotten or locked again. */

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "account.h"
#include "injector-client.h"
#include "log.h"
#include "match.h"
#include "manager-internal.h"
#include "procfs.h"

/* A lock step: the requests that stop the target to run calls in it (besides RELOCK, which only
 * follows a step that stopped it). */
static bool op_is_step(uint32_t op) {
        return op == INJECTOR_OP_STEP || op == INJECTOR_OP_LOCK_RANGES;
}

static usec_t request_timeout(const InjectorRequest *req) {
        switch (req->op) {
        case INJECTOR_OP_STEP:
        case INJECTOR_OP_LOCK_RANGES:
        case INJECTOR_OP_RELOCK:
                return req->timeout_usec + INJECTOR_STEP_SLACK_USEC;
        case INJECTOR_OP_PREFETCH:
                return INJECTOR_PREFETCH_TIMEOUT_USEC;
        default:
                return INJECTOR_TIMEOUT_USEC;
        }
}

/* A target whose threads are all in D state (a vfork parent, a read of a hung NFS file, ...) cannot
 * be stopped until one wakes, and may never wake: its step is not sent, where the injector would
 * wait for the stop and every other target with it, but held back and tried again with a backoff.
 * The target stays pending:uninterruptible meanwhile. */
#define HOLD_FIRST_USEC (50 * USEC_PER_MSEC)
#define HOLD_MAX_USEC (30 * USEC_PER_SEC)

static int job_op_submit(Job *j, const InjectorRequest *req, void *userdata);

static int on_hold_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Target *t = userdata;

        t->hold_source = sd_event_source_disable_unref(t->hold_source);
        if (t->job && job_op_submit(t->job, &t->job->last, t->manager) < 0)
                job_reply(t->job, -ENOTCONN, NULL, -EBADF);
        return 0;
}

static int job_hold_back(Manager *m, Target *t) {
        int r;

        if (t->hold_backoff == 0) {
                log_info("Process %d (%s) sleeps uninterruptibly (D state); its lock waits, tried again with a "
                         "backoff.", (int) t->pid, strempty(t->comm));
                manager_set_state(m, t, TARGET_PENDING, TARGET_REASON_UNINTERRUPTIBLE, NULL);
        }
        t->hold_backoff = t->hold_backoff == 0 ? HOLD_FIRST_USEC : MIN(t->hold_backoff * 2, HOLD_MAX_USEC);
        t->hold_source = sd_event_source_disable_unref(t->hold_source);
        r = sd_event_add_time_relative(m->event, &t->hold_source, CLOCK_MONOTONIC, t->hold_backoff,
                                       10 * USEC_PER_MSEC, on_hold_timer, t);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(t->hold_source, "target-hold");
        return 0;
}

static void on_job_reply(int r, const InjectorReply *reply, int fd, void *userdata) {
        Job *j = userdata;
        Target *t = j->target;

        t->job_call = NULL;
        /* the injector found the thread in D, or it did not stop in time: the target was left
         * running, untouched; hold the step back rather than fail it */
        if (r == -ETIMEDOUT && reply && op_is_step(j->last.op) && job_hold_back(t->manager, t) >= 0) {
                safe_close(fd);
                return;
        }
        job_reply(j, r, reply, fd);
}

static int job_op_submit(Job *j, const InjectorRequest *req, void *userdata) {
        Manager *m = userdata;
        Target *t = j->target;

        if (op_is_step(req->op) && procfs_uninterruptible("/proc", t->pid) > 0)
                return job_hold_back(m, t);
        /* a smaps read sent now sees every mapping signalled so far, and what VmSize counts now */
        if (req->op == INJECTOR_OP_OPEN) {
                t->watch_pending = false;
                if (req->value == INJECTOR_FILE_SMAPS)
                        target_mark_checked(m, t);
        }
        if (t->hold_backoff > 0 && op_is_step(req->op)) {
                log_debug("Process %d (%s) woke up; its lock goes on.", (int) t->pid, strempty(t->comm));
                t->hold_backoff = 0;
        }
        return injector_client_submit(manager_injector(m, t), req, t->pidfd, request_timeout(req), on_job_reply,
                                      j, &t->job_call);
}

/* Whether a policy sets CgroupMaxUnevictable=. Without one no lock is held to a cgroup budget, and
 * the passes over every target that a budget needs are skipped. */
static bool manager_any_budget(const Manager *m) {
        for (size_t i = 0; i < m->policies->n_policies; i++)
                if (m->policies->policies[i]->cgroup_max_unevictable > 0)
                        return true;
        return false;
}

static int job_op_limits(Job *j, uint64_t held, JobLimits *ret, void *userdata) {
        Manager *m = userdata;
        Target *t = j->target;
        ProcStatus status = {};
        CgroupMemory mem = {};
        uint64_t soft = UINT64_MAX, hard = UINT64_MAX;
        AccountInput in = { .max_locked = j->spec.max_locked, .held = held };
        size_t binding;
        int r;

        r = procfs_read_status("/proc", t->pid, 0, &status);
        if (r < 0)
                return -ESRCH;
        if (!(status.cap_eff & (1ULL << CAP_IPC_LOCK_BIT)))
                (void) procfs_read_memlock_limit("/proc", t->pid, &soft, &hard);

        /* unevictable counts only against a budget, the usage only under a finite limit
         * (cgroup_lockable_bytes()): each is read where it counts (memory.stat is the dear one) */
        if (t->memcg && m->have_cgroup_layout)
                in.cgroup_budget = manager_any_budget(m) ? manager_cgroup_budget(m, t->memcg) : 0;
        if (t->memcg && m->have_cgroup_layout &&
            cgroup_read_memory_fields(&m->cgroup_layout, t->memcg,
                                      CGROUP_READ_LIMIT | (in.cgroup_budget > 0 ? CGROUP_READ_STAT : 0), &mem) >= 0 &&
            (mem.limit == UINT64_MAX ||
             cgroup_read_memory_fields(&m->cgroup_layout, t->memcg, CGROUP_READ_USAGE, &mem) >= 0)) {
                in.memory = &mem;
                in.limit_margin = m->policies->daemon.cgroup_limit_margin;
                /* a limited parent slice binds as much as the cgroup's own limit: the one that
                 * leaves the least room counts, and what its whole subtree has in flight */
                binding = strlen(t->memcg);
                (void) cgroup_bind_ancestor_limits(&m->cgroup_layout, t->memcg, in.limit_margin, &mem, &binding);
                /* what the cgroup's targets hold counts against a budget only; what they have in
                 * flight against a budget or a memory limit (account_target()) */
                if (in.cgroup_budget > 0)
                        in.claimed = manager_cgroup_charged(m, t->memcg, t->memcg_ino, NULL);
                if (in.cgroup_budget > 0 || mem.limit != UINT64_MAX)
                        in.in_flight = manager_cgroup_in_flight(m, t->memcg, binding, t);
        }

        *ret = (JobLimits) { .vm_locked = status.vm_lck, .memlock_limit = soft };
        account_target(&in, &ret->account);
        return 0;
}

/* The cgroup other than t's whose memcg has inode ino, and one of its targets (for the budget). */
static const char *foreign_cgroup(Manager *m, const Target *t, uint64_t ino) {
        for (size_t i = 0; ino != 0 && i < m->n_targets; i++) {
                const Target *u = m->targets[i];

                if (u->memcg_ino == ino && u->memcg && !streq_ptr(u->memcg, t->memcg))
                        return u->memcg;
        }
        return NULL;
}

/* Pages t's lock has charged to other cgroups count against their budgets: what is beyond a budget
 * is given back. A cgroup mlockd has no target in has no budget here. */
static int job_op_foreign(Job *j, const PageCharges *charged, uint64_t ret_pages[PAGE_CHARGES_MAX], void *userdata) {
        Manager *m = userdata;
        Target *t = j->target;
        uint64_t ps = (uint64_t) sysconf(_SC_PAGESIZE);

        for (uint32_t i = 0; i < charged->n && i < PAGE_CHARGES_MAX; i++)
                ret_pages[i] = 0;
        if (!manager_any_budget(m))
                return 0; /* no budget anywhere: no pass over every target per charge */
        for (uint32_t i = 0; i < charged->n && i < PAGE_CHARGES_MAX; i++) {
                uint64_t ino = charged->charges[i].memcg_ino;
                const char *path = foreign_cgroup(m, t, ino);
                CgroupMemory mem = {};
                ForeignInput in;
                uint64_t excess;
                char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c[FORMAT_BYTES_MAX];

                if (!path || !m->have_cgroup_layout)
                        continue;
                in = (ForeignInput) {
                        .budget = manager_cgroup_budget(m, path),
                        .held = manager_cgroup_charged(m, path, ino, t),
                        .charged = charged->charges[i].pages * ps,
                };
                if (in.budget == 0)
                        continue;
                if (cgroup_read_memory_fields(&m->cgroup_layout, path, CGROUP_READ_STAT, &mem) >= 0)
                        in.unevictable = mem.unevictable;
                excess = account_foreign_excess(&in);
                if (excess == 0)
                        continue;
                ret_pages[i] = (excess + ps - 1) / ps;
                log_notice("Process %d (%s) locked %s charged to cgroup %s, %s beyond its budget of %s; giving that "
                           "back.", (int) t->pid, strempty(t->comm), format_bytes(a, sizeof a, in.charged), path,
                           format_bytes(b, sizeof b, excess), format_bytes(c, sizeof c, in.budget));
        }
        return 0;
}

static int job_op_mounts(Job *j, Mounts **ret, void *userdata) {
        return mounts_read("/proc", j->target->pid, ret);
}

static void job_op_stepped(Job *j, uint64_t held_usec, void *userdata) {
        Manager *m = userdata;
        double s = (double) held_usec / 1e6;

        m->injections_total++;
        m->injection_seconds_sum += s;
        for (size_t b = 0; b < ELEMENTSOF(m->injection_buckets); b++)
                if (s <= injection_bucket_bounds[b])
                        m->injection_buckets[b]++;
}


static void on_limit_restored(int r, const InjectorReply *reply, int fd, void *userdata) {
        safe_close(fd);
        if (r < 0)
                log_debug_errno(r, "Could not put back RLIMIT_MEMLOCK of %d, leaving it: %m", (int) (intptr_t) userdata);
}

/* The lock is done, and stays: the soft limit goes back to the target's own (the kernel checks it
 * when memory is locked, not afterwards). Whatever the job's end, so a failed lock lends nothing. */
static void manager_restore_limit(Manager *m, Target *t, Job *j) {
        InjectorRequest req = {
                .magic = INJECTOR_MAGIC,
                .op = INJECTOR_OP_PRLIMIT_RESTORE,
                .pid = t->pid,
                .starttime = t->starttime,
                .flags = t->pid == 1 ? INJECTOR_FLAG_ALLOW_PID1 : 0,
                .value = j->saved_limit,
                .args = { j->raised_limit },
        };
        int r;

        if (j->raised_limit == 0 || j->raised_limit <= j->saved_limit)
                return;
        log_info("Raised RLIMIT_MEMLOCK of %d (%s) to %" PRIu64 " bytes for the lock, putting back %" PRIu64 ".",
                 (int) t->pid, strempty(t->comm), j->raised_limit, j->saved_limit);
        r = injector_client_submit(manager_injector(m, t), &req, t->pidfd, INJECTOR_TIMEOUT_USEC,
                                   on_limit_restored, (void *) (intptr_t) t->pid, NULL);
        if (r < 0)
                log_warning_errno(r, "Could not put back RLIMIT_MEMLOCK of %d, ignoring: %m", (int) t->pid);
}

static void manager_lock_finished(Manager *m, Target *t, Job *j) {
        manager_restore_limit(m, t, j);
        if (j->max_hold > 0) {
                char a[FORMAT_TIMESPAN_MAX], b[FORMAT_TIMESPAN_MAX];
                log_debug("Process %d (%s): longest hold %s (MaxPause=%s), %u steps over it.", (int) t->pid,
                          strempty(t->comm), format_timespan(a, sizeof a, j->max_hold),
                          format_timespan(b, sizeof b, j->spec.max_pause), j->pace.over);
        }
        t->max_hold = j->max_hold;
        t->replans = j->replans;
        if (j->plan && !j->spec.dry_run) {
                ProcStatus status = {};
                char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];

                /* planned and verified (or nothing to lock) */
                t->locked_bytes = j->locked_bytes;
                t->smaps_locked = j->smaps_locked;
                t->pages_verified = j->pages_verified;
                t->foreign = j->pages_verified ? j->foreign : (PageCharges) {};
                t->not_mlocked = j->not_mlocked;
                CgroupMemory mem = {};

                /* the baselines the accounting tick's drift check compares with */
                if (procfs_read_status("/proc", t->pid, 0, &status) >= 0)
                        t->vm_locked = status.vm_lck;
                t->drift_read = false; /* the next tick reads VmLck again */
                t->cg_unevictable = t->memcg && m->have_cgroup_layout &&
                                                    cgroup_read_memory_fields(&m->cgroup_layout, t->memcg,
                                                                              CGROUP_READ_STAT, &mem) >= 0
                                            ? mem.unevictable
                                            : 0;
                if (j->spec.recheck && (j->plan->bytes > 0 || j->relocked > 0) && !j->drifted)
                        log_notice("Process %d (%s): mlockd's lock had drifted (%s no longer locked, %s no longer "
                                   "mlocked); locked again.",
                                   (int) t->pid, strempty(t->comm), format_bytes(a, sizeof a, j->plan->bytes),
                                   format_bytes(b, sizeof b, j->relocked));
                if (j->pages_unreadable && !m->pages_unreadable_noted) {
                        log_notice("The kernel's per-page flags (/proc/kpageflags) cannot be read; locked "
                                   "figures are smaps Locked:, which counts pages that may not be mlocked.");
                        m->pages_unreadable_noted = true;
                }
                if (j->not_mlocked > 0)
                        log_notice("Process %d (%s): %s of its locked ranges not mlocked by the kernel after %u "
                                   "relock rounds (%s in large folios%s).",
                                   (int) t->pid, strempty(t->comm), format_bytes(a, sizeof a, j->not_mlocked),
                                   j->rounds, format_bytes(b, sizeof b, j->large_not_mlocked),
                                   j->folio_split > 0 ? " its own mappings cut" : "");
                if (j->rounds > 0 && j->not_mlocked == 0)
                        log_info("Process %d (%s): pages faulted in under the lock were not mlocked; relocked "
                                 "them (%u rounds).", (int) t->pid, strempty(t->comm), j->rounds);
                if (j->drifted)
                        log_notice("Process %d (%s): its lock drifted (now %s mlocked), left so (Relock=no).",
                                   (int) t->pid, strempty(t->comm), format_bytes(a, sizeof a, j->locked_bytes));
        }
        t->trimmed = j->reason == TARGET_REASON_LIMIT || j->reason == TARGET_REASON_BUDGET ||
                     j->reason == TARGET_REASON_BUDGET_FOREIGN;
        manager_set_state(m, t, j->state, j->reason, j->detail[0] ? j->detail : NULL);
        manager_young_job_done(m, t);
}

/* An unlock job ended: r 0 when mlockd's part is undone. */
static void manager_unlock_finished(Manager *m, Target *t, Job *j, bool *ret_removed) {
        bool ok = j->reason == TARGET_REASON_NONE;
        int then = t->unlock_then;

        *ret_removed = false;
        t->unlock_then = THEN_NOTHING;
        if (ok)
                t->locked_bytes = 0;

        if (then == THEN_RELEASE) {
                if (ok) {
                        t->released = true;
                        manager_set_state(m, t, TARGET_SKIPPED, TARGET_REASON_RELEASED, NULL);
                        target_answer_release(m, t, 0);
                } else {
                        manager_set_state(m, t, j->state, j->reason, j->detail[0] ? j->detail : NULL);
                        target_answer_release(m, t, j->state == TARGET_SKIPPED ? -EPERM : -EIO);
                }
                return;
        }
        if (!ok)
                manager_set_state(m, t, j->state, j->reason, j->detail[0] ? j->detail : NULL);
        switch (then) {
        case THEN_FORGET:
                log_info("Process %d (%s) no longer matches a policy; %s.", (int) t->pid, strempty(t->comm),
                         ok ? "mlockd's locks undone" : "its locks could not all be undone");
                target_answer_apply(m, t, -ENOENT);
                manager_remove_target(m, t);
                *ret_removed = true;
                return;
        case THEN_MODE_NONE:
                manager_set_state(m, t, TARGET_SKIPPED, TARGET_REASON_MODE_NONE, NULL);
                return;
        case THEN_RELOCK:
                t->next_job = NEXT_LOCK;
                return;
        default:
                return;
        }
}

static int on_account_defer(sd_event_source *s, void *userdata) {
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        manager_account(userdata);
        return 0;
}

/* The accounts again after a job: at once where a budget is set (what the next job may lock, and
 * BudgetExceeded, depend on them); otherwise when the loop is idle, once for a burst of jobs rather
 * than a pass over every target for each of them. */
static void manager_account_after_job(Manager *m) {
        int r = 0;

        if (!manager_any_budget(m)) {
                if (!m->account_defer) {
                        r = sd_event_add_defer(m->event, &m->account_defer, on_account_defer, m);
                        if (r >= 0) {
                                (void) sd_event_source_set_description(m->account_defer, "account-after-jobs");
                                (void) sd_event_source_set_priority(m->account_defer, SD_EVENT_PRIORITY_IDLE);
                        }
                }
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->account_defer, SD_EVENT_ONESHOT);
                if (r >= 0)
                        return;
        }
        manager_account(m);
}

static void job_op_finished(Job *j, void *userdata) {
        Manager *m = userdata;
        Target *t = j->target;
        bool removed = false;

        t->job = NULL;
        t->job_call = NULL;
        t->hold_source = sd_event_source_disable_unref(t->hold_source);
        t->hold_backoff = 0;
        if (j->gone) {
                job_free(j);
                manager_remove_target(m, t);
                return;
        }
        if (j->kind == JOB_LOCK)
                manager_lock_finished(m, t, j);
        else
                manager_unlock_finished(m, t, j, &removed);
        job_free(j);
        if (removed)
                return;

        manager_update_locked_bytes(m);
        manager_account_after_job(m);

        if (t->next_job != NEXT_NONE) {
                TargetNext next = t->next_job;
                t->next_job = NEXT_NONE;
                manager_start_job(m, t, next == NEXT_LOCK ? JOB_LOCK : JOB_UNLOCK, t->unlock_then);
                return;
        }
        target_answer_apply(m, t, 0);
}

/* Only for a watched target: the others' new mappings are found by their samples. */
static bool job_op_follow(Job *j, void *userdata) {
        return j->target->watch != NULL;
}

static const JobOps job_ops = {
        .submit = job_op_submit,
        .limits = job_op_limits,
        .foreign = job_op_foreign,
        .stepped = job_op_stepped,
        .mounts = job_op_mounts,
        .follow = job_op_follow,
        .finished = job_op_finished,
};

/* The THP sizes a lock chunk's edges align to: a dozen sysfs files, read again at most once a
 * FOLIO_SIZES_TTL_USEC rather than for every job (they change when an administrator writes them). */
#define FOLIO_SIZES_TTL_USEC (1 * USEC_PER_SEC)

static FolioSizes manager_folio_sizes(Manager *m) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (m->folios_read == 0 || now >= m->folios_read + FOLIO_SIZES_TTL_USEC) {
                if (lock_folio_sizes("/sys", &m->folios) < 0)
                        m->folios = (FolioSizes) {}; /* page-sized edges */
                m->folios_read = now;
        }
        return m->folios;
}

static void start_job(Manager *m, Target *t, JobKind kind, TargetThen then, bool recheck, Maps *smaps);

/* Start t's job now, or after the one running (which then sees it through). */
void manager_start_job(Manager *m, Target *t, JobKind kind, TargetThen then) {
        start_job(m, t, kind, then, false, NULL);
}

void manager_start_recheck(Manager *m, Target *t) {
        if (t->job)
                return; /* the job running verifies anyway */
        start_job(m, t, JOB_LOCK, THEN_NOTHING, true, NULL);
}

void manager_start_lock_from(Manager *m, Target *t, Maps *smaps) {
        start_job(m, t, JOB_LOCK, THEN_NOTHING, false, smaps);
}

/* smaps (taken; NULL: none): what to plan from, read already. */
static void start_job(Manager *m, Target *t, JobKind kind, TargetThen then, bool recheck, Maps *smaps) {
        _cleanup_(maps_freep) Maps *given = smaps;
        _cleanup_(job_spec_done) JobSpec spec = {};
        const Policy *p = NULL;
        Job *j = NULL;
        int r;

        if (t->job) {
                t->next_job = kind == JOB_LOCK ? NEXT_LOCK : NEXT_UNLOCK;
                if (kind == JOB_UNLOCK)
                        t->unlock_then = then;
                return;
        }
        if (kind == JOB_LOCK && t->state_id == TARGET_FAILED && t->reason == TARGET_REASON_STUCK) {
                /* a call it got stuck in cost an injector: no other try until it executes */
                target_answer_apply(m, t, 0);
                return;
        }
        if (kind == JOB_LOCK) {
                p = target_policy(m, t);
                if (!p) {
                        manager_set_state(m, t, TARGET_SKIPPED, TARGET_REASON_NO_POLICY, NULL);
                        target_answer_apply(m, t, 0);
                        return;
                }
                if (p->mode == LOCK_MODE_NONE) {
                        manager_set_state(m, t, TARGET_SKIPPED, TARGET_REASON_MODE_NONE, NULL);
                        target_answer_apply(m, t, 0);
                        return;
                }
                r = job_spec_from_policy(p, m->dry_run, &spec);
                if (r >= 0)
                        spec.folios = manager_folio_sizes(m);
                spec.recheck = recheck;
                /* a limit is lent only on the word of keys the process cannot forge */
                spec.raise_memlock_limit = spec.raise_memlock_limit && match_may_raise_memlock(p, t->uid, t->cgroup);
                spec.max_mappings = m->policies->daemon.max_mappings;
                spec.memcg_ino = t->memcg_ino;
        } else {
                t->unlock_then = then;
                r = 0;
        }
        if (r >= 0)
                r = job_new(kind, t, kind == JOB_LOCK ? &spec : NULL, &job_ops, m, &j);
        if (r < 0) {
                log_oom();
                return;
        }
        if (given && kind == JOB_LOCK) {
                j->plan_smaps = TAKE_PTR(given);
                j->maps_given = true;
        }
        t->job = j;
        job_start(j);
}

/* Undo mlockd's part in t, then do then. With nothing in the ledger there is nothing to inject. */
void manager_unlock(Manager *m, Target *t, TargetThen then) {
        if (!t->job && t->ledger.n == 0 && !t->ledger.future) {
                Job j = { .kind = JOB_UNLOCK, .target = t, .reason = TARGET_REASON_NONE };
                bool removed = false;

                t->unlock_then = then;
                manager_unlock_finished(m, t, &j, &removed);
                if (removed)
                        return;
                manager_update_locked_bytes(m);
                if (t->next_job == NEXT_LOCK) {
                        t->next_job = NEXT_NONE;
                        manager_start_job(m, t, JOB_LOCK, THEN_NOTHING);
                }
                return;
        }
        manager_start_job(m, t, JOB_UNLOCK, then);
}
