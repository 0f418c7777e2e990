/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A change signal for a process's memory layout: a perf event (software, "dummy": it counts
 * nothing) that reports the process's new mappings (PERF_RECORD_MMAP for mmap, brk growth and
 * mprotect, data and anonymous mappings included), and whose descriptor turns readable (POLLIN) on
 * each. The records are not read: readable means "mapped something since the last poll", and the
 * reader then looks at smaps.
 *
 * Opening it on another process needs ptrace read access and CAP_PERFMON (or CAP_SYS_ADMIN, or a
 * perf_event_paranoid of 1 or less): the injector opens it, and the manager maps its ring and
 * polls it. Only the thread named is watched (the kernel refuses a ring for an event inherited by
 * new threads), so the watch is only good while the process has one thread.
 *
 * Mapping the ring read-only puts it in overwrite mode: nobody has to consume it, and every record
 * wakes the poller. Its pages are charged to the mapping user's perf_event_mlock_kb allowance, then
 * to RLIMIT_MEMLOCK: beyond both the map fails with -EPERM (the caller then samples instead). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* Open the event on pid (its thread pid only), close-on-exec. -errno: -EACCES/-EPERM when refused,
 * -ENOSYS/-ENOENT where the kernel has no perf events, -ESRCH when gone. */
int mapwatch_open(pid_t pid, int *ret_fd);

/* A dummy event on the calling thread that reports nothing, kept open by the caller: while one
 * per-task event exists, the kernel's per-task perf switch stays on and mapwatch_open() costs tens
 * of microseconds; without, each open after a quiet second turns it on and waits for an RCU grace
 * period (5-14 ms measured on the test guest). The price: a check on every context switch of the
 * system, as with any per-task perf event in use. */
int mapwatch_keep_warm(int *ret_fd);

typedef struct MapWatch {
        int fd;
        void *ring;
        size_t ring_size;
        uint64_t seen;          /* the ring's head at the last mapwatch_moved() */
} MapWatch;

/* Map fd's ring and take fd (closed on failure too). */
int mapwatch_new(int fd, MapWatch **ret);
MapWatch *mapwatch_free(MapWatch *w);
DEFINE_CLEANUP(MapWatch *, mapwatch_free);

/* Whether records were written since the last call (the ring's head moved): tells a wakeup for a
 * mapping from a spurious one. */
bool mapwatch_moved(MapWatch *w);
