/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mapwatch.c on a real child: its descriptor stays quiet while the child only runs, and turns
 * readable, the ring's head moved, after the child maps anonymous memory, grows its heap with brk,
 * or maps a file; a thread of the child is not watched (only the thread named); the descriptor
 * reports the end of the process (POLLHUP). Skips where perf events are refused (a container's
 * seccomp profile, no CAP_PERFMON and a high perf_event_paranoid). */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mapwatch.h"
#include "tests.h"

enum { CMD_NOTHING = 'n', CMD_ANON = 'a', CMD_BRK = 'b', CMD_FILE = 'f', CMD_THREAD = 't', CMD_EXIT = 'x' };

static int child_cmd, child_done;
static void child(int cmd, int done);

static void *thread_serves(void *arg) {
        child(child_cmd, child_done);
        return NULL;
}

/* The child: one command a byte on cmd, one byte back on done when it is carried out. CMD_THREAD
 * hands the loop to a new thread (the watched one then only waits). */
static void child(int cmd, int done) {
        char c;

        child_cmd = cmd;
        child_done = done;

        while (read(cmd, &c, 1) == 1) {
                switch (c) {
                case CMD_ANON:
                        (void) !mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        break;
                case CMD_BRK:
                        (void) !sbrk(1 << 20);
                        break;
                case CMD_FILE: {
                        int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
                        (void) !mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
                        close(fd);
                        break;
                }
                case CMD_THREAD: {
                        pthread_t t;

                        (void) !write(done, &c, 1);
                        if (pthread_create(&t, NULL, thread_serves, NULL) == 0)
                                pthread_join(t, NULL);
                        _exit(0);
                }
                case CMD_EXIT:
                        _exit(0);
                }
                (void) !write(done, &c, 1);
        }
        _exit(0);
}

static void command(int cmd, int done, char c) {
        ASSERT_EQ(write(cmd, &c, 1), 1);
        ASSERT_EQ(read(done, &c, 1), 1);
}

static short poll_watch(MapWatch *w, int ms) {
        struct pollfd p = { .fd = w->fd, .events = POLLIN };

        return poll(&p, 1, ms) > 0 ? p.revents : 0;
}

static int skip_with(pid_t child_pid, const char *why, int r) {
        kill(child_pid, SIGKILL);
        waitpid(child_pid, NULL, 0);
        fprintf(stderr, "%s: %s\n", why, strerror(-r));
        return EXIT_TEST_SKIP;
}

int main(void) {
        _cleanup_(mapwatch_freep) MapWatch *w = NULL;
        int to_child[2], from_child[2], fd = -1, warm = -1, r, status;
        pid_t pid;

        ASSERT_OK(pipe2(to_child, O_CLOEXEC));
        ASSERT_OK(pipe2(from_child, O_CLOEXEC));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0)
                child(to_child[0], from_child[1]);

        ASSERT_ERROR(mapwatch_open(0, &fd), EINVAL);
        r = mapwatch_keep_warm(&warm);
        if (r >= 0)
                ASSERT_TRUE(warm >= 0);
        r = mapwatch_open(pid, &fd);
        if (r == -EACCES || r == -EPERM || r == -ENOSYS || r == -ENOENT || r == -EOPNOTSUPP)
                return skip_with(pid, "perf_event_open refused here", r);
        ASSERT_OK(r);
        r = mapwatch_new(fd, &w);
        if (r == -EPERM)
                return skip_with(pid, "the perf ring cannot be mapped here (perf_event_mlock_kb, RLIMIT_MEMLOCK)", r);
        ASSERT_OK(r);
        ASSERT_FALSE(mapwatch_moved(w));

        /* running without mapping: quiet */
        command(to_child[1], from_child[0], CMD_NOTHING);
        ASSERT_EQ(poll_watch(w, 50), 0);
        ASSERT_FALSE(mapwatch_moved(w));

        /* each kind of new mapping wakes the poller once, and moves the head */
        const char kinds[] = { CMD_ANON, CMD_BRK, CMD_FILE };
        for (size_t i = 0; i < sizeof kinds; i++) {
                command(to_child[1], from_child[0], kinds[i]);
                ASSERT_TRUE(poll_watch(w, 1000) & POLLIN);
                ASSERT_TRUE(mapwatch_moved(w));
                ASSERT_FALSE(mapwatch_moved(w));
                ASSERT_EQ(poll_watch(w, 20), 0); /* level-triggered, but only until polled */
        }

        /* only the thread named is watched: the stack its creator maps for a new thread is seen,
         * what the new thread maps itself is not (so the manager stops relying on a watch once
         * the process has another thread) */
        command(to_child[1], from_child[0], CMD_THREAD);
        command(to_child[1], from_child[0], CMD_NOTHING); /* served by the new thread */
        ASSERT_TRUE(poll_watch(w, 1000) & POLLIN);
        ASSERT_TRUE(mapwatch_moved(w));
        command(to_child[1], from_child[0], CMD_ANON);
        ASSERT_EQ(poll_watch(w, 50), 0);
        ASSERT_FALSE(mapwatch_moved(w));

        /* the end of the process */
        ASSERT_EQ(write(to_child[1], &(char) { CMD_EXIT }, 1), 1);
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(poll_watch(w, 1000) & POLLHUP);

        w = mapwatch_free(w);
        ASSERT_TRUE(mapwatch_free(NULL) == NULL);
        if (warm >= 0)
                close(warm);
        ASSERT_ERROR(mapwatch_new(-1, &w), EINVAL);
        return 0;
}
