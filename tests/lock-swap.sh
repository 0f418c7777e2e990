#!/bin/bash
# Swap-in under the lock: a target whose memory was pushed to swap by its memory cgroup's limit
# (a swapfile the test makes itself), then locked Mode=full with Prefetch=yes. Pages reclaimed
# that way and faulted back under VM_LOCKED are not mlocked by the kernel (doc/kernel-facts.md
# 3, case F); mlockd verifies by the page flags and relocks them, so it reports `locked` only when
# every page is mlocked per kpageflags, and memory.stat unevictable agrees within 2%.
. "${top_srcdir:-.}/tests/lib.sh"

require_root
require_page_flags
swap=$(make_swapfile 256)
cg=$(make_test_memcg "mlockd-swap-$$")
if [[ -f $cg/memory.limit_in_bytes ]]; then
        limit_file=$cg/memory.limit_in_bytes
else
        limit_file=$cg/memory.max
fi
echo $((48 * 1024 * 1024)) >"$limit_file" || skip "cannot set a memory limit on $cg"

write_daemon_conf "AccountingInterval=200ms"
write_policy swapped "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
Prefetch=yes
MaxPause=5ms"

# 64 MiB touched under a 48 MiB limit: reclaim pushes part of it to swap
wrapper=$(cgroup_wrapper "$cg")
TARGET=$wrapper start_target pid "$MY_TARGET" --anon 64M --touch 64M
addr=$(ready_field "$(target_output)" anon)
range=$(printf '%x-%x' "$addr" $((addr + 64 * 1024 * 1024)))
swapped=$(page_count swapped "$pid" "$range")
note "before: $(page_counts "$pid" "$range")"
(( swapped > 0 )) || skip "reclaim did not push anything to swap"
echo $((512 * 1024 * 1024)) >"$limit_file" || fail "cannot raise the limit"

start_mlockd
wait_until 60 grep -Eq "Process $pid \(.*\), policy swapped: (locked|partial|skipped|failed)" "$MLOCKD_LOG" ||
        fail "no final state"
line=$(page_counts "$pid" "$range")
note "after: $line"
grep -q "Process $pid (.*), policy swapped: locked," "$MLOCKD_LOG" ||
        fail "not locked: $(grep "Process $pid" "$MLOCKD_LOG") ($line)"
mlocked=$(page_count mlocked "$pid" "$range")
(( mlocked == 16384 )) || fail "reported locked with $mlocked of 16384 pages mlocked ($line)"
grep -q "Process $pid (.*): pages faulted in under the lock were not mlocked; relocked" "$MLOCKD_LOG" &&
        note "relocked: $(grep "Process $pid (.*): pages faulted in" "$MLOCKD_LOG")"

# the kernel's unevictable agrees within 2% with the pages truly mlocked in the cgroup (the
# target is alone in it; its statistics are flushed in batches), from below and from above
agreed=0
unevictable_agrees "$cg" "$pid" && agreed=1
note "memory.stat unevictable: $UNEVICTABLE, mlocked in the target: $TRUTH"
(( TRUTH >= 64 * 1024 * 1024 )) || fail "the target has $TRUTH bytes mlocked, 64 MiB were locked"
(( agreed )) || fail "unevictable $UNEVICTABLE, $TRUTH bytes mlocked: not within 2%"

# the bus reports the mlocked bytes
j=$(busctl --json=short call org.mlockd1 /org/mlockd1 org.mlockd1.Manager DescribeTarget u "$pid") ||
        fail "DescribeTarget failed"
python3 - "$j" <<'PY' || fail "DescribeTarget: $j"
import json, sys
d = {k: v["data"] for k, v in json.loads(sys.argv[1])["data"][0].items()}
assert d["pages_verified"] is True, d
assert d["not_mlocked_bytes"] == 0, d
assert 64 << 20 <= d["locked_bytes"] <= 65 << 20, d  # the mapping, and a few small anonymous ones
assert d["state"] == "locked", d
PY

assert_unharmed "$pid"
assert_mlockd_alive
stop_mlockd
remove_swapfile "$swap"
