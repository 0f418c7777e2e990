/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* NULL-terminated string arrays (char **), owned. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

char **strv_free(char **l);
DEFINE_CLEANUP(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);
/* Append a copy of value. */
int strv_extend(char ***l, const char *value);
/* Append value itself, taking ownership (freed on failure). */
int strv_consume(char ***l, char *value);
static inline bool strv_isempty(char *const *l) {
        return !l || !*l;
}
bool strv_contains(char *const *l, const char *value);
char **strv_copy(char *const *l);
/* Split on any of the separator characters, dropping empty words. */
int strv_split(const char *s, const char *separators, char ***ret);

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
