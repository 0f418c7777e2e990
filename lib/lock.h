/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Planning and verifying a lock, and running one bounded step of it.
 *
 * plan:   the target's maps, filtered by Regions= and trimmed to the budgets (MaxLocked=, the cgroup's
 *         lockable bytes, RLIMIT_MEMLOCK), become page-aligned ranges, merged where contiguous;
 *         Regions=all with Future=yes ends with one mlockall().
 * steps:  each range is locked in chunks, each chunk its own attach/inject/detach, sized by the
 *         caller (lib/pace.h) so that no single call holds the target longer than MaxPause, with
 *         edges on folio boundaries (lock_region_align(), lock_chunk_end()).
 * verify: smaps says what the kernel locked (Locked:, VmFlags lo/lf); the state follows. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "inject.h"
#include "maps.h"
#include "parse-util.h"
#include "policy.h"

typedef struct LockParams {
        LockMode mode;
        unsigned regions;
        char *const *file_globs;
        bool future;
        uint64_t max_locked;            /* MaxLocked=, 0: none */
        uint64_t held;                  /* what mlockd already holds in the target: counts against max_locked */
        uint64_t budget;                /* what the cgroup may still take, UINT64_MAX: unbounded */
        uint64_t memlock_limit;         /* target's RLIMIT_MEMLOCK soft, UINT64_MAX: unlimited/CAP_IPC_LOCK */
        uint64_t vm_locked;             /* target's VmLck now: counts against memlock_limit */
        uint64_t align;                 /* a trimmed range ends on this boundary when it can
                                           (lock_chunk_align()), 0: the page size */
} LockParams;

typedef struct LockRange {
        uint64_t start, end;
        bool locked;                    /* already locked as wanted (adopted), nothing to do */
} LockRange;

typedef struct LockPlan {
        LockRange *ranges;
        size_t n_ranges;
        uint64_t bytes;                 /* sum of ranges to lock */
        uint64_t wanted;                /* what the policy asked for, before trimming */
        const char *trimmed;            /* NULL, or why less than wanted: "limit", "budget", "rlimit" */
        int mlockall_flags;             /* 0: none; else MCL_* to finish with */
        bool future_refused;            /* Future= asked for, refused: under a finite RLIMIT_MEMLOCK,
                                         * MCL_FUTURE makes the target's own later mmap fail (EAGAIN) */
} LockPlan;

int lock_plan(const Maps *maps, const LockParams *p, LockPlan **ret);
LockPlan *lock_plan_free(LockPlan *plan);
DEFINE_CLEANUP(LockPlan *, lock_plan_free);

/* Folio-aware chunking. A chunk edge inside a large folio leaves that folio not mlocked
 * (mm/mlock.c mlock_pte_range() needs folio_within_vma()) and splits its PMD mapping; on untouched
 * memory it makes the populate fault 4K pages where a THP would have been (doc/kernel-facts.md 4).
 * So chunk edges fall on the largest folio size that can be there. */
#define LOCK_FOLIO_SIZES_MAX 16
typedef struct FolioSizes {
        uint64_t pmd;                   /* hpage_pmd_size; 0 when THP is not built in */
        uint64_t sizes[LOCK_FOLIO_SIZES_MAX]; /* enabled anonymous folio sizes above a page,
                                                 largest first (PMD and mTHP) */
        size_t n;
        bool always;                    /* one of them is enabled for every VMA ("always"), not only
                                           for MADV_HUGEPAGE ones */
} FolioSizes;

/* The enabled large-folio sizes under sys_root ("/sys"): kernel/mm/transparent_hugepage/enabled
 * for the PMD size, hugepages-<N>kB/enabled for each mTHP size ("inherit" follows the top-level
 * setting; always and madvise count: a VMA may have MADV_HUGEPAGE). No THP directory: n = 0. */
int lock_folio_sizes(const char *sys_root, FolioSizes *ret);

/* The boundary chunk edges fall on: the largest enabled folio size for anonymous memory; for a
 * file-backed region the PMD size whenever THP is built in (the page cache makes large folios on
 * its own, up to PMD size, whatever the anonymous settings); else the page size. */
uint64_t lock_chunk_align(const FolioSizes *f, bool file_backed, uint64_t page_size);

/* The boundary for chunk edges in region r: the page size where no large folio can be (nh, or
 * anonymous memory without hg while every size is "madvise"), else lock_chunk_align(). Edges no
 * coarser than needed keep steps small on 4K memory (MaxPause). */
uint64_t lock_region_align(const FolioSizes *f, const MapsRegion *r, uint64_t page_size);

/* The end of the chunk that starts at start within a range ending at end, about want bytes long:
 * an align boundary (or end). A chunk never ends inside an aligned block unless the range does:
 * when want is below the distance to the next boundary the chunk runs to that boundary. */
uint64_t lock_chunk_end(uint64_t start, uint64_t end, uint64_t want, uint64_t align);

/* Bytes of the plan's ranges where a large folio can reach past its VMA, which the kernel then
 * cannot mlock (folio_within_vma()): in anonymous memory, an align-sized block shared with a
 * neighbouring VMA (the target's own boundaries: mprotect, a partial munmap or mlock of its own);
 * in a file mapping, each end whose file offset is not a multiple of align (page-cache folios are
 * aligned in the file; the loader maps a library's segments at offsets that are not). No chunking
 * can mlock such a folio; the job reports it as partial:folio, and pageflags' large_not_mlocked
 * says how much of it really is there. */
uint64_t lock_folio_split_bytes(const Maps *maps, const LockPlan *plan, uint64_t align);

typedef struct LockVerify {
        uint64_t locked;                /* smaps Locked: over the planned ranges */
        uint64_t flagged;               /* bytes of planned ranges whose VMAs carry the wanted flags */
        uint64_t planned;
        bool complete;                  /* every planned byte is in a VMA with the wanted flags */
} LockVerify;
/* What the kernel says about the plan's ranges, from smaps. mode decides the wanted flags: lo (full),
 * lo+lf (onfault), neither (none, after an unlock). */
void lock_verify(const Maps *smaps, const LockPlan *plan, LockMode mode, LockVerify *ret);

/* One step in-process: attach, run call with args, detach. *ret_result is the syscall's result;
 * *ret_reason (optional) a static reason when the step was refused ("seccomp:kill_process", ...).
 * cache (optional): what earlier attaches found in the target (inject_attach_cached()). */
int lock_step(pid_t pid, int pidfd, InjectCache *cache, InjectCall call, const uint64_t args[6],
              usec_t timeout, long *ret_result, InjectStats *ret_stats, const char **ret_reason);

/* Several mlock2 calls in one stop: attach, mlock2(spans[i], flags) for each in order while each
 * succeeds, detach. A call after the first starts only while the target has been held less than
 * hold_budget (0: no bound), so a batch the caller sized by its pace cannot run on far past it.
 * *ret_done: how many succeeded; *ret_result: the failed call's return (span *ret_done), else 0
 * (then *ret_done < n means the budget ended the batch). Otherwise as lock_step(). */
#define LOCK_SPANS_MAX 16
typedef struct LockSpan {
        uint64_t start, length;
} LockSpan;
int lock_ranges_step(pid_t pid, int pidfd, InjectCache *cache, const LockSpan *spans, size_t n, unsigned flags,
                     usec_t timeout, usec_t hold_budget, size_t *ret_done, long *ret_result, InjectStats *ret_stats,
                     const char **ret_reason);

/* Make the kernel mlock the present pages of a range that is locked already: munlock then mlock2
 * with the range's flags (0 or MLOCK_ONFAULT), in one stop, so the target never runs with it
 * unlocked. Only a change from unlocked to locked walks the present pages (doc/kernel-facts.md 2):
 * pages faulted back from swap under VM_LOCKED are not mlocked until this. Never on a range the
 * target locked itself: the munlock would undo its lock. Same results as lock_step(); *ret_result
 * is the first call that failed, else 0. */
int lock_relock_step(pid_t pid, int pidfd, InjectCache *cache, uint64_t start, uint64_t len, unsigned flags,
                     usec_t timeout, long *ret_result, InjectStats *ret_stats, const char **ret_reason);
