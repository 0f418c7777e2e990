/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The target record: state strings from the enums, and the ledger on a fixture where the target
 * locked 4 MiB itself (full), mlockd locked 64 MiB onfault, and 16 MiB are unlocked. */

#include <stdlib.h>

#include "fileio.h"
#include "lock.h"
#include "target.h"
#include "tests.h"

#define MiB (1ULL << 20)
#define OWN 0x7f0000000000ULL           /* the target's own 4 MiB, full */
#define OURS 0x7f0000400000ULL          /* mlockd's 64 MiB, onfault */
#define FREE 0x7f0004400000ULL          /* 16 MiB not locked */

static Maps *fixture(void) {
        _cleanup_free_ char *text = NULL, *path = NULL;
        Maps *m = NULL;

        ASSERT_TRUE(asprintf(&path, "%s/target/selflock.smaps", test_data_dir()) > 0);
        ASSERT_OK(read_full_file(path, 1 << 20, &text, NULL));
        ASSERT_OK(maps_parse(text, &m));
        return m;
}

static void test_strings(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        const char *detail;

        ASSERT_OK(target_state_format(TARGET_LOCKED, TARGET_REASON_NONE, NULL, &a));
        ASSERT_STREQ(a, "locked");
        ASSERT_OK(target_state_format(TARGET_PARTIAL, TARGET_REASON_RLIMIT, NULL, &b));
        ASSERT_STREQ(b, "partial:rlimit");
        ASSERT_OK(target_state_format(TARGET_SKIPPED, TARGET_REASON_SECCOMP, "kill_process", &c));
        ASSERT_STREQ(c, "skipped:seccomp:kill_process");

        ASSERT_EQ(target_reason_from_string("seccomp:unreadable", &detail), TARGET_REASON_SECCOMP);
        ASSERT_STREQ(detail, "unreadable");
        ASSERT_EQ(target_reason_from_string("not-a-reason", &detail), _TARGET_REASON_INVALID);
        for (TargetReason r = 1; r < _TARGET_REASON_MAX; r++)
                ASSERT_EQ(target_reason_from_string(target_reason_to_string(r), NULL), r);
        ASSERT_NULL(target_state_to_string(_TARGET_STATE_MAX));
}

static void test_ledger_edit(void) {
        Ledger l = {};

        ASSERT_OK(ledger_add(&l, 0x1000, 0x5000, LOCK_MODE_FULL));
        ASSERT_OK(ledger_add(&l, 0x5000, 0x8000, LOCK_MODE_FULL));
        ASSERT_EQ(l.n, 1); /* merged */
        ASSERT_OK(ledger_add(&l, 0x3000, 0x4000, LOCK_MODE_ONFAULT));
        ASSERT_EQ(l.n, 3);
        ASSERT_EQ_U64(ledger_bytes(&l), 0x7000);
        ledger_remove(&l, 0x2000, 0x6000);
        ASSERT_EQ(l.n, 2);
        ASSERT_EQ_U64(l.ranges[0].end, 0x2000);
        ASSERT_EQ_U64(l.ranges[1].start, 0x6000);
        ASSERT_EQ_U64(ledger_bytes(&l), 0x3000);
        ledger_done(&l);
}

static void test_planner_maps(void) {
        _cleanup_(maps_freep) Maps *smaps = fixture();
        Maps *pm = NULL;
        Ledger l = {};
        uint64_t adopted = 0;
        LockParams p = { .mode = LOCK_MODE_FULL, .regions = REGION_ANON, .budget = UINT64_MAX,
                         .memlock_limit = UINT64_MAX };
        _cleanup_(lock_plan_freep) LockPlan *plan = NULL;

        /* empty ledger (a restart): everything locked is adopted */
        ASSERT_OK(ledger_planner_maps(&l, smaps, REGION_ANON, NULL, &pm, &adopted));
        ASSERT_EQ_U64(adopted, 68 * MiB);
        pm = ledger_maps_free(pm);

        /* mlockd's onfault range in the ledger: only the target's own 4 MiB is adopted */
        ASSERT_OK(ledger_add(&l, OURS, OURS + 64 * MiB, LOCK_MODE_ONFAULT));
        ASSERT_OK(ledger_planner_maps(&l, smaps, REGION_ANON, NULL, &pm, &adopted));
        ASSERT_EQ_U64(adopted, 4 * MiB);

        /* a full plan relocks mlockd's onfault range full, locks the free range, and never touches
         * the target's own range */
        ASSERT_OK(lock_plan(pm, &p, &plan));
        ASSERT_EQ_U64(plan->bytes, 80 * MiB);
        for (size_t i = 0; i < plan->n_ranges; i++)
                ASSERT_TRUE(plan->ranges[i].end <= OWN || plan->ranges[i].start >= OWN + 4 * MiB);
        plan = lock_plan_free(plan);

        /* an onfault plan keeps mlockd's range as done and does not make the target's full lock onfault */
        p.mode = LOCK_MODE_ONFAULT;
        ASSERT_OK(lock_plan(pm, &p, &plan));
        ASSERT_EQ_U64(plan->bytes, 16 * MiB);
        for (size_t i = 0; i < plan->n_ranges; i++)
                ASSERT_TRUE(plan->ranges[i].end <= OWN || plan->ranges[i].start >= OWN + 4 * MiB);
        pm = ledger_maps_free(pm);
        ledger_done(&l);
}

static void test_unlock_steps(void) {
        _cleanup_(maps_freep) Maps *smaps = fixture();
        _cleanup_free_ LedgerStep *steps = NULL;
        Ledger l = {};
        size_t n = 0;

        ASSERT_OK(ledger_add(&l, OURS, OURS + 64 * MiB, LOCK_MODE_ONFAULT));

        /* Release: exactly mlockd's range, never the target's own */
        ASSERT_OK(ledger_unlock_steps(&l, smaps, 0, &steps, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(steps[0].call, INJECT_MUNLOCK);
        ASSERT_EQ_U64(steps[0].start, OURS);
        ASSERT_EQ_U64(steps[0].len, 64 * MiB);
        free(steps);
        steps = NULL;

        /* MaxLocked= lowered to 48M: the top 16 MiB go back */
        ASSERT_OK(ledger_unlock_steps(&l, smaps, 48 * MiB, &steps, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ_U64(steps[0].start, OURS + 48 * MiB);
        ASSERT_EQ_U64(steps[0].len, 16 * MiB);
        ledger_step_done(&l, &steps[0]);
        ASSERT_EQ_U64(ledger_bytes(&l), 48 * MiB);
        free(steps);
        steps = NULL;

        /* nothing beyond what is held: nothing to do */
        ASSERT_OK(ledger_unlock_steps(&l, smaps, 64 * MiB, &steps, &n));
        ASSERT_EQ(n, 0);
        free(steps);
        steps = NULL;

        /* after MCL_FUTURE: munlockall, then the target's own full lock is put back full and the
         * onfault part mlockd does not own (the top 16 MiB now) is put back onfault */
        l.future = true;
        ASSERT_OK(ledger_unlock_steps(&l, smaps, 0, &steps, &n));
        ASSERT_EQ(n, 3);
        ASSERT_EQ(steps[0].call, INJECT_MUNLOCKALL);
        ASSERT_EQ(steps[1].call, INJECT_MLOCK2);
        ASSERT_EQ_U64(steps[1].start, OWN);
        ASSERT_EQ_U64(steps[1].len, 4 * MiB);
        ASSERT_EQ(steps[1].flags, 0U);
        ASSERT_EQ(steps[2].call, INJECT_MLOCK2);
        ASSERT_EQ_U64(steps[2].start, OURS + 48 * MiB);
        ASSERT_EQ(steps[2].flags, 1U);
        ledger_step_done(&l, &steps[0]);
        ASSERT_EQ(l.n, 0);
        ASSERT_FALSE(l.future);
        ledger_done(&l);
}

static void test_prune(void) {
        _cleanup_(maps_freep) Maps *smaps = fixture();
        Ledger l = {};

        /* the free range is not locked any more (the target munlocked it): forgotten */
        ASSERT_OK(ledger_add(&l, OURS, OURS + 64 * MiB, LOCK_MODE_ONFAULT));
        ASSERT_OK(ledger_add(&l, FREE, FREE + 16 * MiB, LOCK_MODE_FULL));
        ASSERT_OK(ledger_prune(&l, smaps));
        ASSERT_EQ(l.n, 1);
        ASSERT_EQ_U64(ledger_bytes(&l), 64 * MiB);
        ledger_done(&l);
}

/* More to lock: a selected mapping that neither the kernel's lock nor the ledger covers. */
static void test_needs_more(void) {
        _cleanup_(maps_freep) Maps *smaps = fixture();
        char *globs[] = { (char *) "/usr/bin/*", NULL };
        Ledger l = {};

        /* the 16 MiB free range is anonymous and unlocked */
        ASSERT_TRUE(ledger_needs_more(&l, smaps, REGION_ANON, NULL));
        /* the ledger holds it (a step of this job, VmFlags not seen yet): nothing more */
        ASSERT_OK(ledger_add(&l, FREE, FREE + 16 * MiB, LOCK_MODE_ONFAULT));
        ASSERT_FALSE(ledger_needs_more(&l, smaps, REGION_ANON, NULL));
        /* only part of it: the rest is more */
        ledger_remove(&l, FREE + 8 * MiB, FREE + 16 * MiB);
        ASSERT_TRUE(ledger_needs_more(&l, smaps, REGION_ANON, NULL));
        ledger_done(&l);

        /* the locked ranges (the target's own, mlockd's from before) count as covered */
        smaps->regions[3].vmflags |= VMFLAG_LOCKED;
        ASSERT_FALSE(ledger_needs_more(&l, smaps, REGION_ANON, NULL));
        /* a file mapping not selected, then selected by a glob or by Regions=all */
        ASSERT_FALSE(ledger_needs_more(&l, smaps, REGION_HEAP | REGION_STACK, NULL));
        ASSERT_TRUE(ledger_needs_more(&l, smaps, REGION_HEAP, globs));
        ASSERT_TRUE(ledger_needs_more(&l, smaps, REGION_ALL, NULL));
        /* left out of the plan (a network file, userfaultfd): not more */
        smaps->regions[0].lockable = false;
        ASSERT_FALSE(ledger_needs_more(&l, smaps, REGION_ALL, NULL));
        ASSERT_FALSE(ledger_needs_more(&l, NULL, REGION_ALL, NULL));
}

int main(void) {
        test_needs_more();
        test_strings();
        test_ledger_edit();
        test_planner_maps();
        test_unlock_steps();
        test_prune();
        return 0;
}
