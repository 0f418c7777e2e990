#!/usr/bin/env python3
# Writes the pagemap/kpageflags/kpagecgroup fixtures tests/test-pageflags.c reads (4 KiB pages).
# proc/100: a mixed range; proc/200: present pages with PFN 0 (what a reader without CAP_SYS_ADMIN
# sees). Run from this directory; the outputs are committed.
import os, struct

PRESENT, SWAPPED = 1 << 63, 1 << 62
HEAD, TAIL, HUGE, UNEV, THP, ZERO, MLOCKED = 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 22, 1 << 24, 1 << 33

pagemap = [0] * 1024
flags = {}
cgroup = {}
for i in range(4):                      # pages 0-3: mlocked 4K pages, two memcgs
    pagemap[i] = PRESENT | (10 + i)
    flags[10 + i] = MLOCKED | UNEV
    cgroup[10 + i] = 77 if i < 2 else 88
for i in (4, 5):                        # present, not mlocked
    pagemap[i] = PRESENT | (16 + i)
pagemap[6] = SWAPPED | 0x1234           # swapped (offset/type bits, no PFN)
pagemap[8] = PRESENT | 30               # the zero page
flags[30] = ZERO
for i in range(8):                      # pages 16-23: a 32 KiB mTHP, not mlocked
    pagemap[16 + i] = PRESENT | (2048 + i)
    flags[2048 + i] = (HEAD if i == 0 else TAIL) | THP
pagemap[24] = PRESENT | 3000            # a hugetlb page: compound but not a large folio
flags[3000] = HEAD | HUGE
for i in range(512):                    # 0x200000: a PMD THP, mlocked
    pagemap[512 + i] = PRESENT | (1024 + i)
    flags[1024 + i] = (HEAD if i == 0 else TAIL) | THP | MLOCKED | UNEV
    cgroup[1024 + i] = 77

def write(path, entries, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        for i in range(size):
            f.write(struct.pack("<Q", entries.get(i, 0) if isinstance(entries, dict) else entries[i]))

write("proc/100/pagemap", pagemap, len(pagemap))
write("proc/kpageflags", flags, 3001)
write("proc/kpagecgroup", cgroup, 3001)
write("proc/200/pagemap", [PRESENT] * 4, 4)
