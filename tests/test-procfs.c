/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* procfs parsers on fixtures (tests/data/procfs) and on this very process. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "procfs.h"
#include "tests.h"

static char root[PATH_MAX + 16];

static void test_stat(void) {
        ProcStat s = {};

        ASSERT_OK(procfs_read_stat(root, 1234, &s));
        ASSERT_EQ(s.pid, 1234);
        ASSERT_STREQ(s.comm, "a) b (c");
        ASSERT_EQ(s.state, 'S');
        ASSERT_EQ(s.ppid, 1);
        ASSERT_EQ(s.flags, 4194560);
        ASSERT_EQ(s.threads, 2u);
        ASSERT_EQ_U64(s.starttime, 63842);
        ASSERT_EQ(s.processor, 1);
        ASSERT_FALSE(proc_stat_is_kernel_thread(&s));
        proc_stat_done(&s);
        ASSERT_NULL(s.comm);

        ASSERT_OK(procfs_read_stat(root, 2, &s));
        ASSERT_STREQ(s.comm, "kthreadd");
        ASSERT_EQ(s.ppid, 0);
        ASSERT_EQ(s.threads, 1u);
        ASSERT_TRUE(proc_stat_is_kernel_thread(&s));
        proc_stat_done(&s);

        /* truncated, junk, absent; the pid in the file must match */
        ASSERT_ERROR(procfs_read_stat(root, 77, &s), EINVAL);
        ASSERT_ERROR(procfs_read_stat(root, 88, &s), EINVAL);
        ASSERT_ERROR(procfs_read_stat(root, 99, &s), ENOENT);
        ASSERT_ERROR(procfs_read_stat(root, 0, &s), EINVAL);

        ASSERT_OK(procfs_read_stat("/proc", getpid(), &s));
        ASSERT_EQ(s.pid, getpid());
        ASSERT_EQ(s.ppid, getppid());
        ASSERT_EQ(s.state, 'R');
        ASSERT_EQ(s.threads, 1u);
        ASSERT_TRUE(s.starttime > 0);
        ASSERT_EQ(s.processor, sched_getcpu());
        proc_stat_done(&s);
}

static void test_status(void) {
        ProcStatus s;

        ASSERT_OK(procfs_read_status(root, 1234, 0, &s));
        ASSERT_EQ(s.state, 'S');
        ASSERT_EQ(s.tgid, 1234);
        ASSERT_EQ(s.ppid, 1);
        ASSERT_EQ(s.tracer_pid, 0);
        ASSERT_EQ(s.uid_real, 1000);
        ASSERT_EQ(s.uid_effective, 1001);
        ASSERT_EQ(s.gid_real, 100);
        ASSERT_EQ(s.gid_effective, 101);
        ASSERT_EQ(s.seccomp, 2);
        ASSERT_EQ(s.seccomp_filters, 3);
        ASSERT_EQ_U64(s.vm_lck, 65536ULL * 1024);
        ASSERT_EQ_U64(s.vm_size, 3060ULL * 1024);
        ASSERT_EQ_U64(s.cap_eff, 0xa80425fbULL);
        ASSERT_EQ(s.threads, 2);

        ASSERT_OK(procfs_read_status(root, 1234, 1235, &s));
        ASSERT_EQ(s.state, 'R');
        ASSERT_EQ(s.tracer_pid, 4321);
        ASSERT_EQ(s.seccomp, 0);

        ASSERT_ERROR(procfs_read_status(root, 77, 0, &s), EBADMSG); /* no TracerPid: */
        ASSERT_ERROR(procfs_read_status(root, 88, 0, &s), EINVAL);  /* VmLck: lots */
        ASSERT_ERROR(procfs_read_status(root, 1234, 999, &s), ENOENT);

        ASSERT_OK(procfs_read_status("/proc", getpid(), 0, &s));
        ASSERT_EQ(s.tgid, getpid());
        ASSERT_EQ(s.uid_real, getuid());
        ASSERT_TRUE(s.seccomp >= 0);
        ASSERT_EQ(s.threads, 1);
}

static void test_comm_exe_limits(void) {
        char *s = NULL;
        uint64_t soft = 0, hard = 0;

        /* exe links are made here: make dist drops dangling symlinks from fixtures */
        {
                char tmp[] = "/tmp/test-procfs.XXXXXX", path[128], cmd[160];

                ASSERT_NOT_NULL(mkdtemp(tmp));
                snprintf(path, sizeof path, "%s/1234", tmp);
                ASSERT_EQ(mkdir(path, 0755), 0);
                snprintf(path, sizeof path, "%s/1234/exe", tmp);
                ASSERT_EQ(symlink("/usr/bin/victim (deleted)", path), 0);
                snprintf(path, sizeof path, "%s/77", tmp);
                ASSERT_EQ(mkdir(path, 0755), 0);
                snprintf(path, sizeof path, "%s/77/exe", tmp);
                ASSERT_EQ(symlink("/usr/sbin/foo", path), 0);

                ASSERT_OK(procfs_read_exe(tmp, 1234, &s));
                ASSERT_STREQ(s, "/usr/bin/victim");
                free(s);
                ASSERT_OK(procfs_read_exe(tmp, 77, &s));
                ASSERT_STREQ(s, "/usr/sbin/foo");
                free(s);
                ASSERT_ERROR(procfs_read_exe(tmp, 88, &s), ENOENT);
                snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
                ASSERT_EQ(system(cmd), 0);
        }
        ASSERT_OK(procfs_read_exe("/proc", getpid(), &s));
        ASSERT_TRUE(strstr(s, "test-procfs") != NULL);
        free(s);

        ASSERT_OK(procfs_read_memlock_limit(root, 1234, &soft, &hard));
        ASSERT_EQ_U64(soft, 8388608);
        ASSERT_EQ_U64(hard, 8388608);
        ASSERT_OK(procfs_read_memlock_limit(root, 77, &soft, &hard));
        ASSERT_EQ_U64(soft, UINT64_MAX);
        ASSERT_EQ_U64(hard, UINT64_MAX);
        ASSERT_ERROR(procfs_read_memlock_limit(root, 88, &soft, &hard), EBADMSG);
        ASSERT_OK(procfs_read_memlock_limit("/proc", getpid(), &soft, NULL));
}

static void test_threads(void) {
        pid_t *l = NULL;
        size_t n = 0;

        ASSERT_OK(procfs_list_threads(root, 1234, &l, &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(l[0], 1234);
        ASSERT_EQ(l[1], 1235);
        free(l);
        ASSERT_ERROR(procfs_list_threads(root, 77, &l, &n), ESRCH);
        ASSERT_ERROR(procfs_list_threads(root, 88, &l, &n), ENOENT);

        ASSERT_OK(procfs_list_threads("/proc", getpid(), &l, &n));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(l[0], getpid());
        free(l);

        /* every thread in D (99: a vfork parent's shape) or not (1234: S and R) */
        ASSERT_EQ(procfs_uninterruptible(root, 99), 1);
        ASSERT_EQ(procfs_uninterruptible(root, 1234), 0);
        ASSERT_ERROR(procfs_uninterruptible(root, 77), ESRCH); /* no threads */
        ASSERT_ERROR(procfs_uninterruptible(root, 88), ESRCH); /* no task directory */
        ASSERT_EQ(procfs_uninterruptible("/proc", getpid()), 0);
        /* one thread: its stat alone says (55 and 56 have no task directory); a leader gone (57,
         * Z with a thread left) is looked at thread by thread */
        ASSERT_EQ(procfs_uninterruptible(root, 55), 1);
        ASSERT_EQ(procfs_uninterruptible(root, 56), 0);
        ASSERT_EQ(procfs_uninterruptible(root, 57), 1);
}

/* the text less its last cut bytes */
static int parse_text(const char *text, size_t cut, ProcMmCounters *ret) {
        return procfs_parse_mm_counters(text, strlen(text) - cut, ret);
}

/* A child that waits to be killed, and its /proc file opened by open_file. */
static int open_on_child(int (*open_file)(const char *, pid_t, int *), pid_t *ret_child) {
        int fd = -EBADF;
        pid_t child = fork();

        ASSERT_TRUE(child >= 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        ASSERT_OK(open_file("/proc", child, &fd));
        *ret_child = child;
        return fd;
}

static void end_child(pid_t child) {
        int status;

        ASSERT_OK(kill(child, SIGKILL));
        ASSERT_EQ(waitpid(child, &status, 0), child);
}

static void test_mm_counters(void) {
        ProcMmCounters c = {}, after = {};
        size_t page = (size_t) sysconf(_SC_PAGESIZE), len = 64 * page;
        int fd = -EBADF;
        void *p;
        pid_t child;

        ASSERT_OK(procfs_open_status(root, 1234, &fd));
        ASSERT_OK(procfs_sample_mm_counters(fd, &c));
        ASSERT_EQ_U64(c.vm_size, UINT64_C(3060) * 1024);
        ASSERT_EQ_U64(c.vm_lck, UINT64_C(65536) * 1024);
        fd = safe_close(fd);
        ASSERT_OK(procfs_open_status(root, 2, &fd)); /* a kernel thread: no Vm lines */
        ASSERT_ERROR(procfs_sample_mm_counters(fd, &c), ENODATA);
        fd = safe_close(fd);
        ASSERT_ERROR(procfs_open_status(root, 99, &fd), ENOENT);
        ASSERT_ERROR(procfs_sample_mm_counters(-EBADF, &c), EBADF);

        /* only at a line's start, in kB, and the buffer's end is respected */
        ASSERT_ERROR(parse_text("XVmSize: 1 kB\nVmLck: 0 kB\n", 0, &c), ENODATA);
        ASSERT_ERROR(parse_text("VmSize: x kB\nVmLck: 0 kB\n", 0, &c), EINVAL);
        ASSERT_ERROR(parse_text("VmSize: 8 kB\nVmLck: 4 kB\n", 3, &c), EINVAL);
        ASSERT_OK(parse_text("Name:\tx\nVmSize:\t  8 kB\nVmLck:\t 4 kB\n", 0, &c));
        ASSERT_EQ_U64(c.vm_size, 8192);
        ASSERT_EQ_U64(c.vm_lck, 4096);

        /* this process, one descriptor kept: each sample is the kernel's figure then */
        ASSERT_OK(procfs_open_status("/proc", getpid(), &fd));
        ASSERT_OK(procfs_sample_mm_counters(fd, &c));
        ASSERT_TRUE(c.vm_size > 0);
        p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(p != MAP_FAILED);
        ASSERT_OK(procfs_sample_mm_counters(fd, &after));
        ASSERT_TRUE(after.vm_size >= c.vm_size + len);
        /* the syscall: ASan's mlock() does nothing and returns 0 */
        if (syscall(SYS_mlock, p, page) == 0) {
                ASSERT_OK(procfs_sample_mm_counters(fd, &after));
                ASSERT_EQ_U64(after.vm_lck, c.vm_lck + page);
                ASSERT_OK((int) syscall(SYS_munlock, p, page));
                ASSERT_OK(procfs_sample_mm_counters(fd, &after));
                ASSERT_EQ_U64(after.vm_lck, c.vm_lck);
        } else
                printf("mlock of one page failed (%m): VmLck not checked live\n");
        munmap(p, len);
        fd = safe_close(fd);

        /* bound to the process: once it is gone, the kept descriptor says so */
        fd = open_on_child(procfs_open_status, &child);
        ASSERT_OK(procfs_sample_mm_counters(fd, &c));
        end_child(child);
        ASSERT_ERROR(procfs_sample_mm_counters(fd, &c), ESRCH);
        safe_close(fd);
}

/* VmSize from statm: its first field, in pages; one descriptor kept, bound to the process */
static void test_statm_size(void) {
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE), size = 0, after = 0;
        size_t len = 64 * (size_t) page;
        int fd = -EBADF;
        void *p;
        pid_t child;

        ASSERT_OK(procfs_open_statm(root, 1234, &fd));
        ASSERT_OK(procfs_sample_vm_size(fd, &size));
        ASSERT_EQ_U64(size, 765 * page);
        fd = safe_close(fd);
        ASSERT_ERROR(procfs_open_statm(root, 99, &fd), ENOENT);
        ASSERT_ERROR(procfs_sample_vm_size(-EBADF, &size), EBADF);

        ASSERT_OK(procfs_parse_statm_size("3 1 0 0 0 1 0\n", 14, 4096, &size));
        ASSERT_EQ_U64(size, 3 * 4096);
        ASSERT_ERROR(procfs_parse_statm_size("", 0, 4096, &size), ENODATA);
        ASSERT_ERROR(procfs_parse_statm_size("3", 1, 4096, &size), EINVAL); /* cut short */
        ASSERT_ERROR(procfs_parse_statm_size("x 1\n", 4, 4096, &size), EINVAL);
        ASSERT_ERROR(procfs_parse_statm_size("99999999999999999999 1\n", 23, 4096, &size), EINVAL);
        ASSERT_ERROR(procfs_parse_statm_size("9999999999999999 1\n", 19, 4096, &size), EINVAL); /* bytes overflow */
        ASSERT_EQ_U64(size, 3 * 4096);

        /* this process: the size agrees with status's VmSize and follows a new mapping */
        ASSERT_OK(procfs_open_statm("/proc", getpid(), &fd));
        ASSERT_OK(procfs_sample_vm_size(fd, &size));
        {
                ProcMmCounters c;
                int sfd = -EBADF;

                ASSERT_OK(procfs_open_status("/proc", getpid(), &sfd));
                ASSERT_OK(procfs_sample_mm_counters(sfd, &c));
                ASSERT_OK(procfs_sample_vm_size(fd, &size));
                ASSERT_EQ_U64(size, c.vm_size);
                safe_close(sfd);
        }
        p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(p != MAP_FAILED);
        ASSERT_OK(procfs_sample_vm_size(fd, &after));
        ASSERT_EQ_U64(after, size + len);
        munmap(p, len);
        ASSERT_OK(procfs_sample_vm_size(fd, &after));
        ASSERT_EQ_U64(after, size);
        fd = safe_close(fd);

        fd = open_on_child(procfs_open_statm, &child);
        ASSERT_OK(procfs_sample_vm_size(fd, &size));
        end_child(child);
        ASSERT_ERROR(procfs_sample_vm_size(fd, &size), ESRCH);
        safe_close(fd);
}

/* schedstat, a thread's run time and run delay in ns and its timeslices: on a fixture, a malformed
 * one, a missing one, and our own, whose run time grows as we run and timeslices as we sleep */
static void test_schedstat(void) {
        ProcSchedstat s = {}, again = {};

        ASSERT_OK(procfs_read_schedstat(root, 1234, 1235, &s));
        ASSERT_EQ_U64(s.runtime, 123456789);
        ASSERT_EQ_U64(s.run_delay, 4000);
        ASSERT_EQ_U64(s.timeslices, 17);
        ASSERT_ERROR(procfs_read_schedstat(root, 1234, 1234, &s), EINVAL);
        ASSERT_TRUE(procfs_read_schedstat(root, 88, 0, &s) < 0);
        if (procfs_read_schedstat("/proc", getpid(), gettid(), &s) < 0) {
                fprintf(stderr, "no schedstat here (CONFIG_SCHED_INFO), live read skipped\n");
                return;
        }
        for (volatile unsigned i = 0; again.runtime <= s.runtime && i < 100000000; i++)
                if (i % 1000000 == 0)
                        ASSERT_OK(procfs_read_schedstat("/proc", getpid(), gettid(), &again));
        ASSERT_TRUE(again.runtime > s.runtime);
        s = again;
        usleep(1000);   /* switched out and in again */
        ASSERT_OK(procfs_read_schedstat("/proc", getpid(), gettid(), &again));
        ASSERT_TRUE(again.timeslices > s.timeslices);
}

/* a pidfd's pid: this process, a child until it is reaped, and a file that is no pidfd */
static void test_pidfd_pid(void) {
        int self = (int) syscall(SYS_pidfd_open, getpid(), 0), other, null;
        pid_t child, p = 0;

        if (self < 0) {
                printf("# pidfd_open: %s, pidfd_get_pid not tested\n", strerror(errno));
                return;
        }
        ASSERT_OK(pidfd_get_pid(self, &p));
        ASSERT_EQ(p, getpid());
        close(self);

        child = fork();
        ASSERT_TRUE(child >= 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        other = (int) syscall(SYS_pidfd_open, child, 0);
        ASSERT_TRUE(other >= 0);
        ASSERT_OK(pidfd_get_pid(other, &p));
        ASSERT_EQ(p, child);
        ASSERT_OK(kill(child, SIGKILL));
        ASSERT_TRUE(waitpid(child, NULL, 0) == child);
        ASSERT_ERROR(pidfd_get_pid(other, &p), ESRCH);
        close(other);

        null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(null >= 0);
        ASSERT_ERROR(pidfd_get_pid(null, &p), EBADF);
        close(null);
        ASSERT_ERROR(pidfd_get_pid(-1, &p), EINVAL);
}

int main(void) {
        snprintf(root, sizeof root, "%s/procfs", test_data_dir());
        test_stat();
        test_status();
        test_comm_exe_limits();
        test_threads();
        test_mm_counters();
        test_statm_size();
        test_schedstat();
        test_pidfd_pid();
        return 0;
}
