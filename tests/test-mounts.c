/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maps.h"
#include "mounts.h"
#include "tests.h"

static const char mountinfo[] =
        "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro\n"
        "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
        "40 22 0:45 / /mnt/nfs rw,relatime shared:20 - nfs4 srv:/export rw,vers=4.2\n"
        "41 22 0:46 / /home/u/sshfs rw,nosuid,nodev,relatime shared:21 - fuse.sshfs u@h:/ rw,user_id=1000\n"
        "42 22 0:47 /sub /mnt/bind rw master:3 - cifs //srv/share rw\n"
        "43 22 0:48 / /tmp rw,nosuid,nodev shared:22 - tmpfs tmpfs rw\n";

/* a file on each, an anonymous area, a userfaultfd-registered one */
static const char smaps[] =
        "00400000-00401000 r-xp 00000000 fe:01 1234 /usr/bin/prog\n"
        "VmFlags: rd ex mr mw me\n"
        "7f0000000000-7f0000100000 r--s 00000000 00:2d 99 /mnt/nfs/data\n"
        "VmFlags: rd sh mr mw me ms\n"
        "7f0000100000-7f0000200000 r--p 00000000 00:2e 98 /home/u/sshfs/lib.so\n"
        "VmFlags: rd mr mw me\n"
        "7f0000200000-7f0000300000 r--p 00000000 00:30 97 /tmp/file\n"
        "VmFlags: rd mr mw me\n"
        "7f0000300000-7f0000400000 rw-p 00000000 00:00 0 \n"
        "VmFlags: rd wr mr mw me ac\n"
        "7f0000400000-7f0000500000 rw-p 00000000 00:00 0 \n"
        "VmFlags: rd wr mr mw me ac um\n"
        "7f0000500000-7f0000600000 rw-p 00000000 00:00 0 \n"
        "VmFlags: rd wr mr mw me ac uw\n"
        "7f0000600000-7f0000700000 rw-p 00000000 00:00 0 \n"
        "VmFlags: rd wr mr mw me ac ui\n";

int main(void) {
        _cleanup_(mounts_freep) Mounts *m = NULL, *self = NULL;
        _cleanup_(maps_freep) Maps *maps = NULL;
        Mounts *bad = NULL;

        ASSERT_OK(mounts_parse(mountinfo, &m));
        ASSERT_EQ(m->n, 6);
        ASSERT_STREQ(mounts_fstype(m, 254, 1), "ext4");
        ASSERT_STREQ(mounts_fstype(m, 0, 45), "nfs4");
        ASSERT_STREQ(mounts_fstype(m, 0, 46), "fuse.sshfs");
        ASSERT_STREQ(mounts_fstype(m, 0, 47), "cifs");
        ASSERT_NULL(mounts_fstype(m, 0, 99));
        ASSERT_ERROR(mounts_parse("22 1 254:1 / / rw shared:1 ext4 /dev/vda1 rw\n", &bad), EBADMSG);
        ASSERT_ERROR(mounts_parse("garbage\n", &bad), EBADMSG);
        ASSERT_NULL(bad);

        ASSERT_TRUE(mounts_fstype_may_block("nfs"));
        ASSERT_TRUE(mounts_fstype_may_block("nfs4"));
        ASSERT_TRUE(mounts_fstype_may_block("cifs"));
        ASSERT_TRUE(mounts_fstype_may_block("smb3"));
        ASSERT_TRUE(mounts_fstype_may_block("ceph"));
        ASSERT_TRUE(mounts_fstype_may_block("9p"));
        ASSERT_TRUE(mounts_fstype_may_block("fuse"));
        ASSERT_TRUE(mounts_fstype_may_block("fuse.sshfs"));
        ASSERT_TRUE(mounts_fstype_may_block("fuseblk"));
        ASSERT_FALSE(mounts_fstype_may_block("ext4"));
        ASSERT_FALSE(mounts_fstype_may_block("tmpfs"));
        ASSERT_FALSE(mounts_fstype_may_block("fusectl")); /* the control filesystem, nothing mapped */
        ASSERT_FALSE(mounts_fstype_may_block("nfsd"));
        ASSERT_FALSE(mounts_fstype_may_block(NULL));

        /* maps shows devices in hex (00:2d), mountinfo in decimal (0:45): the same device */
        ASSERT_OK(maps_parse(smaps, &maps));
        ASSERT_EQ(maps->n, 8);
        /* userfaultfd-registered: never lockable, whatever the mounts */
        for (size_t i = 5; i < 8; i++) {
                ASSERT_TRUE(maps->regions[i].vmflags & VMFLAG_UFFD);
                ASSERT_TRUE(maps->regions[i].may_block);
                ASSERT_FALSE(maps->regions[i].lockable);
        }
        ASSERT_TRUE(maps->regions[4].lockable);
        ASSERT_FALSE(maps->regions[4].may_block);
        /* without mounts (LockNetworkFiles=yes): only the userfaultfd areas */
        ASSERT_EQ_U64(maps_exclude_may_block(maps, NULL), 3 * 0x100000);
        ASSERT_TRUE(maps->regions[1].lockable);
        /* with them: the NFS and sshfs files too, not the ext4 binary nor the tmpfs file */
        ASSERT_EQ_U64(maps_exclude_may_block(maps, m), 5 * 0x100000);
        ASSERT_TRUE(maps->regions[0].lockable);
        ASSERT_FALSE(maps->regions[1].lockable);
        ASSERT_TRUE(maps->regions[1].may_block);
        ASSERT_FALSE(maps->regions[2].lockable);
        ASSERT_TRUE(maps->regions[3].lockable);
        ASSERT_TRUE(maps->regions[4].lockable);
        ASSERT_FALSE(maps_region_selected(&maps->regions[1], REGION_ALL, NULL));

        /* our own mountinfo parses, and the root filesystem is in it */
        ASSERT_OK(mounts_read("/proc", (int) getpid(), &self));
        ASSERT_TRUE(self->n > 0);
        ASSERT_ERROR(mounts_read("/proc", 0x7ffffff0, &self), ESRCH);
        return 0;
}
