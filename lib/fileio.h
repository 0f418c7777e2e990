/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Bounded reads of small kernel files (/proc, cgroupfs). Every descriptor is O_CLOEXEC.
 * A file larger than the bound is an error (-EFBIG), never silently truncated. */

#include <stddef.h>

#define READ_FULL_MAX_DEFAULT (4U * 1024U * 1024U)

/* Read all of dir_fd/path (dir_fd may be AT_FDCWD) into a NUL-terminated buffer.
 * ret_size (optional) excludes the terminator. */
int read_full_file_at(int dir_fd, const char *path, size_t max_size, char **ret, size_t *ret_size);
static inline int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size) {
        return read_full_file_at(-100 /* AT_FDCWD */, path, max_size, ret, ret_size);
}

/* The first line, without its newline. */
int read_one_line_file(const char *path, char **ret);

/* Read from an open descriptor until EOF (at most max_size bytes). */
int read_full_fd(int fd, size_t max_size, char **ret, size_t *ret_size);

/* Write contents to path atomically: a temporary file in the same directory, fsync, rename. */
int write_file_atomic(const char *path, const char *contents, size_t size, unsigned mode);

/* strtok-like line iteration that keeps empty lines: *p advances past the line returned. */
char *next_line(char **p);
