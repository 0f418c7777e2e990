/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Leveled logging to stderr with sd-daemon "<N>" priority prefixes, so the journal keeps the level
 * (none when stderr is a terminal).
 * The engine (lib/) logs at debug only; the daemon logs once, where it gives up:
 *         return log_error_errno(r, "Failed to read %s: %m", path);
 * "%m" expands to strerror of the error passed, not of the current errno. */

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>
#include <syslog.h>

#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s);
/* Whether lines start with "<N>" (the journal's level prefix); on by default, off for a CLI. */
void log_set_show_priority(bool b);
/* Prefix every line with a name, e.g. "injector"; NULL for none. */
void log_set_prefix(const char *prefix);

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

/* Evaluates to -|error| (0 when error is 0), whether or not the message is shown. */
#define log_full_errno(level, error, ...)                                                       \
        ({                                                                                      \
                int _level_ = (level), _e_ = (error);                                           \
                _e_ = _e_ < 0 ? -_e_ : _e_;                                                     \
                _level_ <= log_get_max_level()                                                  \
                        ? log_internal(_level_, _e_, __FILE__, __LINE__, __func__, __VA_ARGS__) \
                        : -_e_;                                                                 \
        })
#define log_full(level, ...) ((void) log_full_errno(level, 0, __VA_ARGS__))

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

/* The MESSAGE_ID of a target's lock result: journalctl MESSAGE_ID=d01405b1f5ed486a9714bc9fcaff876d */
#define LOG_MESSAGE_ID_TARGET_RESULT "d01405b1f5ed486a9714bc9fcaff876d"

/* A target's final state, with journal fields POLICY=, TARGET_PID=, TARGET_COMM=, STATE=,
 * REASON= and MESSAGE_ID=, sent with sd_journal_send() when stderr is the journal's stream
 * (JOURNAL_STREAM, as systemd sets it), else a plain stderr line like any other. state is the
 * word before the colon ("partial"), reason what follows ("rlimit"; NULL or "" for none). */
void log_target_result(int priority, const char *policy, pid_t pid, const char *comm, const char *state,
                       const char *reason, const char *format, ...) _printf_(7, 8);
/* Is stderr connected to the journal (JOURNAL_STREAM names its device and inode)? */
bool log_journal_is_stderr(void);

/* For out-of-memory, the one error that gets no context. */
#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
