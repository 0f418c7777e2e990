/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The names of mlockd's bus API (org.mlockd1(5)), shared by the daemon and mlockctl, and the
 * daemon's side of it: the vtable of org.mlockd1.Manager on /org/mlockd1 and its handlers
 * (manager-bus.c), which read the manager's state and call the manager_* actions. The handlers
 * check the caller (Apply, Release, Reload: euid 0) and turn the manager's errnos into the named
 * errors below. */

#include <stdio.h>
#include <systemd/sd-bus.h>

#include "macro.h"

#define MLOCKD_BUS_NAME "org.mlockd1"
#define MLOCKD_BUS_PATH "/org/mlockd1"
#define MLOCKD_BUS_INTERFACE "org.mlockd1.Manager"

#define MLOCKD_ERROR_NO_SUCH_PROCESS "org.mlockd1.Error.NoSuchProcess"   /* -ESRCH */
#define MLOCKD_ERROR_NOT_MATCHED "org.mlockd1.Error.NotMatched"          /* -ENOENT */
#define MLOCKD_ERROR_REFUSED "org.mlockd1.Error.Refused"                 /* -EPERM */
#define MLOCKD_ERROR_FAILED "org.mlockd1.Error.Failed"                   /* Apply ended failed:REASON */
#define MLOCKD_ERROR_INVALID_CONFIG "org.mlockd1.Error.InvalidConfig"    /* -EBADMSG */

/* PID_MAX_LIMIT on 64-bit kernels: no pid is ever larger. */
#define MLOCKD_PID_MAX 4194304U

/* For sd_bus_error_add_map(), so sd_bus_error_get_errno() knows the names above. */
static const sd_bus_error_map mlockd_bus_error_map[] _unused_ = {
        SD_BUS_ERROR_MAP(MLOCKD_ERROR_NO_SUCH_PROCESS, ESRCH),
        SD_BUS_ERROR_MAP(MLOCKD_ERROR_NOT_MATCHED, ENOENT),
        SD_BUS_ERROR_MAP(MLOCKD_ERROR_REFUSED, EPERM),
        SD_BUS_ERROR_MAP(MLOCKD_ERROR_INVALID_CONFIG, EBADMSG),
        SD_BUS_ERROR_MAP_END,
};

typedef struct Manager Manager;

/* The object vector of org.mlockd1.Manager; userdata is the Manager. */
extern const sd_bus_vtable manager_vtable[];

/* Add the object to an existing connection (manager_bus_connect() does this; tests use it on a
 * direct connection). */
int manager_bus_add_object(Manager *m, sd_bus *bus);

/* Write the introspection XML of /org/mlockd1 to f, without any bus: the object is served on a
 * private socketpair and asked for its own Introspect. */
int bus_introspect(FILE *f);

/* Declared in manager.h as well: manager_bus_connect(), bus_emit_target_changed(),
 * bus_emit_budget_exceeded(), bus_emit_locked_bytes_changed(). */
