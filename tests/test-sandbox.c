/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* daemon/sandbox.c: every check runs in a forked child, so the test process keeps its privileges
 * and a child the filter kills is observed from outside (wait status SIGSYS). The kernel's own
 * word is /proc/self/status (CapEff, CapPrm, CapBnd, NoNewPrivs, Seccomp). */

#include <dirent.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#ifdef HAVE_SANITIZERS
#include <sanitizer/lsan_interface.h>
#endif

#include "fileio.h"
#include "macro.h"
#include "sandbox.h"
#include "tests.h"

/* The private bus of the workload test, when dbus-daemon could be started. */
static char *bus_address;

/* ---- helpers ------------------------------------------------------------------------------- */

/* Run fn in a forked child that leaves through exit(), so atexit handlers (LSan) run. */
static int run_child(void (*fn)(void), int *ret_status) {
        int status;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* a child stuck under the filter (e.g. LSan spinning on a tracer the filter
                 * killed) dies of SIGALRM instead of hanging the test */
                alarm(120);
                fn();
                exit(EXIT_SUCCESS);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        *ret_status = status;
        return 0;
}

static void assert_exited_ok(const char *what, int status) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return;
        if (WIFEXITED(status))
                test_fail("%s: child exited with %d", what, WEXITSTATUS(status));
        test_fail("%s: child killed by signal %d (%s)", what, WTERMSIG(status), strsignal(WTERMSIG(status)));
}

static void assert_killed_by(const char *what, int status, int sig) {
        if (WIFSIGNALED(status) && WTERMSIG(status) == sig)
                return;
        if (WIFEXITED(status))
                test_fail("%s: child exited with %d, expected signal %s", what, WEXITSTATUS(status),
                          strsignal(sig));
        test_fail("%s: child killed by %s, expected %s", what, strsignal(WTERMSIG(status)), strsignal(sig));
}

/* The value of a "Key:\tvalue" line of /proc/self/status, as a hex or decimal number. */
static uint64_t status_field(const char *key) {
        _cleanup_free_ char *buf = NULL;
        size_t klen = strlen(key);
        char *p, *line;

        ASSERT_OK(read_full_file("/proc/self/status", READ_FULL_MAX_DEFAULT, &buf, NULL));
        p = buf;
        while ((line = next_line(&p)))
                if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
                        const char *v = line + klen + 1;
                        bool hex = strncmp(key, "Cap", 3) == 0;
                        return strtoull(v, NULL, hex ? 16 : 10);
                }
        test_fail("no %s: line in /proc/self/status", key);
}

static bool have_capabilities(const cap_value_t *caps, size_t n) {
        _cleanup_free_ char *missing = NULL;

        ASSERT_OK(sandbox_missing_capabilities(caps, n, &missing));
        return !missing;
}

#define CAPMASK(c) (UINT64_C(1) << (c))

/* ---- capabilities -------------------------------------------------------------------------- */

static void child_missing_capabilities(void) {
        static const cap_value_t keep[] = { CAP_SYS_PTRACE };
        static const cap_value_t ptrace_only[] = { CAP_SYS_PTRACE };
        static const cap_value_t three[] = { CAP_SYS_PTRACE, CAP_SYS_NICE, CAP_NET_ADMIN };
        static const cap_value_t admin[] = { CAP_SYS_ADMIN };
        char *missing = (char *) "unset";

        /* nothing required: nothing missing */
        ASSERT_OK(sandbox_missing_capabilities(NULL, 0, &missing));
        ASSERT_NULL(missing);
        ASSERT_ERROR(sandbox_missing_capabilities(NULL, 1, &missing), EINVAL);

        ASSERT_OK(sandbox_keep_capabilities(keep, ELEMENTSOF(keep)));

        ASSERT_OK(sandbox_missing_capabilities(ptrace_only, ELEMENTSOF(ptrace_only), &missing));
        ASSERT_NULL(missing);

        ASSERT_OK(sandbox_missing_capabilities(three, ELEMENTSOF(three), &missing));
        ASSERT_STREQ(missing, "cap_sys_nice cap_net_admin");
        free(missing);

        ASSERT_OK(sandbox_missing_capabilities(admin, ELEMENTSOF(admin), &missing));
        ASSERT_STREQ(missing, "cap_sys_admin");
        free(missing);

        /* a capability this kernel does not know is never held; libcap names it by number */
        static const cap_value_t unknown[] = { CAP_SYS_PTRACE, 63 };
        ASSERT_OK(sandbox_missing_capabilities(unknown, ELEMENTSOF(unknown), &missing));
        ASSERT_STREQ(missing, "63");
        free(missing);
}

static void child_keep_capabilities(void) {
        static const cap_value_t two[] = { CAP_SYS_PTRACE, CAP_SYS_NICE };
        static const cap_value_t one[] = { CAP_SYS_PTRACE };

        ASSERT_OK(sandbox_keep_capabilities(two, ELEMENTSOF(two)));
        ASSERT_EQ_U64(status_field("CapEff"), CAPMASK(CAP_SYS_PTRACE) | CAPMASK(CAP_SYS_NICE));
        ASSERT_EQ_U64(status_field("CapPrm"), CAPMASK(CAP_SYS_PTRACE) | CAPMASK(CAP_SYS_NICE));
        ASSERT_EQ_U64(status_field("CapBnd"), CAPMASK(CAP_SYS_PTRACE) | CAPMASK(CAP_SYS_NICE));
        ASSERT_EQ_U64(status_field("CapInh"), 0);
        ASSERT_EQ_U64(status_field("CapAmb"), 0);

        /* repeating works without CAP_SETPCAP (now gone); narrowing further needs it */
        ASSERT_OK(sandbox_keep_capabilities(two, ELEMENTSOF(two)));
        ASSERT_ERROR(sandbox_keep_capabilities(one, ELEMENTSOF(one)), EPERM);
        ASSERT_EQ_U64(status_field("CapEff"), CAPMASK(CAP_SYS_PTRACE) | CAPMASK(CAP_SYS_NICE));
}

static void child_keep_capabilities_one(void) {
        static const cap_value_t one[] = { CAP_SYS_PTRACE };
        static const cap_value_t more[] = { CAP_SYS_PTRACE, CAP_SYS_ADMIN };

        ASSERT_OK(sandbox_keep_capabilities(one, ELEMENTSOF(one)));
        ASSERT_EQ_U64(status_field("CapEff"), CAPMASK(CAP_SYS_PTRACE));
        ASSERT_EQ_U64(status_field("CapPrm"), CAPMASK(CAP_SYS_PTRACE));
        ASSERT_EQ_U64(status_field("CapBnd"), CAPMASK(CAP_SYS_PTRACE));
        ASSERT_EQ_U64(status_field("CapInh"), 0);
        ASSERT_EQ_U64(status_field("CapAmb"), 0);

        /* what was dropped cannot come back, and a failed call changes nothing */
        ASSERT_ERROR(sandbox_keep_capabilities(more, ELEMENTSOF(more)), EPERM);
        ASSERT_EQ_U64(status_field("CapEff"), CAPMASK(CAP_SYS_PTRACE));
        ASSERT_EQ_U64(status_field("CapBnd"), CAPMASK(CAP_SYS_PTRACE));

}

static void child_keep_no_capabilities(void) {
        ASSERT_OK(sandbox_keep_capabilities(NULL, 0));
        ASSERT_EQ_U64(status_field("CapEff"), 0);
        ASSERT_EQ_U64(status_field("CapPrm"), 0);
        ASSERT_EQ_U64(status_field("CapBnd"), 0);
}

static int test_capabilities(void) {
        static const cap_value_t needed[] = { CAP_SYS_PTRACE, CAP_SYS_NICE, CAP_SETPCAP };
        int status;

        if (!have_capabilities(needed, ELEMENTSOF(needed))) {
                fprintf(stderr, "# capability tests skipped: need CAP_SYS_PTRACE, CAP_SYS_NICE, CAP_SETPCAP\n");
                return EXIT_TEST_SKIP;
        }
        ASSERT_OK(run_child(child_missing_capabilities, &status));
        assert_exited_ok("missing capabilities", status);
        ASSERT_OK(run_child(child_keep_capabilities, &status));
        assert_exited_ok("keep capabilities", status);
        ASSERT_OK(run_child(child_keep_capabilities_one, &status));
        assert_exited_ok("keep one capability", status);
        ASSERT_OK(run_child(child_keep_no_capabilities, &status));
        assert_exited_ok("keep no capability", status);
        return 0;
}

/* ---- no-new-privs and parent death ---------------------------------------------------------- */

static void child_no_new_privs(void) {
        ASSERT_EQ(status_field("NoNewPrivs"), 0);
        ASSERT_OK(sandbox_no_new_privs());
        ASSERT_EQ(status_field("NoNewPrivs"), 1);
}

static void child_wrong_parent(void) {
        ASSERT_ERROR(sandbox_die_with_parent(0), EINVAL);
        /* our parent is the test, not pid 1: the check must notice */
        ASSERT_ERROR(sandbox_die_with_parent(1), ESRCH);
        ASSERT_OK(sandbox_die_with_parent(getppid()));
}

static void write_all(int fd, const void *p, size_t n) {
        ASSERT_EQ(write(fd, p, n), (ssize_t) n);
}

static void read_all(int fd, void *p, size_t n) {
        ASSERT_EQ(read(fd, p, n), (ssize_t) n);
}

/* no-new-privs; die_with_parent's checks. Then A forks B; B arms its death signal against A; A exits; B must die of SIGKILL. The test is a
 * subreaper, so B is reparented to it and reaped here. */
static int test_nnp_and_parent_death(void) {
        int report[2], go[2], status, r;
        pid_t a, b;
        struct pollfd pfd;
        _cleanup_close_ int pidfd = -EBADF;

        ASSERT_OK(run_child(child_no_new_privs, &status));
        assert_exited_ok("no_new_privs", status);
        ASSERT_OK(run_child(child_wrong_parent, &status));
        assert_exited_ok("die_with_parent with a wrong ppid", status);

        ASSERT_TRUE(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
        ASSERT_TRUE(pipe2(report, O_CLOEXEC) == 0);
        ASSERT_TRUE(pipe2(go, O_CLOEXEC) == 0);

        fflush(NULL);
        a = fork();
        ASSERT_TRUE(a >= 0);
        if (a == 0) {
                pid_t self = getpid();
                char c;

                b = fork();
                ASSERT_TRUE(b >= 0);
                if (b == 0) {
                        int res[2] = { sandbox_die_with_parent(self), (int) getpid() };

                        write_all(report[1], res, sizeof res);
                        for (;;)
                                pause();
                }
                read_all(go[0], &c, 1);
                _exit(EXIT_SUCCESS); /* B is still running: no leak check here */
        }
        close(report[1]);
        close(go[0]);

        int res[2];
        read_all(report[0], res, sizeof res);
        close(report[0]);
        b = res[1];
        ASSERT_OK(res[0]);
        pidfd = (int) syscall(SYS_pidfd_open, b, 0);
        ASSERT_TRUE(pidfd >= 0);

        write_all(go[1], "x", 1);
        close(go[1]);
        ASSERT_EQ(waitpid(a, &status, 0), a);
        assert_exited_ok("parent A", status);

        pfd = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        r = poll(&pfd, 1, 60 * 1000);
        if (r <= 0) {
                (void) kill(b, SIGKILL);
                (void) waitpid(b, &status, 0);
                test_fail("B outlived its parent");
        }
        ASSERT_EQ(waitpid(b, &status, 0), b);
        assert_killed_by("B after its parent died", status, SIGKILL);

        ASSERT_TRUE(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) == 0);
        return 0;
}

/* ---- seccomp: the manager's workload under the filter --------------------------------------- */

typedef struct Workload {
        sd_event *event;
        sd_bus *bus;
        int child_pipe;         /* write end: tells the grandchild to exit */
        bool timer_fired, signal_seen, child_exited, bus_id_seen, bus_name_owned;
        int child_status;
} Workload;

static bool workload_done(const Workload *w) {
        return w->timer_fired && w->signal_seen && w->child_exited &&
                (!w->bus || (w->bus_id_seen && w->bus_name_owned));
}

static void workload_check_done(Workload *w) {
        if (workload_done(w))
                ASSERT_OK(sd_event_exit(w->event, 0));
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Workload *w = userdata;

        w->timer_fired = true;
        /* a signal for the signal source, and the grandchild may go */
        ASSERT_TRUE(kill(getpid(), SIGUSR1) == 0);
        write_all(w->child_pipe, "x", 1);
        w->child_pipe = safe_close(w->child_pipe);
        workload_check_done(w);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        test_fail("the workload did not finish in time");
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Workload *w = userdata;

        ASSERT_EQ(si->ssi_signo, SIGUSR1);
        w->signal_seen = true;
        workload_check_done(w);
        return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Workload *w = userdata;

        ASSERT_EQ(si->si_code, CLD_EXITED);
        w->child_status = si->si_status;
        w->child_exited = true;
        workload_check_done(w);
        return 0;
}

static int on_bus_id(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Workload *w = userdata;
        const char *id;

        ASSERT_FALSE(sd_bus_message_is_method_error(m, NULL));
        ASSERT_OK(sd_bus_message_read(m, "s", &id));
        ASSERT_EQ(strlen(id), 32);
        w->bus_id_seen = true;
        workload_check_done(w);
        return 0;
}

static int on_bus_name(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Workload *w = userdata;

        ASSERT_FALSE(sd_bus_message_is_method_error(m, NULL));
        w->bus_name_owned = true;
        workload_check_done(w);
        return 0;
}

static void workload_proc(void) {
        _cleanup_free_ char *status = NULL, *maps = NULL, *stat1 = NULL, *cgroup = NULL;
        char exe[4096];
        struct dirent *de;
        unsigned pids = 0;
        DIR *d;

        ASSERT_OK(read_full_file("/proc/self/status", READ_FULL_MAX_DEFAULT, &status, NULL));
        ASSERT_NOT_NULL(strstr(status, "\nSeccomp:\t2\n"));
        ASSERT_OK(read_full_file("/proc/self/maps", READ_FULL_MAX_DEFAULT, &maps, NULL));
        ASSERT_OK(read_full_file("/proc/1/stat", READ_FULL_MAX_DEFAULT, &stat1, NULL));
        ASSERT_OK(read_full_file("/proc/self/cgroup", READ_FULL_MAX_DEFAULT, &cgroup, NULL));
        ASSERT_TRUE(readlink("/proc/self/exe", exe, sizeof exe) > 0);

        d = opendir("/proc");
        ASSERT_NOT_NULL(d);
        while ((de = readdir(d)))
                if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
                        pids++;
        closedir(d);
        ASSERT_TRUE(pids >= 2);

        /* cgroupfs accounting reads, where this host has them */
        static const char *const cgfiles[] = {
                "/sys/fs/cgroup/memory/memory.stat",
                "/sys/fs/cgroup/memory.stat",
                "/sys/fs/cgroup/unified/cgroup.controllers",
                "/sys/fs/cgroup/cgroup.controllers",
        };
        for (size_t i = 0; i < ELEMENTSOF(cgfiles); i++) {
                _cleanup_free_ char *c = NULL;
                int r = read_full_file(cgfiles[i], READ_FULL_MAX_DEFAULT, &c, NULL);
                ASSERT_TRUE(r >= 0 || r == -ENOENT);
        }
}

static void workload_netlink(void) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0 };
        socklen_t salen = sizeof sa;
        int bufsize = 1024 * 1024;
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize) == 0);
        /* joining the proc connector's group may need CAP_NET_ADMIN on older kernels */
        ASSERT_TRUE(bind(fd, (struct sockaddr *) &sa, sizeof sa) == 0 || errno == EPERM);
        ASSERT_TRUE(getsockname(fd, (struct sockaddr *) &sa, &salen) == 0);
}

static void workload_metrics(const char *dir) {
        _cleanup_free_ char *path = NULL, *back = NULL;
        static const char text[] = "# TYPE mlockd_locked_bytes gauge\nmlockd_locked_bytes 4096\n";

        ASSERT_TRUE(asprintf(&path, "%s/mlockd.prom", dir) > 0);
        ASSERT_OK(write_file_atomic(path, text, strlen(text), 0644));
        ASSERT_OK(read_full_file(path, READ_FULL_MAX_DEFAULT, &back, NULL));
        ASSERT_STREQ(back, text);
        ASSERT_TRUE(unlink(path) == 0);
}

static void workload_memory(void) {
        static const size_t sizes[] = { 16, 4096, 100000, 8 * 1024 * 1024 };
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                char *p = malloc(sizes[i]);
                ASSERT_NOT_NULL(p);
                memset(p, 'x', sizes[i]);
                p = realloc(p, sizes[i] * 2);
                ASSERT_NOT_NULL(p);
                free(p);
        }
}

static char workload_dir[] = "/tmp/test-sandbox.XXXXXX";

static void child_seccomp_workload(void) {
        static const cap_value_t manager_caps[] = { CAP_NET_ADMIN };
        Workload w = { .child_pipe = -EBADF };
        sigset_t mask;
        uint64_t now;
        int p[2];
        pid_t grandchild;

        /* what the manager holds: its injector is forked before the filter, so is this child */
        ASSERT_TRUE(pipe2(p, O_CLOEXEC) == 0);
        grandchild = fork();
        ASSERT_TRUE(grandchild >= 0);
        if (grandchild == 0) {
                char c;
                close(p[1]);
                read_all(p[0], &c, 1);
                _exit(7);
        }
        close(p[0]);
        w.child_pipe = p[1];

        if (have_capabilities(manager_caps, ELEMENTSOF(manager_caps)))
                ASSERT_OK(sandbox_keep_capabilities(manager_caps, ELEMENTSOF(manager_caps)));
        ASSERT_OK(sandbox_no_new_privs());
        ASSERT_OK(sandbox_apply_seccomp(false));
        ASSERT_EQ(status_field("Seccomp"), 2);
        ASSERT_EQ(status_field("NoNewPrivs"), 1);

        workload_proc();
        workload_netlink();
        workload_metrics(workload_dir);
        workload_memory();

        /* the event loop the manager runs */
        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGCHLD);
        ASSERT_TRUE(sigprocmask(SIG_BLOCK, &mask, NULL) == 0);

        ASSERT_OK(sd_event_new(&w.event));
        ASSERT_OK(sd_event_set_watchdog(w.event, true));
        ASSERT_OK(sd_event_now(w.event, CLOCK_MONOTONIC, &now));
        ASSERT_OK(sd_event_add_time(w.event, NULL, CLOCK_MONOTONIC, now + 10 * 1000, 0, on_timer, &w));
        ASSERT_OK(sd_event_add_time(w.event, NULL, CLOCK_MONOTONIC, now + 120 * 1000 * 1000, 0,
                                    on_timeout, &w));
        ASSERT_OK(sd_event_add_signal(w.event, NULL, SIGUSR1, on_signal, &w));
        ASSERT_OK(sd_event_add_child(w.event, NULL, grandchild, WEXITED, on_child, &w));

        if (bus_address) {
                ASSERT_OK(sd_bus_new(&w.bus));
                ASSERT_OK(sd_bus_set_address(w.bus, bus_address));
                ASSERT_OK(sd_bus_set_bus_client(w.bus, true));
                ASSERT_OK(sd_bus_negotiate_creds(w.bus, true, SD_BUS_CREDS_PID | SD_BUS_CREDS_EUID));
                ASSERT_OK(sd_bus_start(w.bus));
                ASSERT_OK(sd_bus_attach_event(w.bus, w.event, SD_EVENT_PRIORITY_NORMAL));
                ASSERT_OK(sd_bus_call_method_async(w.bus, NULL, "org.freedesktop.DBus",
                                                   "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                                   "GetId", on_bus_id, &w, NULL));
                ASSERT_OK(sd_bus_request_name_async(w.bus, NULL, "org.mlockd1.SandboxTest", 0,
                                                    on_bus_name, &w));
        } else
                fprintf(stderr, "# no private dbus-daemon: sd-bus part of the workload skipped\n");

        ASSERT_OK(sd_event_loop(w.event));
        ASSERT_TRUE(workload_done(&w));
        ASSERT_EQ(w.child_status, 7);

        w.bus = sd_bus_flush_close_unref(w.bus);
        w.event = sd_event_unref(w.event);

#ifdef HAVE_SANITIZERS
        /* LSan stops the world (clone, ptrace, wait4) under the filter; it must survive it and
         * find nothing. It runs once more at exit. */
        ASSERT_EQ(__lsan_do_recoverable_leak_check(), 0);
#endif
}

static pid_t start_dbus_daemon(const char *dir) {
        _cleanup_free_ char *conf = NULL, *text = NULL, *sock = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        pid_t pid;

        ASSERT_TRUE(asprintf(&conf, "%s/bus.conf", dir) > 0);
        ASSERT_TRUE(asprintf(&sock, "%s/bus", dir) > 0);
        ASSERT_TRUE(asprintf(&text,
                             "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n"
                             " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                             "<busconfig>\n"
                             "  <listen>unix:path=%s</listen>\n"
                             "  <auth>EXTERNAL</auth>\n"
                             "  <policy context=\"default\">\n"
                             "    <allow user=\"*\"/><allow own=\"*\"/>\n"
                             "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                             "    <allow receive_sender=\"*\"/>\n"
                             "  </policy>\n"
                             "</busconfig>\n", sock) > 0);
        ASSERT_OK(write_file_atomic(conf, text, strlen(text), 0644));
        ASSERT_TRUE(strlen(sock) < sizeof sa.sun_path);
        strcpy(sa.sun_path, sock);

        fflush(NULL);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                _cleanup_free_ char *arg = NULL;
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                /* quiet: it complains it cannot raise its fd limit without CAP_SYS_RESOURCE */
                if (null >= 0) {
                        (void) dup2(null, STDOUT_FILENO);
                        (void) dup2(null, STDERR_FILENO);
                }
                if (asprintf(&arg, "--config-file=%s", conf) < 0)
                        _exit(EXIT_TEST_ERROR);
                execlp("dbus-daemon", "dbus-daemon", "--nofork", "--nopidfile", arg, (char *) NULL);
                _exit(127);
        }

        /* wait (generously: the machine is shared) until it accepts connections */
        for (unsigned i = 0; i < 3000; i++) {
                _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                int status;

                ASSERT_TRUE(fd >= 0);
                if (connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0) {
                        ASSERT_TRUE(asprintf(&bus_address, "unix:path=%s", sock) > 0);
                        return pid;
                }
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return 0; /* not installed, or failed: no bus part */
                usleep(10 * 1000);
        }
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        return 0;
}

static int test_seccomp_workload(void) {
        int status;
        pid_t bus_pid;

        ASSERT_NOT_NULL(mkdtemp(workload_dir));
        bus_pid = start_dbus_daemon(workload_dir);

        ASSERT_OK(run_child(child_seccomp_workload, &status));

        if (bus_pid > 0) {
                ASSERT_TRUE(kill(bus_pid, SIGTERM) == 0);
                ASSERT_EQ(waitpid(bus_pid, NULL, 0), bus_pid);
        }
        {
                _cleanup_free_ char *conf = NULL, *sock = NULL;
                ASSERT_TRUE(asprintf(&conf, "%s/bus.conf", workload_dir) > 0);
                ASSERT_TRUE(asprintf(&sock, "%s/bus", workload_dir) > 0);
                (void) unlink(conf);
                (void) unlink(sock);
                (void) rmdir(workload_dir);
        }
        free(bus_address);
        bus_address = NULL;

        assert_exited_ok("workload under the manager's filter", status);
        return 0;
}

/* ---- seccomp: what the filter refuses --------------------------------------------------------- */

static bool log_only;

static void enter_filter(void) {
        ASSERT_OK(sandbox_no_new_privs());
        ASSERT_OK(sandbox_apply_seccomp(log_only));
        ASSERT_EQ(status_field("Seccomp"), 2);
}

static void forbidden_reboot(void) {
        enter_filter();
        /* bad magic numbers: refused with EINVAL (or EPERM) even where it is let through */
        ASSERT_TRUE(syscall(SYS_reboot, 0, 0, 0, 0) < 0);
}

static void forbidden_mount(void) {
        enter_filter();
        ASSERT_TRUE(mount("none", "/nonexistent-mlockd-test", "tmpfs", 0, NULL) < 0);
}

static void forbidden_inet_socket(void) {
        int fd;

        enter_filter();
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        safe_close(fd);
}

static void forbidden_prlimit_other(void) {
        struct rlimit rl;

        enter_filter();
        /* reading its own limits is allowed, another process's is not */
        ASSERT_TRUE(prlimit(0, RLIMIT_MEMLOCK, NULL, &rl) == 0);
        (void) prlimit(getppid(), RLIMIT_MEMLOCK, NULL, &rl);
}

static void forbidden_process_madvise(void) {
        enter_filter();
        (void) syscall(SYS_process_madvise, -1, NULL, 0, 0, 0);
}

static void forbidden_capset(void) {
        /* capset(2) itself, with the capabilities we hold: sandbox_keep_capabilities() would stop
         * before it, at PR_CAPBSET_DROP, when we lack CAP_SETPCAP (not root) */
        cap_t caps = cap_get_proc();

        enter_filter();
        (void) cap_set_proc(caps);
        cap_free(caps);         /* --debug-seccomp: the child lives on to exit(), LSan looks */
}

#ifndef HAVE_SANITIZERS
static void forbidden_ptrace(void) {
        enter_filter();
        (void) syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL);
}

static void forbidden_execve(void) {
        enter_filter();
        execl("/bin/true", "true", (char *) NULL);
}
#endif

static const struct {
        const char *name;
        void (*fn)(void);
} forbidden[] = {
        { "reboot", forbidden_reboot },
        { "mount", forbidden_mount },
        { "socket(AF_INET)", forbidden_inet_socket },
        { "prlimit64(other pid)", forbidden_prlimit_other },
        { "process_madvise", forbidden_process_madvise },
        { "capset", forbidden_capset },
#ifndef HAVE_SANITIZERS
        { "ptrace", forbidden_ptrace },
        { "execve", forbidden_execve },
#endif
};

static int test_seccomp_forbidden(void) {
        for (size_t i = 0; i < ELEMENTSOF(forbidden); i++) {
                int status;

                log_only = false;
                ASSERT_OK(run_child(forbidden[i].fn, &status));
                assert_killed_by(forbidden[i].name, status, SIGSYS);

                /* --debug-seccomp: logged, not killed */
                log_only = true;
                ASSERT_OK(run_child(forbidden[i].fn, &status));
                assert_exited_ok(forbidden[i].name, status);
        }
        return 0;
}

int main(void) {
        struct rlimit no_core = {};
        int r, skipped = 0;

        /* children killed by SIGSYS would otherwise dump core into the build tree */
        ASSERT_TRUE(setrlimit(RLIMIT_CORE, &no_core) == 0);
        alarm(900);

        r = test_capabilities();
        skipped += r == EXIT_TEST_SKIP;
        test_nnp_and_parent_death();
        test_seccomp_workload();
        test_seccomp_forbidden();

        if (skipped)
                fprintf(stderr, "# %d test(s) skipped for lack of capabilities\n", skipped);
        return EXIT_SUCCESS;
}
