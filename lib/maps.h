/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The planner's input: /proc/PID/maps or /proc/PID/smaps parsed into regions, each classified
 * into the one Regions= kind it belongs to (regions.h) and marked lockable or not.
 *
 * Not lockable (mlock skips them or they are not memory): [vvar], [vvar_vclock], [vsyscall],
 * [vdso], [uprobes] and other kernel special mappings, PROT_NONE areas (guard pages), and per
 * smaps VmFlags VM_IO (io), VM_PFNMAP (pf), VM_DONTEXPAND (de), VM_MIXEDMAP (mm) and hugetlb (ht);
 * nor what can block a lock step without bound (may_block): userfaultfd-registered areas (VmFlags
 * um, uw, ui), and with maps_exclude_may_block() files on network and FUSE filesystems.
 *
 * Kinds: TEXT = file-backed and executable; DATA = file-backed and writable; ANON = anonymous
 * (no path, "[anon:NAME]", shared anonymous memory "/dev/zero (deleted)", SysV shm, memfd);
 * HEAP = "[heap]"; STACK = "[stack]"; 0 = file-backed read-only (selected by all or file:GLOB).
 * Paths may contain spaces; a trailing " (deleted)" is stripped and recorded; the kernel's "\012"
 * escape of a newline is undone. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "regions.h"

enum {
        VMFLAG_LOCKED = 1U << 0,      /* lo */
        VMFLAG_LOCKONFAULT = 1U << 1, /* lf */
        VMFLAG_IO = 1U << 2,          /* io */
        VMFLAG_PFNMAP = 1U << 3,      /* pf */
        VMFLAG_DONTEXPAND = 1U << 4,  /* de */
        VMFLAG_MIXEDMAP = 1U << 5,    /* mm */
        VMFLAG_SHARED = 1U << 6,      /* sh */
        VMFLAG_HUGETLB = 1U << 7,     /* ht */
        VMFLAG_HUGEPAGE = 1U << 8,    /* hg: MADV_HUGEPAGE */
        VMFLAG_NOHUGEPAGE = 1U << 9,  /* nh: MADV_NOHUGEPAGE */
        VMFLAG_UFFD = 1U << 10,       /* um, uw, ui: registered with a userfaultfd */
};

typedef struct MapsRegion {
        uint64_t start, end;
        unsigned prot; /* PROT_READ | PROT_WRITE | PROT_EXEC */
        bool shared;
        uint64_t offset;
        unsigned dev_major, dev_minor;
        uint64_t inode;
        char *path;    /* NULL for anonymous; "[heap]", "[stack]", a file path */
        bool deleted;  /* path ended in " (deleted)" (stripped from path) */
        unsigned kind; /* the single REGION_* kind it belongs to: TEXT, DATA, ANON, HEAP,
                          STACK, or 0 for file-backed read-only/other */
        bool lockable; /* false for [vvar], [vsyscall], [vdso], PROT_NONE, io/pf, and may_block */
        bool may_block; /* a lock step could wait on it without bound: userfaultfd-registered (a
                           fault waits for a handler that may never come), or a file on a network
                           or FUSE filesystem (maps_exclude_may_block()); never lockable */
        /* from smaps only (0 when parsed from maps) */
        uint64_t rss, locked, swap; /* bytes */
        unsigned vmflags;           /* VMFLAG_* */
} MapsRegion;

typedef struct Maps {
        MapsRegion *regions;
        size_t n;
        bool smaps; /* parsed from smaps: rss, locked, swap, vmflags are meaningful */
} Maps;

/* maps or smaps format (detects smaps fields). -EBADMSG for malformed text. */
int maps_parse(const char *text, Maps **ret);
/* proc_root/PID/maps or .../smaps. -ESRCH when the process is gone. */
int maps_read(const char *proc_root, pid_t pid, bool smaps, Maps **ret);
Maps *maps_free(Maps *m);
DEFINE_CLEANUP(Maps *, maps_free);

/* Does region r belong to the policy's selection (REGION_* mask, file:GLOB patterns)?
 * Always false when !r->lockable. REGION_ALL selects every lockable region. file_globs (may be
 * NULL) are fnmatch(3) patterns without FNM_PATHNAME ('*' crosses '/') matched against the paths
 * of file-backed regions; they apply whether or not REGION_FILE is in the mask. */
bool maps_region_selected(const MapsRegion *r, unsigned regions, char *const *file_globs);

/* Sums over regions overlapping [start, end) (whole regions; start=0,end=UINT64_MAX: all). */
uint64_t maps_locked_bytes(const Maps *m, uint64_t start, uint64_t end);

typedef struct Mounts Mounts;
/* Mark may_block (and not lockable) each file mapping whose device mounts says is a network or
 * FUSE filesystem (mounts_fstype_may_block()). Returns the bytes of every may_block region, the
 * userfaultfd ones included. */
uint64_t maps_exclude_may_block(Maps *m, const Mounts *mounts);

/* The region containing addr, or NULL. */
const MapsRegion *maps_find(const Maps *m, uint64_t addr);
