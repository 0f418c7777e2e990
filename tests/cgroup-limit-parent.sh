#!/bin/bash
# A memory limit on a parent cgroup binds its children as much as their own: two targets, each in
# a child cgroup of its own with no limit, below a parent whose limit, less CgroupLimitMargin=,
# leaves room for less than both. Sized against the children's "unlimited" alone, both would be
# locked whole, and the parent's members pushed into its OOM killer. The sum locked stays within
# the parent's room (what the sibling has in flight counts too), one target is trimmed
# (partial:budget), and neither is harmed. mlockd --dry-run trims its plans to the parent's room too.
. "${top_srcdir:-.}/tests/lib.sh"
require_root # the daemon's part; the cgroups, their limits and the dry run need it as well
require_page_flags

parent=$(make_test_memcg "mlockd-limit-parent-$$") || exit $? # a skip in $(...) ends only the subshell
one=$(make_test_memcg "mlockd-limit-parent-$$/one") || exit $?
two=$(make_test_memcg "mlockd-limit-parent-$$/two") || exit $?
limit_name=memory.limit_in_bytes
usage_name=memory.usage_in_bytes
[[ -f $parent/$limit_name ]] || { limit_name=memory.max; usage_name=memory.current; }
if [[ $limit_name == memory.max ]]; then
        # v2: the children have memory files only with the controller enabled in the parent
        echo +memory >"$parent/cgroup.subtree_control" 2>/dev/null || skip "cannot enable the memory controller below $parent"
fi
write_daemon_conf "AccountingInterval=60min
CgroupLimitMargin=64M"
write_policy limited "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon"

start_my_target a --anon 32M
start_my_target b --anon 32M
echo "$a" >"$one/cgroup.procs"
echo "$b" >"$two/cgroup.procs"
for c in "$one" "$two"; do
        own=$(cat "$c/$limit_name")
        [[ $own == max || $own -ge $(( 1 << 60 )) ]] || fail "$c has a limit of its own: $own"
done
usage=$(cat "$parent/$usage_name")
# --dry-run sizes each plan the same way: with 16 MiB of room on the parent, each 32M plan is
# trimmed to it (a dry run has no other lock in flight)
echo $(( usage + (80 << 20) )) >"$parent/$limit_name" || skip "cannot set a memory limit on $parent"
timeout 60 "$MLOCKD" --dry-run --config-dir "$CONF_DIR" >"$TEST_TMP/dry" 2>&1 || fail "--dry-run failed: $(cat "$TEST_TMP/dry")"
cat "$TEST_TMP/dry"
for p in "$a" "$b"; do
        grep -qE "^ *$p +\S+ +limited +full +1[0-9](\.[0-9])?M +32(\.0)?M +[0-9]+ +budget( |$)" "$TEST_TMP/dry" ||
                fail "--dry-run does not trim $p to the parent's room: $(cat "$TEST_TMP/dry")"
done
# room for 40 MiB above what they use now, on the parent alone: one target whole, the other in part
echo $(( usage + (104 << 20) )) >"$parent/$limit_name" || fail "cannot change the memory limit of $parent"
start_mlockd

states() { final_states limited "$a" "$b"; }
wait_until 20 eval '(( $(states | wc -l) >= 2 ))' || fail "no final state for both: $(states)"
sum=$(locked_kb_sum "$a" "$b")
note "locked $sum kB in all under the parent's limit; $(states)"
# both whole would be 64 MiB: the parent's limit was not seen, or the sibling's bytes in flight not
# counted (40 MiB of room, 2 MiB of slack)
(( sum >= 24 * 1024 && sum <= 42 * 1024 )) || fail "locked $sum kB in total; the parent's limit leaves 40 MiB"
states | grep -Eq ": (partial|skipped):budget" || fail "no target trimmed to the parent's limit: $(states)"
# the kernel's word per page: what is truly mlocked (PG_mlocked) stays within the room too
truth=$(( $(mlocked_kb "$a") + $(mlocked_kb "$b") ))
note "truly mlocked (kpageflags): $truth kB"
(( truth >= 24 * 1024 && truth <= 42 * 1024 )) || fail "$truth kB truly mlocked in total; the parent's limit leaves 40 MiB"
# the kernel's word: what the parent's subtree holds unevictable is what was locked, within the room
unevictable=$(cgroup_unevictable "$parent")
note "parent's unevictable: $(( unevictable >> 10 )) kB"
(( unevictable <= (42 << 20) )) || fail "the parent holds $(( unevictable >> 10 )) kB unevictable, over its room"
assert_unharmed "$a"
assert_unharmed "$b"
assert_mlockd_alive
stop_mlockd
