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

typedef struct Injector Injector;

typedef struct Manager Manager;

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
        char *state;            /* "pending", "locked", "partial:rlimit", "skipped:seccomp", ... */
        uint64_t locked_bytes;  /* smaps Locked: of what mlockd planned, after verification */
        bool released;          /* Release()d: left alone until it execs */

        /* private to manager.c */
        uid_t uid;
        int job;                /* TargetJob */
        bool queued;
        LockPlan *plan;         /* what mlockd planned (and so what it unlocks) */
        PrefetchRange *prefetch;
        size_t n_prefetch;
        size_t cursor_range;    /* LOCK: the range being locked */
        uint64_t cursor_offset; /* LOCK: bytes of it done */
        uint64_t done_bytes;    /* LOCK: bytes of the plan done */
        unsigned replans;       /* plans redone because the mappings changed under them */
        usec_t discovered;      /* CLOCK_MONOTONIC when mlockd found it (a young target is rechecked often) */
        bool deferred;          /* found by a fork/exec event: first plan on the settle timer */
        double rate;            /* bytes per usec the kernel locked in this target, 0: unknown */
        const char *error;      /* the first step error, as a state reason ("enomem", ...) */
        bool mlockall_done;     /* MCL_* injected: unlock with munlockall */
        usec_t max_hold;        /* the longest one step held the target */
} Target;

typedef struct CgroupAccount {
        char *path;             /* memory cgroup path */
        uint64_t unevictable;   /* the kernel's figure (memory.stat) */
        uint64_t locked;        /* bytes mlockd locked in targets of this cgroup */
        uint64_t budget;        /* CgroupMaxUnevictable= of the policies there, 0: none */
        bool over_budget;       /* BudgetExceeded was emitted and not yet cleared */
} CgroupAccount;

struct Manager {
        sd_event *event;
        sd_bus *bus;
        char *config_dir;
        bool dry_run;

        PolicySet *policies;

        Target **targets;       /* sorted by pid */
        size_t n_targets;

        CgroupAccount *cgroups;
        size_t n_cgroups;

        uint64_t locked_bytes;  /* sum over targets */
        uint64_t injections_total;

        /* private to manager.c */
        Injector *injector;
        CgroupLayout cgroup_layout;
        bool have_cgroup_layout;
        int procmon_fd;
        sd_event_source *procmon_source;
        sd_event_source *scan_timer;
        sd_event_source *accounting_timer;
        sd_event_source *settle_timer;
        usec_t settle_interval;
        sd_event_source *work_source;
        sd_event_source *sighup_source;
        pid_t *queue;           /* pids with work to do, FIFO */
        size_t n_queue;
        double injection_seconds_sum;
        uint64_t injection_buckets[8];
        bool metrics_dirty;
};

int manager_new(const char *config_dir, bool dry_run, PolicySet *policies, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_CLEANUP(Manager *, manager_free);
/* Start the injector (before any confinement), open the proc connector. */
int manager_prepare(Manager *m);
/* First scan, bus name, then READY=1; runs the loop until SIGTERM/SIGINT. */
int manager_run(Manager *m, bool debug_seccomp);

/* Lookups for the bus. */
Target *manager_get_target(Manager *m, pid_t pid);
unsigned manager_policy_matched(Manager *m, const char *policy);   /* targets matched by it */
uint64_t manager_policy_locked(Manager *m, const char *policy);    /* their locked bytes */

/* Actions (root only; the bus checks the caller). Negative errno on failure:
 *   manager_apply:   -ESRCH no such process, -ENOENT no policy matches it, -EPERM a safety rule
 *                    refuses it (*ret_state says which); on success *ret_state is the new state
 *                    (owned by the target, valid until the next change).
 *   manager_release: -ESRCH no such process or not a target.
 *   manager_reload:  -EINVAL when the new configuration has problems: the old one stays, and
 *                    *ret_problems (caller frees) lists them "FILE:LINE: message". */
int manager_apply(Manager *m, pid_t pid, const char **ret_state);
int manager_release(Manager *m, pid_t pid);
int manager_reload(Manager *m, char ***ret_problems);

/* Explain (read-only): why pid does or does not match each policy, read afresh for a process
 * that is not a target. -ESRCH no such process, -ENOENT a kernel thread, zombie or thread. */
typedef struct MatchExplanation MatchExplanation;
int manager_explain_process(Manager *m, pid_t pid, MatchExplanation **ret);

/* The metrics file (MetricsFile=): written before READY=1, removed at a clean stop. */
void manager_metrics_start(Manager *m);
void manager_metrics_stop(Manager *m);

/* Implemented in manager-bus.c. */
int manager_bus_connect(Manager *m);    /* connect, add the object, request org.mlockd1 */
void bus_emit_target_changed(Manager *m, const Target *t);
void bus_emit_budget_exceeded(Manager *m, const CgroupAccount *c);
void bus_emit_locked_bytes_changed(Manager *m);
int bus_introspect(FILE *f);        /* the interface description, without a bus */
