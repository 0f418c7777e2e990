/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* x86_64: native tasks run "syscall" (0f 05), ia32 compat tasks "int $0x80" (cd 80). The size of
 * the NT_PRSTATUS register set tells them apart (216 vs 68 bytes, as in CRIU). orig_rax = -1 keeps
 * the kernel from treating the injected call as one to restart: x86 rewinds in
 * arch_do_signal_or_restart(), after get_signal(), and only when syscall_get_nr() != -1. */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <linux/audit.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "inject-arch.h"
#include "macro.h"

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
static const uint8_t insn_syscall_ret[] = { 0x0f, 0x05, 0xc3 };
/* mov $15,%rax; syscall: __restore_rt of glibc and musl */
static const uint8_t insn_restorer[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };

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
                .insn_ret = insn_syscall_ret,
                .insn_ret_len = sizeof(insn_syscall_ret),
                .restorer = insn_restorer,
                .restorer_len = sizeof(insn_restorer),
                .nr_sigreturn = 15,
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

/* ---- self-restoring calls: the kernel's 64-bit rt_sigframe ---------------------------------- */

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif
#ifndef NT_X86_SHSTK
#define NT_X86_SHSTK 0x204
#endif

#define RED_ZONE 128
#define XSTATE_READ_MAX (32U * 1024U)
#define FXSAVE_SIZE 512U
#define XSAVE_HDR_SIZE 64U
#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_XSTATE_MAGIC2 0x46505845U
#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
#define XFEATURES_DYNAMIC (UINT64_C(1) << 18)  /* XTILEDATA: enabled per task (arch_prctl) */

/* arch/x86/include/uapi/asm/sigcontext.h, struct sigcontext (64-bit) */
struct frame_sigcontext {
        uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
        uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
        uint16_t cs, gs, fs, ss;
        uint64_t err, trapno, oldmask, cr2;
        uint64_t fpstate;
        uint64_t reserved1[8];
};

struct frame_stack {
        uint64_t ss_sp;
        int32_t ss_flags;
        uint32_t pad;
        uint64_t ss_size;
};

/* arch/x86/include/asm/sigframe.h, struct rt_sigframe; the kernel's ucontext has an 8-byte mask */
struct rt_sigframe64 {
        uint64_t pretcode;
        uint64_t uc_flags;
        uint64_t uc_link;
        struct frame_stack uc_stack;
        struct frame_sigcontext uc_mcontext;
        uint64_t uc_sigmask;
        uint8_t info[128];
};
_Static_assert(sizeof(struct frame_sigcontext) == 256, "struct sigcontext");
_Static_assert(sizeof(struct rt_sigframe64) == 440, "struct rt_sigframe");

/* struct _fpx_sw_bytes, in the unused tail of the legacy FXSAVE area */
struct fpx_sw_bytes {
        uint32_t magic1;
        uint32_t extended_size;
        uint64_t xfeatures;
        uint32_t xstate_size;
        uint32_t padding[7];
};
_Static_assert(sizeof(struct fpx_sw_bytes) == 48, "struct _fpx_sw_bytes");

/* CPUID leaf 0xd, sub-leaf i (i >= 2): a user component's size (eax) and offset (ebx) in the
 * standard format. Constant while the machine runs, and CPUID is a VM exit under a hypervisor (it
 * was 14% of the injector's CPU with 2,000 processes locked at once): each sub-leaf is asked once
 * per process, the only state kept outside the callers' structs. */
static bool xstate_component(unsigned i, unsigned *ret_size, unsigned *ret_offset) {
        static uint64_t asked, valid;
        static unsigned sizes[64], offsets[64];
        const uint64_t bit = UINT64_C(1) << i;

        if (!(asked & bit)) {
                unsigned eax, ebx, ecx, edx;

                if (__get_cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx) && eax != 0 && ebx != 0) {
                        sizes[i] = eax;
                        offsets[i] = ebx;
                        valid |= bit;
                }
                asked |= bit;
        }
        if (!(valid & bit))
                return false;   /* unknown, or a supervisor component: never in a user image */
        *ret_size = sizes[i];
        *ret_offset = offsets[i];
        return true;
}

/* The size of a standard-format XSAVE image holding the components in xfeatures: up to the end of
 * the highest one (CPUID leaf 0xd). The kernel refuses an image larger than the task's own, which
 * is smaller than the regset when a dynamically enabled component (AMX) is not enabled for it. */
static size_t xstate_size_for(uint64_t xfeatures) {
        size_t size = FXSAVE_SIZE + XSAVE_HDR_SIZE;

        for (unsigned i = 2; i < 64; i++) {
                unsigned csize, offset;

                if (!(xfeatures & (UINT64_C(1) << i)))
                        continue;
                if (!xstate_component(i, &csize, &offset))
                        return 0;
                size = size > (size_t) offset + csize ? size : (size_t) offset + csize;
        }
        return size;
}

/* The registers the thread would resume with if we detached now: what arch_do_signal_or_restart()
 * does to an interrupted syscall when no handler runs. rt_sigreturn sets orig_rax to -1 (no restart
 * after it) and points restart_block at do_no_restart_syscall, so ERESTART_RESTARTBLOCK becomes
 * the EINTR a handler would have given (a relative sleep has written its remaining time). */
static void resume_regs(struct user_regs_struct *r) {
        if ((int64_t) r->orig_rax < 0)
                return;
        switch ((int64_t) r->rax) {
        case -512: /* ERESTARTSYS */
        case -513: /* ERESTARTNOINTR */
        case -514: /* ERESTARTNOHAND */
                r->rax = r->orig_rax;
                r->rip -= 2;
                break;
        case -516: /* ERESTART_RESTARTBLOCK */
                r->rax = (uint64_t) -EINTR;
                break;
        }
}

int inject_arch_frame_build(pid_t tid, const InjectAbi *abi, const InjectRegs *saved, uint64_t sigmask,
                            uint64_t restorer, InjectFrame *ret) {
        _cleanup_free_ uint8_t *xstate = NULL, *buf = NULL;
        struct iovec iov;
        struct user_regs_struct u;
        struct rt_sigframe64 f = {};
        struct fpx_sw_bytes sw;
        uint64_t shstk[3], xfeatures, fp_addr, frame_addr, top;
        uint32_t magic2 = FP_XSTATE_MAGIC2;
        size_t xsize, size;

        if (abi != &abis[0] || saved->size != sizeof(u) || !ret)
                return -EOPNOTSUPP;
        memcpy(&u, saved->buf, sizeof(u));

        /* A shadow stack would refuse both the "ret" and a frame without its restore token. */
        iov = (struct iovec) { .iov_base = shstk, .iov_len = sizeof(shstk) };
        if (ptrace(PTRACE_GETREGSET, tid, (void *) NT_X86_SHSTK, &iov) == 0)
                return -EOPNOTSUPP;

        /* The FPU and extended state, exactly: a frame without it would reset them. */
        xstate = malloc(XSTATE_READ_MAX);
        if (!xstate)
                return -ENOMEM;
        iov = (struct iovec) { .iov_base = xstate, .iov_len = XSTATE_READ_MAX };
        if (ptrace(PTRACE_GETREGSET, tid, (void *) NT_X86_XSTATE, &iov) < 0)
                return errno == ESRCH ? -ESRCH : -EOPNOTSUPP;
        if (iov.iov_len < FXSAVE_SIZE + XSAVE_HDR_SIZE)
                return -EOPNOTSUPP;
        memcpy(&xfeatures, xstate + FXSAVE_SIZE, sizeof(xfeatures));       /* XSTATE_BV */
        xfeatures |= 0x3;                                                   /* x87, SSE */
        memcpy(&sw, xstate + 464, sizeof(sw));                              /* the kernel's, if any */
        if (sw.magic1 == FP_XSTATE_MAGIC1 && !(sw.xfeatures & XFEATURES_DYNAMIC) && sw.xstate_size == iov.iov_len)
                xsize = iov.iov_len;    /* every task's image is the regset's: no CPUID (a VM exit) */
        else
                xsize = xstate_size_for(xfeatures);
        if (xsize == 0 || xsize > iov.iov_len)
                return -EOPNOTSUPP;
        sw = (struct fpx_sw_bytes) {
                .magic1 = FP_XSTATE_MAGIC1,
                .extended_size = (uint32_t) (xsize + sizeof(magic2)),
                .xfeatures = xfeatures,
                .xstate_size = (uint32_t) xsize,
        };
        memcpy(xstate + 464, &sw, sizeof(sw));

        /* Below the red zone, the xstate 64-byte aligned for XRSTOR, the frame under it. */
        if (u.rsp < 64 * 1024)
                return -EOPNOTSUPP;
        top = u.rsp - RED_ZONE;
        fp_addr = (top - xsize - sizeof(magic2)) & ~UINT64_C(63);
        frame_addr = (fp_addr - sizeof(f)) & ~UINT64_C(15);
        size = (size_t) (fp_addr + xsize + sizeof(magic2) - frame_addr);

        resume_regs(&u);
        f.pretcode = restorer;
        f.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
        /* rt_sigreturn also restores the alternate stack from here, ignoring any error: an invalid
         * mode (SS_ONSTACK|SS_DISABLE) makes it EINVAL, so the thread's own stays as it is */
        f.uc_stack.ss_flags = 3;
        f.uc_mcontext = (struct frame_sigcontext) {
                .r8 = u.r8, .r9 = u.r9, .r10 = u.r10, .r11 = u.r11,
                .r12 = u.r12, .r13 = u.r13, .r14 = u.r14, .r15 = u.r15,
                .rdi = u.rdi, .rsi = u.rsi, .rbp = u.rbp, .rbx = u.rbx,
                .rdx = u.rdx, .rax = u.rax, .rcx = u.rcx, .rsp = u.rsp,
                .rip = u.rip, .eflags = u.eflags,
                .cs = (uint16_t) u.cs, .ss = (uint16_t) u.ss,
                .oldmask = sigmask,
                .fpstate = fp_addr,
        };
        f.uc_sigmask = sigmask;

        buf = calloc(1, size);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, &f, sizeof(f));
        memcpy(buf + (fp_addr - frame_addr), xstate, xsize);
        memcpy(buf + (fp_addr - frame_addr) + xsize, &magic2, sizeof(magic2));

        *ret = (InjectFrame) { .addr = frame_addr, .size = size, .sp = u.rsp, .buf = TAKE_PTR(buf) };
        return 0;
}

int inject_arch_frame_enter(InjectRegs *regs, const InjectAbi *abi, uint64_t frame_addr) {
        struct user_regs_struct u;

        if (abi != &abis[0] || regs->size != sizeof(u))
                return -EOPNOTSUPP;
        memcpy(&u, regs->buf, sizeof(u));
        u.rsp = frame_addr;
        memcpy(regs->buf, &u, sizeof(u));
        return 0;
}
