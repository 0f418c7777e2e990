/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mlockd: parse the command line, build the manager, run the loop. */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"

#define DEFAULT_CONFIG_DIR SYSCONFDIR "/mlockd"

static const char *arg_config_dir = DEFAULT_CONFIG_DIR;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Keep the memory of chosen processes resident, by policy.\n\n"
               "  -h --help               Show this help\n"
               "     --version            Show package version\n"
               "     --config-dir=DIR     Read DIR/mlockd.conf and DIR/policy.d/*.conf\n"
               "                          (default: %s)\n"
               "     --log-level=LEVEL    err, warning, notice, info or debug\n"
               "\nSee mlockd(8) for details.\n",
               program_invocation_short_name, DEFAULT_CONFIG_DIR);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CONFIG_DIR,
                ARG_LOG_LEVEL,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("mlockd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_CONFIG_DIR:
                        arg_config_dir = optarg;
                        break;
                case ARG_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0)
                                return log_error_errno(r, "Invalid log level '%s'.", optarg);
                        log_set_max_level(r);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }

        if (optind < argc)
                return log_error_errno(EINVAL, "%s takes no positional arguments.",
                                       program_invocation_short_name);
        return 1;
}

int main(int argc, char *argv[]) {
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        log_error("The daemon is not implemented yet (config dir %s).", arg_config_dir);
        return EXIT_FAILURE;
}
