#!/bin/bash
# No budget, a memory limit: two targets in one memory cgroup whose limit, less CgroupLimitMargin=,
# leaves room for less than both. No policy sets CgroupMaxUnevictable=, so the passes over every
# target that a budget needs are skipped; what the other target has in flight still counts against
# the limit: the sum locked stays within the room, one target is trimmed (partial:budget). The
# accounts after the jobs are made once the loop is idle: ListCgroups shows what mlockd locked there
# with no accounting tick in between, and no budget.
. "${top_srcdir:-.}/tests/lib.sh"
command -v busctl >/dev/null || skip "busctl not installed"

cg=$(make_test_memcg "mlockd-limit-$$") || exit $? # a skip in $(...) ends only the subshell
limit_file=$cg/memory.limit_in_bytes
[[ -f $limit_file ]] || limit_file=$cg/memory.max
write_daemon_conf "AccountingInterval=60min
CgroupLimitMargin=64M"
write_policy limited "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon"

start_my_target a --anon 32M
start_my_target b --anon 32M
echo "$a" >"$cg/cgroup.procs"
echo "$b" >"$cg/cgroup.procs"
usage=$(cat "$cg/memory.usage_in_bytes" 2>/dev/null || cat "$cg/memory.current")
# room for 40 MiB above what they use now: one target whole, the other in part
echo $(( usage + (104 << 20) )) >"$limit_file" || skip "cannot set a memory limit on $cg"
start_mlockd

states() { final_states limited "$a" "$b"; }
wait_until 20 eval '(( $(states | wc -l) >= 2 ))' || fail "no final state for both: $(states)"
sum=$(locked_kb_sum "$a" "$b")
note "locked $sum kB in all; $(states)"
# over 40 MiB (and 2 MiB of slack): the other target's bytes in flight were not counted
(( sum >= 24 * 1024 && sum <= 42 * 1024 )) || fail "locked $sum kB in total; the limit leaves 40 MiB"
states | grep -Eq ": (partial|skipped):budget" || fail "no target trimmed to the limit: $(states)"

# ListCgroups: a(stttt) cgroup, unevictable, locked, budget, foreign; no tick has run (AccountingInterval=60min)
rel=${cg#/sys/fs/cgroup/memory}
[[ -d /sys/fs/cgroup/memory ]] || rel=${cg#/sys/fs/cgroup}
reply=$(busctl --json=short call org.mlockd1 /org/mlockd1 org.mlockd1.Manager ListCgroups) ||
        fail "ListCgroups failed"
python3 - "$reply" "$rel" "$((sum * 1024))" <<'PY' || fail "ListCgroups disagrees: $reply (locked $sum kB)"
import json, sys
reply, rel, locked_smaps = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rows = [r for r in reply["data"][0] if r[0] == rel]
assert rows, "cgroup %s not listed" % rel
path, unevictable, locked, budget, foreign = rows[0]
assert budget == 0, budget
assert abs(locked - locked_smaps) <= 2 << 20, (locked, locked_smaps)
PY
assert_unharmed "$a"
assert_unharmed "$b"
assert_mlockd_alive
stop_mlockd
