/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Matching: which policy, if any, governs a process. The first policy in file order whose [Match]
 * keys all hold wins; within a key any of its values may match. Plain data in, no /proc access. */

#include <stdbool.h>
#include <sys/types.h>

#include "policy.h"

typedef struct MatchProcess {
        pid_t pid;
        const char *exe;        /* /proc/PID/exe target, NULL when unknown */
        const char *comm;
        const char *cgroup;     /* the cgroup path Cgroup= globs */
        const char *unit;       /* the unit derived from it, NULL when none */
        uid_t uid;              /* real uid */
} MatchProcess;

/* Does this policy's [Match] hold for p? A policy with no Match key never matches. Pid 1 matches
 * only a policy that names it literally (Executable= or Name= without glob characters). */
bool match_policy_one(const Policy *policy, const MatchProcess *p);
/* The first matching policy, NULL when none. */
const Policy *match_policy(const PolicySet *set, const MatchProcess *p);
/* Could p match a policy of set once its exe is known: does every key but Executable= of some
 * policy hold (p->exe is not looked at)? False means that no exe would make it match, so there is
 * no need to learn it (a round trip to the injector for a process of another owner). */
bool match_possible_without_exe(const PolicySet *set, const MatchProcess *p);
/* Why a process did or did not match: for each policy in order, each [Match] key it gives, the
 * process's value and whether the key held. A pure function of the set and the process, for
 * mlockctl explain (the Explain bus method). */
typedef struct MatchKeyResult {
        const char *key; /* "Executable", "Name", "Cgroup", "Unit", "User" */
        char *value;     /* the process's value ("" when unknown; User=: the uid) */
        char *patterns;  /* the policy's values, blank-separated (Executable=: and what they resolve to) */
        bool held;
} MatchKeyResult;

typedef struct MatchPolicyResult {
        const Policy *policy; /* borrowed from the set */
        bool matched;         /* every key held, and no rule against it */
        const char *note;     /* static text: a rule beyond the keys that refused it, else NULL */
        MatchKeyResult *keys;
        size_t n_keys;
} MatchPolicyResult;

typedef struct MatchExplanation {
        MatchPolicyResult *policies; /* one per policy of the set, in file order */
        size_t n_policies;
        int first; /* index of the policy that wins (the first that matched), -1 when none */
} MatchExplanation;

int match_explain(const PolicySet *set, const MatchProcess *p, MatchExplanation **ret);
MatchExplanation *match_explanation_free(MatchExplanation *e);
DEFINE_CLEANUP(MatchExplanation *, match_explanation_free);

/* The kernel keeps this many characters of a process name (TASK_COMM_LEN - 1). */
#define MATCH_COMM_MAX 15
/* Could some process be named so (Name= globs comm)? True when a running process under proc_root
 * has a comm the pattern matches, or a directory entry in one of dirs (NULL-terminated) has a name
 * that, cut to 15 characters as the kernel cuts the name a program is started by, matches. Only a
 * hint for --check-config: a program may rename itself (prctl PR_SET_NAME) to anything. */
bool match_name_plausible(const char *pattern, const char *proc_root, const char *const *dirs);

/* What --check-config looks at beyond loading, on this host: each Name= that
 * match_name_plausible() doubts, each policy whose RaiseMemlockLimit= match_may_raise_memlock()
 * would grant to root's processes only (no User=, Unit= or Cgroup=), and each CgroupMaxUnevictable= where cgroupfs_root has no memory
 * controller (cgroup_layout_detect()) to enforce it. Appends "FILE:LINE: warning: ..." to
 * set->warnings; -ENOMEM only. */
int match_lint(PolicySet *set, const char *proc_root, const char *cgroupfs_root, const char *const *program_dirs);

/* May mlockd raise RLIMIT_MEMLOCK for a process of uid in cgroup (the Cgroup= path) that policy
 * matched? The limit is the kernel's guard against unprivileged locking, so it is lifted only on
 * the word of something the process cannot forge: it runs as root (uid 0), or the policy names its
 * User=, or the policy has a Unit= or Cgroup= key and the process is outside /user.slice (a user
 * may create, name and move processes in the cgroups below its own user@.service, never
 * elsewhere). Executable= and Name= alone are what any local user can satisfy: a copy of a
 * program, or prctl(PR_SET_NAME). Pure. */
bool match_may_raise_memlock(const Policy *policy, uid_t uid, const char *cgroup);

/* User= value: a numeric uid, or a name resolved with getpwnam_r. -ENOENT for an unknown name. */
int match_resolve_user(const char *user, uid_t *ret);
