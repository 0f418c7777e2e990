/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Stand-in for lib/policy.h while the policy module is not merged: only what daemon/manager.h
 * and daemon/manager-bus.c use, with the names and values of the agreed API. Found only through
 * the test's include path, after lib/, so the real header wins once it exists. */

#include <errno.h>
#include <stddef.h>

typedef enum LockMode {
        LOCK_MODE_NONE,
        LOCK_MODE_ONFAULT,
        LOCK_MODE_FULL,
        _LOCK_MODE_MAX,
        _LOCK_MODE_INVALID = -EINVAL,
} LockMode;

const char *lock_mode_to_string(LockMode m);

typedef struct Policy {
        char *name;
        char *path;
        unsigned index;
        LockMode mode;
} Policy;

typedef struct PolicySet {
        Policy **policies;
        size_t n_policies;
        char **problems;
} PolicySet;
