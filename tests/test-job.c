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

static struct {
        InjectorRequest req;
        unsigned sent;
        bool finished;
        uint64_t held_asked;
        JobLimits limits;
        unsigned steps;
} fake;

static int fake_submit(Job *j, const InjectorRequest *req, void *userdata) {
        fake.req = *req;
        fake.sent++;
        return 0;
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
        job_reply(j, r, &reply, -EBADF);
}

static void answer_smaps(Job *j, const char *name) {
        InjectorReply reply = { .has_fd = 1 };

        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_OPEN);
        job_reply(j, 0, &reply, smaps_fd(name));
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
        ASSERT_EQ(fake.req.op, (uint32_t) INJECTOR_OP_PRECHECK);
        answer(j, 0, 0, 0);
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
        ASSERT_OK(job_new(JOB_LOCK, t, &spec, &fake_ops, NULL, &j));
        job_start(j);
        answer(j, 0, 0, 0);
        answer_smaps(j, "selflock.smaps");
        while (fake.req.op == INJECTOR_OP_STEP) {
                ASSERT_EQ_U64(fake.req.args[0], next);
                ASSERT_EQ_U64(fake.req.args[2], 0);
                ASSERT_TRUE(fake.req.args[0] >= OWN + 4 * MiB);
                if (!first)
                        first = fake.req.args[1];
                next += fake.req.args[1];
                answer(j, 0, 0, fake.req.args[1] / 1000); /* 1 GB/s */
        }
        ASSERT_EQ_U64(first, 1 * MiB);
        ASSERT_EQ_U64(next, FREE + 16 * MiB);
        /* 0.4 ms of 1 GB/s per later chunk: a few hundred KiB, so many steps */
        ASSERT_TRUE(fake.steps > 80);
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
        answer(j, 0, 0, 0);
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
        answer(j, 0, 0, 0);
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
        answer(j, 0, 0, 0);
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
        answer(j, 0, 0, 0);
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
        answer(j, 0, 0, 0);
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
        answer(j, 0, 0, 0);
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

int main(void) {
        test_onfault_adopts();
        test_full_chunks();
        test_enomem_replans();
        test_max_locked();
        test_unlock();
        test_lost_and_refused();
        return 0;
}
