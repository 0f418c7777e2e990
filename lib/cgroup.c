/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"

/* memory.stat is a few KiB; limit and usage files one short line; /proc/PID/cgroup one line per
 * hierarchy, each path at most PATH_MAX-ish. */
#define CGROUP_STAT_MAX (64U * 1024U)
#define CGROUP_VALUE_MAX 256U
#define PROC_CGROUP_MAX (256U * 1024U)

/* v1 reports "no limit" as PAGE_COUNTER_MAX pages, i.e. INT64_MAX rounded down to the page size. */
#define CGROUP_V1_UNLIMITED_MIN ((uint64_t) INT64_MAX - (UINT64_C(1) << 20))

static const char *const cgroup_version_table[_CGROUP_VERSION_MAX] = {
        [CGROUP_V1] = "v1",
        [CGROUP_V2] = "v2",
};

const char *cgroup_version_to_string(CgroupVersion v) {
        if (v < 0 || v >= _CGROUP_VERSION_MAX)
                return NULL;
        return cgroup_version_table[v];
}

/* Whether a space-separated cgroup.controllers file lists "memory". */
static int controllers_file_has_memory(int dir_fd, const char *path) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_full_file_at(dir_fd, path, CGROUP_VALUE_MAX * 16, &text, NULL);
        if (r < 0)
                return r;
        for (char *p = text;;) {
                size_t n;

                p += strspn(p, " \t\n");
                if (!*p)
                        return 0;
                n = strcspn(p, " \t\n");
                if (n == strlen("memory") && strncmp(p, "memory", n) == 0)
                        return 1;
                p += n;
        }
}

static int layout_make(CgroupVersion v, const char *root, const char *sub, CgroupLayout *ret) {
        char *s;

        if (sub) {
                if (asprintf(&s, "%s/%s", root, sub) < 0)
                        return -ENOMEM;
        } else {
                s = strdup(root);
                if (!s)
                        return -ENOMEM;
        }
        *ret = (CgroupLayout) {
                .memory_version = v,
                .memory_root = s,
        };
        return 0;
}

int cgroup_layout_detect(const char *cgroupfs_root, CgroupLayout *ret) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (isempty(cgroupfs_root) || !ret)
                return -EINVAL;

        fd = open(cgroupfs_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        r = controllers_file_has_memory(fd, "cgroup.controllers");
        if (r > 0)
                return layout_make(CGROUP_V2, cgroupfs_root, NULL, ret);
        if (r < 0 && r != -ENOENT)
                log_debug_errno(r, "Failed to read %s/cgroup.controllers, ignoring: %m", cgroupfs_root);

        if (faccessat(fd, "memory/memory.stat", F_OK, 0) >= 0)
                return layout_make(CGROUP_V1, cgroupfs_root, "memory", ret);

        r = controllers_file_has_memory(fd, "unified/cgroup.controllers");
        if (r > 0)
                return layout_make(CGROUP_V2, cgroupfs_root, "unified", ret);

        log_debug("No memory cgroup controller below %s.", cgroupfs_root);
        return -ENOMEDIUM;
}

void cgroup_layout_done(CgroupLayout *l) {
        if (!l)
                return;
        free(l->memory_root);
        l->memory_root = NULL;
        l->memory_version = _CGROUP_VERSION_INVALID;
}

/* Does the comma-separated controller list [s, s+n) contain word? */
static bool controller_list_has(const char *s, size_t n, const char *word) {
        size_t wl = strlen(word);

        while (n > 0) {
                size_t k = 0;

                while (k < n && s[k] != ',')
                        k++;
                if (k == wl && strncmp(s, word, wl) == 0)
                        return true;
                if (k == n)
                        break;
                s += k + 1;
                n -= k + 1;
        }
        return false;
}

/* Store a copy of path in *slot; -EBADMSG when the slot is already taken (a repeated entry is a
 * forged line from a path with a newline in it). */
static int paths_set(char **slot, const char *path) {
        if (*slot)
                return -EBADMSG;
        *slot = strdup(path);
        return *slot ? 0 : -ENOMEM;
}

int cgroup_paths_parse(const char *text, CgroupPaths *ret) {
        _cleanup_(cgroup_paths_done) CgroupPaths p = {};
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ uint64_t *ids = NULL;
        size_t n_ids = 0, allocated = 0;
        char *cursor, *line;
        int r;

        if (!text || !ret)
                return -EINVAL;

        buf = strdup(text);
        if (!buf)
                return -ENOMEM;

        cursor = buf;
        while ((line = next_line(&cursor))) {
                const char *c1, *c2, *path;
                uint64_t id;

                /* an empty line (a path ending in a newline) is malformed like any other;
                 * next_line() does not return the nothing after the final '\n' */
                c1 = strchr(line, ':');
                if (!c1)
                        return -EBADMSG;
                c2 = strchr(c1 + 1, ':');
                if (!c2)
                        return -EBADMSG;
                path = c2 + 1; /* may itself contain ':' */

                if (c1 == line || strspn(line, "0123456789") != (size_t) (c1 - line))
                        return -EBADMSG;
                errno = 0;
                id = strtoull(line, NULL, 10);
                if (errno != 0)
                        return -EBADMSG;
                if (path[0] != '/')
                        return -EBADMSG;

                for (size_t i = 0; i < n_ids; i++)
                        if (ids[i] == id)
                                return -EBADMSG;
                if (n_ids >= allocated) {
                        size_t want = allocated ? allocated * 2 : 16;
                        uint64_t *q = reallocarray(ids, want, sizeof *ids);
                        if (!q)
                                return -ENOMEM;
                        ids = q;
                        allocated = want;
                }
                ids[n_ids++] = id;

                if (c2 == c1 + 1) {
                        /* only the unified hierarchy (ID 0) has no controller list */
                        if (id != 0)
                                return -EBADMSG;
                        r = paths_set(&p.unified, path);
                } else {
                        const char *list = c1 + 1;
                        size_t n = (size_t) (c2 - list);

                        if (id == 0)
                                return -EBADMSG;
                        r = 0;
                        if (controller_list_has(list, n, "memory"))
                                r = paths_set(&p.memory, path);
                        if (r >= 0 && controller_list_has(list, n, "name=systemd"))
                                r = paths_set(&p.systemd, path);
                }
                if (r < 0)
                        return r;
        }

        if (n_ids == 0)
                return -EBADMSG;

        if (!p.memory && p.unified) {
                p.memory = strdup(p.unified);
                if (!p.memory)
                        return -ENOMEM;
        }

        *ret = p;
        p = (CgroupPaths) {};
        return 0;
}

int cgroup_pid_get_paths(const char *proc_root, pid_t pid, CgroupPaths *ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if (isempty(proc_root) || pid <= 0 || !ret)
                return -EINVAL;

        if (asprintf(&path, "%s/%d/cgroup", proc_root, (int) pid) < 0)
                return -ENOMEM;
        r = read_full_file(path, PROC_CGROUP_MAX, &text, NULL);
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;
        /* a process that exited between open and read shows an empty file */
        if (!*text)
                return -ESRCH;

        r = cgroup_paths_parse(text, ret);
        if (r < 0)
                return log_debug_errno(r, "Failed to parse %s: %m", path);
        return 0;
}

void cgroup_paths_done(CgroupPaths *p) {
        if (!p)
                return;
        free(p->memory);
        free(p->unified);
        free(p->systemd);
        *p = (CgroupPaths) {};
}

const char *cgroup_paths_match_path(const CgroupPaths *p) {
        if (!p)
                return NULL;
        if (p->unified && (!streq(p->unified, "/") || !p->systemd))
                return p->unified;
        if (p->systemd)
                return p->systemd;
        return p->memory;
}

/* An absolute path without "." or ".." components: it is appended to the memory root and must not
 * leave it. Empty components ("//") are harmless. */
static bool cgroup_path_is_safe(const char *path) {
        if (!path || path[0] != '/')
                return false;
        for (const char *p = path; *p;) {
                size_t n;

                p += strspn(p, "/");
                n = strcspn(p, "/");
                if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += n;
        }
        return true;
}

static int parse_value(const char *s, uint64_t *ret) {
        _cleanup_free_ char *copy = NULL;
        size_t n = strcspn(s, "\n");

        if (s[n] == '\n' && s[n + 1] != '\0')
                return -EBADMSG;
        copy = strndup(s, n);
        if (!copy)
                return -ENOMEM;
        if (streq(copy, "max")) {
                *ret = UINT64_MAX;
                return 0;
        }
        return parse_uint64(copy, ret) < 0 ? -EBADMSG : 0;
}

int cgroup_memory_stat_parse(CgroupVersion v, const char *text, CgroupMemory *m) {
        _cleanup_free_ char *buf = NULL;
        uint64_t local = 0, total = 0;
        bool have_local = false, have_total = false;
        char *cursor, *line;

        if (!text || !m || (v != CGROUP_V1 && v != CGROUP_V2))
                return -EINVAL;

        buf = strdup(text);
        if (!buf)
                return -ENOMEM;

        cursor = buf;
        while ((line = next_line(&cursor))) {
                char *sp = strchr(line, ' ');
                uint64_t x;

                if (!sp)
                        continue;
                *sp = '\0';
                if (streq(line, "unevictable")) {
                        if (parse_uint64(sp + 1, &x) < 0)
                                return -EBADMSG;
                        local = x;
                        have_local = true;
                } else if (v == CGROUP_V1 && streq(line, "total_unevictable")) {
                        if (parse_uint64(sp + 1, &x) < 0)
                                return -EBADMSG;
                        total = x;
                        have_total = true;
                }
        }

        if (!have_local || (v == CGROUP_V1 && !have_total))
                return -EBADMSG;

        m->unevictable_local = local;
        m->unevictable = v == CGROUP_V1 ? total : local;
        return 0;
}

/* Read one "NUMBER\n" or "max\n" file below dir_fd. */
static int read_value_at(int dir_fd, const char *name, uint64_t *ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_full_file_at(dir_fd, name, CGROUP_VALUE_MAX, &text, NULL);
        if (r < 0)
                return r;
        return parse_value(text, ret);
}

int cgroup_read_memory_at(const CgroupLayout *l, int dir_fd, bool is_root, CgroupMemory *ret) {
        _cleanup_free_ char *stat = NULL;
        CgroupMemory m = {};
        int r;

        if (!l || dir_fd < 0 || !ret)
                return -EINVAL;
        if (l->memory_version != CGROUP_V1 && l->memory_version != CGROUP_V2)
                return -EINVAL;

        r = read_full_file_at(dir_fd, "memory.stat", CGROUP_STAT_MAX, &stat, NULL);
        if (r == -ENOENT) {
                /* a removed cgroup's directory fd still works but lists nothing: tell vanished from
                 * "no memory controller here" by looking at cgroup.procs, present in every cgroup */
                if (faccessat(dir_fd, "cgroup.procs", F_OK, 0) < 0)
                        return -ENOENT;
                return -ENOMEDIUM;
        }
        if (r < 0)
                return r;
        r = cgroup_memory_stat_parse(l->memory_version, stat, &m);
        if (r < 0)
                return log_debug_errno(r, "Failed to parse memory.stat: %m");

        if (l->memory_version == CGROUP_V2) {
                r = read_value_at(dir_fd, "memory.max", &m.limit);
                if (r == -ENOENT && is_root)
                        m.limit = UINT64_MAX;
                else if (r < 0)
                        return r;
                r = read_value_at(dir_fd, "memory.current", &m.usage);
                if (r == -ENOENT && is_root)
                        m.usage = 0;
                else if (r < 0)
                        return r;
        } else {
                r = read_value_at(dir_fd, "memory.limit_in_bytes", &m.limit);
                if (r < 0)
                        return r;
                if (m.limit >= CGROUP_V1_UNLIMITED_MIN)
                        m.limit = UINT64_MAX;
                r = read_value_at(dir_fd, "memory.usage_in_bytes", &m.usage);
                if (r < 0)
                        return r;
        }
        if (m.usage == UINT64_MAX)
                return -EBADMSG; /* "max" is no usage */

        *ret = m;
        return 0;
}

int cgroup_read_memory(const CgroupLayout *l, const char *path, CgroupMemory *ret) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int fd = -EBADF;
        bool is_root;
        int r;

        if (!l || !l->memory_root || !ret || !cgroup_path_is_safe(path))
                return -EINVAL;
        if (l->memory_version != CGROUP_V1 && l->memory_version != CGROUP_V2)
                return -EINVAL;

        is_root = path[strspn(path, "/")] == '\0';
        if (asprintf(&dir, "%s%s", l->memory_root, is_root ? "" : path) < 0)
                return -ENOMEM;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        r = cgroup_read_memory_at(l, fd, is_root, ret);
        if (r < 0)
                return log_debug_errno(r, "Failed to read memory of cgroup %s: %m", dir);
        return 0;
}

uint64_t cgroup_lockable_bytes(const CgroupMemory *m, uint64_t budget, uint64_t margin) {
        uint64_t r = UINT64_MAX;

        if (!m)
                return 0;

        if (budget > 0)
                r = budget > m->unevictable ? budget - m->unevictable : 0;

        if (m->limit != UINT64_MAX) {
                uint64_t room = 0;

                if (m->limit > margin && m->limit - margin > m->usage)
                        room = m->limit - margin - m->usage;
                r = MIN(r, room);
        }
        return r;
}
