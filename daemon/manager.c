/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manager: discovers processes (proc connector, /proc scans), matches them to policies, and
 * drives each target's lock job one bounded step at a time from the event loop, through the
 * injector. It keeps per-cgroup accounts and tells the bus what changed. */

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "fileio.h"
#include "injector.h"
#include "log.h"
#include "manager.h"
#include "maps.h"
#include "match.h"
#include "metrics.h"
#include "procfs.h"
#include "procmon.h"
#include "sandbox.h"
#include "strv.h"
#include "units.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#define CAP_IPC_LOCK_BIT 14
#define STEP_TIMEOUT_USEC (2 * USEC_PER_SEC)
#define SMAPS_MAX (64U * 1024U * 1024U)
#define PREFETCH_ANON_CHUNK (2ULL << 20)
#define MAX_REPLANS 3
#define SETTLE_USEC (2 * USEC_PER_SEC)
#define SETTLE_FIRST_USEC (10 * USEC_PER_MSEC)
#define SETTLE_MAX_INTERVAL_USEC (500 * USEC_PER_MSEC)

typedef enum TargetJob {
        JOB_NONE,
        JOB_PLAN,
        JOB_PREFETCH,
        JOB_LOCK,
        JOB_MLOCKALL,
        JOB_VERIFY,
} TargetJob;

static const double injection_bucket_bounds[8] = { 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3 };

/* ---- targets ------------------------------------------------------------------------------- */

static Target *target_free(Target *t) {
        if (!t)
                return NULL;
        safe_close(t->pidfd);
        free(t->comm);
        free(t->exe);
        free(t->cgroup);
        free(t->memcg);
        free(t->policy);
        free(t->state);
        lock_plan_free(t->plan);
        free(t->prefetch);
        free(t);
        return NULL;
}

static size_t target_index(Manager *m, pid_t pid, bool *found) {
        size_t lo = 0, hi = m->n_targets;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (m->targets[mid]->pid < pid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = lo < m->n_targets && m->targets[lo]->pid == pid;
        return lo;
}

Target *manager_get_target(Manager *m, pid_t pid) {
        bool found;
        size_t i = target_index(m, pid, &found);

        return found ? m->targets[i] : NULL;
}

static int manager_add_target(Manager *m, Target *t) {
        bool found;
        size_t i = target_index(m, t->pid, &found);
        Target **n;

        if (found)
                return -EEXIST;
        n = reallocarray(m->targets, m->n_targets + 1, sizeof(Target *));
        if (!n)
                return -ENOMEM;
        m->targets = n;
        memmove(m->targets + i + 1, m->targets + i, (m->n_targets - i) * sizeof(Target *));
        m->targets[i] = t;
        m->n_targets++;
        return 0;
}

static void manager_update_locked_bytes(Manager *m) {
        uint64_t sum = 0;

        for (size_t i = 0; i < m->n_targets; i++)
                sum += m->targets[i]->locked_bytes;
        if (sum != m->locked_bytes) {
                m->locked_bytes = sum;
                bus_emit_locked_bytes_changed(m);
        }
        m->metrics_dirty = true;
}

static void manager_remove_target(Manager *m, pid_t pid) {
        bool found;
        size_t i = target_index(m, pid, &found);

        if (!found)
                return;
        log_debug("Forgetting target %d.", (int) pid);
        target_free(m->targets[i]);
        memmove(m->targets + i, m->targets + i + 1, (m->n_targets - i - 1) * sizeof(Target *));
        m->n_targets--;
        /* a queued pid whose target is gone is skipped by the work handler */
        manager_update_locked_bytes(m);
}

unsigned manager_policy_matched(Manager *m, const char *policy) {
        unsigned n = 0;

        for (size_t i = 0; i < m->n_targets; i++)
                if (streq_ptr(m->targets[i]->policy, policy))
                        n++;
        return n;
}

uint64_t manager_policy_locked(Manager *m, const char *policy) {
        uint64_t sum = 0;

        for (size_t i = 0; i < m->n_targets; i++)
                if (streq_ptr(m->targets[i]->policy, policy))
                        sum += m->targets[i]->locked_bytes;
        return sum;
}

static const Policy *target_policy(Manager *m, const Target *t) {
        return t->policy ? policy_set_find(m->policies, t->policy) : NULL;
}

static void target_set_state(Target *t, const char *state, const char *reason) {
        _cleanup_free_ char *s = NULL;

        if (reason) {
                if (asprintf(&s, "%s:%s", state, reason) < 0)
                        return;
        } else {
                s = strdup(state);
                if (!s)
                        return;
        }
        if (streq_ptr(t->state, s))
                return;

        if (streq(state, "failed"))
                log_warning("Process %d (%s), policy %s: %s.", (int) t->pid, t->comm, t->policy ?: "-", s);
        else {
                char b[FORMAT_BYTES_MAX];
                log_info("Process %d (%s), policy %s: %s, %s locked.", (int) t->pid, t->comm, t->policy ?: "-", s,
                         format_bytes(b, sizeof b, t->locked_bytes));
        }
        free(t->state);
        t->state = TAKE_PTR(s);
        bus_emit_target_changed(t->manager, t);
        t->manager->metrics_dirty = true;
}

/* ---- talking to the injector ---------------------------------------------------------------- */

static void request_init(const Target *t, InjectorOp op, InjectorRequest *req) {
        *req = (InjectorRequest) {
                .magic = INJECTOR_MAGIC,
                .op = op,
                .pid = t->pid,
                .starttime = t->starttime,
                .flags = t->pid == 1 ? INJECTOR_FLAG_ALLOW_PID1 : 0,
        };
}

static int target_open_maps(Manager *m, Target *t, InjectorFile which, Maps **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        InjectorRequest req;
        InjectorReply reply;
        int r;

        request_init(t, INJECTOR_OP_OPEN, &req);
        req.value = which;
        r = injector_call(m->injector, &req, t->pidfd, &reply, &fd);
        if (r < 0)
                return r;
        if (fd < 0)
                return -EBADMSG;
        r = read_full_fd(fd, SMAPS_MAX, &text, NULL);
        if (r < 0)
                return r == -EFBIG ? r : -ESRCH; /* a read error means the mm is gone */
        return maps_parse(text, ret);
}

/* One injected call. Records timing. Returns the step's error (negative errno) with *ret_reason
 * set when the injector refused; else 0 with the syscall's result in *ret_result. */
static int target_step(Manager *m, Target *t, InjectCall call, const uint64_t args[6], long *ret_result,
                       char *reason, size_t reason_size) {
        InjectorRequest req;
        InjectorReply reply = {};
        int r;

        request_init(t, INJECTOR_OP_STEP, &req);
        req.call = call;
        memcpy(req.args, args, sizeof req.args);
        req.timeout_usec = STEP_TIMEOUT_USEC;

        r = injector_call(m->injector, &req, t->pidfd, &reply, NULL);
        if (reason)
                snprintf(reason, reason_size, "%s", reply.reason);
        if (r < 0)
                return r;

        m->injections_total++;
        m->injection_seconds_sum += (double) reply.held_usec / 1e6;
        for (size_t b = 0; b < ELEMENTSOF(m->injection_buckets); b++)
                if ((double) reply.held_usec / 1e6 <= injection_bucket_bounds[b])
                        m->injection_buckets[b]++;
        t->max_hold = MAX(t->max_hold, (usec_t) reply.held_usec);
        *ret_result = (long) reply.result;
        return reply.held_usec > 0 ? (int) MIN(reply.held_usec, (uint64_t) INT32_MAX) : 1;
}

/* ---- discovery -------------------------------------------------------------------------------- */

static bool pid_is_ours(Manager *m, pid_t pid) {
        return pid == getpid() || pid == injector_pid(m->injector);
}

/* Read what matching needs. -ESRCH/-ENOENT: gone or not a process we act on. */
static int target_read(Manager *m, Target *t) {
        _cleanup_(cgroup_paths_done) CgroupPaths paths = {};
        ProcStat st = {};
        ProcStatus status = {};
        InjectorRequest req;
        InjectorReply reply;
        int r;

        r = procfs_read_stat("/proc", t->pid, &st);
        if (r < 0)
                return -ESRCH;
        if (proc_stat_is_kernel_thread(&st) || st.state == 'Z' || st.state == 'X') {
                proc_stat_done(&st);
                return -ENOENT;
        }
        t->starttime = st.starttime;
        free(t->comm);
        t->comm = TAKE_PTR(st.comm);
        proc_stat_done(&st);

        r = procfs_read_status("/proc", t->pid, 0, &status);
        if (r < 0)
                return -ESRCH;
        if (status.tgid != t->pid)
                return -ENOENT; /* a thread, not a process */
        t->uid = status.uid_real;

        r = cgroup_pid_get_paths("/proc", t->pid, &paths);
        if (r >= 0) {
                const char *p = cgroup_paths_match_path(&paths);
                free(t->cgroup);
                t->cgroup = p ? strdup(p) : NULL;
                free(t->memcg);
                t->memcg = paths.memory ? strdup(paths.memory)
                                        : (paths.unified ? strdup(paths.unified) : NULL);
        }

        /* /proc/PID/exe needs ptrace access, which only the injector has */
        request_init(t, INJECTOR_OP_EXE, &req);
        r = injector_call(m->injector, &req, t->pidfd, &reply, NULL);
        free(t->exe);
        t->exe = r >= 0 ? strdup(reply.path) : NULL;
        if (r == -ESRCH)
                return r;
        return 0;
}

static const Policy *target_match(Manager *m, Target *t) {
        _cleanup_free_ char *unit = NULL;
        MatchProcess p;

        if (t->cgroup)
                (void) unit_from_cgroup_path(t->cgroup, &unit);
        p = (MatchProcess) {
                .pid = t->pid, .exe = t->exe, .comm = t->comm,
                .cgroup = t->cgroup, .unit = unit, .uid = t->uid,
        };
        return match_policy(m->policies, &p);
}

static void manager_arm_settle(Manager *m, bool soon);

/* Put t at the back of the work queue, once. */
static void manager_queue(Manager *m, Target *t) {
        pid_t *n;

        if (t->queued)
                return;
        n = reallocarray(m->queue, m->n_queue + 1, sizeof(pid_t));
        if (!n) {
                log_oom();
                return;
        }
        m->queue = n;
        m->queue[m->n_queue++] = t->pid;
        t->queued = true;
        (void) sd_event_source_set_enabled(m->work_source, SD_EVENT_ON);
}

/* (Re)start t's lock job: a fresh plan, which resets the steps' cursors itself. */
static void manager_start_job(Manager *m, Target *t) {
        t->job = JOB_PLAN;
        t->deferred = false;
        manager_queue(m, t);
}

/* A process appeared (scan, fork, exec, comm change, Apply): match it and queue its lock.
 * Returns 1 when it became a target, 0 when no policy wants it, negative when it is gone. */
static int manager_discover(Manager *m, pid_t pid, bool defer, Target **ret) {
        Target *t;
        const Policy *p;
        int r;

        if (pid <= 0 || pid_is_ours(m, pid))
                return 0;
        if (manager_get_target(m, pid))
                return 1;

        t = calloc(1, sizeof *t);
        if (!t)
                return log_oom();
        t->manager = m;
        t->pid = pid;
        t->discovered = now_usec(CLOCK_MONOTONIC);
        t->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (t->pidfd < 0) {
                target_free(t);
                return -ESRCH;
        }

        r = target_read(m, t);
        if (r < 0) {
                target_free(t);
                return r == -ENOENT ? 0 : r;
        }

        p = target_match(m, t);
        if (!p) {
                target_free(t);
                return 0;
        }

        t->policy = strdup(p->name);
        t->state = strdup("pending");
        if (!t->policy || !t->state) {
                target_free(t);
                return log_oom();
        }
        r = manager_add_target(m, t);
        if (r < 0) {
                target_free(t);
                return r == -EEXIST ? 1 : log_oom();
        }
        log_debug("Process %d (%s, %s) matches policy %s.", (int) pid, t->comm, t->exe ?: "?", p->name);
        bus_emit_target_changed(m, t);

        if (p->mode == LOCK_MODE_NONE)
                target_set_state(t, "skipped", "mode-none");
        else if (defer) {
                /* just forked or exec'd: let it lay itself out before the first plan */
                t->job = JOB_PLAN;
                t->deferred = true;
                manager_arm_settle(m, true);
        } else
                manager_start_job(m, t);
        if (ret)
                *ret = t;
        return 1;
}

static int manager_scan(Manager *m) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r;

        r = procmon_scan("/proc", &pids, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to scan /proc: %m");

        /* forget targets that are gone or were replaced by a new process with the same pid */
        for (size_t i = m->n_targets; i-- > 0;) {
                Target *t = m->targets[i];
                ProcStat st = {};

                if (procfs_read_stat("/proc", t->pid, &st) < 0 || st.starttime != t->starttime)
                        manager_remove_target(m, t->pid);
                proc_stat_done(&st);
        }

        for (size_t i = 0; i < n; i++)
                (void) manager_discover(m, pids[i], false, NULL);
        log_debug("Scanned %zu processes, %zu targets.", n, m->n_targets);
        return 0;
}

/* ---- accounting -------------------------------------------------------------------------------- */

static CgroupAccount *manager_find_cgroup(Manager *m, const char *path) {
        for (size_t i = 0; i < m->n_cgroups; i++)
                if (streq(m->cgroups[i].path, path))
                        return &m->cgroups[i];
        return NULL;
}

/* Bytes other targets in the cgroup still have to lock: not yet in the kernel's figure. */
static uint64_t manager_cgroup_in_flight(Manager *m, const char *memcg, const Target *except) {
        uint64_t sum = 0;

        for (size_t i = 0; i < m->n_targets; i++) {
                const Target *t = m->targets[i];

                if (t == except || t->job == JOB_NONE || t->job == JOB_PLAN || !t->plan ||
                    !streq_ptr(t->memcg, memcg))
                        continue;
                if (t->plan->bytes > t->done_bytes)
                        sum += t->plan->bytes - t->done_bytes;
        }
        return sum;
}

/* The tighter of a cgroup budget so far (0: none) and the policy's CgroupMaxUnevictable=. */
static uint64_t budget_tighten(uint64_t budget, const Policy *p) {
        if (p && p->cgroup_max_unevictable > 0 && (budget == 0 || p->cgroup_max_unevictable < budget))
                return p->cgroup_max_unevictable;
        return budget;
}

static uint64_t manager_cgroup_budget(Manager *m, const char *memcg) {
        uint64_t budget = 0;

        for (size_t i = 0; i < m->n_targets; i++)
                if (streq_ptr(m->targets[i]->memcg, memcg))
                        budget = budget_tighten(budget, target_policy(m, m->targets[i]));
        return budget;
}

static void manager_account(Manager *m) {
        CgroupAccount *fresh = NULL;
        size_t n_fresh = 0;

        for (size_t i = 0; i < m->n_targets; i++) {
                const Target *t = m->targets[i];
                CgroupAccount *c = NULL;

                if (!t->memcg)
                        continue;
                for (size_t j = 0; j < n_fresh; j++)
                        if (streq(fresh[j].path, t->memcg))
                                c = &fresh[j];
                if (!c) {
                        CgroupAccount *n = reallocarray(fresh, n_fresh + 1, sizeof *fresh);
                        CgroupMemory mem = {};
                        const CgroupAccount *old;

                        if (!n) {
                                log_oom();
                                break;
                        }
                        fresh = n;
                        c = &fresh[n_fresh++];
                        *c = (CgroupAccount) { .path = strdup(t->memcg) };
                        if (!c->path) {
                                n_fresh--;
                                log_oom();
                                break;
                        }
                        if (m->have_cgroup_layout && cgroup_read_memory(&m->cgroup_layout, c->path, &mem) >= 0)
                                c->unevictable = mem.unevictable;
                        old = manager_find_cgroup(m, c->path);
                        c->over_budget = old && old->over_budget;
                }
                c->locked += t->locked_bytes;
                c->budget = budget_tighten(c->budget, target_policy(m, t));
        }

        for (size_t j = 0; j < n_fresh; j++) {
                CgroupAccount *c = &fresh[j];
                bool over = c->budget > 0 && c->unevictable > c->budget;

                if (over && !c->over_budget) {
                        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
                        log_warning("Cgroup %s holds %s unevictable, over its budget of %s.", c->path,
                                    format_bytes(a, sizeof a, c->unevictable), format_bytes(b, sizeof b, c->budget));
                        bus_emit_budget_exceeded(m, c);
                }
                c->over_budget = over;
        }

        for (size_t i = 0; i < m->n_cgroups; i++)
                free(m->cgroups[i].path);
        free(m->cgroups);
        m->cgroups = fresh;
        m->n_cgroups = n_fresh;
        m->metrics_dirty = true;
}

static void manager_write_metrics(Manager *m) {
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
                                          .locked = m->cgroups[i].locked, .budget = m->cgroups[i].budget };
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

static void manager_notify_status(Manager *m) {
        char b[FORMAT_BYTES_MAX];

        (void) sd_notifyf(false, "STATUS=%zu policies, %zu targets, %s locked", m->policies->n_policies,
                          m->n_targets, format_bytes(b, sizeof b, m->locked_bytes));
}

static bool target_plan_covers(const LockPlan *plan, uint64_t start, uint64_t end);

/* Programs map memory after mlockd locked them (right after exec, the loader has mapped little).
 * /proc/PID/maps is cheap: when it shows a selected mapping the plan does not cover, plan again
 * (what is already locked is adopted, not locked twice). MCL_FUTURE targets need none of this. */
static bool target_young(const Target *t, usec_t now) {
        return t->discovered + SETTLE_USEC > now;
}

static unsigned manager_recheck(Manager *m, bool young_only) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        unsigned young = 0;

        for (size_t i = m->n_targets; i-- > 0;) {
                Target *t = m->targets[i];
                _cleanup_(maps_freep) Maps *maps = NULL;
                const Policy *p = target_policy(m, t);

                if (target_young(t, now))
                        young++;
                else if (young_only)
                        continue;
                if (t->deferred) {
                        t->deferred = false;
                        manager_start_job(m, t);
                        continue;
                }
                if (!p || t->released || t->job != JOB_NONE || t->mlockall_done || !t->plan ||
                    p->mode == LOCK_MODE_NONE || !t->state ||
                    !(streq(t->state, "locked") || strneq(t->state, "partial:", 8)) ||
                    (t->plan->trimmed && !streq(t->plan->trimmed, "rlimit")))
                        continue;
                if (target_open_maps(m, t, INJECTOR_FILE_MAPS, &maps) < 0)
                        continue;
                for (size_t j = 0; j < maps->n; j++) {
                        const MapsRegion *r = &maps->regions[j];

                        if (maps_region_selected(r, p->regions, p->region_files) &&
                            !target_plan_covers(t->plan, r->start, r->end)) {
                                log_debug("Process %d (%s) mapped more memory, planning again.", (int) t->pid,
                                          t->comm);
                                manager_start_job(m, t);
                                break;
                        }
                }
        }
        return young;
}

/* A program maps most of its memory in its first moments after exec. A process found by a fork or
 * exec event is planned a few ms later rather than at once, and while a target is young its maps
 * are looked at again with a backoff (10 ms doubling to 500 ms) rather than only on the
 * accounting tick. */
static int on_settle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        if (manager_recheck(m, true) > 0) {
                m->settle_interval = MIN(m->settle_interval * 2, SETTLE_MAX_INTERVAL_USEC);
                (void) sd_event_source_set_time_relative(s, m->settle_interval);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        } else
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

/* soon: a new target arrived, look within SETTLE_FIRST_USEC even if the backoff had grown. */
static void manager_arm_settle(Manager *m, bool soon) {
        usec_t now = now_usec(CLOCK_MONOTONIC), next = 0;
        int enabled = SD_EVENT_OFF;
        int r;

        if (!m->settle_timer) {
                /* 1 ms accuracy: sd-event's default (250 ms) would swallow the whole backoff */
                r = sd_event_add_time_relative(m->event, &m->settle_timer, CLOCK_MONOTONIC, SETTLE_FIRST_USEC,
                                               USEC_PER_MSEC, on_settle_timer, m);
                if (r < 0) {
                        log_debug_errno(r, "Failed to add the settle timer, relying on the accounting tick: %m");
                        return;
                }
                (void) sd_event_source_set_description(m->settle_timer, "settle");
                m->settle_interval = SETTLE_FIRST_USEC;
                return;
        }

        (void) sd_event_source_get_enabled(m->settle_timer, &enabled);
        (void) sd_event_source_get_time(m->settle_timer, &next);
        if (enabled != SD_EVENT_OFF && (!soon || next <= now + SETTLE_FIRST_USEC))
                return;
        if (soon || enabled == SD_EVENT_OFF)
                m->settle_interval = SETTLE_FIRST_USEC;
        (void) sd_event_source_set_time_relative(m->settle_timer, m->settle_interval);
        (void) sd_event_source_set_enabled(m->settle_timer, SD_EVENT_ONESHOT);
}

static int on_accounting_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) manager_recheck(m, false);
        if (m->n_targets > 0 || m->n_cgroups > 0)
                manager_account(m);
        m->metrics_dirty = true; /* the file's timestamp says we are alive: rewrite it every tick */
        manager_write_metrics(m);
        manager_notify_status(m);
        (void) sd_event_source_set_time_relative(s, m->policies->daemon.accounting_interval);
        return 0;
}

/* ---- the lock job ---------------------------------------------------------------------------- */

static bool target_plan_covers(const LockPlan *plan, uint64_t start, uint64_t end) {
        for (size_t i = 0; i < plan->n_ranges && start < end; i++) {
                const LockRange *lr = &plan->ranges[i];

                if (lr->start <= start && lr->end > start)
                        start = lr->end;
        }
        return start >= end;
}

static void target_finish(Manager *m, Target *t, const char *state, const char *reason) {
        t->job = JOB_NONE;
        t->replans = 0;
        if (target_young(t, now_usec(CLOCK_MONOTONIC)))
                manager_arm_settle(m, false);
        target_set_state(t, state, reason);
        manager_update_locked_bytes(m);
}

static const char *error_reason(long result) {
        switch (-result) {
        case ENOMEM:
                return "enomem";
        case EPERM:
                return "rlimit";
        case EAGAIN:
                return "eagain";
        default:
                return "error";
        }
}

/* A step could not run: the job ends, with a state that says why. */
static void target_step_failed(Manager *m, Target *t, int r, const char *reason) {
        log_debug_errno(r, "Step for %d (%s) failed%s%s: %m", (int) t->pid, t->comm, isempty(reason) ? "" : ": ",
                        strempty(reason));
        switch (-r) {
        case ESRCH:
                manager_remove_target(m, t->pid);
                return;
        case EPERM:
                if (reason && strncmp(reason, "seccomp:", 8) == 0) {
                        target_finish(m, t, "skipped", reason + 0);
                        return;
                }
                target_finish(m, t, "skipped", "eperm");
                return;
        case EBUSY:
                target_finish(m, t, "skipped", "traced");
                return;
        case ETIMEDOUT:
                target_finish(m, t, "failed", "timeout");
                return;
        case EOPNOTSUPP:
                target_finish(m, t, "skipped", "unsupported");
                return;
        default:
                if (!isempty(reason))
                        target_finish(m, t, "skipped", reason);
                else
                        target_finish(m, t, "failed", "inject");
                return;
        }
}

/* Prefetch anonymous ranges only: page cache read by process_madvise is charged to mlockd's memory
 * cgroup, so file pages are left to the populating mlock2 in the target's own context. */
static int target_plan_prefetch(Target *t, const Maps *maps) {
        for (size_t i = 0; i < t->plan->n_ranges; i++) {
                const LockRange *lr = &t->plan->ranges[i];

                if (lr->locked)
                        continue;
                for (size_t j = 0; j < maps->n; j++) {
                        const MapsRegion *reg = &maps->regions[j];
                        uint64_t s = MAX(reg->start, lr->start), e = MIN(reg->end, lr->end);
                        PrefetchRange *n;

                        if (s >= e || reg->inode != 0 || reg->swap == 0)
                                continue; /* file-backed, or nothing swapped out to read back */
                        n = reallocarray(t->prefetch, t->n_prefetch + 1, sizeof *n);
                        if (!n)
                                return -ENOMEM;
                        t->prefetch = n;
                        t->prefetch[t->n_prefetch++] = (PrefetchRange) { .start = s, .end = e, .chunk = PREFETCH_ANON_CHUNK };
                }
        }
        return 0;
}

static void target_job_plan(Manager *m, Target *t) {
        _cleanup_(maps_freep) Maps *maps = NULL;
        const Policy *p = target_policy(m, t);
        InjectorRequest req;
        InjectorReply reply = {};
        ProcStatus status = {};
        uint64_t soft = UINT64_MAX, hard = UINT64_MAX;
        LockParams params;
        int r;

        if (!p) {
                target_finish(m, t, "skipped", "no-policy");
                return;
        }

        /* a fresh plan starts its steps from the beginning */
        t->cursor_range = 0;
        t->cursor_offset = 0;
        t->done_bytes = 0;
        t->error = NULL;

        request_init(t, INJECTOR_OP_PRECHECK, &req);
        r = injector_call(m->injector, &req, t->pidfd, &reply, NULL);
        if (r < 0) {
                if (r == -ESRCH || streq(reply.reason, "gone")) {
                        manager_remove_target(m, t->pid);
                        return;
                }
                target_finish(m, t, "skipped", isempty(reply.reason) ? "precheck" : reply.reason);
                return;
        }

        r = target_open_maps(m, t, INJECTOR_FILE_SMAPS, &maps);
        if (r < 0) {
                if (r == -ESRCH || r == -ENOENT)
                        manager_remove_target(m, t->pid);
                else
                        target_finish(m, t, "failed", "maps");
                return;
        }

        r = procfs_read_status("/proc", t->pid, 0, &status);
        if (r < 0) {
                manager_remove_target(m, t->pid);
                return;
        }
        if (!(status.cap_eff & (1ULL << CAP_IPC_LOCK_BIT)))
                (void) procfs_read_memlock_limit("/proc", t->pid, &soft, &hard);

        params = (LockParams) {
                .mode = p->mode,
                .regions = p->regions,
                .file_globs = p->region_files,
                .future = p->future,
                .max_locked = p->max_locked,
                .budget = UINT64_MAX,
                .memlock_limit = soft,
                .vm_locked = status.vm_lck,
        };

        /* the cgroup budget and the margin under its memory limit */
        if (t->memcg && m->have_cgroup_layout) {
                CgroupMemory mem = {};
                uint64_t budget = manager_cgroup_budget(m, t->memcg);

                if (cgroup_read_memory(&m->cgroup_layout, t->memcg, &mem) >= 0) {
                        uint64_t in_flight = manager_cgroup_in_flight(m, t->memcg, t);

                        params.budget = cgroup_lockable_bytes(&mem, budget, m->policies->daemon.cgroup_limit_margin);
                        if (params.budget != UINT64_MAX)
                                params.budget = params.budget > in_flight ? params.budget - in_flight : 0;
                }
        }

        t->plan = lock_plan_free(t->plan);
        r = lock_plan(maps, &params, &t->plan);
        if (r < 0) {
                target_finish(m, t, "failed", "plan");
                return;
        }

        /* Raise RLIMIT_MEMLOCK when the policy allows and the injector may (CAP_SYS_RESOURCE). */
        if (streq_ptr(t->plan->trimmed, "rlimit") && p->raise_memlock_limit) {
                uint64_t want = status.vm_lck + t->plan->wanted;

                if (p->max_locked > 0)
                        want = MIN(want, p->max_locked);
                request_init(t, INJECTOR_OP_PRLIMIT, &req);
                req.value = (want + 4095) & ~4095ULL;
                r = injector_call(m->injector, &req, t->pidfd, &reply, NULL);
                if (r >= 0) {
                        log_info("Raised RLIMIT_MEMLOCK of %d (%s) to %" PRIu64 " bytes.", (int) t->pid, t->comm,
                                 (uint64_t) req.value);
                        params.memlock_limit = req.value;
                        t->plan = lock_plan_free(t->plan);
                        if (lock_plan(maps, &params, &t->plan) < 0) {
                                target_finish(m, t, "failed", "plan");
                                return;
                        }
                } else
                        log_debug_errno(r, "Could not raise RLIMIT_MEMLOCK of %d: %m", (int) t->pid);
        }

        if (m->dry_run) {
                char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
                log_info("Would lock %s of %s wanted in %zu ranges of %d (%s), policy %s, mode %s%s%s.",
                         format_bytes(a, sizeof a, t->plan->bytes), format_bytes(b, sizeof b, t->plan->wanted),
                         t->plan->n_ranges, (int) t->pid, t->comm, p->name, lock_mode_to_string(p->mode),
                         t->plan->trimmed ? ", trimmed by " : "", t->plan->trimmed ?: "");
                target_finish(m, t, "skipped", "dry-run");
                return;
        }

        if (t->plan->n_ranges == 0) {
                t->locked_bytes = 0;
                target_finish(m, t, t->plan->trimmed ? "skipped" : "locked", t->plan->trimmed);
                return;
        }

        free(t->prefetch);
        t->prefetch = NULL;
        t->n_prefetch = 0;
        if (p->prefetch && p->mode == LOCK_MODE_FULL && target_plan_prefetch(t, maps) < 0) {
                log_oom();
                t->n_prefetch = 0;
        }
        t->job = t->n_prefetch > 0 ? JOB_PREFETCH : JOB_LOCK;
}

static void target_job_prefetch(Manager *m, Target *t) {
        for (size_t i = 0; i < t->n_prefetch; i += INJECTOR_MAX_RANGES) {
                InjectorRequest req;
                InjectorReply reply = {};
                size_t n = MIN(t->n_prefetch - i, (size_t) INJECTOR_MAX_RANGES);
                int r;

                request_init(t, INJECTOR_OP_PREFETCH, &req);
                req.n_ranges = (uint32_t) n;
                memcpy(req.ranges, t->prefetch + i, n * sizeof(PrefetchRange));
                r = injector_call(m->injector, &req, t->pidfd, &reply, NULL);
                if (r < 0) {
                        log_debug_errno(r, "Prefetch for %d failed, continuing without: %m", (int) t->pid);
                        break;
                }
        }
        t->job = JOB_LOCK;
}

static void target_job_lock(Manager *m, Target *t) {
        const Policy *p = target_policy(m, t);
        char reason[INJECTOR_REASON_MAX] = "";
        uint64_t args[6] = {}, chunk, left;
        LockRange *lr;
        long result = 0;
        int r;

        if (!p) {
                target_finish(m, t, "skipped", "no-policy");
                return;
        }

        /* skip what is done or already locked as wanted */
        while (t->cursor_range < t->plan->n_ranges &&
               (t->plan->ranges[t->cursor_range].locked ||
                t->cursor_offset >= t->plan->ranges[t->cursor_range].end - t->plan->ranges[t->cursor_range].start)) {
                t->cursor_range++;
                t->cursor_offset = 0;
        }
        if (t->cursor_range >= t->plan->n_ranges) {
                t->job = t->plan->mlockall_flags ? JOB_MLOCKALL : JOB_VERIFY;
                return;
        }

        lr = &t->plan->ranges[t->cursor_range];
        left = lr->end - lr->start - t->cursor_offset;
        chunk = MIN(lock_chunk_size(p->mode, t->rate, p->max_pause), left);

        args[0] = lr->start + t->cursor_offset;
        args[1] = chunk;
        args[2] = p->mode == LOCK_MODE_ONFAULT ? MLOCK_ONFAULT : 0;
        r = target_step(m, t, INJECT_MLOCK2, args, &result, reason, sizeof reason);
        if (r < 0) {
                target_step_failed(m, t, r, reason);
                return;
        }
        if (r > 1 && chunk >= (64ULL << 10)) {
                /* r is the hold in usec. Learn the rate for the next chunk: a slower step counts at
                 * once, a faster one only gradually, so one lucky step cannot overshoot MaxPause. */
                double rate = (double) chunk / (double) r;
                t->rate = t->rate <= 0 || rate < t->rate ? rate : t->rate * 0.8 + rate * 0.2;
        }
        if (result == -ENOMEM && t->replans < MAX_REPLANS) {
                /* The range is no longer mapped as planned (a program right after exec is still being
                 * laid out by its loader): plan again from fresh maps rather than report it. */
                log_debug("Process %d (%s) changed its mappings under the plan, planning again.", (int) t->pid,
                          t->comm);
                t->replans++;
                t->job = JOB_PLAN;
                return;
        }
        if (result < 0 && !t->error)
                t->error = error_reason(result);
        t->cursor_offset += chunk;
        t->done_bytes += chunk;
}

static void target_job_mlockall(Manager *m, Target *t) {
        char reason[INJECTOR_REASON_MAX] = "";
        uint64_t args[6] = { (uint64_t) t->plan->mlockall_flags };
        long result = 0;
        int r;

        r = target_step(m, t, INJECT_MLOCKALL, args, &result, reason, sizeof reason);
        if (r < 0) {
                target_step_failed(m, t, r, reason);
                return;
        }
        if (result < 0 && !t->error)
                t->error = error_reason(result);
        else if (result == 0)
                t->mlockall_done = true;
        t->job = JOB_VERIFY;
}

static void target_job_verify(Manager *m, Target *t) {
        _cleanup_(maps_freep) Maps *maps = NULL;
        const Policy *p = target_policy(m, t);
        LockVerify v;
        int r;

        r = target_open_maps(m, t, INJECTOR_FILE_SMAPS, &maps);
        if (r < 0) {
                manager_remove_target(m, t->pid);
                return;
        }
        lock_verify(maps, t->plan, p ? p->mode : LOCK_MODE_FULL, &v);
        t->locked_bytes = v.locked;

        {
                char a[FORMAT_TIMESPAN_MAX];
                log_debug("Process %d (%s): longest hold %s, rate %.0f bytes/us.", (int) t->pid, t->comm,
                          format_timespan(a, sizeof a, t->max_hold), t->rate);
        }
        if (v.complete && !t->plan->trimmed && !t->error && !t->plan->future_refused)
                target_finish(m, t, "locked", NULL);
        else if (v.flagged > 0)
                target_finish(m, t, "partial",
                              t->plan->trimmed ?: t->error ?: t->plan->future_refused ? "rlimit" : "incomplete");
        else
                target_finish(m, t, "failed", t->error ?: t->plan->trimmed ?: "not-locked");
        manager_account(m);
}

/* Run one unit of t's job. */
static void target_run_step(Manager *m, Target *t) {
        switch (t->job) {
        case JOB_PLAN:
                target_job_plan(m, t);
                break;
        case JOB_PREFETCH:
                target_job_prefetch(m, t);
                break;
        case JOB_LOCK:
                target_job_lock(m, t);
                break;
        case JOB_MLOCKALL:
                target_job_mlockall(m, t);
                break;
        case JOB_VERIFY:
                target_job_verify(m, t);
                break;
        default:
                t->job = JOB_NONE;
        }
}

/* Run t's job to its end now (Apply). t may be freed: returns the target if it still exists. */
static Target *target_run_job(Manager *m, pid_t pid) {
        Target *t;

        while ((t = manager_get_target(m, pid)) && t->job != JOB_NONE)
                target_run_step(m, t);
        return t;
}

static int on_work(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        pid_t pid;
        Target *t;

        if (m->n_queue == 0) {
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }

        pid = m->queue[0];
        memmove(m->queue, m->queue + 1, (m->n_queue - 1) * sizeof(pid_t));
        m->n_queue--;

        t = manager_get_target(m, pid);
        if (!t)
                return 0;
        t->queued = false;
        target_run_step(m, t);

        /* the target may be gone now; round robin: back of the queue if there is more to do */
        t = manager_get_target(m, pid);
        if (t && t->job != JOB_NONE)
                manager_queue(m, t);
        if (m->n_queue == 0)
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

/* Undo what mlockd locked in t: munlock its planned ranges, or munlockall after an mlockall. */
static int target_unlock(Manager *m, Target *t) {
        char reason[INJECTOR_REASON_MAX] = "";
        uint64_t args[6] = {};
        long result = 0;
        int r = 0;

        t->job = JOB_NONE;
        if (t->mlockall_done) {
                r = target_step(m, t, INJECT_MUNLOCKALL, args, &result, reason, sizeof reason);
                if (r >= 0)
                        t->mlockall_done = false;
        } else
                for (size_t i = 0; t->plan && i < t->plan->n_ranges; i++) {
                        const LockRange *lr = &t->plan->ranges[i];

                        args[0] = lr->start;
                        args[1] = lr->end - lr->start;
                        r = target_step(m, t, INJECT_MUNLOCK, args, &result, reason, sizeof reason);
                        if (r < 0)
                                break;
                }
        if (r < 0)
                return r;
        t->locked_bytes = 0;
        t->plan = lock_plan_free(t->plan);
        manager_update_locked_bytes(m);
        return 0;
}

/* ---- bus actions -------------------------------------------------------------------------------- */

int manager_apply(Manager *m, pid_t pid, const char **ret_state) {
        Target *t;
        int r;

        if (pid <= 0 || kill(pid, 0) < 0) {
                if (pid > 0 && errno == EPERM)
                        goto exists;
                return -ESRCH;
        }
exists:
        if (pid_is_ours(m, pid)) {
                *ret_state = "skipped:self";
                return -EPERM;
        }

        t = manager_get_target(m, pid);
        if (t) {
                t->released = false;
                manager_start_job(m, t);
        } else {
                r = manager_discover(m, pid, false, &t);
                if (r < 0)
                        return r == -ENOENT ? -ESRCH : r;
                if (r == 0)
                        return -ENOENT;
        }

        t = target_run_job(m, pid);
        if (!t)
                return -ESRCH;
        *ret_state = t->state;
        return 0;
}

int manager_release(Manager *m, pid_t pid) {
        Target *t = manager_get_target(m, pid);
        int r;

        if (!t)
                return -ESRCH;
        r = target_unlock(m, t);
        if (r == -ESRCH) {
                manager_remove_target(m, pid);
                return -ESRCH;
        }
        if (r < 0)
                return r;
        t->released = true;
        target_set_state(t, "skipped", "released");
        return 0;
}

int manager_reload(Manager *m, char ***ret_problems) {
        _cleanup_(policy_set_freep) PolicySet *fresh = NULL;
        char buf[64];
        int r;

        snprintf(buf, sizeof buf, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec(CLOCK_MONOTONIC));
        (void) sd_notify(false, buf);

        r = policy_set_load(m->config_dir, streq(m->config_dir, PKGSYSCONFDIR) ? LIBDIR_POLICY : NULL, &fresh);
        if (r < 0) {
                (void) sd_notify(false, "READY=1");
                if (ret_problems) {
                        char *msg = NULL;
                        *ret_problems = NULL;
                        if (asprintf(&msg, "%s: %s", m->config_dir, strerror(-r)) >= 0)
                                (void) strv_consume(ret_problems, msg);
                }
                return log_error_errno(r, "Failed to reload the configuration from %s, keeping the old one: %m",
                                       m->config_dir);
        }
        if (!strv_isempty(fresh->problems)) {
                STRV_FOREACH(p, fresh->problems)
                        log_error("%s", *p);
                log_error("The new configuration has problems, keeping the old one.");
                if (ret_problems)
                        *ret_problems = TAKE_PTR(fresh->problems);
                (void) sd_notify(false, "READY=1");
                return -EINVAL;
        }

        policy_set_free(m->policies);
        m->policies = TAKE_PTR(fresh);
        log_info("Reloaded %zu policies from %s.", m->policies->n_policies, m->config_dir);

        /* Re-evaluate every target: a policy that went away or says Mode=none undoes its locks. */
        for (size_t i = m->n_targets; i-- > 0;) {
                Target *t = m->targets[i];
                const Policy *p = target_match(m, t);
                pid_t pid = t->pid;

                if (t->released)
                        continue;
                if (!p || p->mode == LOCK_MODE_NONE || !streq_ptr(p->name, t->policy)) {
                        if (t->plan && target_unlock(m, t) == -ESRCH) {
                                manager_remove_target(m, pid);
                                continue;
                        }
                        if (!p) {
                                log_info("Process %d (%s) no longer matches a policy; unlocked.", (int) pid, t->comm);
                                manager_remove_target(m, pid);
                                continue;
                        }
                        free(t->policy);
                        t->policy = strdup(p->name);
                }
                if (p->mode == LOCK_MODE_NONE)
                        target_set_state(t, "skipped", "mode-none");
                else
                        manager_start_job(m, t);
        }

        (void) manager_scan(m);
        (void) sd_event_source_set_time_relative(m->accounting_timer, 0);
        (void) sd_notify(false, "READY=1");
        return 0;
}

/* ---- event sources ------------------------------------------------------------------------------ */

static void manager_handle_event(Manager *m, const ProcEvent *ev) {
        switch (ev->type) {
        case PROC_EVENT_FORK:
                if (!ev->thread)
                        (void) manager_discover(m, ev->tgid, true, NULL);
                break;
        case PROC_EVENT_EXEC:
                /* exec wiped the locks and MCL_FUTURE: a new image to match */
                manager_remove_target(m, ev->tgid);
                (void) manager_discover(m, ev->tgid, true, NULL);
                break;
        case PROC_EVENT_EXIT:
                if (!ev->thread && ev->pid == ev->tgid)
                        manager_remove_target(m, ev->tgid);
                break;
        case PROC_EVENT_COMM:
                if (!manager_get_target(m, ev->tgid))
                        (void) manager_discover(m, ev->tgid, true, NULL);
                break;
        case PROC_EVENT_LOST:
                log_notice("Process events were lost, rescanning /proc.");
                (void) manager_scan(m);
                break;
        default:
                break;
        }
}

static int on_procmon(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        ProcEvent events[64];

        for (unsigned round = 0; round < 16; round++) {
                size_t n = 0;
                int r = procmon_receive(fd, events, ELEMENTSOF(events), &n);

                if (r == -EAGAIN)
                        break;
                if (r < 0) {
                        log_warning_errno(r, "Failed to receive process events, rescanning: %m");
                        (void) manager_scan(m);
                        break;
                }
                for (size_t i = 0; i < n; i++)
                        manager_handle_event(m, &events[i]);
        }
        return 0;
}

static int on_scan_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) manager_scan(m);
        (void) sd_event_source_set_time_relative(s, m->policies->daemon.scan_interval);
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) manager_reload(userdata, NULL);
        return 0;
}

static int manager_add_procmon(Manager *m) {
        int r;

        r = procmon_open(&m->procmon_fd);
        if (r < 0) {
                m->procmon_fd = -EBADF;
                log_warning_errno(r, "Failed to subscribe to the proc connector, scanning /proc every %s instead: %m",
                                  "ScanInterval=");
                return 0;
        }
        r = sd_event_add_io(m->event, &m->procmon_source, m->procmon_fd, EPOLLIN, on_procmon, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the proc connector: %m");
        (void) sd_event_source_set_description(m->procmon_source, "procmon");
        /* before the lock work: an exec should be seen before the old image is worked on */
        (void) sd_event_source_set_priority(m->procmon_source, SD_EVENT_PRIORITY_NORMAL - 1);
        return 0;
}

static int manager_add_timers(Manager *m) {
        int r;

        if (m->procmon_fd < 0 && m->policies->daemon.scan_interval > 0) {
                r = sd_event_add_time_relative(m->event, &m->scan_timer, CLOCK_MONOTONIC,
                                               m->policies->daemon.scan_interval, 0, on_scan_timer, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to add the scan timer: %m");
                (void) sd_event_source_set_description(m->scan_timer, "scan");
        }

        r = sd_event_add_time_relative(m->event, &m->accounting_timer, CLOCK_MONOTONIC,
                                       m->policies->daemon.accounting_interval, 0, on_accounting_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the accounting timer: %m");
        (void) sd_event_source_set_description(m->accounting_timer, "accounting");
        (void) sd_event_source_set_enabled(m->accounting_timer, SD_EVENT_ON);
        return 0;
}

static int manager_add_work(Manager *m) {
        int r;

        r = sd_event_add_defer(m->event, &m->work_source, on_work, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the work source: %m");
        (void) sd_event_source_set_description(m->work_source, "lock-work");
        (void) sd_event_source_set_priority(m->work_source, SD_EVENT_PRIORITY_IDLE);
        return sd_event_source_set_enabled(m->work_source, SD_EVENT_OFF);
}

static int manager_add_signals(Manager *m) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");

        r = sd_event_set_signal_exit(m->event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set up SIGTERM/SIGINT handling: %m");
        r = sd_event_add_signal(m->event, &m->sighup_source, SIGHUP, on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up SIGHUP handling: %m");
        (void) sd_event_source_set_description(m->sighup_source, "sighup");
        return 0;
}

/* ---- life cycle ------------------------------------------------------------------------------- */

int manager_new(const char *config_dir, bool dry_run, PolicySet *policies, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return log_oom();
        m->procmon_fd = -EBADF;
        m->dry_run = dry_run;
        m->config_dir = strdup(config_dir);
        if (!m->config_dir)
                return log_oom();

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");
        (void) sd_event_set_watchdog(m->event, true);

        r = cgroup_layout_detect("/sys/fs/cgroup", &m->cgroup_layout);
        if (r < 0)
                log_warning_errno(r, "No memory cgroup controller found, cgroup accounting is off: %m");
        else
                m->have_cgroup_layout = true;

        m->policies = policies;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_targets; i++)
                target_free(m->targets[i]);
        free(m->targets);
        for (size_t i = 0; i < m->n_cgroups; i++)
                free(m->cgroups[i].path);
        free(m->cgroups);
        free(m->queue);
        sd_event_source_unref(m->procmon_source);
        sd_event_source_unref(m->scan_timer);
        sd_event_source_unref(m->accounting_timer);
        sd_event_source_unref(m->settle_timer);
        sd_event_source_unref(m->work_source);
        sd_event_source_unref(m->sighup_source);
        safe_close(m->procmon_fd);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        injector_free(m->injector);
        if (m->have_cgroup_layout)
                cgroup_layout_done(&m->cgroup_layout);
        policy_set_free(m->policies);
        free(m->config_dir);
        free(m);
        return NULL;
}

int manager_prepare(Manager *m) {
        int r;

        r = injector_start(&m->injector);
        if (r < 0)
                return r;
        r = manager_add_signals(m);
        if (r < 0)
                return r;
        /* opened while we may still hold CAP_NET_ADMIN, for SO_RCVBUFFORCE */
        return manager_add_procmon(m);
}

int manager_run(Manager *m, bool debug_seccomp) {
        int r;

        r = manager_add_work(m);
        if (r < 0)
                return r;
        r = manager_add_timers(m);
        if (r < 0)
                return r;

        r = manager_scan(m);
        if (r < 0)
                return r;

        r = manager_bus_connect(m);
        if (r < 0)
                return r;

        r = sandbox_apply_seccomp(debug_seccomp);
        if (r < 0)
                return log_error_errno(r, "Failed to install the seccomp filter: %m");

        manager_notify_status(m);
        manager_metrics_start(m); /* a file from a previous run must not be taken for ours */
        (void) sd_notify(false, "READY=1");
        log_info("mlockd %s running: %zu policies, %zu targets.", PACKAGE_VERSION, m->policies->n_policies,
                 m->n_targets);

        for (;;) {
                r = sd_event_get_state(m->event);
                if (r < 0)
                        return log_error_errno(r, "Event loop failed: %m");
                if (r == SD_EVENT_FINISHED)
                        break;
                r = sd_event_run(m->event, UINT64_MAX);
                if (r < 0)
                        return log_error_errno(r, "Event loop failed: %m");
        }

        (void) sd_notify(false, "STOPPING=1");
        log_info("Stopping; %zu targets keep their locks.", m->n_targets);
        manager_metrics_stop(m);
        return 0;
}

/* ---- Explain (operator helper; additive) ------------------------------------------------------ */

int manager_explain_process(Manager *m, pid_t pid, MatchExplanation **ret) {
        _cleanup_free_ char *unit = NULL;
        Target *t, *fresh = NULL;
        MatchProcess p;
        int r;

        t = manager_get_target(m, pid);
        if (!t) {
                /* not a target: read it the way discovery does, into a Target of our own */
                fresh = calloc(1, sizeof *fresh);
                if (!fresh)
                        return -ENOMEM;
                fresh->manager = m;
                fresh->pid = pid;
                fresh->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
                if (fresh->pidfd < 0) {
                        target_free(fresh);
                        return -ESRCH;
                }
                r = target_read(m, fresh);
                if (r < 0) {
                        target_free(fresh);
                        return r == -ENOENT ? -ENOENT : -ESRCH;
                }
                t = fresh;
        }
        if (t->cgroup)
                (void) unit_from_cgroup_path(t->cgroup, &unit);
        p = (MatchProcess) {
                .pid = t->pid, .exe = t->exe, .comm = t->comm,
                .cgroup = t->cgroup, .unit = unit, .uid = t->uid,
        };
        r = match_explain(m->policies, &p, ret);
        target_free(fresh);
        return r;
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
