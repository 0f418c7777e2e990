/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the injection tests and the benchmark: start tests/helpers/victim as a child with
 * pipes on its stdin and stdout, read its lines with a timeout, and ask the kernel what it locked. */

#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inject.h"
#include "macro.h"
#include "procfs.h"
#include "tests.h"

typedef struct Child {
        pid_t pid;
        int in_fd;              /* the victim's stdin */
        int out_fd;             /* the victim's stdout */
        char buf[4096];
        size_t len;
        uint64_t anon, size;
        bool reaped;
} Child;

/* The injected mlock runs with the victim's credentials, which are ours: without CAP_IPC_LOCK
 * (a non-root build user, as dh_auto_test runs the suite) RLIMIT_MEMLOCK caps it, 8 MiB by
 * default. False, with the reason printed, when locking size bytes cannot succeed here. */
static inline bool memlock_allows(uint64_t size) {
        char line[256];
        uint64_t eff = 0;
        struct rlimit rl;
        FILE *f = fopen("/proc/self/status", "re");

        while (f && fgets(line, sizeof line, f))
                if (sscanf(line, "CapEff: %" SCNx64, &eff) == 1)
                        break;
        if (f)
                fclose(f);
        if (eff & (UINT64_C(1) << 14))  /* CAP_IPC_LOCK */
                return true;
        if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= size))
                return true;
        fprintf(stderr, "locking %" PRIu64 " MiB needs CAP_IPC_LOCK or RLIMIT_MEMLOCK of that size "
                "(it is %" PRIu64 " KiB, uid %u): skipping\n",
                size >> 20, (uint64_t) rl.rlim_cur >> 10, (unsigned) geteuid());
        return false;
}

static inline const char *victim_path(void) {
        static char path[PATH_MAX + 32];
        char self[PATH_MAX];
        ssize_t n;

        if (getenv("VICTIM"))           /* a test's own copy */
                return getenv("VICTIM");
        n = readlink("/proc/self/exe", self, sizeof self - 1);

        if (n < 0)
                test_fail("readlink /proc/self/exe: %m");
        self[n] = '\0';
        /* tests/test-inject or tests/bench/bench-inject: the victim is in tests/helpers */
        snprintf(path, sizeof path, "%s/%shelpers/victim", dirname(self),
                 strstr(self, "/bench") ? "../" : "");
        return path;
}

/* One line of the victim's output, without the newline, or NULL after timeout_ms / at EOF. */
static inline char *child_line(Child *c, int timeout_ms, char *line, size_t size) {
        for (;;) {
                char *nl = memchr(c->buf, '\n', c->len);
                struct pollfd p = { .fd = c->out_fd, .events = POLLIN };
                ssize_t n;

                if (nl) {
                        size_t l = (size_t) (nl - c->buf);

                        snprintf(line, size, "%.*s", (int) l, c->buf);
                        memmove(c->buf, nl + 1, c->len - l - 1);
                        c->len -= l + 1;
                        return line;
                }
                if (poll(&p, 1, timeout_ms) <= 0)
                        return NULL;
                n = read(c->out_fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
                if (n <= 0)
                        return NULL;
                c->len += (size_t) n;
        }
}

static inline void child_start(Child *c, const char *mode, const char *arg) {
        int in[2], out[2];
        char line[256];

        ASSERT_TRUE(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
        *c = (Child) {};
        c->pid = fork();
        ASSERT_TRUE(c->pid >= 0);
        if (c->pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);  /* a failed test leaves nothing behind */
                dup2(in[0], STDIN_FILENO);
                dup2(out[1], STDOUT_FILENO);
                execl(victim_path(), "victim", mode, arg, (char *) NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        c->in_fd = in[1];
        c->out_fd = out[0];
        if (!child_line(c, 30000, line, sizeof line) ||
            sscanf(line, "ready pid=%*d anon=%" SCNx64 " size=%" SCNu64, &c->anon, &c->size) != 2)
                test_fail("victim %s did not get ready: %s", mode, line);
}

/* Wait for the child to end; its wait status (or -1 if someone reaped it already). */
static inline int child_wait(Child *c) {
        int status;

        if (c->reaped)
                return -1;
        c->reaped = true;
        if (waitpid(c->pid, &status, 0) != c->pid)
                return -1;
        return status;
}

static inline void child_done(Child *c) {
        if (!c->reaped) {
                (void) kill(c->pid, SIGKILL);
                (void) child_wait(c);
        }
        if (c->in_fd >= 0)
                close(c->in_fd);
        close(c->out_fd);
        c->in_fd = c->out_fd = -1;
}

static inline char proc_state(pid_t pid) {
        ProcStat s = {};
        char state;

        if (procfs_read_stat("/proc", pid, &s) < 0)
                return 0;
        state = s.state;
        proc_stat_done(&s);
        return state;
}

/* What smaps says about the VMA holding addr (it may have merged with a neighbour). */
typedef struct VmaInfo {
        bool found, lo, lf;
        uint64_t rss_kb, locked_kb;
} VmaInfo;

static inline VmaInfo vma_info(pid_t pid, uint64_t addr) {
        char path[64], line[1024];
        VmaInfo v = {};
        bool in = false;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/smaps", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return v;
        while (fgets(line, sizeof line, f)) {
                uint64_t start, end;

                if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &start, &end) == 2) {
                        in = start <= addr && addr < end;
                        v.found = v.found || in;
                        continue;
                }
                if (!in)
                        continue;
                if (strncmp(line, "Rss:", 4) == 0)
                        sscanf(line + 4, "%" SCNu64, &v.rss_kb);
                else if (strncmp(line, "Locked:", 7) == 0)
                        sscanf(line + 7, "%" SCNu64, &v.locked_kb);
                else if (strncmp(line, "VmFlags:", 8) == 0) {
                        v.lo = strstr(line, " lo") != NULL;
                        v.lf = strstr(line, " lf") != NULL;
                }
        }
        fclose(f);
        return v;
}

static inline uint64_t vm_lck(pid_t pid) {
        ProcStatus s;

        ASSERT_OK(procfs_read_status("/proc", pid, 0, &s));
        return s.vm_lck;
}
