/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mlockd --dry-run; see dry-run.h. */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "dry-run.h"
#include "lock.h"
#include "maps.h"
#include "match.h"
#include "procfs.h"
#include "procmon.h"
#include "strv.h"
#include "units.h"

#define DRY_RUN_CAP_IPC_LOCK 14

static const TableColumn dry_run_columns[] = {
        { "PID", "pid", CELL_UINT },
        { "COMM", "comm", CELL_STRING },
        { "POLICY", "policy", CELL_STRING },
        { "MODE", "mode", CELL_STRING },
        { "LOCK", "lock_bytes", CELL_BYTES },
        { "WANTED", "wanted_bytes", CELL_BYTES },
        { "RANGES", "ranges", CELL_UINT },
        { "TRIMMED", "trimmed", CELL_STRING },
        { "NOTE", "note", CELL_STRING },
};

typedef struct DryRunContext {
        const PolicySet *set;
        const char *proc_root;
        CgroupLayout layout;
        bool have_layout;
        Table *table;
        uint64_t total;
        size_t n_locked;
} DryRunContext;

static int add_row(DryRunContext *c, pid_t pid, const char *comm, const char *policy, const char *mode,
                   uint64_t lock, uint64_t wanted, uint64_t ranges, const char *trimmed, const char *note) {
        return table_add_row(c->table, (uint64_t) pid, comm, policy, mode, lock, wanted, ranges, trimmed ?: "",
                             note ?: "");
}

/* What the cgroup may still take under the policy's budget and the margin below its limit, or
 * below a parent's where that leaves less (as the daemon sizes a lock). */
static uint64_t dry_run_budget(DryRunContext *c, const Policy *p, const char *memcg) {
        uint64_t margin = c->set->daemon.cgroup_limit_margin;
        CgroupMemory mem = {};

        if (!c->have_layout || !memcg || cgroup_read_memory(&c->layout, memcg, &mem) < 0)
                return UINT64_MAX;
        (void) cgroup_bind_ancestor_limits(&c->layout, memcg, margin, &mem, NULL);
        return cgroup_lockable_bytes(&mem, p->cgroup_max_unevictable, margin);
}

static int dry_run_one(DryRunContext *c, pid_t pid, bool explicit) {
        _cleanup_(cgroup_paths_done) CgroupPaths paths = {};
        _cleanup_free_ char *exe = NULL, *unit = NULL;
        const char *skip = NULL, *note = NULL;
        char traced[64];
        bool raise;
        _cleanup_(maps_freep) Maps *maps = NULL;
        _cleanup_(lock_plan_freep) LockPlan *plan = NULL;
        ProcStat st = {};
        ProcStatus status = {};
        const char *cgroup = NULL, *memcg = NULL;
        uint64_t soft = UINT64_MAX, hard = UINT64_MAX;
        const Policy *p;
        MatchProcess mp;
        LockParams params;
        int r;

        r = procfs_read_stat(c->proc_root, pid, &st);
        if (r < 0)
                return explicit ? add_row(c, pid, "", "", "", 0, 0, 0, NULL, "no such process") : 0;
        if (proc_stat_is_kernel_thread(&st) || st.state == 'Z' || st.state == 'X') {
                r = explicit ? add_row(c, pid, st.comm, "", "", 0, 0, 0, NULL,
                                       st.state == 'Z' || st.state == 'X' ? "a zombie: never touched"
                                                                          : "a kernel thread: never touched")
                             : 0;
                proc_stat_done(&st);
                return r;
        }
        if (procfs_read_status(c->proc_root, pid, 0, &status) < 0 || status.tgid != pid) {
                proc_stat_done(&st);
                return explicit ? add_row(c, pid, "", "", "", 0, 0, 0, NULL, "not a process (a thread, or gone)") : 0;
        }
        (void) procfs_read_exe(c->proc_root, pid, &exe);
        if (cgroup_pid_get_paths(c->proc_root, pid, &paths) >= 0) {
                cgroup = cgroup_paths_match_path(&paths);
                memcg = paths.memory ?: paths.unified;
        }
        if (cgroup)
                (void) unit_from_cgroup_path(cgroup, &unit);
        mp = (MatchProcess) {
                .pid = pid, .exe = exe, .comm = st.comm, .cgroup = cgroup, .unit = unit, .uid = status.uid_real,
        };
        p = match_policy(c->set, &mp);
        if (!p) {
                r = explicit ? add_row(c, pid, st.comm, "", "", 0, 0, 0, NULL,
                                       exe ? "no policy matches (mlockctl explain PID says why)"
                                           : "no policy matches (its executable could not be read)")
                             : 0;
                proc_stat_done(&st);
                return r;
        }

        if (pid == getpid() || pid == getppid())
                skip = "mlockd itself: never touched";
        else if (status.tracer_pid != 0) {
                snprintf(traced, sizeof traced, "traced by %d: would be skipped", (int) status.tracer_pid);
                skip = traced;
        } else if (p->mode == LOCK_MODE_NONE)
                skip = "Mode=none: nothing to lock (what mlockd locked before is unlocked)";
        if (skip) {
                r = add_row(c, pid, st.comm, p->name, lock_mode_to_string(p->mode), 0, 0, 0, NULL, skip);
                proc_stat_done(&st);
                return r;
        }

        r = maps_read(c->proc_root, pid, true, &maps);
        if (r < 0) {
                r = add_row(c, pid, st.comm, p->name, lock_mode_to_string(p->mode), 0, 0, 0, NULL,
                            "its memory map could not be read");
                proc_stat_done(&st);
                return r;
        }
        if (!(status.cap_eff & (1ULL << DRY_RUN_CAP_IPC_LOCK)))
                (void) procfs_read_memlock_limit(c->proc_root, pid, &soft, &hard);
        params = (LockParams) {
                .mode = p->mode,
                .regions = p->regions,
                .file_globs = p->region_files,
                .future = p->future,
                .max_locked = p->max_locked,
                .budget = dry_run_budget(c, p, memcg),
                .memlock_limit = soft,
                .vm_locked = status.vm_lck,
        };
        r = lock_plan(maps, &params, &plan);
        if (r < 0) {
                proc_stat_done(&st);
                return r;
        }

        raise = streq_ptr(plan->trimmed, "rlimit") && p->raise_memlock_limit;
        if (plan->future_refused)
                note = "Future= refused: its RLIMIT_MEMLOCK would make its own mmap fail";
        else if (status.seccomp == 2)
                note = raise ? "under a seccomp filter, checked before each injection; RLIMIT_MEMLOCK "
                               "raised first if mlockd may"
                             : "under a seccomp filter, checked before each injection";
        else if (raise)
                note = "RLIMIT_MEMLOCK raised first if mlockd may (CAP_SYS_RESOURCE, a trusted match)";
        else if (plan->mlockall_flags)
                note = "ends with mlockall (Future=)";

        c->total += plan->bytes;
        c->n_locked += plan->bytes > 0;
        r = add_row(c, pid, st.comm, p->name, lock_mode_to_string(p->mode), plan->bytes, plan->wanted,
                    plan->n_ranges, plan->trimmed, note);
        proc_stat_done(&st);
        return r;
}

int dry_run(const PolicySet *set, const char *proc_root, const pid_t *pids, size_t n_pids, JsonMode json,
            FILE *f) {
        _cleanup_free_ pid_t *all = NULL;
        DryRunContext c = { .set = set, .proc_root = proc_root };
        char buf[FORMAT_BYTES_MAX];
        size_t n = n_pids;
        int r;

        if (!set || !proc_root || !f)
                return -EINVAL;
        if (!pids) {
                r = procmon_scan(proc_root, &all, &n);
                if (r < 0)
                        return r;
        }
        c.have_layout = cgroup_layout_detect("/sys/fs/cgroup", &c.layout) >= 0;
        r = table_new(dry_run_columns, ELEMENTSOF(dry_run_columns), &c.table);
        if (r < 0)
                goto finish;

        for (size_t i = 0; i < n; i++) {
                r = dry_run_one(&c, pids ? pids[i] : all[i], pids != NULL);
                if (r < 0)
                        goto finish;
        }

        if (json == JSON_OFF) {
                r = table_print(c.table, f, true);
                if (r < 0)
                        goto finish;
                fprintf(f, "\n%zu %s listed; %zu would be locked, %s in all. Dry run: nothing was touched.\n",
                        table_get_rows(c.table), table_get_rows(c.table) == 1 ? "process" : "processes", c.n_locked,
                        format_bytes(buf, sizeof buf, c.total));
        } else {
                _cleanup_free_ char *text = NULL;
                size_t size = 0;
                FILE *m = open_memstream(&text, &size);

                if (!m) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = table_print_json(c.table, m);
                if (fclose(m) != 0 && r >= 0)
                        r = -ENOMEM;
                if (r < 0)
                        goto finish;
                if (json == JSON_PRETTY)
                        r = json_print_pretty(f, text);
                else
                        r = fprintf(f, "%s\n", text) < 0 ? -EIO : 0;
        }
finish:
        table_free(c.table);
        cgroup_layout_done(&c.layout);
        return r < 0 ? r : 0;
}
