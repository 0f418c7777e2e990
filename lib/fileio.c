/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

int read_full_fd(int fd, size_t max_size, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        if (fd < 0 || !ret)
                return -EINVAL;

        for (;;) {
                ssize_t n;

                if (size + 1 >= allocated) {
                        size_t want = allocated ? allocated * 2 : 4096;
                        char *p;

                        if (want > max_size + 1)
                                want = max_size + 1;
                        if (want <= size + 1) /* already holding max_size bytes and there is more */
                                want = size + 2;
                        p = realloc(buf, want);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = want;
                }

                n = read(fd, buf + size, allocated - 1 - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max_size)
                        return -EFBIG;
        }

        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int read_full_file_at(int dir_fd, const char *path, size_t max_size, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;

        if (!path || !ret)
                return -EINVAL;

        fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        return read_full_fd(fd, max_size, ret, ret_size);
}

int read_one_line_file(const char *path, char **ret) {
        _cleanup_free_ char *buf = NULL;
        char *nl;
        int r;

        r = read_full_file(path, 64 * 1024, &buf, NULL);
        if (r < 0)
                return r;
        nl = strchr(buf, '\n');
        if (nl)
                *nl = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

int write_file_atomic(const char *path, const char *contents, size_t size, unsigned mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t done = 0;

        if (!path || (!contents && size > 0))
                return -EINVAL;

        if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;

        while (done < size) {
                ssize_t n = write(fd, contents + done, size - done);
                if (n < 0) {
                        int r = -errno;
                        if (r == -EINTR)
                                continue;
                        (void) unlink(tmp);
                        return r;
                }
                done += (size_t) n;
        }

        if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

char *next_line(char **p) {
        char *line = *p, *nl;

        if (!line || !*line)
                return NULL;
        nl = strchr(line, '\n');
        if (nl) {
                *nl = '\0';
                *p = nl + 1;
        } else
                *p = line + strlen(line);
        return line;
}
