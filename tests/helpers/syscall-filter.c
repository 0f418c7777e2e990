/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* syscall-filter NAME... -- PROGRAM [ARG...]: run PROGRAM under a seccomp allowlist of the named
 * system calls, every other one failing with EPERM, as a unit's SystemCallFilter= with
 * SystemCallErrorNumber=EPERM does (tests/lib.sh unit_syscall_filter lists a unit's names).
 * Names this architecture or libseccomp does not know are skipped. Exit 77 when the filter
 * cannot be loaded. */

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        scmp_filter_ctx ctx;
        int i, r;

        ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
        if (!ctx) {
                fprintf(stderr, "seccomp_init failed\n");
                return 77;
        }
        for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
                int nr = seccomp_syscall_resolve_name(argv[i]);

                if (nr == __NR_SCMP_ERROR)
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
                if (r < 0 && r != -EDOM && nr >= 0) {
                        fprintf(stderr, "cannot allow %s: %s\n", argv[i], strerror(-r));
                        return 99;
                }
        }
        if (i + 1 >= argc) {
                fprintf(stderr, "usage: %s NAME... -- PROGRAM [ARG...]\n", argv[0]);
                return 99;
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || (r = seccomp_load(ctx)) < 0) {
                fprintf(stderr, "cannot load the filter: %m\n");
                return 77;
        }
        seccomp_release(ctx);
        execvp(argv[i + 1], argv + i + 1);
        fprintf(stderr, "cannot run %s: %m\n", argv[i + 1]);
        return 99;
}
