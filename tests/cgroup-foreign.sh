#!/bin/bash
# Budgets where the pages are charged. A process in memory cgroup A reads a 32 MiB file (ext4 page
# cache, charged to A); a target in cgroup B maps that file and is locked Mode=full. The kernel
# puts the mlocked pages in A's unevictable, not B's: mlockd counts them against A.
#   1. No budget on A: the pages are mlocked (kpageflags), charged to A (kpagecgroup), A's
#      unevictable rose by about the file, and ListCgroups (busctl, mlockctl) shows them as A's
#      foreign bytes, not B's.
#   2. CgroupMaxUnevictable=12M on A: B's target ends partial:budget-foreign, and A's unevictable
#      stays within the budget.
. "${top_srcdir:-.}/tests/lib.sh"

require_root
command -v busctl >/dev/null || skip "busctl not installed"
command -v python3 >/dev/null || skip "python3 not installed"
require_page_flags
[[ -r /proc/kpagecgroup ]] || skip "no /proc/kpagecgroup (a kernel without CONFIG_MEMCG)"
[[ -d /sys/fs/cgroup/memory ]] || grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
        skip "no memory cgroup controller"
"$top_builddir/tests/helpers/pagecount" $$ >/dev/null 2>&1 || skip "per-page flags unreadable"
MEMCG_INO=1 "$top_builddir/tests/helpers/pagecount" $$ >/dev/null 2>"$TEST_TMP/kpc.err" ||
        skip "kpagecgroup unreadable: $(cat "$TEST_TMP/kpc.err")"
cga=$(make_test_memcg "mlockd-foreign-a-$$") || exit $?
cgb=$(make_test_memcg "mlockd-foreign-b-$$") || exit $?
ino_a=$(stat -c %i "$cga")
rel_a=${cga#/sys/fs/cgroup/memory}
rel_b=${cgb#/sys/fs/cgroup/memory}
if [[ ! -d /sys/fs/cgroup/memory ]]; then
        rel_a=${cga#/sys/fs/cgroup}
        rel_b=${cgb#/sys/fs/cgroup}
fi

# v1: unevictable and cache (this cgroup only); v2: unevictable and file
memstat() {
        awk -v k="$2" -v k2="$3" '$1 == k || $1 == k2 { print $2; exit }' "$1/memory.stat"
}
unevictable() { memstat "$1" unevictable unevictable; }

# a 32 MiB file on a disk filesystem, written around the page cache (O_DIRECT), so that the first
# to read it is A
FILE=$TEST_TMP/shared.bin
dd if=/dev/urandom of="$FILE" bs=1M count=32 oflag=direct status=none 2>/dev/null ||
        dd if=/dev/urandom of="$FILE" bs=1M count=32 status=none
[[ $(stat -f -c %T "$FILE") != tmpfs ]] || skip "$TEST_TMP is on tmpfs: the file needs a disk filesystem"
dd if="$FILE" iflag=nocache count=0 status=none 2>/dev/null || true # drop what dd left cached

# each side its own copy of the target, matched by Executable=
TGT_A=$TEST_TMP/target-a
TGT_B=$TEST_TMP/target-b
cp "$MY_TARGET" "$TGT_A"
cp "$MY_TARGET" "$TGT_B"

policies() {
        write_policy a "[Match]
Executable=$TGT_A
[Lock]
Mode=onfault
Regions=anon
$1"
        write_policy b "[Match]
Executable=$TGT_B
[Lock]
Mode=full
Regions=file:$FILE"
}
write_daemon_conf "AccountingInterval=200ms"

# A reads the file: its page cache is charged to A
TARGET=$(cgroup_wrapper "$cga") start_target a "$TGT_A" --file "$FILE" --anon 1M --touch 1M
cache=$(memstat "$cga" cache file)
note "A's page cache after reading the file: $cache"
(( cache >= 30 * 1024 * 1024 )) || skip "the file's page cache is not charged to A ($cache bytes)"
charged_a() { MEMCG_INO=$ino_a page_count memcg_mlocked "$1" "$2"; }

final() { grep -Eq "Process $1 \(.*\), policy $2: (locked|partial|skipped|failed)" "$MLOCKD_LOG"; }
state_of() { grep -E "Process $1 \(.*\), policy $2: " "$MLOCKD_LOG" | tail -n1 | sed -E 's/.*policy [a-z]+: ([^,]*),.*/\1/'; }

start_b() {
        TARGET=$(cgroup_wrapper "$cgb") start_target b "$TGT_B" --file "$FILE"
        addr=$(ready_field "$(target_output)" file)
        range=$(printf '%x-%x' "$addr" $((addr + 32 * 1024 * 1024)))
}

# ---- 1. no budget on A -------------------------------------------------------------------------
policies ""
start_b
before=$(unevictable "$cga")
start_mlockd
wait_until 30 final "$b" b || fail "no final state for B's target $b"
wait_until 30 final "$a" a || fail "no final state for A's target $a"
[[ $(state_of "$b" b) == locked ]] || fail "B's target: $(state_of "$b" b), expected locked"
mlocked=$(page_count mlocked "$b" "$range")
charged=$(charged_a "$b" "$range")
ok_uneviction() { (( $(unevictable "$cga") - before >= 30 * 1024 * 1024 )); }
wait_until 5 ok_uneviction || true
after=$(unevictable "$cga")
note "phase 1: $mlocked pages mlocked in B's mapping, $charged of them charged to A; A unevictable $before -> $after, B unevictable $(unevictable "$cgb")"
(( mlocked >= 8192 - 16 )) || fail "only $mlocked of 8192 pages of the file mlocked"
(( charged >= 8192 - 16 )) || fail "only $charged mlocked pages charged to A"
(( after - before >= 30 * 1024 * 1024 )) || fail "A's unevictable rose by $((after - before)) only"
(( $(unevictable "$cgb") < 8 * 1024 * 1024 )) || fail "B's unevictable is $(unevictable "$cgb"): the pages are A's"

sleep 0.5 # an accounting tick
reply=$(busctl --json=short call org.mlockd1 /org/mlockd1 org.mlockd1.Manager ListCgroups) ||
        fail "ListCgroups failed"
note "ListCgroups: $reply"
python3 - "$reply" "$rel_a" "$rel_b" <<'PY' || fail "ListCgroups: $reply"
import json, sys
reply, a, b = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
assert reply["type"] == "a(stttt)", reply["type"]
rows = {r[0]: r[1:] for r in reply["data"][0]}
assert a in rows and b in rows, rows
unev_a, locked_a, budget_a, foreign_a = rows[a]
unev_b, locked_b, budget_b, foreign_b = rows[b]
assert foreign_a >= 30 << 20, ("A's foreign bytes", foreign_a)
assert locked_a < 8 << 20, ("A's own targets locked", locked_a)
assert locked_b >= 30 << 20, ("B's targets locked", locked_b)
assert foreign_b == 0, ("B's foreign bytes", foreign_b)
assert unev_a >= 30 << 20, ("A's unevictable", unev_a)
PY
"$MLOCKCTL" cgroups >"$TEST_TMP/out" 2>"$TEST_TMP/err" || fail "mlockctl cgroups: $(cat "$TEST_TMP/err")"
grep -E "^CGROUP +UNEVICTABLE +LOCKED +BUDGET +FOREIGN$" "$TEST_TMP/out" >/dev/null || fail "mlockctl cgroups: $(cat "$TEST_TMP/out")"
grep -E "^${rel_a//./\\.} +[0-9.]+M +[0-9.]+[KMB]? +- +3[0-9.]+M$" "$TEST_TMP/out" >/dev/null ||
        fail "mlockctl cgroups lacks A's foreign bytes: $(cat "$TEST_TMP/out")"
"$MLOCKCTL" --json cgroups >"$TEST_TMP/out" 2>"$TEST_TMP/err" || fail "mlockctl --json cgroups: $(cat "$TEST_TMP/err")"
python3 - "$TEST_TMP/out" "$rel_a" <<'PY' || fail "mlockctl --json cgroups: $(cat "$TEST_TMP/out")"
import json, sys
rows = {r["cgroup"]: r for r in json.load(open(sys.argv[1]))}
assert rows[sys.argv[2]]["foreign_bytes"] >= 30 << 20, rows
PY
"$MLOCKCTL" status "$b" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || fail "mlockctl status $b: $(cat "$TEST_TMP/err")"
grep -qE "^ +charged to other cgroups: 3[0-9.]+M" "$TEST_TMP/out" || fail "mlockctl status $b: $(cat "$TEST_TMP/out")"
"$MLOCKCTL" status "$a" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || fail "mlockctl status $a: $(cat "$TEST_TMP/err")"
grep -qE "^ +of it locked by targets in other cgroups: 3[0-9.]+M" "$TEST_TMP/out" ||
        fail "mlockctl status $a: $(cat "$TEST_TMP/out")"
desc=$(busctl --json=short call org.mlockd1 /org/mlockd1 org.mlockd1.Manager DescribeTarget u "$b") ||
        fail "DescribeTarget failed"
python3 - "$desc" <<'PY' || fail "DescribeTarget: $desc"
import json, sys
d = {k: v["data"] for k, v in json.loads(sys.argv[1])["data"][0].items()}
assert d["foreign_charged_bytes"] >= 30 << 20, d
assert d["cgroup_foreign_bytes"] == 0, d
PY
assert_unharmed "$b"
assert_mlockd_alive
stop_mlockd

# B's target goes, and its locks with it
kill "$b"
wait "$b" 2>/dev/null || true
dropped() { (( $(unevictable "$cga") < 8 * 1024 * 1024 )); }
wait_until 10 dropped || fail "A's unevictable stays $(unevictable "$cga") after B's target exited"

# ---- 2. CgroupMaxUnevictable=12M on A --------------------------------------------------------
budget=$((12 * 1024 * 1024))
policies "[Limits]
CgroupMaxUnevictable=12M"
start_b
start_mlockd
wait_until 30 final "$b" b || fail "no final state for B's target $b"
state=$(state_of "$b" b)
sleep 0.5
mlocked=$(page_count mlocked "$b" "$range")
charged=$(charged_a "$b" "$range")
after=$(unevictable "$cga")
note "phase 2: budget $budget: B's target $state, $mlocked pages mlocked, $charged charged to A; A unevictable $after"
note "$(grep -E "giving (that )?back" "$MLOCKD_LOG" | tail -n 2)"
[[ $state == partial:budget-foreign ]] || fail "B's target: $state, expected partial:budget-foreign"
(( after <= budget )) || fail "A's unevictable $after over its budget $budget"
(( charged * 4096 <= budget )) || fail "$charged pages charged to A still mlocked, over the budget"
(( charged * 4096 >= budget / 2 )) || fail "only $charged pages charged to A left mlocked: trimmed far too much"
# A's own target is not pushed out by B's pages
[[ $(state_of "$a" a) == locked ]] || fail "A's target: $(state_of "$a" a)"
assert_unharmed "$a"
assert_unharmed "$b"
assert_mlockd_alive
stop_mlockd
