/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The systemd unit a cgroup path belongs to, as systemd's cg_path_get_unit() says: skip the
 * leading slices, take the next component, drop cgroupfs escaping (one leading '_'), and accept it
 * only if it is a valid plain or instance unit name that is not a slice:
 *   "/system.slice/redis.service"                  -> "redis.service"
 *   "/user.slice/user-1000.slice/session-2.scope"  -> "session-2.scope"
 *   "/system.slice/foo.service/sub"                -> "foo.service"
 *   "/", "/system.slice", "/docker/0123abcd"        -> -ENXIO
 * No systemd needed: the rules are applied to the text (the v1 name=systemd or the unified path). */

#include <stdbool.h>

/* -ENXIO when the path names no unit, -EINVAL for NULL. */
int unit_from_cgroup_path(const char *path, char **ret);

/* A valid plain ("foo.service") or instance ("getty@tty1.service") unit name: at most 255
 * characters, a known type suffix, a non-empty prefix of [A-Za-z0-9:_.\\-] (and '@' after the first
 * '@'), no template ("foo@.service"). */
bool unit_name_is_valid(const char *name);
