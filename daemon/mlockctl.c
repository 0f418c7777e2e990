/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mlockctl: ask mlockd (org.mlockd1 on the system bus) what it locked, and tell it what to do. */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Query and control the memory-locking daemon mlockd.\n\n"
               "Commands:\n"
               "  status                 Show version, totals and policies\n"
               "  targets                List the processes mlockd acts on\n"
               "  cgroups                List cgroups with unevictable memory and budgets\n"
               "  policies               List the loaded policies\n"
               "  apply PID              Match and lock one process now\n"
               "  release PID            Unlock one process and leave it alone\n"
               "  reload                 Re-read the configuration\n\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show package version\n"
               "\nSee mlockctl(1) for details.\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("mlockctl %s\n", PACKAGE_VERSION);
                        return 0;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }
        return 1;
}

int main(int argc, char *argv[]) {
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        log_error("No command given; see --help.");
        return EXIT_FAILURE;
}
