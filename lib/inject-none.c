/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Architectures without an injection backend: everything reports -EOPNOTSUPP. */
#include <errno.h>

#include "inject-arch.h"

const InjectAbi *inject_arch_abis(size_t *ret_n) {
        *ret_n = 0;
        return NULL;
}

int inject_arch_abi(const InjectRegs *regs, const InjectAbi **ret) {
        return -EOPNOTSUPP;
}

int inject_arch_setup_call(const InjectRegs *saved, const InjectAbi *abi, uint64_t insn_addr, long nr,
                           const uint64_t args[6], InjectRegs *ret) {
        return -EOPNOTSUPP;
}

int inject_arch_restore(pid_t tid, const InjectRegs *saved) {
        return -EOPNOTSUPP;
}

long inject_arch_result(const InjectRegs *regs, const InjectAbi *abi) {
        return -EOPNOTSUPP;
}

int inject_arch_frame_build(pid_t tid, const InjectAbi *abi, const InjectRegs *saved, uint64_t sigmask,
                            uint64_t restorer, InjectFrame *ret) {
        return -EOPNOTSUPP;     /* calls here are covered by PTRACE_O_EXITKILL instead */
}

int inject_arch_frame_enter(InjectRegs *regs, const InjectAbi *abi, uint64_t frame_addr) {
        return -EOPNOTSUPP;
}
