/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "macro.h"
#include "tests.h"
#include "units.h"

static void check_unit(const char *path, const char *expect) {
        _cleanup_free_ char *unit = NULL;
        int r;

        r = unit_from_cgroup_path(path, &unit);
        if (expect) {
                if (r < 0)
                        test_fail("unit_from_cgroup_path(\"%s\"): %s, expected \"%s\"", path, strerror(-r), expect);
                ASSERT_STREQ(unit, expect);
        } else {
                if (r != -ENXIO)
                        test_fail("unit_from_cgroup_path(\"%s\"): %d (%s), expected -ENXIO", path, r,
                                  r < 0 ? strerror(-r) : unit);
                ASSERT_NULL(unit);
        }
}

int main(void) {
        static const struct {
                const char *path, *unit;
        } table[] = {
                { "/system.slice/redis.service", "redis.service" },
                { "/user.slice/user-1000.slice/session-2.scope", "session-2.scope" },
                { "/system.slice/foo.service/sub", "foo.service" },
                { "/system.slice/foo.service/sub/deeper.service", "foo.service" },
                { "/init.scope", "init.scope" },
                { "/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service" },
                { "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "user@1000.service" },
                { "/machine.slice/libpod-0123abcd.scope/container", "libpod-0123abcd.scope" },
                { "system.slice/redis.service", "redis.service" },      /* no leading slash */
                { "//system.slice///redis.service", "redis.service" },
                { "/system.slice/_cpu.service", "cpu.service" },       /* cgroupfs escaping */
                { "/_cgroup.x.slice/a.service", "a.service" },         /* an escaped slice */
                { "/system.slice/a\\x2db.service", "a\\x2db.service" }, /* unit name escaping is kept */
                { "/system.slice/dev-disk-by\\x2duuid-1.swap", "dev-disk-by\\x2duuid-1.swap" },
                { "/system.slice/with:colon.socket", "with:colon.socket" },

                { "/", NULL },
                { "", NULL },
                { "/system.slice", NULL },
                { "/user.slice/user-1000.slice", NULL },
                { "/docker/0123abcdef", NULL },                /* not a unit */
                { "/process_api/640dfbca251805ab0b13bdcc058c32e6", NULL },
                { "/system.slice/foo.bar", NULL },             /* unknown type */
                { "/system.slice/template@.service", NULL },   /* a template never runs */
                { "/system.slice/@x.service", NULL },
                { "/system.slice/.service", NULL },
                { "/system.slice/odd name with spaces", NULL },
                { "/system.slice/bad name.service", NULL },
                { "/system.slice/nl\nx.service", NULL },
                { "/system.slice/x.service\n", NULL },
                { "/a.service\n4:memory:/b.service", NULL },
                { "/system.slice/ü.service", NULL },
                { "/x.slice", NULL },
                { "/a.slice/b.slice/", NULL },
                { "/a.slice/bad slice.slice/x.service", NULL }, /* an invalid slice is no slice... */
                { "/ab", NULL },
        };
        _cleanup_free_ char *unit = NULL;
        char long_name[300];

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                check_unit(table[i].path, table[i].unit);

        ASSERT_ERROR(unit_from_cgroup_path(NULL, &unit), EINVAL);

        /* the length bound: 255 characters pass, 256 do not */
        memset(long_name, 'a', sizeof long_name);
        memcpy(long_name + 255 - strlen(".service"), ".service", strlen(".service") + 1);
        ASSERT_EQ(strlen(long_name), 255);
        ASSERT_TRUE(unit_name_is_valid(long_name));
        memset(long_name, 'a', sizeof long_name);
        memcpy(long_name + 256 - strlen(".service"), ".service", strlen(".service") + 1);
        ASSERT_FALSE(unit_name_is_valid(long_name));

        ASSERT_TRUE(unit_name_is_valid("redis.service"));
        ASSERT_TRUE(unit_name_is_valid("getty@tty1.service"));
        ASSERT_TRUE(unit_name_is_valid("a@b@c.service")); /* '@' may repeat in the instance */
        ASSERT_TRUE(unit_name_is_valid("-.mount"));
        ASSERT_TRUE(unit_name_is_valid("system.slice"));
        ASSERT_TRUE(unit_name_is_valid("x.y.timer"));
        ASSERT_FALSE(unit_name_is_valid("getty@.service"));
        ASSERT_FALSE(unit_name_is_valid("redis"));
        ASSERT_FALSE(unit_name_is_valid(".service"));
        ASSERT_FALSE(unit_name_is_valid("redis."));
        ASSERT_FALSE(unit_name_is_valid("redis.Service"));
        ASSERT_FALSE(unit_name_is_valid("re dis.service"));
        ASSERT_FALSE(unit_name_is_valid("re/dis.service"));
        ASSERT_FALSE(unit_name_is_valid(""));
        ASSERT_FALSE(unit_name_is_valid(NULL));
        return EXIT_SUCCESS;
}
