/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parsers for /proc/PID files. proc_root is "/proc" or a fixture directory laid out the same way.
 * Every read is bounded; odd content is -EINVAL (or -EBADMSG when a required field is missing),
 * a vanished process -ENOENT/-ESRCH. ret_* are written only on success. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ProcStat {
        pid_t pid;
        char state;
        pid_t ppid;
        unsigned flags;         /* PF_* */
        unsigned threads;       /* field 20, num_threads */
        uint64_t starttime;     /* field 22, clock ticks after boot */
        int processor;          /* field 39, the CPU it runs or waits on (-1: not given) */
        char *comm;             /* between the parentheses; may hold spaces and ')' */
} ProcStat;

int procfs_read_stat(const char *proc_root, pid_t pid, ProcStat *ret); /* caller frees ret->comm */
void proc_stat_done(ProcStat *s);
bool proc_stat_is_kernel_thread(const ProcStat *s); /* PF_KTHREAD */

typedef struct ProcStatus {
        char state;
        pid_t tgid;
        pid_t ppid;
        pid_t tracer_pid;
        uid_t uid_real, uid_effective;
        gid_t gid_real, gid_effective;
        int seccomp;            /* 0 none, 1 strict, 2 filter; -1 unknown */
        unsigned seccomp_filters;
        uint64_t vm_lck;        /* bytes */
        uint64_t vm_size;       /* bytes; 0 without the line (a kernel thread) */
        uint64_t cap_eff;
        unsigned threads;
} ProcStatus;

/* /proc/PID/task/TID/schedstat (tid 0: the process's main thread); -ENOENT without
 * CONFIG_SCHED_INFO. The run time of a thread on a CPU now is brought up to date only at a tick or
 * a switch (up to 1/HZ behind); its timeslices count at once, when it is switched in. */
typedef struct ProcSchedstat {
        uint64_t runtime;       /* ns on a CPU */
        uint64_t run_delay;     /* ns waiting for one, runnable */
        uint64_t timeslices;    /* times switched in */
} ProcSchedstat;
int procfs_read_schedstat(const char *proc_root, pid_t pid, pid_t tid, ProcSchedstat *ret);

/* tid 0: the process's own status; else /proc/PID/task/TID/status */
int procfs_read_status(const char *proc_root, pid_t pid, pid_t tid, ProcStatus *ret);
/* readlink of /proc/PID/exe; strips " (deleted)" */
int procfs_read_exe(const char *proc_root, pid_t pid, char **ret);
/* /proc/PID/limits "Max locked memory", in bytes; "unlimited" is UINT64_MAX */
int procfs_read_memlock_limit(const char *proc_root, pid_t pid, uint64_t *ret_soft, uint64_t *ret_hard);
/* A process's mm counters from /proc/PID/status, in bytes: VmSize (total_vm: a new, grown or gone
 * mapping moves it) and VmLck (locked_vm: an munlock, or an unmap of locked memory, moves it). The
 * cheap change signal of an accounting tick: a target neither of whose counters moved has nothing
 * to re-read. */
typedef struct ProcMmCounters {
        uint64_t vm_size;
        uint64_t vm_lck;
} ProcMmCounters;

/* Parse both out of status text (n bytes, need not be NUL-terminated). -ENODATA when either line
 * is missing (a kernel thread), -EINVAL when one is malformed. */
int procfs_parse_mm_counters(const char *buf, size_t n, ProcMmCounters *ret);
/* Open /proc/PID/status to be sampled again and again: the kernel makes the text afresh on every
 * read from offset 0, and the descriptor stays bound to that process (reads fail with -ESRCH once
 * it is gone; a reused pid is another file). */
int procfs_open_status(const char *proc_root, pid_t pid, int *ret_fd);
/* One pread at offset 0 into a stack buffer, parsed. */
int procfs_sample_mm_counters(int fd, ProcMmCounters *ret);
/* VmSize alone, from /proc/PID/statm (its first field, in pages), the same way: the kernel makes
 * statm from a few counters, where status is formatted whole (signal masks, CPU lists) on every
 * read, several times the cost. statm has no locked figure. */
int procfs_open_statm(const char *proc_root, pid_t pid, int *ret_fd);
int procfs_sample_vm_size(int fd, uint64_t *ret);
/* The size field of statm text (n bytes, need not be NUL-terminated) in bytes. -ENODATA when
 * empty (a process gone between open and read), -EINVAL when malformed. */
int procfs_parse_statm_size(const char *buf, size_t n, uint64_t page_size, uint64_t *ret);
/* The thread ids of pid, from /proc/PID/task, in ascending order. */
int procfs_list_threads(const char *proc_root, pid_t pid, pid_t **ret, size_t *ret_n);
/* 1 when every thread of pid is in uninterruptible sleep (State: D: a vfork parent, a read of a
 * hung network file), 0 when one is not, -ESRCH when it is gone. Such a process cannot be stopped
 * until a thread wakes, which may be never. A process of one thread is answered from its stat. */
int procfs_uninterruptible(const char *proc_root, pid_t pid);

/* The pidfs inode of a pidfd: it names one process for as long as the system runs. -EOPNOTSUPP
 * where pidfds are anonymous inodes (before Linux 6.9: they all share one, so it names nothing). */
int pidfd_pidfs_inode(int pidfd, uint64_t *ret);
/* The pid a pidfd refers to, in our pid namespace: PIDFD_GET_INFO where the kernel has it (6.13),
 * else the "Pid:" line of its fdinfo. -ESRCH when the process is gone or not in our namespace,
 * -EBADF when fd is no pidfd. */
int pidfd_get_pid(int pidfd, pid_t *ret);
