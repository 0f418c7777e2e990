/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mlockd: parse the command line, build the manager, run the loop. */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "policy.h"
#include "strv.h"

#define DEFAULT_CONFIG_DIR SYSCONFDIR "/mlockd"

static const char *arg_config_dir = DEFAULT_CONFIG_DIR;
static enum {
        ACTION_RUN,
        ACTION_CHECK_CONFIG,
        ACTION_DUMP_CONFIG,
} arg_action = ACTION_RUN;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Keep the memory of chosen processes resident, by policy.\n\n"
               "  -h --help               Show this help\n"
               "     --version            Show package version\n"
               "     --config-dir=DIR     Read DIR/mlockd.conf and DIR/policy.d/*.conf\n"
               "                          (default: %s)\n"
               "     --log-level=LEVEL    err, warning, notice, info or debug\n"
               "     --check-config       Print every configuration problem as FILE:LINE: message;\n"
               "                          exit 0 when there is none\n"
               "     --dump-config        Print the effective configuration\n"
               "\nSee mlockd(8) for details.\n",
               program_invocation_short_name, DEFAULT_CONFIG_DIR);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CONFIG_DIR,
                ARG_LOG_LEVEL,
                ARG_CHECK_CONFIG,
                ARG_DUMP_CONFIG,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "dump-config", no_argument, NULL, ARG_DUMP_CONFIG },
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
                case ARG_CHECK_CONFIG:
                        arg_action = ACTION_CHECK_CONFIG;
                        break;
                case ARG_DUMP_CONFIG:
                        arg_action = ACTION_DUMP_CONFIG;
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

/* Vendor drop-ins are read only with the default configuration directory (systemd's rule: a file
 * of the same name under /etc overrides one under /usr/lib). */
static int load_config(PolicySet **ret) {
        const char *vendor = streq(arg_config_dir, DEFAULT_CONFIG_DIR) ? LIBDIR_POLICY : NULL;
        int r;

        r = policy_set_load(arg_config_dir, vendor, ret);
        if (r < 0)
                return log_error_errno(r, "Failed to read configuration directory %s: %m", arg_config_dir);
        return 0;
}

/* Every problem on stdout, one per line; exit status 0 only when there is none. */
static int run_check_config(void) {
        _cleanup_(policy_set_freep) PolicySet *s = NULL;
        size_t n = 0;
        int r;

        r = load_config(&s);
        if (r < 0)
                return r;
        STRV_FOREACH(p, s->problems) {
                printf("%s\n", *p);
                n++;
        }
        fflush(stdout);
        fprintf(stderr, "%s: %zu valid %s, %zu %s.\n", arg_config_dir, s->n_policies,
                s->n_policies == 1 ? "policy" : "policies", n, n == 1 ? "problem" : "problems");
        return n > 0 ? -EINVAL : 0;
}

/* The effective configuration on stdout; problems (the files left out) on stderr. */
static int run_dump_config(void) {
        _cleanup_(policy_set_freep) PolicySet *s = NULL;
        int r;

        r = load_config(&s);
        if (r < 0)
                return r;
        STRV_FOREACH(p, s->problems)
                log_warning("%s, ignoring.", *p);
        r = policy_set_dump(s, stdout);
        if (r < 0)
                return log_error_errno(r, "Failed to write the configuration: %m");
        return 0;
}

int main(int argc, char *argv[]) {
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        if (arg_action == ACTION_CHECK_CONFIG)
                return run_check_config() < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        if (arg_action == ACTION_DUMP_CONFIG)
                return run_dump_config() < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        log_error("The daemon is not implemented yet (config dir %s).", arg_config_dir);
        return EXIT_FAILURE;
}
