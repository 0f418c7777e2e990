/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "tests.h"

int main(void) {
        _cleanup_free_ char *buf = NULL, *line = NULL, *big = NULL;
        char dir[] = "/tmp/test-fileio.XXXXXX", path[4200];
        size_t size;

        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/f", dir);

        ASSERT_OK(write_file_atomic(path, "one\ntwo\n", 8, 0644));
        ASSERT_OK(read_full_file(path, 1024, &buf, &size));
        ASSERT_EQ(size, 8);
        ASSERT_STREQ(buf, "one\ntwo\n");
        ASSERT_OK(read_one_line_file(path, &line));
        ASSERT_STREQ(line, "one");

        /* the bound is exact: 8 bytes fit in 8, not in 7 */
        buf = (free(buf), NULL);
        ASSERT_OK(read_full_file(path, 8, &buf, &size));
        buf = (free(buf), NULL);
        ASSERT_ERROR(read_full_file(path, 7, &buf, &size), EFBIG);
        ASSERT_NULL(buf);

        /* /proc files report size 0; they must still be read whole */
        ASSERT_OK(read_full_file("/proc/self/status", 1 << 20, &buf, &size));
        ASSERT_TRUE(strstr(buf, "\nVmFlags") == NULL && strstr(buf, "Pid:") != NULL);
        buf = (free(buf), NULL);

        /* a file larger than the growth steps */
        big = malloc(100000);
        ASSERT_NOT_NULL(big);
        memset(big, 'x', 100000);
        ASSERT_OK(write_file_atomic(path, big, 100000, 0600));
        ASSERT_OK(read_full_file(path, 100000, &buf, &size));
        ASSERT_EQ(size, 100000);
        ASSERT_EQ(strlen(buf), 100000);
        buf = (free(buf), NULL);
        ASSERT_ERROR(read_full_file(path, 99999, &buf, &size), EFBIG);

        struct stat st;
        ASSERT_OK(stat(path, &st));
        ASSERT_EQ(st.st_mode & 0777, 0600);

        ASSERT_ERROR(read_full_file("/nonexistent/file", 10, &buf, NULL), ENOENT);

        char text[] = "a\n\nb", *p = text;
        ASSERT_STREQ(next_line(&p), "a");
        ASSERT_STREQ(next_line(&p), "");
        ASSERT_STREQ(next_line(&p), "b");
        ASSERT_NULL(next_line(&p));

        ASSERT_OK(unlink(path));
        ASSERT_OK(rmdir(dir));
        return 0;
}
