/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The budget arithmetic: MaxLocked= counts what mlockd holds, a lowered MaxLocked= gives back the
 * excess, the cgroup's room is its budget or limit margin less the bytes in flight, against the
 * larger of the kernel's unevictable and what mlockd holds there. */

#include <string.h>

#include "account.h"
#include "lock.h"
#include "tests.h"

#define MiB (1ULL << 20)

static void test_max_locked(void) {
        AccountResult a;

        /* nothing held: the whole allowance, no cgroup bound */
        account_target(&(AccountInput) { .max_locked = 8 * MiB }, &a);
        ASSERT_EQ_U64(a.held, 0);
        ASSERT_EQ_U64(a.budget, UINT64_MAX);
        ASSERT_EQ_U64(a.excess, 0);

        /* 8 MiB held under MaxLocked=8M (a reload, or a restart that found them): no excess */
        account_target(&(AccountInput) { .max_locked = 8 * MiB, .held = 8 * MiB }, &a);
        ASSERT_EQ_U64(a.held, 8 * MiB);
        ASSERT_EQ_U64(a.excess, 0);

        /* MaxLocked= lowered to 4M: 4 MiB to give back */
        account_target(&(AccountInput) { .max_locked = 4 * MiB, .held = 8 * MiB }, &a);
        ASSERT_EQ_U64(a.excess, 4 * MiB);

        /* no MaxLocked=: never an excess */
        account_target(&(AccountInput) { .held = 8 * MiB }, &a);
        ASSERT_EQ_U64(a.excess, 0);
}

static void test_cgroup(void) {
        CgroupMemory mem = { .unevictable = 10 * MiB, .limit = UINT64_MAX, .usage = 100 * MiB };
        AccountResult a;

        /* budget 32M, 10M unevictable, 6M in flight elsewhere: 16M left */
        account_target(&(AccountInput) { .memory = &mem, .cgroup_budget = 32 * MiB, .in_flight = 6 * MiB }, &a);
        ASSERT_EQ_U64(a.budget, 16 * MiB);

        /* more in flight than room: 0, never negative */
        account_target(&(AccountInput) { .memory = &mem, .cgroup_budget = 32 * MiB, .in_flight = 64 * MiB }, &a);
        ASSERT_EQ_U64(a.budget, 0);

        /* no budget, no limit: unbounded whatever is in flight */
        account_target(&(AccountInput) { .memory = &mem, .in_flight = 64 * MiB }, &a);
        ASSERT_EQ_U64(a.budget, UINT64_MAX);

        /* a limit of 200M with 100M used and a 50M margin: 50M */
        mem.limit = 200 * MiB;
        account_target(&(AccountInput) { .memory = &mem, .limit_margin = 50 * MiB }, &a);
        ASSERT_EQ_U64(a.budget, 50 * MiB);

        /* the kernel's unevictable lags what mlockd holds (pages swapped in under VM_LOCKED are not
         * mlocked yet): 256M flagged in the cgroup, 24M unevictable, budget 300M: 44M left, not 276M */
        mem = (CgroupMemory) { .unevictable = 24 * MiB, .limit = UINT64_MAX };
        account_target(&(AccountInput) { .memory = &mem, .cgroup_budget = 300 * MiB, .claimed = 256 * MiB }, &a);
        ASSERT_EQ_U64(a.budget, 44 * MiB);
        /* and where the kernel counts more (others' locks, shm): the kernel's figure */
        mem.unevictable = 280 * MiB;
        account_target(&(AccountInput) { .memory = &mem, .cgroup_budget = 300 * MiB, .claimed = 256 * MiB }, &a);
        ASSERT_EQ_U64(a.budget, 20 * MiB);

        ASSERT_EQ_U64(account_in_flight(10, 4), 6);
        ASSERT_EQ_U64(account_in_flight(4, 10), 0);
}

/* The planner honours held: 8 MiB held under MaxLocked=8M plans nothing more, reason "limit". */
static void test_plan_with_held(void) {
        MapsRegion regions[] = {
                { .start = 0x100000, .end = 0x100000 + 64 * MiB, .prot = 3, .kind = REGION_ANON, .lockable = true },
        };
        Maps maps = { .regions = regions, .n = 1, .smaps = true };
        LockParams p = { .mode = LOCK_MODE_ONFAULT, .regions = REGION_ALL, .max_locked = 8 * MiB,
                         .budget = UINT64_MAX, .memlock_limit = UINT64_MAX };
        _cleanup_(lock_plan_freep) LockPlan *plan = NULL;

        ASSERT_OK(lock_plan(&maps, &p, &plan));
        ASSERT_EQ_U64(plan->bytes, 8 * MiB);
        plan = lock_plan_free(plan);

        p.held = 8 * MiB;
        ASSERT_OK(lock_plan(&maps, &p, &plan));
        ASSERT_EQ_U64(plan->bytes, 0);
        ASSERT_STREQ(plan->trimmed, "limit");
        plan = lock_plan_free(plan);

        p.held = 6 * MiB;
        ASSERT_OK(lock_plan(&maps, &p, &plan));
        ASSERT_EQ_U64(plan->bytes, 2 * MiB);
}

/* Pages charged to another cgroup count against its budget, and what is over it is given back. */
static void test_foreign_excess(void) {
        /* no budget there: nothing to give back, whatever is charged */
        ASSERT_EQ_U64(account_foreign_excess(&(ForeignInput) { .unevictable = 32 * MiB, .charged = 32 * MiB }), 0);
        /* budget 12M, the lock put 32M there (the kernel says so too): 20M back */
        ASSERT_EQ_U64(account_foreign_excess(&(ForeignInput) { .budget = 12 * MiB, .unevictable = 32 * MiB,
                                                               .charged = 32 * MiB }),
                      20 * MiB);
        /* the kernel's figure lags: held + charged decides */
        ASSERT_EQ_U64(account_foreign_excess(&(ForeignInput) { .budget = 12 * MiB, .unevictable = 2 * MiB,
                                                               .held = 4 * MiB, .charged = 10 * MiB }),
                      2 * MiB);
        /* within the budget: nothing */
        ASSERT_EQ_U64(account_foreign_excess(&(ForeignInput) { .budget = 12 * MiB, .unevictable = 11 * MiB,
                                                               .held = 1 * MiB, .charged = 10 * MiB }),
                      0);
        /* over the budget by more than this lock brought: only what it brought goes back */
        ASSERT_EQ_U64(account_foreign_excess(&(ForeignInput) { .budget = 12 * MiB, .unevictable = 40 * MiB,
                                                               .held = 30 * MiB, .charged = 3 * MiB }),
                      3 * MiB);
        /* nothing charged there: nothing to give back */
        ASSERT_EQ_U64(account_foreign_excess(&(ForeignInput) { .budget = 1, .unevictable = 40 * MiB }), 0);
}

static void test_trim_pick(void) {
        const uint64_t pages[] = { 0, 512, 100, 512, 300, 0 };
        bool pick[6] = {};

        /* the fullest pieces first, until enough */
        ASSERT_EQ_U64(account_trim_pick(pages, 6, 600, pick), 1024);
        ASSERT_TRUE(pick[1] && pick[3]);
        ASSERT_FALSE(pick[0] || pick[2] || pick[4] || pick[5]);
        /* picked already counts; then the next fullest */
        ASSERT_EQ_U64(account_trim_pick(pages, 6, 1200, pick), 1324);
        ASSERT_TRUE(pick[4]);
        ASSERT_FALSE(pick[2]);
        /* more than there is: all that have any, never an empty piece */
        ASSERT_EQ_U64(account_trim_pick(pages, 6, 5000, pick), 1424);
        ASSERT_TRUE(pick[2]);
        ASSERT_FALSE(pick[0] || pick[5]);
        /* nothing wanted: nothing picked */
        memset(pick, 0, sizeof pick);
        ASSERT_EQ_U64(account_trim_pick(pages, 6, 0, pick), 0);
        ASSERT_FALSE(pick[1]);
}

int main(void) {
        test_max_locked();
        test_cgroup();
        test_plan_with_held();
        test_foreign_excess();
        test_trim_pick();
        return 0;
}
