/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.mlockd1.Manager: the vtable, its handlers, the signals, and the connection to the system
 * bus. State lives in the manager (manager.c); everything here reads it or calls manager_*. */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "manager-bus.h"
#include "manager.h"
#include "match.h"
#include "policy.h"
#include "strv.h"
#include "utf8.h"

/* Apply, Release and Reload are for root: the sender's effective uid, as the bus (or, on a direct
 * connection, the socket) reports it. Not a capability check: root here may lack some. */
static int bus_check_root(sd_bus_message *message, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t euid;
        int r;

        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
        if (r < 0)
                return r;

        r = sd_bus_creds_get_euid(creds, &euid);
        if (r < 0 || euid != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "%s.%s() is for root only.",
                                         MLOCKD_BUS_INTERFACE, sd_bus_message_get_member(message));
        return 0;
}

/* Read the "u" pid argument and reject what no process can have. */
static int bus_read_pid(sd_bus_message *message, pid_t *ret, sd_bus_error *error) {
        uint32_t pid;
        int r;

        r = sd_bus_message_read(message, "u", &pid);
        if (r < 0)
                return r;
        if (pid == 0 || pid > MLOCKD_PID_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid PID %" PRIu32 ": must be between 1 and %u.",
                                         pid, MLOCKD_PID_MAX);
        *ret = (pid_t) pid;
        return 0;
}

static int bus_no_such_process(sd_bus_error *error, pid_t pid) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
                return sd_bus_error_setf(error, MLOCKD_ERROR_NO_SUCH_PROCESS,
                                         "No process with PID %d.", (int) pid);
        return sd_bus_error_setf(error, MLOCKD_ERROR_NO_SUCH_PROCESS,
                                 "Process %d is not a target of mlockd.", (int) pid);
}

/* Reply with an array of n structs of the given signature, append_item() writing item i. */
typedef int (*AppendItem)(sd_bus_message *reply, const char *signature, Manager *m, size_t i);

static int reply_array(sd_bus_message *message, const char *signature, Manager *m, size_t n,
                       AppendItem append_item) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', signature);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = append_item(reply, signature, m, i);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int append_policy(sd_bus_message *reply, const char *signature, Manager *m, size_t i) {
        const Policy *p = m->policies->policies[i];
        _cleanup_free_ char *name = NULL, *path = NULL;

        return sd_bus_message_append(reply, signature,
                                     utf8_safe(p->name, &name),
                                     strempty(lock_mode_to_string(p->mode)),
                                     utf8_safe(p->path, &path),
                                     (uint32_t) manager_policy_matched(m, p->name),
                                     manager_policy_locked(m, p->name));
}

/* comm, exe and cgroup paths are the target's to choose: escaped (lib/utf8.h), since sd-bus refuses a
 * message with a string that is not UTF-8, and one such process would break the call for everyone. */
static int append_target(sd_bus_message *reply, const char *signature, const Target *t) {
        _cleanup_free_ char *comm = NULL, *policy = NULL, *cgroup = NULL;

        return sd_bus_message_append(reply, signature,
                                     (uint32_t) t->pid,
                                     utf8_safe(t->comm, &comm),
                                     utf8_safe(t->policy, &policy),
                                     utf8_safe(t->cgroup, &cgroup),
                                     t->locked_bytes,
                                     isempty(t->state) ? "pending" : t->state);
}

static int append_target_at(sd_bus_message *reply, const char *signature, Manager *m, size_t i) {
        return append_target(reply, signature, m->targets[i]);
}

static int append_cgroup(sd_bus_message *reply, const char *signature, Manager *m, size_t i) {
        const CgroupAccount *c = &m->cgroups[i];
        _cleanup_free_ char *path = NULL;

        /* foreign last: callers reading the first four by index go on working */
        return sd_bus_message_append(reply, signature, utf8_safe(c->path, &path), c->unevictable, c->locked,
                                     c->budget, c->foreign);
}

static int method_list_policies(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return reply_array(message, "(sssut)", m, m->policies ? m->policies->n_policies : 0, append_policy);
}

static int method_list_targets(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return reply_array(message, "(usssts)", m, m->n_targets, append_target_at);
}

static int method_list_cgroups(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return reply_array(message, "(stttt)", m, m->n_cgroups, append_cgroup);
}

static int method_get_target(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        Target *t;
        pid_t pid = 0;
        int r;

        r = bus_read_pid(message, &pid, error);
        if (r < 0)
                return r;

        t = manager_get_target(m, pid);
        if (!t)
                return bus_no_such_process(error, pid);

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = append_target(reply, "usssts", t);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Apply's reply, when the job has ended (org.mlockd1(5)): locked or partial:REASON return the state;
 * skipped:REASON is Refused, failed:REASON is Failed, each "STATE: sentence". */
void bus_reply_apply(Manager *m, sd_bus_message *message, pid_t pid, int r, const Target *t) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int q;

        if (r == -ESRCH || (r == 0 && !t))
                (void) sd_bus_error_setf(&error, MLOCKD_ERROR_NO_SUCH_PROCESS, "No process with PID %d (it exited).",
                                         (int) pid);
        else if (r == -ENOENT)
                (void) sd_bus_error_setf(&error, MLOCKD_ERROR_NOT_MATCHED, "No policy matches process %d.", (int) pid);
        else if (r < 0)
                (void) sd_bus_error_set_errnof(&error, r, "Failed to apply policy to process %d: %m", (int) pid);
        else if (t->state_id == TARGET_SKIPPED)
                (void) sd_bus_error_setf(&error, MLOCKD_ERROR_REFUSED, "%s: %s", t->state,
                                         target_reason_describe(t->reason, t->detail));
        else if (t->state_id == TARGET_FAILED)
                (void) sd_bus_error_setf(&error, MLOCKD_ERROR_FAILED, "%s: %s", t->state,
                                         target_reason_describe(t->reason, t->detail));

        if (sd_bus_error_is_set(&error))
                q = sd_bus_reply_method_error(message, &error);
        else
                q = sd_bus_reply_method_return(message, "s", isempty(t->state) ? "pending" : t->state);
        if (q < 0)
                log_debug_errno(q, "Failed to answer Apply(%d), ignoring: %m", (int) pid);
}

/* Release's reply: done, NoSuchProcess, or Refused when the target refused the unlock (a seccomp
 * filter on munlock; AccessDenied stays for non-root callers), Failed otherwise. */
void bus_reply_release(Manager *m, sd_bus_message *message, pid_t pid, int r, const Target *t) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int q;

        if (r == -ESRCH)
                (void) sd_bus_error_setf(&error, MLOCKD_ERROR_NO_SUCH_PROCESS, "No process with PID %d (it exited).",
                                         (int) pid);
        else if (r == -EPERM)
                (void) sd_bus_error_setf(&error, MLOCKD_ERROR_REFUSED, "%s: %s", t ? t->state : "skipped",
                                         t ? target_reason_describe(t->reason, t->detail) : "refused");
        else if (r < 0)
                (void) sd_bus_error_setf(&error, MLOCKD_ERROR_FAILED, "%s: %s", t ? t->state : "failed",
                                         t ? target_reason_describe(t->reason, t->detail) : "failed");

        if (sd_bus_error_is_set(&error))
                q = sd_bus_reply_method_error(message, &error);
        else
                q = sd_bus_reply_method_return(message, NULL);
        if (q < 0)
                log_debug_errno(q, "Failed to answer Release(%d), ignoring: %m", (int) pid);
}

static int method_apply(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *state = NULL;
        pid_t pid = 0;
        int r;

        r = bus_check_root(message, error);
        if (r < 0)
                return r;
        r = bus_read_pid(message, &pid, error);
        if (r < 0)
                return r;

        r = manager_apply(m, pid, message, &state);
        switch (r) {
        case -ESRCH:
                return sd_bus_error_setf(error, MLOCKD_ERROR_NO_SUCH_PROCESS, "No process with PID %d.",
                                         (int) pid);
        case -ENOENT:
                return sd_bus_error_setf(error, MLOCKD_ERROR_NOT_MATCHED, "No policy matches process %d.",
                                         (int) pid);
        case -EPERM:
                return sd_bus_error_setf(error, MLOCKD_ERROR_REFUSED, "%s: mlockd refuses to touch process %d",
                                         state ?: "skipped", (int) pid);
        default:
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to apply policy to process %d: %m",
                                                       (int) pid);
        }

        return 1; /* answered by bus_reply_apply() when the job ends */
}

static int method_release(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        pid_t pid = 0;
        int r;

        r = bus_check_root(message, error);
        if (r < 0)
                return r;
        r = bus_read_pid(message, &pid, error);
        if (r < 0)
                return r;

        r = manager_release(m, pid, message);
        if (r == -ESRCH)
                return bus_no_such_process(error, pid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to release process %d: %m", (int) pid);

        return 1; /* answered by bus_reply_release() once the unlock is done */
}

static int method_reload(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_strv_free_ char **problems = NULL;
        Manager *m = userdata;
        int r;

        r = bus_check_root(message, error);
        if (r < 0)
                return r;

        r = manager_reload(m, &problems);
        if (r == -EINVAL) {
                _cleanup_free_ char *text = NULL;
                size_t size = 0;
                FILE *f;

                /* Every problem, one a line, after a line saying that nothing changed. */
                f = open_memstream(&text, &size);
                if (!f)
                        return -ENOMEM;
                fputs("The new configuration has problems; the old one stays in effect:", f);
                STRV_FOREACH(p, problems)
                        fprintf(f, "\n%s", *p);
                if (!problems)
                        fputs("\n(no details)", f);
                if (fclose(f) != 0)
                        return -ENOMEM;
                return sd_bus_error_set(error, MLOCKD_ERROR_INVALID_CONFIG, text);
        }
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to reload the configuration: %m");

        return sd_bus_reply_method_return(message, NULL);
}

/* ---- DescribeTarget and Explain: read-only, for everyone ------------------------------------ */

static int append_entry(sd_bus_message *reply, const char *key, const char *type, ...) {
        va_list ap;
        int r;

        r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "s", key);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'v', type);
        if (r < 0)
                return r;
        va_start(ap, type);
        r = sd_bus_message_appendv(reply, type, ap);
        va_end(ap);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static const CgroupAccount *bus_find_cgroup(Manager *m, const char *path) {
        for (size_t i = 0; path && i < m->n_cgroups; i++)
                if (streq_ptr(m->cgroups[i].path, path))
                        return &m->cgroups[i];
        return NULL;
}

/* Everything mlockd knows of one target, as a dictionary that can grow without breaking callers. */
static int method_describe_target(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *status = NULL, *comm = NULL, *exe = NULL, *policy_name = NULL, *cgroup = NULL,
                *memcg = NULL;
        Manager *m = userdata;
        const CgroupAccount *c;
        const Policy *policy;
        const char *state, *colon;
        Target *t;
        pid_t pid = 0;
        int r;

        r = bus_read_pid(message, &pid, error);
        if (r < 0)
                return r;
        t = manager_get_target(m, pid);
        if (!t)
                return bus_no_such_process(error, pid);

        state = isempty(t->state) ? "pending" : t->state;
        colon = strchr(state, ':');
        status = colon ? strndup(state, (size_t) (colon - state)) : strdup(state);
        if (!status)
                return -ENOMEM;
        c = bus_find_cgroup(m, t->memcg);
        policy = policy_set_find(m->policies, t->policy);

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        if ((r = append_entry(reply, "pid", "u", (uint32_t) t->pid)) < 0 ||
            (r = append_entry(reply, "comm", "s", utf8_safe(t->comm, &comm))) < 0 ||
            (r = append_entry(reply, "exe", "s", utf8_safe(t->exe, &exe))) < 0 ||
            (r = append_entry(reply, "policy", "s", utf8_safe(t->policy, &policy_name))) < 0 ||
            (r = append_entry(reply, "state", "s", state)) < 0 ||
            (r = append_entry(reply, "status", "s", status)) < 0 ||
            (r = append_entry(reply, "reason", "s", colon ? colon + 1 : "")) < 0 ||
            (r = append_entry(reply, "locked_bytes", "t", t->locked_bytes)) < 0 ||
            (r = append_entry(reply, "smaps_locked_bytes", "t", t->smaps_locked)) < 0 ||
            (r = append_entry(reply, "pages_verified", "b", t->pages_verified)) < 0 ||
            (r = append_entry(reply, "not_mlocked_bytes", "t", t->not_mlocked)) < 0 ||
            (r = append_entry(reply, "foreign_charged_bytes", "t",
                              page_charges_total(&t->foreign) * (uint64_t) sysconf(_SC_PAGESIZE))) < 0 ||
            (r = append_entry(reply, "cgroup", "s", utf8_safe(t->cgroup, &cgroup))) < 0 ||
            (r = append_entry(reply, "memory_cgroup", "s", utf8_safe(t->memcg, &memcg))) < 0 ||
            (r = append_entry(reply, "budget_bytes", "t", c ? c->budget : UINT64_C(0))) < 0 ||
            (r = append_entry(reply, "cgroup_accounted", "b", c != NULL)) < 0 ||
            (r = append_entry(reply, "cgroup_unevictable_bytes", "t", c ? c->unevictable : UINT64_C(0))) < 0 ||
            (r = append_entry(reply, "cgroup_foreign_bytes", "t", c ? c->foreign : UINT64_C(0))) < 0 ||
            (r = append_entry(reply, "max_hold_usec", "t", (uint64_t) t->max_hold)) < 0 ||
            (r = append_entry(reply, "max_pause_usec", "t", (uint64_t) (policy ? policy->max_pause : 0))) < 0 ||
            (r = append_entry(reply, "replans", "u", (uint32_t) t->replans)) < 0 ||
            (r = append_entry(reply, "released", "b", t->released)) < 0 ||
            (r = append_entry(reply, "mlockall", "b", t->ledger.future)) < 0)
                return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int append_explained_policy(sd_bus_message *reply, const MatchPolicyResult *p) {
        _cleanup_free_ char *name = NULL, *path = NULL, *note = NULL;
        int r;

        r = sd_bus_message_open_container(reply, 'r', "ssbsa(sssb)");
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "ssbs", utf8_safe(p->policy->name, &name),
                                  utf8_safe(p->policy->path, &path), p->matched, utf8_safe(p->note, &note));
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sssb)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_keys; i++) {
                _cleanup_free_ char *value = NULL, *patterns = NULL; /* the process's value, the policy's */

                r = sd_bus_message_append(reply, "(sssb)", p->keys[i].key, utf8_safe(p->keys[i].value, &value),
                                          utf8_safe(p->keys[i].patterns, &patterns), p->keys[i].held);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int explain_reply_build(sd_bus_message *message, const MatchExplanation *e) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *first = NULL;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "s", utf8_safe(e->first >= 0 ? e->policies[e->first].policy->name : "", &first));
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssbsa(sssb))");
        if (r < 0)
                return r;
        for (size_t i = 0; i < e->n_policies; i++) {
                r = append_explained_policy(reply, &e->policies[i]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Explain's answer, once the manager knows the process (its exe may need the injector). */
void bus_reply_explain(Manager *m, sd_bus_message *message, pid_t pid, int r, const MatchExplanation *e) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        if (r >= 0)
                r = explain_reply_build(message, e);
        if (r >= 0)
                return;
        if (r == -ESRCH || r == -ENOENT)
                (void) sd_bus_error_setf(&error, MLOCKD_ERROR_NO_SUCH_PROCESS,
                                         r == -ESRCH ? "No process with PID %d." :
                                                       "Process %d is a kernel thread, a zombie or a thread, "
                                                       "never matched.", (int) pid);
        else
                (void) sd_bus_error_set_errnof(&error, r, "Failed to read process %d: %m", (int) pid);
        r = sd_bus_reply_method_error(message, &error);
        if (r < 0)
                log_debug_errno(r, "Failed to answer Explain(%d), ignoring: %m", (int) pid);
}

static int method_explain(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        pid_t pid = 0;
        int r;

        r = bus_read_pid(message, &pid, error);
        if (r < 0)
                return r;
        r = manager_explain(m, pid, message);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to read process %d: %m", (int) pid);
        return 1; /* answered by bus_reply_explain() */
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

/* Whether mlockd reads a memory cgroup controller: without one, ListCgroups' unevictable figures
 * are not measured and budgets cannot be enforced. */
static int property_get_memory_accounting(sd_bus *bus, const char *path, const char *interface,
                                          const char *property, sd_bus_message *reply, void *userdata,
                                          sd_bus_error *error) {
        Manager *m = userdata;

        return sd_bus_message_append(reply, "b", m->have_cgroup_layout);
}

static int property_get_uint64(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        return sd_bus_message_append(reply, "t", *(const uint64_t *) userdata);
}

const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),

        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LockedBytes", "t", property_get_uint64, offsetof(Manager, locked_bytes),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MemoryAccounting", "b", property_get_memory_accounting, 0, SD_BUS_VTABLE_PROPERTY_CONST),

        SD_BUS_METHOD_WITH_ARGS("ListPolicies",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(sssut)", policies),
                                method_list_policies,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListTargets",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(usssts)", targets),
                                method_list_targets,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListCgroups",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(stttt)", cgroups),
                                method_list_cgroups,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetTarget",
                                SD_BUS_ARGS("u", pid),
                                SD_BUS_RESULT("u", pid, "s", comm, "s", policy, "s", cgroup,
                                              "t", locked_bytes, "s", state),
                                method_get_target,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DescribeTarget",
                                SD_BUS_ARGS("u", pid),
                                SD_BUS_RESULT("a{sv}", properties),
                                method_describe_target,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Explain",
                                SD_BUS_ARGS("u", pid),
                                SD_BUS_RESULT("s", policy, "a(ssbsa(sssb))", policies),
                                method_explain,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        /* Not UNPRIVILEGED: sd-bus checks the caller first, then the handlers check euid 0. */
        SD_BUS_METHOD_WITH_ARGS("Apply",
                                SD_BUS_ARGS("u", pid),
                                SD_BUS_RESULT("s", state),
                                method_apply,
                                0),
        SD_BUS_METHOD_WITH_ARGS("Release",
                                SD_BUS_ARGS("u", pid),
                                SD_BUS_NO_RESULT,
                                method_release,
                                0),
        SD_BUS_METHOD_WITH_ARGS("Reload",
                                SD_BUS_NO_ARGS,
                                SD_BUS_NO_RESULT,
                                method_reload,
                                0),

        SD_BUS_SIGNAL_WITH_ARGS("TargetChanged",
                                SD_BUS_ARGS("u", pid, "s", state),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("BudgetExceeded",
                                SD_BUS_ARGS("s", cgroup, "t", unevictable, "t", budget),
                                0),

        SD_BUS_VTABLE_END
};

int manager_bus_add_object(Manager *m, sd_bus *bus) {
        int r;

        r = sd_bus_add_object_vtable(bus, NULL, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_debug_errno(r, "Failed to add the %s object: %m", MLOCKD_BUS_PATH);
        return 0;
}

int manager_bus_connect(Manager *m) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");

        (void) sd_bus_set_description(bus, "bus-api-mlockd");

        r = manager_bus_add_object(m, bus);
        if (r < 0)
                return log_error_errno(r, "Failed to add the %s object: %m", MLOCKD_BUS_PATH);

        r = sd_bus_request_name(bus, MLOCKD_BUS_NAME, 0);
        if (r == -EEXIST)
                return log_error_errno(r, "%s is already owned by another connection; is mlockd "
                                       "already running?", MLOCKD_BUS_NAME);
        if (r == -EACCES || r == -EPERM)
                return log_error_errno(r, "The bus policy does not allow us to own %s (is "
                                       "org.mlockd1.conf installed in dbus-1/system.d?): %m",
                                       MLOCKD_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to request the name %s: %m", MLOCKD_BUS_NAME);

        r = sd_bus_attach_event(bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");

        m->bus = TAKE_PTR(bus);
        return 0;
}

void bus_emit_target_changed(Manager *m, const Target *t) {
        int r;

        if (!m->bus || !t)
                return;

        r = sd_bus_emit_signal(m->bus, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE, "TargetChanged", "us",
                               (uint32_t) t->pid, isempty(t->state) ? "pending" : t->state);
        if (r < 0)
                log_debug_errno(r, "Failed to emit TargetChanged for %d, ignoring: %m", (int) t->pid);
}

void bus_emit_budget_exceeded(Manager *m, const CgroupAccount *c) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (!m->bus || !c)
                return;

        r = sd_bus_emit_signal(m->bus, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE, "BudgetExceeded", "stt",
                               utf8_safe(c->path, &path), c->unevictable, c->budget);
        if (r < 0)
                log_debug_errno(r, "Failed to emit BudgetExceeded for %s, ignoring: %m", c->path);
}

void bus_emit_locked_bytes_changed(Manager *m) {
        int r;

        if (!m->bus)
                return;

        r = sd_bus_emit_properties_changed(m->bus, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE, "LockedBytes",
                                           NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to emit PropertiesChanged for LockedBytes, ignoring: %m");
}

/* ---- introspection without a bus ------------------------------------------------------------- */

typedef struct IntrospectCall {
        sd_bus_message *reply;
        int error;
} IntrospectCall;

static int introspect_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        IntrospectCall *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e)
                c->error = -sd_bus_error_get_errno(e) ?: -EIO;
        else
                c->reply = sd_bus_message_ref(reply);
        return sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(reply)), 0);
}

/* A connection on one end of a socketpair; takes fd in every case. */
static int bus_new_direct(sd_event *e, int fd, bool server, sd_bus **ret) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        r = sd_bus_set_fd(bus, fd, fd);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        if (server) {
                sd_id128_t id;

                r = sd_id128_randomize(&id);
                if (r < 0)
                        return r;
                r = sd_bus_set_server(bus, true, id);
                if (r < 0)
                        return r;
        }
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, e, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

int bus_introspect(FILE *f) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(sd_bus_close_unrefp) sd_bus *server = NULL, *client = NULL;
        IntrospectCall call = {};
        Manager manager = {};   /* Introspect reads no state */
        const char *xml;
        int pair[2], r;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return -errno;

        r = sd_event_new(&e);
        if (r < 0) {
                safe_close(pair[0]);
                safe_close(pair[1]);
                return r;
        }

        r = bus_new_direct(e, pair[0], true, &server);
        if (r < 0) {
                safe_close(pair[1]);
                return r;
        }
        r = bus_new_direct(e, pair[1], false, &client);
        if (r < 0)
                return r;

        r = manager_bus_add_object(&manager, server);
        if (r < 0)
                return r;

        r = sd_bus_call_method_async(client, NULL, NULL, MLOCKD_BUS_PATH,
                                     "org.freedesktop.DBus.Introspectable", "Introspect",
                                     introspect_reply, &call, NULL);
        if (r < 0)
                return r;

        r = sd_event_loop(e);
        if (r < 0)
                return r;
        if (call.error < 0)
                return call.error;
        if (!call.reply)
                return -EIO;

        r = sd_bus_message_read(call.reply, "s", &xml);
        if (r >= 0 && fputs(xml, f) < 0)
                r = -EIO;
        call.reply = sd_bus_message_unref(call.reply);
        return r < 0 ? r : 0;
}
