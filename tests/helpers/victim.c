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
 *   seccomp-nosigreturn   a filter that kills the process on rt_sigreturn (self-restoring calls need
 *                         it), then pause()
 *   exit MS               spin for MS milliseconds, then exit
 *   vfork MS              vfork() a child that sleeps MS ms and exits (the parent waits in D state),
 *                         print "vforked", then pause()
 *   clock                 read CLOCK_MONOTONIC in a loop and note every gap over 5 us; SIGUSR1:
 *                         "gaps N" then N lines "g START_NS LEN_NS" (for the benchmark)
 *   state                 the main thread checks, pass after pass, the LCG and buffer of spin, patterns
 *                         held in xmm8-15 (ymm8-15 with AVX) across a busy loop, MXCSR and the x87
 *                         control word it set, and its signal mask (SIGUSR2 blocked); a second thread
 *                         reads stdin as "read" does; SIGRTMIN is counted. At EOF on stdin:
 *                         "state passes=N bad=B sigs=S read=BYTES ordered=0|1" (B: passes that saw a
 *                         register, the mask or a checksum changed)
 *   ward MIB              the workload of the kill-safety tests: MIB MiB more of anonymous memory, every
 *                         word written from its index; two threads check as state does (SIGRTMIN and
 *                         SIGUSR2 blocked there); the main thread waits in pause() and counts SIGRTMIN.
 *                         SIGUSR2: "ward sum_ok=0|1 sigs=S bad=B passes=N" (sum_ok: every word intact)
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

/* ---- state: what a self-restoring injection must give back ------------------------------- */

static uint8_t vec_pattern[256] __attribute__((aligned(64)));
static atomic_ulong rt_count, bad_passes;
static atomic_int reader_done;
static uint64_t reader_n;
static int reader_ordered = 1;

static void on_rt(int sig) {
        atomic_fetch_add(&rt_count, 1);
}

/* Patterns in xmm8-15, or ymm8-15 (upper halves too) with AVX, held across a busy loop in one asm
 * block so that no compiled code touches them: true when they came back. A reset FPU, or one cut
 * to its legacy part, shows zeros. */
static bool vec_pass(bool avx) {
        uint8_t out[256] __attribute__((aligned(64)));

        if (avx)
                __asm__ volatile(
                        "vmovdqu 0(%0), %%ymm8\n\tvmovdqu 32(%0), %%ymm9\n\tvmovdqu 64(%0), %%ymm10\n\t"
                        "vmovdqu 96(%0), %%ymm11\n\tvmovdqu 128(%0), %%ymm12\n\tvmovdqu 160(%0), %%ymm13\n\t"
                        "vmovdqu 192(%0), %%ymm14\n\tvmovdqu 224(%0), %%ymm15\n\t"
                        "mov $3000000, %%ecx\n1:\n\tdec %%ecx\n\tjnz 1b\n\t"
                        "vmovdqu %%ymm8, 0(%1)\n\tvmovdqu %%ymm9, 32(%1)\n\tvmovdqu %%ymm10, 64(%1)\n\t"
                        "vmovdqu %%ymm11, 96(%1)\n\tvmovdqu %%ymm12, 128(%1)\n\tvmovdqu %%ymm13, 160(%1)\n\t"
                        "vmovdqu %%ymm14, 192(%1)\n\tvmovdqu %%ymm15, 224(%1)\n\tvzeroupper"
                        : : "r"(vec_pattern), "r"(out)
                        : "rcx", "memory", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
        else {
                __asm__ volatile(
                        "movdqu 0(%0), %%xmm8\n\tmovdqu 16(%0), %%xmm9\n\tmovdqu 32(%0), %%xmm10\n\t"
                        "movdqu 48(%0), %%xmm11\n\tmovdqu 64(%0), %%xmm12\n\tmovdqu 80(%0), %%xmm13\n\t"
                        "movdqu 96(%0), %%xmm14\n\tmovdqu 112(%0), %%xmm15\n\t"
                        "mov $3000000, %%ecx\n1:\n\tdec %%ecx\n\tjnz 1b\n\t"
                        "movdqu %%xmm8, 0(%1)\n\tmovdqu %%xmm9, 16(%1)\n\tmovdqu %%xmm10, 32(%1)\n\t"
                        "movdqu %%xmm11, 48(%1)\n\tmovdqu %%xmm12, 64(%1)\n\tmovdqu %%xmm13, 80(%1)\n\t"
                        "movdqu %%xmm14, 96(%1)\n\tmovdqu %%xmm15, 112(%1)"
                        : : "r"(vec_pattern), "r"(out)
                        : "rcx", "memory", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
                memcpy(out + 128, vec_pattern + 128, 128);
        }
        return memcmp(out, vec_pattern, sizeof out) == 0;
}

static void *state_reader(void *arg) {
        unsigned char buf[4096];
        ssize_t k;

        /* the test writes bytes i % 251 for i = 0, 1, 2, ... */
        while ((k = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
                if (k < 0) {
                        if (errno == EINTR)
                                continue;       /* SA_RESTART is set: an EINTR here is still wrong */
                        reader_ordered = 0;
                        break;
                }
                for (ssize_t i = 0; i < k; i++, reader_n++)
                        if (buf[i] != reader_n % 251)
                                reader_ordered = 0;
        }
        atomic_store(&reader_done, 1);
        return NULL;
}

static const uint32_t mxcsr_set = 0x7f80;      /* exceptions masked, round toward zero */
static const uint16_t fcw_set = 0x027f;         /* x87: 53-bit precision */

/* This thread's checker: block the signals in want, set MXCSR and the x87 control word. */
static void checker_setup(const sigset_t *want) {
        pthread_sigmask(SIG_BLOCK, want, NULL);
        __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr_set));
        __asm__ volatile("fldcw %0" : : "m"(fcw_set));
}

/* One checking pass: vector registers, MXCSR, x87 control word, the mask, the LCG and buffer. */
static void checker_pass(bool avx, const sigset_t *want) {
        uint32_t mxcsr;
        uint16_t fcw;
        sigset_t cur;
        bool ok = vec_pass(avx);

        __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
        __asm__ volatile("fnstcw %0" : "=m"(fcw));
        sigemptyset(&cur);
        pthread_sigmask(SIG_BLOCK, NULL, &cur);
        for (int sig = 1; sig < SIGRTMAX; sig++)
                ok = ok && sigismember(&cur, sig) == sigismember(want, sig);
        ok = ok && mxcsr == mxcsr_set && fcw == fcw_set;
        ok = ok && lcg_run() == lcg_expected && buf_sum() == buf_expected;
        if (!ok)
                atomic_fetch_add(&bad_passes, 1);
        atomic_fetch_add(&passes, 1);
}

static void vec_setup(void) {
        for (size_t i = 0; i < sizeof vec_pattern; i++)
                vec_pattern[i] = (uint8_t) (i * 13 + 1);
}

static void state_mode(const void *anon) {
        struct sigaction sa = { .sa_handler = on_rt, .sa_flags = SA_RESTART };
        bool avx = __builtin_cpu_supports("avx");
        sigset_t want;
        pthread_t t;

        vec_setup();
        sigaction(SIGRTMIN, &sa, NULL);
        sigemptyset(&want);
        sigaddset(&want, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &want, NULL);
        if (pthread_create(&t, NULL, state_reader, NULL) != 0)
                exit(2);
        checker_setup(&want);
        /* ready only now: what a test does to this thread from here on is against the state set */
        printf("ready pid=%d anon=%p size=%lu\n", (int) getpid(), (void *) anon, ANON_SIZE);
        while (!atomic_load(&reader_done))
                checker_pass(avx, &want);
        /* and once more: on a loaded machine the reader may end before this thread ran again
         * after the last thing done to it */
        checker_pass(avx, &want);
        pthread_join(t, NULL);
        printf("state passes=%lu bad=%lu sigs=%lu read=%llu ordered=%d\n", (unsigned long) atomic_load(&passes),
               (unsigned long) atomic_load(&bad_passes), (unsigned long) atomic_load(&rt_count),
               (unsigned long long) reader_n, reader_ordered);
}

/* ---- ward ---------------------------------------------------------------------------------- */

static volatile sig_atomic_t report_asked;
static sigset_t ward_blocked;

static void on_usr2(int sig) {
        report_asked = 1;
}

static uint64_t ward_word(size_t i) {
        return (uint64_t) i * 0x9e3779b97f4a7c15ULL ^ 0x5bd1e995;
}

static void *ward_checker(void *arg) {
        bool avx = __builtin_cpu_supports("avx");

        checker_setup(&ward_blocked);
        for (;;)
                checker_pass(avx, &ward_blocked);
        return NULL;
}

static void ward_mode(long mib) {
        struct sigaction rt = { .sa_handler = on_rt, .sa_flags = SA_RESTART }, usr2 = { .sa_handler = on_usr2 };
        size_t n = (size_t) mib << 17;  /* words */
        uint64_t *w;

        w = mmap(NULL, n * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (w == MAP_FAILED)
                exit(2);
        for (size_t i = 0; i < n; i++)
                w[i] = ward_word(i);
        vec_setup();
        sigaction(SIGRTMIN, &rt, NULL);
        sigaction(SIGUSR2, &usr2, NULL);
        sigemptyset(&ward_blocked);
        sigaddset(&ward_blocked, SIGRTMIN);
        sigaddset(&ward_blocked, SIGUSR2);
        for (int i = 0; i < 2; i++) {
                pthread_t t;

                if (pthread_create(&t, NULL, ward_checker, NULL) != 0)
                        exit(2);
        }
        printf("ready pid=%d anon=%p size=%zu\n", (int) getpid(), (void *) w, n * sizeof(uint64_t));
        for (;;) {
                bool sum_ok = true;

                pause();
                if (!report_asked)
                        continue;
                report_asked = 0;
                for (size_t i = 0; i < n; i++)
                        sum_ok = sum_ok && w[i] == ward_word(i);
                printf("ward sum_ok=%d sigs=%lu bad=%lu passes=%lu\n", sum_ok, (unsigned long) atomic_load(&rt_count),
                       (unsigned long) atomic_load(&bad_passes), (unsigned long) atomic_load(&passes));
        }
}

static void *futex_waker(void *arg) {
        char c;

        if (read(STDIN_FILENO, &c, 1) == 1) {
                __atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
                syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        }
        return NULL;
}

/* kill: KILL_PROCESS on mlock2 (on rt_sigreturn with nosigreturn). allow: mlock2 allowed unless
 * its flags hold more than MLOCK_ONFAULT, mlockall logged; and a second, stacked filter failing
 * swapon. */
static void install_filter(bool kill, bool nosigreturn) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW), ctx2 = seccomp_init(SCMP_ACT_ALLOW);
        int r;

        if (nosigreturn)
                r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(rt_sigreturn), 0);
        else if (kill)
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

        /* the filtered modes install their filter and exec themselves again: the image mlockd
         * finds by its exec is confined from its first instruction (a filter installed after the
         * mapping raced a lock of the young process) */
        if (strncmp(mode, "seccomp-", 8) == 0 && (argc < 3 || strcmp(argv[2], "filtered") != 0)) {
                char *again[] = { argv[0], argv[1], (char *) "filtered", NULL };

                install_filter(strcmp(mode, "seccomp-kill") == 0, strcmp(mode, "seccomp-nosigreturn") == 0);
                execv("/proc/self/exe", again);
                return 2;
        }

        anon = mmap(NULL, ANON_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (anon == MAP_FAILED)
                return 2;
        memset(anon, 0x5a, TOUCH_SIZE);

        if (strcmp(mode, "spin") == 0 || strcmp(mode, "threads") == 0 || strcmp(mode, "exit") == 0 ||
            strcmp(mode, "state") == 0 || strcmp(mode, "ward") == 0)
                spin_setup();
        if (strcmp(mode, "threads") == 0)
                for (int i = 0; i < 3; i++) {
                        pthread_t t;

                        if (pthread_create(&t, NULL, spinner, NULL) != 0)
                                return 2;
                }

        if (strcmp(mode, "ward") == 0)
                ward_mode(arg);         /* its own ready line, for its own mapping */
        if (strcmp(mode, "state") != 0) /* its own, once its checker is set up */
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
        } else if (strcmp(mode, "state") == 0)
                state_mode(anon);
        else if (strncmp(mode, "sleep-", 6) == 0)
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
