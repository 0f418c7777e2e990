/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Self-confinement: capabilities, no-new-privs, the manager's seccomp allowlist, parent death.
 * The design and the reasons for each capability are in doc/hardening.md. */

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "sandbox.h"

static void cap_freep(cap_t *c) {
        if (*c)
                (void) cap_free(*c);
}
#define _cleanup_cap_ _cleanup_(cap_freep)

static void cap_free_namep(char **s) {
        if (*s)
                (void) cap_free(*s);
}

int sandbox_missing_capabilities(const cap_value_t *required, size_t n, char **ret_missing) {
        _cleanup_cap_ cap_t caps = NULL;
        _cleanup_free_ char *missing = NULL;
        size_t len = 0;

        if (!ret_missing || (!required && n > 0))
                return -EINVAL;

        caps = cap_get_proc();
        if (!caps)
                return negative_errno();

        for (size_t i = 0; i < n; i++) {
                _cleanup_(cap_free_namep) char *name = NULL;
                cap_flag_value_t v = CAP_CLEAR;
                size_t l;
                char *p;

                /* A capability the kernel does not know is simply not held. */
                if (cap_get_flag(caps, required[i], CAP_EFFECTIVE, &v) < 0 && errno != EINVAL)
                        return negative_errno();
                if (v == CAP_SET)
                        continue;

                name = cap_to_name(required[i]);
                if (!name)
                        return -ENOMEM;
                l = strlen(name);
                p = realloc(missing, len + (len > 0) + l + 1);
                if (!p)
                        return -ENOMEM;
                missing = p;
                if (len > 0)
                        missing[len++] = ' ';
                memcpy(missing + len, name, l + 1);
                len += l;
        }

        *ret_missing = TAKE_PTR(missing);
        return 0;
}

static bool cap_in(cap_value_t c, const cap_value_t *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (list[i] == c)
                        return true;
        return false;
}

int sandbox_keep_capabilities(const cap_value_t *keep, size_t n) {
        _cleanup_cap_ cap_t caps = NULL;
        cap_value_t max = cap_max_bits();

        if (!keep && n > 0)
                return -EINVAL;

        /* The bounding set first: dropping from it needs CAP_SETPCAP, which cap_set_proc() below
         * takes away unless it is kept. */
        for (cap_value_t c = 0; c < max; c++) {
                int r;

                if (cap_in(c, keep, n))
                        continue;
                r = cap_get_bound(c);
                if (r < 0)
                        return negative_errno();
                if (r == 0)
                        continue;
                if (cap_drop_bound(c) < 0)
                        return negative_errno();
        }

        /* Ambient capabilities would survive an execve; there is none to keep. */
        if (cap_reset_ambient() < 0)
                return negative_errno();

        caps = cap_init(); /* everything clear: inheritable stays empty */
        if (!caps)
                return negative_errno();
        if (n > 0 && (cap_set_flag(caps, CAP_PERMITTED, (int) n, keep, CAP_SET) < 0 ||
                      cap_set_flag(caps, CAP_EFFECTIVE, (int) n, keep, CAP_SET) < 0))
                return negative_errno();
        if (cap_set_proc(caps) < 0)
                return negative_errno();

        return 0;
}

int sandbox_no_new_privs(void) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return 0;
}

/* One row of the allowlist: a syscall, allowed for any arguments (arg < 0) or only when argument
 * number arg equals value. Several rows for one syscall allow any of their values. */
typedef struct SyscallRule {
        const char *name;
        int arg;
        uint64_t value;
} SyscallRule;

#define ANY(n) { .name = (n), .arg = -1 }
#define ARG(n, a, v) { .name = (n), .arg = (a), .value = (uint64_t) (v) }

/* The manager: sd-event, sd-bus, inih, glibc, the proc connector, /proc and cgroupfs readers, the
 * metrics textfile writer, and the socketpair to the injector. No ptrace, no process_madvise, no
 * execve, no fork: those belong to the injector, which is forked before the filter is loaded.
 * Legacy x86_64 names (open, stat, rename, ...) are listed because glibc still calls some of them;
 * architectures without them skip those rows. */
static const SyscallRule manager_allowlist[] = {
        /* files: config, /proc, cgroupfs, the metrics textfile (mkostemp, fchmod, fsync, rename) */
        ANY("openat"), ANY("openat2"), ANY("open"), ANY("close"), ANY("close_range"),
        ANY("read"), ANY("pread64"), ANY("readv"), ANY("preadv"), ANY("preadv2"),
        ANY("write"), ANY("pwrite64"), ANY("writev"), ANY("lseek"),
        ANY("fstat"), ANY("newfstatat"), ANY("stat"), ANY("lstat"), ANY("statx"),
        ANY("statfs"), ANY("fstatfs"), ANY("getdents64"), ANY("readlinkat"), ANY("readlink"),
        ANY("access"), ANY("faccessat"), ANY("faccessat2"),
        ANY("fsync"), ANY("fdatasync"), ANY("fchmod"), ANY("ftruncate"),
        ANY("rename"), ANY("renameat"), ANY("renameat2"), ANY("unlink"), ANY("unlinkat"),
        ANY("fcntl"), ANY("dup"), ANY("dup3"), ANY("pipe2"), ANY("getcwd"),
        /* sd_journal_send(): a datagram, or for a large entry a sealed memfd passed with SCM_RIGHTS */
        ANY("memfd_create"),

        /* terminal and socket queries only: isatty(stderr), FIONREAD, FIONBIO, FIOCLEX */
        ARG("ioctl", 1, TCGETS), ARG("ioctl", 1, TIOCGWINSZ), ARG("ioctl", 1, FIONREAD),
        ARG("ioctl", 1, FIONBIO), ARG("ioctl", 1, FIOCLEX),

        /* sockets: sd-bus and sd_notify (AF_UNIX), the proc connector (AF_NETLINK), the injector's
         * socketpair (fds passed with SCM_RIGHTS). No other family. */
        ARG("socket", 0, AF_UNIX), ARG("socket", 0, AF_NETLINK), ARG("socketpair", 0, AF_UNIX),
        ANY("bind"), ANY("connect"), ANY("getsockname"), ANY("getpeername"),
        ANY("setsockopt"), ANY("getsockopt"), ANY("shutdown"),
        ANY("sendto"), ANY("sendmsg"), ANY("recvfrom"), ANY("recvmsg"),

        /* event loop: epoll, timers, signals, inotify, child (injector) and pidfd sources */
        ANY("epoll_create"), ANY("epoll_create1"), ANY("epoll_ctl"),
        ANY("epoll_wait"), ANY("epoll_pwait"), ANY("epoll_pwait2"), ANY("poll"), ANY("ppoll"),
        ANY("timerfd_create"), ANY("timerfd_settime"), ANY("timerfd_gettime"), ANY("eventfd2"),
        ANY("signalfd"), ANY("signalfd4"), ANY("rt_sigaction"), ANY("rt_sigprocmask"),
        ANY("rt_sigreturn"), ANY("restart_syscall"), ANY("sigaltstack"),
        ANY("inotify_init1"), ANY("inotify_add_watch"), ANY("inotify_rm_watch"),
        ANY("waitid"), ANY("wait4"), ANY("pidfd_open"), ANY("pidfd_send_signal"),
        ANY("kill"), ANY("tgkill"), /* SIGTERM to the injector; abort() */

        /* memory and runtime */
        ANY("brk"), ANY("mmap"), ANY("munmap"), ANY("mremap"), ANY("mprotect"), ANY("madvise"),
        ANY("futex"), ANY("set_robust_list"), ANY("rseq"), ANY("getrandom"),
        ANY("clock_gettime"), ANY("clock_getres"), ANY("gettimeofday"), ANY("time"),
        ANY("nanosleep"), ANY("clock_nanosleep"), ANY("sched_yield"), ANY("sched_getaffinity"),
        ANY("getpid"), ANY("getppid"), ANY("gettid"), ANY("getuid"), ANY("geteuid"),
        ANY("getgid"), ANY("getegid"), ANY("getresuid"), ANY("getresgid"), ANY("getgroups"),
        ANY("capget"), ANY("uname"), ANY("sysinfo"), ANY("umask"),
        ARG("prlimit64", 0, 0), /* its own limits only (getrlimit) */
        ARG("prctl", 0, PR_GET_NAME), ARG("prctl", 0, PR_SET_NAME), ARG("prctl", 0, PR_GET_DUMPABLE),
        ARG("prctl", 0, PR_CAPBSET_READ), ARG("prctl", 0, PR_GET_NO_NEW_PRIVS),
        ANY("exit"), ANY("exit_group"),

#ifdef HAVE_SANITIZERS
        /* LSan's leak check at exit stops the world: a clone()d tracer (PR_SET_PDEATHSIG,
         * PR_SET_PTRACER, PR_SET_DUMPABLE) attaches to every thread with ptrace and waits for
         * them; a report forks and execs llvm-symbolizer. Test builds only. */
        ANY("clone"), ANY("clone3"), ANY("fork"), ANY("vfork"), ANY("execve"), ANY("ptrace"),
        ANY("prctl"), ANY("pipe"), ANY("dup2"), ANY("getpgid"), ANY("setpgid"), ANY("getdents"),
        ANY("sched_setaffinity"), ANY("mincore"), ANY("arch_prctl"),
#endif
};

static bool seccomp_log_supported(void) {
        /* API level 3 is the kernel's SECCOMP_RET_LOG (Linux 4.14) */
        return seccomp_api_get() >= 3;
}

static void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

int sandbox_apply_seccomp(bool log_only) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        if (log_only && !seccomp_log_supported())
                return -EOPNOTSUPP;

        /* Native architecture only: seccomp_init() adds none other, and a call made through
         * another ABI (int 0x80, x32) hits the bad-arch action, which is kill-process by default. */
        ctx = seccomp_init(log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
        if (!ctx)
                return -ENOMEM;
        if (log_only) {
                r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_LOG);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < ELEMENTSOF(manager_allowlist); i++) {
                const SyscallRule *rule = manager_allowlist + i;
                int nr;

                nr = seccomp_syscall_resolve_name(rule->name);
                if (nr == __NR_SCMP_ERROR) {
                        log_debug("seccomp: %s is not a syscall on this architecture, skipping.",
                                  rule->name);
                        continue;
                }

                if (rule->arg < 0)
                        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
                else
                        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                             SCMP_CMP((unsigned) rule->arg, SCMP_CMP_EQ, rule->value));
                /* A negative pseudo-number is a syscall libseccomp knows but this kernel ABI
                 * lacks (e.g. "time" on some architectures); it cannot be called, so skip it. */
                if (r == -EDOM || (r < 0 && nr < 0)) {
                        log_debug_errno(r, "seccomp: cannot add %s, skipping: %m", rule->name);
                        continue;
                }
                if (r < 0)
                        return log_debug_errno(r, "seccomp: failed to allow %s: %m", rule->name);
        }

        r = seccomp_load(ctx);
        if (r < 0)
                return log_debug_errno(r, "seccomp: failed to load the filter: %m");

        return 0;
}

int sandbox_die_with_parent(pid_t expected_ppid) {
        if (expected_ppid <= 0)
                return -EINVAL;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                return -errno;

        /* The parent may have died before the signal was armed: then we were reparented and
         * nothing will ever kill us. */
        if (getppid() != expected_ppid)
                return -ESRCH;

        return 0;
}
