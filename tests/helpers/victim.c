/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The injection tests' workload: maps memory, prints one "ready" line, then sits in the state the
 * test asks for while the test injects into it, and reports on stdout whether it noticed anything.
 * Built without sanitizers (their shadow mappings would make mlockall() meaningless).
 *
 *   victim MODE [ARG]     MODE is one of:
 *   spin                  check an LCG and a memory checksum in a loop; SIGUSR1: "ok passes=N", exit
 *   threads               three such spinners and a main thread in nanosleep(); SIGUSR1 as for spin
 *   sleep-glibc MS        nanosleep() / raw SYS_nanosleep / clock_nanosleep(TIMER_ABSTIME), then
 *   sleep-raw MS          "slept us=ELAPSED ret=R"
 *   sleep-abs MS
 *   read                  read stdin to EOF: "read n=BYTES sum=FNV1A ordered=0|1"
 *   futex                 FUTEX_WAIT with no timeout; a thread wakes it when a byte arrives on stdin:
 *                         "futex ret=R errno=E"
 *   futex-timeout MS      FUTEX_WAIT with a relative timeout: "futex ret=R errno=E us=ELAPSED"
 *   pause                 pause() in a loop, SIGUSR1 counted: "woke errno=E count=N" per return
 *   seccomp-kill          a filter that kills the process on mlock2, then pause()
 *   seccomp-allow         filters that allow mlock2 with MLOCK_ONFAULT, log mlockall and fail
 *                         swapon, then pause()
 *   exit MS               spin for MS milliseconds, then exit
 *   vfork MS              vfork() a child that sleeps MS ms and exits (the parent waits in D state),
 *                         print "vforked", then pause()
 *   clock                 read CLOCK_MONOTONIC in a loop and note every gap over 5 us; SIGUSR1:
 *                         "gaps N" then N lines "g START_NS LEN_NS" (for the benchmark)
 * Every mode maps 64 MiB anonymous memory and touches its first 8 MiB:
 *   "ready pid=PID anon=ADDR size=BYTES" */

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ANON_SIZE (64UL << 20)
#define TOUCH_SIZE (8UL << 20)
#define CHECK_BUF (256UL << 10)

static volatile sig_atomic_t usr1_count;
static uint32_t futex_word;

static void on_usr1(int sig) {
        usr1_count++;
}

static uint64_t now_us(clockid_t c) {
        struct timespec ts;

        clock_gettime(c, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* One pass: an LCG run that must land on the same value, and a buffer that must keep its sum. */
static uint8_t *check_buf;
static uint64_t lcg_expected, buf_expected;

static uint64_t lcg_run(void) {
        uint64_t x = 42;

        for (unsigned i = 0; i < 200000; i++)
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        return x;
}

static uint64_t buf_sum(void) {
        uint64_t s = 0;

        for (size_t i = 0; i < CHECK_BUF; i++)
                s = s * 31 + check_buf[i];
        return s;
}

static void spin_setup(void) {
        check_buf = malloc(CHECK_BUF);
        if (!check_buf)
                exit(2);
        for (size_t i = 0; i < CHECK_BUF; i++)
                check_buf[i] = (uint8_t) (i * 7 + 3);
        lcg_expected = lcg_run();
        buf_expected = buf_sum();
}

static atomic_ulong passes;

static void spin_pass(void) {
        if (lcg_run() != lcg_expected || buf_sum() != buf_expected) {
                printf("CORRUPT\n");
                fflush(stdout);
                _exit(3);
        }
        atomic_fetch_add(&passes, 1);
}

static void *spinner(void *arg) {
        for (;;)
                spin_pass();
        return NULL;
}

static void *futex_waker(void *arg) {
        char c;

        if (read(STDIN_FILENO, &c, 1) == 1) {
                __atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
                syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        }
        return NULL;
}

/* kill: KILL_PROCESS on mlock2. allow: mlock2 allowed unless its flags hold more than
 * MLOCK_ONFAULT, mlockall logged; and a second, stacked filter failing swapon. */
static void install_filter(bool kill) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW), ctx2 = seccomp_init(SCMP_ACT_ALLOW);
        int r;

        if (kill)
                r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(mlock2), 0);
        else {
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mlock2), 1, SCMP_A2(SCMP_CMP_GT, 1));
                if (r >= 0)
                        r = seccomp_rule_add(ctx, SCMP_ACT_LOG, SCMP_SYS(mlockall), 0);
        }
        if (r >= 0)
                r = seccomp_rule_add(ctx2, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(swapon), 0);
        if (r >= 0)
                r = seccomp_load(ctx);
        if (r >= 0)
                r = seccomp_load(ctx2);
        if (r < 0) {
                fprintf(stderr, "seccomp setup failed: %s\n", strerror(-r));
                exit(2);
        }
        seccomp_release(ctx);
        seccomp_release(ctx2);
}

static void sleep_mode(const char *mode, long ms) {
        struct timespec req = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        uint64_t start = now_us(CLOCK_MONOTONIC);
        long r;

        if (strcmp(mode, "sleep-glibc") == 0)
                r = nanosleep(&req, NULL);
        else if (strcmp(mode, "sleep-raw") == 0)
                r = syscall(SYS_nanosleep, &req, NULL);
        else {
                struct timespec abs;

                clock_gettime(CLOCK_MONOTONIC, &abs);
                abs.tv_sec += req.tv_sec;
                abs.tv_nsec += req.tv_nsec;
                if (abs.tv_nsec >= 1000000000L) {
                        abs.tv_sec++;
                        abs.tv_nsec -= 1000000000L;
                }
                r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
        }
        printf("slept us=%llu ret=%ld\n", (unsigned long long) (now_us(CLOCK_MONOTONIC) - start), r);
}

int main(int argc, char *argv[]) {
        const char *mode = argc > 1 ? argv[1] : "pause";
        long arg = argc > 2 ? atol(argv[2]) : 0;
        struct sigaction sa = { .sa_handler = on_usr1 };
        uint8_t *anon;

        setvbuf(stdout, NULL, _IOLBF, 0);
        sigaction(SIGUSR1, &sa, NULL);

        anon = mmap(NULL, ANON_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (anon == MAP_FAILED)
                return 2;
        memset(anon, 0x5a, TOUCH_SIZE);

        if (strcmp(mode, "spin") == 0 || strcmp(mode, "threads") == 0 || strcmp(mode, "exit") == 0)
                spin_setup();
        if (strcmp(mode, "seccomp-kill") == 0)
                install_filter(true);
        else if (strcmp(mode, "seccomp-allow") == 0)
                install_filter(false);
        if (strcmp(mode, "threads") == 0)
                for (int i = 0; i < 3; i++) {
                        pthread_t t;

                        if (pthread_create(&t, NULL, spinner, NULL) != 0)
                                return 2;
                }

        printf("ready pid=%d anon=%p size=%lu\n", (int) getpid(), (void *) anon, ANON_SIZE);

        if (strcmp(mode, "spin") == 0) {
                while (usr1_count == 0)
                        spin_pass();
                printf("ok passes=%lu\n", (unsigned long) atomic_load(&passes));
        } else if (strcmp(mode, "threads") == 0) {
                /* Any thread may take a process-directed SIGUSR1 (the kernel passes over one whose
                 * TIF_SIGPENDING is still set, as PTRACE_DETACH leaves it until it runs): so the main
                 * thread sleeps in short nanosleeps rather than pause(), and notices whichever took it. */
                while (usr1_count == 0) {
                        struct timespec ts = { .tv_nsec = 1000000 };
                        nanosleep(&ts, NULL);
                }
                printf("ok passes=%lu\n", (unsigned long) atomic_load(&passes));
        } else if (strncmp(mode, "sleep-", 6) == 0)
                sleep_mode(mode, arg);
        else if (strcmp(mode, "read") == 0) {
                uint64_t n = 0, sum = 1469598103934665603ULL;
                int ordered = 1;
                unsigned char buf[4096];
                ssize_t k;

                /* the test writes bytes i % 251 for i = 0, 1, 2, ... */
                while ((k = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
                        if (k < 0) {
                                printf("read error errno=%d\n", errno);
                                return 1;
                        }
                        for (ssize_t i = 0; i < k; i++, n++) {
                                if (buf[i] != n % 251)
                                        ordered = 0;
                                sum = (sum ^ buf[i]) * 1099511628211ULL;
                        }
                }
                printf("read n=%llu sum=%llu ordered=%d\n", (unsigned long long) n,
                       (unsigned long long) sum, ordered);
        } else if (strcmp(mode, "futex") == 0) {
                pthread_t t;
                long r;

                if (pthread_create(&t, NULL, futex_waker, NULL) != 0)
                        return 2;
                do
                        r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
                while (r == 0 && __atomic_load_n(&futex_word, __ATOMIC_SEQ_CST) == 0);
                printf("futex ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
        } else if (strcmp(mode, "futex-timeout") == 0) {
                struct timespec ts = { .tv_sec = arg / 1000, .tv_nsec = (arg % 1000) * 1000000L };
                uint64_t start = now_us(CLOCK_MONOTONIC);
                long r;

                r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
                printf("futex ret=%ld errno=%d us=%llu\n", r, r < 0 ? errno : 0,
                       (unsigned long long) (now_us(CLOCK_MONOTONIC) - start));
        } else if (strcmp(mode, "pause") == 0 || strncmp(mode, "seccomp-", 8) == 0) {
                for (;;) {
                        int r = pause();

                        printf("woke ret=%d errno=%d count=%d\n", r, errno, (int) usr1_count);
                }
        } else if (strcmp(mode, "exit") == 0) {
                uint64_t end = now_us(CLOCK_MONOTONIC) + (uint64_t) arg * 1000;

                while (now_us(CLOCK_MONOTONIC) < end)
                        spin_pass();
        } else if (strcmp(mode, "vfork") == 0) {
                struct timespec ts = { .tv_sec = arg / 1000, .tv_nsec = (arg % 1000) * 1000000L };

                if (vfork() == 0) {
                        syscall(SYS_nanosleep, &ts, NULL);
                        _exit(0);
                }
                printf("vforked\n");
                for (;;)
                        pause();
        } else if (strcmp(mode, "clock") == 0) {
                enum { GAPS_MAX = 1 << 17 };
                static uint64_t gap_start[GAPS_MAX], gap_len[GAPS_MAX];
                size_t n = 0;
                struct timespec ts;
                uint64_t last, now;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                last = (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
                while (usr1_count == 0) {
                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        now = (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
                        if (now - last > 5000 && n < GAPS_MAX) {
                                gap_start[n] = last;
                                gap_len[n++] = now - last;
                        }
                        last = now;
                }
                printf("gaps %zu\n", n);
                for (size_t i = 0; i < n; i++)
                        printf("g %llu %llu\n", (unsigned long long) gap_start[i], (unsigned long long) gap_len[i]);
        } else {
                fprintf(stderr, "unknown mode %s\n", mode);
                return 2;
        }
        return 0;
}
