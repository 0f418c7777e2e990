/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "policy.h"
#include "strv.h"

static inline char *mfree_str(char *p) {
        free(p);
        return NULL;
}

static inline void *mfree_ptr(void *p) {
        free(p);
        return NULL;
}

static const char *const lock_mode_table[_LOCK_MODE_MAX] = {
        [LOCK_MODE_NONE] = "none",
        [LOCK_MODE_ONFAULT] = "onfault",
        [LOCK_MODE_FULL] = "full",
};

const char *lock_mode_to_string(LockMode m) {
        if (m < 0 || m >= _LOCK_MODE_MAX)
                return NULL;
        return lock_mode_table[m];
}

LockMode lock_mode_from_string(const char *s) {
        if (!s)
                return _LOCK_MODE_INVALID;
        for (int i = 0; i < _LOCK_MODE_MAX; i++)
                if (streq(s, lock_mode_table[i]))
                        return (LockMode) i;
        return _LOCK_MODE_INVALID;
}

/* ---- parse state, problems -------------------------------------------------------------------- */

typedef enum SectionState {
        SECTION_NONE,  /* before any [Section] line */
        SECTION_KNOWN, /* a section this file type has */
        SECTION_BAD,   /* unknown or malformed; already reported, its keys are skipped silently */
} SectionState;

typedef struct ParseState ParseState;

/* A typed parser: 0 on success; on a bad value it adds a problem and returns -EINVAL; -ENOMEM. */
typedef int (*ConfigParser)(ParseState *s, const char *key, const char *value, void *data);

typedef struct ConfigItem {
        const char *section;
        const char *key;
        ConfigParser parse;
        size_t offset;
} ConfigItem;

struct ParseState {
        const char *path;
        const char *data;
        size_t size, pos;
        unsigned line;

        const ConfigItem *items; /* terminated by a row with section NULL */
        const char *const *sections;
        SectionState section_state;
        unsigned match_line; /* line of the [Match] header, 0 when none */
        bool match_key_seen; /* any [Match] key, valid or not */
        bool junk;           /* binary junk: not parsed at all */

        void *target;
        char ***problems;
        unsigned n_problems;
        char ***warnings;        /* NULL: warnings are dropped */
        unsigned item_lines[32]; /* line each single-valued key was last set on, 0: not yet */
        int error; /* -ENOMEM, remembered across inih's callbacks */
};

_printf_(3, 4) static void problem_at(ParseState *s, unsigned line, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        char *p = NULL;
        va_list ap;
        int r;

        s->n_problems++;
        if (s->error < 0)
                return;
        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0) {
                s->error = -ENOMEM;
                return;
        }
        if (asprintf(&p, "%s:%u: %s", s->path, line, msg) < 0) {
                s->error = -ENOMEM;
                return;
        }
        log_debug("%s", p);
        if (strv_consume(s->problems, p) < 0)
                s->error = -ENOMEM;
}
#define problem(s, ...) problem_at((s), (s)->line, __VA_ARGS__)

/* A warning does not make the file invalid: "FILE:LINE: warning: message". */
_printf_(3, 4) static void warning_at(ParseState *s, unsigned line, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        char *p = NULL;
        va_list ap;
        int r;

        if (!s->warnings || s->error < 0)
                return;
        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0 || asprintf(&p, "%s:%u: warning: %s", s->path, line, msg) < 0) {
                s->error = -ENOMEM;
                return;
        }
        log_debug("%s", p);
        if (strv_consume(s->warnings, p) < 0)
                s->error = -ENOMEM;
}

/* "Mode=full # comment": inih keeps the '#' part in the value; say why the value looks odd. */
static const char *comment_hint(const char *value) {
        for (const char *p = value; *p; p++)
                if (*p == '#' && p > value && isspace((unsigned char) p[-1]))
                        return " ('#' starts a comment only at the beginning of a line)";
        return "";
}

/* ---- value checks ------------------------------------------------------------------------------- */

static bool char_class_valid(const char *name, size_t len) {
        static const char *const classes[] = {
                "alnum", "alpha", "blank", "cntrl", "digit", "graph",
                "lower", "print", "punct", "space", "upper", "xdigit",
        };
        for (size_t i = 0; i < ELEMENTSOF(classes); i++)
                if (strlen(classes[i]) == len && strncmp(classes[i], name, len) == 0)
                        return true;
        return false;
}

/* glibc's fnmatch() treats an unterminated '[' as a literal and an unknown [:class:] as "no match",
 * so a broken pattern would silently never match: check the syntax here, then make a test match
 * for anything fnmatch itself refuses. Returns NULL when usable, else why not. */
static const char *glob_invalid_reason(const char *pattern) {
        const char *p = pattern;
        int r;

        if (isempty(pattern))
                return "empty pattern";
        while (*p) {
                if (*p == '\\') {
                        if (!p[1])
                                return "trailing '\\'";
                        p += 2;
                        continue;
                }
                if (*p != '[') {
                        p++;
                        continue;
                }
                p++;
                if (*p == '!' || *p == '^')
                        p++;
                if (*p == ']')
                        p++;
                for (;;) {
                        if (!*p)
                                return "unterminated '['";
                        if (*p == ']')
                                break;
                        if (*p == '\\') {
                                if (!p[1])
                                        return "unterminated '['";
                                p += 2;
                                continue;
                        }
                        if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
                                char kind = p[1];
                                const char *name = p + 2, *end = name;

                                while (*end && !(end[0] == kind && end[1] == ']'))
                                        end++;
                                if (!*end)
                                        return "unterminated '[:', '[.' or '[=' in a bracket expression";
                                if (kind == ':' && !char_class_valid(name, (size_t) (end - name)))
                                        return "unknown character class";
                                p = end + 2;
                                continue;
                        }
                        p++;
                }
                p++;
        }

        r = fnmatch(pattern, "/usr/bin/x", 0);
        if (r != 0 && r != FNM_NOMATCH)
                return "not a valid fnmatch(3) pattern";
        return NULL;
}

static bool glob_has_wildcards(const char *pattern) {
        return strpbrk(pattern, "*?[\\") != NULL;
}

static int check_glob(ParseState *s, const char *key, const char *value) {
        const char *reason = glob_invalid_reason(value);

        if (reason) {
                problem(s, "Invalid glob in %s=: %s in '%s'%s", key, reason, value, comment_hint(value));
                return -EINVAL;
        }
        /* valid, but almost certainly a comment that became part of the pattern */
        if (*comment_hint(value)) {
                problem(s, "Invalid glob in %s=: '%s' has ' #' in it: '#' starts a comment only at the "
                        "beginning of a line (write '[#]' for a literal '#')", key, value);
                return -EINVAL;
        }
        return 0;
}

/* A user name as useradd(8) and systemd would take it (not checked against the user database). */
static bool user_name_plausible(const char *u) {
        size_t n = strlen(u);

        if (n == 0 || n > 255)
                return false;
        if (!(isalpha((unsigned char) u[0]) || u[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++) {
                char c = u[i];

                if (c == '$' && i == n - 1)
                        break;
                if (!(isalnum((unsigned char) c) || c == '_' || c == '-' || c == '.'))
                        return false;
        }
        return true;
}

static const char *const unit_suffixes[] = {
        ".service", ".scope", ".slice", ".socket", ".mount", ".swap",
        ".target", ".timer", ".path", ".device", ".automount",
};

static bool unit_has_suffix(const char *u) {
        size_t n = strlen(u);

        for (size_t i = 0; i < ELEMENTSOF(unit_suffixes); i++) {
                size_t l = strlen(unit_suffixes[i]);
                if (n > l && streq(u + n - l, unit_suffixes[i]))
                        return true;
        }
        return false;
}

static bool policy_name_valid(const char *name) {
        if (isempty(name) || strlen(name) > 128)
                return false;
        for (const char *p = name; *p; p++)
                if (!(isalnum((unsigned char) *p) || strchr("_.@:+-", *p)))
                        return false;
        return true;
}

/* ---- typed parsers --------------------------------------------------------------------------- */

/* The problem for a size or duration that did not parse (r from parse_size()/parse_duration()). */
static int number_problem(ParseState *s, const char *key, const char *value, int r, const char *what,
                          const char *expected) {
        if (value[0] == '-')
                problem(s, "Invalid %s= value '%s': a %s cannot be negative", key, value, what);
        else if (r == -ERANGE)
                problem(s, "Invalid %s= value '%s': out of range", key, value);
        else
                problem(s, "Invalid %s= value '%s': expected %s%s", key, value, expected, comment_hint(value));
        return r < 0 ? r : -EINVAL;
}

static int config_parse_size(ParseState *s, const char *key, const char *value, void *data) {
        uint64_t v;
        int r;

        r = value[0] == '-' ? -EINVAL : parse_size(value, &v);
        if (r < 0)
                return number_problem(s, key, value, r, "size",
                                      "a size in bytes with an optional K, M, G or T suffix");
        *(uint64_t *) data = v;
        return 0;
}

/* A duration of at least min (0: any). */
static int parse_duration_at_least(ParseState *s, const char *key, const char *value, usec_t min, usec_t *ret) {
        usec_t v;
        int r;

        /* "MaxPause=5" would be 5s, a thousand times the default: a bare number other than 0 is
         * refused rather than guessed at. */
        if (value[strspn(value, "0123456789.")] == '\0' && strspn(value, "0.") != strlen(value)) {
                problem(s, "Invalid %s= value '%s': a duration needs a unit; write %sus, %sms or %ss", key,
                        value, value, value, value);
                return -EINVAL;
        }
        r = value[0] == '-' ? -EINVAL : parse_duration(value, &v);
        if (r < 0)
                return number_problem(s, key, value, r, "duration", "a duration like 250us, 5ms or 2s");
        if (v < min) {
                if (min == 1)
                        problem(s, "Invalid %s= value '%s': must be greater than 0", key, value);
                else
                        problem(s, "Invalid %s= value '%s': below the minimum of %" PRIu64 "us", key, value,
                                min);
                return -ERANGE;
        }
        *ret = v;
        return 0;
}

static int config_parse_duration(ParseState *s, const char *key, const char *value, void *data) {
        return parse_duration_at_least(s, key, value, 0, data);
}

static int config_parse_duration_positive(ParseState *s, const char *key, const char *value, void *data) {
        return parse_duration_at_least(s, key, value, 1, data);
}

static int config_parse_max_pause(ParseState *s, const char *key, const char *value, void *data) {
        usec_t *v = data;
        int r;

        r = parse_duration_at_least(s, key, value, POLICY_MIN_MAX_PAUSE, v);
        if (r < 0)
                return r;
        if (*v > POLICY_MAX_MAX_PAUSE) {
                char most[FORMAT_TIMESPAN_MAX];

                format_timespan(most, sizeof most, POLICY_MAX_MAX_PAUSE);
                warning_at(s, s->line, "%s=%s is above the most a step may hold a target, %s: %s is used", key,
                           value, most, most);
                *v = POLICY_MAX_MAX_PAUSE;
        }
        return 0;
}

static int config_parse_count(ParseState *s, const char *key, const char *value, void *data) {
        unsigned v;
        int r;

        r = value[0] == '-' ? -EINVAL : parse_uint(value, &v);
        if (r < 0)
                return number_problem(s, key, value, r, "count", "a whole number");
        *(unsigned *) data = v;
        return 0;
}

/* Injectors=: "auto" (0 here: the manager picks) or 1..POLICY_MAX_INJECTORS. */
static int config_parse_injectors(ParseState *s, const char *key, const char *value, void *data) {
        unsigned v;
        int r;

        if (streq(value, "auto")) {
                *(unsigned *) data = 0;
                return 0;
        }
        r = value[0] == '-' ? -EINVAL : parse_uint(value, &v);
        if (r >= 0 && (v < 1 || v > POLICY_MAX_INJECTORS))
                r = -ERANGE;
        if (r == -ERANGE) {
                problem(s, "Invalid %s= value '%s': expected auto or 1 to %u", key, value,
                        POLICY_MAX_INJECTORS);
                return r;
        }
        if (r < 0)
                return number_problem(s, key, value, r, "count", "auto or a whole number");
        *(unsigned *) data = v;
        return 0;
}

static int config_parse_bool(ParseState *s, const char *key, const char *value, void *data) {
        int r = parse_boolean(value);

        if (r < 0) {
                problem(s, "Invalid %s= value '%s': expected yes or no%s", key, value, comment_hint(value));
                return r;
        }
        *(bool *) data = r;
        return 0;
}

static int config_parse_mode(ParseState *s, const char *key, const char *value, void *data) {
        LockMode m = lock_mode_from_string(value);

        if (m < 0) {
                problem(s, "Invalid %s= value '%s': expected onfault, full or none%s", key, value,
                        comment_hint(value));
                return m;
        }
        *(LockMode *) data = m;
        return 0;
}

/* Regions= words other than file:GLOB, in the order --dump-config writes them */
static const struct {
        const char *name;
        unsigned flag;
} region_kinds[] = {
        { "all", REGION_ALL },   { "text", REGION_TEXT }, { "data", REGION_DATA },
        { "anon", REGION_ANON }, { "heap", REGION_HEAP }, { "stack", REGION_STACK },
};

static int config_parse_regions(ParseState *s, const char *key, const char *value, void *data) {
        _cleanup_strv_free_ char **words = NULL, **files = NULL;
        Policy *p = s->target;
        unsigned mask = 0;
        bool bad = false;
        int r;

        r = strv_split(value, " \t", &words);
        if (r < 0)
                return r;
        if (!words[0]) {
                problem(s, "Empty %s=: expected all, text, data, anon, heap, stack or file:GLOB", key);
                return -EINVAL;
        }
        STRV_FOREACH(w, words) {
                bool found = false;

                for (size_t i = 0; i < ELEMENTSOF(region_kinds); i++)
                        if (streq(*w, region_kinds[i].name)) {
                                mask |= region_kinds[i].flag;
                                found = true;
                        }
                if (found)
                        continue;
                if (strncmp(*w, "file:", 5) == 0) {
                        if (check_glob(s, key, *w + 5) < 0) {
                                bad = true;
                                continue;
                        }
                        mask |= REGION_FILE;
                        if (!strv_contains(files, *w + 5) && !strv_contains(p->region_files, *w + 5)) {
                                r = strv_extend(&files, *w + 5);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                problem(s, "Invalid %s= entry '%s': expected all, text, data, anon, heap, stack or file:GLOB%s",
                        key, *w, (*w)[0] == '#' ? " ('#' starts a comment only at the beginning of a line)" : "");
                bad = true;
                if ((*w)[0] == '#') /* the rest is the would-be comment: one message is enough */
                        break;
        }
        if (bad)
                return -EINVAL;

        /* A Regions= line adds to the ones before it; the built-in default "all" is replaced. */
        if (!*(bool *) data)
                p->regions = 0;
        *(bool *) data = true;
        p->regions |= mask;
        STRV_FOREACH(f, files) {
                r = strv_extend(&p->region_files, *f);
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef enum MatchKind {
        MATCH_EXECUTABLE,
        MATCH_NAME,
        MATCH_CGROUP,
        MATCH_UNIT,
        MATCH_USER,
} MatchKind;

static int match_check(ParseState *s, MatchKind kind, const char *key, const char *value) {
        unsigned uid;
        int r;

        switch (kind) {
        case MATCH_EXECUTABLE:
        case MATCH_CGROUP:
                if (value[0] != '/') {
                        problem(s, "Invalid %s= value '%s': %s", key, value,
                                kind == MATCH_EXECUTABLE ? "must be a glob of an absolute path"
                                                         : "a cgroup path must start with '/'");
                        return -EINVAL;
                }
                return check_glob(s, key, value);
        case MATCH_NAME:
                r = check_glob(s, key, value);
                if (r < 0)
                        return r;
                if (!glob_has_wildcards(value) && strlen(value) > 15) {
                        problem(s, "Invalid %s= value '%s': the kernel keeps at most 15 characters of a "
                                "process name, so this can never match", key, value);
                        return -EINVAL;
                }
                return 0;
        case MATCH_UNIT:
                r = check_glob(s, key, value);
                if (r < 0)
                        return r;
                if (!unit_has_suffix(value)) {
                        problem(s, "Invalid %s= value '%s': a unit name needs a unit type suffix such as "
                                ".service, .scope or .slice%s", key, value, comment_hint(value));
                        return -EINVAL;
                }
                return 0;
        case MATCH_USER:
                if (isdigit((unsigned char) value[0])) {
                        r = parse_uint(value, &uid);
                        if (r < 0 || uid == (unsigned) (uid_t) -1 || (unsigned) (uid_t) uid != uid) {
                                problem(s, "Invalid %s= value '%s': not a valid numeric user ID", key, value);
                                return -EINVAL;
                        }
                        return 0;
                }
                if (!user_name_plausible(value)) {
                        problem(s, "Invalid %s= value '%s': not a valid user name or numeric user ID%s", key,
                                value, comment_hint(value));
                        return -EINVAL;
                }
                return 0;
        }
        return -EINVAL;
}

/* Add value to the list at data, once; lines (NULL: not kept) gets the line, index for index. */
static int match_add(ParseState *s, MatchKind kind, const char *key, const char *value, void *data,
                     unsigned **lines) {
        char ***l = data;
        size_t n = strv_length(*l);
        int r = match_check(s, kind, key, value);

        if (r < 0)
                return r;
        if (strv_contains(*l, value))
                return 0;
        if (lines) {
                unsigned *a = reallocarray(*lines, n + 1, sizeof(unsigned));
                if (!a)
                        return -ENOMEM;
                *lines = a;
                a[n] = s->line;
        }
        return strv_extend(l, value);
}

#define DEFINE_MATCH_PARSER(func, kind, lines)                                                   \
        static int func(ParseState *s, const char *key, const char *value, void *data) {           \
                Policy *_p_ _unused_ = s->target;                                                \
                return match_add(s, kind, key, value, data, lines);                              \
        }
DEFINE_MATCH_PARSER(config_parse_match_executable, MATCH_EXECUTABLE, &_p_->match_executable_lines)
DEFINE_MATCH_PARSER(config_parse_match_name, MATCH_NAME, &_p_->match_name_lines)
DEFINE_MATCH_PARSER(config_parse_match_cgroup, MATCH_CGROUP, NULL)
DEFINE_MATCH_PARSER(config_parse_match_unit, MATCH_UNIT, NULL)
DEFINE_MATCH_PARSER(config_parse_match_user, MATCH_USER, NULL)

static int config_parse_budget(ParseState *s, const char *key, const char *value, void *data) {
        int r = config_parse_size(s, key, value, data);

        if (r >= 0)
                ((Policy *) s->target)->cgroup_max_unevictable_line = s->line;
        return r;
}

static int replace_string(char **p, const char *value) {
        char *c = strdup(value);

        if (!c)
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

static int config_parse_absolute_path(ParseState *s, const char *key, const char *value, void *data) {
        if (value[0] != '/') {
                problem(s, "Invalid %s= value '%s': must be an absolute path (or empty for none)", key, value);
                return -EINVAL;
        }
        return replace_string(data, value);
}

static int config_parse_log_level(ParseState *s, const char *key, const char *value, void *data) {
        if (log_level_from_string(value) < 0) {
                problem(s, "Invalid %s= value '%s': expected err, warning, notice, info or debug%s", key,
                        value, comment_hint(value));
                return -EINVAL;
        }
        return replace_string(data, value);
}

/* Policy keys write into Policy; a hidden "Regions= seen" flag lives in the parse target wrapper. */
typedef struct PolicyTarget {
        Policy policy; /* first: ParseState.target points at both */
        bool regions_seen;
} PolicyTarget;

static const char *const policy_sections[] = { "Match", "Lock", "Limits", NULL };
static const ConfigItem policy_items[] = {
        { "Match", "Executable", config_parse_match_executable, offsetof(Policy, match_executable) },
        { "Match", "Name", config_parse_match_name, offsetof(Policy, match_name) },
        { "Match", "Cgroup", config_parse_match_cgroup, offsetof(Policy, match_cgroup) },
        { "Match", "Unit", config_parse_match_unit, offsetof(Policy, match_unit) },
        { "Match", "User", config_parse_match_user, offsetof(Policy, match_user) },
        { "Lock", "Mode", config_parse_mode, offsetof(Policy, mode) },
        { "Lock", "Regions", config_parse_regions, offsetof(PolicyTarget, regions_seen) },
        { "Lock", "Future", config_parse_bool, offsetof(Policy, future) },
        { "Lock", "Prefetch", config_parse_bool, offsetof(Policy, prefetch) },
        { "Lock", "LockNetworkFiles", config_parse_bool, offsetof(Policy, lock_network_files) },
        { "Lock", "MaxPause", config_parse_max_pause, offsetof(Policy, max_pause) },
        { "Lock", "Relock", config_parse_bool, offsetof(Policy, relock) },
        { "Limits", "MaxLocked", config_parse_size, offsetof(Policy, max_locked) },
        { "Limits", "CgroupMaxUnevictable", config_parse_budget, offsetof(Policy, cgroup_max_unevictable) },
        { "Limits", "RaiseMemlockLimit", config_parse_bool, offsetof(Policy, raise_memlock_limit) },
        {},
};

static const char *const daemon_sections[] = { "Daemon", NULL };
static const ConfigItem daemon_items[] = {
        { "Daemon", "ScanInterval", config_parse_duration, offsetof(DaemonConfig, scan_interval) },
        { "Daemon", "AccountingInterval", config_parse_duration_positive,
          offsetof(DaemonConfig, accounting_interval) },
        { "Daemon", "DefaultMaxPause", config_parse_max_pause, offsetof(DaemonConfig, default_max_pause) },
        { "Daemon", "MetricsFile", config_parse_absolute_path, offsetof(DaemonConfig, metrics_file) },
        { "Daemon", "CgroupLimitMargin", config_parse_size, offsetof(DaemonConfig, cgroup_limit_margin) },
        { "Daemon", "LogLevel", config_parse_log_level, offsetof(DaemonConfig, log_level) },
        { "Daemon", "MaxMappings", config_parse_count, offsetof(DaemonConfig, max_mappings) },
        { "Daemon", "Injectors", config_parse_injectors, offsetof(DaemonConfig, injectors) },
        {},
};

/* Keys whose empty value means "back to the default" (NULL). */
static bool key_allows_empty(const ConfigItem *item) {
        return item->parse == config_parse_absolute_path || item->parse == config_parse_log_level;
}

/* Keys given twice replace their value (the last wins): worth a warning. [Match] keys mean "any of"
 * and Regions= adds up, so repeating those is how they are used. */
static bool key_single_valued(const ConfigItem *item) {
        return !streq(item->section, "Match") && item->parse != config_parse_regions;
}

/* ---- the line reader under inih ------------------------------------------------------------------ */

static bool section_known(const ParseState *s, const char *name, size_t len) {
        for (const char *const *p = s->sections; *p; p++)
                if (strlen(*p) == len && strncmp(*p, name, len) == 0)
                        return true;
        return false;
}

static void reader_section(ParseState *s, const char *line, size_t len) {
        const char *name = line + 1;
        size_t n = len - 2;

        if (len < 3 || line[len - 1] != ']') {
                problem(s, "Malformed section header, expected [NAME]");
                s->section_state = SECTION_BAD;
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) name[i])) {
                        problem(s, "Malformed section header, expected [NAME]");
                        s->section_state = SECTION_BAD;
                        return;
                }
        if (!section_known(s, name, n)) {
                problem(s, "Unknown section [%.*s]%s", (int) n, name,
                        s->items == policy_items && n == 6 && strncmp(name, "Daemon", 6) == 0
                                ? " ([Daemon] belongs in mlockd.conf)"
                                : "");
                s->section_state = SECTION_BAD;
                return;
        }
        s->section_state = SECTION_KNOWN;
        if (n == 5 && strncmp(name, "Match", 5) == 0 && s->match_line == 0)
                s->match_line = s->line;
}

/* Is this a KEY=VALUE line we hand to inih? Reports the problem when not. */
static bool reader_assignment(ParseState *s, const char *line, size_t len) {
        const char *eq = memchr(line, '=', len);
        size_t klen;

        if (!eq) {
                problem(s, "Malformed line, expected KEY=VALUE, [SECTION] or a comment starting with '#' or ';'");
                return false;
        }
        klen = (size_t) (eq - line);
        while (klen > 0 && isspace((unsigned char) line[klen - 1]))
                klen--;
        if (klen == 0) {
                problem(s, "Malformed line, missing a key before '='");
                return false;
        }
        for (size_t i = 0; i < klen; i++)
                if (!isalnum((unsigned char) line[i])) {
                        problem(s, "Malformed line, invalid key name '%.*s'", (int) klen, line);
                        return false;
                }
        /* inih would cut the value at a ';' after whitespace; comments are whole lines here */
        for (const char *p = eq + 1; p < line + len; p++)
                if (*p == ';' && isspace((unsigned char) p[-1])) {
                        problem(s, "Inline comments are not supported: put the comment on its own line");
                        return false;
                }
        return true;
}

/* ini_reader: hands inih one line at a time, so the parse state knows the line number when inih
 * calls the handler. Lines are checked here and passed on with leading whitespace stripped (no
 * multi-line continuations); a line inih must not see (malformed, too long) is reported and
 * replaced by an empty one. */
static char *reader(char *str, int num, void *stream) {
        ParseState *s = stream;
        const char *line, *nl;
        size_t len;

        if (s->pos >= s->size || num < 3)
                return NULL;
        line = s->data + s->pos;
        nl = memchr(line, '\n', s->size - s->pos);
        len = nl ? (size_t) (nl - line) : s->size - s->pos;
        s->pos += len + (nl ? 1 : 0);
        s->line++;

        if (s->line == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
                line += 3, len -= 3;
        while (len > 0 && isspace((unsigned char) line[0]))
                line++, len--;
        while (len > 0 && isspace((unsigned char) line[len - 1]))
                len--;

        str[0] = '\n';
        str[1] = '\0';
        if (len == 0 || line[0] == '#' || line[0] == ';')
                return str;
        if (len + 2 > (size_t) num || len > POLICY_MAX_LINE) {
                problem(s, "Line too long (%zu characters, at most %d)", len, MIN(num - 2, POLICY_MAX_LINE));
                return str;
        }
        if (line[0] == '[')
                reader_section(s, line, len);
        else if (!reader_assignment(s, line, len))
                return str;
        memcpy(str, line, len);
        str[len] = '\n';
        str[len + 1] = '\0';
        return str;
}

static int handler(void *user, const char *section, const char *name, const char *value) {
        ParseState *s = user;
        const ConfigItem *item = NULL;
        int r;

        if (s->error < 0)
                return 1;
        if (!value) /* a key without '=' is never passed on; be safe with other inih builds */
                return 1;
        switch (s->section_state) {
        case SECTION_NONE:
                problem(s, "%s= appears before any [SECTION] line", name);
                return 1;
        case SECTION_BAD:
                return 1;
        case SECTION_KNOWN:
                break;
        }
        for (const ConfigItem *i = s->items; i->section; i++)
                if (streq(i->section, section) && streq(i->key, name)) {
                        item = i;
                        break;
                }
        if (!item) {
                problem(s, "Unknown key %s= in section [%s]", name, section);
                return 1;
        }
        if (streq(item->section, "Match"))
                s->match_key_seen = true;
        if (key_single_valued(item)) {
                size_t i = (size_t) (item - s->items);

                assert(i < ELEMENTSOF(s->item_lines));
                if (s->item_lines[i] > 0 && !isempty(value))
                        warning_at(s, s->line, "%s= is given again; it replaces the value from line %u", name,
                                   s->item_lines[i]);
                s->item_lines[i] = isempty(value) ? 0 : s->line; /* empty: an explicit reset */
        }
        if (isempty(value)) {
                if (key_allows_empty(item)) {
                        char **p = (char **) ((uint8_t *) s->target + item->offset);
                        *p = mfree_str(*p);
                        return 1;
                }
                problem(s, "Empty value for %s=", name);
                return 1;
        }
        r = item->parse(s, item->key, value, (uint8_t *) s->target + item->offset);
        if (r == -ENOMEM)
                s->error = r;
        return 1;
}

/* NUL bytes, invalid UTF-8 and control characters other than tab/CR/LF mean this is not a text
 * file: returns the 1-based line of the first such byte, 0 when clean. */
static unsigned find_binary_junk(const char *data, size_t size) {
        const unsigned char *p = (const unsigned char *) data, *end = p + size;
        unsigned line = 1;

        while (p < end) {
                unsigned char c = *p;
                size_t n;
                uint32_t cp;

                if (c == '\n') {
                        line++;
                        p++;
                        continue;
                }
                if (c < 0x80) {
                        if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
                                return line;
                        p++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        n = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 3, cp = c & 0x07;
                else
                        return line;
                if ((size_t) (end - p) <= n)
                        return line;
                for (size_t i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return line;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                /* overlong forms, surrogates, beyond U+10FFFF */
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
                    cp > 0x10ffff)
                        return line;
                p += n + 1;
        }
        return 0;
}

static ParseState parse_state_make(const char *path, const char *data, size_t size, const ConfigItem *items,
                                   const char *const *sections, void *target, char ***problems) {
        return (ParseState) {
                .path = path,
                .data = data ?: "",
                .size = size,
                .items = items,
                .sections = sections,
                .target = target,
                .problems = problems,
        };
}

static int parse_buffer(ParseState *s) {
        unsigned junk;
        int r;

        junk = find_binary_junk(s->data, s->size);
        if (junk > 0) {
                s->junk = true;
                problem_at(s, junk, "Binary junk (a NUL byte, invalid UTF-8 or a control character), "
                           "not a configuration file");
                return s->error;
        }
        r = ini_parse_stream(reader, s, handler, s);
        if (r == -2)
                return -ENOMEM;
        /* r > 0 is the first line inih found fault with; every such line was reported already */
        return s->error;
}

/* ---- policies -------------------------------------------------------------------------------------- */

Policy *policy_free(Policy *p) {
        if (!p)
                return NULL;
        free(p->name);
        free(p->path);
        strv_free(p->match_executable);
        strv_free(p->match_name);
        strv_free(p->match_cgroup);
        strv_free(p->match_unit);
        strv_free(p->match_user);
        strv_free(p->region_files);
        strv_free(p->executable_resolved);
        free(p->match_executable_lines);
        free(p->match_name_lines);
        free(p);
        return NULL;
}

int policy_parse_buffer_full(const char *name, const char *path, const char *data, size_t size,
                             const DaemonConfig *d, Policy **ret, char ***problems, char ***warnings) {
        _cleanup_(policy_freep) Policy *p = NULL;
        PolicyTarget *t;
        ParseState s;
        int r;

        if (!name || !path || (!data && size > 0) || !ret || !problems)
                return -EINVAL;

        /* p is t's first member: policy_free() frees the whole PolicyTarget allocation */
        t = calloc(1, sizeof(PolicyTarget));
        if (!t)
                return -ENOMEM;
        p = &t->policy;
        *p = (Policy) {
                .mode = LOCK_MODE_ONFAULT,
                .regions = REGION_ALL,
                .prefetch = true,
                .max_pause = d ? d->default_max_pause : POLICY_DEFAULT_MAX_PAUSE,
                .raise_memlock_limit = true,
                .relock = true,
        };
        p->name = strdup(name);
        p->path = strdup(path);
        if (!p->name || !p->path)
                return -ENOMEM;

        s = parse_state_make(path, data, size, policy_items, policy_sections, t, problems);
        s.warnings = warnings;

        if (!policy_name_valid(name))
                problem_at(&s, 1, "Invalid policy name '%s': use letters, digits and _.@:+- only", name);

        r = parse_buffer(&s);
        if (r < 0)
                return r;

        if (!s.match_key_seen && !s.junk)
                problem_at(&s, s.match_line ?: 1,
                           "No [Match] key: this policy would match every process, refusing it");
        if (s.error < 0)
                return s.error;
        if (s.n_problems > 0)
                return -EINVAL;

        *ret = TAKE_PTR(p);
        return 0;
}

int policy_parse_buffer(const char *name, const char *path, const char *data, size_t size,
                        const DaemonConfig *d, Policy **ret, char ***problems) {
        return policy_parse_buffer_full(name, path, data, size, d, ret, problems, NULL);
}

int policy_parse_string(const char *name, const char *path, const char *text, const DaemonConfig *d,
                        Policy **ret, char ***problems) {
        if (!text)
                return -EINVAL;
        return policy_parse_buffer(name, path, text, strlen(text), d, ret, problems);
}

/* ---- what Executable= names on this host ----------------------------------------------------------- */

/* A glob as wide as /usr/bin/\* resolves to many files; past this, the rest are left out (noted). */
#define POLICY_MAX_RESOLVED 4096U
/* Notes per glob: the first few resolutions, then a count. */
#define POLICY_MAX_RESOLVE_NOTES 5U

_printf_(4, 5) static int message_add(char ***l, const Policy *p, unsigned line, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        char *m;
        va_list ap;
        int r;

        if (!l)
                return 0;
        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0 || asprintf(&m, "%s:%u: %s", p->path, line, msg) < 0)
                return -ENOMEM;
        return strv_consume(l, m);
}

static bool patterns_match(char *const *patterns, const char *path) {
        STRV_FOREACH(g, patterns)
                if (fnmatch(*g, path, 0) == 0)
                        return true;
        return false;
}

int policy_resolve_executables(Policy *p, const char *root, char ***notes, char ***warnings) {
        const char *prefix;
        size_t lp;
        int r;

        if (!p || !root)
                return -EINVAL;
        prefix = streq(root, "/") ? "" : root;
        lp = strlen(prefix);
        p->executable_resolved = strv_free(p->executable_resolved);

        for (size_t i = 0; p->match_executable && p->match_executable[i]; i++) {
                const char *pattern = p->match_executable[i];
                unsigned line = p->match_executable_lines ? p->match_executable_lines[i] : 1;
                bool wild = glob_has_wildcards(pattern);
                _cleanup_free_ char *full = NULL;
                size_t found = 0, noted = 0;
                glob_t g = {};

                if (asprintf(&full, "%s%s", prefix, pattern) < 0)
                        return -ENOMEM;
                r = glob(full, 0, NULL, &g); /* sorted: notes come in a stable order */
                if (r == GLOB_NOSPACE)
                        return -ENOMEM;
                for (size_t j = 0; r == 0 && j < g.gl_pathc; j++) {
                        _cleanup_free_ char *real = realpath(g.gl_pathv[j], NULL);
                        const char *rel;
                        struct stat st;

                        if (!real || stat(real, &st) < 0 || !S_ISREG(st.st_mode))
                                continue;
                        found++;
                        if (strncmp(real, prefix, lp) != 0 || real[lp] != '/')
                                continue; /* resolves outside root: not on this tree */
                        rel = real + lp;
                        if (patterns_match(p->match_executable, rel) || strv_contains(p->executable_resolved, rel))
                                continue;
                        if (strv_length(p->executable_resolved) >= POLICY_MAX_RESOLVED) {
                                r = message_add(warnings, p, line, "warning: Executable=%s resolves to more than "
                                                "%u other files; the rest do not match", pattern,
                                                POLICY_MAX_RESOLVED);
                                break;
                        }
                        r = strv_extend(&p->executable_resolved, rel);
                        if (r >= 0 && noted++ < POLICY_MAX_RESOLVE_NOTES) {
                                if (wild)
                                        r = message_add(notes, p, line, "note: Executable=%s: %s is %s; both match",
                                                        pattern, g.gl_pathv[j] + lp, rel);
                                else
                                        r = message_add(notes, p, line, "note: Executable=%s is %s; both match",
                                                        pattern, rel);
                        }
                        if (r < 0) {
                                globfree(&g);
                                return r;
                        }
                }
                if (r == 0 && noted > POLICY_MAX_RESOLVE_NOTES)
                        r = message_add(notes, p, line, "note: Executable=%s: and %zu more resolved paths", pattern,
                                        noted - POLICY_MAX_RESOLVE_NOTES);
                if (r == GLOB_NOMATCH || r == GLOB_ABORTED || (r == 0 && found == 0))
                        r = message_add(warnings, p, line, "warning: Executable=%s matches no existing file%s",
                                        pattern, wild ? " (as glob(7) expands it, where '*' stops at '/')" : "");
                globfree(&g);
                if (r == -ENOMEM)
                        return r;
        }
        return 0;
}

/* ---- [Daemon] --------------------------------------------------------------------------------------- */

void daemon_config_init(DaemonConfig *c) {
        *c = (DaemonConfig) {
                .scan_interval = POLICY_DEFAULT_SCAN_INTERVAL,
                .accounting_interval = POLICY_DEFAULT_ACCOUNTING_INTERVAL,
                .default_max_pause = POLICY_DEFAULT_MAX_PAUSE,
                .cgroup_limit_margin = POLICY_DEFAULT_CGROUP_LIMIT_MARGIN,
                .max_mappings = POLICY_DEFAULT_MAX_MAPPINGS,
        };
}

void daemon_config_done(DaemonConfig *c) {
        if (!c)
                return;
        c->metrics_file = mfree_str(c->metrics_file);
        c->log_level = mfree_str(c->log_level);
}

int daemon_config_parse_buffer_full(const char *path, const char *data, size_t size, DaemonConfig *c,
                                    char ***problems, char ***warnings) {
        ParseState s;

        if (!path || (!data && size > 0) || !c || !problems)
                return -EINVAL;
        s = parse_state_make(path, data, size, daemon_items, daemon_sections, c, problems);
        s.warnings = warnings;
        return parse_buffer(&s);
}

int daemon_config_parse_buffer(const char *path, const char *data, size_t size, DaemonConfig *c,
                               char ***problems) {
        return daemon_config_parse_buffer_full(path, data, size, c, problems, NULL);
}

/* ---- loading a directory ------------------------------------------------------------------------- */

/* sshd's StrictModes for a root daemon: a file or directory someone else could write would let them
 * choose what root locks. Owned by root (or by whoever runs us, so that tests and a non-root
 * --check-config work on their own files) and writable by its owner only. NULL when safe. */
static char *unsafe_reason(const struct stat *st) {
        char *p = NULL;
        int r = 0;

        if (st->st_uid != 0 && st->st_uid != geteuid())
                r = asprintf(&p, "owned by uid %u, not by root (chown root: it)", (unsigned) st->st_uid);
        else if (st->st_mode & S_IWOTH)
                r = asprintf(&p, "writable by every user (mode %04o; chmod go-w it)",
                             (unsigned) (st->st_mode & 07777));
        else if (st->st_mode & S_IWGRP)
                r = asprintf(&p, "writable by group %u (mode %04o; chmod go-w it)", (unsigned) st->st_gid,
                             (unsigned) (st->st_mode & 07777));
        else
                return NULL;
        return r < 0 ? NULL : p;
}

/* "PATH: Refusing to read it: REASON" for an unsafe file or directory: -EPERM (-ENOMEM). */
static int check_safe(int fd, const char *path, const char *what, char ***problems) {
        _cleanup_free_ char *reason = NULL;
        struct stat st;
        char *p;

        if (fstat(fd, &st) < 0)
                return -errno;
        reason = unsafe_reason(&st);
        if (!reason)
                return 0;
        if (asprintf(&p, "%s: Refusing to read %s: %s", path, what, reason) < 0 || strv_consume(problems, p) < 0)
                return -ENOMEM;
        return -EPERM;
}

typedef struct ConfFile {
        char *name; /* without .conf */
        char *path;
        bool masked;
} ConfFile;

typedef struct ConfFiles {
        ConfFile *files;
        size_t n;
} ConfFiles;

static void conf_files_done(ConfFiles *c) {
        for (size_t i = 0; i < c->n; i++) {
                free(c->files[i].name);
                free(c->files[i].path);
        }
        c->files = mfree_ptr(c->files);
        c->n = 0;
}

static int conf_file_compare(const void *a, const void *b) {
        return strcmp(((const ConfFile *) a)->name, ((const ConfFile *) b)->name);
}

/* Add dir's *.conf entries to files; a name already there (from a higher-priority dir) wins.
 * A missing dir is no error. */
static int conf_files_add_dir(const char *dir, ConfFiles *cf, char ***problems) {
        ConfFile **files = &cf->files;
        size_t *n = &cf->n;
        _cleanup_close_ int fd = -EBADF;
        DIR *d;
        struct dirent *de;
        int r = 0;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        r = check_safe(fd, dir, "this directory", problems);
        if (r < 0)
                return r == -EPERM ? 0 : r; /* reported: none of its files is read */
        d = fdopendir(fd);
        if (!d)
                return -errno;
        TAKE_FD(fd);

        for (;;) {
                ConfFile *c;
                struct stat st;
                size_t l;
                bool dup = false;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno > 0)
                                r = -errno;
                        break;
                }
                l = strlen(de->d_name);
                if (de->d_name[0] == '.' || l <= 5 || !streq(de->d_name + l - 5, ".conf"))
                        continue;
                for (size_t i = 0; i < *n; i++)
                        if (strlen((*files)[i].name) == l - 5 && strncmp((*files)[i].name, de->d_name, l - 5) == 0)
                                dup = true;
                if (dup)
                        continue;

                c = realloc(*files, sizeof(ConfFile) * (*n + 1));
                if (!c) {
                        r = -ENOMEM;
                        break;
                }
                *files = c;
                c = &(*files)[*n];
                *c = (ConfFile) {
                        .name = strndup(de->d_name, l - 5),
                };
                if (!c->name || asprintf(&c->path, "%s/%s", dir, de->d_name) < 0) {
                        free(c->name);
                        r = -ENOMEM;
                        break;
                }
                /* systemd's rule: a symlink to /dev/null masks the file of the same name */
                if (fstatat(dirfd(d), de->d_name, &st, 0) >= 0 && S_ISCHR(st.st_mode) &&
                    st.st_rdev == makedev(1, 3))
                        c->masked = true;
                (*n)++;
        }
        closedir(d);
        return r;
}

PolicySet *policy_set_free(PolicySet *s) {
        if (!s)
                return NULL;
        daemon_config_done(&s->daemon);
        for (size_t i = 0; i < s->n_policies; i++)
                policy_free(s->policies[i]);
        free(s->policies);
        strv_free(s->problems);
        strv_free(s->warnings);
        strv_free(s->notes);
        free(s);
        return NULL;
}

/* A file that cannot be read is a problem of that file, not a failure of the load. */
static int read_conf_file(int dir_fd, const char *rel, const char *path, char **ret, size_t *ret_size,
                          char ***problems) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        char *p;
        int r;

        fd = openat(dir_fd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                r = -errno;
        else if (fstat(fd, &st) < 0)
                r = -errno;
        else if (!S_ISREG(st.st_mode))
                r = -EISDIR;
        else {
                r = check_safe(fd, path, "this file", problems);
                if (r == -EPERM)
                        return -EIO; /* reported */
                if (r >= 0)
                        r = read_full_fd(fd, POLICY_MAX_FILE_SIZE, ret, ret_size);
        }
        if (r >= 0 || r == -ENOENT || r == -ENOMEM)
                return r;
        if (r == -EFBIG)
                r = asprintf(&p, "%s:1: File too large (more than %u bytes), ignoring it", path,
                             POLICY_MAX_FILE_SIZE);
        else if (r == -EISDIR)
                r = asprintf(&p, "%s:1: Not a regular file, ignoring it", path);
        else
                r = asprintf(&p, "%s:1: Failed to read: %s", path, strerror(-r));
        if (r < 0)
                return -ENOMEM;
        r = strv_consume(problems, p);
        return r < 0 ? r : -EIO;
}

int policy_set_load(const char *config_dir, const char *vendor_dir, PolicySet **ret) {
        _cleanup_(policy_set_freep) PolicySet *set = NULL;
        _cleanup_free_ char *daemon_path = NULL, *policy_dir = NULL, *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(conf_files_done) ConfFiles cf = {};
        size_t size;
        int r;

        if (!config_dir || !ret)
                return -EINVAL;

        fd = open(config_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        set = calloc(1, sizeof(PolicySet));
        if (!set)
                return -ENOMEM;
        daemon_config_init(&set->daemon);
        set->problems = calloc(1, sizeof(char *));
        if (!set->problems)
                return -ENOMEM;

        r = check_safe(fd, config_dir, "this directory", &set->problems);
        if (r == -EPERM) { /* reported; nothing in it is read */
                *ret = TAKE_PTR(set);
                return 0;
        }
        if (r < 0)
                return r;

        if (asprintf(&daemon_path, "%s/mlockd.conf", config_dir) < 0 ||
            asprintf(&policy_dir, "%s/policy.d", config_dir) < 0)
                return -ENOMEM;

        r = read_conf_file(fd, "mlockd.conf", daemon_path, &buf, &size, &set->problems);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = daemon_config_parse_buffer_full(daemon_path, buf, size, &set->daemon, &set->problems,
                                                    &set->warnings);
                if (r < 0)
                        return r;
        }
        buf = mfree_str(buf);

        /* config_dir's policy.d first: a vendor file of the same name is then skipped */
        const char *dirs[] = { policy_dir, vendor_dir };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                const char *dir = dirs[i];
                char *p;

                if (!dir)
                        continue;
                r = conf_files_add_dir(dir, &cf, &set->problems);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0)
                        continue;
                /* an unreadable policy.d is a problem like an unreadable file, not a failed load */
                if (asprintf(&p, "%s:1: Failed to read the directory: %s", dir, strerror(-r)) < 0 ||
                    strv_consume(&set->problems, p) < 0)
                        return -ENOMEM;
        }
        if (cf.n > 0)
                qsort(cf.files, cf.n, sizeof(ConfFile), conf_file_compare);

        for (size_t i = 0; i < cf.n; i++) {
                const ConfFile *file = &cf.files[i];
                _cleanup_(policy_freep) Policy *p = NULL;
                Policy **a;

                if (file->masked)
                        continue;
                r = read_conf_file(AT_FDCWD, file->path, file->path, &buf, &size, &set->problems);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                r = policy_parse_buffer_full(file->name, file->path, buf, size, &set->daemon, &p, &set->problems,
                                             &set->warnings);
                buf = mfree_str(buf);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;

                r = policy_resolve_executables(p, "/", &set->notes, &set->warnings);
                if (r == -ENOMEM)
                        return r;

                a = realloc(set->policies, sizeof(Policy *) * (set->n_policies + 1));
                if (!a)
                        return -ENOMEM;
                set->policies = a;
                p->index = (unsigned) set->n_policies;
                set->policies[set->n_policies++] = TAKE_PTR(p);
        }

        *ret = TAKE_PTR(set);
        return 0;
}

const Policy *policy_set_find(const PolicySet *s, const char *name) {
        if (!s || !name)
                return NULL;
        for (size_t i = 0; i < s->n_policies; i++)
                if (streq(s->policies[i]->name, name))
                        return s->policies[i];
        return NULL;
}

/* ---- dumping --------------------------------------------------------------------------------------- */

/* Exact, so that it loads back equal: the largest suffix that divides the value. */
static void fprint_size(FILE *f, const char *key, uint64_t v) {
        static const char suffixes[] = "TGMK";

        for (size_t i = 0; i < 4; i++) {
                unsigned shift = 10 * (unsigned) (4 - i);
                if (v > 0 && v % (UINT64_C(1) << shift) == 0) {
                        fprintf(f, "%s=%" PRIu64 "%c\n", key, v >> shift, suffixes[i]);
                        return;
                }
        }
        fprintf(f, "%s=%" PRIu64 "\n", key, v);
}

static void fprint_duration(FILE *f, const char *key, usec_t v) {
        char buf[FORMAT_TIMESPAN_MAX];

        fprintf(f, "%s=%s\n", key, format_timespan(buf, sizeof buf, v));
}

static void fprint_strv(FILE *f, const char *key, char *const *l) {
        STRV_FOREACH(v, l)
                fprintf(f, "%s=%s\n", key, *v);
}

int policy_dump(const Policy *p, FILE *f) {
        const char *sep = "";

        if (!p || !f)
                return -EINVAL;

        fputs("[Match]\n", f);
        fprint_strv(f, "Executable", p->match_executable);
        fprint_strv(f, "Name", p->match_name);
        fprint_strv(f, "Cgroup", p->match_cgroup);
        fprint_strv(f, "Unit", p->match_unit);
        fprint_strv(f, "User", p->match_user);

        fprintf(f, "\n[Lock]\nMode=%s\n", lock_mode_to_string(p->mode) ?: "onfault");
        /* Regions= lines add up: one per file:GLOB keeps each line as short as it was */
        for (size_t i = 0; i < ELEMENTSOF(region_kinds); i++)
                if (p->regions & region_kinds[i].flag) {
                        fprintf(f, "%s%s", *sep ? " " : "Regions=", region_kinds[i].name);
                        sep = "\n";
                }
        fputs(sep, f);
        STRV_FOREACH(g, p->region_files)
                fprintf(f, "Regions=file:%s\n", *g);
        fprintf(f, "Future=%s\nPrefetch=%s\n", p->future ? "yes" : "no", p->prefetch ? "yes" : "no");
        fprintf(f, "LockNetworkFiles=%s\n", p->lock_network_files ? "yes" : "no");
        fprint_duration(f, "MaxPause", p->max_pause);
        fprintf(f, "Relock=%s\n", p->relock ? "yes" : "no");

        fputs("\n[Limits]\n", f);
        fprint_size(f, "MaxLocked", p->max_locked);
        fprint_size(f, "CgroupMaxUnevictable", p->cgroup_max_unevictable);
        fprintf(f, "RaiseMemlockLimit=%s\n", p->raise_memlock_limit ? "yes" : "no");
        return ferror(f) ? -EIO : 0;
}

unsigned daemon_config_injectors(const DaemonConfig *c, unsigned n_cpus) {
        if (c && c->injectors > 0)
                return MIN(c->injectors, POLICY_MAX_INJECTORS);
        /* a worker spends most of a lock waiting for the target to reach its stops, not on a CPU:
         * one per CPU overlaps those waits (on 2 CPUs, 2,000 processes at once were locked in a
         * median of 2.39 s with two against 2.82 s with one, doc/throughput.md) */
        return MIN(MAX(n_cpus, 1U), POLICY_DEFAULT_MAX_INJECTORS);
}

int daemon_config_dump(const DaemonConfig *c, FILE *f) {
        if (!c || !f)
                return -EINVAL;
        fputs("[Daemon]\n", f);
        fprint_duration(f, "ScanInterval", c->scan_interval);
        fprint_duration(f, "AccountingInterval", c->accounting_interval);
        fprint_duration(f, "DefaultMaxPause", c->default_max_pause);
        fprintf(f, "MetricsFile=%s\n", strempty(c->metrics_file));
        fprint_size(f, "CgroupLimitMargin", c->cgroup_limit_margin);
        fprintf(f, "LogLevel=%s\n", strempty(c->log_level));
        fprintf(f, "MaxMappings=%u\n", c->max_mappings);
        if (c->injectors == 0)
                fputs("Injectors=auto\n", f);
        else
                fprintf(f, "Injectors=%u\n", c->injectors);
        return ferror(f) ? -EIO : 0;
}

int policy_set_dump(const PolicySet *s, FILE *f) {
        int r;

        if (!s || !f)
                return -EINVAL;
        fputs("# mlockd.conf\n", f);
        r = daemon_config_dump(&s->daemon, f);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_policies; i++) {
                fprintf(f, "\n# policy.d/%s.conf (from %s)\n", s->policies[i]->name, s->policies[i]->path);
                r = policy_dump(s->policies[i], f);
                if (r < 0)
                        return r;
        }
        return fflush(f) == EOF || ferror(f) ? -EIO : 0;
}
