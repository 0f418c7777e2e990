/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "units.h"

#define UNIT_NAME_MAX 256
#define UNIT_NAME_VALID_CHARS                                   \
        "0123456789"                                            \
        "abcdefghijklmnopqrstuvwxyz"                            \
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"                            \
        ":-_.\\"

static const char *const unit_types[] = {
        "service", "mount", "swap", "socket", "target", "device",
        "automount", "timer", "path", "slice", "scope",
};

static bool unit_type_is_valid(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(unit_types); i++)
                if (streq(s, unit_types[i]))
                        return true;
        return false;
}

/* systemd's unit_name_is_valid(n, UNIT_NAME_PLAIN|UNIT_NAME_INSTANCE) */
bool unit_name_is_valid(const char *name) {
        const char *dot, *at = NULL;

        if (isempty(name) || strlen(name) >= UNIT_NAME_MAX)
                return false;

        dot = strrchr(name, '.');
        if (!dot || dot == name || !unit_type_is_valid(dot + 1))
                return false;

        for (const char *i = name; i < dot; i++) {
                if (*i == '@' && !at)
                        at = i;
                if (*i == '\0' || !strchr(UNIT_NAME_VALID_CHARS "@", *i))
                        return false;
        }
        if (at == name)
                return false;

        return !at || dot > at + 1;
}

static bool endswith_n(const char *s, size_t n, const char *suffix) {
        size_t l = strlen(suffix);

        return n >= l && memcmp(s + n - l, suffix, l) == 0;
}

/* The unescaped component [p, p+n) as a new string: cgroupfs names that could clash with kernel
 * files get a leading '_' from systemd (cg_escape()); cg_unescape() drops it. */
static char *component_unescape(const char *p, size_t n) {
        if (n > 0 && p[0] == '_') {
                p++;
                n--;
        }
        return strndup(p, n);
}

static bool component_is_slice(const char *p, size_t n) {
        _cleanup_free_ char *c = NULL;

        if (n < strlen("x.slice") || !endswith_n(p, n, ".slice"))
                return false;
        c = component_unescape(p, n);
        return c && unit_name_is_valid(c) && !strchr(c, '@');
}

int unit_from_cgroup_path(const char *path, char **ret) {
        _cleanup_free_ char *unit = NULL;
        const char *p = path;
        size_t n;

        if (!path || !ret)
                return -EINVAL;

        /* skip the slices */
        for (;;) {
                p += strspn(p, "/");
                n = strcspn(p, "/");
                if (!component_is_slice(p, n))
                        break;
                p += n;
        }

        if (n < 3)
                return -ENXIO;
        unit = component_unescape(p, n);
        if (!unit)
                return -ENOMEM;
        if (!unit_name_is_valid(unit) || endswith_n(unit, strlen(unit), ".slice"))
                return -ENXIO;

        *ret = TAKE_PTR(unit);
        return 0;
}
