/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kernel-facts EXPERIMENT: the experiments behind doc/kernel-facts.md. Each runs in this process,
 * inside a memory cgroup of its own made below ours (and removed), on anonymous memory it maps
 * itself, and prints what the kernel's per-page flags (pagemap + kpageflags, lib/pageflags) and
 * memory.stat `unevictable` say after each step. The calls are made directly: an injected call
 * runs the same kernel code in the target's context, so the facts carry over to mlockd.
 *
 *   flags     KPF_MLOCKED/UNEVICTABLE on an mlocked range, cleared by munlock
 *   populate  mlock2(0) / mlock2(ONFAULT)+touch on untouched memory
 *   swapin    swapped-out memory locked, then each candidate re-mlock sequence (needs swap on)
 *   thp       MADV_HUGEPAGE memory: one mlock, 4K-aligned chunks, PMD-aligned chunks, resident
 *             and untouched; then the re-mlock sequence on what the chunks left
 *   madvise   DONTNEED/FREE/PAGEOUT/COLD on unlocked, full and onfault ranges; malloc_trim
 *   refault   what one populating mlock2 step costs on memory freed just before against memory
 *             freed seconds ago (on a VM whose balloon reports free pages, the host takes those
 *             back and the next touch faults them in again on the host): 2 MiB steps over THP
 *             memory and 256 KiB steps over 4K pages, p50/p99/max per pass
 *
 * Run by tests/bench/kernel-facts.sh (which makes the swapfile); exit 77 with a reason when
 * something it needs is missing. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "pageflags.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif

#define MiB (UINT64_C(1) << 20)
#define PMD (2 * MiB)

static char cgroup[4200], parent[4096];
static const char *experiment;

static int skip(const char *why) {
        printf("SKIP %s: %s\n", experiment, why);
        return 77;
}

static void die(const char *what) {
        fprintf(stderr, "kernel-facts %s: %s: %m\n", experiment, what);
        exit(1);
}

static void write_str(const char *path, const char *s) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        if (fd < 0 || write(fd, s, strlen(s)) < 0)
                die(path);
        close(fd);
}

/* A memory cgroup of our own below the one we are in (v1 here, v2 elsewhere); we move into it. */
static int enter_memcg(void) {
        _cleanup_free_ char *self = NULL;
        char path[4300], pid[32];
        const char *line;
        bool v2 = false;

        if (read_full_file("/proc/self/cgroup", 65536, &self, NULL) < 0)
                return -1;
        line = strstr(self, ":memory:");
        if (line)
                line += strlen(":memory:");
        else if ((line = strstr(self, "0::")) && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
                line += 3;
                v2 = true;
        } else
                return -1;
        snprintf(parent, sizeof parent, "/sys/fs/cgroup%s%.*s", v2 ? "" : "/memory", (int) strcspn(line, "\n"),
                 line);
        snprintf(cgroup, sizeof cgroup, "%s/kernel-facts-%d", parent, (int) getpid());
        if (mkdir(cgroup, 0755) < 0)
                return -1;
        snprintf(path, sizeof path, "%s/cgroup.procs", cgroup);
        snprintf(pid, sizeof pid, "%d", (int) getpid());
        write_str(path, pid);
        return 0;
}

static void leave_memcg(void) {
        char path[4300], pid[32];

        if (!cgroup[0])
                return;
        snprintf(path, sizeof path, "%s/cgroup.procs", parent);
        snprintf(pid, sizeof pid, "%d", (int) getpid());
        write_str(path, pid);
        (void) rmdir(cgroup);
}

static uint64_t memcg_unevictable(void) {
        _cleanup_free_ char *s = NULL;
        char path[4300];
        const char *p;

        snprintf(path, sizeof path, "%s/memory.stat", cgroup);
        if (read_full_file(path, 1 << 20, &s, NULL) < 0)
                die(path);
        p = strstr(s, "\nunevictable ");
        return p ? strtoull(p + 13, NULL, 10) : 0;
}

static PageCounts counts(void *addr, uint64_t len) {
        _cleanup_(pageflags_freep) PageFlags *p = NULL;
        const char *reason = NULL;
        PageCounts c = {};

        if (pageflags_open("/proc", getpid(), 0, &p, &reason) < 0 ||
            pageflags_count(p, (uintptr_t) addr, (uintptr_t) addr + len, 0, &c, &reason) < 0) {
                printf("SKIP %s: %s\n", experiment, reason ?: "pagemap unreadable");
                leave_memcg();
                exit(77);
        }
        return c;
}

/* AnonHugePages of the VMAs in [addr, addr+len): what is still mapped by PMDs */
static uint64_t anon_huge_kb(void *addr, uint64_t len) {
        _cleanup_free_ char *s = NULL;
        uint64_t total = 0, lo = (uintptr_t) addr, hi = lo + len;
        bool in = false;

        if (read_full_file("/proc/self/smaps", 64 << 20, &s, NULL) < 0)
                die("smaps");
        for (char *l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                uint64_t a, b, kb;

                if (sscanf(l, "%" SCNx64 "-%" SCNx64 " ", &a, &b) == 2 && strchr(l, '-') < strchr(l, ' '))
                        in = a < hi && b > lo;
                else if (in && sscanf(l, "AnonHugePages: %" SCNu64, &kb) == 1)
                        total += kb;
        }
        return total;
}

static void report(const char *step, void *addr, uint64_t len) {
        PageCounts c = counts(addr, len);

        printf("%-44s present=%6" PRIu64 " swapped=%6" PRIu64 " mlocked=%6" PRIu64 " unevictable=%6" PRIu64
               " thp=%6" PRIu64 " large_not_mlocked=%6" PRIu64 " AnonHugePages=%6" PRIu64 "kB"
               " memcg_unevictable=%" PRIu64 "kB\n",
               step, c.present, c.swapped, c.mlocked, c.unevictable, c.thp, c.large_not_mlocked,
               anon_huge_kb(addr, len), memcg_unevictable() / 1024);
        fflush(stdout);
}

static int xmlock2(void *addr, uint64_t len, int flags) {
        if (syscall(SYS_mlock2, addr, (size_t) len, flags) < 0)
                die("mlock2");
        return 0;
}

static void *map_anon(uint64_t len, bool huge) {
        /* PMD-aligned, so THP experiments start from whole huge pages */
        uint8_t *p = mmap(NULL, len + PMD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        uint8_t *a;

        if (p == MAP_FAILED)
                die("mmap");
        a = (uint8_t *) (((uintptr_t) p + PMD - 1) & ~(PMD - 1));
        if (a > p)
                munmap(p, (size_t) (a - p));
        munmap(a + len, (size_t) (p + len + PMD - (a + len)));
        if (madvise(a, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) < 0)
                die("madvise(HUGEPAGE)");
        return a;
}

static void touch(void *addr, uint64_t len) {
        for (uint64_t o = 0; o < len; o += 4096)
                ((volatile uint8_t *) addr)[o] = 1;
}

static void swap_out(void *addr, uint64_t len) {
        if (madvise(addr, len, MADV_PAGEOUT) < 0)
                die("madvise(PAGEOUT)");
}

static int exp_flags(void) {
        uint64_t len = 16 * MiB;
        void *a = map_anon(len, false);

        touch(a, len);
        report("touched, not locked", a, len);
        xmlock2(a, len, 0);
        report("mlock2(0)", a, len);
        munlock(a, len);
        report("munlock", a, len);
        xmlock2(a, len, MLOCK_ONFAULT);
        report("mlock2(ONFAULT) on resident", a, len);
        munmap(a, len);
        return 0;
}

static int exp_populate(void) {
        uint64_t len = 64 * MiB;
        void *a = map_anon(len, false);

        xmlock2(a, len, 0);
        report("untouched, mlock2(0) (populates)", a, len);
        munmap(a, len);

        a = map_anon(len, false);
        xmlock2(a, len, MLOCK_ONFAULT);
        report("untouched, mlock2(ONFAULT)", a, len);
        touch(a, len);
        report("  then touched by the target", a, len);
        munmap(a, len);
        return 0;
}

static bool swap_on(void) {
        _cleanup_free_ char *s = NULL;

        return read_full_file("/proc/swaps", 65536, &s, NULL) >= 0 && strchr(s, '\n') &&
               strchr(s, '\n')[1] != '\0';
}

/* len of touched anon memory, swapped out; returns its address */
static void *swapped_region(uint64_t len, const char *what) {
        void *a = map_anon(len, false);
        PageCounts c;

        touch(a, len);
        swap_out(a, len);
        c = counts(a, len);
        if (c.swapped < c.pages / 2) {
                printf("SKIP %s: MADV_PAGEOUT swapped only %" PRIu64 " of %" PRIu64 " pages\n", experiment,
                       c.swapped, c.pages);
                leave_memcg();
                exit(77);
        }
        report(what, a, len);
        return a;
}

static int exp_swapin(void) {
        uint64_t len = 64 * MiB;
        void *a;

        if (!swap_on())
                return skip("no swap is on (kernel-facts.sh makes a swapfile)");

        a = swapped_region(len, "A: swapped out");
        xmlock2(a, len, 0);
        report("A: mlock2(0) (swaps in, populates)", a, len);
        xmlock2(a, len, 0);
        report("A: mlock2(0) again (same flags)", a, len);
        xmlock2(a, len, MLOCK_ONFAULT);
        report("A: mlock2(ONFAULT) (flag change)", a, len);
        xmlock2(a, len, 0);
        report("A: mlock2(0) (flag change back)", a, len);
        munlock(a, len);
        xmlock2(a, len, 0);
        report("A: munlock; mlock2(0)", a, len);
        munmap(a, len);

        a = swapped_region(len, "B: swapped out");
        xmlock2(a, len, MLOCK_ONFAULT);
        report("B: mlock2(ONFAULT)", a, len);
        touch(a, len);
        report("B: target touches all (swap-in faults)", a, len);
        munlock(a, len);
        xmlock2(a, len, MLOCK_ONFAULT);
        report("B: munlock; mlock2(ONFAULT)", a, len);
        munmap(a, len);

        a = swapped_region(len, "C: swapped out");
        touch(a, len);
        report("C: touched (swapped in) before locking", a, len);
        xmlock2(a, len, 0);
        report("C: mlock2(0)", a, len);
        munmap(a, len);

        a = swapped_region(len, "D: swapped out");
        if (madvise(a, len, MADV_WILLNEED) < 0)
                die("madvise(WILLNEED)");
        usleep(500 * 1000);
        report("D: WILLNEED (to the swap cache)", a, len);
        xmlock2(a, len, 0);
        report("D: mlock2(0)", a, len);
        munmap(a, len);

        /* F: swapped out by memcg pressure (limit below the size), as under a real workload, and
         * locked while the limit still holds: the lock itself has to fight reclaim */
        {
                char path[4300];
                void *f = map_anon(len, false);

                snprintf(path, sizeof path, "%s/memory.limit_in_bytes", cgroup);
                if (access(path, F_OK) < 0)
                        snprintf(path, sizeof path, "%s/memory.max", cgroup);
                write_str(path, "50331648");
                touch(f, len);
                report("F: touched under a 48 MiB memcg limit", f, len);
                write_str(path, "100663296");
                xmlock2(f, len, 0);
                report("F: limit 96 MiB, mlock2(0)", f, len);
                xmlock2(f, len, 0);
                report("F: mlock2(0) again (same flags)", f, len);
                xmlock2(f, len, MLOCK_ONFAULT);
                xmlock2(f, len, 0);
                report("F: mlock2(ONFAULT); mlock2(0) (flag change)", f, len);
                munlock(f, len);
                xmlock2(f, len, 0);
                report("F: munlock; mlock2(0)", f, len);
                munmap(f, len);

                /* G: the same for onfault: swapped-in pages the target faults in itself */
                write_str(path, "50331648");
                f = map_anon(len, false);
                touch(f, len);
                report("G: touched under a 48 MiB memcg limit", f, len);
                write_str(path, "100663296");
                xmlock2(f, len, MLOCK_ONFAULT);
                report("G: limit 96 MiB, mlock2(ONFAULT)", f, len);
                touch(f, len);
                report("G: target touches all", f, len);
                munlock(f, len);
                xmlock2(f, len, MLOCK_ONFAULT);
                report("G: munlock; mlock2(ONFAULT)", f, len);
                munmap(f, len);
                write_str(path, "-1");
                if (access(path, F_OK) == 0 && strstr(path, "memory.max"))
                        write_str(path, "max");
        }

        a = swapped_region(len, "E: swapped out");
        if (madvise(a, len, 23 /* MADV_POPULATE_WRITE */) < 0)
                die("madvise(POPULATE_WRITE)");
        report("E: MADV_POPULATE_WRITE", a, len);
        xmlock2(a, len, 0);
        report("E: mlock2(0)", a, len);
        munmap(a, len);
        return 0;
}

static void chunked(void *a, uint64_t len, uint64_t chunk, int flags) {
        for (uint64_t o = 0; o < len; o += chunk)
                xmlock2((uint8_t *) a + o, MIN(chunk, len - o), flags);
}

static int exp_thp(void) {
        uint64_t len = 64 * MiB, chunk = 3 * MiB;
        _cleanup_free_ char *en = NULL;
        void *a;

        if (read_full_file("/sys/kernel/mm/transparent_hugepage/enabled", 4096, &en, NULL) < 0 ||
            strstr(en, "[never]"))
                return skip("THP is not enabled");

        struct {
                const char *name;
                bool resident;
                uint64_t chunk;
                int flags;
        } cases[] = {
                { "resident, one mlock2(0)", true, 0, 0 },
                { "resident, 3 MiB chunks mlock2(0)", true, chunk, 0 },
                { "resident, 2 MiB-aligned 4 MiB chunks", true, 4 * MiB, 0 },
                { "resident, 3 MiB chunks ONFAULT", true, chunk, MLOCK_ONFAULT },
                { "resident, 4 MiB chunks ONFAULT", true, 4 * MiB, MLOCK_ONFAULT },
                { "untouched, one mlock2(0)", false, 0, 0 },
                { "untouched, 3 MiB chunks mlock2(0)", false, chunk, 0 },
                { "untouched, 1 MiB+4K chunks mlock2(0)", false, MiB + 4096, 0 },
                { "untouched, 4 MiB chunks mlock2(0)", false, 4 * MiB, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char step[128];

                a = map_anon(len, true);
                if (cases[i].resident) {
                        touch(a, len);
                        snprintf(step, sizeof step, "%s: before", cases[i].name);
                        report(step, a, len);
                }
                if (cases[i].chunk)
                        chunked(a, len, cases[i].chunk, cases[i].flags);
                else
                        xmlock2(a, len, cases[i].flags);
                report(cases[i].name, a, len);
                if (cases[i].chunk) {
                        munlock(a, len);
                        xmlock2(a, len, cases[i].flags);
                        snprintf(step, sizeof step, "  then munlock; one mlock2(%s)",
                                 cases[i].flags ? "ONFAULT" : "0");
                        report(step, a, len);
                }
                munmap(a, len);
        }
        return 0;
}

static uint64_t rss_kb(void) {
        _cleanup_free_ char *s = NULL;
        const char *p;

        if (read_full_file("/proc/self/smaps_rollup", 65536, &s, NULL) < 0)
                die("smaps_rollup");
        p = strstr(s, "\nRss:");
        return p ? strtoull(p + 5, NULL, 10) : 0;
}

static const char *advice_result(void *a, uint64_t len, int advice) {
        static char buf[64];

        if (madvise(a, len, advice) == 0)
                return "ok";
        snprintf(buf, sizeof buf, "%s", strerrorname_np(errno) ?: "?");
        return buf;
}

static int exp_madvise(void) {
        static const struct {
                int advice;
                const char *name;
        } advices[] = {
                { MADV_DONTNEED, "DONTNEED" }, { MADV_FREE, "FREE" },
                { MADV_PAGEOUT, "PAGEOUT" }, { MADV_COLD, "COLD" },
        };
        static const int modes[] = { -1, 0, MLOCK_ONFAULT };
        static const char *mode_names[] = { "unlocked", "mlock2(0)", "mlock2(ONFAULT)" };
        uint64_t len = 16 * MiB;

        for (size_t m = 0; m < ELEMENTSOF(modes); m++)
                for (size_t k = 0; k < ELEMENTSOF(advices); k++) {
                        void *a = map_anon(len, false);
                        uint64_t before;
                        const char *res;

                        touch(a, len);
                        if (modes[m] >= 0)
                                xmlock2(a, len, modes[m]);
                        before = counts(a, len).present;
                        res = advice_result(a, len, advices[k].advice);
                        printf("madvise(%-8s) on %-16s: %-7s resident pages %" PRIu64 " -> %" PRIu64 "\n",
                               advices[k].name, mode_names[m], res, before, counts(a, len).present);
                        munmap(a, len);
                }

        /* malloc_trim: 128 MiB in 32 KiB blocks (below the mmap threshold: in the heap), all freed
         * but one at the top so the heap cannot shrink by brk: trim must madvise(DONTNEED). */
        for (size_t m = 0; m < ELEMENTSOF(modes); m++) {
                pid_t pid;

                fflush(stdout);
                pid = fork();

                if (pid < 0)
                        die("fork");
                if (pid == 0) {
                        enum { N = 4096, SZ = 32 * 1024 };
                        static void *blocks[N];
                        uint64_t full, freed, trimmed;

                        mallopt(M_TRIM_THRESHOLD, 1 << 30); /* no automatic trim on free */
                        mallopt(M_MMAP_THRESHOLD, 1 << 20);
                        for (int i = 0; i < N; i++) {
                                blocks[i] = malloc(SZ);
                                if (!blocks[i])
                                        _exit(1);
                                memset(blocks[i], 1, SZ);
                        }
                        if (modes[m] >= 0 && mlockall(MCL_CURRENT | MCL_FUTURE |
                                                      (modes[m] == MLOCK_ONFAULT ? MCL_ONFAULT : 0)) < 0)
                                _exit(2);
                        full = rss_kb();
                        for (int i = 0; i < N - 1; i++)
                                free(blocks[i]);
                        freed = rss_kb();
                        malloc_trim(0);
                        trimmed = rss_kb();
                        printf("malloc_trim, %-16s (mlockall for locked): Rss %" PRIu64 " kB full, %" PRIu64
                               " kB after free, %" PRIu64 " kB after malloc_trim(0)\n",
                               mode_names[m], full, freed, trimmed);
                        fflush(stdout);
                        _exit(0);
                }
                if (waitpid(pid, NULL, 0) < 0)
                        die("waitpid");
        }
        return 0;
}

static uint64_t now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* free page reporting's running total (virtio-balloon), or -1 without it */
static long long reported_kib(void) {
        long long v = -1;
        FILE *f = fopen("/sys/module/page_reporting/parameters/reported_kib", "re");

        if (f) {
                if (fscanf(f, "%lld", &v) != 1)
                        v = -1;
                fclose(f);
        }
        return v;
}

/* one pass: map len, mlock2(0) it in steps of step bytes, time each, unmap */
static void refault_pass(const char *what, uint64_t len, uint64_t step, bool huge) {
        size_t n = (size_t) (len / step), i;
        uint64_t *us = calloc(n, sizeof *us);
        uint8_t *a = map_anon(len, huge);
        long long rep0 = reported_kib();

        if (!us)
                die("calloc");
        for (i = 0; i < n; i++) {
                uint64_t t0 = now_us();

                xmlock2(a + i * step, step, 0);
                us[i] = now_us() - t0;
        }
        munmap(a, len);
        qsort(us, n, sizeof *us, cmp_u64);
        printf("%-28s %4zu steps of %4" PRIu64 " KiB: p50 %6" PRIu64 " us, p99 %6" PRIu64 " us, max %6" PRIu64
               " us; reported to the host before it: %lld KiB\n", what, n, step >> 10, us[n / 2],
               us[n * 99 / 100], us[n - 1], rep0 < 0 ? -1 : rep0);
        free(us);
}

static int exp_refault(void) {
        static const struct {
                const char *name;
                uint64_t step;
                bool huge;
        } kinds[] = { { "THP", PMD, true }, { "4K", 256 * 1024, false } };
        const uint64_t len = 256ULL << 20;

        if (reported_kib() < 0)
                printf("(no free page reporting here: /sys/module/page_reporting is absent)\n");
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                char what[64];

                sleep(5); /* what the passes before freed is reported and taken back */
                snprintf(what, sizeof what, "%s, freed seconds ago", kinds[k].name);
                refault_pass(what, len, kinds[k].step, kinds[k].huge);
                snprintf(what, sizeof what, "%s, freed just before", kinds[k].name);
                refault_pass(what, len, kinds[k].step, kinds[k].huge);
                snprintf(what, sizeof what, "%s, again", kinds[k].name);
                refault_pass(what, len, kinds[k].step, kinds[k].huge);
                sleep(5);
                snprintf(what, sizeof what, "%s, freed 5 s before", kinds[k].name);
                refault_pass(what, len, kinds[k].step, kinds[k].huge);
        }
        return 0;
}

int main(int argc, char **argv) {
        static const struct {
                const char *name;
                int (*run)(void);
        } experiments[] = {
                { "flags", exp_flags }, { "populate", exp_populate }, { "swapin", exp_swapin },
                { "thp", exp_thp }, { "madvise", exp_madvise }, { "refault", exp_refault },
        };
        int r = -1;

        if (argc != 2) {
                fprintf(stderr, "usage: kernel-facts flags|populate|swapin|thp|madvise|refault\n");
                return 2;
        }
        experiment = argv[1];
        if (access("/proc/kpageflags", R_OK) < 0)
                return skip("/proc/kpageflags is unreadable (needs CAP_SYS_ADMIN)");
        if (enter_memcg() < 0)
                return skip("cannot make a memory cgroup below ours");
        for (size_t i = 0; i < ELEMENTSOF(experiments); i++)
                if (strcmp(experiments[i].name, argv[1]) == 0)
                        r = experiments[i].run();
        leave_memcg();
        if (r < 0) {
                fprintf(stderr, "unknown experiment %s\n", argv[1]);
                return 2;
        }
        return r;
}
