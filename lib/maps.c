/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fileio.h"
#include "log.h"
#include "maps.h"
#include "mounts.h"
#include "strv.h"

/* max_map_count is 65530 by default; an smaps record is about 1 KiB, a maps line a few hundred
 * bytes. A larger file is refused (-EFBIG) rather than truncated. */
#define MAPS_READ_MAX (128U * 1024U * 1024U)

Maps *maps_free(Maps *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                free(m->regions[i].path);
        free(m->regions);
        free(m);
        return NULL;
}

static bool is_lower_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int hex_value(char c) {
        return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Lowercase hex digits up to (not including) the separator sep; advances *p past sep. */
static int parse_hex_field(const char **p, char sep, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (!is_lower_hex(*s))
                return -EBADMSG;
        for (; is_lower_hex(*s); s++) {
                if (v > (UINT64_MAX >> 4))
                        return -EBADMSG;
                v = (v << 4) | (uint64_t) hex_value(*s);
        }
        if (*s != sep)
                return -EBADMSG;
        *p = s + 1;
        *ret = v;
        return 0;
}

static int parse_dec_field(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (*s < '0' || *s > '9')
                return -EBADMSG;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *p = s;
        *ret = v;
        return 0;
}

/* The kernel escapes '\n' in paths as "\012" (seq_path); undo just that. */
static void unescape_newlines(char *s) {
        char *w = s;

        for (const char *r = s; *r;)
                if (r[0] == '\\' && r[1] == '0' && r[2] == '1' && r[3] == '2') {
                        *w++ = '\n';
                        r += 4;
                } else
                        *w++ = *r++;
        *w = '\0';
}

static bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "start-end perms offset maj:min inode [path]" */
static int parse_header(const char *line, MapsRegion *ret) {
        MapsRegion r = {};
        const char *p = line;
        uint64_t major, minor;
        size_t len;
        int k;

        k = parse_hex_field(&p, '-', &r.start);
        if (k < 0)
                return k;
        k = parse_hex_field(&p, ' ', &r.end);
        if (k < 0)
                return k;
        if (r.end <= r.start)
                return -EBADMSG;

        if (strnlen(p, 5) < 5 || p[4] != ' ')
                return -EBADMSG;
        /* "rwxp": each position is its letter or '-', the last 's' (shared) or 'p' (private) */
        for (size_t i = 0; i < 3; i++) {
                static const struct {
                        char c;
                        unsigned prot;
                } bits[3] = { { 'r', PROT_READ }, { 'w', PROT_WRITE }, { 'x', PROT_EXEC } };

                if (p[i] == bits[i].c)
                        r.prot |= bits[i].prot;
                else if (p[i] != '-')
                        return -EBADMSG;
        }
        if (p[3] != 's' && p[3] != 'p')
                return -EBADMSG;
        r.shared = p[3] == 's';
        p += 5;

        k = parse_hex_field(&p, ' ', &r.offset);
        if (k < 0)
                return k;
        k = parse_hex_field(&p, ':', &major);
        if (k < 0)
                return k;
        k = parse_hex_field(&p, ' ', &minor);
        if (k < 0)
                return k;
        if (major > UINT32_MAX || minor > UINT32_MAX)
                return -EBADMSG;
        r.dev_major = (unsigned) major;
        r.dev_minor = (unsigned) minor;
        k = parse_dec_field(&p, &r.inode);
        if (k < 0)
                return k;

        if (*p != '\0' && *p != ' ')
                return -EBADMSG;
        p += strspn(p, " "); /* the kernel pads to a column before the path */
        if (*p == '\0') {
                *ret = r;
                return 0;
        }

        r.path = strdup(p);
        if (!r.path)
                return -ENOMEM;
        len = strlen(r.path);
        if (len > strlen(" (deleted)") && streq(r.path + len - strlen(" (deleted)"), " (deleted)")) {
                r.path[len - strlen(" (deleted)")] = '\0';
                r.deleted = true;
        }
        unescape_newlines(r.path);

        *ret = r;
        return 0;
}

/* Shared anonymous memory, SysV shm and memfds live on the kernel's internal shmem mount and show
 * a path that is no file anyone opened; they are anonymous memory to the user. */
static bool path_is_anonymous_shmem(const MapsRegion *r) {
        return r->deleted && r->path &&
                (streq(r->path, "/dev/zero") || startswith(r->path, "/SYSV") ||
                 startswith(r->path, "/memfd:"));
}

static void classify(MapsRegion *r) {
        const char *p = r->path;

        r->kind = 0;
        r->lockable = true;

        if (!p)
                r->kind = REGION_ANON;
        else if (p[0] == '[') {
                if (streq(p, "[heap]"))
                        r->kind = REGION_HEAP;
                else if (streq(p, "[stack]") || startswith(p, "[stack:"))
                        r->kind = REGION_STACK;
                else if (startswith(p, "[anon:") || startswith(p, "[anon_shmem:"))
                        r->kind = REGION_ANON;
                else
                        /* [vvar], [vvar_vclock], [vsyscall], [vdso], [uprobes], and any special
                         * mapping a newer kernel adds: not ordinary memory, mlock skips them. */
                        r->lockable = false;
        } else if (path_is_anonymous_shmem(r))
                r->kind = REGION_ANON;
        else if (r->prot & PROT_EXEC)
                r->kind = REGION_TEXT;
        else if (r->prot & PROT_WRITE)
                r->kind = REGION_DATA;

        if (r->prot == 0) /* PROT_NONE: guard pages, reserved address space */
                r->lockable = false;
        if (r->vmflags & (VMFLAG_IO | VMFLAG_PFNMAP | VMFLAG_DONTEXPAND | VMFLAG_MIXEDMAP | VMFLAG_HUGETLB))
                r->lockable = false;
        /* mlock2 populating it would fault into handle_userfault() and wait there for a handler
         * the process may never run (issue 14: the injector then waited forever) */
        r->may_block = r->vmflags & VMFLAG_UFFD;
        if (r->may_block)
                r->lockable = false;
}

uint64_t maps_exclude_may_block(Maps *m, const Mounts *mounts) {
        uint64_t bytes = 0;

        for (size_t i = 0; m && i < m->n; i++) {
                MapsRegion *r = &m->regions[i];

                if (r->path && r->path[0] == '/' && r->inode != 0 &&
                    mounts_fstype_may_block(mounts_fstype(mounts, r->dev_major, r->dev_minor))) {
                        r->may_block = true;
                        r->lockable = false;
                }
                if (r->may_block)
                        bytes += r->end - r->start;
        }
        return bytes;
}

static unsigned vmflag_from_string(const char *s, size_t len) {
        static const struct {
                char name[3];
                unsigned flag;
        } table[] = {
                { "lo", VMFLAG_LOCKED },    { "lf", VMFLAG_LOCKONFAULT }, { "io", VMFLAG_IO },
                { "pf", VMFLAG_PFNMAP },    { "de", VMFLAG_DONTEXPAND },  { "mm", VMFLAG_MIXEDMAP },
                { "sh", VMFLAG_SHARED },    { "ht", VMFLAG_HUGETLB },
                { "hg", VMFLAG_HUGEPAGE },  { "nh", VMFLAG_NOHUGEPAGE },
                { "um", VMFLAG_UFFD },      { "uw", VMFLAG_UFFD },      { "ui", VMFLAG_UFFD },
        };

        if (len != 2)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strncmp(table[i].name, s, 2) == 0)
                        return table[i].flag;
        return 0;
}

/* "Key:   1234 kB" for the fields we use; everything else is accepted and ignored. 1 when it was
 * VmFlags (which may change what the region is), 0 otherwise. */
static int parse_smaps_field(const char *line, MapsRegion *r) {
        const char *colon = strchr(line, ':'), *p;
        size_t keylen;
        uint64_t *field = NULL, v;
        int k;

        keylen = (size_t) (colon - line);
        for (size_t i = 0; i < keylen; i++)
                if (!((line[i] >= 'A' && line[i] <= 'Z') || (line[i] >= 'a' && line[i] <= 'z') ||
                      (line[i] >= '0' && line[i] <= '9') || line[i] == '_'))
                        return -EBADMSG;
        p = colon + 1;

        if (keylen == 7 && strncmp(line, "VmFlags", 7) == 0) {
                r->vmflags = 0;
                for (;;) {
                        size_t n;

                        p += strspn(p, " ");
                        if (*p == '\0')
                                break;
                        n = strcspn(p, " ");
                        r->vmflags |= vmflag_from_string(p, n);
                        p += n;
                }
                return 1;
        }

        if (keylen == 3 && strncmp(line, "Rss", 3) == 0)
                field = &r->rss;
        else if (keylen == 6 && strncmp(line, "Locked", 6) == 0)
                field = &r->locked;
        else if (keylen == 4 && strncmp(line, "Swap", 4) == 0)
                field = &r->swap;
        else
                return 0;

        p += strspn(p, " ");
        k = parse_dec_field(&p, &v);
        if (k < 0)
                return k;
        if (!streq(p, " kB"))
                return -EBADMSG;
        if (v > UINT64_MAX / 1024)
                return -EBADMSG;
        *field = v * 1024;
        return 0;
}

static bool is_smaps_field(const char *line) {
        const char *colon = strchr(line, ':');
        /* smaps keys are words; a header line has no ':' before the device field's digits */
        return colon && colon > line && !is_lower_hex(line[0]) &&
                ((line[0] >= 'A' && line[0] <= 'Z') || (line[0] >= 'a' && line[0] <= 'z'));
}

int maps_parse(const char *text, Maps **ret) {
        _cleanup_(maps_freep) Maps *m = NULL;
        _cleanup_free_ char *copy = NULL;
        size_t allocated = 0;
        char *p, *line;
        int r;

        if (!text || !ret)
                return -EINVAL;

        m = calloc(1, sizeof *m);
        copy = strdup(text);
        if (!m || !copy)
                return -ENOMEM;

        p = copy;
        while ((line = next_line(&p))) {
                if (*line == '\0')
                        continue;

                if (is_lower_hex(line[0])) {
                        MapsRegion region;

                        if (m->n >= allocated) {
                                size_t want = allocated ? allocated * 2 : 64;
                                MapsRegion *q = reallocarray(m->regions, want, sizeof *q);
                                if (!q)
                                        return -ENOMEM;
                                m->regions = q;
                                allocated = want;
                        }
                        r = parse_header(line, &region);
                        if (r < 0)
                                return log_debug_errno(r, "maps: bad line \"%s\": %m", line);
                        if (m->n > 0 && region.start < m->regions[m->n - 1].end) {
                                free(region.path);
                                return log_debug_errno(EBADMSG,
                                                       "maps: line \"%s\" overlaps or is out of order", line);
                        }
                        classify(&region);
                        m->regions[m->n++] = region;
                } else if (is_smaps_field(line)) {
                        if (m->n == 0)
                                return log_debug_errno(EBADMSG,
                                                       "maps: smaps field before any mapping: \"%s\"", line);
                        r = parse_smaps_field(line, &m->regions[m->n - 1]);
                        if (r < 0)
                                return log_debug_errno(r, "maps: bad smaps field \"%s\": %m", line);
                        m->smaps = true;
                        if (r > 0) /* VmFlags may change lockable */
                                classify(&m->regions[m->n - 1]);
                } else
                        return log_debug_errno(EBADMSG, "maps: bad line \"%s\"", line);
        }

        *ret = TAKE_PTR(m);
        return 0;
}

int maps_read(const char *proc_root, pid_t pid, bool smaps, Maps **ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if (!proc_root || pid <= 0 || !ret)
                return -EINVAL;

        if (asprintf(&path, "%s/%d/%s", proc_root, (int) pid, smaps ? "smaps" : "maps") < 0)
                return -ENOMEM;

        r = read_full_file(path, MAPS_READ_MAX, &text, NULL);
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;

        return maps_parse(text, ret);
}

bool maps_region_selected(const MapsRegion *r, unsigned regions, char *const *file_globs) {
        if (!r || !r->lockable)
                return false;
        if (regions & REGION_ALL)
                return true;
        if (r->kind & regions)
                return true;

        /* file:GLOB applies to real files only, not to [heap] & co. or anonymous shmem */
        if (r->path && r->path[0] == '/' && r->kind != REGION_ANON)
                STRV_FOREACH(g, file_globs)
                        if (fnmatch(*g, r->path, 0) == 0)
                                return true;
        return false;
}

uint64_t maps_locked_bytes(const Maps *m, uint64_t start, uint64_t end) {
        uint64_t sum = 0;

        if (!m)
                return 0;
        for (size_t i = 0; i < m->n; i++)
                if (m->regions[i].start < end && m->regions[i].end > start)
                        sum += m->regions[i].locked;
        return sum;
}

const MapsRegion *maps_find(const Maps *m, uint64_t addr) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                if (addr >= m->regions[i].start && addr < m->regions[i].end)
                        return &m->regions[i];
        return NULL;
}
