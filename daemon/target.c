/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "fileio.h"
#include "mapwatch.h"
#include "target.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

static const char *const state_table[_TARGET_STATE_MAX] = {
        [TARGET_PENDING] = "pending",
        [TARGET_LOCKED] = "locked",
        [TARGET_PARTIAL] = "partial",
        [TARGET_SKIPPED] = "skipped",
        [TARGET_FAILED] = "failed",
};

static const char *const reason_table[_TARGET_REASON_MAX] = {
        [TARGET_REASON_NONE] = NULL,
        [TARGET_REASON_RELEASED] = "released",
        [TARGET_REASON_MODE_NONE] = "mode-none",
        [TARGET_REASON_DRY_RUN] = "dry-run",
        [TARGET_REASON_NO_POLICY] = "no-policy",
        [TARGET_REASON_PRECHECK] = "precheck",
        [TARGET_REASON_SELF] = "self",
        [TARGET_REASON_PID1] = "pid1",
        [TARGET_REASON_KERNEL] = "kernel",
        [TARGET_REASON_ZOMBIE] = "zombie",
        [TARGET_REASON_EXITING] = "exiting",
        [TARGET_REASON_GONE] = "gone",
        [TARGET_REASON_TRACED] = "traced",
        [TARGET_REASON_EPERM] = "eperm",
        [TARGET_REASON_TIMEOUT] = "timeout",
        [TARGET_REASON_UNSUPPORTED] = "unsupported",
        [TARGET_REASON_INJECT] = "inject",
        [TARGET_REASON_INJECTOR] = "injector",
        [TARGET_REASON_MAPS] = "maps",
        [TARGET_REASON_PLAN] = "plan",
        [TARGET_REASON_LIMIT] = "limit",
        [TARGET_REASON_BUDGET] = "budget",
        [TARGET_REASON_RLIMIT] = "rlimit",
        [TARGET_REASON_ENOMEM] = "enomem",
        [TARGET_REASON_EAGAIN] = "eagain",
        [TARGET_REASON_ERROR] = "error",
        [TARGET_REASON_INCOMPLETE] = "incomplete",
        [TARGET_REASON_NOT_LOCKED] = "not-locked",
        [TARGET_REASON_NOT_MLOCKED] = "not-mlocked",
        [TARGET_REASON_FOLIO] = "folio",
        [TARGET_REASON_DRIFTED] = "drifted",
        [TARGET_REASON_SECCOMP] = "seccomp",
        [TARGET_REASON_UNINTERRUPTIBLE] = "uninterruptible",
        [TARGET_REASON_STUCK] = "stuck",
        [TARGET_REASON_TOO_MANY_MAPS] = "too-many-maps",
        [TARGET_REASON_BUDGET_FOREIGN] = "budget-foreign",
};

static const char *const reason_sentences[_TARGET_REASON_MAX] = {
        [TARGET_REASON_RELEASED] = "it was released and is left alone until it executes a new program",
        [TARGET_REASON_MODE_NONE] = "its policy says Mode=none",
        [TARGET_REASON_DRY_RUN] = "mlockd runs with --dry-run",
        [TARGET_REASON_NO_POLICY] = "its policy went away",
        [TARGET_REASON_PRECHECK] = "the injector's checks refused it",
        [TARGET_REASON_SELF] = "it is part of mlockd",
        [TARGET_REASON_PID1] = "it is PID 1",
        [TARGET_REASON_KERNEL] = "it is a kernel thread",
        [TARGET_REASON_ZOMBIE] = "it is a zombie",
        [TARGET_REASON_EXITING] = "it is exiting",
        [TARGET_REASON_GONE] = "it went away",
        [TARGET_REASON_TRACED] = "it is traced by another process",
        [TARGET_REASON_EPERM] = "the kernel did not permit the injection",
        [TARGET_REASON_TIMEOUT] = "it could not be stopped in time",
        [TARGET_REASON_UNSUPPORTED] = "its architecture or ABI is not supported",
        [TARGET_REASON_INJECT] = "the injected call failed",
        [TARGET_REASON_INJECTOR] = "the injector was lost while working on it",
        [TARGET_REASON_MAPS] = "its memory maps could not be read",
        [TARGET_REASON_PLAN] = "no lock plan could be made",
        [TARGET_REASON_LIMIT] = "MaxLocked= bounds it",
        [TARGET_REASON_BUDGET] = "its cgroup's budget or memory limit bounds it",
        [TARGET_REASON_RLIMIT] = "its RLIMIT_MEMLOCK bounds it",
        [TARGET_REASON_ENOMEM] = "the kernel ran out of memory or the mappings changed",
        [TARGET_REASON_EAGAIN] = "the kernel could not lock some pages",
        [TARGET_REASON_ERROR] = "an injected call failed",
        [TARGET_REASON_INCOMPLETE] = "not all of it is locked",
        [TARGET_REASON_NOT_LOCKED] = "the kernel shows none of it locked",
        [TARGET_REASON_NOT_MLOCKED] = "some of its pages stay not mlocked although their mappings are locked",
        [TARGET_REASON_FOLIO] = "its own mappings cut through large folios, which the kernel cannot mlock",
        [TARGET_REASON_DRIFTED] = "it undid part of mlockd's lock, and Relock=no",
        [TARGET_REASON_SECCOMP] = "its seccomp filter refuses the call",
        [TARGET_REASON_UNINTERRUPTIBLE] = "it sleeps uninterruptibly (D state); locking waits and is retried",
        [TARGET_REASON_STUCK] = "an injected call did not return in time; it is left alone until it executes",
        [TARGET_REASON_TOO_MANY_MAPS] = "it has more memory mappings than MaxMappings= allows",
        [TARGET_REASON_BUDGET_FOREIGN] = "pages it locked are charged to another cgroup, whose budget bounds them",
};

const char *target_reason_describe(TargetReason r, const char *detail) {
        if (r == TARGET_REASON_SECCOMP && streq_ptr(detail, "unreadable"))
                return "the target's seccomp filter cannot be read";
        if (r >= 0 && r < _TARGET_REASON_MAX && reason_sentences[r])
                return reason_sentences[r];
        return "no reason known";
}

const char *target_state_to_string(TargetState s) {
        return s >= 0 && s < _TARGET_STATE_MAX ? state_table[s] : NULL;
}

const char *target_reason_to_string(TargetReason r) {
        return r >= 0 && r < _TARGET_REASON_MAX ? reason_table[r] : NULL;
}

TargetReason target_reason_from_string(const char *s, const char **ret_detail) {
        if (ret_detail)
                *ret_detail = NULL;
        if (isempty(s))
                return _TARGET_REASON_INVALID;
        if (strncmp(s, "seccomp", 7) == 0 && (s[7] == '\0' || s[7] == ':')) {
                if (ret_detail && s[7] == ':' && s[8])
                        *ret_detail = s + 8;
                return TARGET_REASON_SECCOMP;
        }
        for (TargetReason r = 0; r < _TARGET_REASON_MAX; r++)
                if (reason_table[r] && streq(reason_table[r], s))
                        return r;
        return _TARGET_REASON_INVALID;
}

int target_state_format(TargetState s, TargetReason r, const char *detail, char **ret) {
        const char *state = target_state_to_string(s), *reason = target_reason_to_string(r);
        char *text;
        int n;

        if (!state)
                return -EINVAL;
        if (!reason)
                n = asprintf(&text, "%s", state);
        else if (!isempty(detail))
                n = asprintf(&text, "%s:%s:%s", state, reason, detail);
        else
                n = asprintf(&text, "%s:%s", state, reason);
        if (n < 0)
                return -ENOMEM;
        *ret = text;
        return 0;
}

/* ---- the ledger ---------------------------------------------------------------------------- */

void ledger_done(Ledger *l) {
        free(l->ranges);
        *l = (Ledger) {};
}

uint64_t ledger_bytes(const Ledger *l) {
        uint64_t sum = 0;

        for (size_t i = 0; i < l->n; i++)
                sum += l->ranges[i].end - l->ranges[i].start;
        return sum;
}

static int ledger_insert(Ledger *l, size_t at, LedgerRange r) {
        LedgerRange *n = reallocarray(l->ranges, l->n + 1, sizeof *n);

        if (!n)
                return -ENOMEM;
        l->ranges = n;
        memmove(l->ranges + at + 1, l->ranges + at, (l->n - at) * sizeof *n);
        l->ranges[at] = r;
        l->n++;
        return 0;
}

void ledger_remove(Ledger *l, uint64_t start, uint64_t end) {
        for (size_t i = 0; i < l->n && start < end;) {
                LedgerRange *r = &l->ranges[i];

                if (r->end <= start || r->start >= end) {
                        i++;
                        continue;
                }
                if (r->start < start && r->end > end) {
                        /* a hole in the middle: split */
                        LedgerRange tail = { .start = end, .end = r->end, .mode = r->mode };
                        r->end = start;
                        (void) ledger_insert(l, i + 1, tail); /* out of memory: the tail is forgotten */
                        return;
                }
                if (r->start < start) {
                        r->end = start;
                        i++;
                } else if (r->end > end) {
                        r->start = end;
                        i++;
                } else {
                        memmove(l->ranges + i, l->ranges + i + 1, (l->n - i - 1) * sizeof *r);
                        l->n--;
                }
        }
}

int ledger_add(Ledger *l, uint64_t start, uint64_t end, LockMode mode) {
        size_t at = 0;
        int r;

        if (start >= end)
                return 0;
        ledger_remove(l, start, end);
        while (at < l->n && l->ranges[at].start < start)
                at++;
        r = ledger_insert(l, at, (LedgerRange) { .start = start, .end = end, .mode = mode });
        if (r < 0)
                return r;
        /* merge with equal-mode neighbours */
        if (at + 1 < l->n && l->ranges[at + 1].start == end && l->ranges[at + 1].mode == mode) {
                l->ranges[at].end = l->ranges[at + 1].end;
                memmove(l->ranges + at + 1, l->ranges + at + 2, (l->n - at - 2) * sizeof(LedgerRange));
                l->n--;
        }
        if (at > 0 && l->ranges[at - 1].end == start && l->ranges[at - 1].mode == mode) {
                l->ranges[at - 1].end = l->ranges[at].end;
                memmove(l->ranges + at, l->ranges + at + 1, (l->n - at - 1) * sizeof(LedgerRange));
                l->n--;
        }
        return 0;
}

int ledger_prune(Ledger *l, const Maps *smaps) {
        Ledger kept = { .future = l->future };

        for (size_t i = 0; i < l->n; i++)
                for (size_t j = 0; j < smaps->n; j++) {
                        const MapsRegion *reg = &smaps->regions[j];
                        uint64_t s = MAX(reg->start, l->ranges[i].start), e = MIN(reg->end, l->ranges[i].end);
                        int r;

                        if (s >= e || !(reg->vmflags & VMFLAG_LOCKED))
                                continue;
                        r = ledger_add(&kept, s, e, l->ranges[i].mode);
                        if (r < 0) {
                                ledger_done(&kept);
                                return r;
                        }
                }
        ledger_done(l);
        *l = kept;
        return 0;
}

static LockMode region_lock_mode(const MapsRegion *reg) {
        if (!(reg->vmflags & VMFLAG_LOCKED))
                return LOCK_MODE_NONE;
        return reg->vmflags & VMFLAG_LOCKONFAULT ? LOCK_MODE_ONFAULT : LOCK_MODE_FULL;
}

/* Call piece() for each part of reg, split at the ledger's edges, with whether mlockd owns it. */
typedef int (*PieceFn)(const MapsRegion *reg, uint64_t start, uint64_t end, bool ours, void *userdata);

static int for_each_piece(const Ledger *l, const MapsRegion *reg, PieceFn piece, void *userdata) {
        uint64_t at = reg->start;
        int r;

        for (size_t i = 0; i < l->n && at < reg->end; i++) {
                const LedgerRange *lr = &l->ranges[i];
                uint64_t s = MAX(lr->start, at), e = MIN(lr->end, reg->end);

                if (s >= e)
                        continue;
                if (s > at) {
                        r = piece(reg, at, s, false, userdata);
                        if (r < 0)
                                return r;
                }
                r = piece(reg, s, e, true, userdata);
                if (r < 0)
                        return r;
                at = e;
        }
        if (at < reg->end)
                return piece(reg, at, reg->end, false, userdata);
        return 0;
}

typedef struct PlannerMaps {
        Maps *out;
        unsigned regions;
        char *const *file_globs;
        uint64_t adopted;
} PlannerMaps;

static int planner_piece(const MapsRegion *reg, uint64_t start, uint64_t end, bool ours, void *userdata) {
        PlannerMaps *pm = userdata;
        MapsRegion *n, copy = *reg;

        copy.start = start;
        copy.end = end;
        if (reg->end > reg->start) {
                copy.locked = (uint64_t) ((__uint128_t) reg->locked * (end - start) / (reg->end - reg->start));
                copy.rss = (uint64_t) ((__uint128_t) reg->rss * (end - start) / (reg->end - reg->start));
        }
        if (!ours && (reg->vmflags & VMFLAG_LOCKED)) {
                /* the target's own lock: adopted, left as it is */
                if (maps_region_selected(reg, pm->regions, pm->file_globs))
                        pm->adopted += end - start;
                copy.lockable = false;
        }
        n = reallocarray(pm->out->regions, pm->out->n + 1, sizeof *n);
        if (!n)
                return -ENOMEM;
        pm->out->regions = n;
        pm->out->regions[pm->out->n++] = copy;
        return 0;
}

bool ledger_needs_more(const Ledger *l, const Maps *smaps, unsigned regions, char *const *file_globs) {
        for (size_t j = 0; smaps && j < smaps->n; j++) {
                const MapsRegion *r = &smaps->regions[j];
                uint64_t at = r->start;

                if (!maps_region_selected(r, regions, file_globs) || (r->vmflags & VMFLAG_LOCKED))
                        continue;
                for (size_t i = 0; i < l->n; i++)
                        if (l->ranges[i].start <= at && l->ranges[i].end > at)
                                at = l->ranges[i].end;
                if (at < r->end)
                        return true;
        }
        return false;
}

Maps *ledger_maps_free(Maps *m) {
        if (!m)
                return NULL;
        free(m->regions); /* the paths are borrowed */
        free(m);
        return NULL;
}

int ledger_planner_maps(const Ledger *l, const Maps *smaps, unsigned regions, char *const *file_globs,
                        Maps **ret, uint64_t *ret_adopted) {
        PlannerMaps pm = { .regions = regions, .file_globs = file_globs };
        int r;

        pm.out = calloc(1, sizeof *pm.out);
        if (!pm.out)
                return -ENOMEM;
        pm.out->smaps = smaps->smaps;
        for (size_t j = 0; j < smaps->n; j++) {
                r = for_each_piece(l, &smaps->regions[j], planner_piece, &pm);
                if (r < 0) {
                        ledger_maps_free(pm.out);
                        return r;
                }
        }
        *ret = pm.out;
        if (ret_adopted)
                *ret_adopted = pm.adopted;
        return 0;
}

typedef struct StepList {
        LedgerStep *steps;
        size_t n;
} StepList;

static int steps_add(StepList *sl, LedgerStep s) {
        LedgerStep *n;

        if (sl->n > 0 && s.call != INJECT_MUNLOCKALL) {
                LedgerStep *last = &sl->steps[sl->n - 1];
                if (last->call == s.call && last->flags == s.flags && last->start + last->len == s.start) {
                        last->len += s.len;
                        return 0;
                }
        }
        n = reallocarray(sl->steps, sl->n + 1, sizeof *n);
        if (!n)
                return -ENOMEM;
        sl->steps = n;
        sl->steps[sl->n++] = s;
        return 0;
}

static int restore_piece(const MapsRegion *reg, uint64_t start, uint64_t end, bool ours, void *userdata) {
        LockMode mode = region_lock_mode(reg);

        if (ours || mode == LOCK_MODE_NONE)
                return 0;
        return steps_add(userdata, (LedgerStep) { .call = INJECT_MLOCK2, .start = start, .len = end - start,
                                                  .flags = mode == LOCK_MODE_ONFAULT ? MLOCK_ONFAULT : 0 });
}

int ledger_unlock_steps(const Ledger *l, const Maps *smaps, uint64_t keep, LedgerStep **ret, size_t *ret_n) {
        StepList sl = {};
        uint64_t give = 0, held = ledger_bytes(l);
        int r = 0;

        if (l->future && keep == 0) {
                /* only munlockall() clears MCL_FUTURE; it unlocks everything, so the target's own
                 * locks are put back right after, each in its own mode */
                r = steps_add(&sl, (LedgerStep) { .call = INJECT_MUNLOCKALL });
                for (size_t j = 0; r >= 0 && j < smaps->n; j++)
                        r = for_each_piece(l, &smaps->regions[j], restore_piece, &sl);
                goto finish;
        }

        if (held > keep)
                give = held - keep;
        /* from the top: the last ranges locked go first; each clipped to mapped regions */
        for (size_t i = l->n; r >= 0 && give > 0 && i-- > 0;) {
                const LedgerRange *lr = &l->ranges[i];
                uint64_t len = lr->end - lr->start, from = lr->start;

                if (len > give) {
                        from = lr->end - give;
                        len = give;
                }
                give -= len;
                for (size_t j = smaps->n; r >= 0 && j-- > 0;) {
                        const MapsRegion *reg = &smaps->regions[j];
                        uint64_t s = MAX(reg->start, from), e = MIN(reg->end, lr->end);

                        if (s < e)
                                r = steps_add(&sl, (LedgerStep) { .call = INJECT_MUNLOCK, .start = s, .len = e - s });
                }
        }

finish:
        if (r < 0) {
                free(sl.steps);
                return r;
        }
        *ret = sl.steps;
        *ret_n = sl.n;
        return 0;
}

void ledger_step_done(Ledger *l, const LedgerStep *s) {
        switch (s->call) {
        case INJECT_MUNLOCKALL:
                l->n = 0;
                l->future = false;
                break;
        case INJECT_MUNLOCK:
                ledger_remove(l, s->start, s->start + s->len);
                break;
        default:
                break; /* a restore of the target's own lock: not mlockd's */
        }
}

/* ---- the record ---------------------------------------------------------------------------- */

int target_new(Manager *m, pid_t pid, Target **ret) {
        Target *t = calloc(1, sizeof *t);

        if (!t)
                return -ENOMEM;
        t->manager = m;
        t->pid = pid;
        t->pidfd = -EBADF;
        t->statm_fd = t->status_fd = -EBADF;
        t->state = strdup("pending");
        if (!t->state) {
                free(t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

Target *target_free(Target *t) {
        if (!t)
                return NULL;
        sd_event_source_disable_unref(t->exit_source);
        sd_event_source_disable_unref(t->hold_source);
        sd_event_source_disable_unref(t->watch_source);
        mapwatch_free(t->watch);
        safe_close(t->pidfd);
        safe_close(t->statm_fd);
        safe_close(t->status_fd);
        free(t->comm);
        free(t->exe);
        free(t->cgroup);
        free(t->memcg);
        free(t->policy);
        free(t->state);
        free(t->detail);
        ledger_done(&t->ledger);
        free(t);
        return NULL;
}

int target_set_state(Target *t, TargetState s, TargetReason r, const char *detail) {
        _cleanup_free_ char *text = NULL, *d = NULL;
        int q;

        q = target_state_format(s, r, detail, &text);
        if (q < 0)
                return q;
        if (detail) {
                d = strdup(detail);
                if (!d)
                        return -ENOMEM;
        }
        t->state_id = s;
        t->reason = r;
        free(t->detail);
        t->detail = TAKE_PTR(d);
        if (streq_ptr(t->state, text))
                return 0;
        free(t->state);
        t->state = TAKE_PTR(text);
        return 1;
}
