/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture trees (tests/data/cgroup) for both cgroup versions, then the real kernel: a memory cgroup
 * made below our own, a child that mlocks 4 MiB in it, and the reader's unevictable figure. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "fileio.h"
#include "macro.h"
#include "tests.h"

#define MiB (UINT64_C(1) << 20)

static const char *fixture(const char *sub) {
        static char buf[8192];

        snprintf(buf, sizeof buf, "%s/cgroup/%s", test_data_dir(), sub);
        return buf;
}

static void test_layout(void) {
        CgroupLayout l = {};
        char expect[16384];

        ASSERT_OK(cgroup_layout_detect(fixture("v1"), &l));
        ASSERT_EQ(l.memory_version, CGROUP_V1);
        snprintf(expect, sizeof expect, "%s/memory", fixture("v1"));
        ASSERT_STREQ(l.memory_root, expect);
        cgroup_layout_done(&l);
        ASSERT_NULL(l.memory_root);

        ASSERT_OK(cgroup_layout_detect(fixture("v2"), &l));
        ASSERT_EQ(l.memory_version, CGROUP_V2);
        ASSERT_STREQ(l.memory_root, fixture("v2"));
        cgroup_layout_done(&l);

        /* hybrid with memory on the unified side: the empty v1 memory directory does not count */
        ASSERT_OK(cgroup_layout_detect(fixture("hybrid-unified"), &l));
        ASSERT_EQ(l.memory_version, CGROUP_V2);
        snprintf(expect, sizeof expect, "%s/unified", fixture("hybrid-unified"));
        ASSERT_STREQ(l.memory_root, expect);
        cgroup_layout_done(&l);

        /* ret untouched on failure */
        l = (CgroupLayout) { .memory_version = CGROUP_V2 };
        ASSERT_ERROR(cgroup_layout_detect(fixture("v2-nomemory"), &l), ENOMEDIUM);
        ASSERT_ERROR(cgroup_layout_detect(fixture("none"), &l), ENOMEDIUM);
        ASSERT_ERROR(cgroup_layout_detect(fixture("does-not-exist"), &l), ENOENT);
        ASSERT_ERROR(cgroup_layout_detect("", &l), EINVAL);
        ASSERT_EQ(l.memory_version, CGROUP_V2);
        ASSERT_NULL(l.memory_root);

        ASSERT_STREQ(cgroup_version_to_string(CGROUP_V1), "v1");
        ASSERT_STREQ(cgroup_version_to_string(CGROUP_V2), "v2");
        ASSERT_NULL(cgroup_version_to_string(_CGROUP_VERSION_INVALID));
}

static void test_paths_fixtures(void) {
        _cleanup_(cgroup_paths_done) CgroupPaths p = {};
        const char *proc = fixture("proc");

        /* hybrid, as on this machine */
        ASSERT_OK(cgroup_pid_get_paths(proc, 100, &p));
        ASSERT_STREQ(p.memory, "/system.slice/redis.service");
        ASSERT_STREQ(p.systemd, "/system.slice/redis.service");
        ASSERT_STREQ(p.unified, "/");
        /* unified is "/" and a systemd path exists: the systemd path names the workload */
        ASSERT_STREQ(cgroup_paths_match_path(&p), "/system.slice/redis.service");
        ASSERT_TRUE(cgroup_paths_match_path(&p) == p.systemd);
        cgroup_paths_done(&p);

        /* pure v2: memory lives on the unified hierarchy */
        ASSERT_OK(cgroup_pid_get_paths(proc, 200, &p));
        ASSERT_STREQ(p.unified, "/system.slice/redis.service");
        ASSERT_STREQ(p.memory, "/system.slice/redis.service");
        ASSERT_NULL(p.systemd);
        ASSERT_TRUE(cgroup_paths_match_path(&p) == p.unified);
        cgroup_paths_done(&p);

        /* legacy v1: memory co-mounted with cpu, a colon in the path, no unified line */
        ASSERT_OK(cgroup_pid_get_paths(proc, 300, &p));
        ASSERT_STREQ(p.memory, "/legacy/app: with colon");
        ASSERT_STREQ(p.systemd, "/system.slice/legacy.service");
        ASSERT_NULL(p.unified);
        ASSERT_TRUE(cgroup_paths_match_path(&p) == p.systemd);
        cgroup_paths_done(&p);

        /* a repeated hierarchy: forged by a newline in a path */
        p.memory = strdup("untouched");
        ASSERT_ERROR(cgroup_pid_get_paths(proc, 400, &p), EBADMSG);
        ASSERT_STREQ(p.memory, "untouched");
        cgroup_paths_done(&p);

        /* empty file: the process exited while we read */
        ASSERT_ERROR(cgroup_pid_get_paths(proc, 500, &p), ESRCH);
        ASSERT_ERROR(cgroup_pid_get_paths(proc, 999, &p), ESRCH);
        ASSERT_ERROR(cgroup_pid_get_paths(proc, 0, &p), EINVAL);
        ASSERT_ERROR(cgroup_pid_get_paths(proc, -1, &p), EINVAL);
}

static void test_paths_parse(void) {
        _cleanup_(cgroup_paths_done) CgroupPaths p = {};

        /* the v2 root; no systemd path: unified even though it is "/" */
        ASSERT_OK(cgroup_paths_parse("0::/\n", &p));
        ASSERT_STREQ(p.unified, "/");
        ASSERT_STREQ(p.memory, "/");
        ASSERT_STREQ(cgroup_paths_match_path(&p), "/");
        cgroup_paths_done(&p);

        /* no trailing newline; unified not "/" wins over systemd */
        ASSERT_OK(cgroup_paths_parse("2:name=systemd:/a.slice/b.service\n1:memory:/m\n0::/a.slice/u.scope", &p));
        ASSERT_STREQ(p.memory, "/m");
        ASSERT_STREQ(cgroup_paths_match_path(&p), "/a.slice/u.scope");
        cgroup_paths_done(&p);

        /* missing memory controller: NULL memory, systemd path still found */
        ASSERT_OK(cgroup_paths_parse("3:name=systemd:/s.slice/x.service\n1:cpu,cpuacct:/\n", &p));
        ASSERT_NULL(p.memory);
        ASSERT_NULL(p.unified);
        ASSERT_STREQ(cgroup_paths_match_path(&p), "/s.slice/x.service");
        cgroup_paths_done(&p);

        /* nothing we know: all NULL, and so is the match path */
        ASSERT_OK(cgroup_paths_parse("1:cpu:/x\n", &p));
        ASSERT_NULL(p.memory);
        ASSERT_NULL(cgroup_paths_match_path(&p));
        cgroup_paths_done(&p);
        ASSERT_NULL(cgroup_paths_match_path(NULL));

        /* "memory" must be a whole controller name, "memory_foo" is not it */
        ASSERT_OK(cgroup_paths_parse("5:memory_foo,cpu:/no\n4:net_cls,memory:/yes\n", &p));
        ASSERT_STREQ(p.memory, "/yes");
        cgroup_paths_done(&p);

        /* spaces are kept as they are */
        ASSERT_OK(cgroup_paths_parse("4:memory:/system.slice/odd name with spaces\n0::/ a \n", &p));
        ASSERT_STREQ(p.memory, "/system.slice/odd name with spaces");
        ASSERT_STREQ(p.unified, "/ a ");
        cgroup_paths_done(&p);

        /* A newline inside a path cannot be told from a line break: a path "/a\nb" gives a line
         * "b", a path "/a\n" an empty line, "/a\n4:memory:/b" a second memory entry. All are
         * rejected whole rather than read as "/a". */
        ASSERT_ERROR(cgroup_paths_parse("4:memory:/a\nb\n0::/\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("4:memory:/a\n\n0::/\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("4:memory:/a\n4:memory:/b\n0::/\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("5:memory:/a\n4:memory:/b\n0::/\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("4:memory:/\n0::/a\n0::/b\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("2:name=systemd:/a\n3:name=systemd:/b\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("4:memory:/a\n7:pids:b\n", &p), EBADMSG);

        /* other malformed text */
        ASSERT_ERROR(cgroup_paths_parse("", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("garbage\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("x:memory:/a\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse(":memory:/a\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("-4:memory:/a\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("4:memory\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("4:memory:relative\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse("4::/a\n", &p), EBADMSG);          /* only ID 0 has no controllers */
        ASSERT_ERROR(cgroup_paths_parse("0:memory:/a\n", &p), EBADMSG);    /* ID 0 has none */
        ASSERT_ERROR(cgroup_paths_parse("99999999999999999999:memory:/a\n", &p), EBADMSG);
        ASSERT_ERROR(cgroup_paths_parse(NULL, &p), EINVAL);
        ASSERT_NULL(p.memory);
        ASSERT_NULL(p.unified);
        ASSERT_NULL(p.systemd);
}

static void test_read_memory_v1(void) {
        CgroupLayout l = {};
        CgroupMemory m = {};

        ASSERT_OK(cgroup_layout_detect(fixture("v1"), &l));

        ASSERT_OK(cgroup_read_memory(&l, "/system.slice/redis.service", &m));
        ASSERT_EQ_U64(m.unevictable, 6291456);       /* total_unevictable */
        ASSERT_EQ_U64(m.unevictable_local, 4194304); /* unevictable */
        ASSERT_EQ_U64(m.limit, UINT64_MAX);          /* 9223372036854771712 */
        ASSERT_EQ_U64(m.usage, 536870912);

        /* trailing slash and doubled slashes are the same cgroup */
        m = (CgroupMemory) {};
        ASSERT_OK(cgroup_read_memory(&l, "//system.slice/redis.service/", &m));
        ASSERT_EQ_U64(m.unevictable, 6291456);

        ASSERT_OK(cgroup_read_memory(&l, "/limited.slice", &m));
        ASSERT_EQ_U64(m.unevictable, 2097152);
        ASSERT_EQ_U64(m.unevictable_local, 1048576);
        ASSERT_EQ_U64(m.limit, 1073741824);
        ASSERT_EQ_U64(m.usage, 805306368);

        ASSERT_OK(cgroup_read_memory(&l, "/system.slice/odd name with spaces", &m));
        ASSERT_EQ_U64(m.unevictable, 12288);
        ASSERT_EQ_U64(m.usage, 40960);

        /* the root cgroup */
        ASSERT_OK(cgroup_read_memory(&l, "/", &m));
        ASSERT_EQ_U64(m.unevictable, 10485760);
        ASSERT_EQ_U64(m.unevictable_local, 0);
        ASSERT_EQ_U64(m.limit, UINT64_MAX);
        ASSERT_EQ_U64(m.usage, 3129344000ULL);

        /* vanished, malformed, unsafe: ret untouched */
        m = (CgroupMemory) { .unevictable = 42 };
        ASSERT_ERROR(cgroup_read_memory(&l, "/system.slice/gone.service", &m), ENOENT);
        ASSERT_ERROR(cgroup_read_memory(&l, "/broken.slice", &m), EBADMSG);
        ASSERT_ERROR(cgroup_read_memory(&l, "/partial.slice", &m), EBADMSG);
        ASSERT_ERROR(cgroup_read_memory(&l, "/system.slice/../limited.slice", &m), EINVAL);
        ASSERT_ERROR(cgroup_read_memory(&l, "/..", &m), EINVAL);
        ASSERT_ERROR(cgroup_read_memory(&l, "/./limited.slice", &m), EINVAL);
        ASSERT_ERROR(cgroup_read_memory(&l, "limited.slice", &m), EINVAL);
        ASSERT_ERROR(cgroup_read_memory(&l, NULL, &m), EINVAL);
        ASSERT_EQ_U64(m.unevictable, 42);

        cgroup_layout_done(&l);
}

/* The inode kpagecgroup names a cgroup by: its directory's, in the memory hierarchy. */
static void test_inode(void) {
        CgroupLayout l = {};
        struct stat st;
        uint64_t ino = 0;
        char dir[8192];

        ASSERT_OK(cgroup_layout_detect(fixture("v1"), &l));
        ASSERT_OK(cgroup_inode(&l, "/system.slice/redis.service", &ino));
        snprintf(dir, sizeof dir, "%s/system.slice/redis.service", l.memory_root);
        ASSERT_OK(stat(dir, &st) < 0 ? -errno : 0);
        ASSERT_EQ_U64(ino, (uint64_t) st.st_ino);
        ASSERT_OK(cgroup_inode(&l, "/", &ino));
        ASSERT_OK(stat(l.memory_root, &st) < 0 ? -errno : 0);
        ASSERT_EQ_U64(ino, (uint64_t) st.st_ino);
        ASSERT_ERROR(cgroup_inode(&l, "/no.slice", &ino), ENOENT);
        ASSERT_ERROR(cgroup_inode(&l, "/system.slice/../x", &ino), EINVAL);
        ASSERT_ERROR(cgroup_inode(&l, "relative", &ino), EINVAL);
        cgroup_layout_done(&l);
}

static void test_read_memory_v2(void) {
        CgroupLayout l = {};
        CgroupMemory m = {};

        ASSERT_OK(cgroup_layout_detect(fixture("v2"), &l));

        ASSERT_OK(cgroup_read_memory(&l, "/system.slice/redis.service", &m));
        ASSERT_EQ_U64(m.unevictable, 8388608);
        ASSERT_EQ_U64(m.unevictable_local, 8388608);
        ASSERT_EQ_U64(m.limit, UINT64_MAX); /* "max" */
        ASSERT_EQ_U64(m.usage, 134217728);

        ASSERT_OK(cgroup_read_memory(&l, "/system.slice/capped.service", &m));
        ASSERT_EQ_U64(m.unevictable, 16777216);
        ASSERT_EQ_U64(m.limit, 268435456);
        ASSERT_EQ_U64(m.usage, 260046848);

        /* the v2 root has memory.stat but neither memory.max nor memory.current */
        ASSERT_OK(cgroup_read_memory(&l, "/", &m));
        ASSERT_EQ_U64(m.unevictable, 33554432);
        ASSERT_EQ_U64(m.limit, UINT64_MAX);
        ASSERT_EQ_U64(m.usage, 0);

        /* controller not enabled for that cgroup, vs a cgroup that is gone */
        ASSERT_ERROR(cgroup_read_memory(&l, "/system.slice/nomem.service", &m), ENOMEDIUM);
        ASSERT_ERROR(cgroup_read_memory(&l, "/system.slice/gone.service", &m), ENOENT);

        cgroup_layout_done(&l);
        ASSERT_ERROR(cgroup_read_memory(&l, "/", &m), EINVAL);
}

/* A cgroup removed while its directory is open: every name in it is gone. */
static void test_read_memory_at(void) {
        char dir[] = "/tmp/test-cgroup.XXXXXX", procs[64];
        CgroupLayout l = { .memory_version = CGROUP_V1, .memory_root = (char *) "/unused" };
        CgroupMemory m = { .usage = 5 };
        _cleanup_close_ int fd = -EBADF, v2fd = -EBADF;
        char v2dir[8192];

        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
        ASSERT_OK(write_file_atomic(procs, "", 0, 0644));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_ERROR(cgroup_read_memory_at(&l, fd, false, &m), ENOMEDIUM); /* there, no memory files */
        ASSERT_OK(unlink(procs));
        ASSERT_OK(rmdir(dir));
        ASSERT_ERROR(cgroup_read_memory_at(&l, fd, false, &m), ENOENT);    /* vanished */
        ASSERT_ERROR(cgroup_read_memory_at(&l, -1, false, &m), EINVAL);
        ASSERT_EQ_U64(m.usage, 5);

        /* the v2 root's missing limit and usage files are only excused for the root */
        snprintf(v2dir, sizeof v2dir, "%s", fixture("v2"));
        v2fd = open(v2dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(v2fd >= 0);
        l.memory_version = CGROUP_V2;
        ASSERT_ERROR(cgroup_read_memory_at(&l, v2fd, false, &m), ENOENT);
        ASSERT_OK(cgroup_read_memory_at(&l, v2fd, true, &m));
        ASSERT_EQ_U64(m.unevictable, 33554432);
        ASSERT_EQ_U64(m.limit, UINT64_MAX);
}

/* Only the files asked for are read; the other fields keep the caller's (cached) values. */
static void test_read_memory_fields(void) {
        CgroupLayout l = {};
        CgroupMemory m = { .limit = 11, .usage = 12 };

        ASSERT_OK(cgroup_layout_detect(fixture("v1"), &l));

        /* a tick: memory.stat alone */
        ASSERT_OK(cgroup_read_memory_fields(&l, "/limited.slice", CGROUP_READ_STAT, &m));
        ASSERT_EQ_U64(m.unevictable, 2097152);
        ASSERT_EQ_U64(m.unevictable_local, 1048576);
        ASSERT_EQ_U64(m.limit, 11);
        ASSERT_EQ_U64(m.usage, 12);

        /* a reload: the limit alone */
        m = (CgroupMemory) { .unevictable = 1, .unevictable_local = 2, .usage = 3 };
        ASSERT_OK(cgroup_read_memory_fields(&l, "/limited.slice", CGROUP_READ_LIMIT, &m));
        ASSERT_EQ_U64(m.limit, 1073741824);
        ASSERT_EQ_U64(m.unevictable, 1);
        ASSERT_EQ_U64(m.unevictable_local, 2);
        ASSERT_EQ_U64(m.usage, 3);
        ASSERT_OK(cgroup_read_memory_fields(&l, "/", CGROUP_READ_LIMIT, &m));
        ASSERT_EQ_U64(m.limit, UINT64_MAX); /* v1's "unlimited" */

        /* before planning: stat and usage, with the cached limit */
        m = (CgroupMemory) { .limit = 99 };
        ASSERT_OK(cgroup_read_memory_fields(&l, "/limited.slice", CGROUP_READ_STAT | CGROUP_READ_USAGE, &m));
        ASSERT_EQ_U64(m.unevictable, 2097152);
        ASSERT_EQ_U64(m.usage, 805306368);
        ASSERT_EQ_U64(m.limit, 99);

        /* nothing asked: nothing read, nothing changed, but the path still checked */
        ASSERT_OK(cgroup_read_memory_fields(&l, "/limited.slice", 0, &m));
        ASSERT_EQ_U64(m.limit, 99);
        ASSERT_ERROR(cgroup_read_memory_fields(&l, "/..", CGROUP_READ_STAT, &m), EINVAL);
        ASSERT_ERROR(cgroup_read_memory_fields(&l, "/limited.slice", 1 << 5, &m), EINVAL);

        /* errors leave *ret alone, whichever file failed */
        ASSERT_ERROR(cgroup_read_memory_fields(&l, "/system.slice/gone.service", CGROUP_READ_STAT, &m), ENOENT);
        ASSERT_ERROR(cgroup_read_memory_fields(&l, "/system.slice/gone.service", CGROUP_READ_LIMIT, &m), ENOENT);
        ASSERT_ERROR(cgroup_read_memory_fields(&l, "/broken.slice", CGROUP_READ_STAT, &m), EBADMSG);
        ASSERT_EQ_U64(m.unevictable, 2097152);
        ASSERT_EQ_U64(m.limit, 99);
        cgroup_layout_done(&l);

        /* v2: the root's missing memory.max and memory.current, the controller not enabled */
        ASSERT_OK(cgroup_layout_detect(fixture("v2"), &l));
        m = (CgroupMemory) { .limit = 5, .usage = 6 };
        ASSERT_OK(cgroup_read_memory_fields(&l, "/", CGROUP_READ_LIMIT | CGROUP_READ_USAGE, &m));
        ASSERT_EQ_U64(m.limit, UINT64_MAX);
        ASSERT_EQ_U64(m.usage, 0);
        ASSERT_OK(cgroup_read_memory_fields(&l, "/system.slice/capped.service", CGROUP_READ_STAT, &m));
        ASSERT_EQ_U64(m.unevictable, 16777216);
        ASSERT_ERROR(cgroup_read_memory_fields(&l, "/system.slice/nomem.service", CGROUP_READ_STAT, &m), ENOMEDIUM);
        cgroup_layout_done(&l);
}

/* A memory.stat larger than the stack buffer (many keys) still parses, through the slow road. */
static void test_read_memory_large_stat(void) {
        char dir[] = "/tmp/test-cgroup.XXXXXX", path[128];
        CgroupLayout l = { .memory_version = CGROUP_V2, .memory_root = dir };
        CgroupMemory m = {};
        _cleanup_free_ char *text = NULL;
        size_t n = 0, size = 64 * 1024;

        ASSERT_NOT_NULL(mkdtemp(dir));
        text = malloc(size);
        ASSERT_NOT_NULL(text);
        for (unsigned i = 0; n < 20000; i++)
                n += (size_t) snprintf(text + n, size - n, "some_counter_%u %u\n", i, i);
        n += (size_t) snprintf(text + n, size - n, "unevictable 12345\n");
        snprintf(path, sizeof path, "%s/memory.stat", dir);
        ASSERT_OK(write_file_atomic(path, text, n, 0644));
        ASSERT_OK(cgroup_read_memory_fields(&l, "/", CGROUP_READ_STAT, &m));
        ASSERT_EQ_U64(m.unevictable, 12345);
        ASSERT_OK(unlink(path));
        ASSERT_OK(rmdir(dir));
}

static void test_memory_stat_parse(void) {
        CgroupMemory m = { .limit = 7, .usage = 8 };

        /* exact keys: "unevictable_pgs_mlocked" is not "unevictable" */
        ASSERT_OK(cgroup_memory_stat_parse(CGROUP_V2, "unevictable_pgs_mlocked 5\nunevictable 4096\n", &m));
        ASSERT_EQ_U64(m.unevictable, 4096);
        ASSERT_EQ_U64(m.unevictable_local, 4096);
        ASSERT_EQ_U64(m.limit, 7); /* left alone */
        ASSERT_EQ_U64(m.usage, 8);

        ASSERT_OK(cgroup_memory_stat_parse(CGROUP_V1, "total_unevictable 8192\nunevictable 4096", &m));
        ASSERT_EQ_U64(m.unevictable, 8192);
        ASSERT_EQ_U64(m.unevictable_local, 4096);

        ASSERT_ERROR(cgroup_memory_stat_parse(CGROUP_V1, "unevictable 4096\n", &m), EBADMSG);
        ASSERT_ERROR(cgroup_memory_stat_parse(CGROUP_V2, "anon 1\n", &m), EBADMSG);
        ASSERT_ERROR(cgroup_memory_stat_parse(CGROUP_V2, "unevictable -1\n", &m), EBADMSG);
        ASSERT_ERROR(cgroup_memory_stat_parse(CGROUP_V2, "unevictable 99999999999999999999\n", &m), EBADMSG);
        ASSERT_ERROR(cgroup_memory_stat_parse(CGROUP_V2, "unevictable\n", &m), EBADMSG);
        ASSERT_ERROR(cgroup_memory_stat_parse(CGROUP_V2, "unevictable", &m), EBADMSG);
        ASSERT_ERROR(cgroup_memory_stat_parse(CGROUP_V2, "unevictable \n", &m), EBADMSG);
        ASSERT_ERROR(cgroup_memory_stat_parse(CGROUP_V2, "unevictable 12 34\n", &m), EBADMSG);
        ASSERT_ERROR(cgroup_memory_stat_parse(CGROUP_V2, "unevictable 12x\n", &m), EBADMSG);
        ASSERT_ERROR(cgroup_memory_stat_parse(CGROUP_V2, "", &m), EBADMSG);
        ASSERT_ERROR(cgroup_memory_stat_parse(_CGROUP_VERSION_INVALID, "unevictable 1\n", &m), EINVAL);
        ASSERT_EQ_U64(m.unevictable, 8192);

        /* the last line need not end in '\n'; the largest value fits; a later line wins */
        ASSERT_OK(cgroup_memory_stat_parse(CGROUP_V2, "anon 1\nunevictable 18446744073709551615", &m));
        ASSERT_EQ_U64(m.unevictable, UINT64_MAX);
        ASSERT_ERROR(cgroup_memory_stat_parse(CGROUP_V2, "unevictable 18446744073709551616\n", &m), EBADMSG);
        ASSERT_OK(cgroup_memory_stat_parse(CGROUP_V1, "unevictable 1\ntotal_unevictable 2\nfoo\n\nbar 3\n", &m));
        ASSERT_EQ_U64(m.unevictable, 2);
        ASSERT_EQ_U64(m.unevictable_local, 1);
}

/* The fingerprint moves with any figure, not only unevictable, and stays with the same text. */
static void test_memory_stat_fingerprint(void) {
        static const char v2[] = "anon 4096\nfile 8192\npgfault 17\nunevictable 4096\n",
                          v2_fault[] = "anon 4096\nfile 8192\npgfault 18\nunevictable 4096\n",
                          v1[] = "rss 4096\nunevictable 0\ntotal_rss 4096\ntotal_unevictable 0\n",
                          v1_total[] = "rss 4096\nunevictable 0\ntotal_rss 8192\ntotal_unevictable 0\n";
        CgroupMemory a = {}, b = {};

        ASSERT_OK(cgroup_memory_stat_parse(CGROUP_V2, v2, &a));
        ASSERT_OK(cgroup_memory_stat_parse(CGROUP_V2, v2, &b));
        ASSERT_EQ_U64(a.stat_hash, b.stat_hash);
        ASSERT_OK(cgroup_memory_stat_parse(CGROUP_V2, v2_fault, &b));
        ASSERT_EQ_U64(a.unevictable, b.unevictable);
        ASSERT_TRUE(a.stat_hash != b.stat_hash);
        ASSERT_OK(cgroup_memory_stat_parse(CGROUP_V1, v1, &a));
        ASSERT_OK(cgroup_memory_stat_parse(CGROUP_V1, v1_total, &b));
        ASSERT_TRUE(a.stat_hash != b.stat_hash);
        /* the same cgroup read twice through the library: the same fingerprint */
        {
                CgroupLayout l = {};

                ASSERT_OK(cgroup_layout_detect(fixture("v2"), &l));
                ASSERT_OK(cgroup_read_memory_fields(&l, "/system.slice/redis.service", CGROUP_READ_STAT, &a));
                ASSERT_OK(cgroup_read_memory_fields(&l, "/system.slice/redis.service", CGROUP_READ_STAT, &b));
                ASSERT_EQ_U64(a.stat_hash, b.stat_hash);
                ASSERT_OK(cgroup_read_memory_fields(&l, "/system.slice/capped.service", CGROUP_READ_STAT, &b));
                ASSERT_TRUE(a.stat_hash != b.stat_hash);
                cgroup_layout_done(&l);
        }
}

static void test_lockable(void) {
        CgroupMemory m = { .unevictable = 3 * MiB, .limit = UINT64_MAX, .usage = 100 * MiB };

        /* no budget, no limit: unbounded */
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, 0), UINT64_MAX);
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, 64 * MiB), UINT64_MAX);
        /* budget only */
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 8 * MiB, 0), 5 * MiB);
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 3 * MiB, 0), 0);
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 1 * MiB, 0), 0); /* already past it */

        /* limit only: 200 - 16 - 100 */
        m.limit = 200 * MiB;
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, 16 * MiB), 84 * MiB);
        /* both: the smaller wins */
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 8 * MiB, 16 * MiB), 5 * MiB);
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 1024 * MiB, 16 * MiB), 84 * MiB);
        /* margin reaches past usage, or past the limit itself: 0, no wrap-around */
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, 100 * MiB), 0);
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, 150 * MiB), 0);
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, 300 * MiB), 0);
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, UINT64_MAX), 0);
        m.usage = 250 * MiB; /* over the limit already */
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 8 * MiB, 0), 0);
        ASSERT_EQ_U64(cgroup_lockable_bytes(NULL, 8 * MiB, 0), 0);
}

/* ---- the real kernel -------------------------------------------------------------------------- */

static char *live_cgroup[2];
static pid_t live_child = -1;

static void live_cleanup(void) {
        if (live_child > 0) {
                (void) kill(live_child, SIGKILL);
                (void) waitpid(live_child, NULL, 0);
                live_child = -1;
        }
        /* children first */
        for (size_t i = ELEMENTSOF(live_cgroup); i-- > 0;) {
                if (!live_cgroup[i])
                        continue;
                /* the memcg may stay busy for a moment after its last task is reaped */
                for (int tries = 0; tries < 100; tries++) {
                        if (rmdir(live_cgroup[i]) >= 0 || errno == ENOENT)
                                break;
                        if (errno != EBUSY)
                                break;
                        usleep(50 * 1000);
                }
                if (access(live_cgroup[i], F_OK) >= 0)
                        fprintf(stderr, "warning: could not remove %s: %m\n", live_cgroup[i]);
                free(live_cgroup[i]);
                live_cgroup[i] = NULL;
        }
}

static int live_move(const char *cgroup_dir, pid_t pid) {
        _cleanup_free_ char *procs = NULL;
        char buf[32];
        int n;

        if (asprintf(&procs, "%s/cgroup.procs", cgroup_dir) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = snprintf(buf, sizeof buf, "%d\n", (int) pid);
        if (write(fd, buf, (size_t) n) != n)
                return -errno;
        return 0;
}

/* The child waits for a byte on go, mlocks 4 MiB (faulting it in itself, so the pages are charged
 * to the cgroup it is in by then), reports on done, and sleeps until killed. */
static _noreturn_ void live_child_main(int go, int done) {
        const size_t size = 4 * MiB;
        char c, result;
        void *p;

        if (read(go, &c, 1) != 1)
                _exit(EXIT_FAILURE);
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        /* the raw syscall: ASan's mlock() interceptor does nothing and returns 0 */
        result = p != MAP_FAILED && syscall(SYS_mlock, p, size) >= 0 ? 'y' : 'n';
        if (result == 'y')
                memset(p, 0x5a, size);
        if (write(done, &result, 1) != 1)
                _exit(EXIT_FAILURE);
        for (;;)
                pause();
}

/* cgroup_read_memory() of path until its unevictable (and unevictable_local, with local) reaches
 * want, for up to 5 s: the kernel flushes memcg statistics in batches (up to 64 pages per CPU and
 * more can wait for its flush every 2 s), so a loaded machine may show a few pages short at first.
 * The caller asserts the figures. */
static void read_memory_settled(const CgroupLayout *l, const char *path, uint64_t want, bool local,
                                CgroupMemory *m) {
        for (int tries = 0;; tries++) {
                ASSERT_OK(cgroup_read_memory(l, path, m));
                if ((m->unevictable >= want && (!local || m->unevictable_local >= want)) || tries >= 50)
                        return;
                (void) usleep(100 * 1000);
        }
}

static int test_live(void) {
        _cleanup_(cgroup_paths_done) CgroupPaths own = {}, child = {};
        _cleanup_free_ char *status = NULL;
        CgroupLayout l = {};
        CgroupMemory m = {};
        int go[2], done[2];
        char c;
        int r;

        r = cgroup_layout_detect("/sys/fs/cgroup", &l);
        if (r < 0) {
                fprintf(stderr, "skip live part: no memory cgroup controller (%s)\n", strerror(-r));
                return EXIT_TEST_SKIP;
        }
        ASSERT_OK(cgroup_pid_get_paths("/proc", getpid(), &own));
        ASSERT_NOT_NULL(own.memory);

        /* below our own cgroup; the name has spaces on purpose */
        ASSERT_TRUE(asprintf(&live_cgroup[0], "%s%s/mlockd test %d", l.memory_root,
                             streq(own.memory, "/") ? "" : own.memory, (int) getpid()) > 0);
        if (mkdir(live_cgroup[0], 0755) < 0) {
                fprintf(stderr, "skip live part: cannot create %s: %m\n", live_cgroup[0]);
                free(live_cgroup[0]);
                live_cgroup[0] = NULL;
                cgroup_layout_done(&l);
                return EXIT_TEST_SKIP;
        }
        ASSERT_TRUE(atexit(live_cleanup) == 0);

        ASSERT_OK(pipe2(go, O_CLOEXEC));
        ASSERT_OK(pipe2(done, O_CLOEXEC));
        live_child = fork();
        ASSERT_TRUE(live_child >= 0);
        if (live_child == 0)
                live_child_main(go[0], done[1]);
        (void) close(go[0]);
        (void) close(done[1]);

        ASSERT_OK(live_move(live_cgroup[0], live_child));
        ASSERT_EQ(write(go[1], "g", 1), 1);
        ASSERT_EQ(read(done[0], &c, 1), 1);
        if (c != 'y')
                test_fail("child could not mlock 4 MiB (RLIMIT_MEMLOCK?)");

        /* the kernel's own word on the child: 4 MiB locked */
        _cleanup_free_ char *status_path = NULL;
        ASSERT_TRUE(asprintf(&status_path, "/proc/%d/status", (int) live_child) > 0);
        ASSERT_OK(read_full_file(status_path, 1 << 20, &status, NULL));
        if (!strstr(status, "\nVmLck:\t    4096 kB\n"))
                test_fail("child does not have 4 MiB locked:\n%s", status);

        /* the child's path as we read it is the one we made */
        ASSERT_OK(cgroup_pid_get_paths("/proc", live_child, &child));
        ASSERT_TRUE(strlen(live_cgroup[0]) == strlen(l.memory_root) + strlen(child.memory));
        ASSERT_STREQ(live_cgroup[0] + strlen(l.memory_root), child.memory);

        read_memory_settled(&l, child.memory, 4 * MiB, true, &m);
        fprintf(stderr, "live: %s: unevictable %" PRIu64 " (local %" PRIu64 "), usage %" PRIu64
                ", limit %" PRIu64 "\n", child.memory, m.unevictable, m.unevictable_local, m.usage, m.limit);
        ASSERT_TRUE(m.unevictable >= 4 * MiB);
        ASSERT_TRUE(m.unevictable_local >= 4 * MiB);
        ASSERT_TRUE(m.usage >= 4 * MiB);
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 4 * MiB, 0), 0);
        ASSERT_TRUE(cgroup_lockable_bytes(&m, 64 * MiB, 0) <= 60 * MiB);

        /* our own cgroup counts it too, hierarchically (v1 total_unevictable, v2 unevictable) */
        CgroupMemory parent = {};
        read_memory_settled(&l, own.memory, 4 * MiB, false, &parent);
        ASSERT_TRUE(parent.unevictable >= 4 * MiB);

        /* a name with a newline: /proc/PID/cgroup could not say it unambiguously, so the parser
         * refuses such text; current kernels refuse the name itself (cgroup_mkdir: EINVAL) */
        cgroup_paths_done(&child);
        ASSERT_TRUE(asprintf(&live_cgroup[1], "%s/nl\nforged", live_cgroup[0]) > 0);
        if (mkdir(live_cgroup[1], 0755) >= 0) {
                ASSERT_OK(live_move(live_cgroup[1], live_child));
                ASSERT_ERROR(cgroup_pid_get_paths("/proc", live_child, &child), EBADMSG);
                ASSERT_NULL(child.memory);
        } else {
                ASSERT_EQ(errno, EINVAL);
                fprintf(stderr, "live: the kernel refuses a newline in a cgroup name (EINVAL)\n");
                free(live_cgroup[1]);
                live_cgroup[1] = NULL;
        }

        /* gone: kill, reap, remove; then the reader says ENOENT, by path and on the directory fd
         * opened while it existed */
        _cleanup_close_ int dir_fd = open(live_cgroup[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(dir_fd >= 0);
        ASSERT_OK(cgroup_read_memory_at(&l, dir_fd, false, &m));
        _cleanup_free_ char *gone_dir = strdup(live_cgroup[0]);
        ASSERT_NOT_NULL(gone_dir);
        const char *gone = gone_dir + strlen(l.memory_root);
        live_cleanup();
        ASSERT_TRUE(access(gone_dir, F_OK) < 0 && errno == ENOENT);
        ASSERT_ERROR(cgroup_read_memory(&l, gone, &m), ENOENT);
        ASSERT_ERROR(cgroup_read_memory_at(&l, dir_fd, false, &m), ENOENT);

        (void) close(go[1]);
        (void) close(done[0]);
        cgroup_layout_done(&l);
        return EXIT_SUCCESS;
}

/* A limited parent binds its children: the ancestor leaving the least room under the margin
 * replaces the cgroup's own limit and usage, and says how much of the path is its subtree. */
static void test_bind_ancestor_limits(void) {
        CgroupLayout l = {};
        CgroupMemory m;
        size_t len = 0;

        /* v2: /capped.slice (512M, 500M used) > mid.slice (max) > leaf.service (1G, 100M used) */
        ASSERT_OK(cgroup_layout_detect(fixture("v2"), &l));
        m = (CgroupMemory) { .unevictable = 7 };
        ASSERT_OK(cgroup_read_memory_fields(&l, "/capped.slice/mid.slice/leaf.service",
                                            CGROUP_READ_LIMIT | CGROUP_READ_USAGE, &m));
        ASSERT_EQ_U64(m.limit, 1073741824);
        ASSERT_OK(cgroup_bind_ancestor_limits(&l, "/capped.slice/mid.slice/leaf.service", 4 * MiB, &m, &len));
        ASSERT_EQ_U64(m.limit, 536870912);
        ASSERT_EQ_U64(m.usage, 524288000);
        ASSERT_EQ_U64(m.unevictable, 7); /* the cgroup's own figures are not the parent's */
        ASSERT_EQ_U64(len, strlen("/capped.slice"));
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, 4 * MiB), 536870912 - 524288000 - 4 * MiB);
        /* a margin past the parent's room: nothing may be locked */
        m = (CgroupMemory) { .limit = 1073741824, .usage = 104857600 };
        ASSERT_OK(cgroup_bind_ancestor_limits(&l, "/capped.slice/mid.slice/leaf.service", 64 * MiB, &m, &len));
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, 64 * MiB), 0);
        /* the cgroup's own limit binds when it leaves less: kept, its whole path */
        m = (CgroupMemory) { .limit = 110 * MiB, .usage = 100 * MiB };
        ASSERT_OK(cgroup_bind_ancestor_limits(&l, "/capped.slice/mid.slice/leaf.service", 0, &m, &len));
        ASSERT_EQ_U64(m.limit, 110 * MiB);
        ASSERT_EQ_U64(len, strlen("/capped.slice/mid.slice/leaf.service"));
        /* no limit above (the v2 root has no memory.max), a parent without memory files, one gone */
        m = (CgroupMemory) { .limit = UINT64_MAX, .usage = 5 };
        ASSERT_OK(cgroup_bind_ancestor_limits(&l, "/system.slice/redis.service", 0, &m, &len));
        ASSERT_EQ_U64(m.limit, UINT64_MAX);
        ASSERT_EQ_U64(len, strlen("/system.slice/redis.service"));
        ASSERT_OK(cgroup_bind_ancestor_limits(&l, "/system.slice/nomem.service/x", 0, &m, &len));
        ASSERT_OK(cgroup_bind_ancestor_limits(&l, "/gone.slice/gone.service", 0, &m, &len));
        ASSERT_EQ_U64(m.limit, UINT64_MAX);
        ASSERT_OK(cgroup_bind_ancestor_limits(&l, "/", 0, &m, &len));
        ASSERT_EQ_U64(len, 1);
        /* an ancestor that cannot be read ends the walk with its error; what binds below it stands,
         * with its length: /badlimit.slice's memory.max is "nonsense", tight.service (200M, 190M
         * used) below it */
        m = (CgroupMemory) { .limit = UINT64_MAX, .usage = 1 };
        len = 0;
        ASSERT_ERROR(cgroup_bind_ancestor_limits(&l, "/badlimit.slice/tight.service/leaf.scope", 0, &m, &len), EBADMSG);
        ASSERT_EQ_U64(m.limit, 209715200);
        ASSERT_EQ_U64(m.usage, 199229440);
        ASSERT_EQ_U64(len, strlen("/badlimit.slice/tight.service"));
        /* memory.high (MemoryHigh=) binds as memory.max does: a slice with a high of 200M (150M
         * used) above a service of 1G; a service with a high alone; a high above the max */
        m = (CgroupMemory) {};
        ASSERT_OK(cgroup_read_memory_fields(&l, "/high.slice/app.service", CGROUP_READ_LIMIT | CGROUP_READ_USAGE, &m));
        ASSERT_EQ_U64(m.limit, 1024 * MiB);
        ASSERT_OK(cgroup_bind_ancestor_limits(&l, "/high.slice/app.service", 16 * MiB, &m, &len));
        ASSERT_EQ_U64(m.limit, 200 * MiB);
        ASSERT_EQ_U64(m.usage, 150 * MiB);
        ASSERT_EQ_U64(len, strlen("/high.slice"));
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, 16 * MiB), 34 * MiB);
        m = (CgroupMemory) {};
        ASSERT_OK(cgroup_read_memory(&l, "/system.slice/throttled.service", &m));
        ASSERT_EQ_U64(m.limit, 300 * MiB);
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, 10 * MiB), 40 * MiB);
        ASSERT_OK(cgroup_read_memory_fields(&l, "/system.slice/capped.service", CGROUP_READ_LIMIT, &m));
        ASSERT_EQ_U64(m.limit, 256 * MiB); /* no memory.high in this fixture: "max" */
        ASSERT_ERROR(cgroup_read_memory_fields(&l, "/system.slice/highbad.service", CGROUP_READ_LIMIT, &m), EBADMSG);
        ASSERT_ERROR(cgroup_bind_ancestor_limits(&l, "/capped.slice/../x", 0, &m, &len), EINVAL);
        ASSERT_ERROR(cgroup_bind_ancestor_limits(&l, "capped.slice", 0, &m, &len), EINVAL);
        cgroup_layout_done(&l);

        /* v1: /limited.slice (1G, 768M used) > child.service (unlimited, 100M used); the root's
         * limit is v1's "unlimited" */
        ASSERT_OK(cgroup_layout_detect(fixture("v1"), &l));
        m = (CgroupMemory) {};
        ASSERT_OK(cgroup_read_memory_fields(&l, "/limited.slice/child.service", CGROUP_READ_LIMIT | CGROUP_READ_USAGE, &m));
        ASSERT_EQ_U64(m.limit, UINT64_MAX);
        ASSERT_OK(cgroup_bind_ancestor_limits(&l, "/limited.slice/child.service/", 16 * MiB, &m, NULL));
        ASSERT_EQ_U64(m.limit, 1073741824);
        ASSERT_EQ_U64(m.usage, 805306368);
        ASSERT_EQ_U64(cgroup_lockable_bytes(&m, 0, 16 * MiB), 1073741824 - 805306368 - 16 * MiB);
        cgroup_layout_done(&l);
}

int main(void) {
        test_layout();
        test_paths_fixtures();
        test_paths_parse();
        test_read_memory_v1();
        test_inode();
        test_read_memory_v2();
        test_read_memory_at();
        test_read_memory_fields();
        test_bind_ancestor_limits();
        test_read_memory_large_stat();
        test_memory_stat_parse();
        test_memory_stat_fingerprint();
        test_lockable();
        return test_live();
}
