/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* mlockd --dry-run: what the policies would do to the processes running now, from lib/ alone: no
 * bus, no injector, no ptrace, no lock, so it runs beside a running daemon (and before one is
 * installed). For each process (all, or the pids given): the policy that matches, then the plan
 * as the daemon would make it (Regions=, MaxLocked=, the cgroup's budget and memory limit margin,
 * RLIMIT_MEMLOCK), with what trimmed it and what the daemon would skip it for. */

#include <stdio.h>
#include <sys/types.h>

#include "mlockctl-format.h"
#include "policy.h"

/* pids NULL: every process under proc_root that a policy matches; else these, matched or not.
 * Writes a table (or JSON) to f. Returns 0, or a negative errno when /proc cannot be read. */
int dry_run(const PolicySet *set, const char *proc_root, const pid_t *pids, size_t n_pids, JsonMode json,
            FILE *f);
