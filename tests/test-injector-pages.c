/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* INJECTOR_OP_PAGES on a real child: the injector reads the child's pagemap and kpageflags and
 * the counts match what the test set up (4K pages resident, untouched, part locked through the
 * injector; THP wholly locked, and locked with edges inside huge pages); malformed ranges are
 * refused; the memcg inode selects memcg_mlocked. Skips (77) without root or kpageflags. */

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fileio.h"
#include "injector.h"
#include "procfs.h"
#include "tests.h"

#define MiB (UINT64_C(1) << 20)
#define PMD (2 * MiB)

static pid_t child;
static struct {
        uint64_t small, untouched, huge;
} child_maps;

static uint8_t *map_aligned(uint64_t len, int advice) {
        uint8_t *p = mmap(NULL, len + PMD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        uint8_t *a;

        if (p == MAP_FAILED)
                _exit(1);
        a = (uint8_t *) (((uintptr_t) p + PMD - 1) & ~(PMD - 1));
        if (madvise(a, len, advice) < 0)
                _exit(1);
        return a;
}

static void start_child(bool thp) {
        int p[2];

        ASSERT_OK(pipe(p));
        child = fork();
        ASSERT_TRUE(child >= 0);
        if (child == 0) {
                uint8_t *s = map_aligned(4 * MiB, MADV_NOHUGEPAGE);
                uint8_t *u = map_aligned(4 * MiB, MADV_NOHUGEPAGE);
                uint8_t *h = map_aligned(8 * MiB, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);

                memset(s, 1, 4 * MiB);
                memset(h, 1, 8 * MiB);
                child_maps.small = (uintptr_t) s;
                child_maps.untouched = (uintptr_t) u;
                child_maps.huge = (uintptr_t) h;
                if (write(p[1], &child_maps, sizeof child_maps) != sizeof child_maps)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(p[1]);
        ASSERT_EQ(read(p[0], &child_maps, sizeof child_maps), (long) sizeof child_maps);
        close(p[0]);
}

static InjectorRequest request(InjectorOp op) {
        ProcStat st = {};
        InjectorRequest r = { .magic = INJECTOR_MAGIC, .op = op, .pid = child };

        ASSERT_OK(procfs_read_stat("/proc", child, &st));
        r.starttime = st.starttime;
        proc_stat_done(&st);
        return r;
}

static int call(Injector *i, InjectorRequest *req, InjectorReply *reply) {
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, child, 0);

        *reply = (InjectorReply) {};
        return injector_call(i, req, pidfd, reply, NULL);
}

static PageCounts pages(Injector *inj, uint64_t start, uint64_t len, uint64_t memcg_ino) {
        InjectorRequest req = request(INJECTOR_OP_PAGES);
        InjectorReply reply;
        int r;

        req.n_ranges = 1;
        req.ranges[0] = (PrefetchRange) { .start = start, .end = start + len };
        req.value = memcg_ino;
        r = call(inj, &req, &reply);
        if (r == -EPERM || r == -EACCES) {
                printf("# per-page flags refused: %s\n", reply.reason);
                kill(child, SIGKILL);
                exit(EXIT_TEST_SKIP);
        }
        ASSERT_OK(r);
        return reply.pages;
}

static void step(Injector *inj, InjectCall call_nr, uint64_t start, uint64_t len, uint64_t flags) {
        InjectorRequest req = request(INJECTOR_OP_STEP);
        InjectorReply reply;

        req.call = call_nr;
        req.args[0] = start;
        req.args[1] = len;
        req.args[2] = flags;
        req.timeout_usec = 5 * USEC_PER_SEC;
        ASSERT_OK(call(inj, &req, &reply));
        ASSERT_EQ(reply.result, 0);
}

/* the st_ino of the child's memory cgroup directory: what kpagecgroup reports per page */
static uint64_t child_memcg_ino(void) {
        _cleanup_free_ char *text = NULL;
        char path[4200];
        const char *line;
        struct stat st;

        snprintf(path, sizeof path, "/proc/%d/cgroup", (int) child);
        if (read_full_file(path, 65536, &text, NULL) < 0)
                return 0;
        if ((line = strstr(text, ":memory:")))
                snprintf(path, sizeof path, "/sys/fs/cgroup/memory%.*s", (int) strcspn(line + 8, "\n"),
                         line + 8);
        else if ((line = strstr(text, "0::")))
                snprintf(path, sizeof path, "/sys/fs/cgroup%.*s", (int) strcspn(line + 3, "\n"), line + 3);
        else
                return 0;
        return stat(path, &st) == 0 ? (uint64_t) st.st_ino : 0;
}

static bool thp_enabled(void) {
        _cleanup_free_ char *en = NULL;

        return read_full_file("/sys/kernel/mm/transparent_hugepage/enabled", 4096, &en, NULL) >= 0 &&
               !strstr(en, "[never]");
}

int main(void) {
        _cleanup_(injector_freep) Injector *inj = NULL;
        InjectorRequest req;
        InjectorReply reply;
        bool thp = thp_enabled();
        uint64_t ino;
        PageCounts c;

        if (geteuid() != 0 || sysconf(_SC_PAGESIZE) != 4096) {
                printf("# needs root and 4 KiB pages\n");
                return EXIT_TEST_SKIP;
        }
        start_child(thp);
        ASSERT_OK(injector_start(&inj));

        /* refused: no ranges, too many, misaligned, empty, a chunk */
        req = request(INJECTOR_OP_PAGES);
        ASSERT_ERROR(call(inj, &req, &reply), EINVAL);
        ASSERT_STREQ(reply.reason, "range count out of bounds");
        req.n_ranges = INJECTOR_MAX_RANGES + 1;
        ASSERT_ERROR(call(inj, &req, &reply), EINVAL);
        req.n_ranges = 1;
        req.ranges[0] = (PrefetchRange) { .start = child_maps.small + 1, .end = child_maps.small + 4096 };
        ASSERT_ERROR(call(inj, &req, &reply), EINVAL);
        ASSERT_STREQ(reply.reason, "bad pages range");
        req.ranges[0] = (PrefetchRange) { .start = child_maps.small, .end = child_maps.small };
        ASSERT_ERROR(call(inj, &req, &reply), EINVAL);
        req.ranges[0] = (PrefetchRange) { .start = child_maps.small, .end = child_maps.small + 4096, .chunk = 1 };
        ASSERT_ERROR(call(inj, &req, &reply), EINVAL);
        req.ranges[0].chunk = 0;
        req.starttime++;
        ASSERT_ERROR(call(inj, &req, &reply), ESRCH); /* not the process the manager found */

        /* 4 MiB resident, nothing locked; 4 MiB untouched */
        c = pages(inj, child_maps.small, 4 * MiB, 0);
        ASSERT_EQ_U64(c.pages, 1024);
        ASSERT_EQ_U64(c.present, 1024);
        ASSERT_EQ_U64(c.mlocked, 0);
        c = pages(inj, child_maps.untouched, 4 * MiB, 0);
        ASSERT_EQ_U64(c.pages, 1024);
        ASSERT_EQ_U64(c.present, 0);

        /* 2 MiB in the middle locked through the injector: exactly those 512 pages */
        step(inj, INJECT_MLOCK2, child_maps.small + MiB, 2 * MiB, 0);
        ino = child_memcg_ino();
        c = pages(inj, child_maps.small, 4 * MiB, ino);
        ASSERT_EQ_U64(c.present, 1024);
        ASSERT_EQ_U64(c.mlocked, 512);
        ASSERT_EQ_U64(c.unevictable, 512);
        if (ino) {
                ASSERT_EQ_U64(c.memcg_mlocked, 512);
                /* per range, the pages charged to the memcg asked for; none charged elsewhere */
                req = request(INJECTOR_OP_PAGES);
                req.n_ranges = 2;
                req.value = ino;
                req.ranges[0] = (PrefetchRange) { .start = child_maps.small, .end = child_maps.small + 2 * MiB };
                req.ranges[1] = (PrefetchRange) { .start = child_maps.small + 2 * MiB,
                                                  .end = child_maps.small + 4 * MiB };
                ASSERT_OK(call(inj, &req, &reply));
                ASSERT_EQ_U64(reply.range_memcg[0], 256);
                ASSERT_EQ_U64(reply.range_memcg[1], 256);
                ASSERT_EQ(reply.charges.n, 0U);
                ASSERT_EQ(reply.charges.unread, 0U);
                /* asked as if the target were elsewhere: all 512 are charged to another memcg */
                req.value = UINT64_MAX - 1;
                ASSERT_OK(call(inj, &req, &reply));
                ASSERT_EQ(reply.charges.n, 1U);
                ASSERT_EQ_U64(reply.charges.charges[0].memcg_ino, ino);
                ASSERT_EQ_U64(reply.charges.charges[0].pages, 512);
                ASSERT_OK(page_charges_check(&reply.charges, req.value, reply.pages.mlocked));
        } else
                printf("# no memory cgroup to check memcg_mlocked against\n");
        step(inj, INJECT_MUNLOCK, child_maps.small + MiB, 2 * MiB, 0);
        ASSERT_EQ_U64(pages(inj, child_maps.small, 4 * MiB, 0).mlocked, 0);

        /* two ranges in one request add up */
        req = request(INJECTOR_OP_PAGES);
        req.n_ranges = 2;
        req.ranges[0] = (PrefetchRange) { .start = child_maps.small, .end = child_maps.small + MiB };
        req.ranges[1] = (PrefetchRange) { .start = child_maps.untouched, .end = child_maps.untouched + MiB };
        ASSERT_OK(call(inj, &req, &reply));
        ASSERT_EQ_U64(reply.pages.pages, 512);
        ASSERT_EQ_U64(reply.pages.present, 256);

        /* THP: 8 MiB of MADV_HUGEPAGE memory, 4 PMD-aligned huge pages */
        c = pages(inj, child_maps.huge, 8 * MiB, 0);
        if (!thp)
                printf("# THP is disabled (transparent_hugepage/enabled = never): huge page checks skipped\n");
        else if (c.thp < 2048)
                printf("# only %" PRIu64 " of 2048 pages got THP (fragmented memory?): checks skipped\n", c.thp);
        else {
                ASSERT_EQ_U64(c.large, 2048);
                ASSERT_EQ_U64(c.large_not_mlocked, 2048);
                /* locked whole: every huge page mlocked */
                step(inj, INJECT_MLOCK2, child_maps.huge, 8 * MiB, 0);
                c = pages(inj, child_maps.huge, 8 * MiB, 0);
                ASSERT_EQ_U64(c.mlocked, 2048);
                ASSERT_EQ_U64(c.thp, 2048);
                ASSERT_EQ_U64(c.large_not_mlocked, 0);
                step(inj, INJECT_MUNLOCK, child_maps.huge, 8 * MiB, 0);
                ASSERT_EQ_U64(pages(inj, child_maps.huge, 8 * MiB, 0).mlocked, 0);
                /* edges 1 MiB inside the first and the last huge page: those two stay not mlocked */
                step(inj, INJECT_MLOCK2, child_maps.huge + MiB, 6 * MiB, 0);
                c = pages(inj, child_maps.huge, 8 * MiB, 0);
                ASSERT_EQ_U64(c.mlocked, 1024);
                ASSERT_EQ_U64(c.large_not_mlocked, 1024);
                ASSERT_EQ_U64(c.thp, 2048); /* the folios are still whole; only their PMDs split */
        }

        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 0;
}
