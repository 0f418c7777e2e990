/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fileio.h"
#include "job.h"
#include "log.h"
#include "strv.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

#define SMAPS_MAX (64U * 1024U * 1024U)
#define MAX_REPLANS 3
#define STEP_STOP_TIMEOUT_USEC (2 * USEC_PER_SEC)

static uint64_t page_size(void) {
        long p = sysconf(_SC_PAGESIZE);
        return p > 0 ? (uint64_t) p : 4096;
}

int job_spec_from_policy(const Policy *p, bool dry_run, JobSpec *ret) {
        JobSpec s = {
                .mode = p->mode,
                .regions = p->regions,
                .future = p->future,
                .prefetch = p->prefetch,
                .lock_network_files = p->lock_network_files,
                .raise_memlock_limit = p->raise_memlock_limit,
                .max_pause = p->max_pause,
                .max_locked = p->max_locked,
                .dry_run = dry_run,
        };

        if (p->region_files) {
                s.file_globs = strv_copy(p->region_files);
                if (!s.file_globs)
                        return -ENOMEM;
        }
        *ret = s;
        return 0;
}

void job_spec_done(JobSpec *s) {
        s->file_globs = strv_free(s->file_globs);
}

int job_new(JobKind kind, Target *t, const JobSpec *spec, const JobOps *ops, void *userdata, Job **ret) {
        Job *j = calloc(1, sizeof *j);

        if (!j)
                return -ENOMEM;
        j->kind = kind;
        j->target = t;
        j->ops = ops;
        j->userdata = userdata;
        j->state = TARGET_PENDING;
        if (spec) {
                j->spec = *spec;
                if (spec->file_globs) {
                        j->spec.file_globs = strv_copy(spec->file_globs);
                        if (!j->spec.file_globs) {
                                free(j);
                                return -ENOMEM;
                        }
                }
        }
        *ret = j;
        return 0;
}

Job *job_free(Job *j) {
        if (!j)
                return NULL;
        job_spec_done(&j->spec);
        lock_plan_free(j->plan);
        ledger_maps_free(j->planner_maps);
        maps_free(j->planner_smaps);
        free(j->prefetch);
        free(j->steps);
        free(j);
        return NULL;
}

uint64_t job_in_flight(const Job *j) {
        uint64_t done = 0;

        if (!j || !j->plan || j->phase < JOB_PREFETCH || j->phase > JOB_MLOCKALL)
                return 0;
        for (size_t i = 0; i < j->cursor_range && i < j->plan->n_ranges; i++)
                if (!j->plan->ranges[i].locked)
                        done += j->plan->ranges[i].end - j->plan->ranges[i].start;
        return account_in_flight(j->plan->bytes, done + j->cursor_offset);
}

/* ---- ending ---------------------------------------------------------------------------------- */

static void job_finish(Job *j, TargetState s, TargetReason r, const char *detail) {
        j->phase = JOB_DONE;
        j->state = s;
        j->reason = r;
        snprintf(j->detail, sizeof j->detail, "%s", strempty(detail));
        j->ops->finished(j, j->userdata);
}

static void job_gone(Job *j) {
        j->gone = true;
        job_finish(j, TARGET_FAILED, TARGET_REASON_GONE, NULL);
}

/* An injector reason ("traced", "seccomp:kill_process", ...) as a state. */
static void job_refused(Job *j, const char *why, TargetReason fallback) {
        const char *detail = NULL;
        TargetReason r = target_reason_from_string(why, &detail);

        job_finish(j, TARGET_SKIPPED, r < 0 ? fallback : r, detail);
}

static TargetReason error_reason(long result) {
        switch (-result) {
        case ENOMEM:
                return TARGET_REASON_ENOMEM;
        case EPERM:
                return TARGET_REASON_RLIMIT;
        case EAGAIN:
                return TARGET_REASON_EAGAIN;
        default:
                return TARGET_REASON_ERROR;
        }
}

/* A step could not run: the job ends, with a state that says why. */
static void job_step_failed(Job *j, int r, const char *why) {
        log_debug_errno(r, "Step for %d failed%s%s: %m", (int) j->target->pid, isempty(why) ? "" : ": ", strempty(why));
        switch (-r) {
        case ESRCH:
                job_gone(j);
                return;
        case EPERM:
                job_refused(j, why, TARGET_REASON_EPERM);
                return;
        case EBUSY:
                job_finish(j, TARGET_SKIPPED, TARGET_REASON_TRACED, NULL);
                return;
        case ETIMEDOUT:
                job_finish(j, TARGET_FAILED, TARGET_REASON_TIMEOUT, NULL);
                return;
        case EOPNOTSUPP:
                job_finish(j, TARGET_SKIPPED, TARGET_REASON_UNSUPPORTED, NULL);
                return;
        default:
                if (!isempty(why))
                        job_refused(j, why, TARGET_REASON_INJECT);
                else
                        job_finish(j, TARGET_FAILED, TARGET_REASON_INJECT, NULL);
        }
}

/* ---- requests ------------------------------------------------------------------------------- */

static void job_request(Job *j, InjectorOp op, InjectorRequest *req) {
        *req = (InjectorRequest) {
                .magic = INJECTOR_MAGIC,
                .op = op,
                .pid = j->target->pid,
                .starttime = j->target->starttime,
                .flags = j->target->pid == 1 ? INJECTOR_FLAG_ALLOW_PID1 : 0,
        };
}

static void job_send(Job *j, const InjectorRequest *req) {
        int r;

        j->last = *req;
        r = j->ops->submit(j, req, j->userdata);
        if (r < 0)
                job_finish(j, TARGET_FAILED, TARGET_REASON_INJECTOR, NULL);
}

static void job_send_open(Job *j, JobPhase phase) {
        InjectorRequest req;

        j->phase = phase;
        job_request(j, INJECTOR_OP_OPEN, &req);
        req.value = INJECTOR_FILE_SMAPS;
        if (phase == JOB_PLAN)
                req.args[0] = j->spec.max_mappings; /* counted before smaps walks them all */
        job_send(j, &req);
}

static void job_send_step(Job *j, InjectCall call, const uint64_t args[6]) {
        InjectorRequest req;

        job_request(j, INJECTOR_OP_STEP, &req);
        req.call = call;
        memcpy(req.args, args, sizeof req.args);
        req.timeout_usec = STEP_STOP_TIMEOUT_USEC;
        job_send(j, &req);
}

/* The smaps text behind a passed fd. -ESRCH: the mm is gone. */
static int job_read_smaps(int fd, Maps **ret) {
        _cleanup_close_ int f = fd;
        _cleanup_free_ char *text = NULL;
        int r;

        if (f < 0)
                return -EBADMSG;
        r = read_full_fd(f, SMAPS_MAX, &text, NULL);
        if (r < 0)
                return r == -EFBIG ? r : -ESRCH;
        return maps_parse(text, ret);
}

/* ---- ledger steps: trims and unlocks ---------------------------------------------------------- */

static void job_next_ledger_step(Job *j);

static void job_plan_from(Job *j, const Maps *smaps);

static void job_ledger_step_reply(Job *j, int r, const InjectorReply *reply) {
        const LedgerStep *s = &j->steps[j->step_at];

        if (r < 0) {
                job_step_failed(j, r, reply ? reply->reason : NULL);
                return;
        }
        if (reply->result == 0)
                ledger_step_done(&j->target->ledger, s);
        else if (reply->result != -ENOMEM && j->error == TARGET_REASON_NONE)
                j->error = error_reason(reply->result); /* ENOMEM: no longer mapped, nothing to undo */
        j->ops->stepped(j, reply->held_usec, j->userdata);
        j->step_at++;
        job_next_ledger_step(j);
}

static void job_next_ledger_step(Job *j) {
        uint64_t args[6] = {};
        const LedgerStep *s;

        if (j->step_at >= j->n_steps) {
                if (j->phase == JOB_TRIM) {
                        job_send_open(j, JOB_PLAN); /* plan again from what is left */
                        return;
                }
                if (j->error != TARGET_REASON_NONE)
                        job_finish(j, TARGET_FAILED, j->error, NULL);
                else
                        job_finish(j, TARGET_PENDING, TARGET_REASON_NONE, NULL);
                return;
        }
        s = &j->steps[j->step_at];
        args[0] = s->start;
        args[1] = s->len;
        if (s->call == INJECT_MLOCK2)
                args[2] = s->flags;
        job_send_step(j, s->call, args);
}

static int job_set_steps(Job *j, const Maps *smaps, uint64_t keep) {
        free(j->steps);
        j->steps = NULL;
        j->n_steps = j->step_at = 0;
        return ledger_unlock_steps(&j->target->ledger, smaps, keep, &j->steps, &j->n_steps);
}

/* ---- planning -------------------------------------------------------------------------------- */

/* Prefetch anonymous memory only (lib/prefetch.c picks what is swapped out): page cache read by
 * process_madvise is charged to mlockd's memory cgroup, so file pages are left to the populating
 * mlock2 in the target's own context. Clipped to what the plan still has to lock. */
static int job_plan_prefetch(Job *j, const Maps *maps) {
        unsigned anon = REGION_ANON | REGION_HEAP | REGION_STACK;
        _cleanup_free_ PrefetchRange *all = NULL;
        size_t n_all = 0;
        int r;

        r = prefetch_plan(maps, j->spec.regions & REGION_ALL ? anon : j->spec.regions & anon, NULL, "/sys", &all,
                          &n_all);
        if (r < 0)
                return r;
        for (size_t i = 0; i < j->plan->n_ranges; i++) {
                const LockRange *lr = &j->plan->ranges[i];

                for (size_t k = 0; !lr->locked && k < n_all; k++) {
                        uint64_t s = MAX(all[k].start, lr->start), e = MIN(all[k].end, lr->end);
                        PrefetchRange *n;

                        if (s >= e)
                                continue;
                        n = reallocarray(j->prefetch, j->n_prefetch + 1, sizeof *n);
                        if (!n)
                                return -ENOMEM;
                        j->prefetch = n;
                        j->prefetch[j->n_prefetch++] = (PrefetchRange) { .start = s, .end = e, .chunk = all[k].chunk };
                }
        }
        return 0;
}

static void job_next_lock_step(Job *j);
static void job_next_prefetch(Job *j);
static uint64_t job_inherited_locked(Job *j, const Maps *smaps);

static TargetReason trimmed_reason(const LockPlan *plan) {
        TargetReason r = target_reason_from_string(plan->trimmed, NULL);
        return r < 0 ? TARGET_REASON_LIMIT : r;
}

/* The plan is made (and final): run it. */
static void job_run_plan(Job *j) {
        if (j->spec.dry_run) {
                char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
                log_info("Would lock %s of %s wanted in %zu ranges of %d (%s), mode %s%s%s.",
                         format_bytes(a, sizeof a, j->plan->bytes), format_bytes(b, sizeof b, j->plan->wanted),
                         j->plan->n_ranges, (int) j->target->pid, strempty(j->target->comm),
                         lock_mode_to_string(j->spec.mode), j->plan->trimmed ? ", trimmed by " : "",
                         strempty(j->plan->trimmed));
                job_finish(j, TARGET_SKIPPED, TARGET_REASON_DRY_RUN, NULL);
                return;
        }
        if (j->plan->n_ranges == 0) {
                j->locked_bytes = job_inherited_locked(j, j->planner_maps);
                if (j->plan->trimmed)
                        job_finish(j, TARGET_SKIPPED, trimmed_reason(j->plan), NULL);
                else
                        job_finish(j, TARGET_LOCKED, TARGET_REASON_NONE, NULL);
                return;
        }

        free(j->prefetch);
        j->prefetch = NULL;
        j->n_prefetch = j->prefetch_at = 0;
        j->cursor_range = 0;
        j->cursor_offset = 0;
        if (j->spec.prefetch && j->spec.mode == LOCK_MODE_FULL && job_plan_prefetch(j, j->planner_maps) < 0)
                j->n_prefetch = 0;
        if (j->n_prefetch > 0) {
                j->phase = JOB_PREFETCH;
                job_next_prefetch(j);
        } else {
                j->phase = JOB_LOCK_STEP;
                job_next_lock_step(j);
        }
}

static void job_plan_from(Job *j, const Maps *smaps) {
        Target *t = j->target;
        JobLimits lim = {};
        uint64_t adopted = 0, held;
        int r;

        r = ledger_prune(&t->ledger, smaps);
        if (r >= 0) {
                j->planner_maps = ledger_maps_free(j->planner_maps);
                r = ledger_planner_maps(&t->ledger, smaps, j->spec.regions, j->spec.file_globs, &j->planner_maps,
                                        &adopted);
        }
        if (r < 0) {
                job_finish(j, TARGET_FAILED, TARGET_REASON_PLAN, NULL);
                return;
        }

        /* after a restart the locks in place may be mlockd's own from before: they count */
        held = ledger_bytes(&t->ledger) + (t->inherited ? adopted : 0);
        r = j->ops->limits(j, held, &lim, j->userdata);
        if (r == -ESRCH) {
                job_gone(j);
                return;
        }
        if (r < 0) {
                job_finish(j, TARGET_FAILED, TARGET_REASON_PLAN, NULL);
                return;
        }

        if (lim.account.excess > 0 && j->replans < MAX_REPLANS) {
                /* MaxLocked= went down: give back what is beyond it, then plan again */
                uint64_t mine = ledger_bytes(&t->ledger);
                uint64_t keep = mine > lim.account.excess ? mine - lim.account.excess : 0;

                r = job_set_steps(j, smaps, keep);
                if (r < 0) {
                        job_finish(j, TARGET_FAILED, TARGET_REASON_PLAN, NULL);
                        return;
                }
                if (j->n_steps > 0) {
                        j->replans++;
                        j->phase = JOB_TRIM;
                        job_next_ledger_step(j);
                        return;
                }
        }

        j->params = (LockParams) {
                .mode = j->spec.mode,
                .regions = j->spec.regions,
                .file_globs = j->spec.file_globs,
                .future = j->spec.future,
                .max_locked = j->spec.max_locked,
                .held = held,
                .budget = lim.account.budget,
                .memlock_limit = lim.memlock_limit,
                .vm_locked = lim.vm_locked,
        };
        j->plan = lock_plan_free(j->plan);
        r = lock_plan(j->planner_maps, &j->params, &j->plan);
        if (r < 0) {
                job_finish(j, TARGET_FAILED, TARGET_REASON_PLAN, NULL);
                return;
        }

        /* Raise the soft RLIMIT_MEMLOCK when the manager allows (spec: match_may_raise_memlock()); the
         * injector goes no higher than the hard limit, and the manager puts it back at the end. */
        if (streq_ptr(j->plan->trimmed, "rlimit") && j->spec.raise_memlock_limit && !j->spec.dry_run &&
            !j->limit_asked) {
                uint64_t want = lim.vm_locked + j->plan->wanted, page = page_size();
                InjectorRequest req;

                if (j->spec.max_locked > 0)
                        want = MIN(want, j->spec.max_locked);
                j->limit_asked = true;
                job_request(j, INJECTOR_OP_PRLIMIT, &req);
                req.value = (want + page - 1) & ~(page - 1);
                j->phase = JOB_PRLIMIT;
                job_send(j, &req);
                return;
        }
        job_run_plan(j);
}

/* The injector raises the soft limit only, up to the hard one: plan with what it is now. */
static void job_prlimit_reply(Job *j, int r, const InjectorReply *reply) {
        if (r >= 0 && reply->advised <= (uint64_t) reply->result)
                log_debug("RLIMIT_MEMLOCK of %d is at its hard limit already.", (int) j->target->pid);
        else if (r >= 0) {
                j->raised_limit = reply->advised;
                j->saved_limit = (uint64_t) reply->result;
                j->params.memlock_limit = reply->advised;
                j->plan = lock_plan_free(j->plan);
                if (lock_plan(j->planner_maps, &j->params, &j->plan) < 0) {
                        job_finish(j, TARGET_FAILED, TARGET_REASON_PLAN, NULL);
                        return;
                }
        } else
                log_debug_errno(r, "Could not raise RLIMIT_MEMLOCK of %d: %m", (int) j->target->pid);
        job_run_plan(j);
}

/* ---- prefetch and lock steps -------------------------------------------------------------------- */

static void job_next_prefetch(Job *j) {
        InjectorRequest req;
        size_t n;

        if (j->prefetch_at >= j->n_prefetch) {
                j->phase = JOB_LOCK_STEP;
                job_next_lock_step(j);
                return;
        }
        n = MIN(j->n_prefetch - j->prefetch_at, (size_t) INJECTOR_MAX_RANGES);
        job_request(j, INJECTOR_OP_PREFETCH, &req);
        req.n_ranges = (uint32_t) n;
        memcpy(req.ranges, j->prefetch + j->prefetch_at, n * sizeof(PrefetchRange));
        j->prefetch_at += n;
        job_send(j, &req);
}

static void job_next_lock_step(Job *j) {
        uint64_t args[6] = {}, left;
        const LockRange *lr;

        /* skip what is done or already locked as wanted */
        while (j->cursor_range < j->plan->n_ranges &&
               (j->plan->ranges[j->cursor_range].locked ||
                j->cursor_offset >= j->plan->ranges[j->cursor_range].end - j->plan->ranges[j->cursor_range].start)) {
                j->cursor_range++;
                j->cursor_offset = 0;
        }
        if (j->cursor_range >= j->plan->n_ranges) {
                if (j->plan->mlockall_flags) {
                        /* MCL_FUTURE alone: the ranges are locked already, and without MCL_CURRENT
                         * mlockall() changes no existing mapping (the target's own locks keep their
                         * mode) */
                        args[0] = (uint64_t) (j->plan->mlockall_flags & ~MCL_CURRENT);
                        j->phase = JOB_MLOCKALL;
                        job_send_step(j, INJECT_MLOCKALL, args);
                } else
                        job_send_open(j, JOB_VERIFY);
                return;
        }

        lr = &j->plan->ranges[j->cursor_range];
        left = lr->end - lr->start - j->cursor_offset;
        j->chunk = MIN(lock_chunk_size(j->spec.mode, j->target->rate, j->spec.max_pause), left);
        args[0] = lr->start + j->cursor_offset;
        args[1] = j->chunk;
        args[2] = j->spec.mode == LOCK_MODE_ONFAULT ? MLOCK_ONFAULT : 0;
        job_send_step(j, INJECT_MLOCK2, args);
}

static void job_lock_step_reply(Job *j, int r, const InjectorReply *reply) {
        Target *t = j->target;
        uint64_t start = j->last.args[0];

        if (r < 0) {
                job_step_failed(j, r, reply ? reply->reason : NULL);
                return;
        }
        j->ops->stepped(j, reply->held_usec, j->userdata);
        j->max_hold = MAX(j->max_hold, (usec_t) reply->held_usec);
        if (reply->held_usec > 1 && j->chunk >= (64ULL << 10)) {
                /* Learn the rate for the next chunk: a slower step counts at once, a faster one only
                 * gradually, so one lucky step cannot overshoot MaxPause. */
                double rate = (double) j->chunk / (double) reply->held_usec;
                t->rate = t->rate <= 0 || rate < t->rate ? rate : t->rate * 0.8 + rate * 0.2;
        }
        if (reply->result == -ENOMEM && j->replans < MAX_REPLANS) {
                /* The range is no longer mapped as planned (a program right after exec is still being
                 * laid out by its loader): plan again from fresh maps rather than report it. */
                log_debug("Process %d changed its mappings under the plan, planning again.", (int) t->pid);
                j->replans++;
                job_send_open(j, JOB_PLAN);
                return;
        }
        if (reply->result == 0)
                (void) ledger_add(&t->ledger, start, start + j->chunk, j->spec.mode);
        else if (j->error == TARGET_REASON_NONE)
                j->error = error_reason(reply->result);
        j->cursor_offset += j->chunk;
        job_next_lock_step(j);
}

static void job_mlockall_reply(Job *j, int r, const InjectorReply *reply) {
        if (r < 0) {
                job_step_failed(j, r, reply ? reply->reason : NULL);
                return;
        }
        j->ops->stepped(j, reply->held_usec, j->userdata);
        if (reply->result == 0)
                j->target->ledger.future = true;
        else if (j->error == TARGET_REASON_NONE)
                j->error = error_reason(reply->result);
        job_send_open(j, JOB_VERIFY);
}

/* After a restart the locks found in place count as held (job_plan_from()); report them too. */
static uint64_t job_inherited_locked(Job *j, const Maps *smaps) {
        Maps *pm = NULL;
        uint64_t sum = 0;

        if (!j->target->inherited ||
            ledger_planner_maps(&j->target->ledger, smaps, j->spec.regions, j->spec.file_globs, &pm, NULL) < 0)
                return 0;
        for (size_t i = 0; i < pm->n; i++) {
                MapsRegion r = pm->regions[i];

                if (r.lockable || !(r.vmflags & VMFLAG_LOCKED))
                        continue;
                r.lockable = true; /* marked adopted: was it selected? */
                if (maps_region_selected(&r, j->spec.regions, j->spec.file_globs))
                        sum += r.locked;
        }
        ledger_maps_free(pm);
        return sum;
}

static void job_verify(Job *j, const Maps *smaps) {
        LockVerify v;

        lock_verify(smaps, j->plan, j->spec.mode, &v);
        j->locked_bytes = v.locked + job_inherited_locked(j, smaps);
        if (v.complete && !j->plan->trimmed && j->error == TARGET_REASON_NONE && !j->plan->future_refused)
                job_finish(j, TARGET_LOCKED, TARGET_REASON_NONE, NULL);
        else if (v.flagged > 0)
                job_finish(j, TARGET_PARTIAL,
                           j->plan->trimmed                 ? trimmed_reason(j->plan)
                           : j->error != TARGET_REASON_NONE ? j->error
                           : j->plan->future_refused        ? TARGET_REASON_RLIMIT
                                                            : TARGET_REASON_INCOMPLETE,
                           NULL);
        else
                job_finish(j, TARGET_FAILED,
                           j->error != TARGET_REASON_NONE ? j->error
                           : j->plan->trimmed             ? trimmed_reason(j->plan)
                                                          : TARGET_REASON_NOT_LOCKED,
                           NULL);
}

/* ---- the machine ----------------------------------------------------------------------------- */

/* What could hold a lock step without bound is left out of the plan: userfaultfd-registered areas
 * (maps.c marks them), and unless LockNetworkFiles=yes, files on network and FUSE filesystems. */
static void job_exclude_may_block(Job *j, Maps *smaps) {
        _cleanup_(mounts_freep) Mounts *mounts = NULL;
        char b[FORMAT_BYTES_MAX];
        uint64_t bytes;

        if (!j->spec.lock_network_files && j->ops->mounts && j->ops->mounts(j, &mounts, j->userdata) < 0)
                log_debug("Could not read the mounts of %d; its network files are not told apart.",
                          (int) j->target->pid);
        bytes = maps_exclude_may_block(smaps, mounts);
        if (bytes > 0)
                log_info("Leaving %s of process %d (%s) unlocked: userfaultfd-registered or on a network or "
                         "FUSE filesystem, where a lock could wait without bound.", format_bytes(b, sizeof b, bytes),
                         (int) j->target->pid, strempty(j->target->comm));
}

void job_start(Job *j) {
        InjectorRequest req;

        if (j->kind == JOB_UNLOCK) {
                job_send_open(j, JOB_UNLOCK_MAPS);
                return;
        }
        j->phase = JOB_PRECHECK;
        job_request(j, INJECTOR_OP_PRECHECK, &req);
        job_send(j, &req);
}

static void job_smaps_reply(Job *j, int r, int fd) {
        _cleanup_(maps_freep) Maps *smaps = NULL;

        if (r >= 0)
                r = job_read_smaps(fd, &smaps);
        else
                safe_close(fd);
        if (r == -ESRCH || r == -ENOENT) {
                job_gone(j);
                return;
        }
        if (r == -E2BIG) {
                job_finish(j, TARGET_SKIPPED, TARGET_REASON_TOO_MANY_MAPS, NULL);
                return;
        }
        if (r < 0) {
                job_finish(j, TARGET_FAILED, TARGET_REASON_MAPS, NULL);
                return;
        }

        switch (j->phase) {
        case JOB_PLAN:
                /* kept: planner_maps borrows its paths, and a replan after prlimit reads them */
                j->planner_maps = ledger_maps_free(j->planner_maps);
                maps_free(j->planner_smaps);
                j->planner_smaps = TAKE_PTR(smaps);
                job_exclude_may_block(j, j->planner_smaps);
                job_plan_from(j, j->planner_smaps);
                return;
        case JOB_VERIFY:
                job_verify(j, smaps);
                return;
        default: /* JOB_UNLOCK_MAPS */
                if (ledger_prune(&j->target->ledger, smaps) < 0 || job_set_steps(j, smaps, 0) < 0) {
                        job_finish(j, TARGET_FAILED, TARGET_REASON_PLAN, NULL);
                        return;
                }
                j->phase = JOB_UNLOCK_STEP;
                job_next_ledger_step(j);
        }
}

void job_reply(Job *j, int r, const InjectorReply *reply, int fd) {
        if (j->phase == JOB_DONE) {
                safe_close(fd);
                return;
        }

        if (r == -ETIMEDOUT && !reply) {
                /* the injector did not answer in time (the client killed it): the call may be stuck
                 * in the kernel, and a retry would hold the next injector too */
                safe_close(fd);
                job_finish(j, TARGET_FAILED, TARGET_REASON_STUCK, NULL);
                return;
        }
        if (r == -ECONNRESET && j->retries++ == 0) {
                /* the injector was lost and the target is running untraced: once more */
                InjectorRequest req = j->last;
                job_send(j, &req);
                return;
        }
        if (r == -ECONNRESET || r == -ENOTRECOVERABLE || r == -ENOTCONN) {
                safe_close(fd);
                job_finish(j, TARGET_FAILED, TARGET_REASON_INJECTOR, NULL);
                return;
        }
        j->retries = 0;

        switch (j->phase) {
        case JOB_PRECHECK:
                if (r < 0) {
                        if (r == -ESRCH || streq(reply->reason, "gone") || streq(reply->reason, "zombie") ||
                            streq(reply->reason, "exiting"))
                                job_gone(j);
                        else
                                job_refused(j, reply->reason, TARGET_REASON_PRECHECK);
                        return;
                }
                job_send_open(j, JOB_PLAN);
                return;
        case JOB_PLAN:
        case JOB_VERIFY:
        case JOB_UNLOCK_MAPS:
                job_smaps_reply(j, r, fd);
                return;
        case JOB_TRIM:
        case JOB_UNLOCK_STEP:
                job_ledger_step_reply(j, r, reply);
                return;
        case JOB_PRLIMIT:
                job_prlimit_reply(j, r, reply);
                return;
        case JOB_PREFETCH:
                if (r < 0) {
                        log_debug_errno(r, "Prefetch for %d failed, continuing without: %m", (int) j->target->pid);
                        j->prefetch_at = j->n_prefetch;
                }
                job_next_prefetch(j);
                return;
        case JOB_LOCK_STEP:
                job_lock_step_reply(j, r, reply);
                return;
        case JOB_MLOCKALL:
                job_mlockall_reply(j, r, reply);
                return;
        default:
                safe_close(fd);
        }
}
