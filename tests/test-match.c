/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Matching: every [Match] key must hold, any value of a repeated key may; first policy wins; no
 * Match key never matches; pid 1 only when named literally. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "match.h"
#include "strv.h"
#include "tests.h"

static Policy *parse(const char *name, const char *text) {
        _cleanup_strv_free_ char **problems = NULL;
        DaemonConfig d = { .default_max_pause = 5000 };
        Policy *p = NULL;

        ASSERT_OK(policy_parse_string(name, name, text, &d, &p, &problems));
        if (!strv_isempty(problems))
                test_fail("unexpected problem: %s", problems[0]);
        ASSERT_NOT_NULL(p);
        return p;
}

static void touch(const char *path, const char *content) {
        FILE *f = fopen(path, "we");

        ASSERT_NOT_NULL(f);
        fputs(content, f);
        ASSERT_EQ(fclose(f), 0);
}

/* Executable= naming a symlink (literal or glob) also matches the file it resolves to; a pattern
 * that matches no file is a warning; what the patterns match already is not listed again. */
static void test_resolve_executables(void) {
        _cleanup_(policy_freep) Policy *lit = NULL, *glob = NULL, *none = NULL;
        _cleanup_strv_free_ char **notes = NULL, **warnings = NULL;
        char tmp[] = "/tmp/test-match-XXXXXX", real[256], link[256], text[1024], cmd[300];
        MatchProcess p = { .pid = 42, .comm = "real" };

        ASSERT_NOT_NULL(mkdtemp(tmp));
        snprintf(real, sizeof real, "%s/real", tmp);
        snprintf(link, sizeof link, "%s/link", tmp);
        touch(real, "#!/bin/sh\n");
        ASSERT_EQ(symlink(real, link), 0);

        snprintf(text, sizeof text, "[Match]\nName=real\nExecutable=%s\n", link);
        lit = parse("lit", text);
        p.exe = real;
        ASSERT_FALSE(match_policy_one(lit, &p)); /* not resolved yet */
        ASSERT_OK(policy_resolve_executables(lit, "/", &notes, &warnings));
        ASSERT_EQ(strv_length(lit->executable_resolved), 1);
        ASSERT_STREQ(lit->executable_resolved[0], real);
        ASSERT_TRUE(match_policy_one(lit, &p));
        ASSERT_EQ(strv_length(notes), 1);
        snprintf(text, sizeof text, "lit:3: note: Executable=%s is %s; both match", link, real);
        ASSERT_STREQ(notes[0], text);
        ASSERT_EQ(strv_length(warnings), 0);
        notes = strv_free(notes);

        /* a glob matching both the link and the real file: the real file needs no resolution */
        snprintf(text, sizeof text, "[Match]\nExecutable=%s/l*\nExecutable=%s/r*\n", tmp, tmp);
        glob = parse("glob", text);
        ASSERT_OK(policy_resolve_executables(glob, "/", &notes, &warnings));
        ASSERT_NULL(glob->executable_resolved); /* r* matches the real path already */
        ASSERT_EQ(strv_length(notes), 0);
        glob = policy_free(glob);
        snprintf(text, sizeof text, "[Match]\nExecutable=%s/l*\n", tmp);
        glob = parse("glob", text);
        ASSERT_OK(policy_resolve_executables(glob, "/", &notes, &warnings));
        ASSERT_EQ(strv_length(glob->executable_resolved), 1);
        ASSERT_STREQ(glob->executable_resolved[0], real);
        ASSERT_TRUE(strstr(notes[0], "glob:2: note: Executable="));
        ASSERT_TRUE(strstr(notes[0], "/l*: "));
        ASSERT_TRUE(match_policy_one(glob, &p));
        p.exe = "/usr/bin/other";
        ASSERT_FALSE(match_policy_one(glob, &p));

        /* nothing there: a warning, nothing resolved */
        snprintf(text, sizeof text, "[Match]\nExecutable=%s/missing\nExecutable=%s/x*\n", tmp, tmp);
        none = parse("none", text);
        ASSERT_OK(policy_resolve_executables(none, "/", NULL, &warnings));
        ASSERT_NULL(none->executable_resolved);
        ASSERT_EQ(strv_length(warnings), 2);
        ASSERT_TRUE(strstr(warnings[0], "none:2: warning: Executable="));
        ASSERT_TRUE(strstr(warnings[0], "/missing matches no existing file"));
        ASSERT_TRUE(strstr(warnings[1], "none:3: warning: Executable="));
        ASSERT_TRUE(strstr(warnings[1], "/x* matches no existing file (as glob(7) expands it"));

        /* the link removed: a reload (a new resolution) forgets it */
        ASSERT_EQ(unlink(link), 0);
        ASSERT_OK(policy_resolve_executables(lit, "/", NULL, NULL));
        ASSERT_NULL(lit->executable_resolved);
        p.exe = real;
        ASSERT_FALSE(match_policy_one(lit, &p));

        snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", tmp);
        ASSERT_EQ(system(cmd), 0);
}

/* Name= plausibility: a running process's comm, or a program's file name cut to 15 characters. */
static void test_name_plausible(void) {
        char tmp[] = "/tmp/test-match-XXXXXX", path[300];
        const char *dirs[] = { path, NULL };

        ASSERT_NOT_NULL(mkdtemp(tmp));
        snprintf(path, sizeof path, "%s/proc", tmp);
        ASSERT_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/proc/123", tmp);
        ASSERT_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/proc/123/comm", tmp);
        touch(path, "renamed-worker\n");
        snprintf(path, sizeof path, "%s/bin", tmp);
        ASSERT_EQ(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/bin/a-very-long-program-name", tmp);
        touch(path, "");
        snprintf(path, sizeof path, "%s/bin", tmp);

        snprintf(path, sizeof path, "%s/proc", tmp);
        ASSERT_TRUE(match_name_plausible("renamed-worker", path, NULL));
        ASSERT_TRUE(match_name_plausible("renamed-*", path, NULL));
        ASSERT_FALSE(match_name_plausible("worker", path, NULL));
        snprintf(path, sizeof path, "%s/bin", tmp);
        ASSERT_TRUE(match_name_plausible("a-very-long-pro", NULL, dirs));   /* what the kernel keeps */
        ASSERT_TRUE(match_name_plausible("a-very-*", NULL, dirs));
        ASSERT_FALSE(match_name_plausible("*-name", NULL, dirs));           /* cut away */
        ASSERT_FALSE(match_name_plausible("b*", NULL, dirs));

        snprintf(path, sizeof path, "rm -rf -- '%s'", tmp);
        ASSERT_EQ(system(path), 0);
}

/* Explain: every policy in order, each key with the process's value and whether it held. */
static void test_explain(void) {
        _cleanup_(match_explanation_freep) MatchExplanation *e = NULL;
        Policy *ps[3];
        PolicySet set = { .policies = ps, .n_policies = 3 };
        MatchProcess p = {
                .pid = 77, .exe = "/usr/bin/redis-check-rdb", .comm = "redis-server",
                .cgroup = "/system.slice/redis.service", .unit = "redis.service", .uid = 0,
        };

        ps[0] = parse("db", "[Match]\nName=postgres\nUser=0\n");
        ps[1] = parse("redis", "[Match]\nExecutable=/usr/bin/redis-*\nUnit=redis.service\n");
        ps[2] = parse("any-redis", "[Match]\nName=redis-*\nName=valkey\n");

        ASSERT_OK(match_explain(&set, &p, &e));
        ASSERT_EQ(e->n_policies, 3);
        ASSERT_EQ(e->first, 1);
        ASSERT_FALSE(e->policies[0].matched);
        ASSERT_EQ(e->policies[0].n_keys, 2);
        ASSERT_STREQ(e->policies[0].keys[0].key, "Name");
        ASSERT_STREQ(e->policies[0].keys[0].value, "redis-server");
        ASSERT_STREQ(e->policies[0].keys[0].patterns, "postgres");
        ASSERT_FALSE(e->policies[0].keys[0].held);
        ASSERT_STREQ(e->policies[0].keys[1].key, "User");
        ASSERT_STREQ(e->policies[0].keys[1].value, "0");
        ASSERT_TRUE(e->policies[0].keys[1].held);
        ASSERT_TRUE(e->policies[1].matched);
        ASSERT_STREQ(e->policies[1].keys[0].key, "Executable");
        ASSERT_STREQ(e->policies[1].keys[0].value, "/usr/bin/redis-check-rdb");
        ASSERT_TRUE(e->policies[1].keys[0].held);
        ASSERT_STREQ(e->policies[1].keys[1].key, "Unit");
        ASSERT_TRUE(e->policies[1].keys[1].held);
        ASSERT_TRUE(e->policies[2].matched); /* matches too, but the first one wins */
        ASSERT_STREQ(e->policies[2].keys[0].patterns, "redis-* valkey");
        ASSERT_NULL(e->policies[2].note);
        e = match_explanation_free(e);

        /* pid 1: keys hold, the literal rule refuses, and says so */
        p.pid = 1;
        ASSERT_OK(match_explain(&set, &p, &e));
        ASSERT_EQ(e->first, -1);
        ASSERT_TRUE(e->policies[1].keys[0].held);
        ASSERT_FALSE(e->policies[1].matched);
        ASSERT_NOT_NULL(e->policies[1].note);
        ASSERT_TRUE(strstr(e->policies[1].note, "pid 1"));

        for (size_t i = 0; i < 3; i++)
                policy_free(ps[i]);
}

/* --check-config's host checks: an unlikely Name=, a budget without a memory controller (the
 * cgroupfs fixtures of test-cgroup: none, v2 without memory, v1 with it). */
static void test_lint(void) {
        Policy *ps[2];
        PolicySet set = { .policies = ps, .n_policies = 2 };
        char none[4096], v2[4096], v1[4096], bin[4096];
        const char *dirs[] = { bin, NULL };

        snprintf(none, sizeof none, "%s/cgroup/none", test_data_dir());
        snprintf(v2, sizeof v2, "%s/cgroup/v2-nomemory", test_data_dir());
        snprintf(v1, sizeof v1, "%s/cgroup/v1", test_data_dir());
        snprintf(bin, sizeof bin, "%s/cgroup", test_data_dir()); /* entries: none, v1, v2, ... */

        /* (RaiseMemlockLimit=no: the warning about borrowed limits is tested on its own below) */
        ps[0] = parse("budget", "[Match]\nName=v1\n[Limits]\nMaxLocked=1G\nCgroupMaxUnevictable=8G\n"
                                "RaiseMemlockLimit=no\n");
        ps[1] = parse("names", "[Match]\nName=no-such-prog\nName=v2-no*\n[Limits]\nRaiseMemlockLimit=no\n");

        ASSERT_OK(match_lint(&set, NULL, none, dirs));
        ASSERT_EQ(strv_length(set.warnings), 2);
        ASSERT_TRUE(strstr(set.warnings[0], "budget:5: warning: CgroupMaxUnevictable= cannot be enforced: this host "
                                            "has no memory cgroup controller"));
        ASSERT_TRUE(strstr(set.warnings[1], "names:2: warning: Name=no-such-prog matches no running process"));
        set.warnings = strv_free(set.warnings);

        ASSERT_OK(match_lint(&set, NULL, v2, dirs));
        ASSERT_EQ(strv_length(set.warnings), 2);
        ASSERT_TRUE(strstr(set.warnings[0], "CgroupMaxUnevictable= cannot be enforced"));
        set.warnings = strv_free(set.warnings);

        ASSERT_OK(match_lint(&set, NULL, v1, dirs));
        ASSERT_EQ(strv_length(set.warnings), 1); /* the memory controller is there */
        ASSERT_TRUE(strstr(set.warnings[0], "Name=no-such-prog"));
        set.warnings = strv_free(set.warnings);

        for (size_t i = 0; i < 2; i++)
                policy_free(ps[i]);
}

/* Limits that cannot be borrowed: RLIMIT_MEMLOCK is lifted only on keys the process cannot forge.
 * The case of issue 14: uid 65534 running a copy of a program named memcached. */
static void test_may_raise_memlock(void) {
        _cleanup_(policy_freep) Policy *by_name = NULL, *by_exe = NULL, *by_user = NULL, *by_unit = NULL,
                                       *by_cgroup = NULL, *no_raise = NULL;
        Policy *ps[4];
        PolicySet set = {};
        char none[4096];

        by_name = parse("cache", "[Match]\nName=memcached\nName=redis-server\n");
        by_exe = parse("exe", "[Match]\nExecutable=/usr/bin/memcached\n");
        by_user = parse("user", "[Match]\nName=memcached\nUser=memcache\n");
        by_unit = parse("unit", "[Match]\nName=memcached\nUnit=memcached.service\n");
        by_cgroup = parse("cgroup", "[Match]\nCgroup=/system.slice/*\n");
        no_raise = parse("none", "[Match]\nUser=4242\n[Limits]\nRaiseMemlockLimit=no\n");

        /* the spoofed Name= (or a copied executable) as nobody, wherever it runs: no */
        ASSERT_FALSE(match_may_raise_memlock(by_name, 65534, "/user.slice/user-65534.slice/session-1.scope"));
        ASSERT_FALSE(match_may_raise_memlock(by_name, 65534, "/system.slice/memcached.service"));
        ASSERT_FALSE(match_may_raise_memlock(by_exe, 65534, "/system.slice/memcached.service"));
        ASSERT_FALSE(match_may_raise_memlock(by_name, 65534, NULL));
        /* root's own processes: yes */
        ASSERT_TRUE(match_may_raise_memlock(by_name, 0, "/user.slice/user-0.slice/session-1.scope"));
        /* User=: the policy matched, so the uid is one it names */
        ASSERT_TRUE(match_may_raise_memlock(by_user, 65534, "/user.slice/user-65534.slice/session-1.scope"));
        /* Unit= or Cgroup=: only outside user.slice, where a user cannot create or name cgroups */
        ASSERT_TRUE(match_may_raise_memlock(by_unit, 65534, "/system.slice/memcached.service"));
        ASSERT_FALSE(match_may_raise_memlock(by_unit, 1000, "/user.slice/user-1000.slice/user@1000.service/app.slice/"
                                                            "memcached.service"));
        ASSERT_TRUE(match_may_raise_memlock(by_cgroup, 65534, "/system.slice/foo.service"));
        ASSERT_FALSE(match_may_raise_memlock(by_cgroup, 65534, "/user.slice"));
        ASSERT_TRUE(match_may_raise_memlock(by_cgroup, 65534, "/user.slicer/x")); /* another name */
        ASSERT_FALSE(match_may_raise_memlock(by_cgroup, 65534, NULL));
        ASSERT_FALSE(match_may_raise_memlock(by_cgroup, 65534, ""));
        /* RaiseMemlockLimit=no: never, not even for root */
        ASSERT_FALSE(match_may_raise_memlock(no_raise, 4242, "/system.slice/x.service"));
        ASSERT_FALSE(match_may_raise_memlock(no_raise, 0, "/system.slice/x.service"));
        ASSERT_FALSE(match_may_raise_memlock(NULL, 0, "/"));

        /* --check-config warns about the policies that match on forgeable keys only */
        snprintf(none, sizeof none, "%s/cgroup/none", test_data_dir());
        ps[0] = by_name, ps[1] = by_user, ps[2] = by_exe, ps[3] = no_raise;
        set.policies = ps;
        set.n_policies = 4;
        ASSERT_OK(match_lint(&set, NULL, none, NULL));
        {
                char *raise[4] = {};
                size_t n = 0;

                /* (the Name= ones are the unlikely-name warnings: no such programs in no dirs) */
                STRV_FOREACH(w, set.warnings)
                        if (strstr(*w, "RaiseMemlockLimit=") && n < ELEMENTSOF(raise))
                                raise[n++] = *w;
                ASSERT_EQ(n, 2);
                ASSERT_TRUE(strstr(raise[0], "cache:2: warning: RaiseMemlockLimit= will lift RLIMIT_MEMLOCK for "
                                             "root's processes only"));
                ASSERT_TRUE(strstr(raise[1], "exe:2: warning: RaiseMemlockLimit="));
        }
        set.warnings = strv_free(set.warnings);
}

int main(void) {
        test_may_raise_memlock();
        test_lint();
        test_explain();
        test_resolve_executables();
        test_name_plausible();

        _cleanup_(policy_freep) Policy *redis = NULL, *any_name = NULL, *by_user = NULL, *by_unit = NULL,
                                       *init = NULL;
        MatchProcess p = {
                .pid = 1234, .exe = "/usr/bin/redis-server", .comm = "redis-server",
                .cgroup = "/system.slice/redis.service", .unit = "redis.service", .uid = 0,
        };
        uid_t uid;

        redis = parse("redis", "[Match]\nExecutable=/usr/bin/redis-*\nCgroup=/system.slice/*\n");
        ASSERT_TRUE(match_policy_one(redis, &p));
        p.cgroup = "/user.slice/user-1000.slice/session-2.scope";
        ASSERT_FALSE(match_policy_one(redis, &p)); /* all keys must hold */
        p.cgroup = "/system.slice/redis.service";
        p.exe = NULL;
        ASSERT_FALSE(match_policy_one(redis, &p)); /* unknown exe never matches an Executable= glob */
        p.exe = "/usr/bin/redis-server";

        any_name = parse("names", "[Match]\nName=postgres\nName=redis-*\n");
        ASSERT_TRUE(match_policy_one(any_name, &p));
        p.comm = "memcached";
        ASSERT_FALSE(match_policy_one(any_name, &p));
        p.comm = "postgres";
        ASSERT_TRUE(match_policy_one(any_name, &p)); /* any value of a repeated key */
        p.comm = "redis-server";

        by_user = parse("users", "[Match]\nUser=root\nUser=4242\n");
        ASSERT_TRUE(match_policy_one(by_user, &p));
        p.uid = 4242;
        ASSERT_TRUE(match_policy_one(by_user, &p));
        p.uid = 65534;
        ASSERT_FALSE(match_policy_one(by_user, &p));
        p.uid = 0;
        ASSERT_OK(match_resolve_user("root", &uid));
        ASSERT_EQ(uid, 0);
        ASSERT_ERROR(match_resolve_user("no-such-user-mlockd-test", &uid), ENOENT);

        by_unit = parse("units", "[Match]\nUnit=redis.service\n");
        ASSERT_TRUE(match_policy_one(by_unit, &p));
        p.unit = NULL;
        ASSERT_FALSE(match_policy_one(by_unit, &p));
        p.unit = "redis.service";

        /* pid 1: only a literal name */
        p.pid = 1;
        ASSERT_FALSE(match_policy_one(any_name, &p)); /* redis-* is a glob */
        init = parse("init", "[Match]\nName=redis-server\n");
        ASSERT_TRUE(match_policy_one(init, &p));
        p.pid = 1234;

        /* first policy in file order wins */
        Policy *list[] = { redis, any_name };
        PolicySet set = { .policies = list, .n_policies = 2 };
        ASSERT_TRUE(match_policy(&set, &p) == redis);
        p.cgroup = "/other";
        ASSERT_TRUE(match_policy(&set, &p) == any_name);
        p.comm = "bash";
        ASSERT_NULL(match_policy(&set, &p));

        /* without its exe: some policy's other keys hold, or none does, whatever the exe */
        p.exe = NULL;
        ASSERT_TRUE(match_possible_without_exe(&set, &p) == false); /* /other, and named bash */
        p.cgroup = "/system.slice/bash.service";
        ASSERT_TRUE(match_possible_without_exe(&set, &p)); /* redis's Cgroup= holds: its exe decides */
        p.cgroup = "/other";
        p.comm = "postgres";
        ASSERT_TRUE(match_possible_without_exe(&set, &p)); /* any_name has no Executable= at all */
        p.comm = "bash";
        Policy *exe_only_list[] = { parse("exe", "[Match]\nExecutable=/usr/bin/redis-*\n") };
        PolicySet exe_only = { .policies = exe_only_list, .n_policies = 1 };
        ASSERT_TRUE(match_possible_without_exe(&exe_only, &p)); /* only the exe can say */
        policy_free(exe_only_list[0]);
        p.exe = "/usr/bin/redis-server";

        /* a policy without any Match key (built by hand: the parser refuses it) matches nothing */
        Policy empty = { .name = (char *) "empty" };
        ASSERT_FALSE(match_policy_one(&empty, &p));
        Policy *empty_list[] = { &empty };
        ASSERT_FALSE(match_possible_without_exe(&(PolicySet) { .policies = empty_list, .n_policies = 1 }, &p));
        return 0;
}
