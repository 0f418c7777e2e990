/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What one target may still have locked, in one place: MaxLocked= less what mlockd already holds
 * there (its ledger, and after a restart the locks found in place), the cgroup's lockable bytes
 * (CgroupMaxUnevictable= and the margin under the memory limit, from cgroup_lockable_bytes()) less
 * the bytes other targets there have planned but not locked yet (in flight: not in the kernel's
 * figure yet), counting the larger of the kernel's unevictable and what mlockd holds there; and
 * what mlockd holds beyond MaxLocked= (after a reload lowered it), to give back.
 * Pure: the manager gathers the inputs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"

typedef struct AccountInput {
        uint64_t max_locked;            /* MaxLocked=, 0: none */
        uint64_t held;                  /* bytes mlockd holds in the target */
        const CgroupMemory *memory;     /* the target's memory cgroup, NULL: unknown (no bound) */
        uint64_t cgroup_budget;         /* CgroupMaxUnevictable= there, 0: none */
        uint64_t limit_margin;          /* LimitMargin= (daemon) */
        uint64_t in_flight;             /* other targets' bytes planned there and not yet locked */
        uint64_t claimed;               /* what mlockd's targets there hold, per page (or smaps Locked:
                                           where larger): the budget counts the larger of it and
                                           the kernel's unevictable, which lags (pages swapped in
                                           under VM_LOCKED are not mlocked until reclaim sees them) */
} AccountInput;

typedef struct AccountResult {
        uint64_t held;                  /* for LockParams.held: counts against max_locked */
        uint64_t budget;                /* for LockParams.budget: UINT64_MAX unbounded */
        uint64_t excess;                /* held beyond max_locked: mlockd gives it back */
} AccountResult;

void account_target(const AccountInput *in, AccountResult *ret);

/* Bytes a job has planned and not yet done. */
uint64_t account_in_flight(uint64_t planned, uint64_t done);

/* A lock's pages charged to another cgroup (page cache that cgroup read first: the kernel charges a
 * page to the memcg that allocated it, and mlock never re-charges) count against that cgroup's
 * budget. What the lock holds there beyond the budget is given back. */
typedef struct ForeignInput {
        uint64_t budget;                /* CgroupMaxUnevictable= there, 0: none */
        uint64_t unevictable;           /* the kernel's figure there, read after the lock */
        uint64_t held;                  /* what mlockd counts there without this lock: the bytes its
                                           own targets locked charged there, and other targets'
                                           foreign bytes */
        uint64_t charged;               /* this lock's mlocked bytes charged there */
} ForeignInput;

/* Bytes of charged to give back: the larger of the kernel's unevictable and held + charged, less
 * the budget; never more than charged. 0 without a budget. */
uint64_t account_foreign_excess(const ForeignInput *in);

/* Which of n pieces to unlock to give back want pages charged there, pages[k] of them in piece k:
 * the pieces with the most first (the fewest of the target's own pages lost with them), until the
 * sum reaches want, or all that have any. Sets pick[k]; returns the pages picked. Pieces already
 * picked (pick[k] set on entry) count towards want. */
uint64_t account_trim_pick(const uint64_t *pages, size_t n, uint64_t want, bool *pick);
