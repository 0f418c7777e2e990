/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fnmatch.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

bool match_policy_one(const Policy *policy, const MatchProcess *p) {
        bool any = false;

        if (!policy || !p)
                return false;

        if (policy->match_executable) {
                /* what the user wrote, or what it resolves to (a symlink's target) */
                if (!glob_any(policy->match_executable, p->exe) &&
                    !(p->exe && strv_contains(policy->executable_resolved, p->exe)))
                        return false;
                any = true;
        }
        if (policy->match_name) {
                if (!glob_any(policy->match_name, p->comm))
                        return false;
                any = true;
        }
        if (policy->match_cgroup) {
                if (!glob_any(policy->match_cgroup, p->cgroup))
                        return false;
                any = true;
        }
        if (policy->match_unit) {
                if (!glob_any(policy->match_unit, p->unit))
                        return false;
                any = true;
        }
        if (policy->match_user) {
                if (!user_any(policy->match_user, p->uid))
                        return false;
                any = true;
        }
        if (!any)
                return false; /* a policy with no Match key would match everything: never */

        if (p->pid == 1 && !literal_any(policy->match_executable, p->exe) &&
            !literal_any(policy->match_name, p->comm))
                return false;

        return true;
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
