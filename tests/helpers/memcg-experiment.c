/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where does page cache read by process_madvise(MADV_WILLNEED) get charged? (To the
 * caller's memory cgroup, not the target's: lib/prefetch.h relies on it.)
 *
 * Run by `make bench` (not in make check); needs root and the memory controller (v1 on this
 * machine's hybrid hierarchy, or v2). Makes two memory cgroups below its own: A for the
 * "daemon" side, B for the "target". The target T lives in B and maps three 32 MiB files
 * without touching them; each file is dropped from the page cache first. Then:
 *   (a) a helper in A calls process_madvise(T, file1, WILLNEED);
 *   (b) T faults file2 in itself;
 *   (c) a helper placed in B calls process_madvise(T, file3, WILLNEED);
 *   (d)-(f) T mlock2()s each file: where does "unevictable" show up?
 * After each step it prints the page cache charged to A and to B (memory.stat "cache" on v1,
 * "file" on v2) and how much of the file is resident. Exit 0 (also when it cannot run: it says
 * SKIP), 1 on an unexpected failure. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "prefetch.h"

#define MiB ((uint64_t) 1024 * 1024)
#define FILE_SIZE (32 * MiB)
#define NFILES 3

static char cg_a[4096], cg_b[4096];
static bool v2;
static uint64_t prefetch_chunk;

static int skip(const char *why) {
        printf("SKIP: memcg-experiment: %s\n", why);
        return 0;
}

static int find_memcg_base(char *buf, size_t size) {
        _cleanup_free_ char *text = NULL;
        char *p, *line;

        if (read_full_file("/proc/self/cgroup", 64 * 1024, &text, NULL) < 0)
                return -ENOENT;
        p = text;
        while ((line = next_line(&p))) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                if (streq(c1 + 1, "memory") && access("/sys/fs/cgroup/memory", F_OK) == 0) {
                        snprintf(buf, size, "/sys/fs/cgroup/memory%s", streq(c2 + 1, "/") ? "" : c2 + 1);
                        return 0;
                }
        }
        /* pure v2 with the memory controller */
        p = text;
        if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 && strstr(text, "0::")) {
                _cleanup_free_ char *ctl = NULL;
                if (read_full_file("/sys/fs/cgroup/cgroup.controllers", 4096, &ctl, NULL) >= 0 &&
                    strstr(ctl, "memory")) {
                        char *path = strstr(text, "0::") + 3, *nl = strchr(path, '\n');
                        if (nl)
                                *nl = '\0';
                        snprintf(buf, size, "/sys/fs/cgroup%s", streq(path, "/") ? "" : path);
                        v2 = true;
                        return 0;
                }
        }
        return -ENOENT;
}

static uint64_t stat_field(const char *cg, const char *key) {
        _cleanup_free_ char *text = NULL;
        char path[4200], *p, *line;
        size_t klen = strlen(key);

        snprintf(path, sizeof path, "%s/memory.stat", cg);
        if (read_full_file(path, 1 << 20, &text, NULL) < 0)
                return UINT64_MAX;
        p = text;
        while ((line = next_line(&p)))
                if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
                        return strtoull(line + klen + 1, NULL, 10);
        return UINT64_MAX;
}

/* cgroupfs files are written in place (write_file_atomic's rename would not work there) */
static int join_cgroup(const char *cg) {
        char path[4200], pid[32];
        int fd, n;

        snprintf(path, sizeof path, "%s/cgroup.procs", cg);
        n = snprintf(pid, sizeof pid, "%d\n", (int) getpid());
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, pid, (size_t) n) != n) {
                int e = -errno;
                close(fd);
                return e;
        }
        close(fd);
        return 0;
}

static size_t resident_mib(const void *addr, size_t size) {
        unsigned char vec[FILE_SIZE / 4096];
        size_t n = 0;

        if (mincore((void *) addr, size, vec) < 0)
                return 0;
        for (size_t i = 0; i < size / 4096; i++)
                n += vec[i] & 1;
        return n * 4096 / MiB;
}

static void report(const char *step, void *const mine[NFILES]) {
        const char *cache = v2 ? "file" : "cache", *unevictable = "unevictable";

        printf("%-48s A: cache %4" PRIu64 " MiB unevictable %3" PRIu64 " MiB | B: cache %4" PRIu64
               " MiB unevictable %3" PRIu64 " MiB | resident file1 %2zu file2 %2zu file3 %2zu MiB\n",
               step, stat_field(cg_a, cache) / MiB, stat_field(cg_a, unevictable) / MiB,
               stat_field(cg_b, cache) / MiB, stat_field(cg_b, unevictable) / MiB,
               resident_mib(mine[0], FILE_SIZE), resident_mib(mine[1], FILE_SIZE),
               resident_mib(mine[2], FILE_SIZE));
        fflush(stdout);
}

/* The target: joins B, maps the files, sends their addresses, then obeys one-byte commands:
 * '1'..'3' read every page of that file, 'a'..'c' mlock2() it, 'q' exit. */
static _noreturn_ void target_main(const int fds[NFILES], int cmd, int reply) {
        uint64_t addrs[NFILES];
        char c;

        if (join_cgroup(cg_b) < 0)
                _exit(1);
        for (int i = 0; i < NFILES; i++) {
                void *p = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fds[i], 0);
                if (p == MAP_FAILED)
                        _exit(1);
                addrs[i] = (uint64_t) (uintptr_t) p;
        }
        if (write(reply, addrs, sizeof addrs) != sizeof addrs)
                _exit(1);
        while (read(cmd, &c, 1) == 1) {
                if (c >= '1' && c <= '3') {
                        volatile const char *p = (const char *) (uintptr_t) addrs[c - '1'];
                        for (size_t off = 0; off < FILE_SIZE; off += 4096)
                                (void) p[off];
                }
                if (c >= 'a' && c <= 'c' &&
                    mlock2((void *) (uintptr_t) addrs[c - 'a'], FILE_SIZE, 0) < 0)
                        _exit(1);
                if (c == 'q')
                        _exit(0);
                if (write(reply, &c, 1) != 1)
                        _exit(1);
        }
        _exit(0);
}

/* A prefetcher: joins cg, WILLNEED over [addr, addr + FILE_SIZE) of the target, device-sized chunks. */
static int run_prefetcher(const char *cg, pid_t target, uint64_t addr, uint64_t chunk) {
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                PrefetchRange r = { .start = addr, .end = addr + FILE_SIZE, .chunk = chunk };
                uint64_t advised = 0;
                int pidfd, k;

                if (join_cgroup(cg) < 0)
                        _exit(2);
                pidfd = (int) syscall(SYS_pidfd_open, target, 0);
                if (pidfd < 0)
                        _exit(3);
                k = prefetch_ranges(pidfd, &r, 1, &advised);
                if (k < 0) {
                        fprintf(stderr, "prefetch_ranges: %s\n", strerror(-k));
                        _exit(4);
                }
                _exit(advised == FILE_SIZE ? 0 : 5);
        }
        if (waitpid(pid, &status, 0) != pid)
                return -errno;
        return WIFEXITED(status) ? -WEXITSTATUS(status) : -EIO;
}

static void wait_resident(void *const mine[NFILES], int i) {
        for (int k = 0; k < 2000 && resident_mib(mine[i], FILE_SIZE) < FILE_SIZE / MiB; k++)
                usleep(10000);
}

/* Prefetch file i of the target from a helper in cg, wait for it to be read, report. */
static int prefetch_step(const char *cg, pid_t target, const uint64_t addrs[NFILES], void *const mine[NFILES],
                         int i, const char *label) {
        uint64_t chunk = prefetch_chunk;
        int k = run_prefetcher(cg, target, addrs[i], chunk);

        if (k < 0) {
                fprintf(stderr, "prefetcher in %s failed (%d)\n", cg, k);
                return k;
        }
        wait_resident(mine, i);
        report(label, mine);
        return 0;
}

/* Send the target one command, wait for its acknowledgement, report. */
static int target_step(int cmd, int reply, char c, void *const mine[NFILES], const char *label) {
        if (write(cmd, &c, 1) != 1 || read(reply, &c, 1) != 1)
                return -EIO;
        report(label, mine);
        return 0;
}

int main(void) {
        char base[3072], path[] = "/var/tmp/memcg-experiment.XXXXXX";
        int fds[NFILES], cmd[2], reply[2], r = 1;
        uint64_t addrs[NFILES], chunk;
        void *mine[NFILES] = {};
        _cleanup_free_ char *data = NULL;
        struct stat st;
        pid_t target = -1;

        if (find_memcg_base(base, sizeof base) < 0)
                return skip("no memory cgroup controller");
        snprintf(cg_a, sizeof cg_a, "%s/memcg-exp-A.%d", base, (int) getpid());
        snprintf(cg_b, sizeof cg_b, "%s/memcg-exp-B.%d", base, (int) getpid());
        if (mkdir(cg_a, 0755) < 0)
                return skip("cannot create a memory cgroup (not root?)");
        if (mkdir(cg_b, 0755) < 0) {
                rmdir(cg_a);
                return skip("cannot create a memory cgroup");
        }
        printf("memcg %s: A=%s B=%s\n", v2 ? "v2" : "v1", cg_a, cg_b);

        data = malloc(FILE_SIZE);
        if (!data)
                goto out;
        memset(data, 0x33, FILE_SIZE);
        for (int i = 0; i < NFILES; i++) {
                strcpy(path, "/var/tmp/memcg-experiment.XXXXXX");
                fds[i] = mkostemp(path, O_CLOEXEC);
                if (fds[i] < 0 || unlink(path) < 0 || write(fds[i], data, FILE_SIZE) != (ssize_t) FILE_SIZE ||
                    fsync(fds[i]) < 0)
                        goto out;
                (void) posix_fadvise(fds[i], 0, FILE_SIZE, POSIX_FADV_DONTNEED);
                mine[i] = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fds[i], 0);
                if (mine[i] == MAP_FAILED)
                        goto out;
        }
        if (fstat(fds[0], &st) < 0)
                goto out;
        prefetch_chunk = chunk = prefetch_readahead_bytes("/sys", major(st.st_dev), minor(st.st_dev));
        printf("files: %d x %" PRIu64 " MiB on %u:%u, WILLNEED chunk %" PRIu64 " KiB\n", NFILES,
               FILE_SIZE / MiB, major(st.st_dev), minor(st.st_dev), chunk / 1024);

        if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(reply, O_CLOEXEC) < 0)
                goto out;
        target = fork();
        if (target < 0)
                goto out;
        if (target == 0)
                target_main(fds, cmd[0], reply[1]);
        if (read(reply[0], addrs, sizeof addrs) != sizeof addrs) {
                fprintf(stderr, "target failed to start\n");
                goto out;
        }
        for (int i = 0; i < NFILES; i++)
                if (resident_mib(mine[i], FILE_SIZE) != 0) {
                        skip("cannot drop the test files from the page cache");
                        r = 0;
                        goto out;
                }
        report("start", mine);

        if (prefetch_step(cg_a, target, addrs, mine, 0, "(a) helper in A: WILLNEED on T's file1") < 0 ||
            target_step(cmd[1], reply[0], '2', mine, "(b) T (in B) faults file2 itself") < 0 ||
            prefetch_step(cg_b, target, addrs, mine, 2, "(c) helper in B: WILLNEED on T's file3") < 0 ||
            /* mlock never re-charges: the unevictable pages stay with whoever read them in */
            target_step(cmd[1], reply[0], 'a', mine, "(d) T mlock2()s file1 (read in by A)") < 0 ||
            target_step(cmd[1], reply[0], 'b', mine, "(e) T mlock2()s file2 (faulted by T)") < 0 ||
            target_step(cmd[1], reply[0], 'c', mine, "(f) T mlock2()s file3 (read in by helper in B)") < 0)
                goto out;
        r = 0;

out:
        if (target > 0) {
                kill(target, SIGKILL);
                waitpid(target, NULL, 0);
        }
        for (int i = 0; i < NFILES; i++)
                if (mine[i] && mine[i] != MAP_FAILED)
                        munmap(mine[i], FILE_SIZE);
        (void) rmdir(cg_a);
        (void) rmdir(cg_b);
        if (r != 0)
                fprintf(stderr, "memcg-experiment: failed: %m\n");
        return r;
}
