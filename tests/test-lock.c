/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The planner and the verifier on a fixture smaps: selection by Regions=, adoption of what is
 * already locked, trimming by MaxLocked=, budget and RLIMIT_MEMLOCK, MCL_FUTURE refusal, chunking. */

#include <sys/mman.h>

#include "fileio.h"
#include "lock.h"
#include "tests.h"

#define MiB (1ULL << 20)

static Maps *load(void) {
        _cleanup_free_ char *text = NULL;
        char path[4200];
        Maps *m = NULL;

        snprintf(path, sizeof path, "%s/lock/target.smaps", test_data_dir());
        ASSERT_OK(read_full_file(path, 1 << 20, &text, NULL));
        ASSERT_OK(maps_parse(text, &m));
        return m;
}

static LockParams params(LockMode mode, unsigned regions) {
        return (LockParams) {
                .mode = mode, .regions = regions, .budget = UINT64_MAX, .memlock_limit = UINT64_MAX,
        };
}

static void test_select_anon(Maps *m) {
        _cleanup_(lock_plan_freep) LockPlan *plan = NULL;
        LockParams p = params(LOCK_MODE_ONFAULT, REGION_ANON);

        ASSERT_OK(lock_plan(m, &p, &plan));
        /* 64 MiB anon; the 4 MiB one is already lo+lf (adopted); the PROT_NONE guard is skipped */
        ASSERT_EQ(plan->n_ranges, 2);
        ASSERT_EQ_U64(plan->ranges[0].start, 0x7ffff0000000ULL);
        ASSERT_EQ_U64(plan->ranges[0].end, 0x7ffff4000000ULL);
        ASSERT_FALSE(plan->ranges[0].locked);
        ASSERT_EQ_U64(plan->ranges[1].start, 0x7ffff4001000ULL);
        ASSERT_TRUE(plan->ranges[1].locked);
        ASSERT_EQ_U64(plan->bytes, 64 * MiB);
        ASSERT_EQ_U64(plan->wanted, 68 * MiB);
        ASSERT_NULL(plan->trimmed);
        ASSERT_EQ(plan->mlockall_flags, 0);
}

static void test_select_all_future(Maps *m) {
        _cleanup_(lock_plan_freep) LockPlan *plan = NULL;
        LockParams p = params(LOCK_MODE_FULL, REGION_ALL);

        p.future = true;
        ASSERT_OK(lock_plan(m, &p, &plan));
        /* text+data+rodata of the binary merge into one range with the heap right after them */
        ASSERT_EQ_U64(plan->ranges[0].start, 0x555555554000ULL);
        ASSERT_EQ_U64(plan->ranges[0].end, 0x55555557d000ULL);
        /* vvar and vdso are never planned; the stack is */
        for (size_t i = 0; i < plan->n_ranges; i++) {
                ASSERT_TRUE(plan->ranges[i].start != 0x7ffff7fc1000ULL);
                ASSERT_TRUE(plan->ranges[i].start != 0x7ffff7fc5000ULL);
        }
        ASSERT_EQ_U64(plan->ranges[plan->n_ranges - 1].start, 0x7ffffffde000ULL);
        /* full mode: the lo+lf region is not locked as wanted, so it is planned too */
        ASSERT_EQ_U64(plan->bytes, plan->wanted);
        ASSERT_EQ(plan->mlockall_flags, MCL_CURRENT | MCL_FUTURE);
        ASSERT_FALSE(plan->future_refused);
}

static void test_text_only(Maps *m) {
        _cleanup_(lock_plan_freep) LockPlan *plan = NULL;
        LockParams p = params(LOCK_MODE_FULL, REGION_TEXT);

        ASSERT_OK(lock_plan(m, &p, &plan));
        ASSERT_EQ(plan->n_ranges, 1);
        ASSERT_EQ_U64(plan->ranges[0].start, 0x555555556000ULL);
        ASSERT_EQ_U64(plan->ranges[0].end, 0x55555555a000ULL);
}

static void test_trim(Maps *m) {
        _cleanup_(lock_plan_freep) LockPlan *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        LockParams p = params(LOCK_MODE_ONFAULT, REGION_ANON);

        p.max_locked = 10 * MiB + 123;
        ASSERT_OK(lock_plan(m, &p, &a));
        ASSERT_EQ_U64(a->bytes, 10 * MiB); /* page aligned down */
        ASSERT_STREQ(a->trimmed, "limit");

        p = params(LOCK_MODE_ONFAULT, REGION_ANON);
        p.budget = 0;
        ASSERT_OK(lock_plan(m, &p, &b));
        ASSERT_EQ_U64(b->bytes, 0);
        ASSERT_STREQ(b->trimmed, "budget");
        /* the adopted range stays in the plan: it is locked already */
        ASSERT_EQ(b->n_ranges, 1);
        ASSERT_TRUE(b->ranges[0].locked);

        p = params(LOCK_MODE_ONFAULT, REGION_ANON);
        p.memlock_limit = 8 * MiB;
        p.vm_locked = 4 * MiB;
        p.budget = 6 * MiB;
        ASSERT_OK(lock_plan(m, &p, &c));
        ASSERT_EQ_U64(c->bytes, 4 * MiB);
        ASSERT_STREQ(c->trimmed, "rlimit");

        /* MCL_FUTURE is refused under a finite RLIMIT_MEMLOCK */
        p = params(LOCK_MODE_ONFAULT, REGION_ALL);
        p.future = true;
        p.memlock_limit = 1ULL << 40;
        ASSERT_OK(lock_plan(m, &p, &d));
        ASSERT_TRUE(d->future_refused);
        ASSERT_EQ(d->mlockall_flags, 0);
}

static void test_verify(Maps *m) {
        _cleanup_(lock_plan_freep) LockPlan *plan = NULL;
        LockParams p = params(LOCK_MODE_ONFAULT, REGION_ANON);
        LockVerify v;

        ASSERT_OK(lock_plan(m, &p, &plan));
        lock_verify(m, plan, LOCK_MODE_ONFAULT, &v);
        /* only the adopted 4 MiB carries lo lf so far */
        ASSERT_EQ_U64(v.planned, 68 * MiB);
        ASSERT_EQ_U64(v.flagged, 4 * MiB);
        ASSERT_EQ_U64(v.locked, 100 * 1024);
        ASSERT_FALSE(v.complete);

        /* after the kernel locked it all */
        for (size_t i = 0; i < m->n; i++)
                if (m->regions[i].start == 0x7ffff0000000ULL) {
                        m->regions[i].vmflags |= VMFLAG_LOCKED | VMFLAG_LOCKONFAULT;
                        m->regions[i].locked = 16 * MiB;
                }
        lock_verify(m, plan, LOCK_MODE_ONFAULT, &v);
        ASSERT_TRUE(v.complete);
        ASSERT_EQ_U64(v.locked, 16 * MiB + 100 * 1024);
        /* the same flags are not what Mode=full wants */
        lock_verify(m, plan, LOCK_MODE_FULL, &v);
        ASSERT_FALSE(v.complete);
}

static FolioSizes folio_sizes(const char *name) {
        char path[4200];
        FolioSizes f;

        snprintf(path, sizeof path, "%s/lock/%s", test_data_dir(), name);
        ASSERT_OK(lock_folio_sizes(path, &f));
        return f;
}

static void test_folio_sizes(void) {
        FolioSizes f;

        /* PMD by inherit from madvise, 64K always, 32K madvise, 16K never */
        f = folio_sizes("sys-mthp");
        ASSERT_EQ_U64(f.pmd, 2 * MiB);
        ASSERT_EQ(f.n, 3);
        ASSERT_EQ_U64(f.sizes[0], 2 * MiB);
        ASSERT_EQ_U64(f.sizes[1], 64 * 1024);
        ASSERT_EQ_U64(f.sizes[2], 32 * 1024);
        ASSERT_EQ_U64(lock_chunk_align(&f, false, 4096), 2 * MiB);
        ASSERT_EQ_U64(lock_chunk_align(&f, true, 4096), 2 * MiB);
        ASSERT_TRUE(f.always); /* 64K always */

        /* top-level never: inherit is off too */
        f = folio_sizes("sys-never");
        ASSERT_EQ(f.n, 0);
        ASSERT_EQ_U64(lock_chunk_align(&f, false, 4096), 4096);
        /* the page cache still makes large folios */
        ASSERT_EQ_U64(lock_chunk_align(&f, true, 4096), 2 * MiB);

        /* only an mTHP size on */
        f = folio_sizes("sys-mthp-only");
        ASSERT_EQ(f.n, 1);
        ASSERT_EQ_U64(f.sizes[0], 64 * 1024);
        ASSERT_EQ_U64(lock_chunk_align(&f, false, 4096), 64 * 1024);

        /* before mTHP: the PMD size when enabled */
        f = folio_sizes("sys-old");
        ASSERT_EQ(f.n, 1);
        ASSERT_EQ_U64(f.sizes[0], 2 * MiB);
        ASSERT_TRUE(f.always);

        /* no THP at all */
        f = folio_sizes("sys-none");
        ASSERT_EQ(f.n, 0);
        ASSERT_EQ_U64(f.pmd, 0);
        ASSERT_EQ_U64(lock_chunk_align(&f, true, 4096), 4096);
        ASSERT_ERROR(lock_folio_sizes(NULL, &f), EINVAL);
}

/* Chunk edges per region: THP-sized only where a large folio can be. */
static void test_region_align(void) {
        FolioSizes madv = { .pmd = 2 * MiB, .sizes = { 2 * MiB }, .n = 1 }, always = madv;
        MapsRegion anon = { .start = 0, .end = 8 * MiB }, hg = anon, nh = anon, file = anon, heap = anon;

        always.always = true;
        hg.vmflags = VMFLAG_HUGEPAGE;
        nh.vmflags = VMFLAG_NOHUGEPAGE;
        file.path = (char *) "/usr/lib/libc.so.6";
        heap.path = (char *) "[heap]";

        /* enabled=madvise: only MADV_HUGEPAGE anonymous memory has THPs */
        ASSERT_EQ_U64(lock_region_align(&madv, &anon, 4096), 4096);
        ASSERT_EQ_U64(lock_region_align(&madv, &heap, 4096), 4096);
        ASSERT_EQ_U64(lock_region_align(&madv, &hg, 4096), 2 * MiB);
        ASSERT_EQ_U64(lock_region_align(&madv, &nh, 4096), 4096);
        /* the page cache makes large folios whatever the anonymous settings */
        ASSERT_EQ_U64(lock_region_align(&madv, &file, 4096), 2 * MiB);
        /* enabled=always: every anonymous VMA but nh */
        ASSERT_EQ_U64(lock_region_align(&always, &anon, 4096), 2 * MiB);
        ASSERT_EQ_U64(lock_region_align(&always, &heap, 4096), 2 * MiB);
        ASSERT_EQ_U64(lock_region_align(&always, &nh, 4096), 4096);
        ASSERT_EQ_U64(lock_region_align(NULL, &anon, 4096), 4096);
        ASSERT_EQ_U64(lock_region_align(&always, NULL, 4096), 4096);
}

static void test_chunk_end(void) {
        uint64_t base = 0x40000000, end = base + 64 * MiB, s, n = 0;

        /* edges on 2 MiB boundaries, rounded down from the wanted size */
        ASSERT_EQ_U64(lock_chunk_end(base, end, 3 * MiB, 2 * MiB), base + 2 * MiB);
        ASSERT_EQ_U64(lock_chunk_end(base, end, 5 * MiB + 4096, 2 * MiB), base + 4 * MiB);
        /* less than one block wanted: up to the next boundary, never inside a huge page */
        ASSERT_EQ_U64(lock_chunk_end(base, end, 256 * 1024, 2 * MiB), base + 2 * MiB);
        ASSERT_EQ_U64(lock_chunk_end(base + 4096, end, 256 * 1024, 2 * MiB), base + 2 * MiB);
        /* the range's own end is an edge the chunk may stop at */
        ASSERT_EQ_U64(lock_chunk_end(base, base + 3 * MiB, 100 * MiB, 2 * MiB), base + 3 * MiB);
        ASSERT_EQ_U64(lock_chunk_end(base + 2 * MiB, base + 3 * MiB, 4096, 2 * MiB), base + 3 * MiB);
        /* page alignment when there are no folios to care for; a bad align is the page size */
        ASSERT_EQ_U64(lock_chunk_end(base, end, 3 * MiB + 100, 4096), base + 3 * MiB);
        ASSERT_EQ_U64(lock_chunk_end(base, end, 3 * MiB + 100, 3000), base + 3 * MiB);

        /* walking a range with an unaligned start: every inner edge is on a boundary */
        for (s = base + 12288; s < end; n++) {
                uint64_t e = lock_chunk_end(s, end, 3 * MiB, 2 * MiB);

                ASSERT_TRUE(e > s);
                ASSERT_TRUE(e == end || e % (2 * MiB) == 0);
                s = e;
        }
        ASSERT_EQ_U64(n, 32);
}

static void test_folio_split(void) {
        _cleanup_(maps_freep) Maps *m = NULL;
        /* the target mprotect()ed 1 MiB in the middle of its anonymous memory; a file follows */
        const char *text =
                "40000000-40300000 rw-p 00000000 00:00 0 \n"
                "40300000-40400000 r--p 00000000 00:00 0 \n"
                "40400000-40800000 rw-p 00000000 00:00 0 \n"
                "40800000-40900000 r--p 00000000 fe:00 42                         /usr/lib/x.so\n";
        LockRange r[] = { { .start = 0x40000000, .end = 0x40900000 } };
        LockRange adopted[] = { { .start = 0x40000000, .end = 0x40900000, .locked = true } };
        LockPlan plan = { .ranges = r, .n_ranges = 1 }, own = { .ranges = adopted, .n_ranges = 1 };

        ASSERT_OK(maps_parse(text, &m));
        /* the 2 MiB block around 0x40300000 is cut; 0x40400000 is aligned; anon | file shares
         * nothing; the file's 1 MiB ends at offset 1 MiB, inside where a 2 MiB folio can be */
        ASSERT_EQ_U64(lock_folio_split_bytes(m, &plan, 2 * MiB), 3 * MiB);
        /* with 64K folios the edge is aligned */
        ASSERT_EQ_U64(lock_folio_split_bytes(m, &plan, 64 * 1024), 0);
        ASSERT_EQ_U64(lock_folio_split_bytes(m, &plan, 4096), 0);
        /* only mlockd's ranges count */
        ASSERT_EQ_U64(lock_folio_split_bytes(m, &own, 2 * MiB), 0);
        r[0].start = 0x40380000;
        ASSERT_EQ_U64(lock_folio_split_bytes(m, &plan, 2 * MiB), 512 * 1024 + 1 * MiB);
}

/* A library as the loader maps it: its segments at offsets that overlap (the last r--p begins a
 * page before the previous one ended) and are not folio-aligned; a page-cache folio reaches past
 * those ends whatever the neighbour, where the file offset is not a multiple of its size. */
static void test_folio_split_library(void) {
        _cleanup_(maps_freep) Maps *m = NULL;
        const char *text =
                "7f0000000000-7f0000028000 r--p 00000000 fe:00 7                          /usr/lib/libc.so.6\n"
                "7f0000028000-7f00001bd000 r-xp 00028000 fe:00 7                          /usr/lib/libc.so.6\n"
                "7f00001bd000-7f0000215000 r--p 001bd000 fe:00 7                          /usr/lib/libc.so.6\n"
                "7f0000215000-7f0000219000 r--p 00214000 fe:00 7                          /usr/lib/libc.so.6\n"
                "7f0000219000-7f000021b000 rw-p 00218000 fe:00 7                          /usr/lib/libc.so.6\n"
                "7f000021b000-7f0000228000 rw-p 00000000 00:00 0 \n";
        LockRange r[] = { { .start = 0x7f0000215000ULL, .end = 0x7f0000219000ULL } };
        LockRange anon[] = { { .start = 0x7f000021b000ULL, .end = 0x7f0000228000ULL } };
        LockPlan plan = { .ranges = r, .n_ranges = 1 }, bss = { .ranges = anon, .n_ranges = 1 };

        ASSERT_OK(maps_parse(text, &m));
        /* offset 0x214000: 16K from a 64K boundary; its end 0x218000 is 32K past one */
        ASSERT_EQ_U64(lock_folio_split_bytes(m, &plan, 64 * 1024), 16 * 1024);
        ASSERT_EQ_U64(lock_folio_split_bytes(m, &plan, 2 * MiB), 16 * 1024);
        /* with 16K folios both ends are aligned */
        ASSERT_EQ_U64(lock_folio_split_bytes(m, &plan, 16 * 1024), 0);
        /* the anonymous bss after the file shares no folio with it */
        ASSERT_EQ_U64(lock_folio_split_bytes(m, &bss, 2 * MiB), 0);
}

static void test_trim_aligned(Maps *m) {
        _cleanup_(lock_plan_freep) LockPlan *a = NULL, *b = NULL;
        LockParams p = params(LOCK_MODE_FULL, REGION_ANON);

        /* a trimmed range ends on a folio boundary when one is within the allowance */
        p.max_locked = 5 * MiB;
        p.align = 2 * MiB;
        ASSERT_OK(lock_plan(m, &p, &a));
        ASSERT_EQ_U64(a->ranges[0].start, 0x7ffff0000000ULL);
        ASSERT_EQ_U64(a->ranges[0].end, 0x7ffff0400000ULL);
        /* the 1 MiB left does not reach a boundary of the next region (it starts 4K past one):
         * page granularity there */
        ASSERT_EQ_U64(a->ranges[1].start, 0x7ffff4001000ULL);
        ASSERT_EQ_U64(a->ranges[1].end, 0x7ffff4101000ULL);
        ASSERT_EQ_U64(a->bytes, 5 * MiB);
        ASSERT_STREQ(a->trimmed, "limit");
        /* else at the page */
        p.max_locked = 1 * MiB + 4096;
        ASSERT_OK(lock_plan(m, &p, &b));
        ASSERT_EQ_U64(b->bytes, 1 * MiB + 4096);
        ASSERT_EQ_U64(b->ranges[0].end, 0x7ffff0101000ULL);
}

int main(void) {
        _cleanup_(maps_freep) Maps *m = load();

        test_folio_sizes();
        test_region_align();
        test_chunk_end();
        test_folio_split();
        test_folio_split_library();
        test_trim_aligned(m);

        test_select_anon(m);
        test_select_all_future(m);
        test_text_only(m);
        test_trim(m);
        test_verify(m);
        return 0;
}
