/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lock.h"

#include <unistd.h>

#define PAGE ((uint64_t) sysconf(_SC_PAGESIZE))
#define CHUNK_MIN (256ULL * 1024)
#define CHUNK_MAX (1ULL << 30)
#define CHUNK_FIRST_FULL (1ULL << 20)   /* populating: ~0.5 GB/s measured, so 1 MiB is ~2 ms */
#define CHUNK_FIRST_ONFAULT (64ULL << 20)

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

LockPlan *lock_plan_free(LockPlan *plan) {
        if (!plan)
                return NULL;
        free(plan->ranges);
        free(plan);
        return NULL;
}

static int plan_add(LockPlan *plan, uint64_t start, uint64_t end, bool locked) {
        LockRange *n;

        if (plan->n_ranges > 0) {
                LockRange *last = &plan->ranges[plan->n_ranges - 1];
                if (last->end == start && last->locked == locked) {
                        last->end = end;
                        return 0;
                }
        }
        n = reallocarray(plan->ranges, plan->n_ranges + 1, sizeof(LockRange));
        if (!n)
                return -ENOMEM;
        plan->ranges = n;
        plan->ranges[plan->n_ranges++] = (LockRange) { .start = start, .end = end, .locked = locked };
        return 0;
}

static bool region_has_wanted_flags(const MapsRegion *r, LockMode mode) {
        if (mode == LOCK_MODE_FULL)
                return (r->vmflags & VMFLAG_LOCKED) && !(r->vmflags & VMFLAG_LOCKONFAULT);
        if (mode == LOCK_MODE_ONFAULT)
                return (r->vmflags & VMFLAG_LOCKED) && (r->vmflags & VMFLAG_LOCKONFAULT);
        return !(r->vmflags & VMFLAG_LOCKED);
}

int lock_plan(const Maps *maps, const LockParams *p, LockPlan **ret) {
        _cleanup_(lock_plan_freep) LockPlan *plan = NULL;
        uint64_t allowance = UINT64_MAX;
        const char *allowance_reason = NULL;
        int r;

        if (!maps || !p || !ret)
                return -EINVAL;

        plan = calloc(1, sizeof *plan);
        if (!plan)
                return -ENOMEM;
        if (p->mode == LOCK_MODE_NONE) {
                *ret = TAKE_PTR(plan);
                return 0;
        }

        /* The tightest bound names the reason. */
        if (p->max_locked > 0) {
                uint64_t room = p->max_locked > p->held ? p->max_locked - p->held : 0;
                if (room < allowance) {
                        allowance = room;
                        allowance_reason = "limit";
                }
        }
        if (p->budget < allowance) {
                allowance = p->budget;
                allowance_reason = "budget";
        }
        if (p->memlock_limit != UINT64_MAX) {
                uint64_t room = p->memlock_limit > p->vm_locked ? p->memlock_limit - p->vm_locked : 0;
                if (room < allowance) {
                        allowance = room;
                        allowance_reason = "rlimit";
                }
        }

        for (size_t i = 0; i < maps->n; i++) {
                const MapsRegion *reg = &maps->regions[i];
                uint64_t start, end, len;
                bool done;

                if (!maps_region_selected(reg, p->regions, p->file_globs))
                        continue;
                start = reg->start & ~(PAGE - 1);
                end = (reg->end + PAGE - 1) & ~(PAGE - 1);
                if (end <= start)
                        continue;
                len = end - start;
                plan->wanted += len;

                /* Already locked as the policy wants (mlockd restarted, or the program did it): adopt.
                 * Already-locked bytes are in VmLck and the cgroup's figure already, so they do not
                 * count against the allowance. */
                done = region_has_wanted_flags(reg, p->mode);
                if (!done) {
                        if (allowance == 0) {
                                plan->trimmed = allowance_reason;
                                continue;
                        }
                        if (len > allowance) {
                                len = allowance & ~(PAGE - 1);
                                end = start + len;
                                plan->trimmed = allowance_reason;
                                if (len == 0)
                                        continue;
                        }
                        if (allowance != UINT64_MAX)
                                allowance -= len;
                        plan->bytes += len;
                }
                r = plan_add(plan, start, end, done);
                if (r < 0)
                        return r;
        }

        if (p->future && (p->regions & REGION_ALL)) {
                /* MCL_FUTURE under a finite RLIMIT_MEMLOCK makes the target's own later mmap fail. */
                if (p->memlock_limit != UINT64_MAX)
                        plan->future_refused = true;
                else if (!plan->trimmed)
                        plan->mlockall_flags = MCL_CURRENT | MCL_FUTURE |
                                               (p->mode == LOCK_MODE_ONFAULT ? MCL_ONFAULT : 0);
        }

        *ret = TAKE_PTR(plan);
        return 0;
}

uint64_t lock_chunk_size(LockMode mode, double rate, usec_t max_pause) {
        uint64_t chunk;

        if (rate <= 0)
                chunk = mode == LOCK_MODE_FULL ? CHUNK_FIRST_FULL : CHUNK_FIRST_ONFAULT;
        else {
                /* leave room for the attach/detach overhead (~50-150us) and for noise: populating
                 * memory varies by 2x from chunk to chunk (page allocation, zeroing) */
                double budget = (double) max_pause * 0.4;
                double c = rate * budget;
                chunk = c >= (double) CHUNK_MAX ? CHUNK_MAX : (uint64_t) c;
        }
        chunk = MAX(chunk, CHUNK_MIN);
        chunk = MIN(chunk, CHUNK_MAX);
        return chunk & ~(PAGE - 1);
}

void lock_verify(const Maps *smaps, const LockPlan *plan, LockMode mode, LockVerify *ret) {
        LockVerify v = {};

        for (size_t i = 0; plan && i < plan->n_ranges; i++) {
                const LockRange *lr = &plan->ranges[i];

                v.planned += lr->end - lr->start;
                for (size_t j = 0; smaps && j < smaps->n; j++) {
                        const MapsRegion *reg = &smaps->regions[j];
                        uint64_t s = MAX(reg->start, lr->start), e = MIN(reg->end, lr->end);

                        if (s >= e)
                                continue;
                        if (region_has_wanted_flags(reg, mode))
                                v.flagged += e - s;
                        /* Locked: is per VMA; count it in proportion when a range covers part of one */
                        if (reg->locked > 0) {
                                uint64_t size = reg->end - reg->start;
                                v.locked += (uint64_t) ((__uint128_t) reg->locked * (e - s) / size);
                        }
                }
        }
        v.complete = v.flagged == v.planned;
        *ret = v;
}

int lock_step(pid_t pid, int pidfd, InjectCall call, const uint64_t args[6], usec_t timeout,
              long *ret_result, InjectStats *ret_stats, const char **ret_reason) {
        Tracee *t = NULL;
        InjectStats stats = {};
        long result = 0;
        int r, q;

        if (ret_reason)
                *ret_reason = NULL;

        r = inject_attach(pid, pidfd, 0, timeout, &t);
        if (r < 0)
                return r;

        r = inject_call(t, call, args, &result);
        if (r == -EPERM && ret_reason)
                *ret_reason = inject_seccomp_action(t);

        q = inject_detach(t, &stats);
        if (r >= 0 && q < 0)
                r = q;
        if (r < 0)
                return r;

        if (ret_result)
                *ret_result = result;
        if (ret_stats)
                *ret_stats = stats;
        return 0;
}
