/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A hostile workload for the tests: a process that does what an unprivileged user may do to make a
 * tracer's life hard. Prints one "ready" line, then sleeps in pause() until killed.
 *
 *   hostile [--comm BYTES] [--anon SIZE] [--uffd SIZE] [--maps N] [--vfork] [--kill-munlock]
 *
 * --comm BYTES   prctl(PR_SET_NAME) to BYTES (any bytes: invalid UTF-8, control characters)
 * --anon SIZE    an anonymous mapping of SIZE bytes (K/M suffixes), every page written
 * --uffd SIZE    an anonymous mapping of SIZE bytes registered with userfaultfd for missing pages,
 *                whose faults nobody ever serves: touching it blocks forever
 * --maps N       N one-page mappings in a row with alternating protections (N VMAs), untouched
 * --vfork        after the ready line, vfork(): the parent waits in D state for a child that
 *                never execs (the child names itself "vfork-child", sleeps, and dies with its
 *                parent); the child prints "child pid=PID" first
 * --kill-munlock a seccomp filter that kills the process on munlock and munlockall: what mlockd
 *                locks, it cannot give back (Release is refused)
 * The ready line: "ready pid=PID anon=ADDR uffd=ADDR maps=ADDR" on stdout, flushed. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/userfaultfd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t parse_size_arg(const char *s) {
        char *end;
        uint64_t v = strtoull(s, &end, 10);

        switch (*end) {
        case 'M': case 'm': v <<= 20; break;
        case 'K': case 'k': v <<= 10; break;
        case '\0': break;
        default:
                fprintf(stderr, "bad size %s\n", s);
                exit(2);
        }
        return v;
}

static void *map_anon(size_t size, int prot) {
        void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED) {
                perror("mmap");
                exit(1);
        }
        return p;
}

/* A mapping whose missing-page faults go to a userfaultfd nobody reads. */
static void *map_uffd(size_t size) {
        struct uffdio_api api = { .api = UFFD_API };
        struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
        void *p = map_anon(size, PROT_READ | PROT_WRITE);
        int fd;

        fd = (int) syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
                perror("userfaultfd");
                exit(77);
        }
        if (ioctl(fd, UFFDIO_API, &api) < 0) {
                perror("UFFDIO_API");
                exit(77);
        }
        reg.range.start = (uintptr_t) p;
        reg.range.len = size;
        if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
                perror("UFFDIO_REGISTER");
                exit(77);
        }
        return p; /* fd stays open: the registration lives as long as it does */
}

/* n pages, each its own VMA: neighbours differ in protection, so none merge. */
static void *map_many(size_t n) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        char *p = map_anon(n * page, PROT_READ | PROT_WRITE);

        for (size_t i = 1; i < n; i += 2)
                if (mprotect(p + i * page, page, PROT_READ) < 0) {
                        perror("mprotect (vm.max_map_count?)");
                        exit(77);
                }
        return p;
}

static void kill_on_munlock(void) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        int r;

        r = ctx ? seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(munlock), 0) : -ENOMEM;
        if (r >= 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(munlockall), 0);
        if (r >= 0)
                r = seccomp_load(ctx);
        if (r < 0) {
                fprintf(stderr, "seccomp: %s\n", strerror(-r));
                exit(77);
        }
        seccomp_release(ctx);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "comm", required_argument, NULL, 'c' },
                { "anon", required_argument, NULL, 'a' },
                { "uffd", required_argument, NULL, 'u' },
                { "maps", required_argument, NULL, 'm' },
                { "vfork", no_argument, NULL, 'v' },
                { "kill-munlock", no_argument, NULL, 'k' },
                {},
        };
        void *anon = NULL, *uffd = NULL, *many = NULL;
        bool do_vfork = false;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        if (prctl(PR_SET_NAME, optarg) < 0) {
                                perror("PR_SET_NAME");
                                return 1;
                        }
                        break;
                case 'a': {
                        size_t size = parse_size_arg(optarg);

                        anon = map_anon(size, PROT_READ | PROT_WRITE);
                        memset(anon, 1, size);
                        break;
                }
                case 'u':
                        uffd = map_uffd(parse_size_arg(optarg));
                        break;
                case 'm':
                        many = map_many(strtoul(optarg, NULL, 10));
                        break;
                case 'v':
                        do_vfork = true;
                        break;
                case 'k':
                        kill_on_munlock();
                        break;
                default:
                        return 2;
                }

        printf("ready pid=%d anon=%p uffd=%p maps=%p\n", (int) getpid(), anon, uffd, many);
        fflush(stdout);

        if (do_vfork) {
                pid_t pid = vfork();

                if (pid == 0) {
                        /* only raw system calls in a vfork child: it runs on its parent's stack */
                        char line[64];
                        int n;

                        (void) syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                        (void) syscall(SYS_prctl, PR_SET_NAME, "vfork-child", 0, 0, 0);
                        n = snprintf(line, sizeof line, "child pid=%d\n", (int) syscall(SYS_getpid));
                        (void) syscall(SYS_write, STDOUT_FILENO, line, (size_t) n);
                        for (;;)
                                (void) syscall(SYS_pause);
                }
                if (pid < 0) {
                        perror("vfork");
                        return 1;
                }
        }
        for (;;)
                pause();
}
