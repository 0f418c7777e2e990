/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The injector client against fake injectors (forked children speaking the protocol): replies are
 * paired by serial and a stale one is dropped; a request with no answer is a timeout that kills
 * the injector, checks the target and hands over to the spare; a dead last injector is reported. */

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "injector-client.h"
#include "tests.h"

/* A fake injector on fd: answers each request with r = -(serial), except that when stale is set it
 * first sends a reply with a wrong serial, and it never answers a STEP (a stuck call). */
static void fake_serve(int fd, bool stale) {
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

static Injector *fake_injector(bool stale) {
        Injector *i = NULL;
        int fds[2];
        pid_t pid;

        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                fake_serve(fds[1], stale);
        }
        close(fds[1]);
        ASSERT_OK(injector_from_fd(fds[0], pid, &i));
        return i;
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

        /* a cancelled call gets no handler */
        {
                InjectorCall *call = NULL;
                int before = seen.n;

                ASSERT_OK(injector_client_submit(c, &req, -EBADF, USEC_PER_SEC, on_reply, e, &call));
                injector_client_cancel(c, call);
                ASSERT_OK(injector_client_submit(c, &req, -EBADF, USEC_PER_SEC, on_reply, e, NULL));
                run_until_reply(e);
                ASSERT_EQ(seen.n, before + 1);
                ASSERT_EQ(seen.last_r, -5);
        }

        /* the spare dies: noticed at once, and no injector is left */
        ASSERT_OK(kill(spare_pid, SIGKILL));
        while (!seen.lost)
                ASSERT_TRUE(sd_event_run(e, 10 * USEC_PER_SEC) >= 0);
        ASSERT_ERROR(injector_client_submit(c, &req, -EBADF, USEC_PER_SEC, on_reply, e, NULL), ENOTCONN);

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
        return 0;
}
