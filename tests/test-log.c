/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging: "<N>" prefixes on a non-terminal stderr; log_target_result() as a plain line without a
 * journal, and with one, the fields as the journal receives them. The journal case runs the real
 * sd_journal_send() against a datagram socket of our own at /run/systemd/journal/socket, in a
 * private mount namespace (a tmpfs over /run that only this process sees): that is the socket
 * path libsystemd has built in, so nothing here is a fake of its protocol. Needs root for the
 * namespace; without it that part is skipped with a message. It runs once more under the
 * manager's seccomp allowlist (daemon/sandbox.c), which must let sd_journal_send() through. */

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "sandbox.h"
#include "tests.h"

static char stderr_path[] = "/tmp/test-log-XXXXXX";

/* stderr to a fresh file; returns what was written since the last call */
static char *stderr_take(void) {
        char *text = NULL;

        fflush(stderr);
        ASSERT_OK(read_full_file(stderr_path, 1 << 20, &text, NULL));
        ASSERT_EQ(truncate(stderr_path, 0), 0);
        ASSERT_EQ(lseek(STDERR_FILENO, 0, SEEK_SET), 0);
        return text;
}

static void test_plain(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        unsetenv("JOURNAL_STREAM");
        ASSERT_FALSE(log_journal_is_stderr());
        log_warning("plain %d", 1);
        a = stderr_take();
        ASSERT_STREQ(a, "<4>plain 1\n");

        log_target_result(LOG_NOTICE, "redis", 42, "redis-server", "partial", "rlimit",
                          "Process %d (%s), policy %s: %s.", 42, "redis-server", "redis", "partial:rlimit");
        b = stderr_take();
        ASSERT_STREQ(b, "<5>Process 42 (redis-server), policy redis: partial:rlimit.\n");

        /* below the level: nothing */
        log_target_result(LOG_DEBUG, "redis", 42, "x", "locked", NULL, "hidden");
        c = stderr_take();
        ASSERT_STREQ(c, "");

        /* JOURNAL_STREAM naming another file is not our stderr */
        setenv("JOURNAL_STREAM", "1:2", 1);
        ASSERT_FALSE(log_journal_is_stderr());
        setenv("JOURNAL_STREAM", "garbage", 1);
        ASSERT_FALSE(log_journal_is_stderr());
        unsetenv("JOURNAL_STREAM");
}

/* Parse one native-protocol datagram ("KEY=value\n", or "KEY\n" + le64 size + data + "\n") and
 * return the value of key, NULL when absent. */
static char *field(const char *d, size_t n, const char *key) {
        size_t kl = strlen(key), i = 0;

        while (i < n) {
                const char *nl = memchr(d + i, '\n', n - i), *eq;
                size_t len;

                if (!nl)
                        return NULL;
                len = (size_t) (nl - (d + i));
                eq = memchr(d + i, '=', len);
                if (eq) {
                        if ((size_t) (eq - (d + i)) == kl && memcmp(d + i, key, kl) == 0)
                                return strndup(eq + 1, (size_t) (nl - eq - 1));
                        i += len + 1;
                        continue;
                }
                /* binary form */
                {
                        uint64_t size;
                        bool match = len == kl && memcmp(d + i, key, kl) == 0;

                        i += len + 1;
                        if (i + 8 > n)
                                return NULL;
                        memcpy(&size, d + i, 8);
                        i += 8;
                        if (i + size > n)
                                return NULL;
                        if (match)
                                return strndup(d + i, size);
                        i += size + 1;
                }
        }
        return NULL;
}

#define ASSERT_FIELD(d, n, key, want)                                                      \
        do {                                                                             \
                _cleanup_free_ char *_v_ = field(d, n, key);                             \
                if (!_v_ || strcmp(_v_, want) != 0)                                      \
                        test_fail("%s=%s, expected %s", key, _v_ ?: "(missing)", want);  \
        } while (0)

static void test_journal(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };
        _cleanup_free_ char *rest = NULL;
        char buf[65536], stream[64];
        struct stat st;
        ssize_t n;
        int fd;

        if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0) {
                fprintf(stdout, "# journal case skipped: no private mount namespace (needs root)\n");
                return;
        }
        ASSERT_EQ(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        ASSERT_EQ(mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"), 0);
        ASSERT_EQ(mkdir("/run/systemd", 0755), 0);
        ASSERT_EQ(mkdir("/run/systemd/journal", 0755), 0);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);

        /* stderr is "the journal's stream", as systemd says with JOURNAL_STREAM */
        ASSERT_EQ(fstat(STDERR_FILENO, &st), 0);
        snprintf(stream, sizeof stream, "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
        setenv("JOURNAL_STREAM", stream, 1);
        ASSERT_TRUE(log_journal_is_stderr());

        log_target_result(LOG_WARNING, "redis", 4242, "redis\nserver", "skipped", "seccomp:unreadable",
                          "Process %d, policy %s: %s.", 4242, "redis", "skipped:seccomp:unreadable");
        n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        ASSERT_TRUE(n > 0);
        ASSERT_FIELD(buf, (size_t) n, "MESSAGE", "Process 4242, policy redis: skipped:seccomp:unreadable.");
        ASSERT_FIELD(buf, (size_t) n, "PRIORITY", "4");
        ASSERT_FIELD(buf, (size_t) n, "MESSAGE_ID", LOG_MESSAGE_ID_TARGET_RESULT);
        ASSERT_FIELD(buf, (size_t) n, "POLICY", "redis");
        ASSERT_FIELD(buf, (size_t) n, "TARGET_PID", "4242");
        ASSERT_FIELD(buf, (size_t) n, "TARGET_COMM", "redis\nserver"); /* binary-safe form */
        ASSERT_FIELD(buf, (size_t) n, "STATE", "skipped");
        ASSERT_FIELD(buf, (size_t) n, "REASON", "seccomp:unreadable");
        ASSERT_FIELD(buf, (size_t) n, "SYSLOG_IDENTIFIER", program_invocation_short_name);
        rest = stderr_take();
        ASSERT_STREQ(rest, ""); /* not twice */

        /* locked, no reason */
        log_target_result(LOG_INFO, "db", 7, "postgres", "locked", NULL, "locked it");
        n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        ASSERT_TRUE(n > 0);
        ASSERT_FIELD(buf, (size_t) n, "PRIORITY", "6");
        ASSERT_FIELD(buf, (size_t) n, "STATE", "locked");
        ASSERT_FIELD(buf, (size_t) n, "REASON", "");

        /* the same under the manager's seccomp allowlist: sd_journal_send() must not be killed */
        {
                pid_t child = fork();
                int status;

                ASSERT_TRUE(child >= 0);
                if (child == 0) {
                        if (sandbox_no_new_privs() < 0 || sandbox_apply_seccomp(false) < 0)
                                _exit(3);
                        log_target_result(LOG_NOTICE, "db", 8, "postgres", "partial", "budget", "confined");
                        _exit(0);
                }
                ASSERT_EQ(waitpid(child, &status, 0), child);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        test_fail("the confined child ended with status 0x%x (SIGSYS is %d)", status, SIGSYS);
                n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                ASSERT_TRUE(n > 0);
                ASSERT_FIELD(buf, (size_t) n, "MESSAGE", "confined");
                ASSERT_FIELD(buf, (size_t) n, "REASON", "budget");
        }

        /* the journal gone: the line goes to stderr instead of being lost */
        ASSERT_EQ(unlink(sa.sun_path), 0);
        log_target_result(LOG_NOTICE, "db", 7, "postgres", "partial", "budget", "fallback");
        free(rest);
        rest = stderr_take();
        ASSERT_STREQ(rest, "<5>fallback\n");
        close(fd);
        unsetenv("JOURNAL_STREAM");
}

int main(void) {
        int fd;

        fd = mkstemp(stderr_path);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
        close(fd);

        test_plain();
        test_journal();
        unlink(stderr_path);
        return 0;
}
