/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Would a thread's seccomp filters let a given syscall through? The filters are fetched with
 * PTRACE_SECCOMP_GET_FILTER from a ptrace-stopped thread (needs CAP_SYS_ADMIN and a tracer that is
 * itself under no filter) and run in a classic-BPF interpreter on the exact seccomp_data of the
 * planned call. Like the kernel, the most restrictive action of all filters wins; only ALLOW and
 * LOG let a call be made. */

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct SeccompFilter {
        struct sock_filter *insns;
        size_t n;
} SeccompFilter;

typedef struct SeccompFilters {
        SeccompFilter *filters;         /* [0] is the newest, as the kernel hands them out */
        size_t n;
} SeccompFilters;

/* Run one classic-BPF program. -EINVAL for a program the kernel would not have accepted
 * (bad opcode, jump out of range, no return, more than BPF_MAXINSNS). */
int seccomp_bpf_run(const struct sock_filter *insns, size_t n, const struct seccomp_data *d,
                    uint32_t *ret_action);

/* The combined action of all filters (the most restrictive); ALLOW when there are none. */
int seccomp_filters_evaluate(const SeccompFilters *f, const struct seccomp_data *d, uint32_t *ret_action);

/* Fetch every filter of a ptrace-stopped thread we trace. -EACCES: not permitted (no
 * CAP_SYS_ADMIN, or we are filtered ourselves); -EMEDIUMTYPE: an eBPF filter; -ENOTSUP/-EIO: the
 * kernel lacks CONFIG_CHECKPOINT_RESTORE. */
int seccomp_filters_get(pid_t tid, SeccompFilters **ret);
SeccompFilters *seccomp_filters_free(SeccompFilters *f);
static inline void seccomp_filters_freep(SeccompFilters **f) {
        if (*f)
                seccomp_filters_free(*f);
}

/* Build filters from programs, for tests and for callers that got them another way. */
int seccomp_filters_add(SeccompFilters **f, const struct sock_filter *insns, size_t n);

/* SECCOMP_RET_ACTION_FULL part of an action, named: "allow", "log", "kill_process", "errno", ... */
const char *seccomp_action_to_string(uint32_t action);
bool seccomp_action_allows(uint32_t action);
/* Whether a is more restrictive than b (the kernel's precedence). */
bool seccomp_action_more_restrictive(uint32_t a, uint32_t b);
