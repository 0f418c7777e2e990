/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mlockctl: ask mlockd (org.mlockd1 on the system bus) what it locked, and tell it what to do.
 * Exit status (documented in mlockctl(1)): 0 success, 1 failure, 2 usage, 3 mlockd not running,
 * 4 access denied, 5 no such process or not matched. */

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "config.h"
#include "log.h"
#include "manager-bus.h"
#include "mlockctl-format.h"
#include "parse-util.h"

static bool arg_json = false;
static bool arg_legend = true;

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
               "     --json              Print one JSON document instead of tables\n"
               "     --no-legend         Do not print column headers and footers\n"
               "     --no-pager          Accepted for compatibility; output is never paged\n"
               "\nExit status: 0 success, 1 failure, 2 usage error, 3 mlockd not running,\n"
               "4 access denied, 5 no such process or no policy matches.\n"
               "\nSee mlockctl(1) for details.\n",
               program_invocation_short_name);
}

/* Print why a call failed and return the exit status for it. */
static int call_failed(int r, const sd_bus_error *error, const char *what) {
        int status = mlockctl_exit_status(r, error);

        if (status == MLOCKCTL_EXIT_NOT_RUNNING && error &&
            sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                log_error("mlockd is not running (%s is not on the system bus).", MLOCKD_BUS_NAME);
        else if (status == MLOCKCTL_EXIT_NOT_RUNNING && error && sd_bus_error_is_set(error))
                log_error("mlockd is not running (%s is not on the system bus): %s",
                          MLOCKD_BUS_NAME, error->message ?: error->name);
        else if (status == MLOCKCTL_EXIT_NOT_RUNNING)
                log_error_errno(r, "mlockd is not running (%s is not on the system bus): cannot %s: %m",
                                MLOCKD_BUS_NAME, what);
        else if (error && sd_bus_error_is_set(error))
                log_error("Failed to %s: %s", what, error->message ?: error->name);
        else
                log_error_errno(r, "Failed to %s: %m", what);
        return status;
}

static int connect_bus(sd_bus **ret) {
        int r;

        r = sd_bus_open_system(ret);
        if (r < 0)
                return call_failed(r, NULL, "connect to the system bus");
        return 0;
}

static int call(sd_bus *bus, const char *member, const char *what, sd_bus_message **reply,
                const char *types, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, MLOCKD_BUS_NAME, MLOCKD_BUS_PATH,
                                           MLOCKD_BUS_INTERFACE, member);
        if (r < 0)
                return call_failed(r, NULL, what);
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return call_failed(r, NULL, what);
        }

        r = sd_bus_call(bus, m, 0, &error, reply);
        if (r < 0)
                return call_failed(r, &error, what);
        return 0;
}

/* A local failure (parsing a reply, memory, output): never "not running". */
static int bus_error_parse(int r, const char *what) {
        log_error_errno(r, "Failed to %s: %m", what);
        return MLOCKCTL_EXIT_FAILURE;
}

static int get_version(sd_bus *bus, char **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_get_property_string(bus, MLOCKD_BUS_NAME, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE,
                                       "Version", &error, ret);
        if (r < 0)
                return call_failed(r, &error, "read the Version property");
        return 0;
}

static int get_locked_bytes(sd_bus *bus, uint64_t *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_get_property_trivial(bus, MLOCKD_BUS_NAME, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE,
                                        "LockedBytes", &error, 't', ret);
        if (r < 0)
                return call_failed(r, &error, "read the LockedBytes property");
        return 0;
}

/* Reads one struct of a List* reply and adds its row: > 0 a row, 0 the end, < 0 an error. */
typedef int (*ReadRow)(sd_bus_message *reply, Table *t);

/* Call a List* method and put its array into a table. */
static int list_table(sd_bus *bus, const char *member, const char *signature, const TableColumn *columns,
                      size_t n_columns, ReadRow read_row, Table **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        char what[64];
        int r;

        snprintf(what, sizeof what, "call %s", member);
        r = call(bus, member, what, &reply, NULL);
        if (r != 0)
                return r;
        r = table_new(columns, n_columns, &t);
        if (r < 0)
                return bus_error_parse(r, "make a table");

        r = sd_bus_message_enter_container(reply, 'a', signature);
        while (r >= 0 && (r = read_row(reply, t)) > 0)
                ;
        if (r < 0) {
                snprintf(what, sizeof what, "read the reply of %s", member);
                return bus_error_parse(r, what);
        }

        *ret = TAKE_PTR(t);
        return 0;
}

static const TableColumn policy_columns[] = {
        { "NAME", "name", CELL_STRING },
        { "MODE", "mode", CELL_STRING },
        { "TARGETS", "targets", CELL_UINT },
        { "LOCKED", "locked_bytes", CELL_BYTES },
        { "FILE", "file", CELL_STRING },
};

static int read_policy(sd_bus_message *reply, Table *t) {
        const char *name, *mode, *file;
        uint32_t matched;
        uint64_t locked;
        int r;

        r = sd_bus_message_read(reply, "(sssut)", &name, &mode, &file, &matched, &locked);
        if (r <= 0)
                return r;
        return table_add_row(t, name, mode, (uint64_t) matched, locked, file) ?: 1;
}

static const TableColumn target_columns[] = {
        { "PID", "pid", CELL_UINT },
        { "COMM", "comm", CELL_STRING },
        { "POLICY", "policy", CELL_STRING },
        { "LOCKED", "locked_bytes", CELL_BYTES },
        { "STATE", "state", CELL_STRING },
        { "CGROUP", "cgroup", CELL_STRING },
};

static int read_target(sd_bus_message *reply, Table *t) {
        const char *comm, *policy, *cgroup, *state;
        uint32_t pid;
        uint64_t locked;
        int r;

        r = sd_bus_message_read(reply, "(usssts)", &pid, &comm, &policy, &cgroup, &locked, &state);
        if (r <= 0)
                return r;
        return table_add_row(t, (uint64_t) pid, comm, policy, locked, state, cgroup) ?: 1;
}

static const TableColumn cgroup_columns[] = {
        { "CGROUP", "cgroup", CELL_STRING },
        { "UNEVICTABLE", "unevictable_bytes", CELL_BYTES },
        { "LOCKED", "locked_bytes", CELL_BYTES },
        { "BUDGET", "budget_bytes", CELL_LIMIT },
};

static int read_cgroup(sd_bus_message *reply, Table *t) {
        const char *path;
        uint64_t unevictable, locked, budget;
        int r;

        r = sd_bus_message_read(reply, "(sttt)", &path, &unevictable, &locked, &budget);
        if (r <= 0)
                return r;
        return table_add_row(t, path, unevictable, locked, budget) ?: 1;
}

static int print_table(const Table *t, const char *singular, const char *plural) {
        int r;

        if (arg_json) {
                r = table_print_json(t, stdout);
                fputc('\n', stdout);
        } else {
                r = table_print(t, stdout, arg_legend);
                if (r >= 0 && arg_legend)
                        printf("\n%zu %s listed.\n", table_get_rows(t), table_get_rows(t) == 1 ? singular : plural);
        }
        if (r < 0)
                return bus_error_parse(r, "print");
        return 0;
}

static int verb_policies(sd_bus *bus) {
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = list_table(bus, "ListPolicies", "(sssut)", policy_columns, ELEMENTSOF(policy_columns),
                       read_policy, &t);
        return r != 0 ? r : print_table(t, "policy", "policies");
}

static int verb_targets(sd_bus *bus) {
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = list_table(bus, "ListTargets", "(usssts)", target_columns, ELEMENTSOF(target_columns),
                       read_target, &t);
        return r != 0 ? r : print_table(t, "target", "targets");
}

static int verb_cgroups(sd_bus *bus) {
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = list_table(bus, "ListCgroups", "(sttt)", cgroup_columns, ELEMENTSOF(cgroup_columns),
                       read_cgroup, &t);
        return r != 0 ? r : print_table(t, "cgroup", "cgroups");
}

static int verb_status(sd_bus *bus) {
        _cleanup_(table_freep) Table *policies = NULL, *targets = NULL;
        _cleanup_free_ char *version = NULL;
        char buf[FORMAT_BYTES_MAX];
        size_t n_targets;
        uint64_t locked;
        int r;

        r = get_version(bus, &version);
        if (r != 0)
                return r;
        r = get_locked_bytes(bus, &locked);
        if (r != 0)
                return r;
        r = list_table(bus, "ListTargets", "(usssts)", target_columns, ELEMENTSOF(target_columns),
                       read_target, &targets);
        if (r != 0)
                return r;
        n_targets = table_get_rows(targets);
        r = list_table(bus, "ListPolicies", "(sssut)", policy_columns, ELEMENTSOF(policy_columns),
                       read_policy, &policies);
        if (r != 0)
                return r;

        if (arg_json) {
                fputs("{\"version\":", stdout);
                json_print_string(stdout, version);
                printf(",\"locked_bytes\":%" PRIu64 ",\"targets\":%zu,\"policies\":", locked, n_targets);
                r = table_print_json(policies, stdout);
                fputs("}\n", stdout);
                if (r < 0)
                        return bus_error_parse(r, "print");
                return 0;
        }

        printf("Version: %s\n"
               " Locked: %s in %zu %s\n"
               "Policies: %zu\n",
               version, format_bytes(buf, sizeof buf, locked), n_targets,
               n_targets == 1 ? "target" : "targets", table_get_rows(policies));
        if (table_get_rows(policies) == 0)
                return 0;
        fputc('\n', stdout);
        r = table_print(policies, stdout, arg_legend);
        if (r < 0)
                return bus_error_parse(r, "print");
        return 0;
}

static int parse_pid_arg(const char *s, uint32_t *ret) {
        unsigned pid;

        if (parse_uint(s, &pid) < 0 || pid == 0 || pid > MLOCKD_PID_MAX) {
                log_error("Invalid PID '%s'.", s);
                return MLOCKCTL_EXIT_USAGE;
        }
        *ret = pid;
        return 0;
}

static int verb_apply(sd_bus *bus, uint32_t pid) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char what[64];
        const char *state;
        int r;

        snprintf(what, sizeof what, "apply a policy to process %" PRIu32, pid);
        r = call(bus, "Apply", what, &reply, "u", pid);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "s", &state);
        if (r < 0)
                return bus_error_parse(r, "parse the reply of Apply");

        if (arg_json) {
                printf("{\"pid\":%" PRIu32 ",\"state\":", pid);
                json_print_string(stdout, state);
                fputs("}\n", stdout);
        } else
                printf("%" PRIu32 ": %s\n", pid, state);
        return 0;
}

static int verb_release(sd_bus *bus, uint32_t pid) {
        char what[64];
        int r;

        snprintf(what, sizeof what, "release process %" PRIu32, pid);
        r = call(bus, "Release", what, NULL, "u", pid);
        if (r != 0)
                return r;
        if (arg_json)
                printf("{\"pid\":%" PRIu32 ",\"released\":true}\n", pid);
        return 0;
}

static int verb_reload(sd_bus *bus) {
        int r;

        r = call(bus, "Reload", "reload the configuration", NULL, NULL);
        if (r != 0)
                return r;
        if (arg_json)
                puts("{\"reloaded\":true}");
        return 0;
}

/* > 0: go on; 0: done (--help); < 0: usage error. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_NO_LEGEND,
                ARG_NO_PAGER,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "no-pager", no_argument, NULL, ARG_NO_PAGER },
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
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_NO_LEGEND:
                        arg_legend = false;
                        break;
                case ARG_NO_PAGER:
                        break;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }
        return 1;
}

static int run(int argc, char *argv[]) {
        static const struct {
                const char *name;
                int n_args;
        } verbs[] = {
                { "status", 0 }, { "targets", 0 }, { "cgroups", 0 }, { "policies", 0 },
                { "apply", 1 },  { "release", 1 }, { "reload", 0 },
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *verb;
        uint32_t pid = 0;
        size_t i;
        int r;

        r = parse_argv(argc, argv);
        if (r < 0)
                return MLOCKCTL_EXIT_USAGE;
        if (r == 0)
                return MLOCKCTL_EXIT_SUCCESS;

        verb = optind < argc ? argv[optind] : "status";
        for (i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, verb))
                        break;
        if (i >= ELEMENTSOF(verbs)) {
                log_error("Unknown command '%s'; see --help.", verb);
                return MLOCKCTL_EXIT_USAGE;
        }
        if (argc - optind - 1 > verbs[i].n_args) {
                log_error("Too many arguments for '%s'.", verb);
                return MLOCKCTL_EXIT_USAGE;
        }
        if (verbs[i].n_args > 0) {
                if (argc - optind - 1 < verbs[i].n_args) {
                        log_error("'%s' needs a PID.", verb);
                        return MLOCKCTL_EXIT_USAGE;
                }
                r = parse_pid_arg(argv[optind + 1], &pid);
                if (r != 0)
                        return r;
        }

        (void) sd_bus_error_add_map(mlockd_bus_error_map);
        r = connect_bus(&bus);
        if (r != 0)
                return r;

        if (streq(verb, "status"))
                return verb_status(bus);
        if (streq(verb, "targets"))
                return verb_targets(bus);
        if (streq(verb, "cgroups"))
                return verb_cgroups(bus);
        if (streq(verb, "policies"))
                return verb_policies(bus);
        if (streq(verb, "apply"))
                return verb_apply(bus, pid);
        if (streq(verb, "release"))
                return verb_release(bus, pid);
        return verb_reload(bus);
}

int main(int argc, char *argv[]) {
        int status;

        log_set_show_priority(false); /* a command for people: no journal level prefixes */
        status = run(argc, argv);

        if (fflush(stdout) != 0 && status == MLOCKCTL_EXIT_SUCCESS) {
                log_error_errno(errno, "Failed to write output: %m");
                status = MLOCKCTL_EXIT_FAILURE;
        }
        return status;
}
