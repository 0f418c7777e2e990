/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* prefetch.c: read-ahead lookup on a fake sysfs (disk, partition, unknown, garbage), and
 * process_madvise(WILLNEED) into a child's file mapping: the file, dropped from the page cache
 * first, becomes resident (mincore() on our own mapping), the bytes advised are returned, a hole
 * is skipped without stopping the rest, more than UIO_MAXIOV elements are looped over. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "prefetch.h"
#include "tests.h"

#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)

static void write_str(const char *dir, const char *rel, const char *s) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        ASSERT_OK(write_file_atomic(path, s, strlen(s), 0644));
}

static void mkdir_at(const char *dir, const char *rel) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        ASSERT_OK(mkdir(path, 0755));
}

static char sysdir[] = "/tmp/test-prefetch.XXXXXX";

static void test_readahead(void) {
        char *dir = sysdir, cmd[4200];
        struct stat st;

        ASSERT_NOT_NULL(mkdtemp(dir));
        /* sysfs layout: dev/block/M:m links into block/<disk>[/<partition>]; a partition has no queue */
        mkdir_at(dir, "block");
        mkdir_at(dir, "block/sda");
        mkdir_at(dir, "block/sda/queue");
        write_str(dir, "block/sda/queue/read_ahead_kb", "4096\n");
        mkdir_at(dir, "block/sda/sda1");
        write_str(dir, "block/sda/sda1/partition", "1\n");
        mkdir_at(dir, "block/vdb");
        mkdir_at(dir, "block/vdb/queue");
        write_str(dir, "block/vdb/queue/read_ahead_kb", "0\n");
        mkdir_at(dir, "block/vdc");
        mkdir_at(dir, "block/vdc/queue");
        write_str(dir, "block/vdc/queue/read_ahead_kb", "lots\n");
        mkdir_at(dir, "dev");
        mkdir_at(dir, "dev/block");
        snprintf(cmd, sizeof cmd, "%s/dev/block/8:0", dir);
        ASSERT_OK(symlink("../../block/sda", cmd));
        snprintf(cmd, sizeof cmd, "%s/dev/block/8:1", dir);
        ASSERT_OK(symlink("../../block/sda/sda1", cmd));
        snprintf(cmd, sizeof cmd, "%s/dev/block/253:16", dir);
        ASSERT_OK(symlink("../../block/vdb", cmd));
        snprintf(cmd, sizeof cmd, "%s/dev/block/253:32", dir);
        ASSERT_OK(symlink("../../block/vdc", cmd));

        ASSERT_EQ_U64(prefetch_readahead_bytes(dir, 8, 0), 4 * MiB);
        ASSERT_EQ_U64(prefetch_readahead_bytes(dir, 8, 1), 4 * MiB); /* the parent disk's */
        ASSERT_EQ_U64(prefetch_readahead_bytes(dir, 253, 16), PREFETCH_CHUNK_DEFAULT); /* off */
        ASSERT_EQ_U64(prefetch_readahead_bytes(dir, 253, 32), PREFETCH_CHUNK_DEFAULT); /* garbage */
        ASSERT_EQ_U64(prefetch_readahead_bytes(dir, 9, 9), PREFETCH_CHUNK_DEFAULT);    /* unknown */
        ASSERT_EQ_U64(prefetch_readahead_bytes(dir, 0, 42), PREFETCH_CHUNK_DEFAULT);   /* tmpfs & co. */
        ASSERT_EQ_U64(prefetch_readahead_bytes(NULL, 8, 0), PREFETCH_CHUNK_DEFAULT);

        /* the real one, for the device holding /tmp: what sysfs says, in bytes */
        ASSERT_OK(stat("/tmp", &st));
        if (major(st.st_dev) != 0) {
                _cleanup_free_ char *line = NULL;
                char path[128];
                snprintf(path, sizeof path, "/sys/dev/block/%u:%u/queue/read_ahead_kb", major(st.st_dev),
                         minor(st.st_dev));
                if (read_one_line_file(path, &line) >= 0 && atoll(line) > 0)
                        ASSERT_EQ_U64(prefetch_readahead_bytes("/sys", major(st.st_dev), minor(st.st_dev)),
                                      (uint64_t) atoll(line) * KiB);
        }
}

static size_t resident_pages(const void *addr, size_t size) {
        size_t pages = size / 4096, n = 0;
        _cleanup_free_ unsigned char *vec = malloc(pages);

        ASSERT_NOT_NULL(vec);
        ASSERT_OK(mincore((void *) addr, size, vec));
        for (size_t i = 0; i < pages; i++)
                n += vec[i] & 1;
        return n;
}

/* Poll mincore until want pages of [addr, addr+size) are resident (read-ahead is asynchronous). */
static size_t wait_resident(const void *addr, size_t size, size_t want) {
        size_t n = 0;
        for (int i = 0; i < 3000; i++) { /* up to 30 s on a busy machine */
                n = resident_pages(addr, size);
                if (n >= want)
                        break;
                usleep(10000);
        }
        return n;
}

typedef struct Child {
        pid_t pid;
        int pidfd;
        uint64_t addr;
} Child;

/* A child that maps path (without touching it), optionally punches a hole, reports the address. */
static Child start_child(const char *path, size_t size, size_t hole_off, size_t hole_len) {
        int pipefd[2], fd;
        Child c = {};

        ASSERT_OK(pipe2(pipefd, O_CLOEXEC));
        c.pid = fork();
        ASSERT_TRUE(c.pid >= 0);
        if (c.pid == 0) {
                void *p;
                uint64_t a;
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        _exit(1);
                p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
                if (p == MAP_FAILED)
                        _exit(1);
                if (hole_len > 0 && munmap((char *) p + hole_off, hole_len) < 0)
                        _exit(1);
                a = (uint64_t) (uintptr_t) p;
                if (write(pipefd[1], &a, sizeof a) != sizeof a)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(pipefd[1]);
        ASSERT_EQ(read(pipefd[0], &c.addr, sizeof c.addr), (ssize_t) sizeof c.addr);
        close(pipefd[0]);
        c.pidfd = (int) syscall(SYS_pidfd_open, c.pid, 0);
        ASSERT_TRUE(c.pidfd >= 0);
        return c;
}

static void stop_child(Child *c) {
        kill(c->pid, SIGKILL);
        ASSERT_EQ(waitpid(c->pid, NULL, 0), c->pid);
}

static void drop_cache(int fd, const void *mine, size_t size) {
        ASSERT_EQ(posix_fadvise(fd, 0, (off_t) size, POSIX_FADV_DONTNEED), 0);
        if (resident_pages(mine, size) != 0) {
                printf("SKIP: cannot drop the test file from the page cache\n");
                exit(EXIT_TEST_SKIP);
        }
}

static void test_prefetch(void) {
        const size_t size = 8 * MiB, pages = size / 4096;
        char path[] = "/var/tmp/test-prefetch.XXXXXX";
        _cleanup_free_ char *data = NULL;
        uint64_t advised = 0, chunk;
        struct stat st;
        void *mine;
        Child c;
        int fd;

        /* on a disk, not tmpfs: the page cache must be droppable */
        fd = mkostemp(path, O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(unlink(path));
        data = malloc(size);
        ASSERT_NOT_NULL(data);
        memset(data, 0x5a, size);
        ASSERT_EQ(write(fd, data, size), (ssize_t) size);
        ASSERT_OK(fsync(fd));
        ASSERT_OK(fstat(fd, &st));
        chunk = prefetch_readahead_bytes("/sys", major(st.st_dev), minor(st.st_dev));
        ASSERT_TRUE(chunk >= 4096);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

        /* our own view of the file's page cache */
        mine = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        ASSERT_TRUE(mine != MAP_FAILED);

        /* 1. the whole mapping, device-sized chunks */
        c = start_child(path, size, 0, 0);
        drop_cache(fd, mine, size);
        {
                PrefetchRange r = { .start = c.addr, .end = c.addr + size, .chunk = chunk };
                int k = prefetch_ranges(c.pidfd, &r, 1, &advised);
                if (k == -EPERM) {
                        printf("SKIP: process_madvise: EPERM (needs CAP_SYS_NICE)\n");
                        stop_child(&c);
                        exit(EXIT_TEST_SKIP);
                }
                ASSERT_OK(k);
        }
        ASSERT_EQ_U64(advised, size);
        ASSERT_EQ(wait_resident(mine, size, pages), pages);
        stop_child(&c);

        /* 2. a hole in the middle: its elements fail with ENOMEM, the rest is still advised. Page
         * sized elements, so more than UIO_MAXIOV (1024) of them: the call is looped. */
        c = start_child(path, size, 2 * MiB, 2 * MiB);
        drop_cache(fd, mine, size);
        {
                PrefetchRange r[2] = {
                        { .start = c.addr, .end = c.addr + size, .chunk = 4096 },
                        { .start = c.addr + 4 * MiB, .end = c.addr + 4 * MiB + 4096, .chunk = 0 },
                };
                advised = 0;
                ASSERT_OK(prefetch_ranges(c.pidfd, r, 2, &advised));
        }
        ASSERT_EQ_U64(advised, size - 2 * MiB + 4096);
        /* after the hole: all resident; the hole itself was not read for us */
        ASSERT_EQ(wait_resident((char *) mine + 4 * MiB, 4 * MiB, 1024), 1024);
        ASSERT_EQ(wait_resident(mine, 2 * MiB, 512), 512);
        ASSERT_TRUE(resident_pages((char *) mine + 2 * MiB, 2 * MiB) < 512);

        /* 3. nothing mapped at all: ENOMEM elements only, 0 advised, success */
        {
                PrefetchRange r = { .start = c.addr + 2 * MiB, .end = c.addr + 4 * MiB, .chunk = 1 * MiB };
                advised = 42;
                ASSERT_OK(prefetch_ranges(c.pidfd, &r, 1, &advised));
                ASSERT_EQ_U64(advised, 0);
        }

        /* errors: misaligned, empty, a bad pidfd, a dead process */
        {
                PrefetchRange bad = { .start = c.addr + 1, .end = c.addr + 4096 };
                PrefetchRange empty = { .start = c.addr, .end = c.addr };
                PrefetchRange ok = { .start = c.addr, .end = c.addr + 4096 };

                advised = 42;
                ASSERT_ERROR(prefetch_ranges(c.pidfd, &bad, 1, &advised), EINVAL);
                ASSERT_ERROR(prefetch_ranges(c.pidfd, &empty, 1, &advised), EINVAL);
                ASSERT_ERROR(prefetch_ranges(-1, &ok, 1, &advised), EINVAL);
                ASSERT_ERROR(prefetch_ranges(fd, &ok, 1, &advised), EBADF); /* not a pidfd */
                ASSERT_EQ_U64(advised, 42);
                ASSERT_OK(prefetch_ranges(c.pidfd, NULL, 0, &advised));
                ASSERT_EQ_U64(advised, 0);

                stop_child(&c);
                advised = 42;
                ASSERT_ERROR(prefetch_ranges(c.pidfd, &ok, 1, &advised), ESRCH);
                ASSERT_EQ_U64(advised, 42);
        }
        close(c.pidfd);

        munmap(mine, size);
        close(fd);
}

static Maps *parse_fixture(const char *name) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        Maps *m = NULL;

        ASSERT_TRUE(asprintf(&path, "%s/maps/%s", test_data_dir(), name) > 0);
        ASSERT_OK(read_full_file(path, 16 * MiB, &text, NULL));
        ASSERT_OK(maps_parse(text, &m));
        return m;
}

/* Which regions are worth a WILLNEED, with which chunk (the fake sysfs of test_readahead) */
static void test_plan(void) {
        _cleanup_(maps_freep) Maps *s = parse_fixture("flags.smaps"), *m = parse_fixture("basic.maps");
        _cleanup_free_ PrefetchRange *r = NULL;
        char cmd[4200];
        size_t n = 0;

        /* smaps: the half-resident text (08:01, a partition: its disk's 4 MiB), the anon region
         * with 4 MiB in swap; not /dev/mem (io, pf), the driver and hugetlb mappings, nor the
         * stack (nothing swapped) */
        ASSERT_OK(prefetch_plan(s, REGION_ALL, NULL, sysdir, &r, &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ_U64(r[0].start, 0x400000);
        ASSERT_EQ_U64(r[0].end, 0x600000);
        ASSERT_EQ_U64(r[0].chunk, 4 * MiB);
        ASSERT_EQ_U64(r[1].start, 0x7f0000000000ULL);
        ASSERT_EQ_U64(r[1].chunk, PREFETCH_CHUNK_DEFAULT);
        r = (free(r), NULL);

        ASSERT_OK(prefetch_plan(s, REGION_STACK | REGION_HEAP, NULL, sysdir, &r, &n));
        ASSERT_EQ(n, 0);
        ASSERT_NULL(r);

        /* plain maps: residency unknown, every selected lockable region */
        ASSERT_OK(prefetch_plan(m, REGION_TEXT, NULL, sysdir, &r, &n));
        ASSERT_EQ(n, 2); /* bash text (fe:00, unknown here: default), /opt/app/lib (deleted)/libx.so */
        ASSERT_EQ_U64(r[0].start, 0x55d0c2a2e000ULL);
        ASSERT_EQ_U64(r[0].chunk, PREFETCH_CHUNK_DEFAULT);
        ASSERT_EQ_U64(r[1].start, 0x7f1a31a01000ULL);
        ASSERT_EQ_U64(r[1].chunk, 4 * MiB);
        r = (free(r), NULL);
        {
                char *globs[] = { (char *) "/srv/*", NULL };
                ASSERT_OK(prefetch_plan(m, REGION_FILE, globs, sysdir, &r, &n));
                ASSERT_EQ(n, 2);
                ASSERT_EQ_U64(r[0].start, 0x7f1a31800000ULL);
                ASSERT_EQ_U64(r[1].start, 0x7f1a31900000ULL);
                ASSERT_EQ_U64(r[1].chunk, 4 * MiB);
                r = (free(r), NULL);
        }
        ASSERT_OK(prefetch_plan(m, REGION_ALL, NULL, sysdir, &r, &n));
        ASSERT_EQ(n, 18); /* 23 less the PROT_NONE reserve and the four kernel special mappings */
        ASSERT_ERROR(prefetch_plan(NULL, REGION_ALL, NULL, sysdir, &r, &n), EINVAL);

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", sysdir);
        ASSERT_EQ(system(cmd), 0);
}

int main(void) {
        test_readahead();
        test_plan();
        test_prefetch();
        return 0;
}
