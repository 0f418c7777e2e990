/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parsers for configuration values, and their inverse formatters.
 *   sizes:     "4096", "512K", "2G" (K/M/G/T, 1024-based; an optional trailing "B" or "iB"),
 *              overflow-checked, never negative;
 *   durations: "250us", "5ms", "2s", "1.5ms", "1min"; a bare number is seconds (systemd's rule);
 *   booleans:  yes/no, true/false, on/off, 1/0.
 * All return 0 or a negative errno (-EINVAL junk, -ERANGE overflow) and write *ret only on success. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t usec_t;
#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)

int parse_size(const char *s, uint64_t *ret);
int parse_duration(const char *s, usec_t *ret);
int parse_boolean(const char *s);
/* A decimal unsigned integer that fits in unsigned (pids, uids); no sign, no junk. */
int parse_uint(const char *s, unsigned *ret);
int parse_uint64(const char *s, uint64_t *ret);

/* "1.5G", "512K", "12B": buf must hold FORMAT_BYTES_MAX. */
#define FORMAT_BYTES_MAX 16
char *format_bytes(char *buf, size_t size, uint64_t bytes);
/* "5ms", "1.250s", "250us": buf must hold FORMAT_TIMESPAN_MAX. */
#define FORMAT_TIMESPAN_MAX 32
char *format_timespan(char *buf, size_t size, usec_t usec);

usec_t now_usec(int clock_id);
