/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The injector client against fake injectors (forked children speaking the protocol): replies are
 * paired by serial and a stale one is dropped; a request with no answer is a timeout that kills
 * the injector, checks the target and hands over to the spare; a dead last injector is reported.
 * Pipelining: up to INJECTOR_CLIENT_MAX_IN_FLIGHT requests in flight and no more, a deadline counted
 * from when a call is the oldest, and on a loss the replies sent before it are taken, the call the
 * injector was in fails, and those behind it go to the spare.
 * Socket mode against a fake injector service: the greeting names the server, a lost server is
 * replaced by a new connection, a refusing one is reported lost. */

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "injector-client.h"
#include "injector-socket.h"
#include "tests.h"

/* A fake injector on fd: answers each request with r = -(serial), except that when stale is set it
 * first sends a reply with a wrong serial, and it never answers a STEP (a stuck call). */
static _noreturn_ void fake_serve(int fd, bool stale) {
        for (;;) {
                InjectorRequest req;
                InjectorReply reply = {};
                ssize_t n = recv(fd, &req, sizeof req, 0);

                if (n <= 0)
                        _exit(0);
                if (req.op == INJECTOR_OP_STEP)
                        for (;;)
                                pause();
                if (stale) {
                        reply.serial = req.serial + 1000;
                        (void) send(fd, &reply, sizeof reply, 0);
                        stale = false;
                }
                reply.serial = req.serial;
                reply.r = -(int32_t) req.serial;
                (void) send(fd, &reply, sizeof reply, 0);
        }
}

typedef enum FakeMode {
        FAKE_PLAIN,     /* fake_serve() */
        FAKE_STALE,     /* fake_serve(), a stale reply first */
        FAKE_BATCH,     /* reads requests until it has MAX_IN_FLIGHT, then answers them: result 1 if
                           one more was already waiting */
        FAKE_SLOW,      /* 100 ms per request */
        FAKE_DIE,       /* answers, but exits at a PRECHECK and never answers a STEP */
} FakeMode;

static _noreturn_ void fake_serve_mode(int fd, FakeMode mode) {
        InjectorRequest req[INJECTOR_CLIENT_MAX_IN_FLIGHT];

        for (;;) {
                size_t n = mode == FAKE_BATCH ? INJECTOR_CLIENT_MAX_IN_FLIGHT : 1;
                bool more;

                for (size_t k = 0; k < n; k++)
                        if (recv(fd, &req[k], sizeof req[k], 0) <= 0)
                                _exit(0);
                more = poll(&(struct pollfd) { .fd = fd, .events = POLLIN }, 1, 100) > 0;
                for (size_t k = 0; k < n; k++) {
                        InjectorReply reply = { .serial = req[k].serial, .r = -(int32_t) req[k].serial };

                        if (mode == FAKE_SLOW)
                                usleep(100 * 1000);
                        if (mode == FAKE_DIE && req[k].op == INJECTOR_OP_PRECHECK)
                                _exit(0);
                        if (mode == FAKE_DIE && req[k].op == INJECTOR_OP_STEP)
                                for (;;)
                                        pause();
                        reply.result = mode == FAKE_BATCH && more;
                        (void) send(fd, &reply, sizeof reply, 0);
                }
                if (mode == FAKE_BATCH)
                        mode = FAKE_SLOW;
        }
}

static Injector *fake_injector_mode(FakeMode mode) {
        Injector *i = NULL;
        int fds[2];
        pid_t pid;

        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                if (mode == FAKE_PLAIN || mode == FAKE_STALE)
                        fake_serve(fds[1], mode == FAKE_STALE);
                fake_serve_mode(fds[1], mode);
        }
        close(fds[1]);
        ASSERT_OK(injector_from_fd(fds[0], pid, &i));
        return i;
}

static Injector *fake_injector(bool stale) {
        return fake_injector_mode(stale ? FAKE_STALE : FAKE_PLAIN);
}

static struct {
        int n, last_r;
        bool lost;
} seen;

static void on_reply(int r, const InjectorReply *reply, int fd, void *userdata) {
        seen.n++;
        seen.last_r = r;
        if (fd >= 0)
                close(fd);
}

static void on_lost(InjectorClient *c, void *userdata) {
        seen.lost = true;
}

static void run_until_reply(sd_event *e) {
        int before = seen.n;

        while (seen.n == before && !seen.lost)
                ASSERT_TRUE(sd_event_run(e, 10 * USEC_PER_SEC) >= 0);
}

/* Each call's own answer, by the index passed as its userdata. */
static struct {
        int n[16], r[16];
        int64_t result[16];
        int total;
} calls;

static void on_call_reply(int r, const InjectorReply *reply, int fd, void *userdata) {
        size_t k = (size_t) (uintptr_t) userdata;

        calls.n[k]++;
        calls.r[k] = r;
        calls.result[k] = reply ? reply->result : -1;
        calls.total++;
        if (fd >= 0)
                close(fd);
}

static void run_until_calls(sd_event *e, int total) {
        while (calls.total < total && !seen.lost)
                ASSERT_TRUE(sd_event_run(e, 10 * USEC_PER_SEC) >= 0);
}

static void submit_calls(InjectorClient *c, InjectorRequest *req, size_t from, size_t to, usec_t timeout) {
        for (size_t k = from; k < to; k++)
                ASSERT_OK(injector_client_submit(c, req, -EBADF, timeout, on_call_reply, (void *) (uintptr_t) k,
                                                 NULL));
}

/* A FAKE_DIE injector and a spare, requests of these ops (a STEP with a deadline of 200 ms) all at
 * once, until each is answered. */
static InjectorClient *run_dying(sd_event *e, pid_t target, const uint32_t *ops, size_t n) {
        InjectorRequest req = { .magic = INJECTOR_MAGIC, .pid = target };
        InjectorClient *c = NULL;

        calls = (typeof(calls)) {};
        ASSERT_OK(injector_client_new(e, fake_injector_mode(FAKE_DIE), fake_injector(false), on_lost, NULL, &c));
        for (size_t k = 0; k < n; k++) {
                req.op = ops[k];
                submit_calls(c, &req, k, k + 1, ops[k] == INJECTOR_OP_STEP ? 200 * USEC_PER_MSEC : 5 * USEC_PER_SEC);
        }
        run_until_calls(e, (int) n);
        ASSERT_FALSE(seen.lost);
        return c;
}

static void test_pipeline(pid_t target) {
        InjectorRequest req = { .magic = INJECTOR_MAGIC, .op = INJECTOR_OP_EXE, .pid = target };
        InjectorClient *c = NULL;
        sd_event *e = NULL;
        const size_t max = INJECTOR_CLIENT_MAX_IN_FLIGHT;

        ASSERT_OK(sd_event_new(&e));
        seen.lost = false;

        /* the fake answers only once it holds max requests: sent one at a time, none would be
         * answered; the one after them is not sent until one is answered */
        calls = (typeof(calls)) {};
        ASSERT_OK(injector_client_new(e, fake_injector_mode(FAKE_BATCH), NULL, on_lost, NULL, &c));
        submit_calls(c, &req, 0, max + 2, 5 * USEC_PER_SEC);
        ASSERT_EQ(injector_client_queued(c), max + 2);
        run_until_calls(e, (int) max + 2);
        ASSERT_FALSE(seen.lost);
        for (size_t k = 0; k < max + 2; k++) {
                ASSERT_EQ(calls.n[k], 1);
                ASSERT_EQ(calls.r[k], -(int) (k + 1)); /* serials from 1, in order */
        }
        for (size_t k = 0; k < max; k++)
                ASSERT_EQ(calls.result[k], 0); /* no more than max were in flight */
        ASSERT_EQ_U64(injector_client_dropped(c), 0);
        ASSERT_EQ(injector_client_queued(c), 0);

        /* 100 ms each, all in flight at once, a deadline of 400 ms each: had it counted from the
         * send, the fifth would time out; counted from when each is the oldest, none does */
        calls = (typeof(calls)) {};
        submit_calls(c, &req, 0, 6, 400 * USEC_PER_MSEC);
        run_until_calls(e, 6);
        for (size_t k = 0; k < 6; k++)
                ASSERT_EQ(calls.r[k], -(int) (max + 3 + k));
        ASSERT_EQ(injector_client_restarts(c), 0);
        c = injector_client_free(c);

        /* a STEP stuck as the oldest with three behind it in flight: it alone fails (-ETIMEDOUT,
         * its target found running), the three are sent to the spare and answered there */
        c = run_dying(e, target, (const uint32_t[]) { INJECTOR_OP_EXE, INJECTOR_OP_STEP, INJECTOR_OP_EXE,
                                                      INJECTOR_OP_EXE, INJECTOR_OP_EXE }, 5);
        ASSERT_EQ(calls.r[0], -1);
        ASSERT_EQ(calls.r[1], -ETIMEDOUT);
        for (size_t k = 2; k < 5; k++) {
                ASSERT_EQ(calls.n[k], 1);
                ASSERT_EQ(calls.r[k], -(int) (k + 1));
        }
        ASSERT_EQ(injector_client_restarts(c), 1);
        c = injector_client_free(c);

        /* the injector answers the first and dies in the second, a third waiting: the first keeps
         * its answer (read after the death), the second fails as safe to retry, the third goes to
         * the spare */
        c = run_dying(e, target, (const uint32_t[]) { INJECTOR_OP_EXE, INJECTOR_OP_PRECHECK, INJECTOR_OP_EXE }, 3);
        ASSERT_EQ(calls.r[0], -1);
        ASSERT_EQ(calls.r[1], -ECONNRESET);
        ASSERT_EQ(calls.n[2], 1);
        ASSERT_EQ(calls.r[2], -3);
        ASSERT_EQ(injector_client_restarts(c), 1);
        c = injector_client_free(c);

        sd_event_unref(e);
}

/* A fake injector service on a listening socket: each connection is served by a child that
 * greets and then answers as fake_serve(); the third connection is refused. */
static _noreturn_ void fake_listener(int lfd) {
        for (unsigned n = 1;; n++) {
                InjectorReply hello = { .serial = 0 };
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0)
                        _exit(1);
                if (n == 3) {
                        hello.r = -EPERM;
                        snprintf(hello.reason, sizeof hello.reason, "not in mlockd.service");
                        (void) send(fd, &hello, sizeof hello, 0);
                        close(fd);
                        continue;
                }
                if (fork() == 0) {
                        close(lfd);
                        hello.result = getpid();
                        hello.advised = (uint64_t) getppid();
                        (void) send(fd, &hello, sizeof hello, 0);
                        fake_serve(fd, false);
                }
                close(fd);
        }
}

static void test_greeting(void) {
        Injector *i = NULL;
        InjectorReply hello = { .result = 1234, .advised = 1000 };
        const char *why = NULL;
        pid_t listener = 0;

        ASSERT_OK(injector_from_fd(-EBADF, 0, &i));
        hello.serial = 7;
        ASSERT_ERROR(injector_socket_greeting(i, &hello, &listener, &why), EBADMSG);
        hello.serial = 0;
        hello.result = 0;
        ASSERT_ERROR(injector_socket_greeting(i, &hello, &listener, &why), EBADMSG);
        hello.result = 1234;
        hello.has_fd = 1;
        ASSERT_ERROR(injector_socket_greeting(i, &hello, &listener, &why), EBADMSG);
        hello.has_fd = 0;
        memset(hello.reason, 'x', sizeof hello.reason); /* unterminated */
        ASSERT_ERROR(injector_socket_greeting(i, &hello, &listener, &why), EBADMSG);
        memset(hello.reason, 0, sizeof hello.reason);
        ASSERT_EQ(injector_pid(i), 0);
        ASSERT_OK(injector_socket_greeting(i, &hello, &listener, &why));
        ASSERT_EQ(injector_pid(i), 1234);
        ASSERT_EQ(listener, 1000);
        hello.r = -EPERM;
        snprintf(hello.reason, sizeof hello.reason, "uid 65534 is not root");
        ASSERT_ERROR(injector_socket_greeting(i, &hello, &listener, &why), EPERM);
        ASSERT_STREQ(why, "uid 65534 is not root");
        injector_set_pid(i, 0);
        injector_free(i);
}

/* A peer on a socket pair is this process: root perhaps, but not in mlockd.service. */
static void test_peer_check(void) {
        _cleanup_free_ char *why = NULL;
        pid_t peer = 0;
        int fds[2], r;

        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds));
        r = injector_peer_check(fds[0], "mlockd-test-nonexistent.service", &peer, &why);
        ASSERT_EQ(r, -EPERM);
        ASSERT_TRUE(why && (strstr(why, "not root") || strstr(why, "not in mlockd-test-nonexistent.service")));
        ASSERT_EQ(peer, 0);
        close(fds[0]);
        close(fds[1]);
}

static void test_socket(void) {
        _cleanup_(injector_client_freep) InjectorClient *c = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        InjectorRequest req = { .magic = INJECTOR_MAGIC, .op = INJECTOR_OP_EXE, .pid = getpid() };
        char dir[] = "/tmp/test-injector-client.XXXXXX";
        pid_t listener;
        sd_event *e = NULL;
        int lfd;

        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/injector.sock", dir);
        lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(lfd >= 0);
        ASSERT_OK(bind(lfd, (struct sockaddr *) &sa, sizeof sa));
        ASSERT_OK(listen(lfd, 8));
        listener = fork();
        ASSERT_TRUE(listener >= 0);
        if (listener == 0)
                fake_listener(lfd);
        close(lfd);

        seen.n = 0;
        seen.lost = false;
        ASSERT_OK(sd_event_new(&e));
        ASSERT_ERROR(injector_client_new_socket(e, "/nonexistent/injector.sock", on_lost, NULL, &c), ENOENT);
        ASSERT_OK(injector_client_new_socket(e, sa.sun_path, on_lost, NULL, &c));
        ASSERT_TRUE(injector_client_is_ours(c, listener));

        /* serial 1 is a STEP never answered: the server is killed, a new connection greets, and
         * serial 2, waiting behind, is answered by the new server */
        req.op = INJECTOR_OP_STEP;
        ASSERT_OK(injector_client_submit(c, &req, -EBADF, 200 * USEC_PER_MSEC, on_reply, e, NULL));
        req.op = INJECTOR_OP_EXE;
        ASSERT_OK(injector_client_submit(c, &req, -EBADF, USEC_PER_SEC, on_reply, e, NULL));
        run_until_reply(e);
        ASSERT_EQ(seen.last_r, -ETIMEDOUT); /* the call that timed out; the rest go on */
        run_until_reply(e);
        ASSERT_EQ(seen.last_r, -2);
        ASSERT_EQ(injector_client_restarts(c), 1);
        ASSERT_FALSE(seen.lost);
        ASSERT_TRUE(injector_client_is_ours(c, listener));

        /* the listener refuses the third connection: lost, nothing left to send to */
        ASSERT_OK(injector_client_submit(c, &req, -EBADF, 50 * USEC_PER_MSEC, on_reply, e, NULL));
        req.op = INJECTOR_OP_STEP;
        ASSERT_OK(injector_client_submit(c, &req, -EBADF, 50 * USEC_PER_MSEC, on_reply, e, NULL));
        run_until_reply(e);
        ASSERT_EQ(seen.last_r, -3);
        while (!seen.lost)
                ASSERT_TRUE(sd_event_run(e, 10 * USEC_PER_SEC) >= 0);
        ASSERT_ERROR(injector_client_submit(c, &req, -EBADF, USEC_PER_SEC, on_reply, e, NULL), ENOTCONN);

        c = injector_client_free(c);
        sd_event_unref(e);
        ASSERT_OK(kill(listener, SIGKILL));
        ASSERT_TRUE(waitpid(listener, NULL, 0) == listener);
        unlink(sa.sun_path);
        rmdir(dir);
}

int main(void) {
        _cleanup_(injector_client_freep) InjectorClient *c = NULL;
        Injector *active = fake_injector(true), *spare = fake_injector(false);
        pid_t active_pid = injector_pid(active), spare_pid = injector_pid(spare), target;
        InjectorRequest req = { .magic = INJECTOR_MAGIC, .op = INJECTOR_OP_EXE };
        sd_event *e = NULL;

        /* the process the requests are about: it sleeps, untraced */
        target = fork();
        ASSERT_TRUE(target >= 0);
        if (target == 0) {
                pause();
                _exit(0);
        }
        req.pid = target;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(injector_client_new(e, active, spare, on_lost, NULL, &c));
        ASSERT_TRUE(injector_client_is_ours(c, active_pid));
        ASSERT_TRUE(injector_client_is_ours(c, spare_pid));
        ASSERT_FALSE(injector_client_is_ours(c, target));

        /* serial 1: a stale reply first, dropped; then its own */
        ASSERT_OK(injector_client_submit(c, &req, -EBADF, USEC_PER_SEC, on_reply, e, NULL));
        run_until_reply(e);
        ASSERT_EQ(seen.last_r, -1);
        ASSERT_EQ_U64(injector_client_dropped(c), 1);

        /* serial 2 is a STEP the fake never answers, serial 3 waits behind it: the timeout kills the
         * injector, the target is found running (-ETIMEDOUT: not to be retried, where a death gives
         * -ECONNRESET), and the spare answers serial 3 */
        req.op = INJECTOR_OP_STEP;
        ASSERT_OK(injector_client_submit(c, &req, -EBADF, 200 * USEC_PER_MSEC, on_reply, e, NULL));
        req.op = INJECTOR_OP_EXE;
        ASSERT_OK(injector_client_submit(c, &req, -EBADF, USEC_PER_SEC, on_reply, e, NULL));
        ASSERT_EQ(injector_client_queued(c), 2);
        run_until_reply(e);
        ASSERT_EQ(seen.last_r, -ETIMEDOUT);
        ASSERT_EQ(injector_client_restarts(c), 1);
        ASSERT_FALSE(injector_client_is_ours(c, active_pid));
        ASSERT_TRUE(kill(active_pid, 0) < 0); /* killed and reaped */
        run_until_reply(e);
        ASSERT_EQ(seen.last_r, -3);
        ASSERT_FALSE(seen.lost);

        /* a cancelled call gets no handler; the pid is the client's while a call about it is
         * queued, cancelled or not, and not once none is */
        {
                InjectorCall *call = NULL;
                int before = seen.n;

                ASSERT_FALSE(injector_client_has_pid(c, target));
                ASSERT_OK(injector_client_submit(c, &req, -EBADF, USEC_PER_SEC, on_reply, e, &call));
                ASSERT_TRUE(injector_client_has_pid(c, target));
                ASSERT_FALSE(injector_client_has_pid(c, target + 1));
                injector_client_cancel(c, call);
                ASSERT_OK(injector_client_submit(c, &req, -EBADF, USEC_PER_SEC, on_reply, e, NULL));
                ASSERT_TRUE(injector_client_has_pid(c, target));
                run_until_reply(e);
                ASSERT_EQ(seen.n, before + 1);
                ASSERT_EQ(seen.last_r, -5);
                ASSERT_EQ(injector_client_queued(c), 0);
                ASSERT_FALSE(injector_client_has_pid(c, target));
        }

        /* the spare dies: noticed at once, and no injector is left */
        ASSERT_OK(kill(spare_pid, SIGKILL));
        while (!seen.lost)
                ASSERT_TRUE(sd_event_run(e, 10 * USEC_PER_SEC) >= 0);
        ASSERT_ERROR(injector_client_submit(c, &req, -EBADF, USEC_PER_SEC, on_reply, e, NULL), ENOTCONN);

        test_pipeline(target);

        /* the target check itself */
        ASSERT_EQ(injector_target_left_stopped("/proc", target), 0);
        ASSERT_OK(kill(target, SIGSTOP));
        for (int k = 0; k < 100 && injector_target_left_stopped("/proc", target) != 1; k++)
                usleep(10000);
        ASSERT_EQ(injector_target_left_stopped("/proc", target), 1);
        ASSERT_OK(kill(target, SIGKILL));
        ASSERT_TRUE(waitpid(target, NULL, 0) == target);
        ASSERT_ERROR(injector_target_left_stopped("/proc", target), ESRCH);

        c = injector_client_free(c);
        sd_event_unref(e);

        test_greeting();
        test_peer_check();
        test_socket();
        return 0;
}
