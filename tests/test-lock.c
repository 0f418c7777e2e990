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

static void test_chunks(void) {
        /* first chunk without a rate, then sized so a call takes about 40% of MaxPause */
        ASSERT_EQ_U64(lock_chunk_size(LOCK_MODE_FULL, 0, 5000), 1 * MiB);
        ASSERT_EQ_U64(lock_chunk_size(LOCK_MODE_ONFAULT, 0, 5000), 64 * MiB);
        ASSERT_EQ_U64(lock_chunk_size(LOCK_MODE_FULL, 1000.0, 5000), (2000000ULL) & ~4095ULL);
        /* bounded both ways, page aligned */
        ASSERT_EQ_U64(lock_chunk_size(LOCK_MODE_FULL, 0.001, 100), 256 * 1024);
        ASSERT_EQ_U64(lock_chunk_size(LOCK_MODE_FULL, 1e12, 5000), 1ULL << 30);
        ASSERT_EQ_U64(lock_chunk_size(LOCK_MODE_FULL, 333.3, 5000) % 4096, 0);
}

int main(void) {
        _cleanup_(maps_freep) Maps *m = load();

        test_select_anon(m);
        test_select_all_future(m);
        test_text_only(m);
        test_trim(m);
        test_verify(m);
        test_chunks();
        return 0;
}
