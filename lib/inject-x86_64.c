/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* x86_64: native tasks run "syscall" (0f 05), ia32 compat tasks "int $0x80" (cd 80). The size of
 * the NT_PRSTATUS register set tells them apart (216 vs 68 bytes, as in CRIU). orig_rax = -1 keeps
 * the kernel from treating the injected call as one to restart: x86 rewinds in
 * arch_do_signal_or_restart(), after get_signal(), and only when syscall_get_nr() != -1. */
#include <elf.h>
#include <errno.h>
#include <linux/audit.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "inject-arch.h"

struct ia32_regs {
        uint32_t ebx, ecx, edx, esi, edi, ebp, eax;
        uint16_t ds, __ds, es, __es;
        uint16_t fs, __fs, gs, __gs;
        uint32_t orig_eax, eip;
        uint16_t cs, __cs;
        uint32_t eflags, esp;
        uint16_t ss, __ss;
};
_Static_assert(sizeof(struct ia32_regs) == 68, "ia32 register set");
_Static_assert(sizeof(struct user_regs_struct) == 216, "x86_64 register set");
_Static_assert(sizeof(struct user_regs_struct) <= INJECT_REGS_MAX, "register buffer");

static const uint8_t insn_syscall[] = { 0x0f, 0x05 };
static const uint8_t insn_int80[] = { 0xcd, 0x80 };

static const InjectAbi abis[] = {
        {
                .name = "x86_64",
                .audit_arch = AUDIT_ARCH_X86_64,
                .insn = insn_syscall,
                .insn_len = sizeof(insn_syscall),
                .insn_align = 1,
                .vdso_elf64 = true,
                .nr = {
                        [INJECT_MLOCK] = 149,
                        [INJECT_MUNLOCK] = 150,
                        [INJECT_MLOCKALL] = 151,
                        [INJECT_MUNLOCKALL] = 152,
                        [INJECT_MLOCK2] = 325,
                        [INJECT_GETPID] = 39,
                },
        },
        {
                .name = "i386",
                .audit_arch = AUDIT_ARCH_I386,
                .insn = insn_int80,
                .insn_len = sizeof(insn_int80),
                .insn_align = 1,
                .vdso_elf64 = false,
                .nr = {
                        [INJECT_MLOCK] = 150,
                        [INJECT_MUNLOCK] = 151,
                        [INJECT_MLOCKALL] = 152,
                        [INJECT_MUNLOCKALL] = 153,
                        [INJECT_MLOCK2] = 376,
                        [INJECT_GETPID] = 20,
                },
        },
};

const InjectAbi *inject_arch_abis(size_t *ret_n) {
        *ret_n = sizeof(abis) / sizeof(abis[0]);
        return abis;
}

int inject_arch_restore(pid_t tid, const InjectRegs *saved) {
        return inject_regs_set(tid, saved);
}

int inject_arch_abi(const InjectRegs *regs, const InjectAbi **ret) {
        if (regs->size == sizeof(struct user_regs_struct))
                *ret = &abis[0];
        else if (regs->size == sizeof(struct ia32_regs))
                *ret = &abis[1];
        else
                return -EOPNOTSUPP;
        return 0;
}

int inject_arch_setup_call(const InjectRegs *saved, const InjectAbi *abi, uint64_t insn_addr, long nr,
                           const uint64_t args[6], InjectRegs *ret) {
        *ret = *saved;

        if (abi == &abis[0]) {
                struct user_regs_struct u, *r = &u;

                memcpy(r, ret->buf, sizeof(*r));
                r->rip = insn_addr;
                r->rax = (uint64_t) nr;
                r->orig_rax = (uint64_t) -1;
                r->rdi = args[0];
                r->rsi = args[1];
                r->rdx = args[2];
                r->r10 = args[3];
                r->r8 = args[4];
                r->r9 = args[5];
                memcpy(ret->buf, r, sizeof(*r));
        } else if (abi == &abis[1]) {
                struct ia32_regs u, *r = &u;

                memcpy(r, ret->buf, sizeof(*r));
                if (insn_addr > UINT32_MAX)
                        return -EINVAL;
                for (size_t i = 0; i < 6; i++)
                        if (args[i] > UINT32_MAX)
                                return -EOVERFLOW;
                r->eip = (uint32_t) insn_addr;
                r->eax = (uint32_t) nr;
                r->orig_eax = (uint32_t) -1;
                r->ebx = (uint32_t) args[0];
                r->ecx = (uint32_t) args[1];
                r->edx = (uint32_t) args[2];
                r->esi = (uint32_t) args[3];
                r->edi = (uint32_t) args[4];
                r->ebp = (uint32_t) args[5];
                memcpy(ret->buf, r, sizeof(*r));
        } else
                return -EINVAL;
        return 0;
}

long inject_arch_result(const InjectRegs *regs, const InjectAbi *abi) {
        if (abi == &abis[1]) {
                struct ia32_regs r;

                memcpy(&r, regs->buf, sizeof(r));
                return (long) (int32_t) r.eax;
        } else {
                struct user_regs_struct r;

                memcpy(&r, regs->buf, sizeof(r));
                return (long) r.rax;
        }
}
