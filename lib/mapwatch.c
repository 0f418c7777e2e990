/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mapwatch.h"

int mapwatch_open(pid_t pid, int *ret_fd) {
        struct perf_event_attr a = {
                .type = PERF_TYPE_SOFTWARE,
                .size = sizeof a,
                .config = PERF_COUNT_SW_DUMMY,
                .mmap = 1,              /* executable mappings */
                .mmap_data = 1,         /* and the others: data, anonymous, brk */
                .exclude_kernel = 1,
                .exclude_hv = 1,
                .watermark = 1,         /* wake on every record, not when half the ring is full */
                .wakeup_watermark = 1,
        };
        long fd;

        if (pid <= 0 || !ret_fd)
                return -EINVAL;
        fd = syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = (int) fd;
        return 0;
}

int mapwatch_keep_warm(int *ret_fd) {
        struct perf_event_attr a = {
                .type = PERF_TYPE_SOFTWARE,
                .size = sizeof a,
                .config = PERF_COUNT_SW_DUMMY,
                .exclude_kernel = 1,
                .exclude_hv = 1,
        };
        long fd;

        if (!ret_fd)
                return -EINVAL;
        /* no mmap records: every mmap of the system builds one while a mapping event exists */
        fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = (int) fd;
        return 0;
}

int mapwatch_new(int fd, MapWatch **ret) {
        long page = sysconf(_SC_PAGESIZE);
        MapWatch *w;

        if (fd < 0 || !ret || page <= 0) {
                if (fd >= 0)
                        close(fd);
                return -EINVAL;
        }
        w = calloc(1, sizeof *w);
        if (!w) {
                close(fd);
                return -ENOMEM;
        }
        w->fd = fd;
        /* the control page and one data page: without data pages nothing is written, and nothing
         * wakes the poller */
        w->ring_size = 2 * (size_t) page;
        w->ring = mmap(NULL, w->ring_size, PROT_READ, MAP_SHARED, fd, 0);
        if (w->ring == MAP_FAILED) {
                int r = -errno;

                w->ring = NULL;
                mapwatch_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

MapWatch *mapwatch_free(MapWatch *w) {
        if (!w)
                return NULL;
        if (w->ring)
                (void) munmap(w->ring, w->ring_size);
        if (w->fd >= 0)
                close(w->fd);
        free(w);
        return NULL;
}

bool mapwatch_moved(MapWatch *w) {
        const volatile struct perf_event_mmap_page *meta = w ? w->ring : NULL;
        uint64_t head;

        if (!meta)
                return false;
        head = meta->data_head;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (head == w->seen)
                return false;
        w->seen = head;
        return true;
}
