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

static JsonMode arg_json = JSON_OFF;
static bool arg_legend = true;
/* Where the verbs print: stdout, or with --json a buffer that is printed short or pretty at the
 * end (one document, nothing on failure). */
static FILE *out;

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Query and control the memory-locking daemon mlockd.\n\n"
               "Commands:\n"
               "  status                 Show version, totals and policies\n"
               "  targets                List the processes mlockd acts on\n"
               "  cgroups                List cgroups with unevictable memory and budgets\n"
               "  policies               List the loaded policies\n"
               "  status PID             Show everything mlockd knows of one target\n"
               "  explain PID            Show, policy by policy, why a process matches or not\n"
               "  apply PID              Match and lock one process now\n"
               "  release PID            Unlock one process and leave it alone\n"
               "  reload                 Re-read the configuration\n\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show package version\n"
               "     --json=MODE         Print one JSON document instead of tables:\n"
               "                         pretty, short or off (--json alone: short)\n"
               "     --no-legend         Do not print column headers and footers\n"
               "     --no-pager          Accepted for compatibility; output is never paged\n"
               "\nExit status: 0 success (apply: locked or partial), 1 failure (apply: skipped or\n"
               "failed), 2 usage error, 3 mlockd cannot be reached (not running, masked), 4 access\n"
               "denied, 5 no such process or no policy matches.\n"
               "\nSee mlockctl(1) for details.\n",
               program_invocation_short_name);
}

/* Print why a call failed and return the exit status for it. */
static int call_failed(int r, const sd_bus_error *error, const char *what) {
        int status = mlockctl_exit_status(r, error);
        bool have = error && sd_bus_error_is_set(error);

        if (status == MLOCKCTL_EXIT_ACCESS_DENIED)
                /* not dbus-daemon's "Rejected send message, 2 matched rules; ..." */
                log_error("Access denied: this needs root.");
        else if (status == MLOCKCTL_EXIT_NOT_RUNNING && have &&
                 sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                log_error("mlockd is not running (%s is not on the system bus).", MLOCKD_BUS_NAME);
        else if (status == MLOCKCTL_EXIT_NOT_RUNNING && have)
                log_error("mlockd is not running (%s is not on the system bus): %s",
                          MLOCKD_BUS_NAME, error->message ?: error->name);
        else if (status == MLOCKCTL_EXIT_NOT_RUNNING)
                log_error_errno(r, "mlockd is not running (%s is not on the system bus): cannot %s: %m",
                                MLOCKD_BUS_NAME, what);
        else if (have)
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

/* Call a List* method and put its array into a table. signature NULL: the array's own (a member
 * that grew fields at its end; read_row tells them apart). */
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

        if (!signature) {
                r = sd_bus_message_peek_type(reply, NULL, &signature);
                if (r == 0)
                        r = -EBADMSG;
        }
        if (r >= 0)
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
        { "FOREIGN", "foreign_bytes", CELL_BYTES },
};

/* (stttt), or (sttt) from a daemon before the foreign bytes (0 then). */
static int read_cgroup(sd_bus_message *reply, Table *t) {
        const char *path, *contents = NULL;
        uint64_t unevictable, locked, budget, foreign = 0;
        int r;

        r = sd_bus_message_peek_type(reply, NULL, &contents);
        if (r <= 0)
                return r;
        if (streq_ptr(contents, "sttt"))
                r = sd_bus_message_read(reply, "(sttt)", &path, &unevictable, &locked, &budget);
        else
                r = sd_bus_message_read(reply, "(stttt)", &path, &unevictable, &locked, &budget, &foreign);
        if (r <= 0)
                return r;
        return table_add_row(t, path, unevictable, locked, budget, foreign) ?: 1;
}

static int print_table(const Table *t, const char *singular, const char *plural) {
        int r;

        if (arg_json) {
                r = table_print_json(t, out);
                fputc('\n', out);
        } else {
                r = table_print(t, out, arg_legend);
                if (r >= 0 && arg_legend)
                        fprintf(out, "\n%zu %s listed.\n", table_get_rows(t), table_get_rows(t) == 1 ? singular : plural);
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

/* MemoryAccounting: false when mlockd has no memory controller to read. An older daemon without
 * the property: assume it has one. */
static bool get_memory_accounting(sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int b = 1;

        (void) sd_bus_get_property_trivial(bus, MLOCKD_BUS_NAME, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE,
                                           "MemoryAccounting", &error, 'b', &b);
        return b;
}

static int verb_cgroups(sd_bus *bus) {
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = list_table(bus, "ListCgroups", NULL, cgroup_columns, ELEMENTSOF(cgroup_columns),
                       read_cgroup, &t);
        if (r != 0)
                return r;
        if (!get_memory_accounting(bus)) {
                if (arg_json) {
                        fputs("[]\n", out); /* no figures where none exist */
                        return 0;
                }
                fputs("mlockd reads no memory cgroup controller on this host: there are no unevictable\n"
                      "figures to show, and budgets (CgroupMaxUnevictable=) are not enforced.\n", out);
                return 0;
        }
        return print_table(t, "cgroup", "cgroups");
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
                fputs("{\"version\":", out);
                json_print_string(out, version);
                fprintf(out, ",\"locked_bytes\":%" PRIu64 ",\"targets\":%zu,\"policies\":", locked, n_targets);
                r = table_print_json(policies, out);
                fputs("}\n", out);
                if (r < 0)
                        return bus_error_parse(r, "print");
                return 0;
        }

        fprintf(out, "Version: %s\n"
               " Locked: %s in %zu %s\n"
               "Policies: %zu\n",
               version, format_bytes(buf, sizeof buf, locked), n_targets,
               n_targets == 1 ? "target" : "targets", table_get_rows(policies));
        if (table_get_rows(policies) == 0)
                return 0;
        fputc('\n', out);
        r = table_print(policies, out, arg_legend);
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

/* "skipped:..." or "failed:...": a state apply must not call success. */
static bool state_is_failure(const char *state) {
        return strncmp(state, "skipped", 7) == 0 || strncmp(state, "failed", 6) == 0;
}

static void print_apply(uint32_t pid, const char *state, const char *message) {
        if (arg_json) {
                fprintf(out, "{\"pid\":%" PRIu32 ",\"state\":", pid);
                json_print_string(out, state);
                if (message) {
                        fputs(",\"message\":", out);
                        json_print_string(out, message);
                }
                fputs("}\n", out);
        } else if (!message)
                fprintf(out, "%" PRIu32 ": %s\n", pid, state);
}

/* Apply's contract (org.mlockd1(5)): success with the final state when the target ends locked or
 * partial; Refused (skipped) or Failed (failed) with "STATE: sentence" otherwise. */
static int verb_apply(sd_bus *bus, uint32_t pid) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *state = NULL;
        const char *st, *msg;
        int r;

        r = sd_bus_call_method(bus, MLOCKD_BUS_NAME, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE, "Apply", &error, &reply,
                               "u", pid);
        if (r < 0 && sd_bus_error_has_names(&error, MLOCKD_ERROR_REFUSED, MLOCKD_ERROR_FAILED)) {
                const char *word;

                msg = error.message ?: error.name;
                /* "STATE: sentence"; an older daemon put the state at the end ("...: skipped:pid1") */
                word = state_is_failure(msg) ? msg : strstr(msg, "skipped:") ?: strstr(msg, "failed:");
                if (word)
                        state = strndup(word, strstr(word, ": ") ? (size_t) (strstr(word, ": ") - word) : strlen(word));
                else
                        state = strdup(sd_bus_error_has_name(&error, MLOCKD_ERROR_FAILED) ? "failed" : "skipped");
                if (!state)
                        return bus_error_parse(-ENOMEM, "parse the reply of Apply");
                if (word == msg)
                        log_error("%" PRIu32 ": %s", pid, msg);
                else
                        log_error("%" PRIu32 ": %s: %s", pid, state, msg);
                print_apply(pid, state, msg);
                return MLOCKCTL_EXIT_FAILURE;
        }
        if (r < 0) {
                char what[64];

                snprintf(what, sizeof what, "apply a policy to process %" PRIu32, pid);
                return call_failed(r, &error, what);
        }
        r = sd_bus_message_read(reply, "s", &st);
        if (r < 0)
                return bus_error_parse(r, "parse the reply of Apply");

        if (state_is_failure(st)) {
                /* a daemon that replies success for a skipped target: still a failure here */
                log_error("%" PRIu32 ": %s", pid, st);
                print_apply(pid, st, st);
                return MLOCKCTL_EXIT_FAILURE;
        }
        print_apply(pid, st, NULL);
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
                fprintf(out, "{\"pid\":%" PRIu32 ",\"released\":true}\n", pid);
        return 0;
}

static int verb_reload(sd_bus *bus) {
        int r;

        r = call(bus, "Reload", "reload the configuration", NULL, NULL);
        if (r != 0)
                return r;
        if (arg_json)
                fputs("{\"reloaded\":true}\n", out);
        return 0;
}

/* ---- status PID ------------------------------------------------------------------------------ */

typedef struct Property {
        char *key;
        char type; /* 's', 't', 'u', 'b' */
        char *s;
        uint64_t u;
} Property;

typedef struct Properties {
        Property *items;
        size_t n;
} Properties;

static void properties_done(Properties *p) {
        for (size_t i = 0; i < p->n; i++) {
                free(p->items[i].key);
                free(p->items[i].s);
        }
        free(p->items);
}

static const Property *property_get(const Properties *p, const char *key) {
        for (size_t i = 0; i < p->n; i++)
                if (streq(p->items[i].key, key))
                        return &p->items[i];
        return NULL;
}

static const char *property_string(const Properties *p, const char *key) {
        const Property *x = property_get(p, key);
        return x && x->type == 's' ? x->s : "";
}

static uint64_t property_uint(const Properties *p, const char *key) {
        const Property *x = property_get(p, key);
        return x && x->type != 's' ? x->u : 0;
}

/* An a{sv} of strings, integers and booleans; other types are skipped (a newer daemon). */
static int read_properties(sd_bus_message *m, Properties *ret) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents, *sv;
                Property *items, *x;
                uint32_t u32;
                int b;
                char type;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                type = contents[0];
                if (!strchr("stub", type) || contents[1]) {
                        r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                        continue;
                }
                items = reallocarray(ret->items, ret->n + 1, sizeof(Property));
                if (!items)
                        return -ENOMEM;
                ret->items = items;
                x = &items[ret->n];
                *x = (Property) { .type = type, .key = strdup(key) };
                if (!x->key)
                        return -ENOMEM;
                ret->n++;
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
                switch (type) {
                case 's':
                        r = sd_bus_message_read(m, "s", &sv);
                        if (r >= 0 && !(x->s = strdup(sv)))
                                r = -ENOMEM;
                        break;
                case 't':
                        r = sd_bus_message_read(m, "t", &x->u);
                        break;
                case 'u':
                        r = sd_bus_message_read(m, "u", &u32);
                        x->u = u32;
                        break;
                default:
                        r = sd_bus_message_read(m, "b", &b);
                        x->u = b;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static void print_properties_json(const Properties *p) {
        fputc('{', out);
        for (size_t i = 0; i < p->n; i++) {
                const Property *x = &p->items[i];

                if (i > 0)
                        fputc(',', out);
                json_print_string(out, x->key);
                fputc(':', out);
                if (x->type == 's')
                        json_print_string(out, x->s);
                else if (x->type == 'b')
                        fputs(x->u ? "true" : "false", out);
                else
                        fprintf(out, "%" PRIu64, x->u);
        }
        fputs("}\n", out);
}

static int verb_status_pid(sd_bus *bus, uint32_t pid) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(properties_done) Properties p = {};
        char what[64], b1[FORMAT_BYTES_MAX], b2[FORMAT_BYTES_MAX];
        const char *reason;
        int r;

        snprintf(what, sizeof what, "describe process %" PRIu32, pid);
        r = call(bus, "DescribeTarget", what, &reply, "u", pid);
        if (r != 0)
                return r;
        r = read_properties(reply, &p);
        if (r < 0)
                return bus_error_parse(r, "parse the reply of DescribeTarget");

        if (arg_json) {
                print_properties_json(&p);
                return 0;
        }

        reason = property_string(&p, "reason");
        fprintf(out, "       PID: %" PRIu32 " (%s)\n", pid, property_string(&p, "comm"));
        fprintf(out, "Executable: %s\n", *property_string(&p, "exe") ? property_string(&p, "exe") : "(unknown)");
        fprintf(out, "    Policy: %s\n", property_string(&p, "policy"));
        fprintf(out, "     State: %s%s%s%s\n", property_string(&p, "status"), *reason ? " (" : "", reason,
                *reason ? ")" : "");
        if (!property_get(&p, "pages_verified") || property_uint(&p, "pages_verified"))
                fprintf(out, "    Locked: %s (the kernel's count of mlocked pages)\n",
                        format_bytes(b1, sizeof b1, property_uint(&p, "locked_bytes")));
        else
                fprintf(out, "    Locked: %s (smaps Locked:, the per-page flags could not be read)\n",
                        format_bytes(b1, sizeof b1, property_uint(&p, "locked_bytes")));
        if (property_get(&p, "smaps_locked_bytes"))
                fprintf(out, "            smaps Locked: %s\n",
                        format_bytes(b1, sizeof b1, property_uint(&p, "smaps_locked_bytes")));
        if (property_uint(&p, "not_mlocked_bytes") > 0)
                fprintf(out, "            not mlocked: %s of the locked ranges\n",
                        format_bytes(b1, sizeof b1, property_uint(&p, "not_mlocked_bytes")));
        if (property_uint(&p, "foreign_charged_bytes") > 0)
                fprintf(out, "            charged to other cgroups: %s (their budgets count them)\n",
                        format_bytes(b1, sizeof b1, property_uint(&p, "foreign_charged_bytes")));
        fprintf(out, "    Cgroup: %s\n", property_string(&p, "cgroup"));
        if (!property_uint(&p, "cgroup_accounted"))
                fprintf(out, "    Budget: - (memory cgroup %s not accounted)\n",
                        *property_string(&p, "memory_cgroup") ? property_string(&p, "memory_cgroup") : "unknown");
        else if (property_uint(&p, "budget_bytes") == 0)
                fprintf(out, "    Budget: none (unevictable %s in %s)\n",
                        format_bytes(b2, sizeof b2, property_uint(&p, "cgroup_unevictable_bytes")),
                        property_string(&p, "memory_cgroup"));
        else
                fprintf(out, "    Budget: %s (unevictable %s in %s)\n",
                        format_bytes(b1, sizeof b1, property_uint(&p, "budget_bytes")),
                        format_bytes(b2, sizeof b2, property_uint(&p, "cgroup_unevictable_bytes")),
                        property_string(&p, "memory_cgroup"));
        if (property_uint(&p, "cgroup_foreign_bytes") > 0)
                fprintf(out, "            of it locked by targets in other cgroups: %s\n",
                        format_bytes(b1, sizeof b1, property_uint(&p, "cgroup_foreign_bytes")));
        if (property_get(&p, "max_hold_usec")) {
                char t[FORMAT_TIMESPAN_MAX];

                fprintf(out, " Last lock: held the process at most %s in one step",
                        format_timespan(t, sizeof t, property_uint(&p, "max_hold_usec")));
                if (property_uint(&p, "max_pause_usec") > 0)
                        fprintf(out, " (MaxPause=%s)", format_timespan(t, sizeof t, property_uint(&p, "max_pause_usec")));
                if (property_get(&p, "replans") && property_uint(&p, "replans") > 0)
                        fprintf(out, ", replanned %" PRIu64 " times", property_uint(&p, "replans"));
                fputc('\n', out);
        }
        if (property_uint(&p, "released"))
                fputs("            released: left alone until it execs\n", out);
        return 0;
}

/* ---- explain PID ----------------------------------------------------------------------------- */

static int verb_explain(sd_bus *bus, uint32_t pid) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *first;
        char what[64];
        size_t n = 0;
        int r;

        snprintf(what, sizeof what, "explain process %" PRIu32, pid);
        r = call(bus, "Explain", what, &reply, "u", pid);
        if (r != 0)
                return r;
        r = sd_bus_message_read(reply, "s", &first);
        if (r < 0)
                return bus_error_parse(r, "parse the reply of Explain");

        if (arg_json) {
                fprintf(out, "{\"pid\":%" PRIu32 ",\"policy\":", pid);
                if (isempty(first))
                        fputs("null", out);
                else
                        json_print_string(out, first);
                fputs(",\"policies\":[", out);
        } else if (isempty(first))
                fprintf(out, "Process %" PRIu32 " matches no policy.\n", pid);
        else
                fprintf(out, "Process %" PRIu32 " matches policy %s (the first that matches wins).\n", pid, first);

        r = sd_bus_message_enter_container(reply, 'a', "(ssbsa(sssb))");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'r', "ssbsa(sssb)")) > 0) {
                const char *name, *file, *note, *key, *value, *patterns;
                int matched, held;
                size_t k = 0;

                r = sd_bus_message_read(reply, "ssbs", &name, &file, &matched, &note);
                if (r < 0)
                        break;
                if (arg_json) {
                        fputs(n > 0 ? ",{\"name\":" : "{\"name\":", out);
                        json_print_string(out, name);
                        fputs(",\"file\":", out);
                        json_print_string(out, file);
                        fprintf(out, ",\"matched\":%s,\"note\":", matched ? "true" : "false");
                        if (isempty(note))
                                fputs("null", out);
                        else
                                json_print_string(out, note);
                        fputs(",\"keys\":[", out);
                } else
                        fprintf(out, "\n%s %s (%s)%s%s\n", matched ? "MATCH" : "no   ", name, file,
                                isempty(note) ? "" : ": ", strempty(note));
                r = sd_bus_message_enter_container(reply, 'a', "(sssb)");
                while (r >= 0 && (r = sd_bus_message_read(reply, "(sssb)", &key, &value, &patterns, &held)) > 0) {
                        if (arg_json) {
                                fputs(k > 0 ? ",{\"key\":" : "{\"key\":", out);
                                json_print_string(out, key);
                                fputs(",\"value\":", out);
                                json_print_string(out, value);
                                fputs(",\"patterns\":", out);
                                json_print_string(out, patterns);
                                fprintf(out, ",\"held\":%s}", held ? "true" : "false");
                        } else
                                fprintf(out, "  %s %s=%s\n         the process: %s\n", held ? "held  " : "failed", key,
                                        patterns, isempty(value) ? "(unknown)" : value);
                        k++;
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (arg_json)
                        fputs("]}", out);
                n++;
        }
        if (r < 0)
                return bus_error_parse(r, "parse the reply of Explain");
        if (arg_json)
                fputs("]}\n", out);
        else if (n == 0)
                fputs("(no policies are loaded)\n", out);
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
                { "json", optional_argument, NULL, ARG_JSON },
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
                        arg_json = json_mode_from_string(optarg);
                        if (arg_json < 0) {
                                log_error("Invalid --json= mode '%s': expected pretty, short or off.", optarg);
                                return -EINVAL;
                        }
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
                int min_args, max_args; /* a PID, or none */
        } verbs[] = {
                { "status", 0, 1 }, { "targets", 0, 0 }, { "cgroups", 0, 0 }, { "policies", 0, 0 },
                { "explain", 1, 1 }, { "apply", 1, 1 },  { "release", 1, 1 }, { "reload", 0, 0 },
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *verb;
        uint32_t pid = 0;
        int n_args;
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
        n_args = optind < argc ? argc - optind - 1 : 0;
        if (n_args > verbs[i].max_args) {
                log_error("Too many arguments for '%s'.", verb);
                return MLOCKCTL_EXIT_USAGE;
        }
        if (n_args < verbs[i].min_args) {
                log_error("'%s' needs a PID.", verb);
                return MLOCKCTL_EXIT_USAGE;
        }
        if (n_args > 0) {
                r = parse_pid_arg(argv[optind + 1], &pid);
                if (r != 0)
                        return r;
        }

        (void) sd_bus_error_add_map(mlockd_bus_error_map);
        r = connect_bus(&bus);
        if (r != 0)
                return r;

        if (streq(verb, "status"))
                return pid > 0 ? verb_status_pid(bus, pid) : verb_status(bus);
        if (streq(verb, "targets"))
                return verb_targets(bus);
        if (streq(verb, "cgroups"))
                return verb_cgroups(bus);
        if (streq(verb, "policies"))
                return verb_policies(bus);
        if (streq(verb, "explain"))
                return verb_explain(bus, pid);
        if (streq(verb, "apply"))
                return verb_apply(bus, pid);
        if (streq(verb, "release"))
                return verb_release(bus, pid);
        return verb_reload(bus);
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *json = NULL;
        size_t json_size = 0;
        int status;

        log_set_show_priority(false); /* a command for people: no journal level prefixes */
        /* --json is known only after parsing: buffer everything, print it (reformatted) at the end */
        out = open_memstream(&json, &json_size);
        if (!out) {
                log_oom();
                return MLOCKCTL_EXIT_FAILURE;
        }
        status = run(argc, argv);
        if (fclose(out) != 0) {
                log_oom();
                return MLOCKCTL_EXIT_FAILURE;
        }
        out = NULL;

        if (arg_json == JSON_PRETTY && json_size > 0)
                (void) json_print_pretty(stdout, json);
        else if (json_size > 0)
                fwrite(json, 1, json_size, stdout);

        if (fflush(stdout) != 0 && status == MLOCKCTL_EXIT_SUCCESS) {
                log_error_errno(errno, "Failed to write output: %m");
                status = MLOCKCTL_EXIT_FAILURE;
        }
        return status;
}
