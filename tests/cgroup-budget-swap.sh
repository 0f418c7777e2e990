#!/bin/bash
# Budgets against the truth: two targets swapped out by their cgroup's limit (a swapfile the test
# makes), locked Mode=full with Prefetch=yes under CgroupMaxUnevictable= smaller than both. Pages
# faulted back under VM_LOCKED are not in the kernel's unevictable until they are mlocked, so
# the budget counts the larger of memory.stat unevictable and what mlockd holds: the cgroup's
# unevictable stays within the budget all through (sampled every 10 ms), the mlocked pages of
# both (kpageflags) too, one target is locked and the other partial:budget.
. "${top_srcdir:-.}/tests/lib.sh"

require_root
require_page_flags
swap=$(make_swapfile 512)
cg=$(make_test_memcg "mlockd-budget-swap-$$")
limit_file=$cg/memory.limit_in_bytes
[[ -f $limit_file ]] || limit_file=$cg/memory.max
echo $((48 * 1024 * 1024)) >"$limit_file" || skip "cannot set a memory limit on $cg"

write_daemon_conf "AccountingInterval=200ms"
write_policy budgeted "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
Prefetch=yes
[Limits]
CgroupMaxUnevictable=96M"

wrapper=$(cgroup_wrapper "$cg")
TARGET=$wrapper start_target a "$MY_TARGET" --anon 64M --touch 64M
addr_a=$(ready_field "$(target_output)" anon)
TARGET=$wrapper start_target b "$MY_TARGET" --anon 64M --touch 64M
addr_b=$(ready_field "$(target_output)" anon)
range() { printf '%x-%x' "$1" $(($1 + 64 * 1024 * 1024)); }
swapped=$(( $(page_count swapped "$a" "$(range "$addr_a")") + $(page_count swapped "$b" "$(range "$addr_b")") ))
note "swapped before: $swapped pages"
(( swapped > 0 )) || skip "reclaim did not push anything to swap"
echo $((512 * 1024 * 1024)) >"$limit_file" || fail "cannot raise the limit"

# the cgroup's unevictable, sampled all through the locking: it must stay within the budget, not
# only end there
( while :; do awk '$1 == "unevictable" { print $2 }' "$cg/memory.stat"; sleep 0.01; done ) >"$TEST_TMP/samples" &
sampler=$!
track_pid "$sampler"
start_mlockd
final() { grep -Eq "Process $1 \(.*\), policy budgeted: (locked|partial|skipped|failed)" "$MLOCKD_LOG"; }
wait_until 60 final "$a" || fail "no final state for $a"
wait_until 60 final "$b" || fail "no final state for $b"
sleep 1 # a few accounting ticks: nothing more is locked later

kill "$sampler"
wait "$sampler" 2>/dev/null
budget=$((96 * 1024 * 1024))
unevictable=$(awk '$1 == "unevictable" { print $2 }' "$cg/memory.stat")
peak=$(sort -n "$TEST_TMP/samples" | tail -n1)
note "unevictable sampled $(wc -l <"$TEST_TMP/samples") times while locking, at most $peak"
(( peak <= budget )) || fail "unevictable reached $peak while locking, over the budget $budget"
mlocked=$(( $(page_count mlocked "$a" "$(range "$addr_a")") + $(page_count mlocked "$b" "$(range "$addr_b")") ))
note "unevictable $unevictable, mlocked $mlocked pages, budget $budget"
note "$(grep -E "Process ($a|$b) \(.*\), policy budgeted" "$MLOCKD_LOG")"
(( unevictable <= budget )) || fail "unevictable $unevictable over the budget $budget"
(( mlocked * 4096 <= budget )) || fail "$mlocked pages mlocked, over the budget $budget"
(( mlocked * 4096 >= 64 * 1024 * 1024 )) || fail "only $mlocked pages mlocked: the budget allows 64 MiB at least"
# one target locked whole, the other partial:budget (the budget leaves 32 MiB for it)
last_state() { grep -Eo "Process $1 \(.*\), policy budgeted: [a-z:]+" "$MLOCKD_LOG" | tail -n1 | awk '{ print $NF }'; }
states=$(printf '%s\n' "$(last_state "$a")" "$(last_state "$b")" | sort | tr '\n' ' ')
[[ $states == "locked partial:budget " ]] || fail "states: $states: $(grep 'policy budgeted' "$MLOCKD_LOG")"

assert_unharmed "$a"
assert_unharmed "$b"
assert_mlockd_alive
stop_mlockd
remove_swapfile "$swap"
