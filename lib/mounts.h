/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Which filesystem a file mapping lives on, from /proc/PID/mountinfo: its third field is the
 * st_dev of the mount ("major:minor", the same numbers /proc/PID/maps shows for each file
 * mapping), the field after " - " its type. Used to leave out of a lock what can block without
 * bound: a page of a file on NFS, CIFS, Ceph, 9p or FUSE is read by a server that may never
 * answer, and an injected mlock2 populating it would hold the target, and the injector, with it. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

typedef struct MountEntry {
        unsigned major, minor;
        char *fstype;
} MountEntry;

typedef struct Mounts {
        MountEntry *entries;
        size_t n;
} Mounts;

/* mountinfo text (proc(5)); -EBADMSG for a malformed line. */
int mounts_parse(const char *text, Mounts **ret);
/* proc_root/PID/mountinfo (readable by anyone: no ptrace access needed). -ESRCH when gone. */
int mounts_read(const char *proc_root, int pid, Mounts **ret);
Mounts *mounts_free(Mounts *m);
DEFINE_CLEANUP(Mounts *, mounts_free);

/* The filesystem type of device major:minor, NULL when no mount has it. */
const char *mounts_fstype(const Mounts *m, unsigned major, unsigned minor);
/* Network, cluster and FUSE filesystems: nfs, nfs4, cifs, smb3, ceph, 9p, fuse, fuse.*, ... */
bool mounts_fstype_may_block(const char *fstype);
