/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pagecount PID [START-END ...]: what the kernel did to each page of PID's ranges (every mapping
 * when none is given; ranges in hex as in /proc/PID/maps), from pagemap + kpageflags (needs
 * CAP_SYS_ADMIN). Prints one line of key=value counts, in base pages:
 *   pages= present= swapped= mlocked= unevictable= large= thp= large_not_mlocked= zero= page_size=
 * With MEMCG_INO=N in the environment also memcg_mlocked= (pages mlocked and charged to that
 * memory cgroup's inode). Exit 77 with the reason when kpageflags is unreadable, 1 on error. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pageflags.h"

static int count_range(PageFlags *p, uint64_t start, uint64_t end, uint64_t ino, PageCounts *c) {
        const char *reason = NULL;
        uint64_t ps = pageflags_page_size(p);
        int r;

        start &= ~(ps - 1);
        end = (end + ps - 1) & ~(ps - 1);
        r = pageflags_count(p, start, end, ino, c, &reason);
        if (r < 0) {
                fprintf(stderr, "pagecount: %" PRIx64 "-%" PRIx64 ": %s%s%s\n", start, end, strerror(-r),
                        reason ? ": " : "", reason ?: "");
                exit(reason && strstr(reason, "unreadable") ? 77 : 1);
        }
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(pageflags_freep) PageFlags *p = NULL;
        const char *reason = NULL, *e = getenv("MEMCG_INO");
        uint64_t ino = e ? strtoull(e, NULL, 10) : 0;
        PageCounts c = {};
        pid_t pid;
        int r;

        if (argc < 2) {
                fprintf(stderr, "usage: pagecount PID [START-END ...]\n");
                return 2;
        }
        pid = (pid_t) atoi(argv[1]);
        r = pageflags_open("/proc", pid, ino ? PAGEFLAGS_CGROUP : 0, &p, &reason);
        if (r < 0) {
                fprintf(stderr, "pagecount: %d: %s%s%s\n", (int) pid, strerror(-r), reason ? ": " : "",
                        reason ?: "");
                return reason && strstr(reason, "unreadable") ? 77 : 1;
        }

        if (argc > 2)
                for (int i = 2; i < argc; i++) {
                        uint64_t s, t;

                        if (sscanf(argv[i], "%" SCNx64 "-%" SCNx64, &s, &t) != 2 || t < s) {
                                fprintf(stderr, "pagecount: bad range %s\n", argv[i]);
                                return 2;
                        }
                        count_range(p, s, t, ino, &c);
                }
        else {
                char path[64], line[4096];
                FILE *f;

                snprintf(path, sizeof path, "/proc/%d/maps", (int) pid);
                f = fopen(path, "re");
                if (!f) {
                        fprintf(stderr, "pagecount: %s: %m\n", path);
                        return 1;
                }
                while (fgets(line, sizeof line, f)) {
                        uint64_t s, t;

                        /* [vsyscall] is outside the user address space pagemap covers */
                        if (strstr(line, "[vsyscall]") ||
                            sscanf(line, "%" SCNx64 "-%" SCNx64, &s, &t) != 2)
                                continue;
                        count_range(p, s, t, ino, &c);
                }
                fclose(f);
        }

        printf("pages=%" PRIu64 " present=%" PRIu64 " swapped=%" PRIu64 " mlocked=%" PRIu64
               " unevictable=%" PRIu64 " large=%" PRIu64 " thp=%" PRIu64 " large_not_mlocked=%" PRIu64
               " zero=%" PRIu64 " page_size=%" PRIu64,
               c.pages, c.present, c.swapped, c.mlocked, c.unevictable, c.large, c.thp,
               c.large_not_mlocked, c.zero, pageflags_page_size(p));
        if (ino)
                printf(" memcg_mlocked=%" PRIu64, c.memcg_mlocked);
        putchar('\n');
        return 0;
}
