/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "prefetch.h"

#ifndef UIO_MAXIOV
#define UIO_MAXIOV 1024
#endif
#define PREFETCH_PAGE_SIZE 4096U /* the smallest page size; ranges from maps are aligned to it */

static int read_kb(const char *path, uint64_t *ret) {
        _cleanup_free_ char *line = NULL;
        uint64_t v;
        int r;

        r = read_one_line_file(path, &line);
        if (r < 0)
                return r;
        r = parse_uint64(line, &v);
        if (r < 0)
                return r;
        if (v == 0 || v > UINT64_MAX / 1024)
                return -ERANGE;
        *ret = v * 1024;
        return 0;
}

uint64_t prefetch_readahead_bytes(const char *sys_root, unsigned major, unsigned minor) {
        _cleanup_free_ char *path = NULL;
        uint64_t v;

        /* major 0: an anonymous device (tmpfs, overlayfs, btrfs subvolumes, NFS...): no queue */
        if (!sys_root || major == 0)
                return PREFETCH_CHUNK_DEFAULT;

        if (asprintf(&path, "%s/dev/block/%u:%u/queue/read_ahead_kb", sys_root, major, minor) < 0)
                return PREFETCH_CHUNK_DEFAULT;
        if (read_kb(path, &v) >= 0)
                return v;

        /* A partition: /sys/dev/block/M:m links to .../block/sda/sda1, whose parent holds the queue.
         * The kernel resolves the link before "..", so this walks to the disk. */
        free(path);
        if (asprintf(&path, "%s/dev/block/%u:%u/../queue/read_ahead_kb", sys_root, major, minor) < 0)
                return PREFETCH_CHUNK_DEFAULT;
        if (read_kb(path, &v) >= 0)
                return v;

        return PREFETCH_CHUNK_DEFAULT;
}

static ssize_t sys_process_madvise(int pidfd, const struct iovec *iov, size_t n, int advice) {
        return syscall(SYS_process_madvise, pidfd, iov, n, advice, 0U);
}

/* The iovec elements of all ranges, generated lazily: (range index, offset within the range). */
typedef struct ChunkCursor {
        const PrefetchRange *ranges;
        size_t n, i;
        uint64_t at;
} ChunkCursor;

static uint64_t range_chunk(const PrefetchRange *r) {
        uint64_t c = r->chunk ?: PREFETCH_CHUNK_DEFAULT;

        c -= c % PREFETCH_PAGE_SIZE;
        return MAX(c, (uint64_t) PREFETCH_PAGE_SIZE);
}

static bool cursor_next(ChunkCursor *c, struct iovec *ret) {
        while (c->i < c->n) {
                const PrefetchRange *r = &c->ranges[c->i];
                uint64_t from = r->start + c->at, len;

                if (from >= r->end) {
                        c->i++;
                        c->at = 0;
                        continue;
                }
                len = MIN(range_chunk(r), r->end - from);
                c->at += len;
                *ret = (struct iovec) { .iov_base = (void *) (uintptr_t) from, .iov_len = (size_t) len };
                return true;
        }
        return false;
}

int prefetch_ranges(int pidfd, const PrefetchRange *ranges, size_t n, uint64_t *ret_advised) {
        _cleanup_free_ struct iovec *iov = NULL;
        ChunkCursor cursor = { .ranges = ranges, .n = n };
        uint64_t advised = 0;
        size_t k = 0; /* elements in iov[] not yet advised */

        if (pidfd < 0 || (!ranges && n > 0) || !ret_advised)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (ranges[i].start % PREFETCH_PAGE_SIZE != 0 || ranges[i].end <= ranges[i].start ||
                    ranges[i].end > (uint64_t) UINTPTR_MAX)
                        return -EINVAL;

        iov = calloc(UIO_MAXIOV, sizeof *iov);
        if (!iov)
                return -ENOMEM;

        for (;;) {
                size_t first_len_sum = 0, done;
                ssize_t r;

                /* top the vector up to UIO_MAXIOV elements */
                while (k < UIO_MAXIOV && cursor_next(&cursor, &iov[k]))
                        k++;
                if (k == 0)
                        break;

                r = sys_process_madvise(pidfd, iov, k, MADV_WILLNEED);
                if (r < 0) {
                        int e = errno;

                        if (e == EINTR)
                                continue;
                        if (e != ENOMEM)
                                return log_debug_errno(e, "process_madvise(WILLNEED) at 0x%" PRIx64 "+%zu failed: %m",
                                                       (uint64_t) (uintptr_t) iov[0].iov_base, iov[0].iov_len);
                        /* The first element failed: a hole or a vanished mapping. Skip it only. */
                        log_debug("process_madvise(WILLNEED) at 0x%" PRIx64 "+%zu: nothing mapped, skipping",
                                  (uint64_t) (uintptr_t) iov[0].iov_base, iov[0].iov_len);
                        memmove(iov, iov + 1, (k - 1) * sizeof *iov);
                        k--;
                        continue;
                }

                if (r == 0) /* cannot happen for a non-empty vector; never loop on it */
                        return log_debug_errno(EIO, "process_madvise advised nothing and reported no error");

                /* r is the sum of the elements advised before the first failing one (if any). */
                advised += (uint64_t) r;
                for (done = 0; done < k && first_len_sum + iov[done].iov_len <= (size_t) r; done++)
                        first_len_sum += iov[done].iov_len;
                if (first_len_sum != (size_t) r)
                        return log_debug_errno(EIO, "process_madvise returned %zd, not a whole number of elements", r);

                /* Elements from `done` on were not reached; the next call starts with the failed one
                 * and so reports its error. */
                memmove(iov, iov + done, (k - done) * sizeof *iov);
                k -= done;
        }

        *ret_advised = advised;
        return 0;
}

static bool region_is_anonymous(const MapsRegion *r) {
        return (r->kind & (REGION_ANON | REGION_HEAP | REGION_STACK)) || !r->path || r->path[0] != '/';
}

int prefetch_plan(const Maps *m, unsigned regions, char *const *file_globs, const char *sys_root,
                  PrefetchRange **ret, size_t *ret_n) {
        _cleanup_free_ PrefetchRange *ranges = NULL;
        struct {
                unsigned major, minor;
                uint64_t chunk;
        } cache[16];
        size_t n = 0, ncache = 0;

        if (!m || !ret || !ret_n)
                return -EINVAL;

        for (size_t i = 0; i < m->n; i++) {
                const MapsRegion *r = &m->regions[i];
                bool anonymous = region_is_anonymous(r);
                uint64_t chunk = PREFETCH_CHUNK_DEFAULT;

                if (!maps_region_selected(r, regions, file_globs))
                        continue;
                if (m->smaps && (anonymous ? r->swap == 0 : r->rss >= r->end - r->start))
                        continue; /* nothing to read in */

                if (!anonymous && r->dev_major != 0) {
                        size_t j;

                        for (j = 0; j < ncache; j++)
                                if (cache[j].major == r->dev_major && cache[j].minor == r->dev_minor)
                                        break;
                        if (j < ncache)
                                chunk = cache[j].chunk;
                        else {
                                chunk = prefetch_readahead_bytes(sys_root, r->dev_major, r->dev_minor);
                                if (ncache < ELEMENTSOF(cache))
                                        cache[ncache++] = (__typeof__(cache[0])) { r->dev_major, r->dev_minor, chunk };
                        }
                }

                if (!ranges) {
                        ranges = calloc(m->n, sizeof *ranges);
                        if (!ranges)
                                return -ENOMEM;
                }
                ranges[n++] = (PrefetchRange) { .start = r->start, .end = r->end, .chunk = chunk };
        }

        *ret = n > 0 ? TAKE_PTR(ranges) : NULL;
        *ret_n = n;
        return 0;
}
