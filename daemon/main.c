/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mlockd: parse the command line, build the manager, run the loop. */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "injector.h"
#include "injector-socket.h"
#include "log.h"
#include "cgroup.h"
#include "dry-run.h"
#include "manager.h"
#include "match.h"
#include "mlockctl-format.h"
#include "parse-util.h"
#include "policy.h"
#include "sandbox.h"
#include "strv.h"
#include "units.h"

#define DEFAULT_CONFIG_DIR SYSCONFDIR "/mlockd"

static const char *arg_config_dir = DEFAULT_CONFIG_DIR;
static enum {
        ACTION_RUN,
        ACTION_CHECK_CONFIG,
        ACTION_DUMP_CONFIG,
        ACTION_BUS_INTROSPECT,
        ACTION_DRY_RUN,
        ACTION_INJECTOR,
} arg_action = ACTION_RUN;
static const char *arg_injector_socket = NULL;
static const char *arg_peer_unit = INJECTOR_PEER_UNIT;
static JsonMode arg_json = JSON_OFF;
static pid_t *arg_pids = NULL;
static size_t arg_n_pids = 0;
static bool arg_debug_seccomp = false;

static void help(void) {
        printf("%s [OPTIONS...]\n%s --dry-run [OPTIONS...] [PID...]\n\n"
               "Keep the memory of chosen processes resident, by policy.\n\n"
               "  -h --help               Show this help\n"
               "     --version            Show package version\n"
               "     --config-dir=DIR     Read DIR/mlockd.conf and DIR/policy.d/*.conf\n"
               "                          (default: %s)\n"
               "     --check-config       Print every configuration problem as FILE:LINE: message;\n"
               "                          exit 0 when there is none\n"
               "     --dump-config        Print the effective configuration\n"
               "     --dry-run [PID...]   Print what the policies would lock in the processes\n"
               "                          running now (or these), and exit; touches nothing and\n"
               "                          runs beside a running mlockd\n"
               "     --json=MODE          With --dry-run: pretty, short or off\n"
               "     --log-level=LEVEL    err, warning, notice, info or debug\n"
               "     --debug-seccomp      Log syscalls outside the manager's allowlist instead\n"
               "                          of killing it\n"
               "     --bus-introspect     Print the D-Bus interface description and exit\n"
               "     --injector-socket=PATH\n"
               "                          Use the injector service listening on PATH instead of\n"
               "                          forking injectors (mlockd.service)\n"
               "     --injector           Be the injector service on the socket systemd passes\n"
               "                          (mlockd-injector.service)\n"
               "     --peer-unit=UNIT     With --injector: the unit the manager runs in\n"
               "                          (default: %s)\n"
               "\nSee mlockd(8) for details.\n",
               program_invocation_short_name, program_invocation_short_name, DEFAULT_CONFIG_DIR,
               INJECTOR_PEER_UNIT);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CONFIG_DIR,
                ARG_LOG_LEVEL,
                ARG_CHECK_CONFIG,
                ARG_DUMP_CONFIG,
                ARG_DRY_RUN,
                ARG_DEBUG_SECCOMP,
                ARG_BUS_INTROSPECT,
                ARG_JSON,
                ARG_INJECTOR_SOCKET,
                ARG_INJECTOR,
                ARG_PEER_UNIT,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "dump-config", no_argument, NULL, ARG_DUMP_CONFIG },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "debug-seccomp", no_argument, NULL, ARG_DEBUG_SECCOMP },
                { "bus-introspect", no_argument, NULL, ARG_BUS_INTROSPECT },
                { "json", optional_argument, NULL, ARG_JSON },
                { "injector-socket", required_argument, NULL, ARG_INJECTOR_SOCKET },
                { "injector", no_argument, NULL, ARG_INJECTOR },
                { "peer-unit", required_argument, NULL, ARG_PEER_UNIT },
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
                case ARG_DRY_RUN:
                        arg_action = ACTION_DRY_RUN;
                        break;
                case ARG_JSON:
                        arg_json = json_mode_from_string(optarg);
                        if (arg_json < 0)
                                return log_error_errno(EINVAL, "Invalid --json= mode '%s': expected pretty, short or off.",
                                                       optarg);
                        break;
                case ARG_DEBUG_SECCOMP:
                        arg_debug_seccomp = true;
                        break;
                case ARG_BUS_INTROSPECT:
                        arg_action = ACTION_BUS_INTROSPECT;
                        break;
                case ARG_INJECTOR_SOCKET:
                        if (optarg[0] != '/')
                                return log_error_errno(EINVAL, "--injector-socket= takes an absolute path.");
                        arg_injector_socket = optarg;
                        break;
                case ARG_INJECTOR:
                        arg_action = ACTION_INJECTOR;
                        break;
                case ARG_PEER_UNIT:
                        if (!unit_name_is_valid(optarg))
                                return log_error_errno(EINVAL, "Invalid unit name '%s'.", optarg);
                        arg_peer_unit = optarg;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }

        if (optind < argc && arg_action != ACTION_DRY_RUN)
                return log_error_errno(EINVAL, "%s takes no positional arguments (PIDs only with --dry-run).",
                                       program_invocation_short_name);
        for (int i = optind; i < argc; i++) {
                unsigned pid;
                pid_t *a;

                if (parse_uint(argv[i], &pid) < 0 || pid == 0 || pid > 4194304U)
                        return log_error_errno(EINVAL, "Invalid PID '%s'.", argv[i]);
                a = reallocarray(arg_pids, arg_n_pids + 1, sizeof(pid_t));
                if (!a)
                        return log_oom();
                arg_pids = a;
                arg_pids[arg_n_pids++] = (pid_t) pid;
        }
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

/* Where installed programs live: a Name= no file here and no running process is named after is
 * probably a typo. */
static const char *const program_dirs[] = {
        "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/libexec",
        "/usr/lib/systemd", NULL,
};

/* Every problem, then every warning and note, on stdout, one per line; exit status 0 only when there
 * is no problem (warnings and notes do not fail the check). */
static int run_check_config(void) {
        _cleanup_(policy_set_freep) PolicySet *s = NULL;
        size_t n, n_warnings;
        int r;

        r = load_config(&s);
        if (r < 0)
                return r;
        r = match_lint(s, "/proc", "/sys/fs/cgroup", program_dirs);
        if (r < 0)
                return log_oom();

        STRV_FOREACH(p, s->problems)
                printf("%s\n", *p);
        STRV_FOREACH(p, s->warnings)
                printf("%s\n", *p);
        STRV_FOREACH(p, s->notes)
                printf("%s\n", *p);
        fflush(stdout);
        n = strv_length(s->problems);
        n_warnings = strv_length(s->warnings);
        fprintf(stderr, "%s: %zu valid %s, %zu %s, %zu %s.\n", arg_config_dir, s->n_policies,
                s->n_policies == 1 ? "policy" : "policies", n, n == 1 ? "problem" : "problems", n_warnings,
                n_warnings == 1 ? "warning" : "warnings");
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

/* mlockd --dry-run: lib/ alone, no manager, no bus, no injector (see dry-run.h). */
static int run_dry_run(void) {
        _cleanup_(policy_set_freep) PolicySet *s = NULL;
        int r;

        r = load_config(&s);
        if (r < 0)
                return r;
        STRV_FOREACH(p, s->problems)
                log_warning("%s, ignoring.", *p);
        STRV_FOREACH(p, s->warnings)
                log_warning("%s", *p);
        r = dry_run(s, "/proc", arg_pids, arg_n_pids, arg_json, stdout);
        if (r < 0)
                return log_error_errno(r, "Failed to read the processes: %m");
        if (fflush(stdout) != 0)
                return log_error_errno(errno, "Failed to write: %m");
        return 0;
}

/* The injector needs ptrace and process_madvise; the others only help, and are reported. */
static const cap_value_t required_caps[] = { CAP_SYS_PTRACE, CAP_SYS_NICE };
static const struct {
        cap_value_t cap;
        const char *without;
} helpful_caps[] = {
        { CAP_SYS_ADMIN, "targets under a seccomp filter are skipped (their filters cannot be read)" },
        { CAP_SYS_RESOURCE, "RLIMIT_MEMLOCK of unprivileged targets cannot be raised" },
};

static int check_capabilities(void) {
        _cleanup_free_ char *missing = NULL;
        int r;

        r = sandbox_missing_capabilities(required_caps, ELEMENTSOF(required_caps), &missing);
        if (r < 0)
                return log_error_errno(r, "Failed to read our capabilities: %m");
        if (missing)
                return log_error_errno(EPERM, "Missing required capabilities: %s. mlockd must run as root "
                                       "with these capabilities.", missing);

        for (size_t i = 0; i < ELEMENTSOF(helpful_caps); i++) {
                missing = mfree(missing);
                r = sandbox_missing_capabilities(&helpful_caps[i].cap, 1, &missing);
                if (r >= 0 && missing)
                        log_notice("Running without %s: %s.", missing, helpful_caps[i].without);
        }
        return 0;
}

static int run(void) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(policy_set_freep) PolicySet *policies = NULL;
        int r;

        r = load_config(&policies);
        if (r < 0)
                return r;
        STRV_FOREACH(p, policies->problems)
                log_error("%s", *p);
        STRV_FOREACH(p, policies->warnings)
                log_warning("%s", *p);
        STRV_FOREACH(p, policies->notes)
                log_info("%s", *p);
        if (!strv_isempty(policies->problems))
                log_warning("Continuing with the %zu valid policies; fix the files above.", policies->n_policies);
        if (policies->daemon.log_level) {
                int level = log_level_from_string(policies->daemon.log_level);
                if (level >= 0 && log_get_max_level() == LOG_INFO)
                        log_set_max_level(level);
        }

        /* with the injector service the manager itself needs no capability */
        if (!arg_injector_socket) {
                r = check_capabilities();
                if (r < 0)
                        return r;
        }

        r = manager_new(arg_config_dir, false, TAKE_PTR(policies), &m);
        if (r < 0)
                return r;
        m->injector_socket = arg_injector_socket;

        /* the injector is forked here, with our capabilities, before we give them up */
        r = manager_prepare(m);
        if (r < 0)
                return r;

        r = sandbox_keep_capabilities(NULL, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to drop capabilities: %m");
        r = sandbox_no_new_privs();
        if (r < 0)
                return log_error_errno(r, "Failed to set no_new_privs: %m");

        return manager_run(m, arg_debug_seccomp);
}

int main(int argc, char *argv[]) {
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        switch (arg_action) {
        case ACTION_CHECK_CONFIG:
                return run_check_config() < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        case ACTION_DUMP_CONFIG:
                return run_dump_config() < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        case ACTION_BUS_INTROSPECT:
                return bus_introspect(stdout) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        case ACTION_DRY_RUN:
                r = run_dry_run();
                free(arg_pids);
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        case ACTION_INJECTOR:
                r = check_capabilities();
                if (r >= 0)
                        r = injector_listen_run(arg_peer_unit);
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        case ACTION_RUN:
                break;
        }

        r = run();
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
