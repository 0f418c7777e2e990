/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "mounts.h"

#define MOUNTINFO_MAX (16U * 1024U * 1024U)

Mounts *mounts_free(Mounts *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                free(m->entries[i].fstype);
        free(m->entries);
        free(m);
        return NULL;
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the device and the type. */
static int parse_line(const char *line, size_t len, MountEntry *ret) {
        _cleanup_free_ char *copy = strndup(line, len);
        unsigned major, minor;
        char *sep, *type, *end;

        if (!copy)
                return -ENOMEM;
        if (sscanf(copy, "%*u %*u %u:%u ", &major, &minor) != 2)
                return -EBADMSG;
        sep = strstr(copy, " - ");
        if (!sep)
                return -EBADMSG;
        type = sep + 3;
        end = strchr(type, ' ');
        if (end)
                *end = '\0';
        if (*type == '\0')
                return -EBADMSG;
        *ret = (MountEntry) { .major = major, .minor = minor, .fstype = strdup(type) };
        return ret->fstype ? 0 : -ENOMEM;
}

int mounts_parse(const char *text, Mounts **ret) {
        _cleanup_(mounts_freep) Mounts *m = NULL;
        size_t allocated = 0;

        if (!text || !ret)
                return -EINVAL;
        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");
                int r;

                if (len > 0) {
                        if (m->n >= allocated) {
                                size_t want = allocated ? allocated * 2 : 32;
                                MountEntry *q = reallocarray(m->entries, want, sizeof *q);

                                if (!q)
                                        return -ENOMEM;
                                m->entries = q;
                                allocated = want;
                        }
                        r = parse_line(p, len, &m->entries[m->n]);
                        if (r < 0)
                                return r;
                        m->n++;
                }
                p += len;
                if (*p == '\n')
                        p++;
        }
        *ret = TAKE_PTR(m);
        return 0;
}

int mounts_read(const char *proc_root, int pid, Mounts **ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        if (asprintf(&path, "%s/%d/mountinfo", proc_root, pid) < 0)
                return -ENOMEM;
        r = read_full_file(path, MOUNTINFO_MAX, &text, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        return mounts_parse(text, ret);
}

const char *mounts_fstype(const Mounts *m, unsigned major, unsigned minor) {
        for (size_t i = 0; m && i < m->n; i++)
                if (m->entries[i].major == major && m->entries[i].minor == minor)
                        return m->entries[i].fstype;
        return NULL;
}

bool mounts_fstype_may_block(const char *fstype) {
        static const char *const blocking[] = {
                "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "9p", "afs", "coda", "ncpfs", "glusterfs",
                "lustre", "gfs2", "ocfs2", "orangefs", "pvfs2", "beegfs", "gpfs", "davfs", "fuse", "fuseblk",
                "virtiofs",
        };

        if (!fstype)
                return false;
        if (strncmp(fstype, "fuse.", 5) == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(blocking); i++)
                if (streq(fstype, blocking[i]))
                        return true;
        return false;
}
