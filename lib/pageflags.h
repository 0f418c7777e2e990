/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Per-page truth: what the kernel did to each page of a range, from /proc/PID/pagemap (present,
 * swapped, the PFN) and /proc/kpageflags (the folio's flags, for that PFN): mlocked, unevictable,
 * part of a large folio or a THP. Optionally /proc/kpagecgroup: the inode of the memory cgroup
 * each page is charged to (the st_ino of its cgroupfs directory).
 *
 * smaps `Locked:` and VmFlags `lo` say what a VMA asks for; only these flags say whether a page
 * is really mlocked (PG_mlocked, on the unevictable LRU). Reading PFNs and kpageflags needs
 * CAP_SYS_ADMIN: without it pagemap shows PFN 0 and kpageflags cannot be opened, and the reader
 * says so (reason "kpageflags-unreadable") rather than guess.
 *
 * Every base page is counted once, whatever the size of the folio it is in. The /proc root is a
 * parameter so the reader runs on fixtures (tests/data/pageflags/). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* Bits of a /proc/PID/pagemap entry (Documentation/admin-guide/mm/pagemap.rst) */
#define PAGEMAP_PRESENT (UINT64_C(1) << 63)
#define PAGEMAP_SWAPPED (UINT64_C(1) << 62)
#define PAGEMAP_FILE (UINT64_C(1) << 61)
#define PAGEMAP_PFN_MASK ((UINT64_C(1) << 55) - 1)

/* Bits of /proc/kpageflags: include/uapi/linux/kernel-page-flags.h, and KPF_MLOCKED from the
 * kernel-internal include/linux/kernel-page-flags.h (fs/proc/page.c copies PG_mlocked there). */
#define KPF_BIT_COMPOUND_HEAD 15
#define KPF_BIT_COMPOUND_TAIL 16
#define KPF_BIT_HUGE 17
#define KPF_BIT_UNEVICTABLE 18
#define KPF_BIT_NOPAGE 20
#define KPF_BIT_THP 22
#define KPF_BIT_ZERO_PAGE 24
#define KPF_BIT_MLOCKED 33

typedef struct PageCounts {
        uint64_t pages;                 /* base pages looked at */
        uint64_t present;               /* mapped in the page tables */
        uint64_t swapped;               /* in swap (not present) */
        uint64_t mlocked;               /* present, the folio PG_mlocked */
        uint64_t unevictable;           /* present, the folio on the unevictable LRU */
        uint64_t large;                 /* present, in a large folio (compound, not hugetlb) */
        uint64_t thp;                   /* present, in a THP or mTHP (KPF_THP) */
        uint64_t large_not_mlocked;     /* present, in a large folio, not mlocked */
        uint64_t zero;                  /* present, the shared zero page (never mlocked) */
        uint64_t memcg_mlocked;         /* mlocked and charged to the memcg asked for */
} PageCounts;

/* Mlocked pages charged to memory cgroups other than one (the target's own): a fixed-size breakdown
 * by memcg inode, for the injector's PAGES reply. Pages of memcgs past the first PAGE_CHARGES_MAX
 * are summed in other; pages charged to no memcg (inode 0) are not counted. */
#define PAGE_CHARGES_MAX 8

typedef struct PageCharge {
        uint64_t memcg_ino;
        uint64_t pages;
} PageCharge;

typedef struct PageCharges {
        uint32_t n;
        uint32_t unread;                /* kpagecgroup could not be read: no breakdown */
        PageCharge charges[PAGE_CHARGES_MAX];
        uint64_t other;
} PageCharges;

/* Add pages charged to memcg_ino (not 0) to c. */
void page_charges_add(PageCharges *c, uint64_t memcg_ino, uint64_t pages);
/* Add every entry of from to c. */
void page_charges_merge(PageCharges *c, const PageCharges *from);
/* The pages c has for memcg_ino (0 when none). */
uint64_t page_charges_get(const PageCharges *c, uint64_t memcg_ino);
uint64_t page_charges_total(const PageCharges *c);
/* A breakdown from another process (the injector's reply) is believed only if it could be true:
 * n within bounds, each inode set, distinct and not own, no entry empty, the total no more than
 * the mlocked pages it came with. -EBADMSG otherwise. */
int page_charges_check(const PageCharges *c, uint64_t own_ino, uint64_t mlocked);

typedef struct PageFlags PageFlags;

#define PAGEFLAGS_CGROUP (1U << 0)      /* also read kpagecgroup */

/* Open pid's pagemap and kpageflags under proc_root ("/proc"). On -EPERM/-EACCES *ret_reason is
 * "kpageflags-unreadable" (or "pagemap-unreadable"); ESRCH when the process is gone. */
int pageflags_open(const char *proc_root, pid_t pid, unsigned flags, PageFlags **ret, const char **ret_reason);
PageFlags *pageflags_free(PageFlags *p);
DEFINE_CLEANUP(PageFlags *, pageflags_free);

/* Add the pages of [start, end) (page aligned) to *c. memcg_ino, when not 0 and kpagecgroup was
 * opened, selects the cgroup for c->memcg_mlocked. -EPERM with reason "kpageflags-unreadable"
 * when pagemap hides PFNs (no CAP_SYS_ADMIN). */
int pageflags_count(PageFlags *p, uint64_t start, uint64_t end, uint64_t memcg_ino, PageCounts *c,
                    const char **ret_reason);
/* The same, and when foreign is not NULL (and kpagecgroup open, memcg_ino not 0), adds the mlocked
 * pages charged to memcgs other than memcg_ino to *foreign. */
int pageflags_count_charged(PageFlags *p, uint64_t start, uint64_t end, uint64_t memcg_ino, PageCounts *c,
                            PageCharges *foreign, const char **ret_reason);

/* The page size the counts are in (sysconf). */
uint64_t pageflags_page_size(const PageFlags *p);
