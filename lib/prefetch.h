/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Prefetch: process_madvise(pidfd, iov, n, MADV_WILLNEED, 0) over a target's ranges, so swapped
 * and file-backed pages are read in (asynchronously) while the target runs, before locking.
 *
 * The kernel caps the read-ahead of one iovec element at the device's read-ahead window (a larger
 * element is "advised" in full but only partly read), so ranges are cut into elements of at most
 * `chunk` bytes, the backing device's read_ahead_kb (prefetch_readahead_bytes()). At most
 * UIO_MAXIOV elements go into one call. An element that fails with ENOMEM (a hole, a mapping that
 * vanished) is skipped and the rest continue; EINVAL, EPERM (no CAP_SYS_NICE), ESRCH (the target
 * is gone) and other errors end the call. Only MADV_WILLNEED is ever passed.
 *
 * Memcg charging: page cache read by WILLNEED is charged to the *caller's* memory cgroup, not the
 * target's, and mlock never re-charges it (measured with tests/helpers/memcg-experiment: 32 MiB
 * read this way showed up in the caller's cgroup, none in the target's). */

#include <stddef.h>
#include <stdint.h>

#include "maps.h"

/* When the device is unknown (anonymous memory, tmpfs, btrfs/NFS anonymous devices, no sysfs). */
#define PREFETCH_CHUNK_DEFAULT (2U * 1024U * 1024U)

/* Read-ahead in bytes for block device maj:min under sys_root ("/sys"), default when unknown.
 * A partition has no queue of its own: its parent disk's is used. 0 (read-ahead off) or garbage
 * gives the default too. */
uint64_t prefetch_readahead_bytes(const char *sys_root, unsigned major, unsigned minor);

typedef struct PrefetchRange {
        uint64_t start, end; /* start page-aligned; end rounded up to a page by the kernel */
        uint64_t chunk;      /* largest iovec element; 0: PREFETCH_CHUNK_DEFAULT; rounded down
                                to whole pages, at least one */
} PrefetchRange;

/* WILLNEED over the ranges via process_madvise on pidfd, chunked; *ret_advised bytes advised
 * (elements that failed with ENOMEM are not counted). -EINVAL for a misaligned or empty range. */
int prefetch_ranges(int pidfd, const PrefetchRange *ranges, size_t n, uint64_t *ret_advised);

/* The ranges worth prefetching among the regions of m selected by regions/file_globs
 * (maps_region_selected()): when m came from smaps, file-backed regions not wholly resident
 * (Rss < size) and anonymous ones (anon, heap, stack, shmem) with Swap > 0, since WILLNEED on
 * anonymous memory only swaps in; from plain maps, every selected region. Each range's chunk is
 * its device's read-ahead under sys_root, PREFETCH_CHUNK_DEFAULT for anonymous memory.
 * *ret is malloc'd (NULL when *ret_n is 0). */
int prefetch_plan(const Maps *m, unsigned regions, char *const *file_globs, const char *sys_root,
                  PrefetchRange **ret, size_t *ret_n);
