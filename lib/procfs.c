/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "parse-util.h"
#include "procfs.h"

#ifndef PID_FS_MAGIC
#define PID_FS_MAGIC 0x50494446
#endif

/* PIDFD_GET_INFO (Linux 6.13, <linux/pidfd.h>), its first version of the struct: the kernel takes
 * the size from the request, so this one stays valid as it grows. */
#ifndef PIDFD_GET_INFO
struct pidfd_info {
        uint64_t mask;
        uint64_t cgroupid;
        uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
        uint32_t spare0[1];
};
#define PIDFD_INFO_PID (1UL << 0)
#define PIDFD_GET_INFO _IOWR(0xFF, 11, struct pidfd_info)
#endif

#define PROC_FILE_MAX (64U * 1024U)
#define PF_KTHREAD 0x00200000U

static int proc_path(const char *proc_root, pid_t pid, pid_t tid, const char *file, char **ret) {
        char *p;
        int n;

        if (!proc_root || pid <= 0 || tid < 0)
                return -EINVAL;
        if (tid > 0)
                n = asprintf(&p, "%s/%d/task/%d/%s", proc_root, (int) pid, (int) tid, file);
        else
                n = asprintf(&p, "%s/%d/%s", proc_root, (int) pid, file);
        if (n < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static int read_proc_file(const char *proc_root, pid_t pid, pid_t tid, const char *file, char **ret) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = proc_path(proc_root, pid, tid, file, &path);
        if (r < 0)
                return r;
        return read_full_file(path, PROC_FILE_MAX, ret, NULL);
}

/* A decimal number that must be followed by a space or the end; signed fields (ppid 0 is fine). */
static int parse_field_u64(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        if (*s != ' ' && *s != '\0' && *s != '\n')
                return -EINVAL;
        *p = s;
        *ret = v;
        return 0;
}

static const char *skip_fields(const char *s, unsigned n) {
        for (; n > 0; n--) {
                s = strchr(s, ' ');
                if (!s)
                        return NULL;
                s++;
        }
        return s;
}

int procfs_read_stat(const char *proc_root, pid_t pid, ProcStat *ret) {
        _cleanup_free_ char *buf = NULL, *comm = NULL;
        const char *open, *close, *p, *q;
        uint64_t v, ppid, flags, threads, starttime, processor;
        char state;
        int r;

        if (!ret)
                return -EINVAL;
        r = read_proc_file(proc_root, pid, 0, "stat", &buf);
        if (r < 0)
                return r;

        /* "PID (COMM) S PPID ...": comm may hold anything, so its end is the last ')' */
        open = strchr(buf, '(');
        close = strrchr(buf, ')');
        if (!open || !close || close < open || close[1] != ' ')
                return -EINVAL;
        p = buf;
        r = parse_field_u64(&p, &v);
        if (r < 0 || p + 1 != open || v != (uint64_t) pid)
                return -EINVAL;
        comm = strndup(open + 1, (size_t) (close - open - 1));
        if (!comm)
                return -ENOMEM;

        p = close + 2;                                  /* field 3: state */
        if (p[0] == '\0' || p[1] != ' ')
                return -EINVAL;
        state = p[0];
        p += 2;                                         /* field 4: ppid */
        r = parse_field_u64(&p, &ppid);
        if (r < 0)
                return r;
        p = skip_fields(p + 1, 4);                      /* field 9: flags */
        if (!p)
                return -EINVAL;
        r = parse_field_u64(&p, &flags);
        if (r < 0)
                return r;
        p = skip_fields(p + 1, 10);                     /* field 20: num_threads */
        if (!p)
                return -EINVAL;
        r = parse_field_u64(&p, &threads);
        if (r < 0)
                return r;
        p = skip_fields(p + 1, 1);                      /* field 22: starttime */
        if (!p)
                return -EINVAL;
        r = parse_field_u64(&p, &starttime);
        if (r < 0)
                return r;
        q = skip_fields(p + 1, 16);                     /* field 39: processor, where there is one */
        if (!q || parse_field_u64(&q, &processor) < 0 || processor > INT_MAX)
                processor = UINT64_MAX;
        if (ppid > INT_MAX || flags > UINT_MAX || threads > UINT_MAX)
                return -ERANGE;

        *ret = (ProcStat) {
                .pid = pid,
                .state = state,
                .ppid = (pid_t) ppid,
                .flags = (unsigned) flags,
                .threads = (unsigned) threads,
                .starttime = starttime,
                .processor = processor == UINT64_MAX ? -1 : (int) processor,
                .comm = TAKE_PTR(comm),
        };
        return 0;
}

void proc_stat_done(ProcStat *s) {
        if (!s)
                return;
        free(s->comm);
        s->comm = NULL;
}

bool proc_stat_is_kernel_thread(const ProcStat *s) {
        return s && (s->flags & PF_KTHREAD);
}

static int parse_hex64(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        unsigned n = 0;

        for (; *s && *s != '\n'; s++, n++) {
                int d;

                if (*s >= '0' && *s <= '9')
                        d = *s - '0';
                else if (*s >= 'a' && *s <= 'f')
                        d = *s - 'a' + 10;
                else if (*s >= 'A' && *s <= 'F')
                        d = *s - 'A' + 10;
                else
                        return -EINVAL;
                if (n >= 16)
                        return -ERANGE;
                v = v << 4 | (uint64_t) d;
        }
        if (n == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "a\tb\tc\td": the first two numbers of a Uid:/Gid: line */
static int parse_id_pair(const char *s, unsigned *ret_real, unsigned *ret_eff) {
        unsigned a, b;
        int n = 0;

        if (sscanf(s, "%u %u%n", &a, &b, &n) != 2 || n <= 0)
                return -EINVAL;
        *ret_real = a;
        *ret_eff = b;
        return 0;
}

/* The value of a "NAME:   123 kB" line, from after its colon up to end (need not be NUL-terminated),
 * in bytes. */
static int parse_kb_line(const char *p, const char *end, uint64_t *ret) {
        uint64_t v = 0;
        bool digits = false;

        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - 9) / 10 / 1024)
                        return -EINVAL;
                v = v * 10 + (uint64_t) (*p - '0');
                digits = true;
        }
        if (!digits || end - p < 3 || memcmp(p, " kB", 3) != 0)
                return -EINVAL;
        *ret = v * 1024;
        return 0;
}

int procfs_read_schedstat(const char *proc_root, pid_t pid, pid_t tid, ProcSchedstat *ret) {
        _cleanup_free_ char *buf = NULL;
        uint64_t v[3];
        const char *p;
        int r;

        if (!ret)
                return -EINVAL;
        r = read_proc_file(proc_root, pid, tid, "schedstat", &buf);
        if (r < 0)
                return r;
        p = buf;                                        /* "RUNTIME_NS RUN_DELAY_NS TIMESLICES" */
        for (size_t i = 0; i < 3; i++) {
                if (i > 0 && *p++ != ' ')
                        return -EINVAL;
                r = parse_field_u64(&p, &v[i]);
                if (r < 0)
                        return r;
        }
        *ret = (ProcSchedstat) { .runtime = v[0], .run_delay = v[1], .timeslices = v[2] };
        return 0;
}

int procfs_read_status(const char *proc_root, pid_t pid, pid_t tid, ProcStatus *ret) {
        _cleanup_free_ char *buf = NULL;
        ProcStatus s = { .seccomp = -1 };
        bool have_state = false, have_tgid = false, have_tracer = false;
        char *p, *line;
        int r;

        if (!ret)
                return -EINVAL;
        r = read_proc_file(proc_root, pid, tid, "status", &buf);
        if (r < 0)
                return r;

        p = buf;
        while ((line = next_line(&p))) {
                char *value = strchr(line, ':');
                unsigned u, u2;
                uint64_t v;

                if (!value)
                        continue;
                *value++ = '\0';
                value += strspn(value, " \t");

                if (streq(line, "State")) {
                        if (!value[0])
                                return -EINVAL;
                        s.state = value[0];
                        have_state = true;
                } else if (streq(line, "Tgid")) {
                        if (parse_uint(value, &u) < 0 || u > INT_MAX)
                                return -EINVAL;
                        s.tgid = (pid_t) u;
                        have_tgid = true;
                } else if (streq(line, "PPid")) {
                        if (parse_uint(value, &u) < 0 || u > INT_MAX)
                                return -EINVAL;
                        s.ppid = (pid_t) u;
                } else if (streq(line, "TracerPid")) {
                        if (parse_uint(value, &u) < 0 || u > INT_MAX)
                                return -EINVAL;
                        s.tracer_pid = (pid_t) u;
                        have_tracer = true;
                } else if (streq(line, "Uid")) {
                        if (parse_id_pair(value, &u, &u2) < 0)
                                return -EINVAL;
                        s.uid_real = u;
                        s.uid_effective = u2;
                } else if (streq(line, "Gid")) {
                        if (parse_id_pair(value, &u, &u2) < 0)
                                return -EINVAL;
                        s.gid_real = u;
                        s.gid_effective = u2;
                } else if (streq(line, "Seccomp")) {
                        if (parse_uint(value, &u) < 0 || u > 2)
                                return -EINVAL;
                        s.seccomp = (int) u;
                } else if (streq(line, "Seccomp_filters")) {
                        if (parse_uint(value, &u) < 0)
                                return -EINVAL;
                        s.seccomp_filters = u;
                } else if (streq(line, "VmLck")) {
                        if (parse_kb_line(value, value + strlen(value), &s.vm_lck) < 0)
                                return -EINVAL;
                } else if (streq(line, "VmSize")) {
                        if (parse_kb_line(value, value + strlen(value), &s.vm_size) < 0)
                                return -EINVAL;
                } else if (streq(line, "CapEff")) {
                        if (parse_hex64(value, &v) < 0)
                                return -EINVAL;
                        s.cap_eff = v;
                } else if (streq(line, "Threads")) {
                        if (parse_uint(value, &u) < 0)
                                return -EINVAL;
                        s.threads = u;
                }
        }

        if (!have_state || !have_tgid || !have_tracer)
                return -EBADMSG;
        *ret = s;
        return 0;
}

int procfs_read_exe(const char *proc_root, pid_t pid, char **ret) {
        static const char suffix[] = " (deleted)";
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t size = 256;
        int r;

        if (!ret)
                return -EINVAL;
        r = proc_path(proc_root, pid, 0, "exe", &path);
        if (r < 0)
                return r;

        for (;;) {
                ssize_t n;
                char *p;

                p = realloc(buf, size);
                if (!p)
                        return -ENOMEM;
                buf = p;
                n = readlink(path, buf, size);
                if (n < 0)
                        return -errno;
                if ((size_t) n < size) {
                        buf[n] = '\0';
                        break;
                }
                if (size >= PATH_MAX * 4)
                        return -ENAMETOOLONG;
                size *= 2;
        }

        size = strlen(buf);
        if (size > strlen(suffix) && streq(buf + size - strlen(suffix), suffix))
                buf[size - strlen(suffix)] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

static int parse_limit(const char *s, uint64_t *ret) {
        if (streq(s, "unlimited")) {
                *ret = UINT64_MAX;
                return 0;
        }
        return parse_uint64(s, ret);
}

int procfs_read_memlock_limit(const char *proc_root, pid_t pid, uint64_t *ret_soft, uint64_t *ret_hard) {
        static const char key[] = "Max locked memory";
        _cleanup_free_ char *buf = NULL;
        char *p, *line;
        int r;

        r = read_proc_file(proc_root, pid, 0, "limits", &buf);
        if (r < 0)
                return r;

        p = buf;
        while ((line = next_line(&p))) {
                char soft[32], hard[32];
                uint64_t s, h;

                if (strncmp(line, key, strlen(key)) != 0)
                        continue;
                if (sscanf(line + strlen(key), " %31s %31s", soft, hard) != 2)
                        return -EINVAL;
                if (parse_limit(soft, &s) < 0 || parse_limit(hard, &h) < 0)
                        return -EINVAL;
                if (ret_soft)
                        *ret_soft = s;
                if (ret_hard)
                        *ret_hard = h;
                return 0;
        }
        return -EBADMSG;
}

static const char *find_line(const char *buf, size_t n, const char *name) {
        size_t len = strlen(name);

        for (const char *p = buf, *end = buf + n; p && (size_t) (end - p) > len;) {
                if (memcmp(p, name, len) == 0)
                        return p + len;
                p = memchr(p, '\n', (size_t) (end - p));
                if (p)
                        p++;
        }
        return NULL;
}

int procfs_parse_mm_counters(const char *buf, size_t n, ProcMmCounters *ret) {
        const char *size, *lck, *end = buf + n;
        ProcMmCounters c;

        if (!buf || !ret)
                return -EINVAL;
        size = find_line(buf, n, "VmSize:");
        lck = find_line(buf, n, "VmLck:");
        if (!size || !lck)
                return -ENODATA;
        if (parse_kb_line(size, end, &c.vm_size) < 0 || parse_kb_line(lck, end, &c.vm_lck) < 0)
                return -EINVAL;
        *ret = c;
        return 0;
}

/* /proc/PID/NAME opened for preads again and again */
static int open_proc_file(const char *proc_root, pid_t pid, const char *name, int *ret_fd) {
        _cleanup_free_ char *path = NULL;
        int fd, r;

        if (!ret_fd)
                return -EINVAL;
        r = proc_path(proc_root, pid, 0, name, &path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int procfs_open_status(const char *proc_root, pid_t pid, int *ret_fd) {
        return open_proc_file(proc_root, pid, "status", ret_fd);
}

int procfs_open_statm(const char *proc_root, pid_t pid, int *ret_fd) {
        return open_proc_file(proc_root, pid, "statm", ret_fd);
}

/* One pread at offset 0 of a kept /proc file: the kernel makes the text afresh for it. */
static int pread_afresh(int fd, char *buf, size_t size, size_t *ret_n) {
        ssize_t n;

        if (fd < 0)
                return -EBADF;
        n = pread(fd, buf, size, 0);
        if (n < 0)
                return -errno;
        *ret_n = (size_t) n;
        return 0;
}

int procfs_sample_mm_counters(int fd, ProcMmCounters *ret) {
        char buf[4096]; /* status is about 1.5 KiB; the Vm lines come in its first half */
        size_t n = 0;
        int r;

        r = pread_afresh(fd, buf, sizeof buf, &n);
        if (r < 0)
                return r;
        return procfs_parse_mm_counters(buf, n, ret);
}

int procfs_parse_statm_size(const char *buf, size_t n, uint64_t page_size, uint64_t *ret) {
        uint64_t pages = 0;
        size_t i = 0;

        if (!buf || !ret || page_size == 0)
                return -EINVAL;
        for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
                unsigned d = (unsigned) (buf[i] - '0');

                if (pages > (UINT64_MAX - d) / 10)
                        return -EINVAL;
                pages = pages * 10 + d;
        }
        if (i == 0 || i == n || buf[i] != ' ' || pages > UINT64_MAX / page_size)
                return i == 0 && n == 0 ? -ENODATA : -EINVAL;
        *ret = pages * page_size;
        return 0;
}

int procfs_sample_vm_size(int fd, uint64_t *ret) {
        char buf[128]; /* seven numbers of pages */
        long ps = sysconf(_SC_PAGESIZE);
        size_t n = 0;
        int r;

        r = pread_afresh(fd, buf, sizeof buf, &n);
        if (r < 0)
                return r;
        return procfs_parse_statm_size(buf, n, ps > 0 ? (uint64_t) ps : 4096, ret);
}

static int cmp_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;

        return (x > y) - (x < y);
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

int procfs_uninterruptible(const char *proc_root, pid_t pid) {
        _cleanup_free_ pid_t *tids = NULL;
        size_t n = 0, seen = 0;
        ProcStat st = {};
        int r;

        /* one thread, the leader: its stat says (one small file, not the task directory and a
         * status each); a leader gone (Z) leaves another thread, which the scan finds */
        if (procfs_read_stat(proc_root, pid, &st) >= 0) {
                bool alone = st.threads == 1 && st.state != 'Z' && st.state != 'X';
                char state = st.state;

                proc_stat_done(&st);
                if (alone)
                        return state == 'D';
        }

        r = procfs_list_threads(proc_root, pid, &tids, &n);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        for (size_t i = 0; i < n; i++) {
                ProcStatus s;

                if (procfs_read_status(proc_root, pid, tids[i], &s) < 0)
                        continue; /* a thread that just ended */
                if (s.state != 'D')
                        return 0;
                seen++;
        }
        return seen > 0 ? 1 : -ESRCH;
}

int procfs_list_threads(const char *proc_root, pid_t pid, pid_t **ret, size_t *ret_n) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ pid_t *list = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        int fd, r;

        if (!ret || !ret_n)
                return -EINVAL;
        r = proc_path(proc_root, pid, 0, "task", &path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                safe_close(fd);
                return r;
        }

        errno = 0;
        while ((de = readdir(d))) {
                unsigned tid;

                if (de->d_name[0] == '.')
                        continue;
                if (parse_uint(de->d_name, &tid) < 0 || tid == 0 || tid > INT_MAX)
                        return -EINVAL;
                if (n >= allocated) {
                        size_t want = allocated ? allocated * 2 : 16;
                        pid_t *p;

                        if (want > 1U << 22)
                                return -E2BIG;
                        p = reallocarray(list, want, sizeof(pid_t));
                        if (!p)
                                return -ENOMEM;
                        list = p;
                        allocated = want;
                }
                list[n++] = (pid_t) tid;
                errno = 0;
        }
        if (errno != 0)
                return -errno;
        if (n == 0)
                return -ESRCH;      /* an exited process keeps an empty task directory */

        qsort(list, n, sizeof(pid_t), cmp_pid);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

int pidfd_get_pid(int pidfd, pid_t *ret) {
        struct pidfd_info info = { .mask = PIDFD_INFO_PID };
        _cleanup_free_ char *path = NULL, *buf = NULL;
        char *p, *line;
        int r;

        if (pidfd < 0 || !ret)
                return -EINVAL;
        /* one ioctl where the kernel has it; ESRCH: the process is gone (a zombie, reaped) */
        if (ioctl(pidfd, PIDFD_GET_INFO, &info) >= 0) {
                if (!(info.mask & PIDFD_INFO_PID) || info.pid == 0 || info.pid > INT_MAX)
                        return -ESRCH; /* not in our pid namespace */
                *ret = (pid_t) info.pid;
                return 0;
        }
        if (errno == ESRCH)
                return -ESRCH;
        if (errno != ENOTTY && errno != EINVAL && errno != EOPNOTSUPP)
                return -errno;

        /* older kernels, and anything not a pidfd: fdinfo's "Pid:" line (-1 gone, 0 elsewhere) */
        if (asprintf(&path, "/proc/self/fdinfo/%d", pidfd) < 0)
                return -ENOMEM;
        r = read_full_file(path, 64 * 1024, &buf, NULL);
        if (r < 0)
                return r;
        p = buf;
        while ((line = next_line(&p))) {
                int pid;

                if (strncmp(line, "Pid:", 4) != 0)
                        continue;
                if (sscanf(line + 4, "%d", &pid) != 1)
                        return -EBADMSG;
                if (pid <= 0)
                        return -ESRCH;
                *ret = pid;
                return 0;
        }
        return -EBADF; /* not a pidfd */
}

int pidfd_pidfs_inode(int pidfd, uint64_t *ret) {
        struct statfs sfs;
        struct stat st;

        if (fstatfs(pidfd, &sfs) < 0)
                return -errno;
        if (sfs.f_type != PID_FS_MAGIC)
                return -EOPNOTSUPP;
        if (fstat(pidfd, &st) < 0)
                return -errno;
        *ret = (uint64_t) st.st_ino;
        return 0;
}
