/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manager: wiring. It discovers processes (proc connector, /proc scans, pidfds for exits),
 * matches them to policies, starts their jobs (manager-jobs.c runs them through the injector
 * client, one round trip at a time on the event loop), answers the bus's actions, reloads, and
 * logs each target's final state in one place. Accounts and metrics are in manager-account.c;
 * decisions in job.c, target.c (the ledger) and lib/account.c. */

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "account.h"
#include "fileio.h"
#include "injector-client.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "manager-internal.h"
#include "maps.h"
#include "mapwatch.h"
#include "parse-util.h"
#include "mounts.h"
#include "match.h"
#include "metrics.h"
#include "procfs.h"
#include "procmon.h"
#include "sandbox.h"
#include "strv.h"
#include "units.h"

#define SMAPS_MAX (64U * 1024U * 1024U)
#define SETTLE_USEC (2 * USEC_PER_SEC)
#define SETTLE_FIRST_USEC (1 * USEC_PER_MSEC)
#define SETTLE_MAX_INTERVAL_USEC (500 * USEC_PER_MSEC)
#define PROCMON_PROBE_USEC (1 * USEC_PER_SEC)
#define FORK_DEFER_USEC (5 * USEC_PER_MSEC)

/* ---- the target list ----------------------------------------------------------------------- */

static size_t target_index(Target **list, size_t n, pid_t pid, bool *found) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (list[mid]->pid < pid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = lo < n && list[lo]->pid == pid;
        return lo;
}

Target *manager_get_target(Manager *m, pid_t pid) {
        bool found;
        size_t i = target_index(m->targets, m->n_targets, pid, &found);

        return found ? m->targets[i] : NULL;
}

Target *manager_get_candidate(Manager *m, pid_t pid) {
        bool found;
        size_t i = target_index(m->candidates, m->n_candidates, pid, &found);

        return found ? m->candidates[i] : NULL;
}

static int list_add(Target ***list, size_t *n, Target *t) {
        bool found;
        size_t i = target_index(*list, *n, t->pid, &found);
        Target **l;

        if (found)
                return -EEXIST;
        l = reallocarray(*list, *n + 1, sizeof(Target *));
        if (!l)
                return -ENOMEM;
        *list = l;
        memmove(l + i + 1, l + i, (*n - i) * sizeof(Target *));
        l[i] = t;
        (*n)++;
        return 0;
}

static void list_remove(Target **list, size_t *n, Target *t) {
        bool found;
        size_t i = target_index(list, *n, t->pid, &found);

        if (found && list[i] == t) {
                memmove(list + i, list + i + 1, (*n - i - 1) * sizeof(Target *));
                (*n)--;
        }
}

void manager_update_locked_bytes(Manager *m) {
        uint64_t sum = 0;

        for (size_t i = 0; i < m->n_targets; i++)
                sum += m->targets[i]->locked_bytes;
        if (sum != m->locked_bytes) {
                m->locked_bytes = sum;
                bus_emit_locked_bytes_changed(m);
        }
        m->metrics_dirty = true;
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

const Policy *target_policy(Manager *m, const Target *t) {
        return t->policy ? policy_set_find(m->policies, t->policy) : NULL;
}

/* ---- waiting bus calls ------------------------------------------------------------------------ */

static int waiters_add(sd_bus_message ***list, size_t *n, sd_bus_message *message) {
        sd_bus_message **l = reallocarray(*list, *n + 1, sizeof *l);

        if (!l)
                return -ENOMEM;
        *list = l;
        l[(*n)++] = sd_bus_message_ref(message);
        return 0;
}

/* Answer every waiting Apply with r (0: t's state). */
void target_answer_apply(Manager *m, Target *t, int r) {
        sd_bus_message **l = TAKE_PTR(t->apply_waiters);
        size_t n = t->n_apply_waiters;

        t->n_apply_waiters = 0;
        for (size_t i = 0; i < n; i++) {
                bus_reply_apply(m, l[i], t->pid, r, r == 0 ? t : NULL);
                sd_bus_message_unref(l[i]);
        }
        free(l);
}

void target_answer_release(Manager *m, Target *t, int r) {
        sd_bus_message **l = TAKE_PTR(t->release_waiters);
        size_t n = t->n_release_waiters;

        t->n_release_waiters = 0;
        for (size_t i = 0; i < n; i++) {
                bus_reply_release(m, l[i], t->pid, r, t);
                sd_bus_message_unref(l[i]);
        }
        free(l);
}

/* ---- state and its one log line ------------------------------------------------------------------ */

/* Every final state goes through here: skipped/failed at warning, partial at notice, locked at
 * info (contracts.md), with the journal fields of log_target_result(). */
static void manager_log_result(const Target *t) {
        _cleanup_free_ char *reason = NULL;
        const char *colon = strchr(t->state, ':');
        char b[FORMAT_BYTES_MAX];
        int priority;

        switch (t->state_id) {
        case TARGET_SKIPPED:
        case TARGET_FAILED:
                priority = LOG_WARNING;
                break;
        case TARGET_PARTIAL:
                priority = LOG_NOTICE;
                break;
        default:
                priority = LOG_INFO;
        }
        if (colon)
                reason = strdup(colon + 1);
        log_target_result(priority, t->policy, t->pid, t->comm, target_state_to_string(t->state_id), reason,
                          "Process %d (%s), policy %s: %s, %s locked%s%s.", (int) t->pid, strempty(t->comm),
                          t->policy ?: "-", t->state, format_bytes(b, sizeof b, t->locked_bytes),
                          t->reason != TARGET_REASON_NONE ? ": " : "",
                          t->reason != TARGET_REASON_NONE ? target_reason_describe(t->reason, t->detail) : "");
}

void manager_set_state(Manager *m, Target *t, TargetState s, TargetReason r, const char *detail) {
        int q = target_set_state(t, s, r, detail);

        if (q < 0) {
                log_oom();
                return;
        }
        if (q == 0)
                return;
        if (s != TARGET_PENDING)
                manager_log_result(t);
        bus_emit_target_changed(m, t);
        m->metrics_dirty = true;
}

/* ---- removing ------------------------------------------------------------------------------- */

static void target_stop_job(Manager *m, Target *t) {
        if (t->job_call)
                injector_client_cancel(t->injector, t->job_call);
        t->job_call = NULL;
        t->hold_source = sd_event_source_disable_unref(t->hold_source);
        t->job = job_free(t->job);
}

static void target_drop(Manager *m, Target *t) {
        if (t->call)
                injector_client_cancel(t->injector, t->call);
        t->call = NULL;
        target_stop_job(m, t);
        target_answer_apply(m, t, -ESRCH);
        target_answer_release(m, t, -ESRCH);
        target_free(t);
}

void manager_remove_target(Manager *m, Target *t) {
        log_debug("Forgetting target %d.", (int) t->pid);
        list_remove(m->targets, &m->n_targets, t);
        target_drop(m, t);
        manager_update_locked_bytes(m);
}

static void manager_remove_candidate(Manager *m, Target *t, int apply_r) {
        list_remove(m->candidates, &m->n_candidates, t);
        target_answer_apply(m, t, apply_r);
        target_drop(m, t);
}

static void manager_forget_pid(Manager *m, pid_t pid) {
        Target *t = manager_get_target(m, pid);

        if (t)
                manager_remove_target(m, t);
        t = manager_get_candidate(m, pid);
        if (t)
                manager_remove_candidate(m, t, -ESRCH);
}

bool target_young(const Target *t, usec_t now) {
        return t->discovered + SETTLE_USEC > now;
}

/* ---- discovery -------------------------------------------------------------------------------- */

static bool pid_is_ours(Manager *m, pid_t pid) {
        if (pid == getpid())
                return true;
        for (size_t i = 0; i < m->n_injectors; i++)
                if (injector_client_is_ours(m->injectors[i], pid))
                        return true;
        return false;
}

/* The worker that serves pid already, or the least queued. */
static InjectorClient *manager_pick_injector(Manager *m, pid_t pid) {
        InjectorClient *best = NULL;

        /* one worker: no queue walk (with thousands queued at once it was 5% of the manager's
         * CPU, a walk for every new target) */
        if (m->n_injectors == 1)
                return m->injectors[0];
        for (size_t i = 0; i < m->n_injectors; i++)
                if (injector_client_has_pid(m->injectors[i], pid))
                        return m->injectors[i];
        for (size_t i = 0; i < m->n_injectors; i++)
                if (!best || injector_client_queued(m->injectors[i]) < injector_client_queued(best))
                        best = m->injectors[i];
        return best;
}

InjectorClient *manager_injector(Manager *m, Target *t) {
        if (!t->injector)
                t->injector = manager_pick_injector(m, t->pid);
        return t->injector;
}

/* What matching needs that mlockd can read itself. -ESRCH: gone; -ENOENT: not a process we act on. */
static int target_read(Target *t) {
        _cleanup_(cgroup_paths_done) CgroupPaths paths = {};
        ProcStat st = {};
        ProcStatus status = {};
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
        /* read before any smaps read of its plan: the baseline of its size samples */
        t->checked_size = status.vm_size;

        r = cgroup_pid_get_paths("/proc", t->pid, &paths);
        if (r >= 0) {
                const char *p = cgroup_paths_match_path(&paths);
                free(t->cgroup);
                t->cgroup = p ? strdup(p) : NULL;
                free(t->memcg);
                t->memcg = paths.memory ? strdup(paths.memory) : (paths.unified ? strdup(paths.unified) : NULL);
                /* kpagecgroup names a page's memcg by this inode */
                t->memcg_ino = 0;
                t->account_gen = 0; /* its account is looked up again */
                if (t->memcg && t->manager && t->manager->have_cgroup_layout)
                        (void) cgroup_inode(&t->manager->cgroup_layout, t->memcg, &t->memcg_ino);
        }
        return 0;
}

/* t as matching sees it; *unit (derived from its cgroup) is the caller's to free */
static MatchProcess target_match_process(const Target *t, char **unit) {
        *unit = NULL;
        if (t->cgroup)
                (void) unit_from_cgroup_path(t->cgroup, unit);
        return (MatchProcess) {
                .pid = t->pid, .exe = t->exe, .comm = t->comm,
                .cgroup = t->cgroup, .unit = *unit, .uid = t->uid,
        };
}

static const Policy *target_match(Manager *m, Target *t) {
        _cleanup_free_ char *unit = NULL;
        MatchProcess p = target_match_process(t, &unit);

        return match_policy(m->policies, &p);
}

/* Whether its exe, not yet known, could still make it match. */
static bool target_may_match(Manager *m, const Target *t) {
        _cleanup_free_ char *unit = NULL;
        MatchProcess p = target_match_process(t, &unit);

        return match_possible_without_exe(m->policies, &p);
}

/* The pidfd turns readable when the whole thread group is gone: a dead target goes at once, with
 * or without proc events (a PID namespace gets none), and a leader's exit while other threads run
 * is not an exit. */
static int on_target_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Target *t = userdata;
        Manager *m = t->manager;

        t->exit_source = sd_event_source_disable_unref(t->exit_source);
        if (manager_get_target(m, t->pid) == t)
                manager_remove_target(m, t);
        else if (manager_get_candidate(m, t->pid) == t)
                manager_remove_candidate(m, t, -ESRCH);
        return 0;
}

static void target_watch_exit(Manager *m, Target *t) {
        int r;

        /* edge-triggered: a dead process's pidfd stays readable, and level-triggered every
         * epoll_wait polled every one not yet dispatched again (2,000 killed at once: quadratic) */
        r = sd_event_add_io(m->event, &t->exit_source, t->pidfd, EPOLLIN | EPOLLET, on_target_exit, t);
        if (r < 0) {
                log_debug_errno(r, "Failed to watch the pidfd of %d, relying on rescans: %m", (int) t->pid);
                return;
        }
        (void) sd_event_source_set_description(t->exit_source, "target-exit");
        /* before lock work: a dead target's pending steps are dropped */
        (void) sd_event_source_set_priority(t->exit_source, SD_EVENT_PRIORITY_NORMAL - 1);
}

static void manager_arm_accounting(Manager *m, usec_t usec);
static bool target_watch(Manager *m, Target *t);

/* The candidate's exe is known (or unreadable): match it, and make it a target or drop it. */
static void manager_match_candidate(Manager *m, Target *t, bool defer) {
        const Policy *p = target_match(m, t);
        int r;

        t->deferred = false;
        if (!p) {
                manager_remove_candidate(m, t, -ENOENT);
                return;
        }
        list_remove(m->candidates, &m->n_candidates, t);
        t->policy = strdup(p->name);
        if (!t->policy) {
                log_oom();
                target_drop(m, t);
                return;
        }
        r = list_add(&m->targets, &m->n_targets, t);
        if (r < 0) {
                if (r != -EEXIST)
                        log_oom();
                target_drop(m, t);
                return;
        }
        log_debug("Process %d (%s, %s) matches policy %s.", (int) t->pid, t->comm, t->exe ?: "?", p->name);
        bus_emit_target_changed(m, t);
        manager_arm_accounting(m, m->policies->daemon.accounting_interval);

        if (p->mode == LOCK_MODE_NONE && t->n_apply_waiters == 0)
                manager_set_state(m, t, TARGET_SKIPPED, TARGET_REASON_MODE_NONE, NULL);
        else {
                /* planned at once; one just forked or exec'd is still laying itself out, and what
                 * it maps next is caught by the young rechecks: its watch, asked for first, or
                 * else its VmSize sampled on the settle timer */
                bool watching = defer && target_watch(m, t);

                manager_start_job(m, t, JOB_LOCK, THEN_NOTHING);
                if (defer && !watching)
                        manager_arm_settle(m, true);
        }
}

static void on_exe_reply(int r, const InjectorReply *reply, int fd, void *userdata);

static int target_ask_exe(Manager *m, Target *t) {
        InjectorRequest req = { .magic = INJECTOR_MAGIC, .op = INJECTOR_OP_EXE, .pid = t->pid,
                                .starttime = t->starttime,
                                .flags = t->pid == 1 ? INJECTOR_FLAG_ALLOW_PID1 : 0 };

        return injector_client_submit(manager_injector(m, t), &req, t->pidfd, INJECTOR_TIMEOUT_USEC, on_exe_reply,
                                      t, &t->call);
}

static void on_exe_reply(int r, const InjectorReply *reply, int fd, void *userdata) {
        Target *t = userdata;
        Manager *m = t->manager;

        safe_close(fd);
        t->call = NULL;
        /* its injector was lost in the call, the process left running: the next one is asked (each
         * retry follows a loss of its own) */
        if (r == -ECONNRESET && !reply && target_ask_exe(m, t) >= 0)
                return;
        if (r == -ESRCH) {
                manager_remove_candidate(m, t, -ESRCH);
                return;
        }
        free(t->exe);
        t->exe = r >= 0 && reply ? strdup(reply->path) : NULL;
        manager_match_candidate(m, t, t->deferred);
}

static bool target_read_exe_ourselves(Target *t) {
        char *exe = NULL;

        if (procfs_read_exe("/proc", t->pid, &exe) < 0)
                return false;
        if (syscall(SYS_pidfd_send_signal, t->pidfd, 0, NULL, 0) < 0) {
                free(exe);
                return false; /* gone: the injector's way finds that out as well */
        }
        free(t->exe);
        t->exe = exe;
        return true;
}

/* A process appeared (scan, fork, exec, comm change, Apply): read it and ask the injector for its
 * exe (/proc/PID/exe needs ptrace access, which only the injector has). Returns the candidate, 0
 * when it is nothing to us, negative when gone. */
static int manager_discover(Manager *m, pid_t pid, bool defer, Target **ret) {
        _cleanup_(target_freep) Target *t = NULL;
        int r;

        if (pid <= 0 || pid_is_ours(m, pid))
                return 0;
        if ((t = manager_get_target(m, pid)) || (t = manager_get_candidate(m, pid))) {
                if (ret)
                        *ret = t;
                t = NULL;
                return 1;
        }

        r = target_new(m, pid, &t);
        if (r < 0)
                return log_oom();
        t->discovered = now_usec(CLOCK_MONOTONIC);
        t->inherited = !m->scanned;
        t->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (t->pidfd < 0)
                return -ESRCH;
        r = target_read(t);
        if (r < 0)
                return r == -ENOENT ? 0 : r;

        t->deferred = defer; /* until matched: whether to plan at once */

        /* what is known already rules out every policy, whatever the exe: no exe to read (for a
         * process of another owner, a round trip that wakes the injector). An Apply answers why. */
        if (!ret && !target_may_match(m, t))
                return 0;

        /* A process of our own uid that is dumpable lets us read its exe without ptrace rights:
         * matched now, without an injector round trip. The pidfd, opened before, says the pid was
         * not reused meanwhile. An Apply waits on the candidate, so it takes the injector's way. */
        if (!ret && target_read_exe_ourselves(t)) {
                Target *c = t;

                r = list_add(&m->candidates, &m->n_candidates, t);
                if (r < 0)
                        return log_oom();
                TAKE_PTR(t);
                target_watch_exit(m, c);
                manager_match_candidate(m, c, defer); /* c may be gone after this */
                return 1;
        }

        r = list_add(&m->candidates, &m->n_candidates, t);
        if (r < 0)
                return log_oom();
        r = target_ask_exe(m, t);
        if (r < 0) {
                list_remove(m->candidates, &m->n_candidates, t);
                return r;
        }
        target_watch_exit(m, t);
        if (ret)
                *ret = t;
        TAKE_PTR(t);
        return 1;
}

static int target_sample_status(Manager *m, Target *t);

/* Whether a target whose events were lost exec'd another program: its name changed and nothing is
 * locked in it any more (an exec unlocks everything; a rename, which events would not have made
 * mlockd look at again either, keeps the locks). */
static bool target_exec_unannounced(Manager *m, Target *t, const ProcStat *st) {
        if (streq_ptr(st->comm, t->comm))
                return false;
        return target_sample_status(m, t) >= 0 && t->vm_lck == 0; /* read now, not this tick's */
}

/* A scan of /proc. after_loss: process events were dropped, so an exec may have gone unannounced.
 * A candidate still waiting for its exe may be answered with the image from before an exec, and
 * would be dropped on it: it is looked at afresh. A target that exec'd another program
 * (target_exec_unannounced()) is looked at afresh too, unless Release()d; an exec of the same
 * program is left to the accounting tick, which finds its locks gone. */
static int manager_scan_full(Manager *m, bool after_loss) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r;

        r = procmon_scan("/proc", &pids, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to scan /proc: %m");

        for (size_t i = m->n_candidates; after_loss && i-- > 0;) {
                Target *t = m->candidates[i];

                if (t->n_apply_waiters == 0)
                        manager_remove_candidate(m, t, -ESRCH);
        }
        /* forget targets that are gone or were replaced by a new process with the same pid */
        for (size_t i = m->n_targets; i-- > 0;) {
                Target *t = m->targets[i];
                ProcStat st = {};

                if (procfs_read_stat("/proc", t->pid, &st) < 0 || st.starttime != t->starttime)
                        manager_remove_target(m, t);
                else if (after_loss && !t->released && target_exec_unannounced(m, t, &st)) {
                        log_debug("Process %d is %s now, no longer %s, and has nothing locked: looking at it "
                                  "again.", (int) t->pid, strempty(st.comm), strempty(t->comm));
                        manager_remove_target(m, t);
                }
                proc_stat_done(&st);
        }

        for (size_t i = 0; i < n; i++)
                (void) manager_discover(m, pids[i], false, NULL);
        log_debug("Scanned %zu %s, %zu %s.", n, PLURAL(n, "process", "processes"), m->n_targets,
                  PLURAL(m->n_targets, "target", "targets"));
        return 0;
}

static int manager_scan(Manager *m) {
        return manager_scan_full(m, false);
}

/* ---- rechecks: programs map more after they were locked --------------------------------------- */

static void target_recheck(Manager *m, Target *t);

static void on_recheck_reply(int r, const InjectorReply *reply, int fd, void *userdata) {
        _cleanup_(maps_freep) Maps *smaps = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int f = fd;
        Target *t = userdata;
        Manager *m = t->manager;
        const Policy *p = target_policy(m, t);

        t->call = NULL;
        if (r == -ECONNRESET && !reply && p && !t->job) {
                target_recheck(m, t); /* its injector was lost in the call: the spare reads them */
                return;
        }
        if (r < 0 || f < 0 || !p || t->job)
                return;
        if (read_full_fd(f, SMAPS_MAX, &text, NULL) < 0 || maps_parse(text, &smaps) < 0)
                return;
        if (!p->lock_network_files && regions_select_files(p->regions)) {
                /* what the plan leaves out (network and FUSE files) is not "more" to lock */
                _cleanup_(mounts_freep) Mounts *mounts = NULL;

                if (mounts_read("/proc", t->pid, &mounts) >= 0)
                        (void) maps_exclude_may_block(smaps, mounts);
        }
        if (ledger_needs_more(&t->ledger, smaps, p->regions, p->region_files)) {
                log_debug("Process %d (%s) mapped more memory, planning again.", (int) t->pid, t->comm);
                /* planned from this read (the job's own would find the same) */
                manager_start_lock_from(m, t, TAKE_PTR(smaps));
                return;
        }
        if (t->watch_pending) /* it mapped more while this was read: once more */
                target_recheck(m, t);
}

/* A /proc file of t, kept open in *fd: opened by pid when it is not, and then checked to be still
 * the process the pidfd holds, so the file is its own (a reused pid is another file). */
static int target_kept_file(Target *t, int (*open_file)(const char *, pid_t, int *), int *fd) {
        _cleanup_close_ int f = -EBADF;
        int r;

        if (*fd >= 0)
                return *fd;
        r = open_file("/proc", t->pid, &f);
        if (r < 0)
                return r;
        if (syscall(SYS_pidfd_send_signal, t->pidfd, 0, NULL, 0) < 0)
                return -ESRCH;
        return *fd = TAKE_FD(f);
}

/* After a read of a kept file: kept while there are descriptors to spare (two per target beside
 * its pidfd), and closed on an error. */
static void target_keep_file(Manager *m, int *fd, int r) {
        if (r < 0 || *fd >= m->keep_fd_below)
                *fd = safe_close(*fd);
}

/* Both counters from status, for this round. */
static int target_sample_status(Manager *m, Target *t) {
        ProcMmCounters c;
        int r;

        r = target_kept_file(t, procfs_open_status, &t->status_fd);
        if (r >= 0)
                r = procfs_sample_mm_counters(t->status_fd, &c);
        target_keep_file(m, &t->status_fd, r);
        if (r < 0) {
                t->sampled_tick = t->status_tick = 0;
                return r;
        }
        if (t->sampled_tick != m->tick)
                m->tick_samples++;
        m->tick_status_reads++;
        t->vm_size = c.vm_size;
        t->vm_lck = c.vm_lck;
        t->sampled_tick = t->status_tick = m->tick;
        return 0;
}

/* VmSize from statm, kept open. */
static int target_read_statm(Manager *m, Target *t, uint64_t *ret) {
        int r;

        r = target_kept_file(t, procfs_open_statm, &t->statm_fd);
        if (r >= 0)
                r = procfs_sample_vm_size(t->statm_fd, ret);
        target_keep_file(m, &t->statm_fd, r);
        return r;
}

int manager_sample_size(Manager *m, Target *t, uint64_t *ret) {
        const CgroupAccount *c;
        int r;

        if (t->sampled_tick == 0 || t->sampled_tick != m->tick) {
                /* where the cgroup moved the drift check wants VmLck too: one read of status gives
                 * both, else statm's size is the cheaper read */
                c = manager_target_cgroup(m, t);
                if (!c || c->changed)
                        r = target_sample_status(m, t);
                else {
                        r = target_read_statm(m, t, &t->vm_size);
                        if (r < 0)
                                t->sampled_tick = 0;
                        else {
                                m->tick_samples++;
                                t->sampled_tick = m->tick;
                        }
                }
                if (r < 0)
                        return r;
        }
        *ret = t->vm_size;
        return 0;
}

int manager_sample_locked(Manager *m, Target *t, uint64_t *ret) {
        int r;

        if (t->status_tick == 0 || t->status_tick != m->tick) {
                r = target_sample_status(m, t);
                if (r < 0)
                        return r;
        }
        *ret = t->vm_lck;
        return 0;
}

void target_mark_checked(Manager *m, Target *t) {
        uint64_t size;

        if (!t->watch)
                return; /* sampled: target_mapped_size_moved() keeps the baseline itself */
        if (target_read_statm(m, t, &size) >= 0)
                t->checked_size = size; /* unreadable: the older baseline stands, which is safe */
}

/* Whether the target's mapped size moved since the last recheck: a new mapping, a grown or a gone
 * one. VmSize is one pread of a statm file kept open, that needs no ptrace access, against an
 * smaps read through the injector: an idle target costs the tick almost nothing. Unreadable: look
 * (the recheck finds out why). */
static bool target_mapped_size_moved(Manager *m, Target *t) {
        uint64_t size;

        if (manager_sample_size(m, t, &size) < 0)
                return true;
        if (size == t->checked_size)
                return false;
        t->checked_size = size;
        return true;
}

/* Whether t may have more to lock once its maps moved. Planned at exec, a young target may have
 * failed on a layout still being made: it is tried again. MCL_FUTURE targets are looked at too: a
 * mapping made between the plan's smaps read and the mlockall() is not locked. */
static bool target_recheckable(Manager *m, const Target *t, bool young) {
        const Policy *p = target_policy(m, t);

        if (!p || t->released || t->job || t->call || p->mode == LOCK_MODE_NONE || t->trimmed ||
            !(t->state_id == TARGET_LOCKED || t->state_id == TARGET_PARTIAL ||
              (young && t->state_id == TARGET_FAILED)))
                return false;
        return t->reason != TARGET_REASON_DRIFTED; /* Relock=no: left so */
}

/* Read t's smaps (through the injector) and plan again if a selected mapping is not locked. */
static void target_recheck(Manager *m, Target *t) {
        InjectorRequest req = { .magic = INJECTOR_MAGIC, .op = INJECTOR_OP_OPEN, .pid = t->pid,
                                .starttime = t->starttime, .value = INJECTOR_FILE_SMAPS,
                                .flags = t->pid == 1 ? INJECTOR_FLAG_ALLOW_PID1 : 0 };

        t->watch_pending = false;
        target_mark_checked(m, t);
        (void) injector_client_submit(manager_injector(m, t), &req, t->pidfd, INJECTOR_TIMEOUT_USEC,
                                      on_recheck_reply, t, &t->call);
}

static void target_unwatch(Target *t) {
        t->watch_source = sd_event_source_disable_unref(t->watch_source);
        t->watch = mapwatch_free(t->watch);
        t->watch_pending = false;
}

/* No longer young: the tick's samples take over, from the size its last plan or recheck saw
 * (target_mark_checked()). Not from the size it has now: a mapping whose signal is not looked at
 * yet (a job in the way, or its wakeup still queued behind this timer) would be counted as seen. */
static void target_watch_expire(Manager *m, Target *t) {
        target_unwatch(t);
}

static unsigned manager_recheck(Manager *m, bool young_only) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        unsigned n_young = 0;

        for (size_t i = 0; i < m->n_targets; i++) {
                Target *t = m->targets[i];
                bool young = target_young(t, now);

                if (t->watch && !young)
                        target_watch_expire(m, t);
                if (t->watch)
                        continue; /* its mappings are signalled: nothing to sample */
                if (young)
                        n_young++;
                else if (young_only)
                        continue;
                /* an old target locked on fault whose cgroup's figures did not move has made
                 * nothing present to lock (target_cgroup_idle()); but its size is looked at once
                 * when it stops being young: what it mapped and touched while young, and its
                 * young rechecks missed (a job in the way at the settle timer's last look), moved
                 * its cgroup before that tick and not since */
                if (!target_recheckable(m, t, young) ||
                    (!young && t->sampled_old && target_cgroup_idle(m, t, target_policy(m, t))))
                        continue;
                if (!young)
                        t->sampled_old = true;
                if (!target_mapped_size_moved(m, t))
                        continue;
                m->tick_rereads++;
                target_recheck(m, t);
        }
        return n_young;
}

/* ---- young targets: their new mappings signalled ---------------------------------------------- */

/* A watched target mapped something (or, POLLHUP, is gone: its pidfd says so too). */
static int on_target_mapped(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Target *t = userdata;
        Manager *m = t->manager;

        if (revents & (EPOLLHUP | EPOLLERR)) {
                target_unwatch(t);
                return 0;
        }
        if (!mapwatch_moved(t->watch))
                return 0;
        log_debug("Process %d (%s) mapped memory (its watch).", (int) t->pid, strempty(t->comm));
        if (t->job || t->call || !target_recheckable(m, t, target_young(t, now_usec(CLOCK_MONOTONIC))))
                t->watch_pending = true; /* looked at when that ends, or when the watch does */
        else
                target_recheck(m, t);
        return 0;
}

/* The descriptor from the injector (taken): map its ring and poll it. Only while the process has
 * one thread (the event follows that thread alone): counted after the event was opened, and a
 * thread started later ends the watch (manager_thread_started()). */
static int target_watch_attach(Manager *m, Target *t, int fd) {
        _cleanup_(mapwatch_freep) MapWatch *w = NULL;
        ProcStatus status = {};
        int r;

        r = mapwatch_new(fd, &w);
        if (r < 0)
                return r; /* -EPERM: perf_event_mlock_kb and RLIMIT_MEMLOCK are used up */
        if (w->fd >= m->keep_fd_below)
                return -EMFILE;
        r = procfs_read_status("/proc", t->pid, 0, &status);
        if (r < 0)
                return r;
        if (status.threads != 1)
                return -EBUSY;
        r = sd_event_add_io(m->event, &t->watch_source, w->fd, EPOLLIN, on_target_mapped, t);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(t->watch_source, "target-mapped");
        t->watch = TAKE_PTR(w);
        return 0;
}

/* Errors that say perf events on other processes are not to be had here: not asked for again. */
static bool watch_refused(int r) {
        return r == -EACCES || r == -EPERM || r == -ENOSYS || r == -ENOENT || r == -EOPNOTSUPP || r == -EINVAL;
}

static void on_watch_reply(int r, const InjectorReply *reply, int fd, void *userdata) {
        Target *t = userdata;
        Manager *m = t->manager;

        t->call = NULL;
        if (r >= 0 && fd >= 0) {
                r = target_watch_attach(m, t, fd);
                if (r < 0)
                        log_debug_errno(r, "Not watching the mappings of %d (%s), sampling its size instead: %m",
                                        (int) t->pid, strempty(t->comm));
        } else {
                safe_close(fd);
                if (watch_refused(r) && !m->watch_refused) {
                        log_info("Perf events on other processes are refused here (%s): a new process's later "
                                 "mappings are found by sampling its size.", strerror(-r));
                        m->watch_refused = true;
                }
        }
        if (!t->watch) {
                manager_arm_settle(m, true);
                return;
        }
        log_debug("Watching the new mappings of %d (%s).", (int) t->pid, strempty(t->comm));
        /* Asked for just before the job's precheck: the injector answers in order, so the event
         * is on before the job reads smaps, and whatever comes after wakes us; the baseline is
         * what VmSize counts now, before that read. A job further on may have read them before:
         * look once more. */
        if (t->job && t->job->phase == JOB_PRECHECK) {
                target_mark_checked(m, t);
                return;
        }
        if (t->job)
                t->watch_pending = true;
        else if (target_recheckable(m, t, target_young(t, now_usec(CLOCK_MONOTONIC))))
                target_recheck(m, t);
}

/* A young target found by an event: a watch on its new mappings, opened by the injector, asked
 * for before its first plan. False when none can be asked for. */
static bool target_watch(Manager *m, Target *t) {
        InjectorRequest req = { .magic = INJECTOR_MAGIC, .op = INJECTOR_OP_WATCH_MAPS, .pid = t->pid,
                                .starttime = t->starttime, .flags = t->pid == 1 ? INJECTOR_FLAG_ALLOW_PID1 : 0 };

        if (m->watch_refused || m->dry_run || t->call)
                return false;
        return injector_client_submit(manager_injector(m, t), &req, t->pidfd, INJECTOR_TIMEOUT_USEC,
                                      on_watch_reply, t, &t->call) >= 0;
}

void manager_young_job_done(Manager *m, Target *t) {
        if (t->watch) {
                if (t->watch_pending && !t->job && t->next_job == NEXT_NONE && target_recheckable(m, t, true))
                        target_recheck(m, t);
                return;
        }
        if (target_young(t, now_usec(CLOCK_MONOTONIC)))
                manager_arm_settle(m, false);
}

/* A thread of a watched target started: what it maps is not seen by the watch, which ends; its size
 * is sampled from now on, and at once (checked_size 0: the first sample looks). */
static void manager_thread_started(Manager *m, pid_t tgid) {
        Target *t = manager_get_target(m, tgid);

        if (!t || !t->watch)
                return;
        log_debug("Process %d (%s) started a thread: its new mappings are sampled from now on.", (int) t->pid,
                  strempty(t->comm));
        target_unwatch(t);
        t->checked_size = 0;
        manager_arm_settle(m, true);
}

/* A program maps most of its memory in its first moments after exec. A process found by a fork or
 * exec event is planned at once, and while it is young (SETTLE_USEC) its mapped size is looked at
 * again with a backoff (1 ms doubling to 500 ms) rather than only on the accounting tick; only a
 * size that moved costs an smaps read and a plan. */
static int on_settle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        m->tick++; /* a round of its own: young targets are sampled afresh */

        if (manager_recheck(m, true) > 0) {
                m->settle_interval = MIN(m->settle_interval * 2, SETTLE_MAX_INTERVAL_USEC);
                (void) sd_event_source_set_time_relative(s, m->settle_interval);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        } else
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

/* soon: a new target arrived, look within SETTLE_FIRST_USEC even if the backoff had grown. */
void manager_arm_settle(Manager *m, bool soon) {
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

/* A tick has work while there are targets, cgroups whose accounts are to be emptied, or a
 * metrics file whose timestamp says we are alive. Without, the timer is off until a target
 * appears (manager_arm_accounting): no wakeup with nothing to do. */
static bool manager_accounting_needed(const Manager *m) {
        return m->n_targets > 0 || m->n_cgroups > 0 || m->policies->daemon.metrics_file;
}

static int on_accounting_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        usec_t cpu0 = now_usec(CLOCK_THREAD_CPUTIME_ID);

        m->tick++;
        m->tick_samples = m->tick_rereads = m->tick_status_reads = 0;
        /* the accounts first: which cgroups moved decides which targets are looked at */
        if (m->n_targets > 0 || m->n_cgroups > 0)
                manager_account(m);
        (void) manager_recheck(m, false);
        manager_check_drift(m);
        if (m->n_targets > 0)
                log_debug("Tick: %zu %s, %u sampled, %u smaps %s, %u status %s, %" PRIu64 " us of CPU.",
                          m->n_targets, PLURAL(m->n_targets, "target", "targets"), m->tick_samples,
                          m->tick_rereads, PLURAL(m->tick_rereads, "read", "reads"), m->tick_status_reads,
                          PLURAL(m->tick_status_reads, "read", "reads"),
                          (uint64_t) (now_usec(CLOCK_THREAD_CPUTIME_ID) - cpu0));
        m->metrics_dirty = true; /* the file's timestamp says we are alive: rewrite it every tick */
        manager_write_metrics(m);
        manager_notify_status(m);
        if (!manager_accounting_needed(m)) {
                log_debug("No target and no metrics file: the accounting tick is off until a target appears.");
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        (void) sd_event_source_set_time_relative(s, m->policies->daemon.accounting_interval);
        return 0;
}

/* A target appeared (or a reload): the tick runs again, after usec (0: at once). */
static void manager_arm_accounting(Manager *m, usec_t usec) {
        int enabled = SD_EVENT_OFF;

        if (!m->accounting_timer)
                return;
        (void) sd_event_source_get_enabled(m->accounting_timer, &enabled);
        if (enabled != SD_EVENT_OFF && usec > 0)
                return;
        if (enabled == SD_EVENT_OFF)
                log_debug("The accounting tick is on again.");
        (void) sd_event_source_set_time_relative(m->accounting_timer, usec);
        (void) sd_event_source_set_enabled(m->accounting_timer, SD_EVENT_ON);
}

/* ---- bus actions -------------------------------------------------------------------------------- */

int manager_apply(Manager *m, pid_t pid, sd_bus_message *message, const char **ret_state) {
        ProcStat st = {};
        Target *t = NULL;
        int r;

        if (pid <= 0 || procfs_read_stat("/proc", pid, &st) < 0)
                return -ESRCH;
        r = st.state == 'Z' || st.state == 'X' ? -ESRCH : 0;
        proc_stat_done(&st);
        if (r < 0)
                return r;
        if (pid_is_ours(m, pid)) {
                *ret_state = "skipped:self";
                return -EPERM;
        }

        r = manager_discover(m, pid, false, &t);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        if (r == 0)
                return -ENOENT;

        r = waiters_add(&t->apply_waiters, &t->n_apply_waiters, message);
        if (r < 0)
                return r;
        if (manager_get_target(m, pid) == t) {
                t->released = false;
                manager_start_job(m, t, JOB_LOCK, THEN_NOTHING);
        }
        /* a candidate: matched when its exe is known, then locked; the reply waits */
        return 0;
}

int manager_release(Manager *m, pid_t pid, sd_bus_message *message) {
        Target *t = manager_get_target(m, pid);
        int r;

        if (!t)
                return -ESRCH;
        r = waiters_add(&t->release_waiters, &t->n_release_waiters, message);
        if (r < 0)
                return r;
        manager_unlock(m, t, THEN_RELEASE);
        return 0;
}

/* A reload that takes a running target's locks away says so at notice, naming the policy that
 * had it: an operator who edited a Match line by mistake sees it in journalctl -p notice. */
static void reload_notice(const Target *t, const char *why) {
        char b[FORMAT_BYTES_MAX];

        if (ledger_bytes(&t->ledger) == 0 && t->locked_bytes == 0)
                return;
        log_notice("Reload: %d (%s) %s, was policy %s: unlocking the %s mlockd locked there.", (int) t->pid,
                   strempty(t->comm), why, t->policy ? t->policy : "(none)",
                   format_bytes(b, sizeof b, MAX(ledger_bytes(&t->ledger), t->locked_bytes)));
}

/* Comm events (a process renaming itself) matter only to a policy that matches on Name=; threads
 * rename themselves all the time, so without one they are not asked of the kernel. */
static bool policies_match_names(const PolicySet *s) {
        for (size_t i = 0; i < s->n_policies; i++)
                if (!strv_isempty(s->policies[i]->match_name))
                        return true;
        return false;
}

static int manager_watch_procmon(Manager *m);

/* The set of events wanted changed (comm events for Name=): a new socket first, then the old one
 * closed, so that no exec falls between. Not probed again (the probe forks, which the confined
 * manager may not); a failure (before 6.6 the connector wants CAP_NET_ADMIN, long dropped) keeps
 * the old subscription. */
static bool manager_read_events(Manager *m, int fd, unsigned rounds);

static void manager_resubscribe_procmon(Manager *m) {
        bool comm = policies_match_names(m->policies);
        sd_event_source *old_source;
        int fd, old_fd, r;

        r = procmon_open_events(&fd, comm);
        if (r < 0) {
                /* without rename events a Name= policy still sees each process as it was at exec,
                 * at a reload and at a rescan; renames in between are what it would miss */
                if (comm)
                        log_warning_errno(r, "Could not subscribe again to process events with rename events, "
                                          "keeping the old subscription without them: a process that renames "
                                          "itself from now on is matched by its new name only at the next "
                                          "reload or restart: %m");
                else
                        log_debug_errno(r, "Could not subscribe again to process events (comm changes left out), "
                                        "keeping the old subscription: %m");
                return;
        }
        old_source = TAKE_PTR(m->procmon_source);
        old_fd = m->procmon_fd;
        m->procmon_fd = fd;
        if (manager_watch_procmon(m) < 0) {
                m->procmon_source = sd_event_source_disable_unref(m->procmon_source);
                safe_close(fd);
                m->procmon_source = old_source;
                m->procmon_fd = old_fd;
                return;
        }
        sd_event_source_disable_unref(old_source);
        /* what the old socket holds from before the new one subscribed is on no other: read it
         * (what came after is on both, and a second look at a process is harmless) */
        (void) manager_read_events(m, old_fd, 64);
        safe_close(old_fd);
        m->procmon_comm = comm;
        log_debug("Process events resubscribed, comm changes %s.", comm ? "included" : "left out");
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

        /* as at start-up: what is taken but odd (a key given twice, a value clamped) */
        STRV_FOREACH(p, fresh->warnings)
                log_warning("%s", *p);
        if (fresh->daemon.injectors != m->policies->daemon.injectors)
                log_notice("Injectors= changed; %zu injector %s keep running until mlockd restarts "
                           "(they are started before it confines itself).", m->n_injectors,
                           PLURAL(m->n_injectors, "worker", "workers"));
        policy_set_free(m->policies);
        m->policies = TAKE_PTR(fresh);
        if (m->procmon_fd >= 0 && policies_match_names(m->policies) != m->procmon_comm)
                manager_resubscribe_procmon(m);
        log_info("Reloaded %zu %s from %s.", m->policies->n_policies,
                 PLURAL(m->policies->n_policies, "policy", "policies"), m->config_dir);

        /* Re-evaluate every target. A policy gone, Mode=none or another policy undo mlockd's own
         * locks (never the target's); the same policy plans again, and gives back what a lowered
         * MaxLocked= no longer allows. */
        for (size_t i = m->n_targets; i-- > 0;) {
                Target *t = m->targets[i];
                const Policy *p = target_match(m, t);

                if (t->released)
                        continue;
                if (!p) {
                        reload_notice(t, "no longer matches any policy");
                        manager_unlock(m, t, THEN_FORGET);
                } else if (p->mode == LOCK_MODE_NONE) {
                        reload_notice(t, "now matches a policy with Mode=none");
                        free(t->policy);
                        t->policy = strdup(p->name);
                        manager_unlock(m, t, THEN_MODE_NONE);
                } else if (!streq_ptr(p->name, t->policy)) {
                        free(t->policy);
                        t->policy = strdup(p->name);
                        manager_unlock(m, t, THEN_RELOCK);
                } else
                        manager_start_job(m, t, JOB_LOCK, THEN_NOTHING);
        }

        (void) manager_scan(m);
        manager_arm_accounting(m, 0);
        (void) sd_notify(false, "READY=1");
        return 0;
}

/* ---- event sources ------------------------------------------------------------------------------ */

/* Forked children of processes that are not targets. Such a child is its parent's image, uid and
 * cgroup, which matched nothing when the parent was looked at; most exec within moments (a shell's
 * commands, a service manager's spawns) or exit, and the exec event finds the new image. So it is
 * looked at FORK_DEFER_USEC later, if it did not exec by then: a parent that changed its uid or
 * cgroup since it was looked at may have children that match. A target's children are looked at
 * at once (pre-fork servers). With thousands of processes started at once this halves the reads
 * of discovery. */
static int on_fork_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        /* discovery reads no events: nothing is added to the list meanwhile */
        for (size_t i = 0; i < m->n_forks; i++)
                if (m->forks[i] > 0)
                        (void) manager_discover(m, m->forks[i], true, NULL);
        m->n_forks = 0; /* the array is kept for the next batch */
        return 0;
}

static void manager_defer_fork(Manager *m, pid_t pid) {
        int r;

        if (m->n_forks == m->allocated_forks) {
                size_t a = MAX(m->allocated_forks * 2, (size_t) 64);
                pid_t *l = reallocarray(m->forks, a, sizeof *l);

                if (!l) {
                        (void) manager_discover(m, pid, true, NULL); /* no room: at once, as before */
                        return;
                }
                m->forks = l;
                m->allocated_forks = a;
        }
        if (!m->fork_timer) {
                r = sd_event_add_time_relative(m->event, &m->fork_timer, CLOCK_MONOTONIC, FORK_DEFER_USEC,
                                               USEC_PER_MSEC, on_fork_timer, m);
                if (r < 0) {
                        log_debug_errno(r, "Failed to add the fork timer, looking at %d at once: %m", (int) pid);
                        (void) manager_discover(m, pid, true, NULL);
                        return;
                }
                (void) sd_event_source_set_description(m->fork_timer, "fork");
        } else if (m->n_forks == 0) {
                (void) sd_event_source_set_time_relative(m->fork_timer, FORK_DEFER_USEC);
                (void) sd_event_source_set_enabled(m->fork_timer, SD_EVENT_ONESHOT);
        }
        m->forks[m->n_forks++] = pid;
}

/* An exec: the pending fork is done with (the exec's discovery looks at the new image). Recent
 * forks are at the end. */
static void manager_fork_execd(Manager *m, pid_t pid) {
        for (size_t i = m->n_forks; i-- > 0;)
                if (m->forks[i] == pid) {
                        m->forks[i] = 0;
                        return;
                }
}

static void manager_handle_event(Manager *m, const ProcEvent *ev) {
        switch (ev->type) {
        case PROC_EVENT_FORK:
                if (ev->thread)
                        manager_thread_started(m, ev->tgid);
                else if (manager_get_target(m, ev->parent_tgid) || manager_get_candidate(m, ev->parent_tgid))
                        (void) manager_discover(m, ev->tgid, true, NULL);
                else
                        manager_defer_fork(m, ev->tgid);
                break;
        case PROC_EVENT_EXEC:
                /* exec wiped the locks and MCL_FUTURE: a new image to match */
                manager_fork_execd(m, ev->tgid);
                manager_forget_pid(m, ev->tgid);
                (void) manager_discover(m, ev->tgid, true, NULL);
                break;
        case PROC_EVENT_EXIT:
                /* not subscribed to (only kernels before 6.6 send it): the leader's EXIT comes while
                 * other threads may still run; the target's pidfd says when the whole process is
                 * gone (on_target_exit) */
                break;
        case PROC_EVENT_COMM:
                if (!manager_get_target(m, ev->tgid))
                        (void) manager_discover(m, ev->tgid, true, NULL);
                break;
        case PROC_EVENT_LOST:
                /* not yet: until the queue is read empty the kernel drops every event and says so
                 * no more, so a scan now would miss what starts before that (on_procmon()) */
                if (!m->events_lost)
                        log_notice("Process events were lost, rescanning /proc once the queued ones are read.");
                m->events_lost = true;
                break;
        default:
                break;
        }
}

/* Read and handle up to rounds batches of fd's events; whether it read the queue empty. */
static bool manager_read_events(Manager *m, int fd, unsigned rounds) {
        ProcEvent events[64];
        bool drained = false;

        for (unsigned round = 0; round < rounds; round++) {
                size_t n = 0;
                int r = procmon_receive(fd, events, ELEMENTSOF(events), &n);

                if (r == -EAGAIN) {
                        drained = true;
                        break;
                }
                if (r < 0) {
                        log_warning_errno(r, "Failed to receive process events, rescanning: %m");
                        (void) manager_scan(m);
                        break;
                }
                for (size_t i = 0; i < n; i++)
                        if (!procmon_superseded(events, n, i))
                                manager_handle_event(m, &events[i]);
                if (r > 0) {
                        drained = true;
                        break;
                }
        }
        return drained;
}

static int on_procmon(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        bool drained = manager_read_events(m, fd, 16);

        /* After an overflow nothing more is queued (nor reported lost) until the queue was read
         * empty: it is, so what was dropped until now is found here, and a new loss is reported
         * again. The queue is finite and takes nothing meanwhile, so this comes. */
        if (m->events_lost && drained) {
                m->events_lost = false;
                (void) manager_scan_full(m, true);
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

static int manager_watch_procmon(Manager *m) {
        int r;

        r = sd_event_add_io(m->event, &m->procmon_source, m->procmon_fd, EPOLLIN, on_procmon, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the proc connector: %m");
        (void) sd_event_source_set_description(m->procmon_source, "procmon");
        /* before the lock work: an exec should be seen before the old image is worked on */
        (void) sd_event_source_set_priority(m->procmon_source, SD_EVENT_PRIORITY_NORMAL - 1);
        return 0;
}

static const char *scan_interval_to_string(const Manager *m, char buf[static FORMAT_TIMESPAN_MAX]) {
        usec_t i = m->policies->daemon.scan_interval;

        return i > 0 ? format_timespan(buf, FORMAT_TIMESPAN_MAX, i) : "(never: it is 0)";
}

static int manager_add_procmon(Manager *m) {
        char c[FORMAT_TIMESPAN_MAX];
        int r;

        m->procmon_comm = policies_match_names(m->policies);
        r = procmon_open_events(&m->procmon_fd, m->procmon_comm);
        if (r == -EPERM || r == -EACCES) {
                /* Linux before 6.6, and some builds since (a 6.18 refused the bind), let only
                 * CAP_NET_ADMIN join the proc connector's group */
                m->procmon_fd = -EBADF;
                log_warning("This kernel lets only CAP_NET_ADMIN subscribe to process events (the proc connector), "
                            "and mlockd runs without it: new processes are found by scanning /proc every %s "
                            "(ScanInterval=) instead. Keep CAP_NET_ADMIN in the unit's CapabilityBoundingSet=, as "
                            "shipped.",
                            scan_interval_to_string(m, c));
                return 0;
        }
        if (r < 0) {
                m->procmon_fd = -EBADF;
                log_warning_errno(r, "Failed to subscribe to the proc connector, scanning /proc every %s (ScanInterval=) instead: %m",
                                  scan_interval_to_string(m, c));
                return 0;
        }
        /* In a PID namespace (a container, a pod without hostPID) the kernel takes the subscription
         * and sends nothing: check that our own child's events come */
        r = procmon_probe(m->procmon_fd, PROCMON_PROBE_USEC);
        if (r <= 0) {
                char b[FORMAT_TIMESPAN_MAX];

                m->procmon_fd = safe_close(m->procmon_fd);
                log_warning("The proc connector delivered no event for a child of ours within %s (in a PID "
                            "namespace the kernel sends none); scanning /proc every %s (ScanInterval=) instead.",
                            format_timespan(b, sizeof b, PROCMON_PROBE_USEC), scan_interval_to_string(m, c));
                return 0;
        }
        return manager_watch_procmon(m);
}

static int manager_add_timers(Manager *m) {
        int r;

        if (m->procmon_fd < 0 && m->policies->daemon.scan_interval > 0) {
                r = sd_event_add_time_relative(m->event, &m->scan_timer, CLOCK_MONOTONIC,
                                               m->policies->daemon.scan_interval, 0, on_scan_timer, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to add the scan timer: %m");
                (void) sd_event_source_set_description(m->scan_timer, "scan");
                /* repeating: on_scan_timer() moves the next expiry on */
                (void) sd_event_source_set_enabled(m->scan_timer, SD_EVENT_ON);
        }

        r = sd_event_add_time_relative(m->event, &m->accounting_timer, CLOCK_MONOTONIC,
                                       m->policies->daemon.accounting_interval, 0, on_accounting_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the accounting timer: %m");
        (void) sd_event_source_set_description(m->accounting_timer, "accounting");
        (void) sd_event_source_set_enabled(m->accounting_timer, SD_EVENT_ON);
        return 0;
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
/* Targets keep their statm and status files open below this descriptor number: half the soft
 * RLIMIT_NOFILE, pidfds and the rest have the other half. */
static int status_fd_bound(void) {
        struct rlimit nofile;

        if (getrlimit(RLIMIT_NOFILE, &nofile) < 0 || nofile.rlim_cur == RLIM_INFINITY)
                return INT_MAX;
        return (int) MIN(nofile.rlim_cur / 2, (rlim_t) INT_MAX);
}

int manager_new(const char *config_dir, bool dry_run, PolicySet *policies, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return log_oom();
        m->procmon_fd = -EBADF;
        m->dry_run = dry_run;
        m->keep_fd_below = status_fd_bound();
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
                target_drop(m, m->targets[i]);
        free(m->targets);
        for (size_t i = 0; i < m->n_candidates; i++)
                target_drop(m, m->candidates[i]);
        free(m->candidates);
        for (size_t i = 0; i < m->n_cgroups; i++)
                free(m->cgroups[i].path);
        free(m->cgroups);
        sd_event_source_unref(m->procmon_source);
        sd_event_source_unref(m->scan_timer);
        sd_event_source_unref(m->accounting_timer);
        sd_event_source_unref(m->settle_timer);
        sd_event_source_unref(m->fork_timer);
        free(m->forks);
        sd_event_source_disable_unref(m->account_defer);
        sd_event_source_unref(m->sighup_source);
        safe_close(m->procmon_fd);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        for (size_t i = 0; i < m->n_injectors; i++)
                injector_client_free(m->injectors[i]);
        free(m->injectors);
        if (m->have_cgroup_layout)
                cgroup_layout_done(&m->cgroup_layout);
        policy_set_free(m->policies);
        free(m->config_dir);
        free(m);
        return NULL;
}

static void on_injector_lost(InjectorClient *c, void *userdata) {
        Manager *m = userdata;

        if (m->injector_socket)
                log_error("The injector service cannot be reached; exiting so that the service manager "
                          "restarts mlockd.");
        else
                log_error("No injector is left and a confined manager cannot fork one; exiting so that the "
                          "service manager restarts mlockd.");
        m->injector_lost = true;
        (void) sd_event_exit(m->event, EXIT_FAILURE);
}

/* The CPUs this process may run on (Injectors=auto), 1 when they cannot be read. */
static unsigned affinity_cpus(void) {
        cpu_set_t set;

        if (sched_getaffinity(0, sizeof set, &set) < 0)
                return 1;
        return (unsigned) MAX(CPU_COUNT(&set), 1);
}

/* Worker i (of n): in socket mode a connection to the injector service (whose listener serves each
 * connection in a process of its own), else two injectors forked before any confinement, the spare
 * taking over when the first dies or gets stuck (injector-client.h says why a confined manager
 * cannot fork another). */
static int manager_start_injector(Manager *m, size_t i, size_t n, InjectorClient **ret) {
        _cleanup_(injector_freep) Injector *active = NULL, *spare = NULL;
        int r;

        if (m->injector_socket)
                return injector_client_new_socket(m->event, m->injector_socket, on_injector_lost, m, ret);

        r = injector_start(&active);
        if (r < 0)
                return r;
        r = injector_start(&spare);
        if (r < 0)
                log_warning_errno(r, "Failed to start a spare injector, continuing without: %m");
        r = injector_client_new(m->event, active, spare, on_injector_lost, m, ret);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the injector: %m");
        if (spare)
                log_info("Injector %zu of %zu started (pid %d), and a spare (pid %d).", i + 1, n,
                         (int) injector_pid(active), (int) injector_pid(spare));
        else
                log_info("Injector %zu of %zu started (pid %d), no spare.", i + 1, n,
                         (int) injector_pid(active));
        TAKE_PTR(active);
        TAKE_PTR(spare);
        return 0;
}

static int manager_start_injectors(Manager *m) {
        size_t n = daemon_config_injectors(&m->policies->daemon, affinity_cpus());
        int r;

        m->injectors = calloc(n, sizeof *m->injectors);
        if (!m->injectors)
                return log_oom();
        for (; m->n_injectors < n; m->n_injectors++) {
                r = manager_start_injector(m, m->n_injectors, n, &m->injectors[m->n_injectors]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int manager_prepare(Manager *m) {
        int r;

        r = manager_start_injectors(m);
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

        r = manager_add_timers(m);
        if (r < 0)
                return r;

        r = manager_scan(m);
        if (r < 0)
                return r;
        m->scanned = true;

        r = manager_bus_connect(m);
        if (r < 0)
                return r;

        r = sandbox_apply_seccomp(debug_seccomp);
        if (r < 0)
                return log_error_errno(r, "Failed to install the seccomp filter: %m");

        manager_notify_status(m);
        manager_metrics_start(m); /* a file from a previous run must not be taken for ours */
        (void) sd_notify(false, "READY=1");
        log_info("mlockd %s running: %zu %s, %zu %s.", PACKAGE_VERSION, m->policies->n_policies,
                 PLURAL(m->policies->n_policies, "policy", "policies"), m->n_targets,
                 PLURAL(m->n_targets, "target", "targets"));

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
        if (m->injector_lost)
                return -ENOTCONN;
        log_info("Stopping; %zu %s %s their locks.", m->n_targets, PLURAL(m->n_targets, "target", "targets"),
                 PLURAL(m->n_targets, "keeps", "keep"));
        manager_metrics_stop(m);
        return 0;
}

/* ---- Explain (operator helper; additive) ------------------------------------------------------ */

static int explain_target(Manager *m, const Target *t, MatchExplanation **ret) {
        _cleanup_free_ char *unit = NULL;
        MatchProcess p;

        if (t->cgroup)
                (void) unit_from_cgroup_path(t->cgroup, &unit);
        p = (MatchProcess) {
                .pid = t->pid, .exe = t->exe, .comm = t->comm,
                .cgroup = t->cgroup, .unit = unit, .uid = t->uid,
        };
        return match_explain(m->policies, &p, ret);
}

/* A process read for Explain only: not in any list. */
static int explain_read(Manager *m, pid_t pid, Target **ret) {
        _cleanup_(target_freep) Target *t = NULL;
        int r;

        r = target_new(m, pid, &t);
        if (r < 0)
                return r;
        t->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (t->pidfd < 0)
                return -ESRCH;
        r = target_read(t);
        if (r < 0)
                return r == -ENOENT ? -ENOENT : -ESRCH;
        *ret = TAKE_PTR(t);
        return 0;
}

/* Without the injector's word on the exe: Executable= is explained as not matching. */
int manager_explain_process(Manager *m, pid_t pid, MatchExplanation **ret) {
        _cleanup_(target_freep) Target *fresh = NULL;
        const Target *t;
        int r;

        t = manager_get_target(m, pid) ?: manager_get_candidate(m, pid);
        if (!t) {
                r = explain_read(m, pid, &fresh);
                if (r < 0)
                        return r;
                t = fresh;
        }
        return explain_target(m, t, ret);
}

typedef struct ExplainCall {
        Target *target;
        sd_bus_message *message;
} ExplainCall;

static void on_explain_exe(int r, const InjectorReply *reply, int fd, void *userdata) {
        _cleanup_(match_explanation_freep) MatchExplanation *e = NULL;
        ExplainCall *c = userdata;
        Target *t = c->target;

        safe_close(fd);
        if (r >= 0 && reply)
                t->exe = strdup(reply->path);
        r = r == -ESRCH ? r : explain_target(t->manager, t, &e);
        bus_reply_explain(t->manager, c->message, t->pid, r, e);
        sd_bus_message_unref(c->message);
        target_free(t);
        free(c);
}

int manager_explain(Manager *m, pid_t pid, sd_bus_message *message) {
        _cleanup_(match_explanation_freep) MatchExplanation *e = NULL;
        _cleanup_(target_freep) Target *t = NULL;
        InjectorRequest req;
        const Target *known;
        ExplainCall *c;
        int r;

        known = manager_get_target(m, pid) ?: manager_get_candidate(m, pid);
        if (known || pid_is_ours(m, pid)) {
                r = known ? explain_target(m, known, &e) : manager_explain_process(m, pid, &e);
                bus_reply_explain(m, message, pid, r, e);
                return 0;
        }
        r = explain_read(m, pid, &t);
        if (r < 0) {
                bus_reply_explain(m, message, pid, r, NULL);
                return 0;
        }
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        req = (InjectorRequest) { .magic = INJECTOR_MAGIC, .op = INJECTOR_OP_EXE, .pid = pid,
                                  .starttime = t->starttime, .flags = pid == 1 ? INJECTOR_FLAG_ALLOW_PID1 : 0 };
        *c = (ExplainCall) { .target = t, .message = sd_bus_message_ref(message) };
        r = injector_client_submit(manager_pick_injector(m, pid), &req, t->pidfd, INJECTOR_TIMEOUT_USEC,
                                   on_explain_exe, c, NULL);
        if (r < 0) {
                sd_bus_message_unref(c->message);
                free(c);
                return r;
        }
        TAKE_PTR(t);
        return 0;
}
