/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The manager: all of mlockd's state (policies, targets, cgroup accounts) and the event loop that
 * keeps it current. The bus (manager-bus.c) reads this state and calls the manager_* actions;
 * it never changes state itself. */

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "lock.h"
#include "parse-util.h"
#include "policy.h"
#include "prefetch.h"

#include "target.h"

typedef struct InjectorClient InjectorClient;

typedef struct CgroupAccount {
        char *path;             /* memory cgroup path */
        uint64_t unevictable;   /* the kernel's figure (memory.stat) */
        uint64_t locked;        /* bytes mlockd locked in targets of this cgroup (mlocked pages) */
        uint64_t claimed;       /* the same, or smaps Locked: where larger: VM_LOCKED pages the kernel
                                   has not mlocked yet will be (reclaim culls them): budgets count them */
        uint64_t budget;        /* CgroupMaxUnevictable= of the policies there, 0: none */
        bool over_budget;       /* BudgetExceeded was emitted and not yet cleared */
        uint64_t ino;           /* its directory's inode: kpagecgroup's name for it, 0: unknown */
        uint64_t foreign;       /* bytes charged here that targets in other cgroups mlocked (page
                                   cache this cgroup read first) */
        uint64_t foreign_out;   /* of locked, the bytes charged to other cgroups */
        uint64_t stat_hash;     /* memory.stat's fingerprint at the last read (cgroup_memory_stat_parse()) */
        bool changed;           /* it moved at the last tick, or could not be read: the targets
                                   there are sampled for drift */
        size_t n_targets;       /* targets there at the last tick (0: dropped at the next) */
} CgroupAccount;

struct Manager {
        sd_event *event;
        sd_bus *bus;
        char *config_dir;
        bool dry_run;
        const char *injector_socket;    /* connect to the injector service there; NULL: fork injectors */

        PolicySet *policies;

        Target **targets;       /* sorted by pid */
        size_t n_targets;

        CgroupAccount *cgroups; /* sorted by path; kept across ticks */
        size_t n_cgroups;
        uint64_t cgroups_gen;   /* bumped when cgroups is remade: targets' cached indexes are stale */

        uint64_t locked_bytes;  /* sum over targets */
        uint64_t injections_total;

        /* private to manager.c */
        InjectorClient **injectors;     /* the workers (Injectors=), each serial; a target is bound
                                           to one for its life (t->injector) */
        size_t n_injectors;
        Target **candidates;    /* found, waiting for the injector's word on their exe */
        size_t n_candidates;
        bool scanned;           /* the first scan is done: later finds are not inherited */
        bool injector_lost;     /* no injector left: exit non-zero, systemd restarts us */
        CgroupLayout cgroup_layout;
        bool have_cgroup_layout;
        int procmon_fd;
        sd_event_source *procmon_source;
        bool procmon_comm;      /* subscribed to comm events (a policy matches on Name=) */
        bool events_lost;       /* events were dropped: rescan once the queue is read empty */
        sd_event_source *scan_timer;
        sd_event_source *accounting_timer;
        sd_event_source *settle_timer;
        usec_t settle_interval;
        pid_t *forks;           /* children of processes that are not targets, looked at after
                                   FORK_DEFER_USEC unless they exec'd (exec finds them itself) */
        size_t n_forks, allocated_forks;
        sd_event_source *fork_timer;
        FolioSizes folios;      /* THP sizes for chunk edges (lock_folio_sizes()), read at folios_read */
        usec_t folios_read;
        bool watch_refused;     /* perf events refused (INJECTOR_OP_WATCH_MAPS): young targets are
                                   sampled on the settle timer */
        sd_event_source *account_defer; /* the accounts after jobs, once the loop is idle (no budget) */
        sd_event_source *sighup_source;
        double injection_seconds_sum;
        uint64_t injection_buckets[8];
        bool metrics_dirty;
        bool pages_unreadable_noted;    /* the notice that kpageflags cannot be read was logged */
        uint64_t drift_rechecks;        /* rechecks started because a target's lock drifted */
        uint64_t tick;                  /* rounds (accounting ticks, settle rechecks): a target is
                                           sampled once a round */
        unsigned tick_samples, tick_rereads, tick_status_reads; /* this tick: statm samples, smaps reads
                                                                   asked for, status reads (VmLck) */
        int keep_fd_below;              /* status descriptors are kept open below this number */
};

int manager_new(const char *config_dir, bool dry_run, PolicySet *policies, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_CLEANUP(Manager *, manager_free);
/* Start the injectors (before any confinement) or connect to the injector service, open the proc
 * connector and check that it delivers. */
int manager_prepare(Manager *m);
/* First scan, bus name, then READY=1; runs the loop until SIGTERM/SIGINT. */
int manager_run(Manager *m, bool debug_seccomp);

/* Lookups for the bus. */
Target *manager_get_target(Manager *m, pid_t pid);
unsigned manager_policy_matched(Manager *m, const char *policy);   /* targets matched by it */
uint64_t manager_policy_locked(Manager *m, const char *policy);    /* their locked bytes */

/* Actions (root only; the bus checks the caller). Negative errno on failure:
 *   manager_apply:   -ESRCH no such process (or a zombie), -EPERM a safety rule refuses it at once
 *                    (*ret_state says which). 0: a job runs, and message is answered through
 *                    bus_reply_apply() when it ends (NotMatched, NoSuchProcess if it exits meanwhile).
 *   manager_release: -ESRCH no such process or not a target. 0: message is answered through
 *                    bus_reply_release() once mlockd's own locks are undone.
 *   manager_reload:  -EINVAL when the new configuration has problems: the old one stays, and
 *                    *ret_problems (caller frees) lists them "FILE:LINE: message". */
int manager_apply(Manager *m, pid_t pid, sd_bus_message *message, const char **ret_state);
int manager_release(Manager *m, pid_t pid, sd_bus_message *message);
int manager_reload(Manager *m, char ***ret_problems);

/* Explain (read-only): why pid does or does not match each policy, read afresh for a process
 * that is not a target. -ESRCH no such process, -ENOENT a kernel thread, zombie or thread. */
typedef struct MatchExplanation MatchExplanation;
int manager_explain_process(Manager *m, pid_t pid, MatchExplanation **ret);
/* The same for the bus: answers message through bus_reply_explain(), at once for a known target, or
 * once the injector has read the exe of another process. */
int manager_explain(Manager *m, pid_t pid, sd_bus_message *message);

/* The metrics file (MetricsFile=): written before READY=1, removed at a clean stop. */
void manager_metrics_start(Manager *m);
void manager_metrics_stop(Manager *m);

/* Implemented in manager-bus.c. */
int manager_bus_connect(Manager *m);    /* connect, add the object, request org.mlockd1 */
void bus_emit_target_changed(Manager *m, const Target *t);
void bus_emit_budget_exceeded(Manager *m, const CgroupAccount *c);
void bus_emit_locked_bytes_changed(Manager *m);
/* Answer a waiting Apply: r 0 with t's final state, or -ESRCH, -ENOENT. */
void bus_reply_apply(Manager *m, sd_bus_message *message, pid_t pid, int r, const Target *t);
void bus_reply_explain(Manager *m, sd_bus_message *message, pid_t pid, int r, const MatchExplanation *e);
/* Answer a waiting Release: r 0, -ESRCH, or -EPERM/-EIO with t's state saying why. */
void bus_reply_release(Manager *m, sd_bus_message *message, pid_t pid, int r, const Target *t);
int bus_introspect(FILE *f);        /* the interface description, without a bus */
