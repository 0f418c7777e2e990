/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* The kinds of mapping a policy's Regions= can select. A mask of these travels from the policy
 * (parsed in policy.c) to the planner (maps.c classifies each mapping). */

enum {
        REGION_ALL = 1U << 0,   /* every lockable mapping */
        REGION_TEXT = 1U << 1,  /* file-backed, executable */
        REGION_DATA = 1U << 2,  /* file-backed, writable (private: .data/.bss of a binary or library) */
        REGION_ANON = 1U << 3,  /* anonymous, not heap or stack */
        REGION_HEAP = 1U << 4,  /* [heap] */
        REGION_STACK = 1U << 5, /* [stack] */
        REGION_FILE = 1U << 6,  /* file-backed mappings whose path matches one of the file:GLOB patterns */
        _REGION_MASK = (1U << 7) - 1,
};

/* Whether a mask can select a file-backed mapping: only then do the file systems under them matter
 * (a network or FUSE file is left out of a plan, which takes reading the target's mounts). */
static inline bool regions_select_files(unsigned regions) {
        return (regions & (REGION_ALL | REGION_TEXT | REGION_DATA | REGION_FILE)) != 0;
}
