/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
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
#define JOB_MAX_FOLLOWS 8 /* plans again from verify reads, for mappings made meanwhile */
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
                .relock = p->relock,
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
        job_pages_done(&j->survey);
        job_pages_done(&j->verify);
        job_foreign_done(&j->trim);
        lock_plan_free(j->plan);
        ledger_maps_free(j->planner_maps);
        maps_free(j->plan_smaps);
        free(j->prefetch);
        free(j->steps);
        free(j);
        return NULL;
}

static void job_request(Job *j, InjectorOp op, InjectorRequest *req);
static void job_send(Job *j, const InjectorRequest *req);

/* ---- per-page counts: pieces and windows --------------------------------------------------- */

void job_pages_done(JobPages *pg) {
        free(pg->pieces);
        free(pg->windows);
        *pg = (JobPages) {};
}

/* The owner and mode of a window: those of its first piece (a window has one of each). */
static const JobPiece *window_piece(const JobPages *pg, const JobWindow *w) {
        return &pg->pieces[w->first];
}

static int pages_add_one(JobPages *pg, uint64_t start, uint64_t end, bool ours, LockMode mode) {
        JobPiece *np;
        JobWindow *w = pg->n_windows > 0 ? &pg->windows[pg->n_windows - 1] : NULL;

        np = reallocarray(pg->pieces, pg->n_pieces + 1, sizeof *np);
        if (!np)
                return -ENOMEM;
        pg->pieces = np;
        pg->pieces[pg->n_pieces] = (JobPiece) { .start = start, .end = end, .ours = ours, .mode = mode };

        if (!w || w->n >= INJECTOR_MAX_RANGES || window_piece(pg, w)->start / JOB_WINDOW != start / JOB_WINDOW ||
            window_piece(pg, w)->ours != ours || window_piece(pg, w)->mode != mode) {
                JobWindow *nw = reallocarray(pg->windows, pg->n_windows + 1, sizeof *nw);

                if (!nw)
                        return -ENOMEM;
                pg->windows = nw;
                w = &pg->windows[pg->n_windows++];
                *w = (JobWindow) { .first = pg->n_pieces };
        }
        w->n++;
        w->bytes += end - start;
        pg->n_pieces++;
        return 0;
}

int job_pages_add(JobPages *pg, uint64_t start, uint64_t end, bool ours, LockMode mode) {
        while (start < end) {
                uint64_t e = MIN(end, (start / JOB_WINDOW + 1) * JOB_WINDOW);
                int r = pages_add_one(pg, start, e, ours, mode);

                if (r < 0)
                        return r;
                start = e;
        }
        return 0;
}

/* Missing pages of window w of pg, in its own mode; 0 for a window that is not mlockd's. */
static uint64_t pages_missing_ours(const JobPages *pg, const JobWindow *w) {
        const JobPiece *p = window_piece(pg, w);

        return p->ours ? job_window_missing(w, p->mode) : 0;
}

uint64_t job_window_missing(const JobWindow *w, LockMode mode) {
        const PageCounts *c = &w->counts;
        uint64_t ok = c->mlocked + c->zero, missing = c->present > ok ? c->present - ok : 0;

        if (!w->counted)
                return 0;
        return missing + (mode == LOCK_MODE_FULL ? c->swapped : 0);
}

/* The window holding addr, or NULL. */
static const JobWindow *pages_window_at(const JobPages *pg, uint64_t addr) {
        for (size_t w = 0; w < pg->n_windows; w++) {
                const JobWindow *win = &pg->windows[w];

                for (size_t k = win->first; k < win->first + win->n; k++)
                        if (pg->pieces[k].start <= addr && addr < pg->pieces[k].end)
                                return win;
        }
        return NULL;
}

static void job_send_pages(Job *j, const JobPages *pg) {
        const JobWindow *w = &pg->windows[pg->at];
        InjectorRequest req;

        job_request(j, INJECTOR_OP_PAGES, &req);
        if (pg == &j->verify)
                req.value = j->spec.memcg_ino; /* and the pages charged elsewhere */
        req.n_ranges = (uint32_t) w->n;
        for (size_t k = 0; k < w->n; k++)
                req.ranges[k] = (PrefetchRange) { .start = pg->pieces[w->first + k].start,
                                                  .end = pg->pieces[w->first + k].end };
        job_send(j, &req);
}

uint64_t job_in_flight(const Job *j) {
        uint64_t done = 0;

        if (j && (j->phase == JOB_PAGES || j->phase == JOB_RELOCK)) {
                /* what the verify found and the relock still has to make the kernel mlock: not in
                 * unevictable yet (windows not counted yet count nothing) */
                uint64_t left = 0, ps = page_size();

                for (size_t w = j->phase == JOB_RELOCK ? j->relock_window : 0; w < j->verify.n_windows; w++)
                        left += pages_missing_ours(&j->verify, &j->verify.windows[w]) * ps;
                return left;
        }
        if (!j || !j->plan || j->phase < JOB_SURVEY || j->phase > JOB_MLOCKALL)
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

/* Open smaps for phase; the first request of a lock job (JOB_PRECHECK) also has the injector's
 * pre-checks run first (INJECTOR_FLAG_PRECHECK), and plans from what it opened. */
static void job_send_open(Job *j, JobPhase phase) {
        InjectorRequest req;

        j->phase = phase;
        job_request(j, INJECTOR_OP_OPEN, &req);
        req.value = INJECTOR_FILE_SMAPS;
        if (phase == JOB_PRECHECK)
                req.flags |= INJECTOR_FLAG_PRECHECK;
        if (phase == JOB_PLAN || phase == JOB_PRECHECK)
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
                if (j->phase == JOB_FOREIGN_UNLOCK) {
                        job_send_open(j, JOB_VERIFY); /* what is left, per page */
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
static void job_start_steps(Job *j);
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
        pace_init(&j->pace, &(PaceParams) { .max_pause = j->spec.max_pause, .page_size = page_size() });

        if (j->spec.recheck && !j->spec.relock && j->plan->bytes > 0) {
                /* the target undid part of mlockd's lock and the policy says leave it: report */
                j->drifted = true;
                job_send_open(j, JOB_VERIFY);
                return;
        }

        /* survey what is to lock: the pace needs the mix of resident, swapped, absent and huge;
         * below JOB_SURVEY_MIN the first steps cover it anyway, and a round trip is saved */
        job_pages_done(&j->survey);
        if (j->plan->bytes < JOB_SURVEY_MIN) {
                job_start_steps(j);
                return;
        }
        for (size_t i = 0; i < j->plan->n_ranges; i++) {
                const LockRange *lr = &j->plan->ranges[i];

                if (!lr->locked && job_pages_add(&j->survey, lr->start, lr->end, false, j->spec.mode) < 0) {
                        job_finish(j, TARGET_FAILED, TARGET_REASON_PLAN, NULL);
                        return;
                }
        }
        if (j->survey.n_windows > 0 && !j->pages_unreadable) {
                j->phase = JOB_SURVEY;
                job_send_pages(j, &j->survey);
                return;
        }
        job_start_steps(j);
}

/* The survey is done (or not possible): prefetch, then the lock steps. */
static void job_start_steps(Job *j) {
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

/* kpageflags refused (no CAP_SYS_ADMIN, a kernel without it): verify falls back to smaps. */
static bool pages_refused(int r, const InjectorReply *reply) {
        return r == -EPERM || r == -EACCES || r == -ENOENT || (reply && strstr(reply->reason, "unreadable"));
}

/* A PAGES answer for the window pg->at: 1 when pg has more to ask (asked already), 0 when every
 * window is counted, -1 when counting stopped (refused: j->pages_unreadable), -ESRCH when the
 * process is gone (the job has ended and may be freed: touch it no more). */
static int job_count_reply(Job *j, JobPages *pg, int r, const InjectorReply *reply) {
        if (r == -ESRCH) {
                job_gone(j);
                return -ESRCH;
        }
        if (r < 0) {
                if (pages_refused(r, reply))
                        j->pages_unreadable = true;
                else
                        log_debug_errno(r, "Page counts of %d failed, going on without: %m",
                                        (int) j->target->pid);
                return -1;
        }
        pg->windows[pg->at].counts = reply->pages;
        pg->windows[pg->at].charges = (PageCharges) {};
        if (pg == &j->verify && j->spec.memcg_ino != 0) {
                if (page_charges_check(&reply->charges, j->spec.memcg_ino, reply->pages.mlocked) >= 0)
                        pg->windows[pg->at].charges = reply->charges;
                else
                        log_debug("Ignoring an implausible breakdown of charged pages for %d.", (int) j->target->pid);
        }
        pg->windows[pg->at].counted = true;
        if (++pg->at < pg->n_windows) {
                job_send_pages(j, pg);
                return 1;
        }
        return 0;
}

static void job_survey_reply(Job *j, int r, const InjectorReply *reply) {
        int k = job_count_reply(j, &j->survey, r, reply);

        if (k == 0 || k == -1)
                job_start_steps(j);
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

/* The folio boundary chunk edges fall on at addr: from the region there (lib/lock.c). */
static uint64_t job_align_at(const Job *j, uint64_t addr) {
        const Maps *m = j->planner_maps;

        for (size_t i = 0; m && i < m->n; i++)
                if (m->regions[i].start <= addr && addr < m->regions[i].end)
                        return lock_region_align(&j->spec.folios, &m->regions[i], page_size());
        return page_size();
}

/* The next step over [start, end): as many bytes as the pace allows for the mix of the window
 * there (counted by pages, or assumed: a full lock populates, an onfault one walks resident
 * pages), not beyond that window, ending on a folio boundary. *ret_mix: the step's share. */
static uint64_t job_chunk(const Job *j, const JobPages *pg, uint64_t start, uint64_t end, LockMode mode,
                          PaceMix *ret_mix) {
        const JobWindow *w = pages_window_at(pg, start);
        uint64_t ps = page_size(), wbytes, want, e, len;
        PaceMix mix = {};

        end = MIN(end, (start / JOB_WINDOW + 1) * JOB_WINDOW);
        if (w && w->counted) {
                pace_mix_from_counts(&w->counts, ps, mode == LOCK_MODE_FULL, &mix);
                wbytes = w->bytes;
        } else {
                wbytes = end - start;
                mix.bytes[mode == LOCK_MODE_FULL ? PACE_POPULATE : PACE_RESIDENT] = wbytes;
        }
        want = pace_step_bytes(&j->pace, &mix, wbytes);
        e = lock_chunk_end(start, end, MAX(want, ps), job_align_at(j, start));
        len = e - start;
        for (int k = 0; k < _PACE_KIND_MAX; k++)
                ret_mix->bytes[k] = wbytes > 0 ? (uint64_t) ((__uint128_t) mix.bytes[k] * len / wbytes) : 0;
        return len;
}

/* Past what is done or already locked as wanted, from (*range, *offset). */
static void job_skip_done(const Job *j, size_t *range, uint64_t *offset) {
        while (*range < j->plan->n_ranges &&
               (j->plan->ranges[*range].locked ||
                *offset >= j->plan->ranges[*range].end - j->plan->ranges[*range].start)) {
                (*range)++;
                *offset = 0;
        }
}

static void pace_mix_add(PaceMix *sum, const PaceMix *m) {
        for (int k = 0; k < _PACE_KIND_MAX; k++)
                sum->bytes[k] += m->bytes[k];
}

/* The next lock step: chunks from the cursor on, in one stop while the pace allows their sum as one
 * step (a chunk the pace cut short ends the batch: the next one would not fit), at most
 * INJECTOR_MAX_LOCK_RANGES. The injector also starts no call once the target has been held half of
 * MaxPause (what the pace aims a step at), so a wrong estimate costs one call, not the batch. */
static void job_next_lock_step(Job *j) {
        size_t range = j->cursor_range;
        uint64_t offset = j->cursor_offset, sum_bytes = 0;
        InjectorRequest req;
        PaceMix sum = {};

        job_skip_done(j, &range, &offset);
        j->cursor_range = range;
        j->cursor_offset = offset;
        if (range >= j->plan->n_ranges) {
                if (j->plan->mlockall_flags && !j->target->ledger.future) {
                        /* MCL_FUTURE alone: the ranges are locked already, and without MCL_CURRENT
                         * mlockall() changes no existing mapping (the target's own locks keep their
                         * mode) */
                        uint64_t args[6] = { (uint64_t) (j->plan->mlockall_flags & ~MCL_CURRENT) };

                        j->phase = JOB_MLOCKALL;
                        job_send_step(j, INJECT_MLOCKALL, args);
                } else
                        job_send_open(j, JOB_VERIFY);
                return;
        }

        j->n_batch = 0;
        while (j->n_batch < ELEMENTSOF(j->batch) && range < j->plan->n_ranges) {
                const LockRange *lr = &j->plan->ranges[range];
                uint64_t start = lr->start + offset, len, rest;
                JobChunk *c = &j->batch[j->n_batch];
                PaceMix with = sum;

                len = job_chunk(j, &j->survey, start, lr->end, j->spec.mode, &c->mix);
                rest = MIN(lr->end, (start / JOB_WINDOW + 1) * JOB_WINDOW) - start;
                pace_mix_add(&with, &c->mix);
                if (j->n_batch > 0 && pace_step_bytes(&j->pace, &with, sum_bytes + len) < sum_bytes + len)
                        break;
                c->start = start;
                c->length = len;
                sum = with;
                sum_bytes += len;
                offset += len;
                job_skip_done(j, &range, &offset);
                c->range_after = range;
                c->offset_after = offset;
                j->n_batch++;
                if (len < rest)
                        break; /* cut short by the pace: this step is full */
        }

        j->chunk = sum_bytes;
        j->step_mix = sum;
        job_request(j, INJECTOR_OP_LOCK_RANGES, &req);
        req.n_ranges = (uint32_t) j->n_batch;
        for (size_t k = 0; k < j->n_batch; k++)
                req.ranges[k] = (PrefetchRange) { .start = j->batch[k].start,
                                                  .end = j->batch[k].start + j->batch[k].length };
        req.args[0] = j->spec.mode == LOCK_MODE_ONFAULT ? MLOCK_ONFAULT : 0;
        req.args[1] = MAX(j->spec.max_pause / 2, (usec_t) 1);
        req.timeout_usec = STEP_STOP_TIMEOUT_USEC;
        job_send(j, &req);
}

/* A lock or relock step ran: metrics, the longest hold, and the pace learns its cost by kind. */
static void job_stepped(Job *j, uint64_t start, const InjectorReply *reply) {
        const uint64_t *b = j->step_mix.bytes;

        /* one line a step, for tests/bench/bench-pace.sh */
        log_debug("Process %d: %s step at 0x%" PRIx64 " of %" PRIu64 " KiB held %" PRIu64
                  " us, MaxPause %" PRIu64 " us (KiB resident %" PRIu64 ", populate %" PRIu64
                  ", swapin %" PRIu64 ", thp %" PRIu64 ", %zu calls).",
                  (int) j->target->pid, j->phase == JOB_RELOCK ? "relock" : "lock", start,
                  j->chunk >> 10, reply->held_usec, (uint64_t) j->spec.max_pause, b[PACE_RESIDENT] >> 10,
                  b[PACE_POPULATE] >> 10, b[PACE_SWAPIN] >> 10, b[PACE_THP] >> 10,
                  j->phase == JOB_RELOCK ? (size_t) 1 : j->n_batch);
        j->ops->stepped(j, reply->held_usec, j->userdata);
        j->max_hold = MAX(j->max_hold, (usec_t) reply->held_usec);
        if (reply->result == 0)
                pace_record(&j->pace, &j->step_mix, (usec_t) reply->held_usec);
}

static void job_lock_step_reply(Job *j, int r, const InjectorReply *reply) {
        Target *t = j->target;
        size_t done;

        if (r < 0) {
                job_step_failed(j, r, reply ? reply->reason : NULL);
                return;
        }
        done = (size_t) MIN(reply->advised, (uint64_t) j->n_batch);
        if (done < j->n_batch && reply->result == 0) {
                /* the hold bound ended the batch: the pace learns what ran */
                j->step_mix = (PaceMix) {};
                j->chunk = 0;
                for (size_t k = 0; k < done; k++) {
                        pace_mix_add(&j->step_mix, &j->batch[k].mix);
                        j->chunk += j->batch[k].length;
                }
        }
        job_stepped(j, j->batch[0].start, reply);
        for (size_t k = 0; k < done; k++)
                (void) ledger_add(&t->ledger, j->batch[k].start, j->batch[k].start + j->batch[k].length,
                                  j->spec.mode);
        if (reply->result == -ENOMEM && done < j->n_batch && j->replans < MAX_REPLANS) {
                /* The range is no longer mapped as planned (a program right after exec is still being
                 * laid out by its loader): plan again from fresh maps rather than report it. */
                log_debug("Process %d changed its mappings under the plan, planning again.", (int) t->pid);
                j->replans++;
                job_send_open(j, JOB_PLAN);
                return;
        }
        if (reply->result != 0 && done < j->n_batch) {
                if (j->error == TARGET_REASON_NONE)
                        j->error = error_reason(reply->result);
                done++; /* the failed call's range is passed over */
        }
        if (done > 0) {
                j->cursor_range = j->batch[done - 1].range_after;
                j->cursor_offset = j->batch[done - 1].offset_after;
        }
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

/* The end of a lock job, from the smaps cross-check and, where they could be read, the kernel's
 * per-page flags: `locked` only when every present page of mlockd's ranges is mlocked. */
static void job_conclude(Job *j) {
        const LockVerify *v = &j->smaps_verify;
        TargetReason missing_reason;

        if (j->pages_verified) {
                uint64_t ps = page_size(), mlocked = 0, large = 0, missing = 0;

                for (size_t w = 0; w < j->verify.n_windows; w++) {
                        const JobWindow *win = &j->verify.windows[w];
                        const JobPiece *p = window_piece(&j->verify, win);

                        mlocked += win->counts.mlocked;
                        if (!p->ours)
                                continue;
                        missing += job_window_missing(win, p->mode);
                        large += win->counts.large_not_mlocked;
                }
                j->not_mlocked = missing * ps;
                j->large_not_mlocked = large * ps;
                j->locked_bytes = mlocked * ps + j->inherited_locked;
        } else
                j->locked_bytes = j->smaps_locked;

        missing_reason = j->drifted                                       ? TARGET_REASON_DRIFTED
                         : j->large_not_mlocked > 0 && j->folio_split > 0 ? TARGET_REASON_FOLIO
                                                                          : TARGET_REASON_NOT_MLOCKED;
        if (v->complete && !j->plan->trimmed && j->error == TARGET_REASON_NONE && !j->plan->future_refused &&
            j->not_mlocked == 0 && !j->drifted && !j->foreign_over)
                job_finish(j, TARGET_LOCKED, TARGET_REASON_NONE, NULL);
        else if (j->foreign_over && v->flagged == 0 && !j->drifted)
                job_finish(j, TARGET_SKIPPED, TARGET_REASON_BUDGET_FOREIGN, NULL); /* all given back */
        else if (v->flagged > 0 || j->drifted)
                job_finish(j, TARGET_PARTIAL,
                           j->drifted                       ? TARGET_REASON_DRIFTED
                           : j->foreign_over                ? TARGET_REASON_BUDGET_FOREIGN
                           : j->plan->trimmed               ? trimmed_reason(j->plan)
                           : j->error != TARGET_REASON_NONE ? j->error
                           : j->plan->future_refused        ? TARGET_REASON_RLIMIT
                           : j->not_mlocked > 0             ? missing_reason
                                                            : TARGET_REASON_INCOMPLETE,
                           NULL);
        else
                job_finish(j, TARGET_FAILED,
                           j->error != TARGET_REASON_NONE ? j->error
                           : j->plan->trimmed             ? trimmed_reason(j->plan)
                                                          : TARGET_REASON_NOT_LOCKED,
                           NULL);
}

/* The plan's ranges as pieces: mlockd's where the ledger has them (those may be relocked), the
 * rest (a step that failed) only counted. */
static int job_verify_pieces(Job *j) {
        const Ledger *l = &j->target->ledger;

        job_pages_done(&j->verify);
        for (size_t i = 0; i < j->plan->n_ranges; i++) {
                uint64_t s = j->plan->ranges[i].start, e = j->plan->ranges[i].end;
                int r;

                for (size_t k = 0; k < l->n && s < e; k++) {
                        uint64_t a = MAX(s, l->ranges[k].start), b = MIN(e, l->ranges[k].end);

                        if (a >= b)
                                continue;
                        if (a > s && (r = job_pages_add(&j->verify, s, a, false, j->spec.mode)) < 0)
                                return r;
                        if ((r = job_pages_add(&j->verify, a, b, true, l->ranges[k].mode)) < 0)
                                return r;
                        s = b;
                }
                if (s < e && (r = job_pages_add(&j->verify, s, e, false, j->spec.mode)) < 0)
                        return r;
        }
        return 0;
}

static void job_verify(Job *j, const Maps *smaps) {
        LockVerify v;

        /* forget what the target unmapped or unlocked since: the ledger says what mlockd holds */
        if (ledger_prune(&j->target->ledger, smaps) < 0) {
                job_finish(j, TARGET_FAILED, TARGET_REASON_PLAN, NULL);
                return;
        }
        lock_verify(smaps, j->plan, j->spec.mode, &v);
        j->smaps_verify = v;
        j->inherited_locked = job_inherited_locked(j, smaps);
        j->smaps_locked = v.locked + j->inherited_locked;
        /* the larger boundary: page-cache folios reach the PMD size whatever the anonymous settings */
        j->folio_split = lock_folio_split_bytes(smaps, j->plan,
                                                MAX(lock_chunk_align(&j->spec.folios, false, page_size()),
                                                    lock_chunk_align(&j->spec.folios, true, page_size())));
        j->pages_verified = false;
        if (j->pages_unreadable || job_verify_pieces(j) < 0 || j->verify.n_windows == 0) {
                job_conclude(j);
                return;
        }
        j->phase = JOB_PAGES;
        job_send_pages(j, &j->verify);
}

static void job_next_relock(Job *j);

/* Whether relocking a window of mlockd's can help: pages missing that are not in large folios
 * (swapped in, faulted in under the lock), or, the first time, large folios (a relock over a folio
 * wholly inside the VMA mlocks it; one the target's own VMA edge cuts stays as it is). */
static bool job_window_wants_relock(const Job *j, const JobWindow *w) {
        uint64_t missing = pages_missing_ours(&j->verify, w);

        return missing > MIN(missing, w->counts.large_not_mlocked) || (missing > 0 && j->rounds == 0);
}

static void job_counted_end(Job *j);

/* Every window counted: relock mlockd's windows with pages missing, or conclude. */
static void job_pages_counted(Job *j) {
        bool any = false;

        j->pages_verified = true;
        for (size_t w = 0; w < j->verify.n_windows; w++)
                if (pages_missing_ours(&j->verify, &j->verify.windows[w]) > 0)
                        any = true;
        if (any && !(j->spec.recheck && !j->spec.relock)) {
                any = false;
                for (size_t w = 0; w < j->verify.n_windows; w++)
                        any = any || job_window_wants_relock(j, &j->verify.windows[w]);
                if (!any) {
                        job_counted_end(j);
                        return;
                }
        }
        if (!any || j->rounds >= JOB_VERIFY_ROUNDS || (j->spec.recheck && !j->spec.relock)) {
                if (any && j->spec.recheck && !j->spec.relock)
                        j->drifted = true;
                job_counted_end(j);
                return;
        }
        if (j->rounds == 0)
                for (size_t w = 0; w < j->verify.n_windows; w++)
                        j->relocked += pages_missing_ours(&j->verify, &j->verify.windows[w]) * page_size();
        j->relock_window = j->relock_piece = 0;
        j->relock_offset = 0;
        j->phase = JOB_RELOCK;
        job_next_relock(j);
}

/* ---- pages charged to other cgroups ---------------------------------------------------------- */

void job_foreign_done(JobForeign *f) {
        free(f->pieces);
        free(f->located);
        free(f->picked);
        *f = (JobForeign) {};
}

int job_foreign_add(JobForeign *f, uint64_t start, uint64_t end) {
        while (start < end) {
                uint64_t e = MIN(end, (start / JOB_FOREIGN_GRAIN + 1) * JOB_FOREIGN_GRAIN);
                PrefetchRange *n = reallocarray(f->pieces, f->n_pieces + 1, sizeof *n);

                if (!n)
                        return -ENOMEM;
                f->pieces = n;
                f->pieces[f->n_pieces++] = (PrefetchRange) { .start = start, .end = e };
                start = e;
        }
        return 0;
}

int job_foreign_steps(const JobForeign *f, LedgerStep **ret, size_t *ret_n) {
        _cleanup_free_ LedgerStep *steps = NULL;
        size_t n = 0;

        for (size_t k = 0; k < f->n_pieces; k++) {
                const PrefetchRange *p = &f->pieces[k];
                LedgerStep *ns;

                if (!f->picked || !f->picked[k])
                        continue;
                if (n > 0 && steps[n - 1].start + steps[n - 1].len == p->start) {
                        steps[n - 1].len += p->end - p->start;
                        continue;
                }
                ns = reallocarray(steps, n + 1, sizeof *ns);
                if (!ns)
                        return -ENOMEM;
                steps = ns;
                steps[n++] = (LedgerStep) { .call = INJECT_MUNLOCK, .start = p->start, .len = p->end - p->start };
        }
        *ret = TAKE_PTR(steps);
        *ret_n = n;
        return 0;
}

static void job_send_locate(Job *j) {
        JobForeign *f = &j->trim;
        size_t n = MIN(f->n_pieces - f->piece_at, (size_t) INJECTOR_MAX_RANGES);
        InjectorRequest req;

        job_request(j, INJECTOR_OP_PAGES, &req);
        req.value = f->ino[f->at];
        req.n_ranges = (uint32_t) n;
        memcpy(req.ranges, f->pieces + f->piece_at, n * sizeof(PrefetchRange));
        job_send(j, &req);
}

/* Whether window w has pages charged to one of the memcgs over their budget (or to memcgs past
 * the breakdown's bounds, which may be one). */
static bool window_charged_over(const JobWindow *w, const JobForeign *f) {
        if (w->charges.other > 0)
                return true;
        for (size_t i = 0; i < f->n; i++)
                if (page_charges_get(&w->charges, f->ino[i]) > 0)
                        return true;
        return false;
}

/* Ask the manager whose budget the pages charged elsewhere exceed; if any, locate them in mlockd's
 * pieces. False when there is nothing to give back (or no way to find it). */
static bool job_foreign_start(Job *j) {
        uint64_t want[PAGE_CHARGES_MAX] = {};
        JobForeign *f = &j->trim;

        if (j->ops->foreign(j, &j->foreign, want, j->userdata) < 0)
                return false;
        job_foreign_done(f);
        for (uint32_t i = 0; i < j->foreign.n && i < PAGE_CHARGES_MAX; i++)
                if (want[i] > 0) {
                        f->ino[f->n] = j->foreign.charges[i].memcg_ino;
                        f->want[f->n++] = want[i];
                }
        if (f->n == 0)
                return false;
        j->foreign_over = true;
        for (size_t w = 0; w < j->verify.n_windows; w++) {
                const JobWindow *win = &j->verify.windows[w];

                if (!window_piece(&j->verify, win)->ours || !window_charged_over(win, f))
                        continue;
                for (size_t k = win->first; k < win->first + win->n; k++)
                        if (job_foreign_add(f, j->verify.pieces[k].start, j->verify.pieces[k].end) < 0)
                                return false;
        }
        if (f->n_pieces == 0)
                return false;
        f->located = calloc(f->n_pieces, sizeof *f->located);
        f->picked = calloc(f->n_pieces, sizeof *f->picked);
        if (!f->located || !f->picked)
                return false;
        j->phase = JOB_FOREIGN_LOCATE;
        job_send_locate(j);
        return true;
}

/* Every window counted and relocked: give back what took another cgroup past its budget (once a
 * job, then verify again), or conclude. */
static void job_counted_end(Job *j) {
        j->foreign = (PageCharges) {};
        for (size_t w = 0; w < j->verify.n_windows; w++)
                page_charges_merge(&j->foreign, &j->verify.windows[w].charges);
        if (!j->foreign_asked && j->ops->foreign && page_charges_total(&j->foreign) > 0) {
                j->foreign_asked = true;
                if (job_foreign_start(j))
                        return;
        }
        job_conclude(j);
}

/* The picked pieces are munlocked (ledger steps: the ledger forgets them), then verify again. */
static void job_foreign_unlock(Job *j) {
        uint64_t bytes = 0;
        char b[FORMAT_BYTES_MAX];

        free(j->steps);
        j->steps = NULL;
        j->n_steps = j->step_at = 0;
        if (job_foreign_steps(&j->trim, &j->steps, &j->n_steps) < 0 || j->n_steps == 0) {
                job_conclude(j);
                return;
        }
        for (size_t k = 0; k < j->n_steps; k++)
                bytes += j->steps[k].len;
        log_info("Process %d (%s): giving back %s of its lock, where pages charged to another cgroup took it "
                 "past its budget.", (int) j->target->pid, strempty(j->target->comm), format_bytes(b, sizeof b, bytes));
        j->phase = JOB_FOREIGN_UNLOCK;
        job_next_ledger_step(j);
}

static void job_locate_reply(Job *j, int r, const InjectorReply *reply) {
        JobForeign *f = &j->trim;
        uint64_t ps = page_size(), got;

        if (r == -ESRCH) {
                job_gone(j);
                return;
        }
        if (r < 0) {
                log_debug_errno(r, "Could not locate the pages of %d charged elsewhere: %m", (int) j->target->pid);
                job_foreign_unlock(j); /* what was picked so far */
                return;
        }
        for (uint32_t k = 0; k < j->last.n_ranges; k++) {
                const PrefetchRange *p = &f->pieces[f->piece_at + k];
                uint64_t n = reply->range_memcg[k];

                f->located[f->piece_at + k] = n <= (p->end - p->start) / ps ? n : 0; /* implausible: none */
        }
        f->piece_at += j->last.n_ranges;
        if (f->piece_at < f->n_pieces) {
                job_send_locate(j);
                return;
        }
        got = account_trim_pick(f->located, f->n_pieces, f->want[f->at], f->picked);
        if (got < f->want[f->at])
                log_debug("Process %d: only %" PRIu64 " of %" PRIu64 " pages charged to memcg %" PRIu64
                          " found in mlockd's ranges.", (int) j->target->pid, got, f->want[f->at], f->ino[f->at]);
        if (++f->at < f->n) {
                f->piece_at = 0;
                memset(f->located, 0, f->n_pieces * sizeof *f->located);
                job_send_locate(j);
                return;
        }
        job_foreign_unlock(j);
}

static void job_pages_reply(Job *j, int r, const InjectorReply *reply) {
        int k = job_count_reply(j, &j->verify, r, reply);

        if (k == 0)
                job_pages_counted(j);
        else if (k == -1)
                job_conclude(j); /* by smaps */
}

/* The next relock step: munlock + mlock2 in one stop over a part of a window with pages missing,
 * paced like a lock step by what the window holds. */
static void job_next_relock(Job *j) {
        InjectorRequest req;

        for (; j->relock_window < j->verify.n_windows;
             j->relock_window++, j->relock_piece = 0, j->relock_offset = 0) {
                const JobWindow *w = &j->verify.windows[j->relock_window];
                const JobPiece *p;
                uint64_t start;

                if (!job_window_wants_relock(j, w))
                        continue;
                while (j->relock_piece < w->n &&
                       j->relock_offset >= j->verify.pieces[w->first + j->relock_piece].end -
                                                   j->verify.pieces[w->first + j->relock_piece].start) {
                        j->relock_piece++;
                        j->relock_offset = 0;
                }
                if (j->relock_piece >= w->n)
                        continue;

                p = &j->verify.pieces[w->first + j->relock_piece];
                start = p->start + j->relock_offset;
                j->chunk = job_chunk(j, &j->verify, start, p->end, p->mode, &j->step_mix);
                job_request(j, INJECTOR_OP_RELOCK, &req);
                req.args[0] = start;
                req.args[1] = j->chunk;
                req.args[2] = p->mode == LOCK_MODE_ONFAULT ? MLOCK_ONFAULT : 0;
                req.timeout_usec = STEP_STOP_TIMEOUT_USEC;
                job_send(j, &req);
                return;
        }
        /* done: verify again from fresh smaps */
        j->rounds++;
        job_send_open(j, JOB_VERIFY);
}

static void job_relock_reply(Job *j, int r, const InjectorReply *reply) {
        if (r == -ESRCH) {
                job_gone(j);
                return;
        }
        if (r < 0) {
                /* the range is as it was (the stop failed) or refused: report what stays */
                log_debug_errno(r, "Relock of %d failed%s%s: %m", (int) j->target->pid,
                                reply && reply->reason[0] ? ": " : "", reply ? reply->reason : "");
                j->rounds = JOB_VERIFY_ROUNDS;
                job_send_open(j, JOB_VERIFY);
                return;
        }
        job_stepped(j, j->last.args[0], reply);
        if (reply->result != 0 && reply->result != -ENOMEM && j->error == TARGET_REASON_NONE)
                j->error = error_reason(reply->result); /* verify's smaps prune what was lost */
        j->relock_offset += j->chunk;
        job_next_relock(j);
}

/* ---- the machine ----------------------------------------------------------------------------- */

/* What could hold a lock step without bound is left out of the plan: userfaultfd-registered areas
 * (maps.c marks them), and unless LockNetworkFiles=yes, files on network and FUSE filesystems. */
static void job_exclude_may_block(Job *j, Maps *smaps) {
        _cleanup_(mounts_freep) Mounts *mounts = NULL;
        char b[FORMAT_BYTES_MAX];
        uint64_t bytes;

        /* given maps were looked at with the mounts already: counted, not read again; a policy
         * that selects no file-backed mapping has no use for them */
        if (!j->maps_given && !j->spec.lock_network_files && regions_select_files(j->spec.regions) && j->ops->mounts &&
            j->ops->mounts(j, &mounts, j->userdata) < 0)
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
        if (j->maps_given) {
                /* the maps are in hand: the pre-checks alone */
                j->phase = JOB_PRECHECK;
                job_request(j, INJECTOR_OP_PRECHECK, &req);
                job_send(j, &req);
                return;
        }
        job_send_open(j, JOB_PRECHECK);
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
                /* kept: planner_maps borrows its paths, and the plan (or a replan after prlimit)
                 * runs on after this reply */
                j->planner_maps = ledger_maps_free(j->planner_maps);
                maps_free(j->plan_smaps);
                j->plan_smaps = TAKE_PTR(smaps);
                job_exclude_may_block(j, j->plan_smaps);
                job_plan_from(j, j->plan_smaps);
                return;
        case JOB_VERIFY:
                if (!j->spec.recheck && j->follows < JOB_MAX_FOLLOWS && j->ops->follow &&
                    j->ops->follow(j, j->userdata)) {
                        /* a young target mapped more while it was being locked: this read is the
                         * next plan's, rather than a verify, a job's end and a recheck's read */
                        job_exclude_may_block(j, smaps);
                        if (ledger_needs_more(&j->target->ledger, smaps, j->spec.regions, j->spec.file_globs)) {
                                log_debug("Process %d mapped more while it was being locked, planning again.",
                                          (int) j->target->pid);
                                j->follows++;
                                j->phase = JOB_PLAN;
                                j->planner_maps = ledger_maps_free(j->planner_maps);
                                maps_free(j->plan_smaps);
                                j->plan_smaps = TAKE_PTR(smaps);
                                job_plan_from(j, j->plan_smaps);
                                return;
                        }
                }
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
                if (r < 0 && r != -E2BIG) {
                        safe_close(fd);
                        if (r == -ESRCH || streq(reply->reason, "gone") || streq(reply->reason, "zombie") ||
                            streq(reply->reason, "exiting"))
                                job_gone(j);
                        else
                                job_refused(j, reply->reason, TARGET_REASON_PRECHECK);
                        return;
                }
                if (j->maps_given) {
                        /* planned from the read that asked for this job: one read, not two */
                        safe_close(fd);
                        j->phase = JOB_PLAN;
                        job_exclude_may_block(j, j->plan_smaps);
                        j->maps_given = false;
                        job_plan_from(j, j->plan_smaps);
                        return;
                }
                j->phase = JOB_PLAN; /* checked: the smaps passed along is the plan's */
                job_smaps_reply(j, r, fd);
                return;
        case JOB_PLAN:
        case JOB_VERIFY:
        case JOB_UNLOCK_MAPS:
                job_smaps_reply(j, r, fd);
                return;
        case JOB_TRIM:
        case JOB_UNLOCK_STEP:
        case JOB_FOREIGN_UNLOCK:
                job_ledger_step_reply(j, r, reply);
                return;
        case JOB_FOREIGN_LOCATE:
                job_locate_reply(j, r, reply);
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
        case JOB_SURVEY:
                job_survey_reply(j, r, reply);
                return;
        case JOB_PAGES:
                job_pages_reply(j, r, reply);
                return;
        case JOB_RELOCK:
                job_relock_reply(j, r, reply);
                return;
        default:
                safe_close(fd);
        }
}
