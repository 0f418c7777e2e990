/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Pacing lock steps so that no step holds the target longer than MaxPause.
 *
 * What a step costs depends on the memory it covers, so the rate is learned per kind:
 *   RESIDENT  present 4K pages: the mlock walk only (onfault, or full over resident memory);
 *   POPULATE  absent pages a full lock has to fault in (allocate, zero);
 *   SWAPIN    swapped pages a full lock has to read back (bounded by the swap device: prefetch
 *             them first, Prefetch=, when one page's cost cannot be bounded);
 *   THP       pages in large folios (walked or populated a folio at a time).
 * The plan knows each range's mix from pagemap (PaceMix, from pageflags counts).
 *
 * - The first step on a kind is small (first[kind], scaled to MaxPause), whatever the other kinds
 *   showed: a rate learned on resident memory says nothing about swap-in.
 * - Growth is gradual: a kind's bytes in a step are at most `growth` times the most it took in
 *   one earlier step that stayed within the budget.
 * - The estimate is robust: the cost per byte of a kind is the median of its last PACE_WINDOW
 *   samples, so one slow step (the target preempted, the machine busy) does not collapse the
 *   rate; a sustained change moves the median within a few steps.
 * - Until it does, a step that went over MaxPause by its work (not by the fixed overhead) caps
 *   the next step of its kinds at what its own rate allows. If that step takes less than half
 *   the budget, the over-run was a one-off and the cap goes; otherwise it grows by `growth` with
 *   each step within the budget. A sustained slowdown (huge pages that suddenly cost ten times
 *   as much, a busy machine) costs one long hold, not the several the median needs to move; a
 *   one-off costs one small step, not the rate.
 * - A step aims at `fraction` of MaxPause, less the fixed attach/detach overhead. That overhead
 *   is learned from the holds (the intercept of a robust fit of hold against bytes): where it
 *   alone takes most of the budget (a loaded machine), a step still gets half the budget's worth
 *   of work, rather than shrinking to a page and multiplying the steps, each as long.
 *
 * The hold fed to pace_record() must be the time the target was stopped: lib/inject.c's
 * InjectStats.held, from the PTRACE_INTERRUPT (a blocking wait reaps the stop) to just before the
 * PTRACE_DETACH that lets it run, so the tracer's scheduling delay after the detach (the woken
 * target may preempt it) does not count, and any delay in reaping the stop does.
 *
 * Pure: no I/O, no clock; unit-tested in tests/test-pace.c. */

#include <stdbool.h>
#include <stdint.h>

#include "pageflags.h"
#include "parse-util.h"

typedef enum PaceKind {
        PACE_RESIDENT,
        PACE_POPULATE,
        PACE_SWAPIN,
        PACE_THP,
        _PACE_KIND_MAX,
        _PACE_KIND_INVALID = -EINVAL,
} PaceKind;

const char *pace_kind_to_string(PaceKind k);

#define PACE_WINDOW 8

typedef struct PaceMix {
        uint64_t bytes[_PACE_KIND_MAX];
} PaceMix;

typedef struct PaceParams {
        usec_t max_pause;               /* MaxPause= */
        double fraction;                /* of max_pause a step aims at; default 0.5 */
        usec_t overhead;                /* fixed cost of a step (attach, detach); default 100us */
        double growth;                  /* per step, per kind; default 2 */
        uint64_t first[_PACE_KIND_MAX]; /* first step's bytes per kind at MaxPause=5ms; 0: default */
        uint64_t page_size;             /* default 4096 */
} PaceParams;

typedef struct PaceKindState {
        double cost[PACE_WINDOW];       /* usec per MiB, most recent samples (ring) */
        unsigned n, next;
        uint64_t largest_ok;            /* most bytes of this kind one step took within budget (or
                                           within the learned overhead plus the budget) */
        uint64_t ceiling;               /* after an over-run, most bytes of this kind the next step
                                           may take (0: none) */
        bool probing;                   /* the next step says whether the over-run was a one-off */
} PaceKindState;

typedef struct Pace {
        PaceParams params;
        PaceKindState kinds[_PACE_KIND_MAX];
        /* the fixed cost of a step, learned: the last PACE_WINDOW steps' (bytes, hold), fitted
         * robustly (Theil-Sen); params.overhead until they say more. On a loaded machine the
         * stop itself can take milliseconds whatever the size: that is no reason to shrink steps. */
        double step_bytes[PACE_WINDOW], step_held[PACE_WINDOW];
        unsigned n_steps, next_step;
        double overhead;
        usec_t longest;                 /* longest hold recorded */
        unsigned over;                  /* steps that went over max_pause */
} Pace;

/* Defaults filled in for zero fields. */
void pace_init(Pace *p, const PaceParams *params);

/* The mix of a range from its per-page counts: present pages in large folios are THP, other
 * present pages RESIDENT, swapped SWAPIN, the rest POPULATE when the lock populates (Mode=full)
 * and nothing otherwise (onfault does not fault pages in). */
void pace_mix_from_counts(const PageCounts *c, uint64_t page_size, bool populates, PaceMix *ret);

/* Learned cost of a kind, usec per MiB; false while the kind has no sample. */
bool pace_cost(const Pace *p, PaceKind k, double *ret_usec_per_mib);

/* Predicted hold of a step covering mix (overhead included). Kinds without a sample are priced
 * so that first[kind] fills the budget. */
usec_t pace_predict(const Pace *p, const PaceMix *mix);

/* How many bytes of a range with this mix (spread evenly over range_bytes) the next step may
 * take: within the budget by the prediction, and within each kind's first-step and growth caps.
 * At least one page; at most range_bytes. */
uint64_t pace_step_bytes(const Pace *p, const PaceMix *range_mix, uint64_t range_bytes);

/* The fixed cost of a step as learned (usec). */
double pace_overhead(const Pace *p);

/* A finished step: its mix and how long the target was held. */
void pace_record(Pace *p, const PaceMix *mix, usec_t held);
