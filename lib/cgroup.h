/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Per-cgroup memory accounting: where the memory controller lives (v2, or the v1 "memory"
 * hierarchy of a hybrid/legacy host), which cgroups a process is in (/proc/PID/cgroup), what the
 * kernel says about a cgroup's memory (memory.stat "unevictable", the limit, the usage), and how
 * much more may be locked there under a budget and a margin below the limit.
 *
 * The cgroupfs and /proc roots are parameters, so every parser runs on fixture trees. Nothing here
 * logs above debug or keeps state.
 *
 * /proc/PID/cgroup escapes nothing: a cgroup name containing a newline splits its line, and can
 * forge a line after it. cgroup_paths_parse() therefore rejects the whole text with -EBADMSG when
 * any line is not "ID:CONTROLLERS:/PATH", when a hierarchy ID repeats, or when the memory, the
 * name=systemd or the unified ("0::") entry appears twice. A process in such a cgroup has no
 * known cgroup (the caller skips it); it is never attributed to a truncated path, except when the
 * forged text mimics a hierarchy the host does not have (IDs are not checked against the host).
 * Current kernels refuse '\n' in cgroup names (mkdir fails with EINVAL, checked on 6.18), so this
 * guards older kernels and odd /proc content rather than a daily case. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum CgroupVersion {
        CGROUP_V1,
        CGROUP_V2,
        _CGROUP_VERSION_MAX,
        _CGROUP_VERSION_INVALID = -EINVAL,
} CgroupVersion;

const char *cgroup_version_to_string(CgroupVersion v);

typedef struct CgroupLayout {
        CgroupVersion memory_version; /* where the memory controller lives */
        char *memory_root;            /* e.g. "/sys/fs/cgroup/memory" (v1) or "/sys/fs/cgroup" (v2) */
} CgroupLayout;

/* Look at cgroupfs_root (normally "/sys/fs/cgroup"), in this order:
 *   - pure v2: cgroupfs_root/cgroup.controllers lists "memory" → v2 at cgroupfs_root;
 *   - v1 "memory" hierarchy (hybrid or legacy): cgroupfs_root/memory/memory.stat → v1 there;
 *   - hybrid with memory on the unified side (cgroup_no_v1=memory):
 *     cgroupfs_root/unified/cgroup.controllers lists "memory" → v2 at cgroupfs_root/unified.
 * -ENOMEDIUM when there is no memory controller, -ENOENT when cgroupfs_root does not exist. */
int cgroup_layout_detect(const char *cgroupfs_root, CgroupLayout *ret);
void cgroup_layout_done(CgroupLayout *l);

typedef struct CgroupPaths {
        char *memory;  /* path in the memory hierarchy ("/a/b"), NULL if none */
        char *unified; /* the "0::" path, NULL if none */
        char *systemd; /* the v1 "name=systemd" path, NULL if none */
} CgroupPaths;

/* Parse /proc/PID/cgroup text (for tests) or read it (proc_root "/proc"). The memory path comes
 * from the v1 line whose controller list holds "memory"; when there is none, it is the unified
 * path (on a v2 host memory lives there; cgroup_read_memory() then says whether the controller is
 * enabled for that cgroup). -EBADMSG on malformed or ambiguous text (see above);
 * cgroup_pid_get_paths(): -ESRCH when the process is gone. Paths are kept as the kernel wrote
 * them (relative to the reader's cgroup namespace). */
int cgroup_paths_parse(const char *text, CgroupPaths *ret);
int cgroup_pid_get_paths(const char *proc_root, pid_t pid, CgroupPaths *ret);
void cgroup_paths_done(CgroupPaths *p);

/* The path used to match Cgroup= and derive Unit=: unified when it is not "/" (or when there is
 * no systemd path), else systemd, else memory. Never NULL when any is set. */
const char *cgroup_paths_match_path(const CgroupPaths *p);

typedef struct CgroupMemory {
        uint64_t unevictable;       /* hierarchical: v2 "unevictable", v1 "total_unevictable" */
        uint64_t unevictable_local; /* v1 "unevictable"; v2 same as unevictable */
        uint64_t limit;             /* v2: the lower of memory.max and memory.high; v1:
                                       memory.limit_in_bytes. UINT64_MAX = no limit ("max", or
                                       v1's huge value) */
        uint64_t usage;
        uint64_t stat_hash;         /* a fingerprint of all of memory.stat: it moves when any figure
                                       of the cgroup does (its pages, faults, LRU lists), so an equal
                                       one says nothing there changed between two reads */
} CgroupMemory;

/* What to read of a cgroup: memory.stat (unevictable, unevictable_local), the limit, the usage. */
typedef enum CgroupReadFlags {
        CGROUP_READ_STAT = 1 << 0,
        CGROUP_READ_LIMIT = 1 << 1,
        CGROUP_READ_USAGE = 1 << 2,
        CGROUP_READ_ALL = CGROUP_READ_STAT | CGROUP_READ_LIMIT | CGROUP_READ_USAGE,
} CgroupReadFlags;

/* Read memory.stat and friends of path (e.g. "/system.slice/x.service", "/" for the root) in the
 * layout: memory.stat, then memory.max + memory.high + memory.current (v2) or
 * memory.limit_in_bytes + memory.usage_in_bytes (v1). The v2 limit is the lower of memory.max and
 * memory.high (a missing memory.high counts as "max"). The v2 root cgroup has no limit or usage
 * files: limit UINT64_MAX, usage 0. A v1 limit within 1 MiB of INT64_MAX (the kernel's "unlimited", page-rounded) is
 * UINT64_MAX.
 * -ENOENT when the cgroup vanished (also between two of its files), -ENOMEDIUM when the cgroup
 * exists but has no memory files (v2: controller not enabled in the parent's subtree_control),
 * -EINVAL for a relative path or one with "." or ".." components, -EBADMSG for unparsable
 * content. */
int cgroup_read_memory(const CgroupLayout *l, const char *path, CgroupMemory *ret);
/* The same for the files in what only, one open each and no allocation: the fields not asked for
 * keep the value they had in *ret, so a caller can keep a limit read on reload and refresh
 * unevictable alone on a tick (CGROUP_READ_STAT), or stat and usage before planning. *ret is
 * untouched on error. */
int cgroup_read_memory_fields(const CgroupLayout *l, const char *path, CgroupReadFlags what, CgroupMemory *ret);
/* The same on an open directory of the cgroup (O_DIRECTORY; e.g. kept open across refreshes);
 * is_root says whether it is the root cgroup (the v2 root lacks memory.max/memory.current).
 * -ENOENT once the cgroup was removed. */
int cgroup_read_memory_at(const CgroupLayout *l, int dir_fd, bool is_root, CgroupMemory *ret);

/* The inode of path's directory in the memory hierarchy (v1 memory or v2): what /proc/kpagecgroup
 * gives for the pages charged to that cgroup. Errors as cgroup_read_memory(). */
int cgroup_inode(const CgroupLayout *l, const char *path, uint64_t *ret);

/* Parse memory.stat text of the given version into unevictable / unevictable_local and stat_hash
 * (the other fields are left alone), in one pass without allocation. -EBADMSG when a needed key is
 * missing or not a number. */
int cgroup_memory_stat_parse(CgroupVersion v, const char *text, CgroupMemory *m);

/* Bytes that may still be locked: min(budget - unevictable [when budget > 0],
 * limit - margin - usage [when limit is finite]), never negative (0). UINT64_MAX when unbounded. */
uint64_t cgroup_lockable_bytes(const CgroupMemory *m, uint64_t budget, uint64_t margin);

/* A parent's memory limit binds its children as much as their own does (v1 and v2 charge up the
 * tree), so locking sized against a leaf's "max" alone can push a limited slice's members into
 * its OOM killer. m holds path's own limit and usage, read already; each ancestor's limit is read
 * up to the layout's root (which, in a container's cgroup namespace, is the container's own
 * cgroup), and its usage where that limit is finite. Where an ancestor leaves less room under
 * margin (limit - margin - usage) than m does, its limit and usage replace m's, and
 * *ret_binding_len (may be NULL) is the length of its path, a prefix of path ("/" is 1); it stays
 * strlen(path) while path itself binds. An ancestor that vanished or has no memory files is passed
 * over. -EINVAL for a path cgroup_read_memory() refuses; an ancestor that cannot be read (-EBADMSG,
 * -EACCES) ends the walk with its error, m and *ret_binding_len as found below it. */
int cgroup_bind_ancestor_limits(const CgroupLayout *l, const char *path, uint64_t margin, CgroupMemory *m,
                                size_t *ret_binding_len);
