/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static int max_level = LOG_INFO;
static const char *log_prefix;
static bool show_priority = true;

void log_set_show_priority(bool b) {
        show_priority = b;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_prefix(const char *prefix) {
        log_prefix = prefix;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit",
                [LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
        };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(s, names[i]) == 0)
                        return (int) i;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        return -EINVAL;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...) {
        char buf[2048], pri[8] = "";
        va_list ap;
        int saved = errno;

        (void) func;

        /* "%m" means the error passed in, not whatever errno holds now */
        errno = error;
        va_start(ap, format);
        (void) vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        if (show_priority)
                snprintf(pri, sizeof pri, "<%d>", level & LOG_PRIMASK);
        if (max_level >= LOG_DEBUG)
                fprintf(stderr, "%s%s%s(%s:%d) %s\n", pri, log_prefix ?: "", log_prefix ? ": " : "", file, line,
                        buf);
        else
                fprintf(stderr, "%s%s%s%s\n", pri, log_prefix ?: "", log_prefix ? ": " : "", buf);
        errno = saved;
        return -error;
}
