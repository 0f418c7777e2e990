/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Matching: every [Match] key must hold, any value of a repeated key may; first policy wins; no
 * Match key never matches; pid 1 only when named literally. */

#include <stdlib.h>

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

int main(void) {
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

        /* a policy without any Match key (built by hand: the parser refuses it) matches nothing */
        Policy empty = { .name = (char *) "empty" };
        ASSERT_FALSE(match_policy_one(&empty, &p));
        return 0;
}
