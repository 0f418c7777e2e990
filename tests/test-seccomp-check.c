/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The classic-BPF interpreter on filters built by libseccomp itself (exported, never loaded). */
#include <linux/audit.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "seccomp-check.h"
#include "tests.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#define NATIVE_ARCH 0
#endif

/* Export ctx's program through a memfd and append it to *f. */
static void export_filter(scmp_filter_ctx ctx, SeccompFilters **f) {
        char *buf = NULL;
        size_t size = 0;
        int fd;

        fd = memfd_create("bpf", MFD_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(seccomp_export_bpf(ctx, fd));
        ASSERT_TRUE(lseek(fd, 0, SEEK_SET) == 0);
        ASSERT_OK(read_full_fd(fd, 1 << 20, &buf, &size));
        ASSERT_TRUE(size > 0 && size % sizeof(struct sock_filter) == 0);
        ASSERT_OK(seccomp_filters_add(f, (struct sock_filter *) buf, size / sizeof(struct sock_filter)));
        free(buf);
        close(fd);
        seccomp_release(ctx);
}

static uint32_t eval(const SeccompFilters *f, uint32_t arch, int nr, uint64_t a0, uint64_t a1, uint64_t a2) {
        struct seccomp_data d = {
                .nr = nr,
                .arch = arch,
                .instruction_pointer = 0x7fff12345678,
                .args = { a0, a1, a2 },
        };
        uint32_t action = 0xdeadbeef;

        ASSERT_OK(seccomp_filters_evaluate(f, &d, &action));
        return action;
}
#define EVAL(f, nr, a0, a1, a2) eval(f, NATIVE_ARCH, nr, a0, a1, a2)

static void test_allow_list(void) {
        SeccompFilters *f = NULL;
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);

        ASSERT_NOT_NULL(ctx);
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 0));
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 0));
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getpid), 0));
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_LOG, SCMP_SYS(mlock), 0));
        export_filter(ctx, &f);

        ASSERT_EQ(EVAL(f, SYS_getpid, 0, 0, 0), SECCOMP_RET_ALLOW);
        ASSERT_EQ(EVAL(f, SYS_read, 0, 0, 0), SECCOMP_RET_ALLOW);
        ASSERT_EQ(EVAL(f, SYS_mlock, 0, 0, 0), SECCOMP_RET_LOG);
        ASSERT_TRUE(seccomp_action_allows(EVAL(f, SYS_mlock, 0, 0, 0)));
        ASSERT_STREQ(seccomp_action_to_string(EVAL(f, SYS_mlock2, 0, 0, 0)), "kill_process");
        ASSERT_FALSE(seccomp_action_allows(EVAL(f, SYS_mlockall, 0, 0, 0)));
        /* a foreign ABI never reaches the rules */
        ASSERT_FALSE(seccomp_action_allows(eval(f, 0x12345678, SYS_getpid, 0, 0, 0)));
        seccomp_filters_free(f);
}

static void test_deny_list(void) {
        SeccompFilters *f = NULL;
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        uint32_t a;

        ASSERT_NOT_NULL(ctx);
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mlock2), 0));
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(mlockall), 0));
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(munlock), 0));
        export_filter(ctx, &f);

        a = EVAL(f, SYS_mlock2, 0, 4096, 0);
        ASSERT_EQ(a, SECCOMP_RET_ERRNO | EPERM);
        ASSERT_STREQ(seccomp_action_to_string(a), "errno");
        ASSERT_STREQ(seccomp_action_to_string(EVAL(f, SYS_mlockall, 5, 0, 0)), "kill_process");
        ASSERT_STREQ(seccomp_action_to_string(EVAL(f, SYS_munlock, 0, 0, 0)), "trap");
        ASSERT_EQ(EVAL(f, SYS_munlockall, 0, 0, 0), SECCOMP_RET_ALLOW);
        ASSERT_EQ(EVAL(f, SYS_mlock, 0, 0, 0), SECCOMP_RET_ALLOW);
        seccomp_filters_free(f);
}

static void test_arguments(void) {
        SeccompFilters *f = NULL;
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

        ASSERT_NOT_NULL(ctx);
        /* mlock2 only with MLOCK_ONFAULT; mlock only below 4 GiB; mlockall never with MCL_FUTURE */
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mlock2), 1,
                                   SCMP_A2(SCMP_CMP_NE, MLOCK_ONFAULT)));
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOMEM), SCMP_SYS(mlock), 1,
                                   SCMP_A1(SCMP_CMP_GE, UINT64_C(1) << 32)));
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(mlockall), 1,
                                   SCMP_A0(SCMP_CMP_MASKED_EQ, MCL_FUTURE, MCL_FUTURE)));
        export_filter(ctx, &f);

        ASSERT_EQ(EVAL(f, SYS_mlock2, 0x1000, 4096, MLOCK_ONFAULT), SECCOMP_RET_ALLOW);
        ASSERT_EQ(EVAL(f, SYS_mlock2, 0x1000, 4096, 0), SECCOMP_RET_ERRNO | EPERM);
        ASSERT_EQ(EVAL(f, SYS_mlock, 0x1000, (UINT64_C(1) << 32) - 1, 0), SECCOMP_RET_ALLOW);
        ASSERT_EQ(EVAL(f, SYS_mlock, 0x1000, UINT64_C(1) << 32, 0), SECCOMP_RET_ERRNO | ENOMEM);
        ASSERT_EQ(EVAL(f, SYS_mlock, 0x1000, UINT64_C(5) << 40, 0), SECCOMP_RET_ERRNO | ENOMEM);
        ASSERT_EQ(EVAL(f, SYS_mlockall, MCL_CURRENT | MCL_ONFAULT, 0, 0), SECCOMP_RET_ALLOW);
        ASSERT_STREQ(seccomp_action_to_string(EVAL(f, SYS_mlockall, MCL_CURRENT | MCL_FUTURE, 0, 0)),
                     "kill_process");
        seccomp_filters_free(f);
}

static void test_stacked(void) {
        SeccompFilters *f = NULL;
        scmp_filter_ctx ctx;

        /* older: errno on mlock2, log on mlockall; newer: trap on mlock2, allow the rest */
        ctx = seccomp_init(SCMP_ACT_ALLOW);
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mlock2), 0));
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_LOG, SCMP_SYS(mlockall), 0));
        export_filter(ctx, &f);
        ctx = seccomp_init(SCMP_ACT_ALLOW);
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(mlock2), 0));
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(munlock), 0));
        export_filter(ctx, &f);
        ctx = seccomp_init(SCMP_ACT_ALLOW);
        ASSERT_OK(seccomp_rule_add(ctx, SCMP_ACT_KILL_THREAD, SCMP_SYS(munlock), 0));
        export_filter(ctx, &f);
        ASSERT_EQ(f->n, 3);

        ASSERT_STREQ(seccomp_action_to_string(EVAL(f, SYS_mlock2, 0, 0, 0)), "trap");
        ASSERT_EQ(EVAL(f, SYS_mlockall, 0, 0, 0), SECCOMP_RET_LOG);
        ASSERT_STREQ(seccomp_action_to_string(EVAL(f, SYS_munlock, 0, 0, 0)), "kill_thread");
        ASSERT_EQ(EVAL(f, SYS_getpid, 0, 0, 0), SECCOMP_RET_ALLOW);
        ASSERT_TRUE(seccomp_action_more_restrictive(SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD));
        ASSERT_TRUE(seccomp_action_more_restrictive(SECCOMP_RET_ERRNO | 1, SECCOMP_RET_TRACE));
        ASSERT_FALSE(seccomp_action_more_restrictive(SECCOMP_RET_ALLOW, SECCOMP_RET_LOG));
        seccomp_filters_free(f);
}

static void test_invalid(void) {
        struct seccomp_data d = { .nr = 1 };
        uint32_t a = 0;
        const struct sock_filter jump_out[] = {
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 5, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        const struct sock_filter no_ret[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        };
        const struct sock_filter bad_load[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 62),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        const struct sock_filter scratch[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),           /* A = nr */
                BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 41),          /* A = 42 */
                BPF_STMT(BPF_ST, 3),
                BPF_STMT(BPF_LDX | BPF_MEM, 3),                   /* X = 42 */
                BPF_STMT(BPF_LD | BPF_IMM, SECCOMP_RET_ERRNO),
                BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),            /* A = ERRNO|42 */
                BPF_STMT(BPF_RET | BPF_A, 0),
        };

        ASSERT_ERROR(seccomp_bpf_run(jump_out, ELEMENTSOF(jump_out), &d, &a), EINVAL);
        ASSERT_ERROR(seccomp_bpf_run(no_ret, ELEMENTSOF(no_ret), &d, &a), EINVAL);
        ASSERT_ERROR(seccomp_bpf_run(bad_load, ELEMENTSOF(bad_load), &d, &a), EINVAL);
        ASSERT_ERROR(seccomp_bpf_run(no_ret, 0, &d, &a), EINVAL);
        ASSERT_OK(seccomp_bpf_run(scratch, ELEMENTSOF(scratch), &d, &a));
        ASSERT_EQ(a, SECCOMP_RET_ERRNO | 42);
        /* no filters: allowed */
        ASSERT_OK(seccomp_filters_evaluate(NULL, &d, &a));
        ASSERT_EQ(a, SECCOMP_RET_ALLOW);
}

int main(void) {
        if (NATIVE_ARCH == 0)
                return EXIT_TEST_SKIP;
        test_allow_list();
        test_deny_list();
        test_arguments();
        test_stacked();
        test_invalid();
        return 0;
}
