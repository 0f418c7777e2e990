/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The configuration: DIR/mlockd.conf ([Daemon]) and one policy per DIR/policy.d/NAME.conf
 * ([Match], [Lock], [Limits]), parsed with inih through a table of {section, key, parser, offset}
 * rows. Every problem is collected as "FILE:LINE: message" and never fails the load: a policy file
 * with any problem is left out, the other policies still load, a bad [Daemon] key keeps its
 * default. Files are read in lexical order of their names; drop-ins from a vendor directory are
 * overridden by a file of the same name in DIR/policy.d (a symlink to /dev/null masks one).
 * Nothing here logs above debug, and nothing keeps global state. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"
#include "parse-util.h" /* usec_t */
#include "regions.h"

typedef enum LockMode {
        LOCK_MODE_NONE,
        LOCK_MODE_ONFAULT,
        LOCK_MODE_FULL,
        _LOCK_MODE_MAX,
        _LOCK_MODE_INVALID = -EINVAL,
} LockMode;

const char *lock_mode_to_string(LockMode m); /* "none" "onfault" "full", NULL when out of range */
LockMode lock_mode_from_string(const char *s);

/* Defaults, shared with the man pages and conf/ examples. */
#define POLICY_DEFAULT_SCAN_INTERVAL (30 * USEC_PER_SEC)
#define POLICY_DEFAULT_ACCOUNTING_INTERVAL (5 * USEC_PER_SEC)
#define POLICY_DEFAULT_MAX_PAUSE (5 * USEC_PER_MSEC)
#define POLICY_MIN_MAX_PAUSE ((usec_t) 100)
/* The most a step may hold a target: a step aims at half of MaxPause, and the manager gives an
 * injector 12 s (its 2 s wait for the stop and 10 s) to answer before it takes it for stuck and
 * kills it, which a target without a self-restoring frame (Go) does not survive. 2 s keeps a
 * step's aim a twelfth of that. A larger value is taken as this, with a warning. */
#define POLICY_MAX_MAX_PAUSE (2 * USEC_PER_SEC)
#define POLICY_DEFAULT_CGROUP_LIMIT_MARGIN (UINT64_C(64) << 20)
/* A process with more memory mappings is not planned (MaxMappings=): its maps alone take the
 * injector and the manager tens of milliseconds to read at every step, and it would hold both. */
#define POLICY_DEFAULT_MAX_MAPPINGS 20000U
/* Injectors=: at most this many injector workers (forked mode keeps a spare for each). */
#define POLICY_MAX_INJECTORS 8U
/* Injectors=auto: one per CPU the daemon may run on, at least 1, at most this many. */
#define POLICY_DEFAULT_MAX_INJECTORS 4U
/* Longest line inih accepts here (Debian's libinih: INI_MAX_LINE 200, minus "\r\n\0"); longer
 * lines are reported, never truncated. */
#define POLICY_MAX_LINE 197
/* Larger files are refused rather than read. */
#define POLICY_MAX_FILE_SIZE (1024U * 1024U)

typedef struct Policy {
        char *name;     /* file name without .conf */
        char *path;     /* the file it came from */
        unsigned index; /* position in file order, 0-based, among valid policies */
        /* [Match]: NULL when the key was not given; any of the values may match */
        char **match_executable, **match_name, **match_cgroup, **match_unit, **match_user;
        /* [Lock] */
        LockMode mode;       /* default LOCK_MODE_ONFAULT */
        unsigned regions;    /* REGION_* mask; default REGION_ALL */
        char **region_files; /* the GLOBs of file:GLOB, REGION_FILE set when non-empty */
        bool future;         /* default false */
        bool prefetch;       /* default true */
        bool lock_network_files; /* LockNetworkFiles=, default false: lock file mappings on FUSE and
                                    network filesystems (maps.h: they can block without bound) */
        usec_t max_pause;    /* default: [Daemon] DefaultMaxPause= */
        bool relock;         /* default true: lock again what a recheck finds no longer mlocked */
        /* [Limits]: 0 = no limit */
        uint64_t max_locked;
        uint64_t cgroup_max_unevictable;
        bool raise_memlock_limit; /* [Limits] RaiseMemlockLimit=, default true: may mlockd raise the
                                     target's RLIMIT_MEMLOCK (up to MaxLocked when set) */

        /* What Executable= resolves to (policy_resolve_executables()): the realpaths of a literal
         * path, or of the files a glob expands to, that the patterns themselves do not match. A
         * process whose /proc/PID/exe is one of them matches too (users write /usr/bin/python3,
         * the kernel names /usr/bin/python3.11). Not dumped: derived, refreshed at every load. */
        char **executable_resolved;
        /* Lines for messages after the parse: of each match_executable[i] and match_name[i], of
         * CgroupMaxUnevictable= (0: not given). */
        unsigned *match_executable_lines, *match_name_lines;
        unsigned cgroup_max_unevictable_line;
} Policy;

typedef struct DaemonConfig {
        usec_t scan_interval;         /* ScanInterval=, default 30s: periodic /proc scan when the proc
                                         connector is unavailable; 0 disables */
        usec_t accounting_interval;   /* AccountingInterval=, default 5s, > 0 */
        usec_t default_max_pause;     /* DefaultMaxPause=, default 5ms, >= 100us */
        char *metrics_file;           /* MetricsFile=, absolute path or NULL (default: none) */
        uint64_t cgroup_limit_margin; /* CgroupLimitMargin=, default 64M: never lock closer than this
                                         to a cgroup's memory limit */
        char *log_level;              /* LogLevel=, default NULL (info) */
        unsigned max_mappings;        /* MaxMappings=, default 20000, 0: no bound: a process with more
                                         memory mappings (VMAs) is skipped:too-many-maps, not planned */
        unsigned injectors;           /* Injectors=, 0: auto (daemon_config_injectors()), else 1 to
                                         POLICY_MAX_INJECTORS: injector workers, fixed at start-up */
} DaemonConfig;

typedef struct PolicySet {
        DaemonConfig daemon;
        Policy **policies; /* the valid policies, in file order */
        size_t n_policies;
        char **problems; /* every problem, "FILE:LINE: message", in file order */
        char **warnings; /* what loads but is probably not meant: "FILE:LINE: warning: message" */
        char **notes;    /* what --check-config tells for information: "FILE:LINE: note: message" */
} PolicySet;

/* Read config_dir/mlockd.conf (optional: defaults when absent) and config_dir/policy.d/ *.conf;
 * vendor_dir (NULL: none) adds drop-ins that a file of the same name in config_dir overrides.
 * Problems never fail the call: they go to set->problems, a bad policy file is left out of
 * set->policies, a bad [Daemon] key keeps its default. Fails (negative errno) only when
 * config_dir cannot be read at all (e.g. -ENOENT) or on ENOMEM. */
int policy_set_load(const char *config_dir, const char *vendor_dir, PolicySet **ret);
PolicySet *policy_set_free(PolicySet *s);
DEFINE_CLEANUP(PolicySet *, policy_set_free);
const Policy *policy_set_find(const PolicySet *s, const char *name);
/* Write the effective configuration (defaults filled in) in INI syntax that loads back equal:
 * the [Daemon] section, then each policy's sections under a "# policy.d/NAME.conf" line. */
int policy_set_dump(const PolicySet *s, FILE *f);

/* Parse one policy from a buffer; name/path used in messages (for tests and the fuzzer).
 * d: NULL for the built-in defaults. Problems are appended to *problems (which may start NULL).
 * Returns 0 and *ret on a valid policy, -EINVAL when it had problems, -ENOMEM. */
int policy_parse_string(const char *name, const char *path, const char *text, const DaemonConfig *d,
                        Policy **ret, char ***problems);
/* The same on a buffer that may hold NUL bytes (reported as binary junk). */
int policy_parse_buffer(const char *name, const char *path, const char *data, size_t size,
                        const DaemonConfig *d, Policy **ret, char ***problems);
/* The same, also collecting warnings (a key given twice, ...) into *warnings (NULL: dropped). */
int policy_parse_buffer_full(const char *name, const char *path, const char *data, size_t size,
                             const DaemonConfig *d, Policy **ret, char ***problems, char ***warnings);
Policy *policy_free(Policy *p);
DEFINE_CLEANUP(Policy *, policy_free);
/* Fill p->executable_resolved from the filesystem under root ("/" normally; a fixture tree in
 * tests: the paths stored are then below it), appending "FILE:LINE: note: ... is ...; both match"
 * for each resolution and "FILE:LINE: warning: ..." for a pattern that matches no existing file
 * (notes and warnings may be NULL). policy_set_load() calls it for every policy. */
int policy_resolve_executables(Policy *p, const char *root, char ***notes, char ***warnings);
/* One policy's sections, defaults filled in. */
int policy_dump(const Policy *p, FILE *f);

/* [Daemon]: defaults, parsing (problems appended as above; a bad key keeps its default, so this
 * returns 0 unless out of memory) and dumping. */
void daemon_config_init(DaemonConfig *c);
void daemon_config_done(DaemonConfig *c);
int daemon_config_parse_buffer(const char *path, const char *data, size_t size, DaemonConfig *c,
                               char ***problems);
int daemon_config_parse_buffer_full(const char *path, const char *data, size_t size, DaemonConfig *c,
                                    char ***problems, char ***warnings);
int daemon_config_dump(const DaemonConfig *c, FILE *f);
/* The injector workers to start: Injectors=, or for auto n_cpus (those the daemon may run on) less
 * one, at least 1 and at most POLICY_DEFAULT_MAX_INJECTORS. Pure. */
unsigned daemon_config_injectors(const DaemonConfig *c, unsigned n_cpus);
