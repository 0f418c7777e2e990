/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pace.c: first steps small per kind, gradual growth, a robust rate (one preempted step does not
 * collapse it, a sustained change moves it), mixes from per-page counts, and the budget. */
#include "pace.h"
#include "tests.h"

#define MiB (1ULL << 20)
#define KiB (1ULL << 10)

static PaceMix only(PaceKind k, uint64_t bytes) {
        PaceMix m = {};

        m.bytes[k] = bytes;
        return m;
}

static Pace fresh(usec_t max_pause) {
        Pace p;

        pace_init(&p, &(PaceParams) { .max_pause = max_pause });
        return p;
}

static void test_first_steps(void) {
        Pace p = fresh(5000);
        PaceMix m;

        ASSERT_STREQ(pace_kind_to_string(PACE_SWAPIN), "swapin");
        ASSERT_NULL(pace_kind_to_string(_PACE_KIND_MAX));
        /* each kind starts small, and on its own figure */
        m = only(PACE_RESIDENT, 1024 * MiB);
        ASSERT_EQ_U64(pace_step_bytes(&p, &m, 1024 * MiB), 16 * MiB);
        m = only(PACE_POPULATE, 1024 * MiB);
        ASSERT_EQ_U64(pace_step_bytes(&p, &m, 1024 * MiB), 1 * MiB);
        m = only(PACE_SWAPIN, 1024 * MiB);
        ASSERT_EQ_U64(pace_step_bytes(&p, &m, 1024 * MiB), 256 * KiB);
        m = only(PACE_THP, 1024 * MiB);
        ASSERT_EQ_U64(pace_step_bytes(&p, &m, 1024 * MiB), 2 * MiB);
        /* predicted to fill the budget: half of MaxPause */
        m = only(PACE_POPULATE, 1 * MiB);
        ASSERT_TRUE(pace_predict(&p, &m) >= 2490 && pace_predict(&p, &m) <= 2510);

        /* scaled to MaxPause, page aligned, but never below one huge page for THP */
        p = fresh(1000);
        m = only(PACE_POPULATE, 1024 * MiB);
        ASSERT_EQ_U64(pace_step_bytes(&p, &m, 1024 * MiB), 208896); /* 1 MiB / 5, in pages */
        m = only(PACE_THP, 1024 * MiB);
        ASSERT_EQ_U64(pace_step_bytes(&p, &m, 1024 * MiB), 2 * MiB);

        /* a rate learned on resident memory does not make the first swap-in step large */
        p = fresh(5000);
        for (int i = 0; i < 8; i++)
                pace_record(&p, &(PaceMix) { .bytes[PACE_RESIDENT] = 16 * MiB }, 200);
        m = only(PACE_SWAPIN, 1024 * MiB);
        ASSERT_EQ_U64(pace_step_bytes(&p, &m, 1024 * MiB), 256 * KiB);

        /* a range with nothing to do is one step; a short range is taken whole */
        m = (PaceMix) {};
        ASSERT_EQ_U64(pace_step_bytes(&p, &m, 64 * MiB), 64 * MiB);
        m = only(PACE_POPULATE, 64 * KiB);
        ASSERT_EQ_U64(pace_step_bytes(&p, &m, 64 * KiB), 64 * KiB);
}

static void test_growth(void) {
        Pace p = fresh(5000);
        PaceMix m = only(PACE_RESIDENT, 1024 * MiB);
        uint64_t step = pace_step_bytes(&p, &m, 1024 * MiB), prev;

        /* a fast kind: each step at most twice the last good one */
        for (int i = 0; i < 3; i++) {
                pace_record(&p, &(PaceMix) { .bytes[PACE_RESIDENT] = step }, 100 + step / MiB * 10);
                prev = step;
                step = pace_step_bytes(&p, &m, 1024 * MiB);
                ASSERT_EQ_U64(step, 2 * prev);
        }
        ASSERT_EQ_U64(step, 128 * MiB);
        /* until the budget binds: 10 us/MiB, 2400 us -> 240 MiB */
        pace_record(&p, &(PaceMix) { .bytes[PACE_RESIDENT] = step }, 100 + step / MiB * 10);
        step = pace_step_bytes(&p, &m, 1024 * MiB);
        ASSERT_EQ_U64(step, 240 * MiB);
        ASSERT_EQ(p.over, 0);
}

static void test_robust(void) {
        Pace p = fresh(5000);
        PaceMix m = only(PACE_POPULATE, 1024 * MiB);
        uint64_t before, after;
        double c;

        /* 2000 us per MiB populating: steps of ~1.2 MiB */
        for (int i = 0; i < 6; i++)
                pace_record(&p, &(PaceMix) { .bytes[PACE_POPULATE] = 1 * MiB }, 2100);
        ASSERT_TRUE(pace_cost(&p, PACE_POPULATE, &c));
        ASSERT_TRUE(c > 1999 && c < 2001);
        before = pace_step_bytes(&p, &m, 1024 * MiB);
        ASSERT_TRUE(before >= 1 * MiB && before <= 2 * MiB);

        /* one step preempted for 50 ms: over MaxPause, counted, but the rate holds; only the next
         * step is cut to what that step's rate allows (2400 us of 49.9 ms: 1/20), a probe that
         * runs at the old rate, and the one after is as large as before */
        pace_record(&p, &(PaceMix) { .bytes[PACE_POPULATE] = 1 * MiB }, 50000);
        ASSERT_EQ(p.over, 1);
        ASSERT_EQ_U64(p.longest, 50000);
        ASSERT_TRUE(pace_cost(&p, PACE_POPULATE, &c));
        ASSERT_TRUE(c > 1999 && c < 2001);
        after = pace_step_bytes(&p, &m, 1024 * MiB);
        ASSERT_TRUE(after >= 48 * KiB && after <= 52 * KiB);
        pace_record(&p, &(PaceMix) { .bytes[PACE_POPULATE] = after }, 100 + after * 2000 / MiB);
        ASSERT_EQ_U64(pace_step_bytes(&p, &m, 1024 * MiB), before);
        ASSERT_EQ(p.over, 1);

        /* a sustained change (the machine got slower) moves the median within a few steps */
        for (int i = 0; i < 5; i++)
                pace_record(&p, &(PaceMix) { .bytes[PACE_POPULATE] = 1 * MiB }, 8100);
        ASSERT_TRUE(pace_cost(&p, PACE_POPULATE, &c));
        ASSERT_TRUE(c >= 7999);
        after = pace_step_bytes(&p, &m, 1024 * MiB);
        ASSERT_TRUE(after <= 2400 * MiB / 8000 + 4096);
        ASSERT_TRUE(after >= 256 * KiB);
}

/* A probe delayed as long as the over-run before it, whatever its size: a delay, not a rate. */
static void test_delayed_probe(void) {
        Pace p = fresh(5000);
        PaceMix m = only(PACE_POPULATE, 1024 * MiB);
        uint64_t probe;

        for (int i = 0; i < 6; i++)
                pace_record(&p, &(PaceMix) { .bytes[PACE_POPULATE] = 1 * MiB }, 2100);
        pace_record(&p, &(PaceMix) { .bytes[PACE_POPULATE] = 1 * MiB }, 50000);
        probe = pace_step_bytes(&p, &m, 1024 * MiB);
        ASSERT_TRUE(probe < 64 * KiB);
        pace_record(&p, &(PaceMix) { .bytes[PACE_POPULATE] = probe }, 50000);
        ASSERT_EQ_U64(p.kinds[PACE_POPULATE].ceiling, 0);
        /* no ceiling: the step is the rate's (and the learned overhead's, which this delay raised) */
        ASSERT_TRUE(pace_step_bytes(&p, &m, 1024 * MiB) >= 512 * KiB);
        ASSERT_EQ(p.over, 2);
}

/* Huge pages that suddenly cost more: 2 MiB took 0.2 ms, now 5 ms. The first step after
 * the change is a long hold whatever the estimate; the next ones must not be (they were, four in
 * a row, 28-45 ms each at MaxPause=5ms, until the median moved). They come down to a folio or
 * less (job.c rounds a step up to the folio). */
static void test_sustained_slowdown(void) {
        Pace p = fresh(5000);
        PaceMix m = only(PACE_THP, 1024 * MiB);
        uint64_t step = 0;
        unsigned long_holds = 0;

        for (int i = 0; i < 12; i++) {
                step = pace_step_bytes(&p, &m, 1024 * MiB);
                pace_record(&p, &(PaceMix) { .bytes[PACE_THP] = step }, 100 + step / MiB * 100);
        }
        ASSERT_TRUE(step >= 16 * MiB);
        ASSERT_EQ(p.over, 0);
        for (int i = 0; i < 12; i++) {
                usec_t held;

                step = pace_step_bytes(&p, &m, 1024 * MiB);
                held = 100 + step / MiB * 2500;
                if (held > 10000)
                        long_holds++;
                pace_record(&p, &(PaceMix) { .bytes[PACE_THP] = step }, held);
        }
        ASSERT_EQ(long_holds, 1);
        ASSERT_TRUE(step <= 2 * MiB); /* the job rounds it up to the folio */
}

/* A busy machine: every third stop is delayed 3 ms whatever its size, at MaxPause=1ms. Each such
 * over-run costs one small probe step, no more: the steps stay within 1.5x those of a quiet
 * machine (2 GiB populated at 300 us/MiB). */
static void test_noise(void) {
        unsigned steps[2] = {};

        for (int noisy = 0; noisy < 2; noisy++) {
                Pace p = fresh(1000);
                uint64_t left = 2048 * MiB;

                while (left > 0 && steps[noisy] < 100000) {
                        PaceMix m = only(PACE_POPULATE, left);
                        uint64_t s = pace_step_bytes(&p, &m, left);
                        usec_t held = 100 + s * 300 / MiB + (noisy && steps[noisy] % 3 == 2 ? 3000 : 0);

                        pace_record(&p, &(PaceMix) { .bytes[PACE_POPULATE] = s }, held);
                        left -= s;
                        steps[noisy]++;
                }
        }
        ASSERT_TRUE(steps[0] >= 1000 && steps[0] <= 2000);
        ASSERT_TRUE(steps[1] * 2 <= steps[0] * 3);
}

/* A first step cut to one page (a 2 MiB window's edge) over a range whose resident share is a
 * fraction: that page's share is all the kind "took", and the steps after it must still grow.
 * They once stayed at one page for good (31,232 steps for 128 MiB). */
static void test_clipped_first_step(void) {
        Pace p = fresh(5000);
        PaceMix m = { .bytes[PACE_RESIDENT] = 40 * MiB, .bytes[PACE_POPULATE] = 88 * MiB };
        PaceMix one = { .bytes[PACE_RESIDENT] = 1280, .bytes[PACE_POPULATE] = 4096 - 1280 };
        uint64_t step = 0;

        pace_record(&p, &one, 150);
        for (int i = 0; i < 6; i++) {
                uint64_t s = pace_step_bytes(&p, &m, 128 * MiB);

                ASSERT_TRUE(s >= step);
                step = s;
                pace_record(&p,
                            &(PaceMix) { .bytes[PACE_RESIDENT] = step * 40 / 128,
                                         .bytes[PACE_POPULATE] = step - step * 40 / 128 },
                            100 + step / MiB * 1000);
        }
        ASSERT_TRUE(step >= 512 * KiB);
        ASSERT_EQ(p.over, 0);
}

static void test_mixed(void) {
        Pace p = fresh(5000);
        PaceMix m = { .bytes[PACE_RESIDENT] = 32 * MiB, .bytes[PACE_SWAPIN] = 32 * MiB };
        double r, s;

        /* half swapped: the swap-in share is held to its first step, 256 KiB of it, and the
         * resident half's price comes on top */
        ASSERT_TRUE(pace_step_bytes(&p, &m, 64 * MiB) <= 512 * KiB);
        ASSERT_TRUE(pace_step_bytes(&p, &m, 64 * MiB) >= 480 * KiB);

        /* a mixed step's time is split by the expected costs: resident is known to be cheap */
        for (int i = 0; i < 3; i++)
                pace_record(&p, &(PaceMix) { .bytes[PACE_RESIDENT] = 16 * MiB }, 260); /* 10 us/MiB */
        pace_record(&p, &(PaceMix) { .bytes[PACE_RESIDENT] = 256 * KiB, .bytes[PACE_SWAPIN] = 256 * KiB },
                    2000);
        ASSERT_TRUE(pace_cost(&p, PACE_RESIDENT, &r));
        ASSERT_TRUE(pace_cost(&p, PACE_SWAPIN, &s));
        ASSERT_TRUE(r < 20);
        ASSERT_TRUE(s > 5000); /* nearly all of the 1.9 ms went to 256 KiB of swap-in */
}

/* A loaded machine: every stop costs 2.5 ms whatever its size, more than MaxPause=1ms. The fixed
 * part is learned (Theil-Sen), so steps do not shrink to a page (each as long, and thousands of
 * them): they carry half the budget's worth of work on top of the overhead. */
static void test_overhead(void) {
        Pace p = fresh(1000);
        PaceMix m = only(PACE_POPULATE, 2048 * MiB);
        uint64_t step = 0;

        for (int i = 0; i < 20; i++) {
                step = pace_step_bytes(&p, &m, 2048 * MiB);
                pace_record(&p, &(PaceMix) { .bytes[PACE_POPULATE] = step }, 2500 + step / KiB / 2); /* 2 GB/s */
        }
        ASSERT_TRUE(pace_overhead(&p) > 2400 && pace_overhead(&p) < 2600);
        step = pace_step_bytes(&p, &m, 2048 * MiB);
        /* 250 us of work at 2 GB/s: about 500 KiB */
        ASSERT_TRUE(step >= 400 * KiB && step <= 600 * KiB);

        /* the idle machine's figures: steps of one size say nothing about the overhead */
        p = fresh(5000);
        for (int i = 0; i < 8; i++)
                pace_record(&p, &(PaceMix) { .bytes[PACE_POPULATE] = 1 * MiB }, 2100);
        ASSERT_TRUE(pace_overhead(&p) == 100);
        /* and a fitted intercept below the default keeps the default */
        p = fresh(5000);
        for (int i = 1; i <= 8; i++)
                pace_record(&p, &(PaceMix) { .bytes[PACE_RESIDENT] = i * MiB }, 20 + i * 10);
        ASSERT_TRUE(pace_overhead(&p) == 100);
}

static void test_mix_from_counts(void) {
        PageCounts c = { .pages = 200, .present = 100, .large = 40, .swapped = 10 };
        PaceMix m;

        pace_mix_from_counts(&c, 4096, true, &m);
        ASSERT_EQ_U64(m.bytes[PACE_THP], 40 * 4096);
        ASSERT_EQ_U64(m.bytes[PACE_RESIDENT], 60 * 4096);
        ASSERT_EQ_U64(m.bytes[PACE_SWAPIN], 10 * 4096);
        ASSERT_EQ_U64(m.bytes[PACE_POPULATE], 90 * 4096);
        /* onfault: only what is present costs anything now */
        pace_mix_from_counts(&c, 4096, false, &m);
        ASSERT_EQ_U64(m.bytes[PACE_SWAPIN], 0);
        ASSERT_EQ_U64(m.bytes[PACE_POPULATE], 0);
        ASSERT_EQ_U64(m.bytes[PACE_RESIDENT], 60 * 4096);
}

int main(void) {
        test_first_steps();
        test_growth();
        test_robust();
        test_delayed_probe();
        test_sustained_slowdown();
        test_noise();
        test_mixed();
        test_clipped_first_step();
        test_overhead();
        test_mix_from_counts();
        return 0;
}
