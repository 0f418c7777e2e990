/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Self-confinement of mlockd's two processes (doc/hardening.md): capability checks and drops,
 * no-new-privs, the manager's seccomp allowlist, and dying with the parent. Each call acts on the
 * calling process (the capability calls on the calling thread: call them while single-threaded),
 * returns 0 or a negative errno, and logs nothing above debug; the caller decides what is fatal.
 *
 * Order in a process that confines itself: sandbox_keep_capabilities() (bounding-set drops need
 * CAP_SETPCAP, so before it is given up), sandbox_no_new_privs(), sandbox_apply_seccomp() last
 * (the filter allows no capset and no prctl that changes privileges). */

#include <stdbool.h>
#include <stddef.h>
#include <sys/capability.h>
#include <sys/types.h>

/* Names of the capabilities in required[] that the process does not have in its effective set;
 * *ret_missing is NULL when none is missing, else "cap_sys_ptrace cap_sys_nice" (caller frees). */
int sandbox_missing_capabilities(const cap_value_t *required, size_t n, char **ret_missing);

/* Keep exactly keep[] in permitted and effective, clear inheritable and ambient, and drop
 * everything else from the bounding set (libcap: cap_set_proc, cap_drop_bound). Dropping from the
 * bounding set needs CAP_SETPCAP, which goes unless kept: capabilities already outside the bounding
 * set are left alone, so repeating a call works, but narrowing further gives -EPERM. -EPERM also
 * when keep[] asks for a capability not in the permitted set. A failure may leave the bounding set
 * partly narrowed: treat it as fatal. */
int sandbox_keep_capabilities(const cap_value_t *keep, size_t n);

/* PR_SET_NO_NEW_PRIVS: no execve ever gains privileges again (and an unprivileged seccomp load
 * becomes possible). */
int sandbox_no_new_privs(void);

/* The manager's allowlist: default action kill-process, or log under log_only (--debug-seccomp:
 * the kernel logs each syscall outside the list to the audit log/dmesg and lets it run).
 * One readable table of syscall names, some restricted by argument (socket families, prlimit64 on
 * itself only, ioctl and prctl requests); names this architecture lacks are skipped. Native
 * architecture only: any other (x32, i386) is killed. Sets no-new-privs itself (libseccomp's
 * default) when the process has not. Builds with HAVE_SANITIZERS also allow what ASan/LSan need
 * (LSan stops the world at exit with clone, ptrace, prctl, wait4; reports fork an llvm-symbolizer).
 * -EOPNOTSUPP when log_only is asked of a kernel without SECCOMP_RET_LOG. */
int sandbox_apply_seccomp(bool log_only);

/* Die with the parent: PR_SET_PDEATHSIG(SIGKILL), then check the parent is still expected_ppid;
 * -ESRCH when it is not (it died before the signal was armed: the caller should exit). The kernel
 * clears the death signal on a change of uid/gid and on execve of a set-id binary (prctl(2)), so
 * call this after any such change. */
int sandbox_die_with_parent(pid_t expected_ppid);
