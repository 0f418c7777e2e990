/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.mlockd1.Manager over a real sd-bus connection, with the manager stubbed: the server (this
 * process) serves daemon/manager-bus.c's vtable on an AF_UNIX socket; a forked client calls every
 * member and checks signatures, values, named errors, signals and the access check, as root and
 * as nobody (uid 65534). The socket reports the client's credentials exactly as the bus would. */

#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>

#include "config.h"
#include "manager-bus.h"
#include "manager.h"
#include "match.h"
#include "strv.h"
#include "tests.h"

#define NOBODY 65534

/* ---- the stubbed manager ---------------------------------------------------------------------- */

static struct {
        unsigned apply, release, reload;
        pid_t last_apply, last_release;
} calls;

/* Stands in until lib/policy.c is linked; the real one wins then. */
__attribute__((weak)) const char *lock_mode_to_string(LockMode mode) {
        static const char *const names[] = { "none", "onfault", "full" };
        return mode >= 0 && (size_t) mode < ELEMENTSOF(names) ? names[mode] : NULL;
}

Target *manager_get_target(Manager *m, pid_t pid) {
        for (size_t i = 0; i < m->n_targets; i++)
                if (m->targets[i]->pid == pid)
                        return m->targets[i];
        return NULL;
}

unsigned manager_policy_matched(Manager *m, const char *policy) {
        unsigned n = 0;

        for (size_t i = 0; i < m->n_targets; i++)
                n += streq_ptr(m->targets[i]->policy, policy);
        return n;
}

uint64_t manager_policy_locked(Manager *m, const char *policy) {
        uint64_t sum = 0;

        for (size_t i = 0; i < m->n_targets; i++)
                if (streq_ptr(m->targets[i]->policy, policy))
                        sum += m->targets[i]->locked_bytes;
        return sum;
}

/* 4242 a target: locks (TargetChanged), answered once the "job" ends, as the real manager does;
 * 1: refused at once; 4243: no policy; 4244: over budget (BudgetExceeded, then skipped:budget,
 * Refused); 4245: failed:injector (Failed); anything else: no such process. */
static Target target_budget = { .pid = 4244, .state = (char *) "skipped:budget", .state_id = TARGET_SKIPPED,
                                .reason = TARGET_REASON_BUDGET };
static Target target_failed = { .pid = 4245, .state = (char *) "failed:injector", .state_id = TARGET_FAILED,
                                .reason = TARGET_REASON_INJECTOR };

int manager_apply(Manager *m, pid_t pid, sd_bus_message *message, const char **ret_state) {
        Target *t = manager_get_target(m, pid);

        calls.apply++;
        calls.last_apply = pid;
        if (pid == 1) {
                *ret_state = "skipped:pid1";
                return -EPERM;
        }
        if (pid == 4243)
                return -ENOENT;
        if (pid == 4244) {
                bus_emit_budget_exceeded(m, &m->cgroups[0]);
                bus_reply_apply(m, message, pid, 0, &target_budget);
                return 0;
        }
        if (pid == 4245) {
                bus_reply_apply(m, message, pid, 0, &target_failed);
                return 0;
        }
        if (!t)
                return -ESRCH;

        t->state = (char *) "locked";
        t->state_id = TARGET_LOCKED;
        t->released = false;
        bus_emit_target_changed(m, t);
        bus_reply_apply(m, message, pid, 0, t);
        return 0;
}

/* Releasing 4242 unlocks its bytes: LockedBytes changes. 4300's filter refuses munlock: Refused. */
int manager_release(Manager *m, pid_t pid, sd_bus_message *message) {
        Target *t = manager_get_target(m, pid);

        calls.release++;
        calls.last_release = pid;
        if (!t)
                return -ESRCH;
        if (pid == 4300) {
                Target refused = *t;

                refused.state = (char *) "skipped:seccomp:kill_process";
                refused.state_id = TARGET_SKIPPED;
                refused.reason = TARGET_REASON_SECCOMP;
                refused.detail = (char *) "kill_process";
                bus_reply_release(m, message, pid, -EPERM, &refused);
                return 0;
        }
        m->locked_bytes -= t->locked_bytes;
        t->locked_bytes = 0;
        t->released = true;
        bus_emit_locked_bytes_changed(m);
        bus_reply_release(m, message, pid, 0, t);
        return 0;
}

/* Explain: a target is explained from what the stub knows of it; other pids do not exist. */
int manager_explain_process(Manager *m, pid_t pid, MatchExplanation **ret) {
        Target *t = manager_get_target(m, pid);
        MatchProcess p;

        if (!t)
                return -ESRCH;
        p = (MatchProcess) { .pid = t->pid, .comm = t->comm, .cgroup = t->cgroup, .uid = 0 };
        return match_explain(m->policies, &p, ret);
}

int manager_explain(Manager *m, pid_t pid, sd_bus_message *message) {
        _cleanup_(match_explanation_freep) MatchExplanation *e = NULL;
        int r = manager_explain_process(m, pid, &e);

        bus_reply_explain(m, message, pid, r, e);
        return 0;
}

/* Every second reload finds problems. */
int manager_reload(Manager *m, char ***ret_problems) {
        _cleanup_strv_free_ char **problems = NULL;

        calls.reload++;
        if (calls.reload % 2 == 1)
                return 0;

        ASSERT_OK(strv_extend(&problems, "/etc/mlockd/policy.d/bad.conf:3: Unknown key 'Foo'"));
        ASSERT_OK(strv_extend(&problems, "/etc/mlockd/policy.d/bad.conf:7: Invalid size 'lots'"));
        *ret_problems = TAKE_PTR(problems);
        return -EINVAL;
}

static Policy policy_redis = { .name = (char *) "redis", .path = (char *) "/etc/mlockd/policy.d/redis.conf",
                               .mode = LOCK_MODE_ONFAULT };
static Policy policy_audio = { .name = (char *) "audio", .path = (char *) "/etc/mlockd/policy.d/audio.conf",
                               .index = 1, .mode = LOCK_MODE_FULL };
static Policy *policies[] = { &policy_redis, &policy_audio };
static PolicySet policy_set = { .policies = policies, .n_policies = ELEMENTSOF(policies) };

static Target target_a = { .pid = 4242, .comm = (char *) "redis-server", .policy = (char *) "redis",
                           .cgroup = (char *) "/system.slice/redis.service", .state = (char *) "partial:rlimit",
                           .locked_bytes = 16 << 20 };
static Target target_b = { .pid = 4300, .comm = (char *) "jackd", .policy = (char *) "audio",
                           .cgroup = NULL, .state = NULL, .locked_bytes = 4096 };
static Target *target_list[] = { &target_a, &target_b };
static CgroupAccount cgroup_list[] = {
        { .path = (char *) "/system.slice/redis.service", .unevictable = 20 << 20, .locked = 16 << 20,
          .budget = 1ULL << 30, .foreign = 2 << 20 },
        { .path = (char *) "/user.slice", .unevictable = 4096, .locked = 4096 },
};

static Manager manager = {
        .policies = &policy_set,
        .targets = target_list,
        .n_targets = ELEMENTSOF(target_list),
        .cgroups = cgroup_list,
        .n_cgroups = ELEMENTSOF(cgroup_list),
        .locked_bytes = (16 << 20) + 4096,
        .have_cgroup_layout = true,
};

/* ---- the client (a forked child) -------------------------------------------------------------- */

typedef struct Signals {
        unsigned target_changed, budget_exceeded, locked_bytes_changed;
        uint32_t pid;
        char state[64], cgroup[128];
        uint64_t unevictable, budget, locked_bytes;
} Signals;

static int on_target_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Signals *s = userdata;
        const char *state;

        ASSERT_STREQ(sd_bus_message_get_signature(m, true), "us");
        ASSERT_OK(sd_bus_message_read(m, "us", &s->pid, &state));
        snprintf(s->state, sizeof s->state, "%s", state);
        s->target_changed++;
        return 0;
}

static int on_budget_exceeded(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Signals *s = userdata;
        const char *cgroup;

        ASSERT_STREQ(sd_bus_message_get_signature(m, true), "stt");
        ASSERT_OK(sd_bus_message_read(m, "stt", &cgroup, &s->unevictable, &s->budget));
        snprintf(s->cgroup, sizeof s->cgroup, "%s", cgroup);
        s->budget_exceeded++;
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Signals *s = userdata;
        const char *interface, *name;

        ASSERT_OK(sd_bus_message_read(m, "s", &interface));
        ASSERT_STREQ(interface, MLOCKD_BUS_INTERFACE);
        ASSERT_OK(sd_bus_message_enter_container(m, 'a', "{sv}"));
        while (ASSERT_OK(sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                ASSERT_OK(sd_bus_message_read(m, "s", &name));
                ASSERT_STREQ(name, "LockedBytes");
                ASSERT_OK(sd_bus_message_read(m, "v", "t", &s->locked_bytes));
                ASSERT_OK(sd_bus_message_exit_container(m));
                s->locked_bytes_changed++;
        }
        return 0;
}

/* Call a method; return the reply, or NULL with *error set. */
static sd_bus_message *call(sd_bus *bus, sd_bus_error *error, const char *member, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus_message *reply = NULL;
        va_list ap;

        ASSERT_OK(sd_bus_message_new_method_call(bus, &m, NULL, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE,
                                                 member));
        if (types) {
                va_start(ap, types);
                ASSERT_OK(sd_bus_message_appendv(m, types, ap));
                va_end(ap);
        }
        sd_bus_error_free(error);
        if (sd_bus_call(bus, m, 0, error, &reply) < 0)
                ASSERT_TRUE(sd_bus_error_is_set(error));
        return reply;
}

#define ASSERT_CALL_OK(reply, error, member, signature)                                          \
        do {                                                                                     \
                if (!(reply))                                                                    \
                        test_fail("%s failed: %s: %s", member, (error)->name, (error)->message); \
                ASSERT_STREQ(sd_bus_message_get_signature(reply, true), signature);              \
        } while (0)

#define ASSERT_CALL_ERROR(reply, error, expected)                                                 \
        do {                                                                                     \
                if (reply)                                                                       \
                        test_fail("call succeeded, expected %s", expected);                      \
                if (!sd_bus_error_has_name(error, expected))                                     \
                        test_fail("got %s (%s), expected %s", (error)->name, (error)->message,   \
                                  expected);                                                     \
        } while (0)

static void check_lists(sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name, *mode, *file, *comm, *policy, *cgroup, *state;
        uint32_t matched, pid;
        uint64_t locked, unevictable, budget, foreign;

        reply = call(bus, &error, "ListPolicies", NULL);
        ASSERT_CALL_OK(reply, &error, "ListPolicies", "a(sssut)");
        ASSERT_OK(sd_bus_message_enter_container(reply, 'a', "(sssut)"));
        ASSERT_EQ(sd_bus_message_read(reply, "(sssut)", &name, &mode, &file, &matched, &locked), 1);
        ASSERT_STREQ(name, "redis");
        ASSERT_STREQ(mode, "onfault");
        ASSERT_STREQ(file, "/etc/mlockd/policy.d/redis.conf");
        ASSERT_EQ(matched, 1);
        ASSERT_OK(sd_bus_message_read(reply, "(sssut)", &name, &mode, &file, &matched, &locked));
        ASSERT_STREQ(name, "audio");
        ASSERT_STREQ(mode, "full");
        ASSERT_EQ_U64(locked, 4096);
        ASSERT_EQ(sd_bus_message_read(reply, "(sssut)", &name, &mode, &file, &matched, &locked), 0);
        reply = sd_bus_message_unref(reply);

        reply = call(bus, &error, "ListTargets", NULL);
        ASSERT_CALL_OK(reply, &error, "ListTargets", "a(usssts)");
        ASSERT_OK(sd_bus_message_enter_container(reply, 'a', "(usssts)"));
        ASSERT_EQ(sd_bus_message_read(reply, "(usssts)", &pid, &comm, &policy, &cgroup, &locked, &state), 1);
        ASSERT_EQ(pid, 4242);
        ASSERT_STREQ(comm, "redis-server");
        ASSERT_STREQ(policy, "redis");
        ASSERT_STREQ(cgroup, "/system.slice/redis.service");
        ASSERT_TRUE(streq(state, "partial:rlimit") || streq(state, "locked"));
        ASSERT_EQ(sd_bus_message_read(reply, "(usssts)", &pid, &comm, &policy, &cgroup, &locked, &state), 1);
        ASSERT_EQ(pid, 4300);
        ASSERT_STREQ(cgroup, "");               /* NULL in the manager */
        ASSERT_STREQ(state, "pending");         /* no state yet */
        ASSERT_EQ(sd_bus_message_read(reply, "(usssts)", &pid, &comm, &policy, &cgroup, &locked, &state), 0);
        reply = sd_bus_message_unref(reply);

        reply = call(bus, &error, "ListCgroups", NULL);
        ASSERT_CALL_OK(reply, &error, "ListCgroups", "a(stttt)");
        ASSERT_OK(sd_bus_message_enter_container(reply, 'a', "(stttt)"));
        ASSERT_EQ(sd_bus_message_read(reply, "(stttt)", &cgroup, &unevictable, &locked, &budget, &foreign), 1);
        ASSERT_STREQ(cgroup, "/system.slice/redis.service");
        ASSERT_EQ_U64(unevictable, 20 << 20);
        ASSERT_EQ_U64(locked, 16 << 20);
        ASSERT_EQ_U64(budget, 1ULL << 30);
        ASSERT_EQ_U64(foreign, 2 << 20);
        ASSERT_EQ(sd_bus_message_read(reply, "(stttt)", &cgroup, &unevictable, &locked, &budget, &foreign), 1);
        ASSERT_EQ_U64(budget, 0);
        ASSERT_EQ_U64(foreign, 0);
        ASSERT_EQ(sd_bus_message_read(reply, "(stttt)", &cgroup, &unevictable, &locked, &budget, &foreign), 0);
        reply = sd_bus_message_unref(reply);

        reply = call(bus, &error, "GetTarget", "u", 4300);
        ASSERT_CALL_OK(reply, &error, "GetTarget", "usssts");
        ASSERT_OK(sd_bus_message_read(reply, "usssts", &pid, &comm, &policy, &cgroup, &locked, &state));
        ASSERT_EQ(pid, 4300);
        ASSERT_STREQ(comm, "jackd");
        ASSERT_EQ_U64(locked, 4096);
        reply = sd_bus_message_unref(reply);

        reply = call(bus, &error, "GetTarget", "u", 5555);
        ASSERT_CALL_ERROR(reply, &error, MLOCKD_ERROR_NO_SUCH_PROCESS);
        reply = call(bus, &error, "GetTarget", "u", 0);
        ASSERT_CALL_ERROR(reply, &error, SD_BUS_ERROR_INVALID_ARGS);
        reply = call(bus, &error, "GetTarget", "u", MLOCKD_PID_MAX + 1);
        ASSERT_CALL_ERROR(reply, &error, SD_BUS_ERROR_INVALID_ARGS);

        /* Properties */
        {
                _cleanup_free_ char *version = NULL;
                uint64_t bytes;

                sd_bus_error_free(&error);
                ASSERT_OK(sd_bus_get_property_string(bus, NULL, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE,
                                                     "Version", &error, &version));
                ASSERT_STREQ(version, PACKAGE_VERSION);
                ASSERT_OK(sd_bus_get_property_trivial(bus, NULL, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE,
                                                      "LockedBytes", &error, 't', &bytes));
                ASSERT_TRUE(bytes == (16 << 20) + 4096 || bytes == 4096);
        }
}

static void wait_for(sd_bus *bus, const unsigned *counter, unsigned value) {
        for (unsigned i = 0; *counter < value; i++) {
                if (i > 1000)
                        test_fail("signal never came");
                if (ASSERT_OK(sd_bus_process(bus, NULL)) == 0)
                        ASSERT_OK(sd_bus_wait(bus, 100 * 1000));
        }
}

static void client_root(sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Signals signals = {};
        const char *state;

        ASSERT_OK(sd_bus_match_signal(bus, NULL, NULL, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE,
                                      "TargetChanged", on_target_changed, &signals));
        ASSERT_OK(sd_bus_match_signal(bus, NULL, NULL, MLOCKD_BUS_PATH, MLOCKD_BUS_INTERFACE,
                                      "BudgetExceeded", on_budget_exceeded, &signals));
        ASSERT_OK(sd_bus_match_signal(bus, NULL, NULL, MLOCKD_BUS_PATH, "org.freedesktop.DBus.Properties",
                                      "PropertiesChanged", on_properties_changed, &signals));

        check_lists(bus);

        /* Apply: the new state, and TargetChanged with it */
        reply = call(bus, &error, "Apply", "u", 4242);
        ASSERT_CALL_OK(reply, &error, "Apply", "s");
        ASSERT_OK(sd_bus_message_read(reply, "s", &state));
        ASSERT_STREQ(state, "locked");
        reply = sd_bus_message_unref(reply);
        wait_for(bus, &signals.target_changed, 1);
        ASSERT_EQ(signals.pid, 4242);
        ASSERT_STREQ(signals.state, "locked");

        reply = call(bus, &error, "Apply", "u", 1);
        ASSERT_CALL_ERROR(reply, &error, MLOCKD_ERROR_REFUSED);
        ASSERT_TRUE(strstr(error.message, "skipped:pid1"));     /* names the reason */
        reply = call(bus, &error, "Apply", "u", 4243);
        ASSERT_CALL_ERROR(reply, &error, MLOCKD_ERROR_NOT_MATCHED);
        reply = call(bus, &error, "Apply", "u", 77777);
        ASSERT_CALL_ERROR(reply, &error, MLOCKD_ERROR_NO_SUCH_PROCESS);
        ASSERT_EQ(sd_bus_error_get_errno(&error), ESRCH);       /* the map, for clients */
        reply = call(bus, &error, "Apply", "u", 0);
        ASSERT_CALL_ERROR(reply, &error, SD_BUS_ERROR_INVALID_ARGS);
        reply = call(bus, &error, "Apply", "u", UINT32_MAX);
        ASSERT_CALL_ERROR(reply, &error, SD_BUS_ERROR_INVALID_ARGS);
        reply = call(bus, &error, "Apply", "s", "4242");        /* wrong signature */
        ASSERT_CALL_ERROR(reply, &error, SD_BUS_ERROR_INVALID_ARGS);
        reply = call(bus, &error, "Apply", "uu", 4242, 1);
        ASSERT_CALL_ERROR(reply, &error, SD_BUS_ERROR_INVALID_ARGS);
        reply = call(bus, &error, "Frobnicate", NULL);
        ASSERT_CALL_ERROR(reply, &error, SD_BUS_ERROR_UNKNOWN_METHOD);

        /* Budget: BudgetExceeded(cgroup, unevictable, budget) */
        reply = call(bus, &error, "Apply", "u", 4244);
        ASSERT_CALL_ERROR(reply, &error, MLOCKD_ERROR_REFUSED);
        ASSERT_TRUE(strncmp(error.message, "skipped:budget: ", strlen("skipped:budget: ")) == 0);     /* STATE: sentence */
        wait_for(bus, &signals.budget_exceeded, 1);
        ASSERT_STREQ(signals.cgroup, "/system.slice/redis.service");
        ASSERT_EQ_U64(signals.unevictable, 20 << 20);
        ASSERT_EQ_U64(signals.budget, 1ULL << 30);

        /* Release: LockedBytes drops, PropertiesChanged says so */
        reply = call(bus, &error, "Release", "u", 4242);
        ASSERT_CALL_OK(reply, &error, "Release", "");
        reply = sd_bus_message_unref(reply);
        wait_for(bus, &signals.locked_bytes_changed, 1);
        ASSERT_EQ_U64(signals.locked_bytes, 4096);
        reply = call(bus, &error, "Release", "u", 5555);
        ASSERT_CALL_ERROR(reply, &error, MLOCKD_ERROR_NO_SUCH_PROCESS);
        /* a refused unlock is Refused for root, not AccessDenied */
        reply = call(bus, &error, "Release", "u", 4300);
        ASSERT_CALL_ERROR(reply, &error, MLOCKD_ERROR_REFUSED);
        ASSERT_TRUE(strncmp(error.message, "skipped:seccomp:kill_process: ", strlen("skipped:seccomp:kill_process: ")) == 0);

        /* a job that failed: Failed, with the state first */
        reply = call(bus, &error, "Apply", "u", 4245);
        ASSERT_CALL_ERROR(reply, &error, MLOCKD_ERROR_FAILED);
        ASSERT_TRUE(strncmp(error.message, "failed:injector: ", strlen("failed:injector: ")) == 0);

        /* Reload: fine once, then InvalidConfig listing every problem */
        reply = call(bus, &error, "Reload", NULL);
        ASSERT_CALL_OK(reply, &error, "Reload", "");
        reply = sd_bus_message_unref(reply);
        reply = call(bus, &error, "Reload", NULL);
        ASSERT_CALL_ERROR(reply, &error, MLOCKD_ERROR_INVALID_CONFIG);
        ASSERT_TRUE(strstr(error.message, "bad.conf:3: Unknown key 'Foo'"));
        ASSERT_TRUE(strstr(error.message, "bad.conf:7: Invalid size 'lots'"));

        /* A flood of bad calls: each gets its error, and the object still answers. */
        for (unsigned i = 0; i < 500; i++) {
                reply = call(bus, &error, i % 2 ? "Apply" : "GetTarget", "u", MLOCKD_PID_MAX + 1 + i);
                ASSERT_CALL_ERROR(reply, &error, SD_BUS_ERROR_INVALID_ARGS);
        }
        check_lists(bus);
}

/* uid 65534: reads everything, may change nothing. own_check: only mlockd's check can deny it
 * (the server trusts the connection, so sd-bus's own check is off). */
static void client_nobody(sd_bus *bus, bool own_check) {
        static const char *const members[] = { "Apply", "Release", "Reload" };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply;

        ASSERT_EQ(geteuid(), NOBODY);
        check_lists(bus);

        for (size_t i = 0; i < ELEMENTSOF(members); i++) {
                reply = streq(members[i], "Reload") ? call(bus, &error, members[i], NULL)
                                                    : call(bus, &error, members[i], "u", 4242);
                ASSERT_CALL_ERROR(reply, &error, SD_BUS_ERROR_ACCESS_DENIED);
                if (own_check)
                        ASSERT_TRUE(strstr(error.message, "is for root only"));
        }
}

typedef enum Client { CLIENT_ROOT, CLIENT_NOBODY, CLIENT_NOBODY_TRUSTED } Client;

static _noreturn_ void run_client(const char *address, Client which) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;

        if (which != CLIENT_ROOT) {
                ASSERT_TRUE(setgroups(0, NULL) == 0);
                ASSERT_TRUE(setresgid(NOBODY, NOBODY, NOBODY) == 0);
                ASSERT_TRUE(setresuid(NOBODY, NOBODY, NOBODY) == 0);
        }

        ASSERT_OK(sd_bus_error_add_map(mlockd_bus_error_map));
        ASSERT_OK(sd_bus_new(&bus));
        ASSERT_OK(sd_bus_set_address(bus, address));
        ASSERT_OK(sd_bus_start(bus));

        if (which == CLIENT_ROOT)
                client_root(bus);
        else
                client_nobody(bus, which == CLIENT_NOBODY_TRUSTED);

        bus = sd_bus_flush_close_unref(bus);
        exit(EXIT_SUCCESS);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        test_fail("client did not finish in time");
}

/* Serve the object to one forked client until it hangs up; fail if the client failed. */
static void serve(Client which) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_close_ int listen_fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char address[128], name[64];
        sd_id128_t id;
        socklen_t salen;
        int fd, status;
        pid_t pid;

        /* An abstract socket: any uid may connect, and the kernel records who did. */
        snprintf(name, sizeof name, "mlockd-test-bus-%d-%d", (int) getpid(), (int) which);
        memcpy(sa.sun_path + 1, name, strlen(name));
        salen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
        snprintf(address, sizeof address, "unix:abstract=%s", name);

        listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(listen_fd >= 0);
        ASSERT_TRUE(bind(listen_fd, (struct sockaddr *) &sa, salen) == 0);
        ASSERT_TRUE(listen(listen_fd, 1) == 0);

        fflush(NULL);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0)
                run_client(address, which);

        fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        ASSERT_TRUE(fd >= 0);

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 120 * USEC_PER_SEC, 0, on_timeout, NULL));
        ASSERT_OK(sd_bus_new(&bus));
        ASSERT_OK(sd_bus_set_fd(bus, fd, fd));
        ASSERT_OK(sd_id128_randomize(&id));
        ASSERT_OK(sd_bus_set_server(bus, true, id));
        /* Trusted: sd-bus skips its own privilege check, so only manager-bus.c's decides. */
        ASSERT_OK(sd_bus_set_trusted(bus, which != CLIENT_NOBODY));
        ASSERT_OK(manager_bus_add_object(&manager, bus));
        ASSERT_OK(sd_bus_start(bus));
        ASSERT_OK(sd_bus_attach_event(bus, e, SD_EVENT_PRIORITY_NORMAL));
        ASSERT_OK(sd_bus_set_exit_on_disconnect(bus, true));
        manager.bus = bus;
        manager.event = e;

        ASSERT_OK(sd_event_loop(e));

        manager.bus = NULL;
        manager.event = NULL;
        ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                test_fail("client %d failed (status %d)", (int) which, status);
}

static void test_root(void) {
        serve(CLIENT_ROOT);

        /* What the stubs saw: invalid pids never reached the manager. */
        ASSERT_EQ(calls.apply, 6);      /* 4242, 1, 4243, 77777, 4244, 4245 */
        ASSERT_EQ(calls.release, 3);      /* 4242, 5555, 4300 */
        ASSERT_EQ(calls.reload, 2);
        ASSERT_STREQ(target_a.state, "locked");
        ASSERT_TRUE(target_a.released);
}

static void test_nobody(void) {
        unsigned apply = calls.apply, release = calls.release, reload = calls.reload;

        if (geteuid() != 0) {
                fprintf(stderr, "not root: cannot become uid %d to test the access check, skipping that\n",
                        NOBODY);
                return;
        }

        serve(CLIENT_NOBODY);           /* sd-bus's check and ours */
        serve(CLIENT_NOBODY_TRUSTED);   /* ours alone */

        ASSERT_EQ(calls.apply, apply);
        ASSERT_EQ(calls.release, release);
        ASSERT_EQ(calls.reload, reload);
}

static void test_introspect(void) {
        _cleanup_free_ char *xml = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&xml, &size);

        ASSERT_NOT_NULL(f);
        ASSERT_OK(bus_introspect(f));
        ASSERT_EQ(fclose(f), 0);

        ASSERT_TRUE(strstr(xml, "<interface name=\"org.mlockd1.Manager\">"));
        ASSERT_TRUE(strstr(xml, "<method name=\"ListTargets\">\n   <arg type=\"a(usssts)\" name=\"targets\" direction=\"out\"/>"));
        ASSERT_TRUE(strstr(xml, "<method name=\"Apply\">\n   <arg type=\"u\" name=\"pid\" direction=\"in\"/>\n"
                                "   <arg type=\"s\" name=\"state\" direction=\"out\"/>"));
        ASSERT_TRUE(strstr(xml, "<signal name=\"BudgetExceeded\">"));
        ASSERT_TRUE(strstr(xml, "<property name=\"Version\" type=\"s\" access=\"read\">"));
}

/* --serve: the stubbed manager on the system bus ($DBUS_SYSTEM_BUS_ADDRESS), through
 * manager_bus_connect(), until SIGTERM; for tests/bus-stub.sh. */
static int serve_system_bus(void) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        ASSERT_TRUE(sigprocmask(SIG_BLOCK, &mask, NULL) == 0);
        if (getenv("STUB_NO_MEMORY_CONTROLLER")) /* a host without one: MemoryAccounting false */
                manager.have_cgroup_layout = false;

        ASSERT_OK(sd_event_default(&e));
        ASSERT_OK(sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL));
        ASSERT_OK(sd_event_add_signal(e, NULL, SIGINT, NULL, NULL));
        manager.event = e;
        if (manager_bus_connect(&manager) < 0)
                return EXIT_FAILURE;
        ASSERT_OK(sd_event_loop(e));
        manager.bus = sd_bus_flush_close_unref(manager.bus);
        return EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        if (argc > 1 && streq(argv[1], "--serve"))
                return serve_system_bus();

        test_introspect();
        if (geteuid() != 0) {
                fprintf(stderr, "Apply/Release/Reload are for root only: their paths cannot be tested as uid %u, skipping\n",
                        (unsigned) geteuid());
                return EXIT_TEST_SKIP;
        }
        test_root();
        test_nobody();
        return 0;
}
