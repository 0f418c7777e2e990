/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for mlockd on a (private) system bus, to test the bus policy file alone: it asks for
 * org.mlockd1 and serves /org/mlockd1 with the members of org.mlockd1.Manager, all marked
 * unprivileged, so whatever a caller is refused was refused by the bus policy.
 *
 * Exit: 0 after SIGTERM, 3 when the bus denied the name (AccessDenied), 1 on other errors.
 * Prints "ready" on stdout once it owns the name. With --own-only it exits 0 right then. */

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

static char *log_level;

/* an empty array of the element type the member returns */
static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *member = sd_bus_message_get_member(m);
        const char *sig = strcmp(member, "ListPolicies") == 0 ? "(sssut)" :
                          strcmp(member, "ListTargets") == 0 ? "(usssts)" : "(stttt)";
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', sig);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

static int method_state(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint32_t pid;
        int r;

        r = sd_bus_message_read(m, "u", &pid);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "s", "locked");
}

static int method_void(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, NULL);
}

static int property_version_get(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", "bus-dummy");
}

static int property_log_level_get(sd_bus *bus, const char *path, const char *interface,
                                  const char *property, sd_bus_message *reply, void *userdata,
                                  sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", log_level ?: "info");
}

static int property_log_level_set(sd_bus *bus, const char *path, const char *interface,
                                  const char *property, sd_bus_message *value, void *userdata,
                                  sd_bus_error *error) {
        const char *s;
        char *copy;
        int r;

        r = sd_bus_message_read(value, "s", &s);
        if (r < 0)
                return r;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        free(log_level);
        log_level = copy;
        return 0;
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_version_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_WRITABLE_PROPERTY("LogLevel", "s", property_log_level_get, property_log_level_set, 0,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListPolicies", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sssut)", policies),
                                method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListTargets", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(usssts)", targets),
                                method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListCgroups", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(stttt)", cgroups),
                                method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetTarget", SD_BUS_ARGS("u", pid), SD_BUS_RESULT("s", state),
                                method_state, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Apply", SD_BUS_ARGS("u", pid), SD_BUS_RESULT("s", state),
                                method_state, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Release", SD_BUS_ARGS("u", pid), SD_BUS_NO_RESULT,
                                method_void, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_void, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int main(int argc, char *argv[]) {
        sd_bus *bus = NULL;
        sd_event *event = NULL;
        sigset_t mask;
        int r, ret = EXIT_FAILURE;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return EXIT_FAILURE;

        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_event_set_signal_exit(event, true);
        if (r >= 0)
                r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "bus-dummy: cannot connect to the system bus: %s\n", strerror(-r));
                goto finish;
        }

        r = sd_bus_request_name(bus, "org.mlockd1", 0);
        if (r < 0) {
                fprintf(stderr, "bus-dummy: cannot own org.mlockd1: %s\n", strerror(-r));
                ret = r == -EACCES || r == -EPERM ? 3 : EXIT_FAILURE;
                goto finish;
        }

        if (argc > 1 && strcmp(argv[1], "--own-only") == 0) {
                printf("owned\n");
                ret = EXIT_SUCCESS;
                goto finish;
        }

        r = sd_bus_add_object_vtable(bus, NULL, "/org/mlockd1", "org.mlockd1.Manager",
                                     manager_vtable, NULL);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                fprintf(stderr, "bus-dummy: cannot serve /org/mlockd1: %s\n", strerror(-r));
                goto finish;
        }

        printf("ready\n");
        fflush(stdout);

        r = sd_event_loop(event);
        ret = r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
finish:
        sd_bus_flush_close_unref(bus);
        sd_event_unref(event);
        free(log_level);
        return ret;
}
