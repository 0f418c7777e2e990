/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#define CGROUP_STAT_BUF (8U * 1024U) /* read on the stack; v1 with total_* is about 1.5 KiB */
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

/* "NUMBER" or "max", then an optional '\n' and nothing else, in [s, s+n). No allocation. */
static int parse_value(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        if (n > 0 && s[n - 1] == '\n')
                n--;
        if (n == 3 && memcmp(s, "max", 3) == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (n == 0)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                unsigned d = (unsigned) (s[i] - '0');

                if (d > 9 || v > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

/* The value of a memory.stat line "KEY NUMBER": [p, line_end) after the key and its space. */
static int stat_value(const char *p, const char *line_end, uint64_t *ret) {
        return p < line_end ? parse_value(p, (size_t) (line_end - p), ret) : -EBADMSG;
}

/* A fingerprint of the text, 8 bytes at a time (memory.stat is 1.5-5 KiB: this costs less than
 * reading it). Not a defence against anyone: the kernel writes the text. */
static uint64_t stat_fingerprint(const char *s, size_t n) {
        uint64_t h = UINT64_C(0xcbf29ce484222325) ^ n;
        size_t i = 0;

        for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t)) {
                uint64_t w;

                memcpy(&w, s + i, sizeof w);
                h = (h ^ w) * UINT64_C(0x100000001b3);
                h ^= h >> 29;
        }
        for (; i < n; i++)
                h = (h ^ (unsigned char) s[i]) * UINT64_C(0x100000001b3);
        return h;
}

int cgroup_memory_stat_parse(CgroupVersion v, const char *text, CgroupMemory *m) {
        static const char k_local[] = "unevictable ", k_total[] = "total_unevictable ";
        const char *line;
        uint64_t local = 0, total = 0;
        bool have_local = false, have_total = false;

        if (!text || !m || (v != CGROUP_V1 && v != CGROUP_V2))
                return -EINVAL;

        /* one pass, in place: each line is looked at once, by its first bytes */
        for (line = text; *line;) {
                const char *nl = strchrnul(line, '\n');
                size_t n = (size_t) (nl - line);

                if (n > strlen(k_local) && memcmp(line, k_local, strlen(k_local)) == 0) {
                        if (stat_value(line + strlen(k_local), nl, &local) < 0)
                                return -EBADMSG;
                        have_local = true;
                } else if (v == CGROUP_V1 && n > strlen(k_total) && memcmp(line, k_total, strlen(k_total)) == 0) {
                        if (stat_value(line + strlen(k_total), nl, &total) < 0)
                                return -EBADMSG;
                        have_total = true;
                } else if (n == strlen("unevictable") && memcmp(line, k_local, n) == 0)
                        return -EBADMSG; /* the key without a value */
                line = *nl ? nl + 1 : nl;
        }

        if (!have_local || (v == CGROUP_V1 && !have_total))
                return -EBADMSG;

        m->unevictable_local = local;
        m->unevictable = v == CGROUP_V1 ? total : local;
        m->stat_hash = stat_fingerprint(text, (size_t) (line - text));
        return 0;
}

/* Read all of dir_fd/name into buf (NUL-terminated) with one open and as few read()s as it
 * takes; -EFBIG when it does not fit. A read that returns less than it was given room for has
 * reached the end: cgroupfs makes a file's text whole in one go (seq_file, one record) and hands
 * out all that fits, as a regular file (the fixtures) does; so a tick costs one read, not a second
 * one to see 0. */
static int read_small_file_at(int dir_fd, const char *name, char *buf, size_t size, size_t *ret_len) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = 0;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t k;

                if (len >= size - 1)
                        return -EFBIG;
                k = read(fd, buf + len, size - 1 - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if ((size_t) k < size - 1 - (len - (size_t) k))
                        break;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return 0;
}

/* prefix + name into buf: prefix is "" (name relative to dir_fd) or "/root/path/" */
static const char *join(char *buf, size_t size, const char *prefix, const char *name) {
        int k = snprintf(buf, size, "%s%s", prefix, name);

        return k >= 0 && (size_t) k < size ? buf : NULL;
}

static int read_stat(CgroupVersion v, int dir_fd, const char *prefix, CgroupMemory *m) {
        char name[PATH_MAX], small[CGROUP_STAT_BUF];
        _cleanup_free_ char *large = NULL;
        const char *text = small;
        int r;

        if (!join(name, sizeof name, prefix, "memory.stat"))
                return -ENAMETOOLONG;
        r = read_small_file_at(dir_fd, name, small, sizeof small, NULL);
        if (r == -EFBIG) {
                /* an unusually long memory.stat: take the slow road once */
                r = read_full_file_at(dir_fd, name, CGROUP_STAT_MAX, &large, NULL);
                text = large;
        }
        if (r == -ENOENT) {
                /* a removed cgroup's directory fd still works but lists nothing: tell vanished from
                 * "no memory controller here" by looking at cgroup.procs, present in every cgroup */
                if (!join(name, sizeof name, prefix, "cgroup.procs") || faccessat(dir_fd, name, F_OK, 0) < 0)
                        return -ENOENT;
                return -ENOMEDIUM;
        }
        if (r < 0)
                return r;
        r = cgroup_memory_stat_parse(v, text, m);
        if (r < 0)
                return log_debug_errno(r, "Failed to parse memory.stat: %m");
        return 0;
}

/* Read one "NUMBER\n" or "max\n" file; *ret is left alone on error. Where may_be_missing (the v2
 * root has no memory.max nor memory.current), a missing file is missing_value. */
static int read_value(int dir_fd, const char *prefix, const char *file, bool may_be_missing,
                      uint64_t missing_value, uint64_t *ret) {
        char name[PATH_MAX], text[CGROUP_VALUE_MAX];
        size_t len;
        int r;

        if (!join(name, sizeof name, prefix, file))
                return -ENAMETOOLONG;
        r = read_small_file_at(dir_fd, name, text, sizeof text, &len);
        if (r == -ENOENT && may_be_missing) {
                *ret = missing_value;
                return 0;
        }
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        return parse_value(text, len, ret);
}

static int read_fields(const CgroupLayout *l, int dir_fd, const char *prefix, bool is_root,
                       CgroupReadFlags what, CgroupMemory *ret) {
        CgroupMemory m = *ret;
        bool v2 = l->memory_version == CGROUP_V2;
        int r;

        if (what & CGROUP_READ_STAT) {
                r = read_stat(l->memory_version, dir_fd, prefix, &m);
                if (r < 0)
                        return r;
        }
        if (what & CGROUP_READ_LIMIT) {
                r = read_value(dir_fd, prefix, v2 ? "memory.max" : "memory.limit_in_bytes", v2 && is_root,
                               UINT64_MAX, &m.limit);
                if (r < 0)
                        return r;
                if (!v2 && m.limit >= CGROUP_V1_UNLIMITED_MIN)
                        m.limit = UINT64_MAX;
                if (v2) {
                        /* Above memory.high the kernel reclaims from the cgroup and throttles
                         * the tasks that allocate in it, and locked memory cannot be reclaimed
                         * to get back below: for locking it is a limit as much as memory.max.
                         * Missing (the root, a fixture) is "max", as for the root's memory.max. */
                        uint64_t high = UINT64_MAX;

                        r = read_value(dir_fd, prefix, "memory.high", true, UINT64_MAX, &high);
                        if (r < 0)
                                return r;
                        m.limit = MIN(m.limit, high);
                }
        }
        if (what & CGROUP_READ_USAGE) {
                r = read_value(dir_fd, prefix, v2 ? "memory.current" : "memory.usage_in_bytes", v2 && is_root, 0,
                               &m.usage);
                if (r < 0)
                        return r;
                if (m.usage == UINT64_MAX)
                        return -EBADMSG; /* "max" is no usage */
        }

        *ret = m;
        return 0;
}

static bool layout_ok(const CgroupLayout *l) {
        return l && (l->memory_version == CGROUP_V1 || l->memory_version == CGROUP_V2);
}

int cgroup_read_memory_at(const CgroupLayout *l, int dir_fd, bool is_root, CgroupMemory *ret) {
        if (!layout_ok(l) || dir_fd < 0 || !ret)
                return -EINVAL;
        return read_fields(l, dir_fd, "", is_root, CGROUP_READ_ALL, ret);
}

/* The memory cgroup path's directory in the memory hierarchy, with a trailing slash, in prefix. */
static int memory_dir(const CgroupLayout *l, const char *path, char prefix[static PATH_MAX], bool *ret_is_root) {
        bool is_root;
        int k;

        if (!layout_ok(l) || !l->memory_root || !cgroup_path_is_safe(path))
                return -EINVAL;
        is_root = path[strspn(path, "/")] == '\0';
        k = snprintf(prefix, PATH_MAX, "%s%s/", l->memory_root, is_root ? "" : path);
        if (k < 0 || k >= PATH_MAX)
                return -ENAMETOOLONG;
        if (ret_is_root)
                *ret_is_root = is_root;
        return 0;
}

int cgroup_read_memory_fields(const CgroupLayout *l, const char *path, CgroupReadFlags what, CgroupMemory *ret) {
        char prefix[PATH_MAX];
        bool is_root;
        int r;

        if (!ret || (what & ~CGROUP_READ_ALL) != 0)
                return -EINVAL;
        /* absolute names, one open per file read: no directory fd, no allocation */
        r = memory_dir(l, path, prefix, &is_root);
        if (r < 0)
                return r;

        r = read_fields(l, AT_FDCWD, prefix, is_root, what, ret);
        if (r < 0)
                return log_debug_errno(r, "Failed to read memory of cgroup %s: %m", prefix);
        return 0;
}

int cgroup_inode(const CgroupLayout *l, const char *path, uint64_t *ret) {
        char dir[PATH_MAX];
        struct stat st;
        int r;

        if (!ret)
                return -EINVAL;
        r = memory_dir(l, path, dir, NULL);
        if (r < 0)
                return r;
        if (stat(dir, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        *ret = (uint64_t) st.st_ino;
        return 0;
}

int cgroup_read_memory(const CgroupLayout *l, const char *path, CgroupMemory *ret) {
        return cgroup_read_memory_fields(l, path, CGROUP_READ_ALL, ret);
}

static uint64_t limit_room(uint64_t limit, uint64_t usage, uint64_t margin) {
        if (limit == UINT64_MAX)
                return UINT64_MAX;
        return limit > margin && limit - margin > usage ? limit - margin - usage : 0;
}

uint64_t cgroup_lockable_bytes(const CgroupMemory *m, uint64_t budget, uint64_t margin) {
        uint64_t r = UINT64_MAX;

        if (!m)
                return 0;

        if (budget > 0)
                r = budget > m->unevictable ? budget - m->unevictable : 0;

        return MIN(r, limit_room(m->limit, m->usage, margin));
}

int cgroup_bind_ancestor_limits(const CgroupLayout *l, const char *path, uint64_t margin, CgroupMemory *m,
                                size_t *ret_binding_len) {
        char parent[PATH_MAX];
        uint64_t room;
        size_t len, binding;
        int r = 0;

        if (!m || !path || !cgroup_path_is_safe(path))
                return -EINVAL;
        len = strlen(path);
        if (len >= sizeof parent)
                return -ENAMETOOLONG;
        memcpy(parent, path, len + 1);
        while (len > 1 && parent[len - 1] == '/')
                parent[--len] = '\0';
        binding = strlen(path);
        room = limit_room(m->limit, m->usage, margin);

        while (len > 1) {
                CgroupMemory a = {};
                char *slash = memrchr(parent, '/', len);

                if (!slash)
                        break; /* relative: refused by cgroup_path_is_safe() */
                len = slash == parent ? 1 : (size_t) (slash - parent);
                parent[len] = '\0';

                r = cgroup_read_memory_fields(l, parent, CGROUP_READ_LIMIT, &a);
                if (r >= 0 && a.limit != UINT64_MAX)
                        r = cgroup_read_memory_fields(l, parent, CGROUP_READ_USAGE, &a);
                if (r == -ENOENT || r == -ENOMEDIUM) {
                        r = 0; /* vanished, or no memory files: passed over */
                        continue;
                }
                if (r < 0)
                        break; /* what was found below it stands, with its length */
                if (limit_room(a.limit, a.usage, margin) < room) { /* never for "max" */
                        room = limit_room(a.limit, a.usage, margin);
                        m->limit = a.limit;
                        m->usage = a.usage;
                        binding = len;
                }
        }
        if (ret_binding_len)
                *ret_binding_len = binding;
        return r;
}
