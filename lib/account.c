/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "account.h"
#include "macro.h"

uint64_t account_in_flight(uint64_t planned, uint64_t done) {
        return planned > done ? planned - done : 0;
}

void account_target(const AccountInput *in, AccountResult *ret) {
        AccountResult a = { .held = in->held, .budget = UINT64_MAX };

        if (in->max_locked > 0 && in->held > in->max_locked)
                a.excess = in->held - in->max_locked;

        if (in->memory) {
                CgroupMemory mem = *in->memory;
                uint64_t lockable;

                mem.unevictable = MAX(mem.unevictable, in->claimed);
                lockable = cgroup_lockable_bytes(&mem, in->cgroup_budget, in->limit_margin);

                if (lockable != UINT64_MAX)
                        a.budget = lockable > in->in_flight ? lockable - in->in_flight : 0;
        }
        *ret = a;
}

uint64_t account_foreign_excess(const ForeignInput *in) {
        uint64_t total, there;

        if (in->budget == 0 || in->charged == 0)
                return 0;
        total = in->held + in->charged;
        if (total < in->held)
                total = UINT64_MAX;
        there = MAX(in->unevictable, total);
        if (there <= in->budget)
                return 0;
        return MIN(there - in->budget, in->charged);
}

typedef struct TrimOrder {
        uint64_t pages;
        size_t k;
} TrimOrder;

static int trim_order_cmp(const void *a, const void *b) {
        const TrimOrder *x = a, *y = b;

        if (x->pages != y->pages)
                return x->pages > y->pages ? -1 : 1;
        return x->k < y->k ? -1 : x->k > y->k;
}

uint64_t account_trim_pick(const uint64_t *pages, size_t n, uint64_t want, bool *pick) {
        _cleanup_free_ TrimOrder *order = NULL;
        uint64_t got = 0;
        size_t m = 0;

        for (size_t k = 0; k < n; k++)
                if (pick[k])
                        got += pages[k];
        if (got >= want)
                return got;
        order = calloc(n, sizeof *order);
        for (size_t k = 0; k < n; k++)
                if (!pick[k] && pages[k] > 0) {
                        if (order)
                                order[m++] = (TrimOrder) { .pages = pages[k], .k = k };
                        else if (got < want) {
                                /* no memory for the order: in address order, still enough */
                                pick[k] = true;
                                got += pages[k];
                        }
                }
        if (order)
                qsort(order, m, sizeof *order, trim_order_cmp);
        for (size_t i = 0; order && i < m && got < want; i++) {
                pick[order[i].k] = true;
                got += order[i].pages;
        }
        return got;
}
