/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fileio.h"
#include "lock.h"

#include <unistd.h>

#define PAGE ((uint64_t) sysconf(_SC_PAGESIZE))

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
                                uint64_t align = p->align > PAGE ? p->align : PAGE;

                                /* end the trimmed range on a folio boundary when that leaves any */
                                end = (start + allowance) & ~(align - 1);
                                if (end <= start)
                                        end = start + (allowance & ~(PAGE - 1));
                                len = end - start;
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

/* Attach, run calls[0..n) while each succeeds, detach; a call after the first only while the target
 * has been held less than hold_budget (0: no bound). *ret_result: the first that failed, else 0;
 * *ret_done (optional): how many succeeded. */
static int lock_calls(pid_t pid, int pidfd, InjectCache *cache, usec_t timeout, usec_t hold_budget, size_t n,
                      const InjectCall *calls, const uint64_t (*args)[6], size_t *ret_done, long *ret_result,
                      InjectStats *ret_stats, const char **ret_reason) {
        Tracee *t = NULL;
        InjectStats stats = {};
        long result = 0;
        size_t done = 0;
        int r, q;

        if (ret_reason)
                *ret_reason = NULL;

        r = inject_attach_cached(pid, pidfd, 0, timeout, cache, &t);
        if (r < 0)
                return r;

        for (; r >= 0 && result == 0 && done < n; done++) {
                if (done > 0 && hold_budget > 0 && inject_held(t) >= hold_budget)
                        break;
                r = inject_call(t, calls[done], args[done], &result);
                if (r < 0 || result != 0)
                        break;
        }
        if (r == -EPERM && ret_reason)
                *ret_reason = inject_seccomp_action(t);

        q = inject_detach(t, &stats);
        if (q >= 0)
                inject_cache_note_hold(cache, &stats);
        if (r >= 0 && q < 0)
                r = q;
        if (r < 0)
                return r;

        if (ret_done)
                *ret_done = done;
        if (ret_result)
                *ret_result = result;
        if (ret_stats)
                *ret_stats = stats;
        return 0;
}

int lock_step(pid_t pid, int pidfd, InjectCache *cache, InjectCall call, const uint64_t args[6],
              usec_t timeout, long *ret_result, InjectStats *ret_stats, const char **ret_reason) {
        uint64_t a[1][6];

        memcpy(a[0], args, sizeof a[0]);
        return lock_calls(pid, pidfd, cache, timeout, 0, 1, &call, (const uint64_t (*)[6]) a, NULL, ret_result,
                          ret_stats, ret_reason);
}

int lock_ranges_step(pid_t pid, int pidfd, InjectCache *cache, const LockSpan *spans, size_t n, unsigned flags,
                     usec_t timeout, usec_t hold_budget, size_t *ret_done, long *ret_result, InjectStats *ret_stats,
                     const char **ret_reason) {
        InjectCall calls[LOCK_SPANS_MAX];
        uint64_t args[LOCK_SPANS_MAX][6];

        if (n == 0 || n > LOCK_SPANS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                calls[i] = INJECT_MLOCK2;
                args[i][0] = spans[i].start;
                args[i][1] = spans[i].length;
                args[i][2] = flags;
                args[i][3] = args[i][4] = args[i][5] = 0;
        }
        return lock_calls(pid, pidfd, cache, timeout, hold_budget, n, calls, (const uint64_t (*)[6]) args,
                          ret_done, ret_result, ret_stats, ret_reason);
}

int lock_relock_step(pid_t pid, int pidfd, InjectCache *cache, uint64_t start, uint64_t len, unsigned flags,
                     usec_t timeout, long *ret_result, InjectStats *ret_stats, const char **ret_reason) {
        /* mlock2 first, over a range that is locked already: it walks nothing (kernel-facts.md 2) and
         * proves the seccomp filter lets this very call through, so the range is never left unlocked
         * by a munlock the filter allows and an mlock2 it refuses. */
        static const InjectCall calls[3] = { INJECT_MLOCK2, INJECT_MUNLOCK, INJECT_MLOCK2 };
        const uint64_t args[3][6] = { { start, len, flags }, { start, len }, { start, len, flags } };

        return lock_calls(pid, pidfd, cache, timeout, 0, 3, calls, args, NULL, ret_result, ret_stats, ret_reason);
}

/* "always [madvise] never" -> the bracketed word */
static int read_thp_mode(const char *path, char *buf, size_t size) {
        _cleanup_free_ char *text = NULL;
        const char *a, *b;
        int r;

        r = read_full_file(path, 4096, &text, NULL);
        if (r < 0)
                return r;
        a = strchr(text, '[');
        b = a ? strchr(a, ']') : NULL;
        if (!b)
                return -EBADMSG;
        snprintf(buf, size, "%.*s", (int) (b - a - 1), a + 1);
        return 0;
}

static bool thp_mode_enabled(const char *mode) {
        return streq(mode, "always") || streq(mode, "madvise");
}

int lock_folio_sizes(const char *sys_root, FolioSizes *ret) {
        _cleanup_free_ char *pmd_text = NULL;
        char dir[4096], path[4400], top[32];
        FolioSizes f = {};
        bool top_on, per_size = false;
        DIR *d;
        int r;

        if (!sys_root || !ret)
                return -EINVAL;
        snprintf(dir, sizeof dir, "%s/kernel/mm/transparent_hugepage", sys_root);
        snprintf(path, sizeof path, "%s/enabled", dir);
        r = read_thp_mode(path, top, sizeof top);
        if (r == -ENOENT) {
                *ret = f; /* no THP in this kernel */
                return 0;
        }
        if (r < 0)
                return r;
        top_on = thp_mode_enabled(top);

        snprintf(path, sizeof path, "%s/hpage_pmd_size", dir);
        if (read_full_file(path, 64, &pmd_text, NULL) >= 0)
                f.pmd = strtoull(pmd_text, NULL, 10);

        d = opendir(dir);
        if (d) {
                struct dirent *de;

                while ((de = readdir(d))) {
                        unsigned long long kb;
                        char mode[32], tail[8];

                        if (sscanf(de->d_name, "hugepages-%llukB%7s", &kb, tail) != 1 || kb == 0)
                                continue;
                        snprintf(path, sizeof path, "%s/%s/enabled", dir, de->d_name);
                        if (read_thp_mode(path, mode, sizeof mode) < 0)
                                continue;
                        per_size = true;
                        if (!(thp_mode_enabled(mode) || (streq(mode, "inherit") && top_on)))
                                continue;
                        if (streq(mode, "always") || (streq(mode, "inherit") && streq(top, "always")))
                                f.always = true;
                        if (f.n < LOCK_FOLIO_SIZES_MAX)
                                f.sizes[f.n++] = (uint64_t) kb * 1024;
                }
                closedir(d);
        }
        if (!per_size && top_on && f.pmd > 0) {
                f.sizes[f.n++] = f.pmd; /* before mTHP (6.8): the PMD size only */
                f.always = streq(top, "always");
        }

        /* largest first */
        for (size_t i = 1; i < f.n; i++)
                for (size_t j = i; j > 0 && f.sizes[j] > f.sizes[j - 1]; j--) {
                        uint64_t t = f.sizes[j];
                        f.sizes[j] = f.sizes[j - 1];
                        f.sizes[j - 1] = t;
                }
        *ret = f;
        return 0;
}

uint64_t lock_chunk_align(const FolioSizes *f, bool file_backed, uint64_t page_size) {
        uint64_t a = page_size;

        if (f && file_backed && f->pmd > a)
                a = f->pmd;
        if (f && !file_backed && f->n > 0 && f->sizes[0] > a)
                a = f->sizes[0];
        return a;
}

uint64_t lock_region_align(const FolioSizes *f, const MapsRegion *r, uint64_t page_size) {
        bool file_backed;

        if (!r || (r->vmflags & VMFLAG_NOHUGEPAGE))
                return page_size;
        file_backed = r->path && r->path[0] != '[';
        if (!file_backed && !(r->vmflags & VMFLAG_HUGEPAGE) && !(f && f->always))
                return page_size;
        return lock_chunk_align(f, file_backed, page_size);
}

uint64_t lock_chunk_end(uint64_t start, uint64_t end, uint64_t want, uint64_t align) {
        uint64_t e;

        if (align == 0 || (align & (align - 1)))
                align = PAGE;
        if (want >= end - start)
                return end;
        e = (start + want) & ~(align - 1);
        if (e <= start)
                e = ((start & ~(align - 1)) + align); /* to the next boundary */
        return MIN(e, end);
}

/* Could a folio span the boundary between a and b (adjacent)? Same anonymous memory or the same
 * file at contiguous offsets. */
static bool may_share_folio(const MapsRegion *a, const MapsRegion *b) {
        if (a->end != b->start)
                return false;
        if (!a->path != !b->path)
                return false;
        if (!a->path)
                return true;
        if (a->path[0] == '[')
                return streq(a->path, b->path);
        return streq(a->path, b->path) && a->inode == b->inode &&
               a->offset + (a->end - a->start) == b->offset;
}

static uint64_t planned_overlap(const LockPlan *plan, uint64_t s, uint64_t e) {
        uint64_t n = 0;

        for (size_t i = 0; i < plan->n_ranges; i++) {
                uint64_t a = MAX(s, plan->ranges[i].start), b = MIN(e, plan->ranges[i].end);

                /* adopted ranges are the target's own lock, not mlockd's to report */
                if (a < b && !plan->ranges[i].locked)
                        n += b - a;
        }
        return n;
}

/* A file mapping's page-cache folios are aligned in the file, not in memory: one can reach past
 * either end of the VMA wherever the VMA's file offset there is not a multiple of the folio size,
 * whatever lies beside it (the loader maps a library's segments at overlapping or distant
 * offsets). The bytes of the VMA that such a folio could cover, at each end. */
static uint64_t file_edge_bytes(const MapsRegion *r, const LockPlan *plan, uint64_t align) {
        uint64_t len = r->end - r->start, head = 0, tail = 0;

        if (r->offset % align != 0)
                head = MIN(len, align - r->offset % align);
        if ((r->offset + len) % align != 0)
                tail = MIN(len - head, (r->offset + len) % align);
        return planned_overlap(plan, r->start, r->start + head) + planned_overlap(plan, r->end - tail, r->end);
}

static bool is_file_region(const MapsRegion *r) {
        return r->path && r->path[0] != '[' && r->inode != 0;
}

uint64_t lock_folio_split_bytes(const Maps *maps, const LockPlan *plan, uint64_t align) {
        uint64_t bytes = 0;

        if (!maps || !plan || align <= PAGE || (align & (align - 1)))
                return 0;
        for (size_t i = 0; i < maps->n; i++) {
                const MapsRegion *a = &maps->regions[i], *b = i + 1 < maps->n ? &maps->regions[i + 1] : NULL;
                uint64_t edge = a->end, lo = edge & ~(align - 1), hi = lo + align;

                if (is_file_region(a)) {
                        bytes += file_edge_bytes(a, plan, align);
                        continue;
                }
                /* anonymous: a folio is aligned in memory, and spans an edge only into a neighbour
                 * it could belong to (the target split one VMA) */
                if (!b || is_file_region(b) || edge % align == 0 || !may_share_folio(a, b))
                        continue;
                /* the aligned block around the edge, clipped to the two VMAs */
                bytes += planned_overlap(plan, MAX(lo, a->start), MIN(hi, b->end));
        }
        return bytes;
}
