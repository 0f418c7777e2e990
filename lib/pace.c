/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "pace.h"

#define MIB (1024.0 * 1024.0)

static const char *const kind_names[_PACE_KIND_MAX] = {
        [PACE_RESIDENT] = "resident",
        [PACE_POPULATE] = "populate",
        [PACE_SWAPIN] = "swapin",
        [PACE_THP] = "thp",
};

/* First steps at MaxPause=5ms. Resident: the mlock walk only. Populate: ~0.5 GB/s measured, so
 * 1 MiB is ~2 ms. Swap-in: a device read per page, so small. THP: one PMD folio. */
static const uint64_t first_default[_PACE_KIND_MAX] = {
        [PACE_RESIDENT] = 16ULL << 20,
        [PACE_POPULATE] = 1ULL << 20,
        [PACE_SWAPIN] = 256ULL << 10,
        [PACE_THP] = 2ULL << 20,
};

const char *pace_kind_to_string(PaceKind k) {
        return k >= 0 && k < _PACE_KIND_MAX ? kind_names[k] : NULL;
}

void pace_init(Pace *p, const PaceParams *params) {
        *p = (Pace) { .params = *params };
        if (p->params.fraction <= 0 || p->params.fraction > 1)
                p->params.fraction = 0.5;
        if (p->params.overhead == 0)
                p->params.overhead = 100;
        if (p->params.growth < 1)
                p->params.growth = 2;
        if (p->params.page_size == 0)
                p->params.page_size = 4096;
        if (p->params.max_pause == 0)
                p->params.max_pause = 5000;
        for (int k = 0; k < _PACE_KIND_MAX; k++)
                if (p->params.first[k] == 0)
                        p->params.first[k] = first_default[k];
        p->overhead = (double) p->params.overhead;
}

double pace_overhead(const Pace *p) {
        return p->overhead;
}

void pace_mix_from_counts(const PageCounts *c, uint64_t page_size, bool populates, PaceMix *ret) {
        uint64_t large = MIN(c->large, c->present);
        uint64_t absent = c->pages - MIN(c->pages, c->present + c->swapped);

        *ret = (PaceMix) {};
        ret->bytes[PACE_THP] = large * page_size;
        ret->bytes[PACE_RESIDENT] = (c->present - large) * page_size;
        /* onfault neither faults in nor swaps in: what is not present costs nothing now */
        if (populates) {
                ret->bytes[PACE_SWAPIN] = c->swapped * page_size;
                ret->bytes[PACE_POPULATE] = absent * page_size;
        }
}

/* The variable part of the budget: what a step may spend beyond its fixed overhead; at least half
 * of it when the overhead alone eats it (steps cannot get shorter than the overhead anyway). */
static double budget_usec(const Pace *p) {
        double whole = (double) p->params.max_pause * p->params.fraction, b = whole - p->overhead;

        if (b < whole / 2)
                b = whole / 2;
        return b < 1 ? 1 : b;
}

/* first[k] at this MaxPause (they are given for 5 ms), at least a page */
static double first_bytes(const Pace *p, PaceKind k) {
        double f = (double) p->params.first[k] * (double) p->params.max_pause / 5000.0;

        if (k == PACE_THP && f < (double) p->params.first[k])
                f = (double) p->params.first[k]; /* a folio cannot be cut */
        return f < (double) p->params.page_size ? (double) p->params.page_size : f;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n) {
        qsort(v, n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool pace_cost(const Pace *p, PaceKind k, double *ret_usec_per_mib) {
        const PaceKindState *s = &p->kinds[k];
        double v[PACE_WINDOW];

        if (s->n == 0)
                return false;
        memcpy(v, s->cost, sizeof(double) * s->n);
        *ret_usec_per_mib = median(v, s->n);
        return true;
}

/* usec per MiB: learned, or priced so that the first step fills the budget */
static double cost_or_prior(const Pace *p, PaceKind k) {
        double c;

        if (pace_cost(p, k, &c))
                return c;
        return budget_usec(p) / (first_bytes(p, k) / MIB);
}

usec_t pace_predict(const Pace *p, const PaceMix *mix) {
        double t = p->overhead;

        for (int k = 0; k < _PACE_KIND_MAX; k++)
                t += (double) mix->bytes[k] / MIB * cost_or_prior(p, k);
        return (usec_t) t;
}

uint64_t pace_step_bytes(const Pace *p, const PaceMix *range_mix, uint64_t range_bytes) {
        uint64_t total = 0, ps = p->params.page_size, step;
        double x = (double) range_bytes, per_byte = 0;

        for (int k = 0; k < _PACE_KIND_MAX; k++)
                total += range_mix->bytes[k];
        if (range_bytes == 0)
                return 0;
        if (total == 0)
                return range_bytes; /* nothing to do in it (onfault over absent memory) */

        for (int k = 0; k < _PACE_KIND_MAX; k++) {
                double share, cap;

                if (range_mix->bytes[k] == 0)
                        continue;
                share = (double) range_mix->bytes[k] / (double) range_bytes;
                per_byte += share * cost_or_prior(p, k) / MIB;
                /* growth from the largest step that stayed within budget, never below the first
                 * step: a step cut short (a window's edge, the range's end) must not pin the next */
                cap = MAX(first_bytes(p, k), p->params.growth * (double) p->kinds[k].largest_ok);
                if (p->kinds[k].ceiling > 0)
                        cap = MIN(cap, (double) p->kinds[k].ceiling);
                if (x * share > cap)
                        x = cap / share;
        }
        if (per_byte > 0 && x * per_byte > budget_usec(p))
                x = budget_usec(p) / per_byte;

        /* to the nearest page: a cap of a page at a fractional share must not round down to less */
        step = x >= (double) range_bytes ? range_bytes : (uint64_t) (x + (double) ps / 2) / ps * ps;
        return MAX(step, MIN(ps, range_bytes));
}

static void add_sample(PaceKindState *s, double usec_per_mib) {
        s->cost[s->next] = usec_per_mib;
        s->next = (s->next + 1) % PACE_WINDOW;
        if (s->n < PACE_WINDOW)
                s->n++;
}

/* Theil-Sen over the last steps: the median of the pairwise slopes (never below 0: a larger step
 * does not cost less), then the median of hold - slope * bytes. Without two sizes to compare,
 * the steps of a few pages alone say what the overhead is. */
static void learn_overhead(Pace *p) {
        double slopes[PACE_WINDOW * PACE_WINDOW / 2], rest[PACE_WINDOW], slope;
        unsigned ns = 0, nr = 0;
        double o;

        for (unsigned i = 0; i < p->n_steps; i++)
                for (unsigned k = i + 1; k < p->n_steps; k++)
                        if (p->step_bytes[i] != p->step_bytes[k])
                                slopes[ns++] = (p->step_held[k] - p->step_held[i]) /
                                               (p->step_bytes[k] - p->step_bytes[i]);
        if (ns > 0) {
                slope = median(slopes, ns);
                if (slope < 0)
                        slope = 0;
                for (unsigned i = 0; i < p->n_steps; i++)
                        rest[nr++] = p->step_held[i] - slope * p->step_bytes[i];
        } else
                for (unsigned i = 0; i < p->n_steps; i++)
                        if (p->step_bytes[i] <= 4.0 * (double) p->params.page_size)
                                rest[nr++] = p->step_held[i];
        if (nr < 3)
                return;
        o = median(rest, nr);
        p->overhead = o > (double) p->params.overhead ? o : (double) p->params.overhead;
}

/* After a step: an over-run by the work sets the ceiling of each kind in it to what the step's
 * rate allows (never below a page, or a folio for THP). The next step is then a probe, sized to
 * fill the budget at that slow rate. Taking less than half the time that rate predicts for it, or
 * three times or more (a fraction of the bytes held as long: the time did not scale with the
 * size), it shows that the over-run was a one-off, and the ceiling goes; otherwise each step
 * within budget raises it. */
static void update_ceiling(Pace *p, PaceKind k, uint64_t bytes, double spent, bool over, bool grow) {
        PaceKindState *s = &p->kinds[k];
        uint64_t floor = k == PACE_THP ? p->params.first[PACE_THP] : p->params.page_size;
        double b = budget_usec(p), expected;
        bool probe = s->probing;

        s->probing = false;
        /* what the probe would take at the over-run's rate: the ceiling was that rate's budget */
        expected = s->ceiling > 0 ? b * (double) bytes / (double) s->ceiling : b;
        if (probe && (spent <= expected / 2 || spent >= 3 * expected)) {
                /* fast again, or as slow as the over-run whatever the size: a delay, not a rate */
                s->ceiling = 0;
                return;
        }
        if (over && spent > b) {
                s->ceiling = MAX(floor, (uint64_t) ((double) bytes * b / spent));
                s->probing = true;
                return;
        }
        if (s->ceiling == 0 || !grow)
                return;
        s->ceiling = (uint64_t) (p->params.growth * (double) MAX(s->ceiling, bytes));
        if ((double) s->ceiling >= p->params.growth * (double) s->largest_ok)
                s->ceiling = 0; /* the growth cap binds again */
}

void pace_record(Pace *p, const PaceMix *mix, usec_t held) {
        double spent, predicted = 0, total = 0;
        bool ok = held <= p->params.max_pause, grow;

        for (int k = 0; k < _PACE_KIND_MAX; k++)
                total += (double) mix->bytes[k];
        if (total > 0) {
                p->step_bytes[p->next_step] = total;
                p->step_held[p->next_step] = (double) held;
                p->next_step = (p->next_step + 1) % PACE_WINDOW;
                if (p->n_steps < PACE_WINDOW)
                        p->n_steps++;
                learn_overhead(p);
        }
        spent = (double) held - p->overhead;
        /* growth: within the bound, or within what this machine's overhead leaves possible */
        grow = ok || (double) held <= p->overhead + budget_usec(p);

        if (held > p->longest)
                p->longest = held;
        if (!ok)
                p->over++;
        if (spent < 1)
                spent = 1;

        /* Split the time over the kinds in proportion to what each was expected to cost. */
        for (int k = 0; k < _PACE_KIND_MAX; k++)
                predicted += (double) mix->bytes[k] / MIB * cost_or_prior(p, k);
        if (predicted <= 0)
                return;
        for (int k = 0; k < _PACE_KIND_MAX; k++) {
                double c;

                if (mix->bytes[k] == 0)
                        continue;
                c = cost_or_prior(p, k);
                /* every step's sample, the probe's too: left out, the one-offs would be a larger
                 * share of the window */
                add_sample(&p->kinds[k], c * spent / predicted);
                if (grow && mix->bytes[k] > p->kinds[k].largest_ok)
                        p->kinds[k].largest_ok = mix->bytes[k];
                update_ceiling(p, k, mix->bytes[k], spent, !ok, grow);
        }
}
