/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maps.c: the parser on fixtures (tests/data/maps/), selection and sums, then the kernel's own
 * maps of a started tests/helpers/target and of this process after mlock2(MLOCK_ONFAULT). */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "maps.h"
#include "strv.h"
#include "tests.h"

#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)

static Maps *parse_fixture(const char *name) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        Maps *m = NULL;

        ASSERT_TRUE(asprintf(&path, "%s/maps/%s", test_data_dir(), name) > 0);
        ASSERT_OK(read_full_file(path, 16 * MiB, &text, NULL));
        ASSERT_OK(maps_parse(text, &m));
        return m;
}

static int parse_fixture_error(const char *name) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_(maps_freep) Maps *m = NULL;
        int r;

        ASSERT_TRUE(asprintf(&path, "%s/maps/%s", test_data_dir(), name) > 0);
        ASSERT_OK(read_full_file(path, 16 * MiB, &text, NULL));
        r = maps_parse(text, &m);
        if (r < 0)
                ASSERT_NULL(m); /* ret untouched on failure */
        return r;
}

static void test_basic(void) {
        _cleanup_(maps_freep) Maps *m = parse_fixture("basic.maps");
        const MapsRegion *r;

        ASSERT_EQ(m->n, 23);
        ASSERT_FALSE(m->smaps);

        /* /usr/bin/bash read-only header: file-backed, kind 0, lockable */
        r = &m->regions[0];
        ASSERT_EQ_U64(r->start, 0x55d0c2a00000ULL);
        ASSERT_EQ_U64(r->end, 0x55d0c2a2e000ULL);
        ASSERT_EQ(r->prot, PROT_READ);
        ASSERT_FALSE(r->shared);
        ASSERT_EQ(r->dev_major, 0xfe);
        ASSERT_EQ(r->dev_minor, 0);
        ASSERT_EQ_U64(r->inode, 1310789);
        ASSERT_STREQ(r->path, "/usr/bin/bash");
        ASSERT_FALSE(r->deleted);
        ASSERT_EQ(r->kind, 0);
        ASSERT_TRUE(r->lockable);
        ASSERT_EQ_U64(r->rss, 0);
        ASSERT_EQ(r->vmflags, 0);

        r = &m->regions[1]; /* text */
        ASSERT_EQ(r->prot, PROT_READ | PROT_EXEC);
        ASSERT_EQ_U64(r->offset, 0x2e000);
        ASSERT_EQ(r->kind, REGION_TEXT);
        ASSERT_EQ(m->regions[4].kind, REGION_DATA); /* rw-p of the binary: .data */
        ASSERT_EQ_U64(m->regions[4].offset, 0x14a000);

        r = &m->regions[5]; /* .bss tail: anonymous, trailing space after the inode */
        ASSERT_NULL(r->path);
        ASSERT_EQ(r->kind, REGION_ANON);
        ASSERT_TRUE(r->lockable);

        ASSERT_STREQ(m->regions[6].path, "[heap]");
        ASSERT_EQ(m->regions[6].kind, REGION_HEAP);

        /* a thread arena and its PROT_NONE reserve */
        ASSERT_EQ(m->regions[7].kind, REGION_ANON);
        ASSERT_TRUE(m->regions[7].lockable);
        ASSERT_EQ(m->regions[8].prot, 0);
        ASSERT_EQ(m->regions[8].kind, REGION_ANON);
        ASSERT_FALSE(m->regions[8].lockable);

        /* shmem that is anonymous to the user */
        r = &m->regions[9];
        ASSERT_STREQ(r->path, "/dev/zero");
        ASSERT_TRUE(r->deleted);
        ASSERT_TRUE(r->shared);
        ASSERT_EQ(r->dev_minor, 1);
        ASSERT_EQ(r->kind, REGION_ANON);
        ASSERT_STREQ(m->regions[10].path, "/memfd:jit");
        ASSERT_EQ(m->regions[10].kind, REGION_ANON);
        ASSERT_EQ(m->regions[11].kind, REGION_ANON);
        ASSERT_STREQ(m->regions[12].path, "/SYSV0000abcd");
        ASSERT_EQ(m->regions[12].kind, REGION_ANON);
        ASSERT_STREQ(m->regions[13].path, "[anon:glibc malloc arena]");
        ASSERT_EQ(m->regions[13].kind, REGION_ANON);

        /* paths with spaces, deleted files, escaped newlines, " (deleted)" not at the end */
        r = &m->regions[14];
        ASSERT_STREQ(r->path, "/srv/data files/my db.bin");
        ASSERT_FALSE(r->deleted);
        ASSERT_TRUE(r->shared);
        ASSERT_EQ(r->dev_major, 8);
        ASSERT_EQ(r->dev_minor, 1);
        ASSERT_EQ(r->kind, 0);
        r = &m->regions[15];
        ASSERT_STREQ(r->path, "/srv/data/old.bin");
        ASSERT_TRUE(r->deleted);
        ASSERT_EQ(r->kind, REGION_DATA);
        ASSERT_EQ_U64(r->offset, 0x1000);
        ASSERT_STREQ(m->regions[16].path, "/tmp/new\nline");
        ASSERT_STREQ(m->regions[17].path, "/opt/app/lib (deleted)/libx.so");
        ASSERT_FALSE(m->regions[17].deleted);
        ASSERT_EQ(m->regions[17].kind, REGION_TEXT);

        ASSERT_EQ(m->regions[18].kind, REGION_STACK);
        ASSERT_TRUE(m->regions[18].lockable);

        /* kernel special mappings */
        for (size_t i = 19; i < 23; i++) {
                ASSERT_EQ(m->regions[i].kind, 0);
                ASSERT_FALSE(m->regions[i].lockable);
        }
        ASSERT_STREQ(m->regions[19].path, "[vvar]");
        ASSERT_STREQ(m->regions[20].path, "[vvar_vclock]");
        ASSERT_STREQ(m->regions[21].path, "[vdso]");
        ASSERT_STREQ(m->regions[22].path, "[vsyscall]");
        ASSERT_EQ_U64(m->regions[22].start, 0xffffffffff600000ULL);
        ASSERT_EQ(m->regions[22].prot, PROT_EXEC);

        ASSERT_TRUE(maps_find(m, 0x55d0c3c1b000ULL) == &m->regions[6]);
        ASSERT_TRUE(maps_find(m, 0x55d0c3d8dfffULL) == &m->regions[6]);
        ASSERT_NULL(maps_find(m, 0x55d0c3d8e000ULL));
        ASSERT_EQ_U64(maps_locked_bytes(m, 0, UINT64_MAX), 0);
}

static void test_selection(void) {
        _cleanup_(maps_freep) Maps *m = parse_fixture("basic.maps");
        _cleanup_strv_free_ char **globs = NULL;
        const MapsRegion *bash_ro = &m->regions[0], *text = &m->regions[1], *data = &m->regions[4],
                         *bss = &m->regions[5], *heap = &m->regions[6], *guard = &m->regions[8],
                         *shm = &m->regions[9], *spaced = &m->regions[14], *stack = &m->regions[18],
                         *vdso = &m->regions[21];

        ASSERT_TRUE(maps_region_selected(text, REGION_TEXT, NULL));
        ASSERT_FALSE(maps_region_selected(text, REGION_DATA | REGION_ANON, NULL));
        ASSERT_TRUE(maps_region_selected(data, REGION_DATA, NULL));
        ASSERT_FALSE(maps_region_selected(data, REGION_TEXT, NULL));
        ASSERT_TRUE(maps_region_selected(bss, REGION_ANON, NULL));
        ASSERT_TRUE(maps_region_selected(shm, REGION_ANON, NULL));
        ASSERT_TRUE(maps_region_selected(heap, REGION_HEAP, NULL));
        ASSERT_FALSE(maps_region_selected(heap, REGION_ANON, NULL));
        ASSERT_TRUE(maps_region_selected(stack, REGION_STACK, NULL));
        ASSERT_FALSE(maps_region_selected(stack, REGION_HEAP | REGION_ANON | REGION_TEXT, NULL));
        /* read-only file data is only in "all" or a file: glob */
        ASSERT_FALSE(maps_region_selected(bash_ro, _REGION_MASK & ~REGION_ALL, NULL));
        ASSERT_TRUE(maps_region_selected(bash_ro, REGION_ALL, NULL));
        /* never what cannot be locked, not even with "all" */
        ASSERT_FALSE(maps_region_selected(vdso, _REGION_MASK, NULL));
        ASSERT_FALSE(maps_region_selected(guard, REGION_ALL | REGION_ANON, NULL));

        ASSERT_OK(strv_extend(&globs, "/usr/bin/ba*"));
        ASSERT_OK(strv_extend(&globs, "/srv/*.bin"));
        ASSERT_TRUE(maps_region_selected(bash_ro, REGION_FILE, globs));
        ASSERT_TRUE(maps_region_selected(spaced, REGION_FILE, globs)); /* '*' crosses '/' */
        ASSERT_FALSE(maps_region_selected(heap, REGION_FILE, globs));
        ASSERT_FALSE(maps_region_selected(&m->regions[16], REGION_FILE, globs));
        /* anonymous shmem is not a file, even for a glob that matches its pseudo-path */
        ASSERT_OK(strv_extend(&globs, "/dev/*"));
        ASSERT_FALSE(maps_region_selected(shm, REGION_FILE, globs));
}

static void test_smaps_fields(void) {
        _cleanup_(maps_freep) Maps *m = parse_fixture("flags.smaps");
        const MapsRegion *r;

        ASSERT_EQ(m->n, 6);
        ASSERT_TRUE(m->smaps);

        r = &m->regions[0];
        ASSERT_EQ(r->kind, REGION_TEXT);
        ASSERT_EQ_U64(r->rss, 1024 * KiB);
        ASSERT_EQ_U64(r->locked, 512 * KiB);
        ASSERT_EQ_U64(r->swap, 0);
        ASSERT_EQ(r->vmflags, VMFLAG_LOCKED);
        ASSERT_TRUE(r->lockable);

        r = &m->regions[1];
        ASSERT_EQ(r->kind, REGION_ANON);
        ASSERT_EQ_U64(r->rss, 8 * MiB);
        ASSERT_EQ_U64(r->swap, 4 * MiB);
        ASSERT_EQ_U64(r->locked, 8 * MiB);
        ASSERT_EQ(r->vmflags, VMFLAG_LOCKED | VMFLAG_LOCKONFAULT);

        /* VM_IO|VM_PFNMAP (/dev/mem), VM_DONTEXPAND|VM_MIXEDMAP (a driver), hugetlb */
        r = &m->regions[2];
        ASSERT_EQ(r->vmflags, VMFLAG_SHARED | VMFLAG_IO | VMFLAG_DONTEXPAND | VMFLAG_PFNMAP);
        ASSERT_FALSE(r->lockable);
        ASSERT_FALSE(maps_region_selected(r, REGION_ALL, NULL));
        ASSERT_EQ(m->regions[3].vmflags, VMFLAG_SHARED | VMFLAG_DONTEXPAND | VMFLAG_MIXEDMAP);
        ASSERT_FALSE(m->regions[3].lockable);
        ASSERT_EQ(m->regions[4].vmflags, VMFLAG_SHARED | VMFLAG_HUGETLB);
        ASSERT_FALSE(m->regions[4].lockable);

        r = &m->regions[5];
        ASSERT_EQ(r->kind, REGION_STACK);
        ASSERT_EQ(r->vmflags, 0); /* gd, ac: not tracked */
        ASSERT_TRUE(r->lockable);

        ASSERT_EQ_U64(maps_locked_bytes(m, 0, UINT64_MAX), 8 * MiB + 512 * KiB);
        /* whole regions overlapping the range: one byte of the first region is enough */
        ASSERT_EQ_U64(maps_locked_bytes(m, 0x5fffff, 0x600000), 512 * KiB);
        ASSERT_EQ_U64(maps_locked_bytes(m, 0x600000, 0x7f0000000000ULL), 0);
        ASSERT_EQ_U64(maps_locked_bytes(m, 0x7f0000000000ULL, 0x7f0000000001ULL), 8 * MiB);
        ASSERT_EQ_U64(maps_locked_bytes(NULL, 0, UINT64_MAX), 0);
}

static void test_real_fixture(void) {
        _cleanup_(maps_freep) Maps *m = parse_fixture("target.maps"), *s = parse_fixture("target.smaps");
        unsigned vdso = 0, stack = 0;

        /* the same process, read as maps and as smaps: same regions */
        ASSERT_EQ(m->n, 92);
        ASSERT_EQ(s->n, m->n);
        for (size_t i = 0; i < m->n; i++) {
                ASSERT_EQ_U64(m->regions[i].start, s->regions[i].start);
                ASSERT_EQ_U64(m->regions[i].end, s->regions[i].end);
                ASSERT_EQ(m->regions[i].kind, s->regions[i].kind);
                ASSERT_TRUE(streq_ptr(m->regions[i].path, s->regions[i].path));
                if (streq_ptr(s->regions[i].path, "[vdso]"))
                        vdso++;
                if (s->regions[i].kind == REGION_STACK)
                        stack++;
        }
        ASSERT_EQ(vdso, 1);
        ASSERT_EQ(stack, 1);
        /* --anon 8M --touch 4M: the (merged, 9 MiB) region holding 0x7f7abd400000 has 4556 kB */
        ASSERT_EQ_U64(maps_find(s, 0x7f7abd400000ULL)->rss, 4556 * KiB);
        ASSERT_EQ_U64(maps_find(s, 0x7f7abd400000ULL)->end - 0x7f7abd400000ULL, 9 * MiB);
}

static void test_bad_input(void) {
        _cleanup_(maps_freep) Maps *m = NULL;

        ASSERT_ERROR(parse_fixture_error("bad-truncated.maps"), EBADMSG);
        ASSERT_ERROR(parse_fixture_error("bad-perms.maps"), EBADMSG);
        ASSERT_ERROR(parse_fixture_error("bad-reversed.maps"), EBADMSG);
        ASSERT_ERROR(parse_fixture_error("bad-field-first.smaps"), EBADMSG);
        ASSERT_ERROR(parse_fixture_error("bad-unit.smaps"), EBADMSG);
        ASSERT_ERROR(parse_fixture_error("bad-overlap.maps"), EBADMSG);
        ASSERT_ERROR(parse_fixture_error("bad-garbage.maps"), EBADMSG);
        ASSERT_ERROR(parse_fixture_error("bad-overflow.maps"), EBADMSG);
        ASSERT_ERROR(parse_fixture_error("bad-prefix.maps"), EBADMSG);
        ASSERT_ERROR(maps_parse("1000-2000 r--p 00000000 00:00 0x\n", &m), EBADMSG);
        ASSERT_ERROR(maps_parse("1000-2000 r--p 00000000 00:00 0\nRss: 4\n", &m), EBADMSG);
        ASSERT_ERROR(maps_parse("1000-2000 r--p 00000000 00:00 0\nRss: -4 kB\n", &m), EBADMSG);
        ASSERT_ERROR(maps_parse("1000-2000 r--p 00000000 00:00 0\nRss: 99999999999999999999 kB\n", &m), EBADMSG);
        ASSERT_ERROR(maps_parse("1000-2000 r--p 00000000 00:00 0\nR$s: 4 kB\n", &m), EBADMSG);
        ASSERT_ERROR(maps_parse("1000-2000 r--p 00000000 00:00 0\n: 4 kB\n", &m), EBADMSG);
        ASSERT_ERROR(maps_parse("1000-2000 r--p", &m), EBADMSG);
        ASSERT_ERROR(maps_parse("1000-1000 r--p 00000000 00:00 0\n", &m), EBADMSG);
        ASSERT_ERROR(maps_parse("10000000000000000-10000000000000001 r--p 00000000 00:00 0\n", &m), EBADMSG);
        ASSERT_ERROR(maps_parse(NULL, &m), EINVAL);
        ASSERT_NULL(m);

        /* empty: a kernel thread, or a process that exited between open and read */
        m = parse_fixture("empty.maps");
        ASSERT_EQ(m->n, 0);
        m = maps_free(m);

        /* unknown smaps fields of newer kernels are accepted and ignored */
        ASSERT_OK(maps_parse("1000-2000 r--p 00000000 00:00 0\nFuture_Field:    7 kB\nWeird: x y z\n", &m));
        ASSERT_EQ(m->n, 1);
        ASSERT_TRUE(m->smaps);
        ASSERT_EQ(m->regions[0].kind, REGION_ANON);
}

/* Mutated real smaps text (fixed seed): an error or a result, never a crash (ASan, UBSan). */
static void test_fuzz(void) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        unsigned seed = 4242;
        size_t size;

        ASSERT_TRUE(asprintf(&path, "%s/maps/flags.smaps", test_data_dir()) > 0);
        ASSERT_OK(read_full_file(path, 1 * MiB, &text, &size));

        for (int i = 0; i < 5000; i++) {
                static const char alphabet[] = "0123456789abcdef-: \n()[]kBVmFlags/xp";
                _cleanup_(maps_freep) Maps *m = NULL;
                _cleanup_free_ char *copy = strndup(text, (size_t) rand_r(&seed) % (size + 1));
                size_t len;
                int r;

                ASSERT_NOT_NULL(copy);
                len = strlen(copy);
                for (int k = rand_r(&seed) % 6; k >= 0 && len > 0; k--)
                        copy[(size_t) rand_r(&seed) % len] = alphabet[(size_t) rand_r(&seed) % (sizeof alphabet - 1)];
                r = maps_parse(copy, &m);
                ASSERT_TRUE(r == 0 || r == -EBADMSG);
                if (r == 0)
                        for (size_t j = 0; j < m->n; j++)
                                ASSERT_TRUE(m->regions[j].start < m->regions[j].end);
        }
}

/* Start tests/helpers/target with args, read its ready line. */
static pid_t start_target(char *const argv[], uint64_t *ret_anon, uint64_t *ret_file) {
        int pipefd[2];
        char line[256] = {};
        size_t len = 0;
        pid_t pid;
        unsigned long long anon = 0, file = 0;
        int p;

        ASSERT_OK(pipe2(pipefd, O_CLOEXEC));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                dup2(pipefd[1], STDOUT_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        close(pipefd[1]);
        while (len < sizeof line - 1) {
                ssize_t n = read(pipefd[0], line + len, sizeof line - 1 - len);
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (memchr(line, '\n', len))
                        break;
        }
        close(pipefd[0]);
        if (sscanf(line, "ready pid=%d anon=%llx file=%llx", &p, &anon, &file) != 3 || p != pid) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                test_fail("target did not become ready: \"%s\"", line);
        }
        *ret_anon = anon;
        *ret_file = file;
        return pid;
}

static void test_real_target(void) {
        const char *target = getenv("TARGET") ?: "./tests/helpers/target";
        char *const argv[] = { (char *) target, (char *) "--anon", (char *) "64M", (char *) "--touch",
                               (char *) "16M", (char *) "--file", (char *) "/usr/bin/bash", NULL };
        _cleanup_(maps_freep) Maps *s = NULL, *m = NULL;
        _cleanup_free_ char *exe = NULL, *bash = NULL;
        const MapsRegion *anon, *file;
        uint64_t anon_addr, file_addr;
        bool text_seen = false, vdso_seen = false;
        struct stat st;
        pid_t pid;
        int r;

        if (access(target, X_OK) < 0) {
                fprintf(stderr, "SKIP: no target helper at %s\n", target);
                return;
        }
        exe = realpath(target, NULL);
        bash = realpath("/usr/bin/bash", NULL);
        ASSERT_NOT_NULL(exe);
        ASSERT_NOT_NULL(bash);
        ASSERT_OK(stat(bash, &st));

        pid = start_target(argv, &anon_addr, &file_addr);
        r = maps_read("/proc", pid, true, &s);
        if (r >= 0)
                r = maps_read("/proc", pid, false, &m);
        kill(pid, SIGKILL);
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
        ASSERT_OK(r);
        ASSERT_TRUE(s->smaps);
        ASSERT_FALSE(m->smaps);

        anon = maps_find(s, anon_addr);
        ASSERT_NOT_NULL(anon);
        ASSERT_NULL(anon->path);
        ASSERT_EQ(anon->kind, REGION_ANON);
        ASSERT_EQ(anon->prot, PROT_READ | PROT_WRITE);
        ASSERT_TRUE(anon->lockable);
        ASSERT_TRUE(anon->end - anon_addr >= 64 * MiB); /* may have merged with a neighbour */
        /* 16 MiB touched; THP may round up to a 2 MiB boundary, a merged neighbour may add a bit */
        ASSERT_TRUE(anon->rss >= 16 * MiB && anon->rss <= 16 * MiB + 4 * MiB);
        ASSERT_EQ_U64(anon->locked, 0);
        ASSERT_TRUE(maps_region_selected(anon, REGION_ANON, NULL));
        ASSERT_FALSE(maps_region_selected(anon, REGION_TEXT | REGION_DATA | REGION_HEAP | REGION_STACK, NULL));

        file = maps_find(s, file_addr);
        ASSERT_NOT_NULL(file);
        ASSERT_EQ_U64(file->start, file_addr);
        ASSERT_STREQ(file->path, bash);
        ASSERT_EQ(file->kind, 0);
        ASSERT_EQ(file->prot, PROT_READ);
        ASSERT_EQ(file->dev_major, major(st.st_dev));
        ASSERT_EQ(file->dev_minor, minor(st.st_dev));
        ASSERT_EQ_U64(file->inode, st.st_ino);
        ASSERT_EQ_U64(file->offset, 0);
        ASSERT_TRUE(file->rss > 0); /* the target read every page */
        ASSERT_TRUE(maps_region_selected(file, REGION_ALL, NULL));
        ASSERT_FALSE(maps_region_selected(file, REGION_TEXT | REGION_DATA | REGION_ANON, NULL));
        {
                char *globs[] = { (char *) "/usr/*/bash", NULL };
                ASSERT_TRUE(maps_region_selected(file, REGION_FILE, globs));
        }

        for (size_t i = 0; i < s->n; i++) {
                const MapsRegion *x = &s->regions[i];

                if (streq_ptr(x->path, exe) && (x->prot & PROT_EXEC)) {
                        ASSERT_EQ(x->kind, REGION_TEXT);
                        text_seen = true;
                }
                if (streq_ptr(x->path, "[vdso]")) {
                        ASSERT_FALSE(x->lockable);
                        vdso_seen = true;
                }
                if (x->prot == 0)
                        ASSERT_FALSE(x->lockable);
                if (x->kind == REGION_STACK)
                        ASSERT_TRUE(x->lockable);
        }
        ASSERT_TRUE(text_seen);
        ASSERT_TRUE(vdso_seen);

        /* maps and smaps agree */
        ASSERT_EQ(m->n, s->n);
        for (size_t i = 0; i < m->n; i++) {
                ASSERT_EQ_U64(m->regions[i].start, s->regions[i].start);
                ASSERT_EQ(m->regions[i].kind, s->regions[i].kind);
        }

        /* the process is gone now */
        s = maps_free(s);
        ASSERT_ERROR(maps_read("/proc", pid, true, &s), ESRCH);
        ASSERT_NULL(s);
}

/* smaps Locked: and VmFlags lo lf, as the kernel reports them for our own lock-on-fault area */
static void test_real_locked(void) {
        _cleanup_(maps_freep) Maps *s = NULL;
        const size_t size = 4 * MiB, touched = 1 * MiB;
        const MapsRegion *r;
        char *p;

        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(p != MAP_FAILED);
        ASSERT_OK(madvise(p, size, MADV_NOHUGEPAGE)); /* keep Locked: exact */
        if (mlock2(p, size, MLOCK_ONFAULT) < 0) {
                fprintf(stderr, "SKIP: mlock2(MLOCK_ONFAULT): %m\n");
                munmap(p, size);
                return;
        }
        for (size_t off = 0; off < touched; off += 4096)
                p[off] = 1;

        ASSERT_OK(maps_read("/proc", getpid(), true, &s));
        r = maps_find(s, (uint64_t) (uintptr_t) p);
        ASSERT_NOT_NULL(r);
        ASSERT_EQ_U64(r->start, (uint64_t) (uintptr_t) p);
        ASSERT_EQ_U64(r->end - r->start, size);
        ASSERT_EQ(r->vmflags & (VMFLAG_LOCKED | VMFLAG_LOCKONFAULT), VMFLAG_LOCKED | VMFLAG_LOCKONFAULT);
        ASSERT_EQ_U64(r->rss, touched);
        ASSERT_EQ_U64(r->locked, touched);
        ASSERT_EQ_U64(maps_locked_bytes(s, r->start, r->end), touched);
        /* ASan intercepts munlock() as a no-op: call the kernel directly */
        ASSERT_OK(syscall(SYS_munlock, p, size));
        s = maps_free(s);

        ASSERT_OK(maps_read("/proc", getpid(), true, &s));
        r = maps_find(s, (uint64_t) (uintptr_t) p);
        ASSERT_NOT_NULL(r);
        ASSERT_EQ(r->vmflags & (VMFLAG_LOCKED | VMFLAG_LOCKONFAULT), 0);
        ASSERT_EQ_U64(r->locked, 0);
        munmap(p, size);
}

int main(void) {
        test_basic();
        test_selection();
        test_smaps_fields();
        test_real_fixture();
        test_bad_input();
        test_fuzz();
        test_real_target();
        test_real_locked();
        return 0;
}
