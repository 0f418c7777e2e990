/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A workload for the tests: maps memory as asked, prints one "ready" line, then waits in the
 * requested way until killed.
 *
 *   target [--anon SIZE] [--touch SIZE] [--file PATH] [--self-lock SIZE] [--lock-anon HOW] [--mode MODE]
 *          [--steps FILE]
 *
 * --anon SIZE     an anonymous private mapping of SIZE bytes (K/M/G suffixes)
 * --touch SIZE    write to the first SIZE bytes of it
 * --file PATH     map PATH read-only and read every page
 * --self-lock SIZE  a second anonymous mapping of SIZE bytes that the program mlock()s itself
 *                 (full); its address is "own=ADDR" in the ready line
 * --undumpable    prctl(PR_SET_DUMPABLE, 0) first: /proc/PID/exe is then for ptrace-capable readers only
 * --lock-anon HOW the program mlock2()s the --anon mapping itself, HOW = onfault or full, before
 *                 touching it: the floor the benchmarks compare mlockd with
 * --hugepage      the --anon mapping starts on a 2 MiB boundary and is MADV_HUGEPAGE (before
 *                 --touch), so it can be backed by THPs
 * --pageout       after --touch, MADV_PAGEOUT the --anon mapping (to swap, when there is swap)
 * --mode pause    (default) sleep in pause()
 *        spin     burn CPU
 *        clock    read CLOCK_MONOTONIC in a loop and remember the longest gap between two reads
 *                 (how long the process was held); SIGUSR1 prints "gap_us=N checksum_ok=1" (the
 *                 longest since the last SIGUSR1)
 *        mmap     like pause, but every SIGUSR1 maps and touches 1 MiB more and prints
 *                 "mmap=ADDR" (or "mmap_failed errno=N"): checks MCL_FUTURE and RLIMIT_MEMLOCK;
 *                 every SIGUSR2 does the same from a new thread, which then ends ("thread_mmap=ADDR")
 *        thread   a second thread pauses; SIGUSR1 makes the main thread (the leader) exit alone
 *        rename   like pause, but SIGUSR1 renames the process (prctl PR_SET_NAME) to the --comm
 *                 NAME and prints "renamed"
 *        munlock  like pause, but SIGUSR1 munlock()s the --anon mapping and prints "munlocked"
 *                 (undoes mlockd's lock: drift)
 *        steps    like pause, but SIGUSR1 mlock2()s (full) the --anon mapping itself in the steps
 *                 listed in the --steps FILE (one size in bytes a line, consecutive from its start),
 *                 and prints "step_us=N" for each and then "steps_done n=N": the floor of a paced
 *                 lock, the same steps without ptrace (tests/bench/bench-pace.sh)
 * In pause mode, SIGUSR1 re-executes the program with the same arguments (a new image), and SIGUSR2
 * forks a child that prints "child pid=PID anon=ADDR" and carries on like its parent; with
 * --fork-uid UID the process first changes all its uids to UID (setresuid: a change no process
 * event reports), so the child is UID's from its start.
 * The ready line: "ready pid=PID anon=ADDR file=ADDR own=ADDR" on stdout, flushed. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1, got_usr2;

static void on_signal(int sig) {
        if (sig == SIGUSR1)
                got_usr1 = 1;
        else
                got_usr2 = 1;
}

static uint64_t parse_size_arg(const char *s) {
        char *end;
        uint64_t v = strtoull(s, &end, 10);

        switch (*end) {
        case 'G': case 'g': v <<= 30; break;
        case 'M': case 'm': v <<= 20; break;
        case 'K': case 'k': v <<= 10; break;
        case '\0': break;
        default:
                fprintf(stderr, "bad size %s\n", s);
                exit(2);
        }
        return v;
}

static void *pause_forever(void *arg) {
        for (;;)
                pause();
        return NULL;
}

/* mmap mode: map and touch 1 MiB more, and say where ("WHAT=ADDR"). */
static void map_more(const char *what) {
        void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED)
                printf("%s_failed errno=%d\n", what, errno);
        else {
                memset(p, 1, 1 << 20);
                printf("%s=%p\n", what, p);
        }
        fflush(stdout);
}

/* the same from a thread of its own (which then ends): a mapping the leader did not make */
static void *thread_maps_more(void *arg) {
        map_more("thread_mmap");
        return NULL;
}

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* mode steps: the list's steps, one mlock2 each, timed (an unreadable list or a step past the
 * end stops the walk; what went before stays locked) */
static void lock_in_steps(char *anon, uint64_t anon_size, const char *steps_file) {
        unsigned long long len;
        uint64_t at = 0;
        unsigned n = 0;
        FILE *f = fopen(steps_file, "re");

        if (!f) {
                printf("steps_failed errno=%d\n", errno);
                fflush(stdout);
                return;
        }
        while (fscanf(f, "%llu", &len) == 1 && len > 0 && at + len <= anon_size) {
                uint64_t t0 = now_ns();

                if (mlock2(anon + at, len, 0) < 0) {
                        printf("step_failed errno=%d\n", errno);
                        break;
                }
                printf("step_us=%llu\n", (unsigned long long) ((now_ns() - t0) / 1000));
                at += len;
                n++;
        }
        fclose(f);
        printf("steps_done n=%u\n", n);
        fflush(stdout);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "anon", required_argument, NULL, 'a' },
                { "touch", required_argument, NULL, 't' },
                { "file", required_argument, NULL, 'f' },
                { "mode", required_argument, NULL, 'm' },
                { "self-lock", required_argument, NULL, 'l' },
                { "lock-anon", required_argument, NULL, 'L' },
                { "comm", required_argument, NULL, 'c' },
                { "undumpable", no_argument, NULL, 'u' },
                { "hugepage", no_argument, NULL, 'H' },
                { "pageout", no_argument, NULL, 'P' },
                { "steps", required_argument, NULL, 'S' },
                { "fork-uid", required_argument, NULL, 'F' },
                {},
        };
        bool hugepage = false, pageout = false;
        uint64_t anon_size = 0, touch = 0, own_size = 0;
        const char *file = NULL, *mode = "pause", *lock_anon = NULL, *comm = NULL, *steps_file = NULL;
        void *anon = NULL, *fmap = NULL, *own = NULL;
        struct sigaction sa = { .sa_handler = on_signal };
        long fork_uid = -1;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'a': anon_size = parse_size_arg(optarg); break;
                case 't': touch = parse_size_arg(optarg); break;
                case 'f': file = optarg; break;
                case 'm': mode = optarg; break;
                case 'l': own_size = parse_size_arg(optarg); break;
                case 'L': lock_anon = optarg; break;
                case 'c': comm = optarg; break;
                case 'u':
                        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                                perror("prctl PR_SET_DUMPABLE");
                                return 1;
                        }
                        break;
                case 'H': hugepage = true; break;
                case 'P': pageout = true; break;
                case 'S': steps_file = optarg; break;
                case 'F': fork_uid = strtol(optarg, NULL, 10); break;
                default: return 2;
                }

        sigaction(SIGUSR1, &sa, NULL);
        sigaction(SIGUSR2, &sa, NULL);

        if (anon_size > 0) {
                const uint64_t pmd = 2 << 20;

                anon = mmap(NULL, anon_size + (hugepage ? pmd : 0), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (anon == MAP_FAILED) {
                        perror("mmap anon");
                        return 1;
                }
                if (hugepage) {
                        char *a = (char *) (((uintptr_t) anon + pmd - 1) & ~(pmd - 1));

                        /* trim to the aligned part, so the VMA itself starts and ends on PMDs */
                        if (a > (char *) anon)
                                munmap(anon, (size_t) (a - (char *) anon));
                        munmap(a + anon_size, (size_t) ((char *) anon + anon_size + pmd - (a + anon_size)));
                        anon = a;
                        if (madvise(anon, anon_size, MADV_HUGEPAGE) < 0) {
                                perror("madvise hugepage");
                                return 1;
                        }
                }
                if (lock_anon && mlock2(anon, anon_size, strcmp(lock_anon, "full") == 0 ? 0 : MLOCK_ONFAULT) < 0) {
                        perror("mlock2 anon");
                        return 1;
                }
                if (touch > anon_size)
                        touch = anon_size;
                for (uint64_t off = 0; off < touch; off += (uint64_t) sysconf(_SC_PAGESIZE))
                        ((volatile char *) anon)[off] = (char) (off >> 12);
                if (pageout && madvise(anon, anon_size, MADV_PAGEOUT) < 0) {
                        perror("madvise pageout");
                        return 1;
                }
        }

        if (file) {
                struct stat st;
                int fd = open(file, O_RDONLY | O_CLOEXEC);

                if (fd < 0 || fstat(fd, &st) < 0) {
                        perror(file);
                        return 1;
                }
                fmap = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
                if (fmap == MAP_FAILED) {
                        perror("mmap file");
                        return 1;
                }
                close(fd);
                for (off_t off = 0; off < st.st_size; off += sysconf(_SC_PAGESIZE))
                        (void) ((volatile char *) fmap)[off];
        }

        if (own_size > 0) {
                /* PROT_EXEC keeps it from merging with the --anon mapping */
                own = mmap(NULL, own_size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (own == MAP_FAILED || mlock(own, own_size) < 0) {
                        perror("self-lock");
                        return 1;
                }
        }

        printf("ready pid=%d anon=%p file=%p own=%p\n", (int) getpid(), anon, fmap, own);
        fflush(stdout);

        if (strcmp(mode, "spin") == 0)
                for (volatile uint64_t i = 0;; i++)
                        ;

        if (strcmp(mode, "clock") == 0) {
                uint64_t last = now_ns(), max_gap = 0, sum = 0, expect = 0;

                for (uint64_t i = 0;; i++) {
                        uint64_t t = now_ns();

                        if (t - last > max_gap)
                                max_gap = t - last;
                        last = t;
                        sum += i; /* a running sum the injection must not disturb */
                        expect += i;
                        if (got_usr1) {
                                got_usr1 = 0;
                                printf("gap_us=%llu checksum_ok=%d\n", (unsigned long long) (max_gap / 1000),
                                       sum == expect);
                                fflush(stdout);
                                last = now_ns();
                                max_gap = 0; /* the next answer is about the time since this one */
                        }
                }
        }

        if (strcmp(mode, "mmap") == 0)
                for (;;) {
                        pause();
                        if (got_usr1) {
                                got_usr1 = 0;
                                map_more("mmap");
                        }
                        if (got_usr2) {
                                pthread_t th;

                                got_usr2 = 0;
                                if (pthread_create(&th, NULL, thread_maps_more, NULL) != 0 ||
                                    pthread_join(th, NULL) != 0)
                                        return 1;
                        }
                }

        if (strcmp(mode, "pause") == 0)
                for (;;) {
                        pause();
                        if (got_usr1) {
                                got_usr1 = 0;
                                execv("/proc/self/exe", argv);
                                perror("execv");
                                return 1;
                        }
                        if (got_usr2) {
                                pid_t pid;

                                got_usr2 = 0;
                                if (fork_uid >= 0 &&
                                    setresuid((uid_t) fork_uid, (uid_t) fork_uid, (uid_t) fork_uid) < 0) {
                                        perror("setresuid");
                                        return 1;
                                }
                                fflush(stdout);
                                pid = fork();
                                if (pid < 0) {
                                        perror("fork");
                                        return 1;
                                }
                                if (pid == 0) {
                                        printf("child pid=%d anon=%p\n", (int) getpid(), anon);
                                        fflush(stdout);
                                }
                        }
                }

        if (strcmp(mode, "steps") == 0 && steps_file) {
                /* a SIGUSR1 that comes before the wait (the bench sends it once it saw "ready") must
                 * not be lost to a pause() that starts after its handler ran: no injection reaches
                 * this mode, so sigsuspend() does */
                sigset_t usr1, unblocked;

                sigemptyset(&usr1);
                sigaddset(&usr1, SIGUSR1);
                sigprocmask(SIG_BLOCK, &usr1, &unblocked);
                sigdelset(&unblocked, SIGUSR1);
                for (;;) {
                        while (!got_usr1)
                                sigsuspend(&unblocked);
                        got_usr1 = 0;
                        lock_in_steps(anon, anon_size, steps_file);
                }
        }

        if (strcmp(mode, "munlock") == 0)
                for (;;) {
                        pause();
                        if (got_usr1) {
                                got_usr1 = 0;
                                if (munlock(anon, anon_size) < 0)
                                        printf("munlock_failed errno=%d\n", errno);
                                else
                                        printf("munlocked\n");
                                fflush(stdout);
                        }
                }

        if (strcmp(mode, "thread") == 0) {
                pthread_t th;
                sigset_t usr1;

                /* the second thread must not take SIGUSR1: it is for the leader */
                sigemptyset(&usr1);
                sigaddset(&usr1, SIGUSR1);
                pthread_sigmask(SIG_BLOCK, &usr1, NULL);
                if (pthread_create(&th, NULL, pause_forever, NULL) != 0)
                        return 1;
                pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
                while (!got_usr1)
                        pause();
                pthread_exit(NULL);
        }

        if (strcmp(mode, "rename") == 0 && comm)
                for (;;) {
                        pause();
                        if (got_usr1) {
                                got_usr1 = 0;
                                if (prctl(PR_SET_NAME, comm, 0, 0, 0) < 0)
                                        perror("prctl");
                                printf("renamed\n");
                                fflush(stdout);
                        }
                }

        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
}
