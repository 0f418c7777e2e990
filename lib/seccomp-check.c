/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "macro.h"
#include "seccomp-check.h"

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif
#ifndef SECCOMP_RET_ACTION_FULL
#define SECCOMP_RET_ACTION_FULL 0xffff0000U
#endif

#define BPF_MEMWORDS_SECCOMP 16

/* Load a 32-bit word of seccomp_data at offset k, as the kernel's seccomp_check_filter() allows:
 * aligned, inside the struct. */
static int load_data(const struct seccomp_data *d, uint32_t k, uint32_t *ret) {
        if (k % 4 != 0 || k > sizeof(*d) - 4)
                return -EINVAL;
        memcpy(ret, (const uint8_t *) d + k, sizeof(*ret));
        return 0;
}

/* The kernel's static checks (bpf_check_classic): every jump target inside the program, both
 * branches, and a return as the last instruction. */
static int bpf_validate(const struct sock_filter *insns, size_t n) {
        for (size_t pc = 0; pc < n; pc++) {
                const struct sock_filter *f = &insns[pc];

                if (BPF_CLASS(f->code) != BPF_JMP)
                        continue;
                if (BPF_OP(f->code) == BPF_JA) {
                        if (f->k >= n - pc - 1)
                                return -EINVAL;
                } else if (f->jt >= n - pc - 1 || f->jf >= n - pc - 1)
                        return -EINVAL;
        }
        return BPF_CLASS(insns[n - 1].code) == BPF_RET ? 0 : -EINVAL;
}

int seccomp_bpf_run(const struct sock_filter *insns, size_t n, const struct seccomp_data *d,
                    uint32_t *ret_action) {
        uint32_t a = 0, x = 0, mem[BPF_MEMWORDS_SECCOMP] = {};
        size_t pc = 0;
        int r;

        if (!insns || !d || !ret_action || n == 0 || n > BPF_MAXINSNS)
                return -EINVAL;
        r = bpf_validate(insns, n);
        if (r < 0)
                return r;

        /* Jumps only go forward, so this loop ends within n steps. */
        while (pc < n) {
                const struct sock_filter *f = &insns[pc++];
                uint32_t src, off;

                switch (BPF_CLASS(f->code)) {
                case BPF_LD:
                        if (f->code == (BPF_LD | BPF_W | BPF_ABS)) {
                                r = load_data(d, f->k, &a);
                                if (r < 0)
                                        return r;
                        } else if (f->code == (BPF_LD | BPF_W | BPF_LEN))
                                a = sizeof(*d);
                        else if (f->code == (BPF_LD | BPF_IMM))
                                a = f->k;
                        else if (f->code == (BPF_LD | BPF_MEM) && f->k < BPF_MEMWORDS_SECCOMP)
                                a = mem[f->k];
                        else
                                return -EINVAL;
                        break;
                case BPF_LDX:
                        if (f->code == (BPF_LDX | BPF_W | BPF_LEN))
                                x = sizeof(*d);
                        else if (f->code == (BPF_LDX | BPF_IMM))
                                x = f->k;
                        else if (f->code == (BPF_LDX | BPF_MEM) && f->k < BPF_MEMWORDS_SECCOMP)
                                x = mem[f->k];
                        else
                                return -EINVAL;
                        break;
                case BPF_ST:
                        if (f->code != BPF_ST || f->k >= BPF_MEMWORDS_SECCOMP)
                                return -EINVAL;
                        mem[f->k] = a;
                        break;
                case BPF_STX:
                        if (f->code != BPF_STX || f->k >= BPF_MEMWORDS_SECCOMP)
                                return -EINVAL;
                        mem[f->k] = x;
                        break;
                case BPF_ALU:
                        src = BPF_SRC(f->code) == BPF_X ? x : f->k;
                        switch (BPF_OP(f->code)) {
                        case BPF_ADD: a += src; break;
                        case BPF_SUB: a -= src; break;
                        case BPF_MUL: a *= src; break;
                        case BPF_DIV:
                                if (src == 0) { /* the kernel's filter returns 0: KILL_THREAD */
                                        *ret_action = 0;
                                        return 0;
                                }
                                a /= src;
                                break;
                        case BPF_MOD:
                                if (src == 0) {
                                        *ret_action = 0;
                                        return 0;
                                }
                                a %= src;
                                break;
                        case BPF_AND: a &= src; break;
                        case BPF_OR: a |= src; break;
                        case BPF_XOR: a ^= src; break;
                        case BPF_LSH: a = src >= 32 ? 0 : a << src; break;
                        case BPF_RSH: a = src >= 32 ? 0 : a >> src; break;
                        case BPF_NEG: a = -a; break;
                        default: return -EINVAL;
                        }
                        break;
                case BPF_JMP:
                        if (BPF_OP(f->code) == BPF_JA) {
                                if (f->k >= n - pc)
                                        return -EINVAL;
                                pc += f->k;
                                break;
                        }
                        src = BPF_SRC(f->code) == BPF_X ? x : f->k;
                        switch (BPF_OP(f->code)) {
                        case BPF_JEQ: off = a == src ? f->jt : f->jf; break;
                        case BPF_JGT: off = a > src ? f->jt : f->jf; break;
                        case BPF_JGE: off = a >= src ? f->jt : f->jf; break;
                        case BPF_JSET: off = (a & src) ? f->jt : f->jf; break;
                        default: return -EINVAL;
                        }
                        if (off >= n - pc)
                                return -EINVAL;
                        pc += off;
                        break;
                case BPF_RET:
                        if (BPF_RVAL(f->code) == BPF_K)
                                *ret_action = f->k;
                        else if (BPF_RVAL(f->code) == BPF_A)
                                *ret_action = a;
                        else
                                return -EINVAL;
                        return 0;
                case BPF_MISC:
                        if (BPF_MISCOP(f->code) == BPF_TAX)
                                x = a;
                        else if (BPF_MISCOP(f->code) == BPF_TXA)
                                a = x;
                        else
                                return -EINVAL;
                        break;
                default:
                        return -EINVAL;
                }
        }

        return -EINVAL; /* fell off the end: the kernel rejects such a program */
}

/* The kernel compares actions as signed 32-bit values: lower is more restrictive
 * (KILL_PROCESS 0x80000000 < KILL_THREAD 0 < TRAP < ERRNO < USER_NOTIF < TRACE < LOG < ALLOW). */
bool seccomp_action_more_restrictive(uint32_t a, uint32_t b) {
        return (int32_t) (a & SECCOMP_RET_ACTION_FULL) < (int32_t) (b & SECCOMP_RET_ACTION_FULL);
}

int seccomp_filters_evaluate(const SeccompFilters *f, const struct seccomp_data *d, uint32_t *ret_action) {
        uint32_t result = SECCOMP_RET_ALLOW;
        int r;

        if (!d || !ret_action)
                return -EINVAL;

        for (size_t i = 0; f && i < f->n; i++) {
                uint32_t action;

                r = seccomp_bpf_run(f->filters[i].insns, f->filters[i].n, d, &action);
                if (r < 0)
                        return r;
                if (seccomp_action_more_restrictive(action, result))
                        result = action;
        }

        *ret_action = result;
        return 0;
}

const char *seccomp_action_to_string(uint32_t action) {
        switch (action & SECCOMP_RET_ACTION_FULL) {
        case SECCOMP_RET_KILL_PROCESS: return "kill_process";
        case SECCOMP_RET_KILL_THREAD: return "kill_thread";
        case SECCOMP_RET_TRAP: return "trap";
        case SECCOMP_RET_ERRNO: return "errno";
        case SECCOMP_RET_USER_NOTIF: return "user_notif";
        case SECCOMP_RET_TRACE: return "trace";
        case SECCOMP_RET_LOG: return "log";
        case SECCOMP_RET_ALLOW: return "allow";
        default: return "unknown"; /* the kernel treats it as kill_process */
        }
}

bool seccomp_action_allows(uint32_t action) {
        action &= SECCOMP_RET_ACTION_FULL;
        return action == SECCOMP_RET_ALLOW || action == SECCOMP_RET_LOG;
}

SeccompFilters *seccomp_filters_free(SeccompFilters *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n; i++)
                free(f->filters[i].insns);
        free(f->filters);
        free(f);
        return NULL;
}

static int filters_append(SeccompFilters *f, struct sock_filter *insns, size_t n) {
        SeccompFilter *p;

        p = reallocarray(f->filters, f->n + 1, sizeof(SeccompFilter));
        if (!p)
                return -ENOMEM;
        f->filters = p;
        f->filters[f->n++] = (SeccompFilter) { .insns = insns, .n = n };
        return 0;
}

int seccomp_filters_add(SeccompFilters **f, const struct sock_filter *insns, size_t n) {
        _cleanup_free_ struct sock_filter *copy = NULL;
        int r;

        if (!f || !insns || n == 0 || n > BPF_MAXINSNS)
                return -EINVAL;
        if (!*f) {
                *f = calloc(1, sizeof(SeccompFilters));
                if (!*f)
                        return -ENOMEM;
        }
        copy = reallocarray(NULL, n, sizeof(struct sock_filter));
        if (!copy)
                return -ENOMEM;
        memcpy(copy, insns, n * sizeof(struct sock_filter));
        r = filters_append(*f, copy, n);
        if (r < 0)
                return r;
        TAKE_PTR(copy);
        return 0;
}

int seccomp_filters_get(pid_t tid, SeccompFilters **ret) {
        _cleanup_(seccomp_filters_freep) SeccompFilters *f = NULL;
        int r;

        if (tid <= 0 || !ret)
                return -EINVAL;
        f = calloc(1, sizeof(SeccompFilters));
        if (!f)
                return -ENOMEM;

        for (unsigned long i = 0;; i++) {
                _cleanup_free_ struct sock_filter *insns = NULL;
                long n, m;

                n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *) i, NULL);
                if (n < 0) {
                        if (errno == ENOENT)
                                break;          /* past the oldest filter */
                        return -errno;
                }
                if (n == 0 || n > BPF_MAXINSNS)
                        return -EBADMSG;
                insns = reallocarray(NULL, (size_t) n, sizeof(struct sock_filter));
                if (!insns)
                        return -ENOMEM;
                m = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *) i, insns);
                if (m < 0)
                        return -errno;
                if (m != n)
                        return -EBADMSG;
                r = filters_append(f, insns, (size_t) n);
                if (r < 0)
                        return r;
                TAKE_PTR(insns);
                if (i > 1024)
                        return -E2BIG;
        }

        *ret = TAKE_PTR(f);
        return 0;
}
