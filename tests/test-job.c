/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job's decisions with a fake injector: the test answers every request itself, smaps from
 * fixtures (tests/data/target: the target locked 4 MiB itself, mlockd holds 64 MiB onfault, 16 MiB
 * are unlocked). Chunking, retries after a lost injector, ENOMEM replans, MaxLocked= trims, the
 * target's own locks never touched, and exactly mlockd's part undone. */

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fileio.h"
#include "job.h"
#include "tests.h"

#define MiB (1ULL << 20)
#define OWN 0x7f0000000000ULL
#define OURS 0x7f0000400000ULL
#define FREE 0x7f0004400000ULL

/* The fake's memory: every page of a counted range is present (resident) unless untouched, and
 * mlocked unless in [bad_start, bad_end) (VM_LOCKED but not mlocked, as after a swap-in). A RELOCK
 * over bad pages mlocks them, unless sticky (a folio the kernel cannot mlock). */
static struct {
        InjectorRequest req;
        unsigned sent;
        bool finished;
        uint64_t held_asked;
        JobLimits limits;
        unsigned steps;
        bool manual_pages;              /* the test answers PAGES itself */
        bool untouched;                 /* the survey sees nothing present */
        bool locked_seen;               /* a lock step ran: pages are present and mlocked */
        uint64_t bad_start, bad_end;
        bool sticky;
        bool bad_large;                 /* the bad pages are in large folios */
        unsigned pages_asked, relocks;
        uint64_t relock_bytes;
        uint64_t foreign_start, foreign_end;    /* mlocked pages there are charged to FOREIGN_INO */
        uint64_t unlocked_start, unlocked_end;  /* munlocked by a step: not mlocked any more */
        uint64_t foreign_want;                  /* pages of FOREIGN_INO the manager wants back */
        unsigned foreign_asked;
        InjectorRequest batch;          /* a LOCK_RANGES in flight, shown in req one call at a time */
        uint32_t batch_at;              /* the call shown */
        uint64_t batch_held;            /* the calls' holds so far */
        unsigned batches, batch_most;   /* LOCK_RANGES requests, the most calls in one */
        unsigned opens;                         /* smaps reads asked for */
} fake;

#define OWN_INO 7
#define FOREIGN_INO 99

static uint64_t overlap_pages(uint64_t s, uint64_t e, uint64_t a, uint64_t b) {
        uint64_t x = MAX(s, a), y = MIN(e, b);
        return x < y ? (y - x) / 4096 : 0;
}

/* Mlocked pages of [s, e) charged to FOREIGN_INO. */
static uint64_t fake_foreign_pages(uint64_t s, uint64_t e) {
        return overlap_pages(s, e, fake.foreign_start, fake.foreign_end) -
               overlap_pages(MAX(s, fake.foreign_start), MIN(e, fake.foreign_end), fake.unlocked_start,
                             fake.unlocked_end);
}

static PageCounts fake_counts(const InjectorRequest *req) {
        PageCounts c = {};

        for (uint32_t k = 0; k < req->n_ranges; k++) {
                uint64_t s = req->ranges[k].start, e = req->ranges[k].end;
                uint64_t bs = MAX(s, fake.bad_start), be = MIN(e, fake.bad_end);
                uint64_t pages = (e - s) / 4096, bad = bs < be ? (be - bs) / 4096 : 0;

                c.pages += pages;
                if (fake.untouched && !fake.locked_seen)
                        continue;
                c.present += pages;
                bad += overlap_pages(s, e, fake.unlocked_start, fake.unlocked_end);
                c.mlocked += pages - bad;
                c.unevictable += pages - bad;
                if (fake.bad_large) {
                        c.large += bad;
                        c.large_not_mlocked += bad;
                }
        }
        return c;
}

static void pump_pages(Job *j);

/* Call k of the LOCK_RANGES in flight, shown in req as the STEP it stands for. */
static void show_batch_call(uint32_t k) {
        const PrefetchRange *r = &fake.batch.ranges[k];

        fake.batch_at = k;
        fake.req = fake.batch;
        fake.req.op = INJECTOR_OP_STEP;
        fake.req.call = INJECT_MLOCK2;
        fake.req.n_ranges = 0;
        memset(fake.req.args, 0, sizeof fake.req.args);
        fake.req.args[0] = r->start;
        fake.req.args[1] = r->end - r->start;
        fake.req.args[2] = fake.batch.args[0];
}

static int fake_submit(Job *j, const InjectorRequest *req, void *userdata) {
        fake.req = *req;
        fake.sent++;
        if (req->op == INJECTOR_OP_LOCK_RANGES) {
                /* what the injector would refuse (injector_validate()) */
                ASSERT_TRUE(req->n_ranges > 0 && req->n_ranges <= INJECTOR_MAX_LOCK_RANGES);
                ASSERT_TRUE(req->args[1] > 0 && req->args[1] <= j->spec.max_pause);
                ASSERT_TRUE(req->timeout_usec > 0);
                for (uint32_t k = 0; k < req->n_ranges; k++) {
                        ASSERT_TRUE(req->ranges[k].start < req->ranges[k].end);
                        ASSERT_EQ_U64(req->ranges[k].chunk, 0);
                        if (k > 0) /* in order, never overlapping */
                                ASSERT_TRUE(req->ranges[k].start >= req->ranges[k - 1].end);
                }
                fake.batch = *req;
                fake.batch_held = 0;
                fake.batches++;
                fake.batch_most = MAX(fake.batch_most, req->n_ranges);
                show_batch_call(0);
        }
        if (req->op == INJECTOR_OP_OPEN)
                fake.opens++;
        return 0;
}

/* The LOCK_RANGES in flight ends after its call fake.batch_at (done: the calls that succeeded). */
static void answer_batch(Job *j, int r, int64_t result, uint32_t done) {
        InjectorReply reply = { .serial = fake.batch.serial, .r = r, .result = result,
                                .held_usec = fake.batch_held, .advised = done };

        fake.batch = (InjectorRequest) {};
        job_reply(j, r, &reply, -EBADF);
        pump_pages(j);
}

static int fake_limits(Job *j, uint64_t held, JobLimits *ret, void *userdata) {
        AccountInput in = { .max_locked = j->spec.max_locked, .held = held };

        fake.held_asked = held;
        *ret = fake.limits;
        account_target(&in, &ret->account);
        return 0;
}

static void fake_stepped(Job *j, uint64_t held_usec, void *userdata) {
        fake.steps++;
}

static int fake_foreign(Job *j, const PageCharges *charged, uint64_t ret_pages[PAGE_CHARGES_MAX], void *userdata) {
        fake.foreign_asked++;
        for (uint32_t i = 0; i < charged->n; i++)
                ret_pages[i] = charged->charges[i].memcg_ino == FOREIGN_INO ? fake.foreign_want : 0;
        return 0;
}

static void fake_finished(Job *j, void *userdata) {
        fake.finished = true;
}

static const JobOps fake_ops = {
        .submit = fake_submit, .limits = fake_limits, .stepped = fake_stepped, .finished = fake_finished,
};

static int smaps_fd(const char *name) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t size = 0;
        int fd;

        ASSERT_TRUE(asprintf(&path, "%s/target/%s", test_data_dir(), name) > 0);
        ASSERT_OK(read_full_file(path, 1 << 20, &text, &size));
        fd = memfd_create("smaps", MFD_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, text, size), (ssize_t) size);
        ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

static void answer(Job *j, int r, int64_t result, uint64_t held_usec) {
        InjectorReply reply = { .serial = fake.req.serial, .r = r, .result = result, .held_usec = held_usec };

        if (fake.req.op == INJECTOR_OP_STEP && r == 0 && result == 0)
                fake.locked_seen = true;
        if (fake.batch.op == INJECTOR_OP_LOCK_RANGES) {
                /* one call of a batch: the next is shown, or the batch answered */
                fake.batch_held += held_usec;
                if (r == 0 && result == 0 && fake.batch_at + 1 < fake.batch.n_ranges) {
                        show_batch_call(fake.batch_at + 1);
                        return;
                }
                answer_batch(j, r, result, r == 0 && result == 0 ? fake.batch_at + 1 : fake.batch_at);
                return;
        }
        job_reply(j, r, &reply, -EBADF);
        pump_pages(j);
}

static void answer_smaps(Job *j, const char *name) {
        InjectorReply reply = { .has_fd = 1 };

        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_OPEN);
        job_reply(j, 0, &reply, smaps_fd(name));
        pump_pages(j);
}

/* Answer one PAGES request from the fake's memory. */
static void answer_pages(Job *j) {
        InjectorReply reply = { .serial = fake.req.serial };

        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_PAGES);
        ASSERT_TRUE(fake.req.n_ranges > 0 && fake.req.n_ranges <= INJECTOR_MAX_RANGES);
        for (uint32_t k = 0; k < fake.req.n_ranges; k++) {
                ASSERT_TRUE(fake.req.ranges[k].start < fake.req.ranges[k].end);
                ASSERT_EQ_U64(fake.req.ranges[k].chunk, 0);
        }
        fake.pages_asked++;
        reply.pages = fake_counts(&fake.req);
        for (uint32_t k = 0; k < fake.req.n_ranges; k++) {
                uint64_t n = fake_foreign_pages(fake.req.ranges[k].start, fake.req.ranges[k].end);

                if (fake.req.value == FOREIGN_INO)
                        reply.range_memcg[k] = n;
                else if (fake.req.value == OWN_INO)
                        page_charges_add(&reply.charges, FOREIGN_INO, n);
        }
        job_reply(j, 0, &reply, -EBADF);
}

/* Answer a RELOCK: the bad pages it covers become mlocked (unless sticky). */
static void answer_relock(Job *j, uint64_t held_usec) {
        uint64_t s = fake.req.args[0], e = s + fake.req.args[1];
        InjectorReply reply = { .serial = fake.req.serial, .held_usec = held_usec };

        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_RELOCK);
        fake.relocks++;
        fake.relock_bytes += fake.req.args[1];
        if (!fake.sticky) {
                if (s <= fake.bad_start && fake.bad_start < e)
                        fake.bad_start = MIN(fake.bad_end, e);
                if (fake.bad_start >= fake.bad_end)
                        fake.bad_start = fake.bad_end = 0;
        }
        job_reply(j, 0, &reply, -EBADF);
        pump_pages(j);
}

static void pump_pages(Job *j) {
        while (!fake.manual_pages && !fake.finished && fake.req.op == INJECTOR_OP_PAGES)
                answer_pages(j);
}

static void answer_refused(Job *j, int r, const char *why) {
        InjectorReply reply = { .r = r };

        snprintf(reply.reason, sizeof reply.reason, "%s", why);
        job_reply(j, r, &reply, -EBADF);
}

static Target *new_target(void) {
        Target *t = NULL;

        ASSERT_OK(target_new(NULL, 4242, &t));
        ASSERT_OK(ledger_add(&t->ledger, OURS, OURS + 64 * MiB, LOCK_MODE_ONFAULT));
        return t;
}

static void reset(void) {
        fake = (typeof(fake)) { .limits = { .memlock_limit = UINT64_MAX, .account.budget = UINT64_MAX } };
}

static JobSpec spec_of(LockMode mode) {
        return (JobSpec) { .mode = mode, .regions = REGION_ANON, .max_pause = 5 * USEC_PER_MSEC };
}

/* Onfault: one step for the free 16 MiB; the target's own full lock is never named in a request. */
static void test_onfault_adopts(void) {
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_ONFAULT);

        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        /* one request checks and opens: the injector's pre-checks, then smaps */
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_OPEN);
        ASSERT_EQ(fake.req.flags, INJECTOR_FLAG_PRECHECK);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ_U64(fake.held_asked, 64 * MiB);
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_STEP);
        ASSERT_EQ(fake.req.call, (int32_t) INJECT_MLOCK2);
        ASSERT_EQ_U64(fake.req.args[0], FREE);
        ASSERT_EQ_U64(fake.req.args[1], 16 * MiB);
        ASSERT_EQ_U64(fake.req.args[2], 1);
        answer(j, 0, 0, 100);
        answer_smaps(j, "selflock-after.smaps");
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(j->state, TARGET_LOCKED);
        ASSERT_EQ_U64(ledger_bytes(&t->ledger), 80 * MiB);
        for (size_t i = 0; i < t->ledger.n; i++)
                ASSERT_TRUE(t->ledger.ranges[i].start >= OWN + 4 * MiB);
}

/* Full with MaxPause=1ms: chunks start at 1 MiB, grow with the measured rate, stay contiguous and
 * cover exactly mlockd's 64 + 16 MiB; the own range is never in a chunk. */
static void test_full_chunks(void) {
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_FULL);
        uint64_t next = OURS, first = 0;

        spec.max_pause = USEC_PER_MSEC;
        reset();
        fake.untouched = true; /* the survey finds nothing present: a full lock populates it all */
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ(fake.pages_asked, 1U); /* the survey: one 128 MiB block */
        while (fake.req.op == INJECTOR_OP_STEP) {
                uint64_t held = 100 + fake.req.args[1] / 1000; /* 100 us to stop, then 1 GB/s */

                ASSERT_EQ_U64(fake.req.args[0], next);
                ASSERT_EQ_U64(fake.req.args[2], 0);
                ASSERT_TRUE(fake.req.args[0] >= OWN + 4 * MiB);
                ASSERT_TRUE(held <= spec.max_pause); /* the pace keeps every step within MaxPause */
                if (!first)
                        first = fake.req.args[1];
                next += fake.req.args[1];
                answer(j, 0, 0, held);
        }
        /* the first populate step is small: 1 MiB at 5 ms, a fifth of it at 1 ms */
        ASSERT_TRUE(first <= 256 * 1024);
        ASSERT_EQ_U64(next, FREE + 16 * MiB);
        /* about 0.4 ms of 1 GB/s per later step: a few hundred KiB, so many steps */
        ASSERT_TRUE(fake.steps > 80);
        ASSERT_EQ(j->pace.over, 0U);
        answer_smaps(j, "selflock.smaps"); /* verify: still onfault in the kernel's word */
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(j->state, TARGET_FAILED); /* the kernel does not show full locks: not locked */
}

/* ENOMEM from a step: plan again from fresh maps, three times, then the reason is kept. */
static void test_enomem_replans(void) {
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_ONFAULT);

        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        for (unsigned k = 0; k < 3; k++) {
                answer_smaps(j, "selflock.smaps");
                ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_STEP);
                answer(j, 0, -ENOMEM, 10);
                ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_OPEN);
        }
        answer_smaps(j, "selflock.smaps");
        answer(j, 0, -ENOMEM, 10); /* the fourth time it stays */
        answer_smaps(j, "selflock.smaps");
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(j->state, TARGET_PARTIAL);
        ASSERT_EQ(j->reason, TARGET_REASON_ENOMEM);
}

/* MaxLocked= lowered to 48M: the top 16 MiB of mlockd's range go back first; then nothing more
 * is locked (partial:limit). MaxLocked=64M on a reload: nothing more either. */
static void test_max_locked(void) {
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_ONFAULT);

        spec.max_locked = 48 * MiB;
        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ(fake.req.call, (int32_t) INJECT_MUNLOCK);
        ASSERT_EQ_U64(fake.req.args[0], OURS + 48 * MiB);
        ASSERT_EQ_U64(fake.req.args[1], 16 * MiB);
        answer(j, 0, 0, 10);
        ASSERT_EQ_U64(ledger_bytes(&t->ledger), 48 * MiB);
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_OPEN);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ_U64(fake.held_asked, 48 * MiB);
        /* no step: straight to verify */
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_OPEN);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ(j->state, TARGET_PARTIAL);
        ASSERT_EQ(j->reason, TARGET_REASON_LIMIT);
        j = job_free(j);

        /* a reload at 64M: held counts, so the free 16 MiB stay unlocked */
        ASSERT_OK(ledger_add(&t->ledger, OURS, OURS + 64 * MiB, LOCK_MODE_ONFAULT));
        spec.max_locked = 64 * MiB;
        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_OPEN);
        ASSERT_EQ(fake.steps, 0U);

        /* after a restart (empty ledger, inherited): the locks in place count */
        t->ledger.n = 0;
        t->inherited = true;
        j = job_free(j);
        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ_U64(fake.held_asked, 68 * MiB);
        ASSERT_TRUE(fake.finished); /* nothing to lock: skipped:limit at once */
        ASSERT_EQ(j->state, TARGET_SKIPPED);
        ASSERT_EQ(j->reason, TARGET_REASON_LIMIT);
        ASSERT_EQ(fake.steps, 0U);
        /* the locks found in place are reported as held: smaps Locked: 16 MiB + 4 MiB */
        ASSERT_EQ_U64(j->locked_bytes, 20 * MiB);
        ASSERT_EQ(t->ledger.n, 0); /* but not mlockd's to undo */
}

/* Release: exactly mlockd's range; after MCL_FUTURE a munlockall and the own lock put back full. */
static void test_unlock(void) {
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;

        reset();
        ASSERT_OK(job_new(JOB_UNLOCK, t, NULL, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ(fake.req.call, (int32_t) INJECT_MUNLOCK);
        ASSERT_EQ_U64(fake.req.args[0], OURS);
        ASSERT_EQ_U64(fake.req.args[1], 64 * MiB);
        answer(j, 0, 0, 10);
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(j->reason, TARGET_REASON_NONE);
        ASSERT_EQ(t->ledger.n, 0);
        j = job_free(j);

        ASSERT_OK(ledger_add(&t->ledger, OURS, OURS + 64 * MiB, LOCK_MODE_ONFAULT));
        t->ledger.future = true;
        reset();
        ASSERT_OK(job_new(JOB_UNLOCK, t, NULL, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ(fake.req.call, (int32_t) INJECT_MUNLOCKALL);
        answer(j, 0, 0, 10);
        ASSERT_EQ(fake.req.call, (int32_t) INJECT_MLOCK2);
        ASSERT_EQ_U64(fake.req.args[0], OWN);
        ASSERT_EQ_U64(fake.req.args[1], 4 * MiB);
        ASSERT_EQ_U64(fake.req.args[2], 0); /* full stays full */
        answer(j, 0, 0, 10);
        ASSERT_TRUE(fake.finished);
        ASSERT_FALSE(t->ledger.future);
        j = job_free(j);

        /* a filter that kills munlock: refused, the ledger unchanged */
        ASSERT_OK(ledger_add(&t->ledger, OURS, OURS + 64 * MiB, LOCK_MODE_ONFAULT));
        reset();
        ASSERT_OK(job_new(JOB_UNLOCK, t, NULL, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps");
        answer_refused(j, -EPERM, "seccomp:kill_process");
        ASSERT_EQ(j->state, TARGET_SKIPPED);
        ASSERT_EQ(j->reason, TARGET_REASON_SECCOMP);
        ASSERT_STREQ(j->detail, "kill_process");
        ASSERT_EQ_U64(ledger_bytes(&t->ledger), 64 * MiB);
}

/* A lost injector: the request goes out once more, then failed:injector; a target left stopped
 * fails at once. Precheck refusals and a gone process. */
static void test_lost_and_refused(void) {
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_ONFAULT);
        unsigned before;

        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps");
        before = fake.sent;
        job_reply(j, -ECONNRESET, NULL, -EBADF);
        ASSERT_EQ(fake.sent, before + 1);
        ASSERT_EQ(fake.req.call, (int32_t) INJECT_MLOCK2); /* the same step again */
        ASSERT_FALSE(fake.finished);
        job_reply(j, -ECONNRESET, NULL, -EBADF);
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(j->state, TARGET_FAILED);
        ASSERT_EQ(j->reason, TARGET_REASON_INJECTOR);
        j = job_free(j);

        /* a step the injector did not answer in time (the client killed it): failed:stuck, and
         * never sent again, since the target may hold the next injector the same way */
        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_STEP);
        before = fake.sent;
        job_reply(j, -ETIMEDOUT, NULL, -EBADF);
        ASSERT_EQ(fake.sent, before);
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(j->state, TARGET_FAILED);
        ASSERT_EQ(j->reason, TARGET_REASON_STUCK);
        j = job_free(j);

        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        job_reply(j, -ENOTRECOVERABLE, NULL, -EBADF);
        ASSERT_EQ(j->reason, TARGET_REASON_INJECTOR);
        j = job_free(j);

        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_refused(j, -EPERM, "seccomp:unreadable");
        ASSERT_EQ(j->state, TARGET_SKIPPED);
        ASSERT_STREQ(j->detail, "unreadable");
        j = job_free(j);

        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_refused(j, -ESRCH, "zombie");
        ASSERT_TRUE(j->gone);
}

/* A fresh fake whose pages in [bad_start, bad_end) are not mlocked; a lock job on t planned from
 * the fixture plan_smaps (precheck answered). */
static Job *start_lock(Target *t, const JobSpec *spec, uint64_t bad_start, uint64_t bad_end,
                       const char *plan_smaps) {
        Job *j = NULL;

        reset();
        fake.bad_start = bad_start;
        fake.bad_end = bad_end;
        ASSERT_OK(job_new(JOB_LOCK, t, spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, plan_smaps);
        return j;
}

/* Verify by the page flags: 4 MiB of mlockd's range are VM_LOCKED but not mlocked (swapped in
 * under the lock). The job relocks (munlock + mlock2 in one stop) mlockd's ranges, never the
 * target's own, in its mode, verifies again, and only then says locked; locked bytes are the
 * mlocked pages, smaps Locked: beside them. */
static void test_verify_relock(void) {
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_ONFAULT);
        uint64_t next = OURS;

        j = start_lock(t, &spec, FREE, FREE + 4 * MiB, "selflock.smaps");
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_STEP);
        answer(j, 0, 0, 100);
        fake.manual_pages = true;
        answer_smaps(j, "selflock-after.smaps");
        ASSERT_EQ(job_in_flight(j), 0); /* verify asks; nothing counted yet */
        answer_pages(j);
        fake.manual_pages = false;
        ASSERT_FALSE(fake.finished); /* not locked while pages are not mlocked */
        /* for the budget, the pages to relock are in flight: not in the kernel's unevictable yet */
        ASSERT_EQ_U64(job_in_flight(j), 4 * MiB);
        while (fake.req.op == INJECTOR_OP_RELOCK) {
                ASSERT_EQ_U64(fake.req.args[0], next);
                ASSERT_EQ_U64(fake.req.args[2], 1); /* onfault stays onfault */
                ASSERT_TRUE(fake.req.args[0] >= OURS);
                next += fake.req.args[1];
                answer_relock(j, 200);
        }
        ASSERT_EQ_U64(next, FREE + 16 * MiB); /* all of mlockd's ranges in the block, nothing else */
        ASSERT_TRUE(fake.relocks >= 1);
        answer_smaps(j, "selflock-after.smaps"); /* verify again */
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(j->state, TARGET_LOCKED);
        ASSERT_EQ(j->rounds, 1U);
        ASSERT_TRUE(j->pages_verified);
        ASSERT_EQ_U64(j->locked_bytes, 80 * MiB);
        ASSERT_TRUE(j->smaps_locked > 16 * MiB - 4096 && j->smaps_locked <= 16 * MiB); /* PSS, split by range */
        ASSERT_EQ_U64(j->not_mlocked, 0);
}

/* Answer verify's smaps opens (with name) and relocks until the job ends; returns the opens. */
static unsigned run_verify(Job *j, const char *name) {
        unsigned opens = 0;

        while (!fake.finished) {
                if (fake.req.op == INJECTOR_OP_OPEN) {
                        opens++;
                        answer_smaps(j, name);
                } else
                        answer_relock(j, 200);
                ASSERT_TRUE(opens <= JOB_VERIFY_ROUNDS + 1);
        }
        return opens;
}

/* Pages that stay not mlocked. 4K pages: JOB_VERIFY_ROUNDS relock rounds, then
 * partial:not-mlocked with the bytes. Large folios (cut by the target's own VMA edges): one round,
 * which mlocks whole folios, then no more: another cannot help. Locked bytes never count them. */
static void test_verify_sticky(bool large) {
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_ONFAULT);

        j = start_lock(t, &spec, OURS, OURS + 2 * MiB, "selflock.smaps");
        fake.sticky = true;
        fake.bad_large = large;
        answer(j, 0, 0, 100);
        ASSERT_EQ(run_verify(j, "selflock-after.smaps"), large ? 2U : JOB_VERIFY_ROUNDS + 1);
        ASSERT_EQ(j->rounds, large ? 1U : JOB_VERIFY_ROUNDS);
        ASSERT_EQ(j->state, TARGET_PARTIAL);
        ASSERT_EQ(j->reason, TARGET_REASON_NOT_MLOCKED); /* no VMA edge cuts a folio in the fixture */
        ASSERT_EQ_U64(j->not_mlocked, 2 * MiB);
        ASSERT_EQ_U64(j->large_not_mlocked, large ? 2 * MiB : 0);
        ASSERT_EQ_U64(j->locked_bytes, 78 * MiB);
}

/* kpageflags unreadable: the survey is refused once, nothing more is asked, verify falls back to
 * smaps Locked: and says so (pages_verified false). */
static void test_verify_unreadable(void) {
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_ONFAULT);

        reset();
        fake.manual_pages = true;
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_PAGES);
        answer_refused(j, -EPERM, "kpageflags-unreadable");
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_STEP);
        answer(j, 0, 0, 100);
        answer_smaps(j, "selflock-after.smaps");
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(j->state, TARGET_LOCKED);
        ASSERT_FALSE(j->pages_verified);
        ASSERT_TRUE(j->pages_unreadable);
        ASSERT_TRUE(j->locked_bytes > 16 * MiB - 4096 && j->locked_bytes <= 16 * MiB); /* smaps Locked: */
}

/* A recheck with Relock=no: pages not mlocked any more are reported (partial:drifted), nothing is
 * injected; with Relock=yes they are relocked. */
static void test_recheck(void) {
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_ONFAULT);

        ASSERT_OK(ledger_add(&t->ledger, FREE, FREE + 16 * MiB, LOCK_MODE_ONFAULT));
        spec.recheck = true;
        spec.relock = false;
        reset();
        fake.bad_start = OURS;
        fake.bad_end = OURS + 8 * MiB;
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock-after.smaps"); /* all locked as wanted: no step */
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_OPEN);
        answer_smaps(j, "selflock-after.smaps");
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(fake.relocks, 0U);
        ASSERT_EQ(fake.steps, 0U);
        ASSERT_EQ(j->state, TARGET_PARTIAL);
        ASSERT_EQ(j->reason, TARGET_REASON_DRIFTED);
        ASSERT_EQ_U64(j->not_mlocked, 8 * MiB);
        j = job_free(j);

        /* Relock=yes: relocked, then locked */
        spec.relock = true;
        j = start_lock(t, &spec, OURS, OURS + 8 * MiB, "selflock-after.smaps");
        answer_smaps(j, "selflock-after.smaps");
        while (fake.req.op == INJECTOR_OP_RELOCK)
                answer_relock(j, 200);
        answer_smaps(j, "selflock-after.smaps");
        ASSERT_TRUE(fake.finished);
        ASSERT_TRUE(fake.relocks > 0);
        ASSERT_EQ(j->state, TARGET_LOCKED);
}

/* THP memory (hg, 2 MiB folios enabled): every chunk edge but the range's own end is on a 2 MiB
 * boundary, so no chunk splits a huge page; the first chunk runs to the first boundary. */
static void test_folio_chunks(void) {
        _cleanup_(target_freep) Target *t = NULL;
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_FULL);
        uint64_t next = OURS - 3 * MiB, end = next + 16 * MiB;

        ASSERT_OK(target_new(NULL, 4242, &t));
        spec.max_pause = USEC_PER_MSEC;
        spec.folios = (FolioSizes) { .pmd = 2 * MiB, .sizes = { 2 * MiB }, .n = 1 };
        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "thp.smaps");
        while (fake.req.op == INJECTOR_OP_STEP) {
                uint64_t e = fake.req.args[0] + fake.req.args[1];

                ASSERT_EQ_U64(fake.req.args[0], next);
                ASSERT_TRUE(e == end || e % (2 * MiB) == 0);
                next = e;
                answer(j, 0, 0, 100 + fake.req.args[1] / 1000);
        }
        ASSERT_EQ_U64(next, end);
        ASSERT_TRUE(fake.steps > 1);
        answer_smaps(j, "thp-after.smaps");
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(j->state, TARGET_LOCKED);
        ASSERT_EQ_U64(j->locked_bytes, 16 * MiB);
}

/* The bookkeeping of pieces and windows: cut at JOB_WINDOW blocks and owner changes; missing pages
 * count swapped ones only for a full lock, never the zero page. */
static void test_pages_windows(void) {
        JobPages pg = {};
        JobWindow w = {
                .counted = true,
                .counts = { .pages = 100, .present = 90, .swapped = 10, .mlocked = 80, .zero = 4 },
        };

        ASSERT_OK(job_pages_add(&pg, JOB_WINDOW - MiB, JOB_WINDOW + MiB, true, LOCK_MODE_FULL));
        ASSERT_OK(job_pages_add(&pg, JOB_WINDOW + MiB, JOB_WINDOW + 2 * MiB, true, LOCK_MODE_FULL));
        ASSERT_OK(job_pages_add(&pg, JOB_WINDOW + 2 * MiB, JOB_WINDOW + 3 * MiB, false, LOCK_MODE_FULL));
        ASSERT_EQ(pg.n_pieces, 4);
        ASSERT_EQ(pg.n_windows, 3);
        ASSERT_EQ(pg.windows[0].n, 1);
        ASSERT_EQ_U64(pg.windows[0].bytes, MiB);
        ASSERT_EQ(pg.windows[1].n, 2);
        ASSERT_EQ_U64(pg.windows[1].bytes, 2 * MiB);
        job_pages_done(&pg);

        ASSERT_EQ_U64(job_window_missing(&w, LOCK_MODE_ONFAULT), 6);
        ASSERT_EQ_U64(job_window_missing(&w, LOCK_MODE_FULL), 16);
        w.counted = false;
        ASSERT_EQ_U64(job_window_missing(&w, LOCK_MODE_FULL), 0);
}

/* Pages charged to another cgroup over its budget: verify reports them by memcg, the manager says
 * how many to give back, the job locates them (per-range counts in 2 MiB pieces), munlocks the
 * fullest pieces, verifies again and ends partial:budget-foreign. */
static void test_foreign_trim(void) {
        static const JobOps ops = {
                .submit = fake_submit, .limits = fake_limits, .stepped = fake_stepped,
                .foreign = fake_foreign, .finished = fake_finished,
        };
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_ONFAULT);
        unsigned locates = 0;

        spec.memcg_ino = OWN_INO;
        reset();
        fake.foreign_start = FREE + 3 * MiB; /* 6 MiB charged elsewhere, from the middle of a piece */
        fake.foreign_end = FREE + 9 * MiB;
        fake.foreign_want = 1024;            /* 4 MiB back */
        fake.manual_pages = true;
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps");
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_PAGES); /* the survey: no memcg asked */
        ASSERT_EQ_U64(fake.req.value, 0);
        answer_pages(j);
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_STEP);
        answer(j, 0, 0, 100);
        answer_smaps(j, "selflock-after.smaps");
        while (fake.req.op == INJECTOR_OP_PAGES && fake.req.value == OWN_INO)
                answer_pages(j);
        ASSERT_EQ(fake.foreign_asked, 1U);
        ASSERT_EQ_U64(page_charges_get(&j->foreign, FOREIGN_INO), 1536);
        /* located piece by piece: FREE+2M..4M has 256 pages there, 4M..6M and 6M..8M 512 each */
        while (fake.req.op == INJECTOR_OP_PAGES && fake.req.value == FOREIGN_INO) {
                for (uint32_t k = 0; k < fake.req.n_ranges; k++) {
                        ASSERT_EQ_U64(fake.req.ranges[k].start % JOB_FOREIGN_GRAIN, 0);
                        ASSERT_TRUE(fake.req.ranges[k].end - fake.req.ranges[k].start <= JOB_FOREIGN_GRAIN);
                }
                locates++;
                answer_pages(j);
        }
        ASSERT_TRUE(locates >= 1);
        /* the two fullest pieces, adjacent: one munlock of 4 MiB */
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_STEP);
        ASSERT_EQ(fake.req.call, (int32_t) INJECT_MUNLOCK);
        ASSERT_EQ_U64(fake.req.args[0], FREE + 4 * MiB);
        ASSERT_EQ_U64(fake.req.args[1], 4 * MiB);
        fake.unlocked_start = FREE + 4 * MiB;
        fake.unlocked_end = FREE + 8 * MiB;
        answer(j, 0, 0, 10);
        ASSERT_EQ_U64(ledger_bytes(&t->ledger), 76 * MiB); /* mlockd no longer holds them */
        /* verify again; the manager is not asked twice */
        answer_smaps(j, "selflock-after.smaps");
        while (!fake.finished && fake.req.op == INJECTOR_OP_PAGES)
                answer_pages(j);
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(fake.foreign_asked, 1U);
        ASSERT_EQ(j->state, TARGET_PARTIAL);
        ASSERT_EQ(j->reason, TARGET_REASON_BUDGET_FOREIGN);
        ASSERT_EQ_U64(page_charges_get(&j->foreign, FOREIGN_INO), 512);
}

/* The pieces of a trim and its munlock steps. */
static void test_foreign_pieces(void) {
        JobForeign f = {};
        LedgerStep *steps = NULL;
        size_t n = 0;

        ASSERT_OK(job_foreign_add(&f, JOB_FOREIGN_GRAIN - MiB, 3 * JOB_FOREIGN_GRAIN + 4096));
        ASSERT_EQ(f.n_pieces, 4);
        ASSERT_EQ_U64(f.pieces[0].end, JOB_FOREIGN_GRAIN);
        ASSERT_EQ_U64(f.pieces[3].start, 3 * JOB_FOREIGN_GRAIN);
        ASSERT_EQ_U64(f.pieces[3].end, 3 * JOB_FOREIGN_GRAIN + 4096);
        f.picked = calloc(f.n_pieces, sizeof *f.picked);
        ASSERT_NOT_NULL(f.picked);
        f.picked[0] = f.picked[1] = f.picked[3] = true;
        ASSERT_OK(job_foreign_steps(&f, &steps, &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(steps[0].call, INJECT_MUNLOCK);
        ASSERT_EQ_U64(steps[0].start, JOB_FOREIGN_GRAIN - MiB);
        ASSERT_EQ_U64(steps[0].len, JOB_FOREIGN_GRAIN + MiB);
        ASSERT_EQ_U64(steps[1].start, 3 * JOB_FOREIGN_GRAIN);
        ASSERT_EQ_U64(steps[1].len, 4096);
        free(steps);
        job_foreign_done(&f);
}

/* Lock steps in one stop (batch.smaps: two unlocked ranges of 63 and 16 MiB beside the target's own
 * lock): with nothing present (onfault walks nothing), both go in one LOCK_RANGES; a batch the hold bound ended resumes at the first call not run; a
 * failed call's range is passed over and the next batch starts after it. The target's own range is
 * never in one. */
static void test_batched_steps(void) {
        _cleanup_(target_freep) Target *t = NULL;
        _cleanup_(job_freep) Job *j = NULL;
        JobSpec spec = spec_of(LOCK_MODE_ONFAULT);

        for (unsigned round = 0; round < 3; round++) {
                t = target_free(t);
                j = job_free(j);
                ASSERT_OK(target_new(NULL, 4242, &t));
                reset();
                fake.untouched = true;
                ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
                job_start(j);
                answer_smaps(j, "batch.smaps");
                ASSERT_EQ(fake.batch.op, (uint32_t) INJECTOR_OP_LOCK_RANGES);
                ASSERT_EQ(fake.batch.n_ranges, 2U);
                ASSERT_EQ_U64(fake.batch.ranges[0].start, OURS);
                ASSERT_EQ_U64(fake.batch.ranges[0].end, OURS + 63 * MiB);
                ASSERT_EQ_U64(fake.batch.ranges[1].start, FREE);
                ASSERT_EQ_U64(fake.batch.ranges[1].end, FREE + 16 * MiB);
                ASSERT_EQ_U64(fake.batch.args[0], 1);                   /* MLOCK_ONFAULT */
                ASSERT_EQ_U64(fake.batch.args[1], spec.max_pause / 2);  /* the hold bound */
                if (round == 0) {
                        answer(j, 0, 0, 100); /* both run */
                        ASSERT_EQ_U64(fake.req.args[0], FREE);
                        answer(j, 0, 0, 100);
                }
                else if (round == 1) {
                        fake.batch_held = 2600;
                        answer_batch(j, 0, 0, 1); /* the bound ended it after the first */
                        ASSERT_EQ(fake.batch.op, (uint32_t) INJECTOR_OP_LOCK_RANGES);
                        ASSERT_EQ(fake.batch.n_ranges, 1U);
                        ASSERT_EQ_U64(fake.batch.ranges[0].start, FREE);
                        answer(j, 0, 0, 100);
                } else {
                        answer(j, 0, -EAGAIN, 100); /* the first fails: the second is not run */
                        ASSERT_EQ(fake.batch.op, (uint32_t) INJECTOR_OP_LOCK_RANGES);
                        ASSERT_EQ(fake.batch.n_ranges, 1U);
                        ASSERT_EQ_U64(fake.batch.ranges[0].start, FREE);
                        answer(j, 0, 0, 100);
                }
                ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_OPEN); /* verify */
                ASSERT_EQ(fake.steps, round == 0 ? 1U : 2U);    /* one stop per batch */
                ASSERT_EQ_U64(ledger_bytes(&t->ledger), round == 2 ? 16 * MiB : 79 * MiB);
                for (size_t i = 0; i < t->ledger.n; i++)
                        ASSERT_TRUE(t->ledger.ranges[i].start >= OWN + 4 * MiB);
                if (round == 2)
                        ASSERT_EQ(j->error, TARGET_REASON_EAGAIN);
        }
}

/* A lock job of t: planned from selflock.smaps, its one step (the free range) done, and then
 * smaps name answering the verify's read. */
static Job *lock_free_then(Target *t, const JobSpec *spec, const JobOps *ops, const char *name) {
        Job *j = NULL;

        reset();
        ASSERT_OK(job_new(JOB_LOCK, t, spec, ops, NULL, &j));
        job_start(j);
        answer_smaps(j, "selflock.smaps"); /* the pre-checks and the plan's smaps in one */
        ASSERT_EQ_U64(fake.req.args[0], FREE);
        answer(j, 0, 0, 100);
        answer_smaps(j, name);
        return j;
}

static bool fake_follow(Job *j, void *userdata) {
        return true;
}

/* A job given the maps of the read that asked for it plans from them after the precheck: no smaps
 * read of its own. A young, watched target's verify read that shows a mapping made meanwhile
 * (selected, neither locked nor in the ledger) is planned from; one that shows none is verified. */
static void test_given_and_follow(void) {
        _cleanup_(target_freep) Target *t = new_target();
        _cleanup_(job_freep) Job *j = NULL;
        _cleanup_free_ char *path = NULL, *text = NULL;
        JobSpec spec = spec_of(LOCK_MODE_ONFAULT);
        JobOps ops = fake_ops;
        Maps *given = NULL;

        reset();
        ASSERT_TRUE(asprintf(&path, "%s/target/selflock.smaps", test_data_dir()) > 0);
        ASSERT_OK(read_full_file(path, 1 << 20, &text, NULL));
        ASSERT_OK(maps_parse(text, &given));
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        j->plan_smaps = given;
        j->maps_given = true;
        job_start(j);
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_PRECHECK);
        answer(j, 0, 0, 0);
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_STEP);
        ASSERT_EQ_U64(fake.req.args[0], FREE);
        ASSERT_EQ(fake.opens, 0U); /* planned from the maps given */
        answer(j, 0, 0, 100);
        answer_smaps(j, "selflock-after.smaps");
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(fake.opens, 1U); /* the verify's */
        ASSERT_EQ(j->state, TARGET_LOCKED);
        j = job_free(j);
        target_free(t);

        /* followed: the verify read shows 4 MiB mapped during the lock */
        t = new_target();
        ops.follow = fake_follow;
        j = lock_free_then(t, &spec, &ops, "grown.smaps");
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_STEP);
        ASSERT_EQ_U64(fake.req.args[0], 0x7f0006000000ULL);
        ASSERT_EQ_U64(fake.req.args[1], 4 * MiB);
        ASSERT_EQ(j->follows, 1U);
        ASSERT_EQ(fake.opens, 2U); /* the plan's, the verify's that became the next plan's */
        answer(j, 0, 0, 100);
        /* this verify read shows nothing more: verified, and locked */
        answer_smaps(j, "grown-after.smaps");
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(j->follows, 1U);
        ASSERT_EQ(j->state, TARGET_LOCKED);
        ASSERT_EQ_U64(ledger_bytes(&t->ledger), 84 * MiB);
        j = job_free(j);
        target_free(t);

        /* not followed (no watch): the same read is a verify, and the new mapping waits */
        t = new_target();
        j = lock_free_then(t, &spec, &fake_ops, "grown.smaps");
        ASSERT_TRUE(fake.finished);
        ASSERT_EQ(j->follows, 0U);
        ASSERT_EQ(j->state, TARGET_LOCKED);
        ASSERT_EQ_U64(ledger_bytes(&t->ledger), 80 * MiB);
}

int main(void) {
        test_given_and_follow();
        test_onfault_adopts();
        test_full_chunks();
        test_enomem_replans();
        test_max_locked();
        test_unlock();
        test_lost_and_refused();
        test_verify_relock();
        test_verify_sticky(false);
        test_verify_sticky(true);
        test_verify_unreadable();
        test_recheck();
        test_folio_chunks();
        test_pages_windows();
        test_foreign_trim();
        test_foreign_pieces();
        test_batched_steps();
        return 0;
}
