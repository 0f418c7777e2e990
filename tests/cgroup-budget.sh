#!/bin/bash
# Two targets in one memory cgroup under a budget smaller than both together: the sum locked stays
# within the budget, one target is reported over budget (partial:budget), and ListCgroups shows the
# kernel's unevictable figure (as memory.stat has it) and the budget.
. "${top_srcdir:-.}/tests/lib.sh"
command -v busctl >/dev/null || skip "busctl not installed"

cg=$(make_test_memcg "mlockd-budget-$$") || exit $? # a skip in $(...) ends only the subshell
write_daemon_conf "AccountingInterval=200ms"
write_policy budgeted "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
[Limits]
CgroupMaxUnevictable=48M"

# start both, move them into the cgroup, then start the daemon: their memory is populated by the
# injected mlock2 in their own context, so it is charged to that cgroup
start_my_target a --anon 32M
start_my_target b --anon 32M
echo "$a" >"$cg/cgroup.procs"
echo "$b" >"$cg/cgroup.procs"
start_mlockd

final() { grep -Eq "Process $1 \(.*\), policy budgeted: (locked|partial|skipped|failed)" "$MLOCKD_LOG"; }
wait_until 20 final "$a" || fail "no final state for $a"
wait_until 20 final "$b" || fail "no final state for $b"

sum=$(( $(locked_kb "$a") + $(locked_kb "$b") ))
(( sum <= 48 * 1024 )) || fail "locked $sum kB in total, over the 48 MiB budget"
(( sum >= 32 * 1024 )) || fail "locked only $sum kB: the budget should have allowed 32 MiB at least"
grep -Eq "Process ($a|$b) \(.*\), policy budgeted: (partial|skipped):budget" "$MLOCKD_LOG" ||
        fail "no target reported over budget: $(grep 'policy budgeted' "$MLOCKD_LOG")"

# ListCgroups: a(stttt) cgroup, unevictable, locked, budget, foreign
rel=${cg#/sys/fs/cgroup/memory}
[[ -d /sys/fs/cgroup/memory ]] || rel=${cg#/sys/fs/cgroup}
sleep 0.5 # one accounting round
reply=$(busctl --json=short call org.mlockd1 /org/mlockd1 org.mlockd1.Manager ListCgroups) ||
        fail "ListCgroups failed"
kernel=$(cgroup_unevictable "$cg")
python3 - "$reply" "$rel" "$kernel" <<'PY' || fail "ListCgroups disagrees: $reply (kernel says $kernel)"
import json, sys
reply, rel, kernel = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
assert reply["type"] == "a(stttt)", reply["type"]
rows = [r for r in reply["data"][0] if r[0] == rel]
assert rows, "cgroup %s not listed" % rel
path, unevictable, locked, budget, foreign = rows[0]
assert foreign == 0, foreign
assert budget == 48 << 20, budget
assert abs(unevictable - kernel) <= 2 << 20, (unevictable, kernel)
assert 32 << 20 <= locked <= 48 << 20, locked
PY
assert_unharmed "$a"
assert_unharmed "$b"
assert_mlockd_alive
stop_mlockd
