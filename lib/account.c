/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
