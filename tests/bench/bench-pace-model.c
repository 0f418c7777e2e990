/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/pace.c against modelled machines (make bench; pure, no target): what the pacing alone does
 * with the delays a busy machine adds, without the noise of a real run.
 *   noise:     2 GiB populated at 300 us/MiB plus 100 us a stop; a random share of the stops is
 *              delayed 3 ms whatever its size (the target or the tracer waiting for a CPU);
 *   slowdown:  1 GiB of huge pages, 0.15 ms/MiB, ten times slower over its 2nd and 4th quarters
 *              (2.7 ms/MiB: seen on this machine), 10% of stops delayed 3 ms; steps rounded up to
 *              2 MiB, as the job does.
 * Prints steps, the total held, steps over MaxPause, and holds over 3x MaxPause (and how many of
 * those right after another). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "pace.h"

#define MiB (1ULL << 20)

static void run(const char *name, usec_t max_pause, double delayed, bool slowdown) {
        uint64_t total = slowdown ? 1024 * MiB : 2048 * MiB, done = 0;
        unsigned steps = 0, longer = 0, repeats = 0;
        bool last = false;
        double held_total = 0;
        Pace p;

        srand(1);
        pace_init(&p, &(PaceParams) { .max_pause = max_pause });
        while (done < total && steps < 1000000) {
                PaceMix m = { .bytes[PACE_POPULATE] = total - done };
                uint64_t s = pace_step_bytes(&p, &m, total - done);
                double rate = !slowdown ? 300 : (done / (256 * MiB)) % 2 ? 2700 : 150;
                usec_t held;
                bool l;

                if (slowdown)
                        s = MIN((s + 2 * MiB - 1) / (2 * MiB) * (2 * MiB), total - done);
                held = 100 + (usec_t) ((double) s / MiB * rate) + ((double) rand() / RAND_MAX < delayed ? 3000 : 0);
                pace_record(&p, &(PaceMix) { .bytes[PACE_POPULATE] = s }, held);
                l = held > 3 * max_pause;
                longer += l;
                repeats += l && last;
                last = l;
                held_total += (double) held;
                done += s;
                steps++;
        }
        printf("%-9s MaxPause %4" PRIu64 " us, %2.0f%% of stops delayed: %5u steps, held %6.0f ms in all, "
               "%4u over, %4u > 3x (%u after another), longest %" PRIu64 " us\n",
               name, max_pause, delayed * 100, steps, held_total / 1000, p.over, longer, repeats, p.longest);
}

int main(void) {
        static const double shares[] = { 0, 0.1, 0.3, 0.5 };

        for (size_t i = 0; i < ELEMENTSOF(shares); i++)
                run("noise", 1000, shares[i], false);
        for (size_t i = 0; i < ELEMENTSOF(shares); i++)
                run("noise", 5000, shares[i], false);
        run("slowdown", 5000, 0.1, true);
        run("slowdown", 5000, 0.3, true);
        run("slowdown", 1000, 0.1, true);
        return 0;
}
