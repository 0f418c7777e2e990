/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hold a target sees from ONE plain injected mlock2 of a whole mapping (what locking without
 * MaxPause would cost), for comparison with mlockd's bounded steps.
 *
 *   bench-hold PID ADDR SIZE
 *
 * Injects mlock2(ADDR, SIZE, 0) into PID once and prints the engine's held time. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "lock.h"

int main(int argc, char *argv[]) {
        uint64_t args[6] = {};
        InjectStats stats = {};
        const char *reason = NULL;
        long result = 0;
        int r;

        if (argc != 4) {
                fprintf(stderr, "usage: %s PID ADDR SIZE\n", argv[0]);
                return 2;
        }
        args[0] = strtoull(argv[2], NULL, 0);
        args[1] = strtoull(argv[3], NULL, 0);
        r = lock_step((pid_t) atoi(argv[1]), -1, NULL, INJECT_MLOCK2, args, 10 * USEC_PER_SEC, &result, &stats, &reason);
        if (r < 0) {
                fprintf(stderr, "injection failed: %d %s\n", r, reason ?: "");
                return 1;
        }
        printf("plain mlock2 of %" PRIu64 " MiB: result %ld, target held %.2f ms\n", args[1] >> 20, result,
               (double) stats.held / 1e3);
        return 0;
}
