/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pageflags.c: the counts on fixtures (tests/data/pageflags/, made by make-fixtures.py there: 4K
 * pages mlocked in two memcgs, present and unlocked, swapped, absent, the zero page, an mTHP, a
 * hugetlb page, a PMD THP), the refusals, then the kernel's own word on this process. */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pageflags.h"
#include "tests.h"

static char root[4200];

static PageCounts count(uint64_t start, uint64_t end, uint64_t ino) {
        _cleanup_(pageflags_freep) PageFlags *p = NULL;
        const char *reason = NULL;
        PageCounts c = {};

        ASSERT_OK(pageflags_open(root, 100, ino ? PAGEFLAGS_CGROUP : 0, &p, &reason));
        ASSERT_OK(pageflags_count(p, start, end, ino, &c, &reason));
        ASSERT_NULL(reason);
        return c;
}

static void test_fixture(void) {
        PageCounts c;

        /* pages 0-8: 4 mlocked, 2 present, 1 swapped, 1 absent, the zero page */
        c = count(0, 9 * 4096, 0);
        ASSERT_EQ_U64(c.pages, 9);
        ASSERT_EQ_U64(c.present, 7);
        ASSERT_EQ_U64(c.swapped, 1);
        ASSERT_EQ_U64(c.mlocked, 4);
        ASSERT_EQ_U64(c.unevictable, 4);
        ASSERT_EQ_U64(c.zero, 1);
        ASSERT_EQ_U64(c.large, 0);

        /* the mTHP and the hugetlb page: only the mTHP is a large folio */
        c = count(16 * 4096, 25 * 4096, 0);
        ASSERT_EQ_U64(c.present, 9);
        ASSERT_EQ_U64(c.large, 8);
        ASSERT_EQ_U64(c.thp, 8);
        ASSERT_EQ_U64(c.large_not_mlocked, 8);
        ASSERT_EQ_U64(c.mlocked, 0);

        /* half of the PMD THP: each 4K page once, tails report the head's mlock */
        c = count(0x200000 + 256 * 4096, 0x400000, 0);
        ASSERT_EQ_U64(c.pages, 256);
        ASSERT_EQ_U64(c.mlocked, 256);
        ASSERT_EQ_U64(c.thp, 256);
        ASSERT_EQ_U64(c.large_not_mlocked, 0);

        /* everything, with the memcg of inode 77: pages 0-1 and the THP */
        c = count(0, 0x400000, 77);
        ASSERT_EQ_U64(c.pages, 1024);
        ASSERT_EQ_U64(c.present, 7 + 9 + 512);
        ASSERT_EQ_U64(c.mlocked, 4 + 512);
        ASSERT_EQ_U64(c.memcg_mlocked, 2 + 512);
        c = count(0, 0x400000, 88);
        ASSERT_EQ_U64(c.memcg_mlocked, 2);

        /* counts add up over calls; an empty range adds nothing */
        {
                _cleanup_(pageflags_freep) PageFlags *p = NULL;
                PageCounts a = {};

                ASSERT_OK(pageflags_open(root, 100, 0, &p, NULL));
                ASSERT_OK(pageflags_count(p, 0, 4 * 4096, 0, &a, NULL));
                ASSERT_OK(pageflags_count(p, 0x200000, 0x201000, 0, &a, NULL));
                ASSERT_OK(pageflags_count(p, 0x1000, 0x1000, 0, &a, NULL));
                ASSERT_EQ_U64(a.pages, 5);
                ASSERT_EQ_U64(a.mlocked, 5);
                ASSERT_ERROR(pageflags_count(p, 1, 4096, 0, &a, NULL), EINVAL);
                ASSERT_ERROR(pageflags_count(p, 8192, 4096, 0, &a, NULL), EINVAL);
                ASSERT_EQ_U64(a.pages, 5);
        }
}

/* Mlocked pages charged elsewhere than the memcg asked for, by inode: pages 0-1 and the THP in 77,
 * pages 2-3 in 88. */
static void test_charges(void) {
        _cleanup_(pageflags_freep) PageFlags *p = NULL;
        PageCounts c = {};
        PageCharges f = {};

        ASSERT_OK(pageflags_open(root, 100, PAGEFLAGS_CGROUP, &p, NULL));
        ASSERT_OK(pageflags_count_charged(p, 0, 0x400000, 77, &c, &f, NULL));
        ASSERT_EQ_U64(c.memcg_mlocked, 2 + 512);
        ASSERT_EQ(f.n, 1U);
        ASSERT_EQ_U64(page_charges_get(&f, 88), 2);
        ASSERT_EQ_U64(page_charges_get(&f, 77), 0);
        ASSERT_OK(page_charges_check(&f, 77, c.mlocked));

        f = (PageCharges) {};
        c = (PageCounts) {};
        ASSERT_OK(pageflags_count_charged(p, 0, 0x400000, 88, &c, &f, NULL));
        ASSERT_EQ_U64(page_charges_get(&f, 77), 2 + 512);
        ASSERT_EQ_U64(page_charges_total(&f), 2 + 512);
        /* it adds up over calls, as the counts do */
        ASSERT_OK(pageflags_count_charged(p, 0, 2 * 4096, 88, &c, &f, NULL));
        ASSERT_EQ_U64(page_charges_get(&f, 77), 2 + 512 + 2);

        /* past PAGE_CHARGES_MAX memcgs the rest goes to other */
        f = (PageCharges) {};
        for (uint64_t i = 1; i <= PAGE_CHARGES_MAX + 2; i++)
                page_charges_add(&f, 1000 + i, i);
        page_charges_add(&f, 0, 5); /* charged to no memcg: not counted */
        ASSERT_EQ(f.n, (uint32_t) PAGE_CHARGES_MAX);
        ASSERT_EQ_U64(f.other, (PAGE_CHARGES_MAX + 1) + (PAGE_CHARGES_MAX + 2));
        ASSERT_EQ_U64(page_charges_total(&f), (PAGE_CHARGES_MAX + 2) * (PAGE_CHARGES_MAX + 3) / 2);
}

/* What a reply may claim: bounded, distinct, never the target's own memcg, no more than mlocked. */
static void test_charges_check(void) {
        PageCharges f = { .n = 2, .charges = { { 10, 5 }, { 11, 6 } }, .other = 1 };

        ASSERT_OK(page_charges_check(&f, 9, 12));
        ASSERT_ERROR(page_charges_check(&f, 9, 11), EBADMSG);   /* more than mlocked */
        ASSERT_ERROR(page_charges_check(&f, 10, 12), EBADMSG);  /* the own memcg */
        f.charges[1].memcg_ino = 10;
        ASSERT_ERROR(page_charges_check(&f, 9, 12), EBADMSG);   /* twice */
        f.charges[1] = (PageCharge) { 0, 6 };
        ASSERT_ERROR(page_charges_check(&f, 9, 12), EBADMSG);   /* no inode */
        f.charges[1] = (PageCharge) { 11, 0 };
        ASSERT_ERROR(page_charges_check(&f, 9, 12), EBADMSG);   /* an empty entry */
        f.n = PAGE_CHARGES_MAX + 1;
        ASSERT_ERROR(page_charges_check(&f, 9, 12), EBADMSG);
        f = (PageCharges) { .unread = 1 };
        ASSERT_OK(page_charges_check(&f, 9, 0));
        f.other = 1;
        ASSERT_ERROR(page_charges_check(&f, 9, 5), EBADMSG);    /* unread yet counted */
}

static void test_refusals(void) {
        _cleanup_(pageflags_freep) PageFlags *p = NULL;
        const char *reason = NULL;
        PageCounts c = {};

        /* PFNs hidden: present pages with PFN 0 */
        ASSERT_OK(pageflags_open(root, 200, 0, &p, &reason));
        ASSERT_ERROR(pageflags_count(p, 0, 4 * 4096, 0, &c, &reason), EPERM);
        ASSERT_STREQ(reason, "kpageflags-unreadable");
        ASSERT_EQ_U64(c.pages, 0); /* untouched on failure */

        reason = NULL;
        ASSERT_ERROR(pageflags_open(root, 300, 0, &p, &reason), ESRCH);
        ASSERT_STREQ(reason, "gone");
        ASSERT_ERROR(pageflags_open(root, 0, 0, &p, NULL), EINVAL);
}

/* The kernel's own word on our memory: 64 pages mlocked out of 256 touched. */
static void test_self(void) {
        _cleanup_(pageflags_freep) PageFlags *p = NULL;
        const char *reason = NULL;
        uint64_t ps = (uint64_t) sysconf(_SC_PAGESIZE);
        PageCounts c = {};
        uint8_t *a;
        int r;

        r = pageflags_open("/proc", getpid(), 0, &p, &reason);
        if (r < 0) {
                printf("# skipping the live check: %s\n", reason ?: strerror(-r));
                return;
        }
        a = mmap(NULL, 256 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(a != MAP_FAILED);
        ASSERT_OK(madvise(a, 256 * ps, MADV_NOHUGEPAGE));
        memset(a, 1, 256 * ps);
        /* the syscall: ASan's mlock() interceptor does nothing */
        if (syscall(SYS_mlock2, a + 64 * ps, 64 * ps, 0) < 0) {
                printf("# skipping the live check: mlock: %m\n");
                munmap(a, 256 * ps);
                return;
        }
        r = pageflags_count(p, (uintptr_t) a, (uintptr_t) a + 256 * ps, 0, &c, &reason);
        if (r == -EPERM) {
                printf("# skipping the live check: %s\n", reason);
                munmap(a, 256 * ps);
                return;
        }
        ASSERT_OK(r);
        ASSERT_EQ_U64(c.present, 256);
        ASSERT_EQ_U64(c.mlocked, 64);
        ASSERT_EQ_U64(c.unevictable, 64);
        ASSERT_OK((int) syscall(SYS_munlock, a + 64 * ps, 64 * ps));
        c = (PageCounts) {};
        ASSERT_OK(pageflags_count(p, (uintptr_t) a, (uintptr_t) a + 256 * ps, 0, &c, &reason));
        ASSERT_EQ_U64(c.mlocked, 0);
        munmap(a, 256 * ps);
}

int main(void) {
        if (sysconf(_SC_PAGESIZE) != 4096) {
                printf("# the fixtures are made for 4 KiB pages\n");
                return EXIT_TEST_SKIP;
        }
        snprintf(root, sizeof root, "%s/pageflags/proc", test_data_dir());
        test_fixture();
        test_charges();
        test_charges_check();
        test_refusals();
        test_self();
        return 0;
}
