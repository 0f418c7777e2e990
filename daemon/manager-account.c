/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manager's accounts: per-cgroup unevictable bytes against budgets (BudgetExceeded), the
 * bytes in flight, the metrics textfile and the sd_notify status line. */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "manager-internal.h"
#include "metrics.h"
#include "procfs.h"

const double injection_bucket_bounds[8] = { 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3 };

/* Whether cgroup path is the cgroup of memcg's first len characters or below it. */
static bool cgroup_within(const char *path, const char *memcg, size_t len) {
        if (!path || !memcg)
                return false;
        if (len <= 1)
                return true; /* the root: every cgroup */
        return strncmp(path, memcg, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* Bytes other targets in the cgroup (subtree_len < strlen(memcg): in its ancestor of that length, or
 * below it) still have to lock: not yet in the kernel's figure. */
uint64_t manager_cgroup_in_flight(Manager *m, const char *memcg, size_t subtree_len, const Target *except) {
        uint64_t sum = 0;

        for (size_t i = 0; i < m->n_targets; i++) {
                const Target *t = m->targets[i];

                if (t != except && t->job && cgroup_within(t->memcg, memcg, subtree_len))
                        sum += job_in_flight(t->job);
        }
        return sum;
}

uint64_t target_claimed(const Target *t) {
        return MAX(t->locked_bytes, t->smaps_locked);
}

static uint64_t page_bytes(void) {
        long p = sysconf(_SC_PAGESIZE);
        return p > 0 ? (uint64_t) p : 4096;
}

uint64_t target_foreign_bytes(const Target *t, uint64_t ino) {
        return (ino == 0 ? page_charges_total(&t->foreign) : page_charges_get(&t->foreign, ino)) * page_bytes();
}

/* A target's claim on its own cgroup: what it holds less what is charged elsewhere. */
static uint64_t target_claimed_here(const Target *t) {
        uint64_t c = target_claimed(t), out = target_foreign_bytes(t, 0);

        return c > out ? c - out : 0;
}

uint64_t manager_cgroup_charged(Manager *m, const char *memcg, uint64_t ino, const Target *except) {
        uint64_t sum = 0;

        for (size_t i = 0; i < m->n_targets; i++) {
                const Target *t = m->targets[i];

                if (t == except)
                        continue;
                if (streq_ptr(t->memcg, memcg))
                        sum += target_claimed_here(t);
                else if (ino != 0)
                        sum += target_foreign_bytes(t, ino);
        }
        return sum;
}

/* The tighter of a cgroup budget so far (0: none) and the policy's CgroupMaxUnevictable=. */
static uint64_t budget_tighten(uint64_t budget, const Policy *p) {
        if (p && p->cgroup_max_unevictable > 0 && (budget == 0 || p->cgroup_max_unevictable < budget))
                return p->cgroup_max_unevictable;
        return budget;
}

uint64_t manager_cgroup_budget(Manager *m, const char *memcg) {
        uint64_t budget = 0;

        for (size_t i = 0; i < m->n_targets; i++)
                if (streq_ptr(m->targets[i]->memcg, memcg))
                        budget = budget_tighten(budget, target_policy(m, m->targets[i]));
        return budget;
}


static int account_cmp(const void *a, const void *b) {
        return strcmp(((const CgroupAccount *) a)->path, ((const CgroupAccount *) b)->path);
}

CgroupAccount *manager_find_cgroup(Manager *m, const char *path) {
        CgroupAccount key = { .path = (char *) path };

        if (!path || m->n_cgroups == 0)
                return NULL;
        return bsearch(&key, m->cgroups, m->n_cgroups, sizeof *m->cgroups, account_cmp);
}

CgroupAccount *manager_target_cgroup(Manager *m, Target *t) {
        if (m->cgroups_gen == 0 || t->account_gen != m->cgroups_gen) {
                CgroupAccount *c = manager_find_cgroup(m, t->memcg);

                t->account = c ? (size_t) (c - m->cgroups) : SIZE_MAX;
                t->account_gen = m->cgroups_gen;
        }
        return t->account < m->n_cgroups ? &m->cgroups[t->account] : NULL;
}

/* The table again, when a target's cgroup is not in it or a cgroup lost its last target: the
 * accounts kept keep their figures and over_budget, new ones start empty (and changed). Sorted by
 * path; the targets' cached indexes go stale (cgroups_gen). On OOM the old table stays. */
static void manager_remake_cgroups(Manager *m) {
        CgroupAccount *fresh;
        size_t n = 0, k = 0;

        fresh = calloc(m->n_cgroups + m->n_targets + 1, sizeof *fresh);
        if (!fresh) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < m->n_targets; i++) {
                Target *t = m->targets[i];

                if (!t->memcg || manager_target_cgroup(m, t))
                        continue;
                fresh[n] = (CgroupAccount) { .path = strdup(t->memcg), .ino = t->memcg_ino, .changed = true };
                if (!fresh[n].path) {
                        for (size_t j = 0; j < n; j++)
                                free(fresh[j].path);
                        free(fresh);
                        log_oom();
                        return;
                }
                n++;
        }
        for (size_t i = 0; i < m->n_cgroups; i++) {
                if (m->cgroups[i].n_targets > 0)
                        fresh[n++] = m->cgroups[i];
                else
                        free(m->cgroups[i].path);
        }
        qsort(fresh, n, sizeof *fresh, account_cmp);
        /* several new targets in one new cgroup: one account */
        for (size_t i = 0; i < n; i++) {
                if (k > 0 && streq(fresh[k - 1].path, fresh[i].path)) {
                        free(fresh[i].path);
                        continue;
                }
                fresh[k++] = fresh[i];
        }
        free(m->cgroups);
        m->cgroups = fresh;
        m->n_cgroups = k;
        m->cgroups_gen++;
}

void manager_account(Manager *m) {
        uint64_t ps = page_bytes();
        bool remake = false;

        /* which cgroups have targets: no path compared for a target whose account is known */
        for (size_t j = 0; j < m->n_cgroups; j++)
                m->cgroups[j].n_targets = 0;
        for (size_t i = 0; i < m->n_targets; i++) {
                Target *t = m->targets[i];
                CgroupAccount *c = manager_target_cgroup(m, t);

                if (c)
                        c->n_targets++;
                else if (t->memcg)
                        remake = true;
        }
        for (size_t j = 0; !remake && j < m->n_cgroups; j++)
                remake = m->cgroups[j].n_targets == 0;
        if (remake)
                manager_remake_cgroups(m);

        /* a tick wants unevictable alone: memory.stat, one open, one pass; and whether anything
         * there moved since (changed stays set until the drift check has looked) */
        for (size_t j = 0; j < m->n_cgroups; j++) {
                CgroupAccount *c = &m->cgroups[j];
                CgroupMemory mem = {};

                c->locked = c->claimed = c->foreign_out = c->foreign = c->budget = 0;
                if (m->have_cgroup_layout &&
                    cgroup_read_memory_fields(&m->cgroup_layout, c->path, CGROUP_READ_STAT, &mem) >= 0) {
                        c->changed = c->changed || mem.stat_hash != c->stat_hash;
                        c->stat_hash = mem.stat_hash;
                        c->unevictable = mem.unevictable;
                } else {
                        c->changed = true;
                        c->stat_hash = 0;
                        c->unevictable = 0;
                }
        }

        for (size_t i = 0; i < m->n_targets; i++) {
                Target *t = m->targets[i];
                CgroupAccount *c = manager_target_cgroup(m, t);

                /* pages charged elsewhere that t mlocked count there, not here */
                for (uint32_t k = 0; k < t->foreign.n && k < PAGE_CHARGES_MAX; k++)
                        for (size_t j = 0; t->foreign.charges[k].memcg_ino != 0 && j < m->n_cgroups; j++)
                                if (&m->cgroups[j] != c && m->cgroups[j].ino == t->foreign.charges[k].memcg_ino)
                                        m->cgroups[j].foreign += t->foreign.charges[k].pages * ps;
                if (!c)
                        continue;
                c->locked += t->locked_bytes;
                c->claimed += target_claimed_here(t);
                c->foreign_out += MIN(target_foreign_bytes(t, 0), t->locked_bytes);
                c->budget = budget_tighten(c->budget, target_policy(m, t));
        }

        for (size_t j = 0; j < m->n_cgroups; j++) {
                CgroupAccount *c = &m->cgroups[j];
                uint64_t held = MAX(c->unevictable, c->claimed + c->foreign);
                bool over = c->budget > 0 && held > c->budget;

                if (over && !c->over_budget) {
                        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], d[FORMAT_BYTES_MAX];
                        log_warning("Cgroup %s holds %s unevictable (mlockd holds %s there), over its budget of %s.",
                                    c->path, format_bytes(a, sizeof a, c->unevictable),
                                    format_bytes(d, sizeof d, c->claimed + c->foreign), format_bytes(b, sizeof b, c->budget));
                        bus_emit_budget_exceeded(m, c);
                }
                c->over_budget = over;
        }
        m->metrics_dirty = true;
}

/* Slack for the kernel's unevictable against what mlockd verified: memcg statistics are flushed
 * in batches, so a small shortfall is noise. */
static uint64_t drift_slack(uint64_t verified) {
        return MAX(verified / 50, UINT64_C(2) << 20);
}

bool target_cgroup_idle(Manager *m, Target *t, const Policy *p) {
        const CgroupAccount *c = manager_target_cgroup(m, t);

        /* a full lock populates: a mapping made and not touched yet (no figure moves) is still
         * its to lock (MCL_FUTURE does not cover one made between the plan and the mlockall) */
        if (!p || p->mode != LOCK_MODE_ONFAULT)
                return false;
        return c && !c->changed && t->checked_size != 0;
}

/* Whether t's VmLck is worth a read this tick: its cgroup's figures moved (a locked page that is
 * munlocked or unmapped leaves the unevictable list, which moves them), or it was not read since
 * its lock. An munlock of lock-on-fault pages not faulted in yet moves nothing: it is seen when
 * they are faulted in (the figures move then), before it can matter. */
static bool target_drift_worth_reading(const Target *t, const CgroupAccount *c) {
        return !c || c->changed || !t->drift_read;
}

void manager_check_drift(Manager *m) {
        for (size_t i = 0; i < m->n_targets; i++) {
                Target *t = m->targets[i];
                const Policy *p = target_policy(m, t);
                const CgroupAccount *c = manager_target_cgroup(m, t);
                uint64_t vm_lck = 0;
                char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];

                if (!p || p->mode == LOCK_MODE_NONE || t->released || t->job || t->ledger.n == 0 ||
                    !(t->state_id == TARGET_LOCKED || t->state_id == TARGET_PARTIAL))
                        continue;
                if (t->state_id == TARGET_PARTIAL && t->reason == TARGET_REASON_DRIFTED)
                        continue; /* reported, left so (Relock=no) */

                /* The target munlocked or unmapped (VmLck fell), or pages in its cgroup lost their
                 * mlock (unevictable fell since its lock was verified, to below the pages mlockd
                 * verified there: others leaving a shared cgroup are no evidence): look again. The
                 * recheck says what it found (manager-jobs.c). */
                if (c && t->cg_unevictable > 0 && c->unevictable + drift_slack(t->cg_unevictable) < t->cg_unevictable &&
                    c->unevictable + drift_slack(c->locked - c->foreign_out) < c->locked - c->foreign_out)
                        log_debug("Process %d (%s): unevictable of %s fell from %s to %s, checking its lock.",
                                  (int) t->pid, strempty(t->comm), c->path,
                                  format_bytes(a, sizeof a, t->cg_unevictable),
                                  format_bytes(b, sizeof b, c->unevictable));
                else {
                        bool fell = false;

                        if (target_drift_worth_reading(t, c) && manager_sample_locked(m, t, &vm_lck) >= 0) {
                                t->drift_read = true;
                                fell = vm_lck + (UINT64_C(1) << 20) <= t->vm_locked;
                        }
                        if (!fell)
                                continue;
                        log_debug("Process %d (%s): VmLck fell from %s to %s, checking its lock.", (int) t->pid,
                                  strempty(t->comm), format_bytes(a, sizeof a, t->vm_locked),
                                  format_bytes(b, sizeof b, vm_lck));
                        t->vm_locked = vm_lck; /* once; the recheck sets both again */
                }
                t->cg_unevictable = c ? c->unevictable : 0;
                m->drift_rechecks++;
                manager_start_recheck(m, t);
        }
        /* looked at: the next tick says whether they moved again */
        for (size_t j = 0; j < m->n_cgroups; j++)
                m->cgroups[j].changed = false;
}

void manager_write_metrics(Manager *m) {
        const char *path = m->policies->daemon.metrics_file;
        _cleanup_free_ MetricsCgroup *cg = NULL;
        _cleanup_free_ MetricsPolicy *pol = NULL;
        _cleanup_free_ MetricsTargets *tg = NULL;
        size_t n_tg = 0;
        uint64_t cumulative[ELEMENTSOF(m->injection_buckets)];
        MetricsSnapshot s;
        int r;

        if (!path || !m->metrics_dirty)
                return;

        cg = calloc(m->n_cgroups + 1, sizeof *cg);
        pol = calloc(m->policies->n_policies + 1, sizeof *pol);
        tg = calloc(m->n_targets + 1, sizeof *tg);
        if (!cg || !pol || !tg) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < m->n_cgroups; i++)
                cg[i] = (MetricsCgroup) { .path = m->cgroups[i].path, .unevictable = m->cgroups[i].unevictable,
                                          .locked = m->cgroups[i].locked, .budget = m->cgroups[i].budget,
                                          .foreign = m->cgroups[i].foreign };
        for (size_t i = 0; i < m->policies->n_policies; i++) {
                const char *name = m->policies->policies[i]->name;
                pol[i] = (MetricsPolicy) { .name = name, .locked = manager_policy_locked(m, name) };
        }
        for (size_t i = 0; i < m->n_targets; i++) {
                const Target *t = m->targets[i];
                size_t j;

                for (j = 0; j < n_tg; j++)
                        if (streq(tg[j].policy, t->policy) && streq(tg[j].state, t->state))
                                break;
                if (j == n_tg)
                        tg[n_tg++] = (MetricsTargets) { .policy = t->policy, .state = t->state };
                tg[j].count++;
        }
        /* buckets were counted per bound already: they are cumulative */
        for (size_t b = 0; b < ELEMENTSOF(cumulative); b++)
                cumulative[b] = m->injection_buckets[b];

        s = (MetricsSnapshot) {
                .cgroups = cg, .n_cgroups = m->n_cgroups,
                .policies = pol, .n_policies = m->policies->n_policies,
                .targets = tg, .n_targets = n_tg,
                .injections_total = m->injections_total,
                .drift_rechecks = m->drift_rechecks,
                .injection_buckets = cumulative,
                .injection_bucket_bounds = injection_bucket_bounds,
                .n_buckets = ELEMENTSOF(cumulative),
                .injection_seconds_sum = m->injection_seconds_sum,
                .injection_count = m->injections_total,
                .no_memory_controller = !m->have_cgroup_layout,
        };
        r = metrics_write(path, &s);
        if (r < 0)
                log_warning_errno(r, "Failed to write metrics to %s, ignoring: %m", path);
        else
                m->metrics_dirty = false;
}

void manager_notify_status(Manager *m) {
        char b[FORMAT_BYTES_MAX];

        (void) sd_notifyf(false, "STATUS=%zu %s, %zu %s, %s locked", m->policies->n_policies,
                          PLURAL(m->policies->n_policies, "policy", "policies"),
                          m->n_targets, PLURAL(m->n_targets, "target", "targets"),
                          format_bytes(b, sizeof b, m->locked_bytes));
}

/* ---- metrics file lifetime (operator helper; additive) ---------------------------------------- */

void manager_metrics_start(Manager *m) {
        m->metrics_dirty = true;
        manager_write_metrics(m);
}

void manager_metrics_stop(Manager *m) {
        const char *path = m->policies ? m->policies->daemon.metrics_file : NULL;
        int r;

        if (!path)
                return;
        r = metrics_remove(path);
        if (r < 0)
                log_warning_errno(r, "Failed to remove the metrics file %s, ignoring: %m", path);
}
