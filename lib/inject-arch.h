/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the injection engine needs from an architecture: the register set as the kernel hands it
 * out (PTRACE_GETREGSET NT_PRSTATUS), the ABIs a task may run in, and how to turn saved registers
 * into "execute syscall NR with these arguments at that instruction". One of inject-x86_64.c,
 * inject-aarch64.c, inject-none.c is built. */

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "inject.h"

#define INJECT_REGS_MAX 512

typedef struct InjectRegs {
        size_t size;                    /* as returned by GETREGSET: tells the ABI on x86_64 */
        uint64_t buf[INJECT_REGS_MAX / sizeof(uint64_t)];
} InjectRegs;

typedef struct InjectAbi {
        const char *name;
        uint32_t audit_arch;            /* seccomp_data.arch */
        const uint8_t *insn;            /* the syscall instruction */
        size_t insn_len;
        size_t insn_align;              /* where the instruction may start */
        bool vdso_elf64;                /* the ELF class of this ABI's vdso */
        long nr[_INJECT_CALL_MAX];      /* syscall numbers */

        /* Self-restoring calls (inject.c); NULL where the ABI has none. */
        const uint8_t *insn_ret;        /* the syscall instruction, then a return: "syscall; ret" */
        size_t insn_ret_len;
        const uint8_t *restorer;        /* what a libc's sa_restorer holds: rt_sigreturn */
        size_t restorer_len;
        long nr_sigreturn;
} InjectAbi;

/* A signal frame for the target's stack: rt_sigreturn from it gives back the saved state. */
typedef struct InjectFrame {
        uint64_t addr;                  /* where buf goes; the stack pointer for the call */
        size_t size;
        uint64_t sp;                    /* the saved stack pointer, above it */
        uint8_t *buf;                   /* malloc'd */
} InjectFrame;

/* The general registers, NT_PRSTATUS: the same request on every architecture. */
static inline int inject_regs_get(pid_t tid, InjectRegs *ret) {
        struct iovec iov = { .iov_base = ret->buf, .iov_len = sizeof(ret->buf) };

        if (ptrace(PTRACE_GETREGSET, tid, (void *) NT_PRSTATUS, &iov) < 0)
                return -errno;
        ret->size = iov.iov_len;
        return 0;
}

static inline int inject_regs_set(pid_t tid, const InjectRegs *regs) {
        struct iovec iov = { .iov_base = (void *) regs->buf, .iov_len = regs->size };

        if (ptrace(PTRACE_SETREGSET, tid, (void *) NT_PRSTATUS, &iov) < 0)
                return -errno;
        return 0;
}

/* All ABIs of this architecture; none on unsupported ones. */
const InjectAbi *inject_arch_abis(size_t *ret_n);

/* The ABI of a task from its registers; -EOPNOTSUPP for one we cannot inject into. */
int inject_arch_abi(const InjectRegs *regs, const InjectAbi **ret);
/* Registers that execute nr(args) at insn_addr, derived from the saved ones. */
int inject_arch_setup_call(const InjectRegs *saved, const InjectAbi *abi, uint64_t insn_addr, long nr,
                           const uint64_t args[6], InjectRegs *ret);
/* Put back the saved registers at the syscall-exit stop, so the kernel's own restart logic applies
 * to them when the tracee returns to user space. */
int inject_arch_restore(pid_t tid, const InjectRegs *saved);
/* The syscall's return value (sign-extended for 32-bit ABIs). */
long inject_arch_result(const InjectRegs *regs, const InjectAbi *abi);

/* The frame for thread tid, stopped with the registers and signal mask saved: the saved registers
 * as the kernel would resume them (an interrupted syscall rewound to restart, or made to return
 * EINTR where the restart needs state rt_sigreturn clears), the mask, and the FPU/xstate read from
 * the thread now. Its first word is the return address, restorer: "syscall; ret" returns there,
 * and rt_sigreturn finds the frame just above. It sits below the red zone under the saved stack
 * pointer. -EOPNOTSUPP where the ABI has none, or the thread's state cannot be put in one. */
int inject_arch_frame_build(pid_t tid, const InjectAbi *abi, const InjectRegs *saved, uint64_t sigmask,
                            uint64_t restorer, InjectFrame *ret);
/* Registers from inject_arch_setup_call, made to run with the stack pointer at frame_addr. */
int inject_arch_frame_enter(InjectRegs *regs, const InjectAbi *abi, uint64_t frame_addr);
