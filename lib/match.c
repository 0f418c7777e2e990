/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fnmatch.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "fileio.h"
#include "match.h"
#include "parse-util.h"
#include "strv.h"

int match_resolve_user(const char *user, uid_t *ret) {
        struct passwd pw, *result = NULL;
        char buf[4096];
        unsigned uid;
        int r;

        if (parse_uint(user, &uid) >= 0) {
                if (uid == (unsigned) -1)
                        return -EINVAL;
                *ret = (uid_t) uid;
                return 0;
        }
        r = getpwnam_r(user, &pw, buf, sizeof buf, &result);
        if (r != 0)
                return -r;
        if (!result)
                return -ENOENT;
        *ret = result->pw_uid;
        return 0;
}

static bool glob_any(char *const *patterns, const char *value) {
        if (!value)
                return false;
        STRV_FOREACH(p, patterns)
                if (fnmatch(*p, value, 0) == 0)
                        return true;
        return false;
}

static bool literal_any(char *const *patterns, const char *value) {
        if (!value)
                return false;
        STRV_FOREACH(p, patterns)
                if (!strpbrk(*p, "*?[") && streq(*p, value))
                        return true;
        return false;
}

static bool user_any(char *const *users, uid_t uid) {
        STRV_FOREACH(u, users) {
                uid_t want;

                if (match_resolve_user(*u, &want) >= 0 && want == uid)
                        return true;
        }
        return false;
}

/* The [Match] keys in the order matching (and Explain) goes through them. */
typedef enum MatchKey {
        MATCH_KEY_EXECUTABLE,
        MATCH_KEY_NAME,
        MATCH_KEY_CGROUP,
        MATCH_KEY_UNIT,
        MATCH_KEY_USER,
        _MATCH_KEY_MAX,
} MatchKey;

static const char *const match_key_names[_MATCH_KEY_MAX] = {
        [MATCH_KEY_EXECUTABLE] = "Executable",
        [MATCH_KEY_NAME] = "Name",
        [MATCH_KEY_CGROUP] = "Cgroup",
        [MATCH_KEY_UNIT] = "Unit",
        [MATCH_KEY_USER] = "User",
};

static char *const *key_patterns(const Policy *policy, MatchKey k) {
        switch (k) {
        case MATCH_KEY_EXECUTABLE:
                return policy->match_executable;
        case MATCH_KEY_NAME:
                return policy->match_name;
        case MATCH_KEY_CGROUP:
                return policy->match_cgroup;
        case MATCH_KEY_UNIT:
                return policy->match_unit;
        case MATCH_KEY_USER:
                return policy->match_user;
        default:
                return NULL;
        }
}

/* Does key k (given in the policy) hold for p? */
static bool key_held(const Policy *policy, MatchKey k, const MatchProcess *p) {
        switch (k) {
        case MATCH_KEY_EXECUTABLE:
                /* what the user wrote, or what it resolves to (a symlink's target) */
                return glob_any(policy->match_executable, p->exe) ||
                       (p->exe && strv_contains(policy->executable_resolved, p->exe));
        case MATCH_KEY_NAME:
                return glob_any(policy->match_name, p->comm);
        case MATCH_KEY_CGROUP:
                return glob_any(policy->match_cgroup, p->cgroup);
        case MATCH_KEY_UNIT:
                return glob_any(policy->match_unit, p->unit);
        case MATCH_KEY_USER:
                return user_any(policy->match_user, p->uid);
        default:
                return false;
        }
}

/* Pid 1 matches only a policy that names it literally. */
static bool pid1_allowed(const Policy *policy, const MatchProcess *p) {
        return p->pid != 1 || literal_any(policy->match_executable, p->exe) ||
               literal_any(policy->match_name, p->comm);
}

bool match_policy_one(const Policy *policy, const MatchProcess *p) {
        bool any = false;

        if (!policy || !p)
                return false;

        for (MatchKey k = 0; k < _MATCH_KEY_MAX; k++) {
                if (!key_patterns(policy, k))
                        continue;
                if (!key_held(policy, k, p))
                        return false;
                any = true;
        }
        if (!any)
                return false; /* a policy with no Match key would match everything: never */
        return pid1_allowed(policy, p);
}

bool match_possible_without_exe(const PolicySet *set, const MatchProcess *p) {
        if (!set || !p)
                return false;
        for (size_t i = 0; i < set->n_policies; i++) {
                const Policy *policy = set->policies[i];
                bool any = false, held = true;

                for (MatchKey k = 0; held && k < _MATCH_KEY_MAX; k++) {
                        if (!key_patterns(policy, k))
                                continue;
                        any = true;
                        if (k != MATCH_KEY_EXECUTABLE && !key_held(policy, k, p))
                                held = false;
                }
                if (any && held)
                        return true;
        }
        return false;
}

static char *key_value(const MatchProcess *p, MatchKey k) {
        char *s = NULL;

        switch (k) {
        case MATCH_KEY_EXECUTABLE:
                return strdup(strempty(p->exe));
        case MATCH_KEY_NAME:
                return strdup(strempty(p->comm));
        case MATCH_KEY_CGROUP:
                return strdup(strempty(p->cgroup));
        case MATCH_KEY_UNIT:
                return strdup(strempty(p->unit));
        case MATCH_KEY_USER:
                return asprintf(&s, "%u", (unsigned) p->uid) < 0 ? NULL : s;
        default:
                return NULL;
        }
}

/* The values of a key as the user wrote them, blank-separated; resolved executables after "->". */
static char *key_patterns_text(const Policy *policy, MatchKey k) {
        char *s = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        STRV_FOREACH(v, key_patterns(policy, k))
                fprintf(f, "%s%s", v == key_patterns(policy, k) ? "" : " ", *v);
        if (k == MATCH_KEY_EXECUTABLE && policy->executable_resolved) {
                fputs(" (resolved:", f);
                STRV_FOREACH(v, policy->executable_resolved)
                        fprintf(f, " %s", *v);
                fputc(')', f);
        }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

MatchExplanation *match_explanation_free(MatchExplanation *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n_policies; i++) {
                for (size_t j = 0; j < e->policies[i].n_keys; j++) {
                        free(e->policies[i].keys[j].value);
                        free(e->policies[i].keys[j].patterns);
                }
                free(e->policies[i].keys);
        }
        free(e->policies);
        free(e);
        return NULL;
}

int match_explain(const PolicySet *set, const MatchProcess *p, MatchExplanation **ret) {
        _cleanup_(match_explanation_freep) MatchExplanation *e = NULL;

        if (!set || !p || !ret)
                return -EINVAL;
        e = calloc(1, sizeof(MatchExplanation));
        if (!e)
                return -ENOMEM;
        e->first = -1;
        e->policies = calloc(set->n_policies ?: 1, sizeof(MatchPolicyResult));
        if (!e->policies)
                return -ENOMEM;

        for (size_t i = 0; i < set->n_policies; i++) {
                const Policy *policy = set->policies[i];
                MatchPolicyResult *r = &e->policies[e->n_policies++];

                r->policy = policy;
                r->keys = calloc(_MATCH_KEY_MAX, sizeof(MatchKeyResult));
                if (!r->keys)
                        return -ENOMEM;
                for (MatchKey k = 0; k < _MATCH_KEY_MAX; k++) {
                        MatchKeyResult *kr;

                        if (!key_patterns(policy, k))
                                continue;
                        kr = &r->keys[r->n_keys++];
                        kr->key = match_key_names[k];
                        kr->held = key_held(policy, k, p);
                        kr->value = key_value(p, k);
                        kr->patterns = key_patterns_text(policy, k);
                        if (!kr->value || !kr->patterns)
                                return -ENOMEM;
                }
                r->matched = match_policy_one(policy, p);
                if (!pid1_allowed(policy, p))
                        r->note = "pid 1 matches only a policy naming it literally (Executable= or Name= without "
                                  "wildcards)";
                if (r->matched && e->first < 0)
                        e->first = (int) i;
        }
        *ret = TAKE_PTR(e);
        return 0;
}

const Policy *match_policy(const PolicySet *set, const MatchProcess *p) {
        if (!set)
                return NULL;
        for (size_t i = 0; i < set->n_policies; i++)
                if (match_policy_one(set->policies[i], p))
                        return set->policies[i];
        return NULL;
}

/* Does pattern match an entry name of dir (cut to 15 characters)? For proc, the comm of each
 * numeric entry instead. */
static bool dir_has_name(const char *pattern, const char *dir, bool proc) {
        bool found = false;
        struct dirent *de;
        DIR *d;

        d = opendir(dir);
        if (!d)
                return false;
        while (!found && (de = readdir(d))) {
                char name[MATCH_COMM_MAX + 1];

                if (de->d_name[0] == '.')
                        continue;
                if (proc) {
                        _cleanup_free_ char *path = NULL, *comm = NULL;

                        if (!strchr("123456789", de->d_name[0]) || asprintf(&path, "%s/%s/comm", dir, de->d_name) < 0)
                                continue;
                        if (read_one_line_file(path, &comm) < 0)
                                continue;
                        found = fnmatch(pattern, comm, 0) == 0;
                        continue;
                }
                memcpy(name, de->d_name, MIN(strlen(de->d_name), (size_t) MATCH_COMM_MAX));
                name[MIN(strlen(de->d_name), (size_t) MATCH_COMM_MAX)] = '\0';
                found = fnmatch(pattern, name, 0) == 0;
        }
        closedir(d);
        return found;
}

bool match_name_plausible(const char *pattern, const char *proc_root, const char *const *dirs) {
        if (!pattern)
                return false;
        if (proc_root && dir_has_name(pattern, proc_root, true))
                return true;
        for (const char *const *d = dirs; d && *d; d++)
                if (dir_has_name(pattern, *d, false))
                        return true;
        return false;
}

/* /user.slice and below: where systemd puts users' sessions and user managers, and delegates. */
static bool cgroup_in_user_slice(const char *cgroup) {
        static const char slice[] = "/user.slice";

        return strneq(cgroup, slice, strlen(slice)) && (cgroup[strlen(slice)] == '\0' || cgroup[strlen(slice)] == '/');
}

bool match_may_raise_memlock(const Policy *policy, uid_t uid, const char *cgroup) {
        if (!policy || !policy->raise_memlock_limit)
                return false;
        if (uid == 0)
                return true;
        /* the policy matched, so a User= key held: the kernel's uid, which no process can choose */
        if (!strv_isempty(policy->match_user))
                return true;
        if ((!strv_isempty(policy->match_unit) || !strv_isempty(policy->match_cgroup)) && cgroup &&
            cgroup[0] == '/' && !cgroup_in_user_slice(cgroup))
                return true;
        return false;
}

_printf_(4, 5) static int lint_warn(PolicySet *s, const Policy *p, unsigned line, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        char *m;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0 || asprintf(&m, "%s:%u: warning: %s", p->path, line, msg) < 0)
                return -ENOMEM;
        return strv_consume(&s->warnings, m);
}

int match_lint(PolicySet *set, const char *proc_root, const char *cgroupfs_root, const char *const *program_dirs) {
        CgroupLayout layout = {};
        int memcg, r;

        if (!set)
                return -EINVAL;
        memcg = cgroupfs_root ? cgroup_layout_detect(cgroupfs_root, &layout) : -ENOMEDIUM;
        cgroup_layout_done(&layout);

        for (size_t i = 0; i < set->n_policies; i++) {
                const Policy *p = set->policies[i];

                for (size_t j = 0; p->match_name && p->match_name[j]; j++) {
                        if (match_name_plausible(p->match_name[j], proc_root, program_dirs))
                                continue;
                        r = lint_warn(set, p, p->match_name_lines ? p->match_name_lines[j] : 1,
                                      "Name=%s matches no running process and no program in the usual "
                                      "directories (/usr/bin, /usr/sbin, ...; names cut to %u characters); "
                                      "right only if the program renames itself", p->match_name[j],
                                      MATCH_COMM_MAX);
                        if (r < 0)
                                return r;
                }
                if (p->raise_memlock_limit && p->mode != LOCK_MODE_NONE && strv_isempty(p->match_user) &&
                    strv_isempty(p->match_unit) && strv_isempty(p->match_cgroup)) {
                        unsigned line = p->match_name_lines ? p->match_name_lines[0]
                                        : p->match_executable_lines ? p->match_executable_lines[0] : 1;

                        r = lint_warn(set, p, line,
                                      "RaiseMemlockLimit= will lift RLIMIT_MEMLOCK for root's processes only: "
                                      "Executable= and Name= are what any local user can satisfy; add User=, "
                                      "Unit= or Cgroup= to lift it for others (mlockd.policy(5), THREAT MODEL), "
                                      "or set RaiseMemlockLimit=no");
                        if (r < 0)
                                return r;
                }
                if (p->cgroup_max_unevictable > 0 && memcg < 0) {
                        r = lint_warn(set, p, p->cgroup_max_unevictable_line ?: 1,
                                      "CgroupMaxUnevictable= cannot be enforced: this host has no memory cgroup "
                                      "controller mlockd can read (%s)", strerror(-memcg));
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}
