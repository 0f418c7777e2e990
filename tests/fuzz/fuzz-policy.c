/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the configuration parser: any bytes, parsed as a policy and as mlockd.conf.
 * Besides crashes and leaks (ASan, UBSan) it checks a property: a policy that parses cleanly dumps
 * to text that parses cleanly again and dumps the same. Built by "make fuzz" with clang, outside
 * the normal build. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dump_policy(const Policy *p) {
        char *buf = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&buf, &n);

        if (!f)
                abort();
        if (policy_dump(p, f) < 0)
                abort();
        fclose(f);
        return buf;
}

static char *dump_daemon(const DaemonConfig *c) {
        char *buf = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&buf, &n);

        if (!f)
                abort();
        if (daemon_config_dump(c, f) < 0)
                abort();
        fclose(f);
        return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_strv_free_ char **problems = NULL, **problems2 = NULL;
        _cleanup_(policy_freep) Policy *p = NULL, *q = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL;
        DaemonConfig c, c2;
        int r;

        if (size > 64 * 1024)
                return 0;

        r = policy_parse_buffer("fuzz", "fuzz.conf", (const char *) data, size, NULL, &p, &problems);
        if (r == -ENOMEM)
                abort();
        if (r >= 0) {
                if (problems) /* valid means no problem at all */
                        abort();
                a = dump_policy(p);
                if (policy_parse_string("fuzz", "dump.conf", a, NULL, &q, &problems2) < 0) {
                        STRV_FOREACH(x, problems2)
                                fprintf(stderr, "%s\n", *x);
                        fprintf(stderr, "dump does not load back:\n%s", a);
                        abort();
                }
                b = dump_policy(q);
                if (strcmp(a, b) != 0) {
                        fprintf(stderr, "dump differs after a round trip:\n%s---\n%s", a, b);
                        abort();
                }
        } else if (r != -EINVAL || !problems)
                abort(); /* an invalid policy always says why */
        STRV_FOREACH(x, problems)
                if (!strstr(*x, "fuzz.conf:"))
                        abort();

        free(a);
        free(b);
        a = b = NULL;
        problems = strv_free(problems);
        problems2 = strv_free(problems2);

        daemon_config_init(&c);
        if (daemon_config_parse_buffer("mlockd.conf", (const char *) data, size, &c, &problems) < 0)
                abort();
        a = dump_daemon(&c);
        daemon_config_init(&c2);
        if (daemon_config_parse_buffer("dump.conf", a, strlen(a), &c2, &problems2) < 0 || problems2)
                abort();
        b = dump_daemon(&c2);
        if (strcmp(a, b) != 0)
                abort();
        daemon_config_done(&c);
        daemon_config_done(&c2);
        return 0;
}
