/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "log.h"
#include "utf8.h"

/* Where libsystemd sends native journal entries (fixed in journal-send.c). */
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

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

/* "<N>" is for the journal reading our stderr; on a terminal it is noise. */
static bool prefix_priority(void) {
        static int tty = -1;

        if (tty < 0)
                tty = isatty(STDERR_FILENO) > 0;
        return show_priority && !tty;
}

bool log_journal_is_stderr(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        char tail;

        /* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connects to stdout/stderr */
        if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &tail) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

/* A message may carry a target's comm or paths: escaped (lib/utf8.h), one line, valid UTF-8. */
static void log_write_stderr(int level, const char *file, int line, const char *text) {
        _cleanup_free_ char *escaped = NULL;
        const char *msg = utf8_safe(text, &escaped);
        char pri[8] = "";

        if (prefix_priority())
                snprintf(pri, sizeof pri, "<%d>", level & LOG_PRIMASK);
        if (max_level >= LOG_DEBUG && file)
                fprintf(stderr, "%s%s%s(%s:%d) %s\n", pri, log_prefix ?: "", log_prefix ? ": " : "", file, line, msg);
        else
                fprintf(stderr, "%s%s%s%s\n", pri, log_prefix ?: "", log_prefix ? ": " : "", msg);
}

void log_target_result(int priority, const char *policy, pid_t pid, const char *comm, const char *state,
                       const char *reason, const char *format, ...) {
        char buf[2048];
        va_list ap;
        int saved = errno, r = -1;

        if ((priority & LOG_PRIMASK) > max_level)
                return;
        va_start(ap, format);
        (void) vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        /* Under systemd, the native protocol carries the fields (journalctl POLICY=redis); the
         * same line is then not written to stderr too. sd_journal_send() reports success when the
         * socket is missing (a stopped journald): look first, so the line is not lost. */
        if (log_journal_is_stderr() && access(LOG_JOURNAL_SOCKET, F_OK) >= 0) {
                _cleanup_free_ char *m = NULL; /* TARGET_COMM stays exact: the native protocol is binary-safe */

                r = sd_journal_send("MESSAGE=%s%s%s", log_prefix ?: "", log_prefix ? ": " : "", utf8_safe(buf, &m),
                                    "MESSAGE_ID=" LOG_MESSAGE_ID_TARGET_RESULT,
                                    "PRIORITY=%d", priority & LOG_PRIMASK,
                                    "SYSLOG_IDENTIFIER=%s", program_invocation_short_name,
                                    "POLICY=%s", policy ?: "",
                                    "TARGET_PID=%d", (int) pid,
                                    "TARGET_COMM=%s", comm ?: "",
                                    "STATE=%s", state ?: "",
                                    "REASON=%s", reason ?: "",
                                    NULL);
        }
        if (r < 0)
                log_write_stderr(priority, NULL, 0, buf);
        errno = saved;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...) {
        char buf[2048];
        va_list ap;
        int saved = errno;

        (void) func;

        /* "%m" means the error passed in, not whatever errno holds now */
        errno = error;
        va_start(ap, format);
        (void) vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        log_write_stderr(level, file, line, buf);
        errno = saved;
        return -error;
}
