/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* aarch64: "svc #0" (01 00 00 d4), number in x8, arguments x0-x5, result in x0. At the exit stop
 * the saved NT_PRSTATUS set goes back and NT_ARM_SYSTEM_CALL is set to -1, so the exit path does
 * not take the restored x0 for a syscall return. arm64 rewinds an interrupted syscall before the
 * stop (do_signal() runs before get_signal() and calls forget_syscall()), so restoring the
 * registers re-runs it from the start; the vdso's svc is used, never the one at the saved pc, where
 * setup_restart_syscall() would overwrite x8. 32-bit (compat)
 * tasks are not supported. Derived from the kernel and CRIU sources; not run on hardware here. */
#include <elf.h>
#include <errno.h>
#include <linux/audit.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include <asm/ptrace.h>

#include "inject-arch.h"

#ifndef NT_ARM_SYSTEM_CALL
#define NT_ARM_SYSTEM_CALL 0x404
#endif

_Static_assert(sizeof(struct user_pt_regs) <= INJECT_REGS_MAX, "register buffer");

static const uint8_t insn_svc[] = { 0x01, 0x00, 0x00, 0xd4 };

static const InjectAbi abis[] = {
        {
                .name = "aarch64",
                .audit_arch = AUDIT_ARCH_AARCH64,
                .insn = insn_svc,
                .insn_len = sizeof(insn_svc),
                .insn_align = 4,
                .vdso_elf64 = true,
                .nr = {
                        [INJECT_MLOCK] = 228,
                        [INJECT_MUNLOCK] = 229,
                        [INJECT_MLOCKALL] = 230,
                        [INJECT_MUNLOCKALL] = 231,
                        [INJECT_MLOCK2] = 284,
                        [INJECT_GETPID] = 172,
                },
        },
};

const InjectAbi *inject_arch_abis(size_t *ret_n) {
        *ret_n = 1;
        return abis;
}

int inject_arch_restore(pid_t tid, const InjectRegs *saved) {
        int syscallno = -1;
        struct iovec iov = { .iov_base = &syscallno, .iov_len = sizeof(syscallno) };
        int r;

        r = inject_regs_set(tid, saved);
        if (r < 0)
                return r;
        if (ptrace(PTRACE_SETREGSET, tid, (void *) NT_ARM_SYSTEM_CALL, &iov) < 0)
                return -errno;
        return 0;
}

int inject_arch_abi(const InjectRegs *regs, const InjectAbi **ret) {
        if (regs->size != sizeof(struct user_pt_regs))
                return -EOPNOTSUPP;     /* a compat (AArch32) task */
        *ret = &abis[0];
        return 0;
}

int inject_arch_setup_call(const InjectRegs *saved, const InjectAbi *abi, uint64_t insn_addr, long nr,
                           const uint64_t args[6], InjectRegs *ret) {
        struct user_pt_regs r;

        if (abi != &abis[0])
                return -EINVAL;
        *ret = *saved;
        memcpy(&r, ret->buf, sizeof(r));
        r.pc = insn_addr;
        r.regs[8] = (uint64_t) nr;
        for (size_t i = 0; i < 6; i++)
                r.regs[i] = args[i];
        memcpy(ret->buf, &r, sizeof(r));
        return 0;
}

long inject_arch_result(const InjectRegs *regs, const InjectAbi *abi) {
        struct user_pt_regs r;

        memcpy(&r, regs->buf, sizeof(r));
        return (long) r.regs[0];
}

int inject_arch_frame_build(pid_t tid, const InjectAbi *abi, const InjectRegs *saved, uint64_t sigmask,
                            uint64_t restorer, InjectFrame *ret) {
        return -EOPNOTSUPP;     /* calls here are covered by PTRACE_O_EXITKILL instead */
}

int inject_arch_frame_enter(InjectRegs *regs, const InjectAbi *abi, uint64_t frame_addr) {
        return -EOPNOTSUPP;
}
