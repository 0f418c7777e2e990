/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A workload for the tests: maps memory as asked, prints one "ready" line, then waits in the
 * requested way until killed (or, for modes that finish, prints a result and exits).
 *
 *   target [--anon SIZE] [--touch SIZE] [--file PATH] [--mode MODE]
 *
 * --anon SIZE     an anonymous private mapping of SIZE bytes (K/M/G suffixes)
 * --touch SIZE    write to the first SIZE bytes of it
 * --file PATH     map PATH read-only and read every page
 * --mode pause    (default) sleep in pause() forever
 *        spin     burn CPU forever
 * The ready line: "ready pid=PID anon=ADDR file=ADDR" on stdout, flushed. */

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t parse_size_arg(const char *s) {
        char *end;
        uint64_t v = strtoull(s, &end, 10);

        switch (*end) {
        case 'G': case 'g': v <<= 30; break;
        case 'M': case 'm': v <<= 20; break;
        case 'K': case 'k': v <<= 10; break;
        case '\0': break;
        default:
                fprintf(stderr, "bad size %s\n", s);
                exit(2);
        }
        return v;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "anon", required_argument, NULL, 'a' },
                { "touch", required_argument, NULL, 't' },
                { "file", required_argument, NULL, 'f' },
                { "mode", required_argument, NULL, 'm' },
                {},
        };
        uint64_t anon_size = 0, touch = 0;
        const char *file = NULL, *mode = "pause";
        void *anon = NULL, *fmap = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'a': anon_size = parse_size_arg(optarg); break;
                case 't': touch = parse_size_arg(optarg); break;
                case 'f': file = optarg; break;
                case 'm': mode = optarg; break;
                default: return 2;
                }

        if (anon_size > 0) {
                anon = mmap(NULL, anon_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (anon == MAP_FAILED) {
                        perror("mmap anon");
                        return 1;
                }
                if (touch > anon_size)
                        touch = anon_size;
                for (uint64_t off = 0; off < touch; off += 4096)
                        ((volatile char *) anon)[off] = 1;
        }

        if (file) {
                struct stat st;
                int fd = open(file, O_RDONLY | O_CLOEXEC);

                if (fd < 0 || fstat(fd, &st) < 0) {
                        perror(file);
                        return 1;
                }
                fmap = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
                if (fmap == MAP_FAILED) {
                        perror("mmap file");
                        return 1;
                }
                close(fd);
                for (off_t off = 0; off < st.st_size; off += 4096)
                        (void) ((volatile char *) fmap)[off];
        }

        printf("ready pid=%d anon=%p file=%p\n", (int) getpid(), anon, fmap);
        fflush(stdout);

        if (strcmp(mode, "spin") == 0)
                for (volatile uint64_t i = 0;; i++)
                        ;
        if (strcmp(mode, "pause") == 0)
                for (;;)
                        pause();

        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
}
