/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Strings that come from targets (comm, exe paths, cgroup paths) are data: a process may name
 * itself anything (prctl(PR_SET_NAME) takes any 15 bytes), and sd-bus refuses a message with a
 * string that is not valid UTF-8. Such strings are escaped before they reach the bus, metrics or
 * logs, in the manner of systemd's cescape(): every byte that is not part of a valid UTF-8
 * sequence, and every control character (C0, DEL), becomes "\xNN". Valid printable text, including
 * a backslash (systemd's "\x2d" in unit and cgroup names), is left as it is, so a name that needed
 * no escaping reads the same everywhere. The check is the one sd-bus applies: no overlong forms,
 * no surrogates, nothing above U+10FFFF, no noncharacters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF). */

#include <stdbool.h>
#include <stddef.h>

/* Whether s needs no escaping (NULL: true). */
bool utf8_is_printable(const char *s);
/* An escaped copy of s (NULL: ""), in *ret; -ENOMEM. */
int utf8_escape_invalid(const char *s, char **ret);
/* s itself when it needs no escaping, else an escaped copy kept in *buf (freed by the caller; may
 * point to NULL). Never NULL: "" for NULL, and "?" when memory runs out. */
const char *utf8_safe(const char *s, char **buf);
