#!/bin/bash
# Huge pages kept: MADV_HUGEPAGE targets in a memory cgroup of their own, Mode=full (and
# Mode=onfault over resident THPs) with a MaxPause small enough to need many steps. Chunk edges fall on PMD boundaries, so the resident
# THPs stay THPs (AnonHugePages unchanged) and are mlocked, and the untouched mapping is
# populated with THPs as the target's own single mlock would (an unmatched reference target). Every page is mlocked per
# kpageflags, and memory.stat unevictable of the cgroup covers them.
. "${top_srcdir:-.}/tests/lib.sh"

require_root
require_page_flags
thp=/sys/kernel/mm/transparent_hugepage/enabled
[[ -r $thp ]] || skip "no transparent huge pages in this kernel"
[[ $(cat "$thp") == *"[never]"* ]] && skip "transparent huge pages are disabled (never)"

cg=$(make_test_memcg "mlockd-thp-$$")
write_daemon_conf "AccountingInterval=200ms
MetricsFile=$TEST_TMP/metrics.prom"
write_policy thp "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
Prefetch=no
MaxPause=1ms"

ONFAULT_TARGET=$TEST_TMP/target-onfault
cp "$MY_TARGET" "$ONFAULT_TARGET"
write_policy thp-onfault "[Match]
Executable=$ONFAULT_TARGET
[Lock]
Mode=onfault
Regions=anon
MaxPause=1ms"

# the targets run in the cgroup from the start, so their pages are charged there
wrapper=$(cgroup_wrapper "$cg")
TARGET=$wrapper start_target a "$MY_TARGET" --anon 64M --touch 64M --hugepage
out_a=$(target_output)
TARGET=$wrapper start_target b "$MY_TARGET" --anon 64M --hugepage
out_b=$(target_output)
# onfault over resident THPs: the walk mlocks each whole folio, none split
TARGET=$wrapper start_target c "$ONFAULT_TARGET" --anon 64M --touch 64M --hugepage
addr_c=$(ready_field "$(target_output)" anon)
# the reference: an unmatched copy that mlock()s its own untouched MADV_HUGEPAGE mapping at once
SELF_TARGET=$TEST_TMP/target-self
cp "$MY_TARGET" "$SELF_TARGET"
TARGET=$wrapper start_target d "$SELF_TARGET" --anon 64M --hugepage --lock-anon full
addr_d=$(ready_field "$(target_output)" anon)
addr_a=$(ready_field "$out_a" anon)
addr_b=$(ready_field "$out_b" anon)
range() { printf '%x-%x' "$1" $(($1 + 64 * 1024 * 1024)); }

ahp_before=$(smaps_field "$a" "$addr_a" AnonHugePages) || fail "no smaps for $addr_a"
ahp_before=${ahp_before%% *}
ahp_c_before=$(smaps_field "$c" "$addr_c" AnonHugePages) || fail "no smaps for $addr_c"
ahp_c_before=${ahp_c_before%% *}
(( ahp_before >= 32768 )) || skip "the kernel gave the touched mapping only $ahp_before kB of THPs (memory fragmented)"
note "before: AnonHugePages $ahp_before kB"

start_mlockd
final() { grep -Eq "Process $1 \(.*\), policy thp: (locked|partial|skipped|failed)" "$MLOCKD_LOG"; }
wait_until 60 final "$a" || fail "no final state for $a"
wait_until 60 final "$b" || fail "no final state for $b"
grep -q "Process $a (.*), policy thp: locked," "$MLOCKD_LOG" || fail "$a: $(grep "Process $a" "$MLOCKD_LOG")"
grep -q "Process $b (.*), policy thp: locked," "$MLOCKD_LOG" || fail "$b: $(grep "Process $b" "$MLOCKD_LOG")"
wait_until 60 grep -q "Process $c (.*), policy thp-onfault: locked," "$MLOCKD_LOG" ||
        fail "$c: $(grep "Process $c" "$MLOCKD_LOG")"

# several steps were needed (MaxPause=1ms)
wait_until 5 test -s "$TEST_TMP/metrics.prom" || fail "no metrics"
# the file is rewritten every AccountingInterval (and its timer may fire late): the locks can end
# before the first rewrite, so wait for one that counts them rather than read the first file
metrics_steps() {
        local s
        s=$(awk '$1 == "mlockd_injections_total" { print $2 }' "$TEST_TMP/metrics.prom" 2>/dev/null)
        echo "${s:-0}"
}
steps_at_least() { (( $(metrics_steps) >= $1 )); }
wait_until 5 steps_at_least 8 || true
steps=$(metrics_steps)
note "injections: $steps"
(( steps >= 8 )) || fail "only $steps injections for 128 MiB at MaxPause=1ms"

# resident THPs kept whole and mlocked
ahp_a=$(smaps_field "$a" "$addr_a" AnonHugePages)
ahp_a=${ahp_a%% *}
(( ahp_a == ahp_before )) || fail "AnonHugePages of the touched mapping went from $ahp_before to $ahp_a kB"
# the untouched mapping populated with THPs, at least 95% of what the target's own single mlock
# of the whole keeps (and of what the kernel gave on touch)
ahp_b=$(smaps_field "$b" "$addr_b" AnonHugePages)
ahp_b=${ahp_b%% *}
ahp_d=$(smaps_field "$d" "$addr_d" AnonHugePages) || fail "no smaps for $addr_d"
ahp_d=${ahp_d%% *}
note "after: AnonHugePages $ahp_a kB (touched), $ahp_b kB (populated by the lock), $ahp_d kB (own mlock)"
(( ahp_d >= 32768 )) || note "the target's own mlock kept only $ahp_d kB of THPs (memory fragmented)"
(( ahp_b * 100 >= ahp_d * 95 )) || fail "the lock populated only $ahp_b kB of THPs, the target's own mlock keeps $ahp_d kB"
(( ahp_b * 100 >= ahp_before * 95 )) || fail "the lock populated only $ahp_b kB of THPs, the kernel gave $ahp_before kB on touch"

ahp_c=$(smaps_field "$c" "$addr_c" AnonHugePages)
ahp_c=${ahp_c%% *}
note "onfault: AnonHugePages $ahp_c_before kB before, $ahp_c kB after"
(( ahp_c == ahp_c_before )) || fail "onfault: AnonHugePages went from $ahp_c_before to $ahp_c kB"

for p in "$a:$addr_a" "$b:$addr_b" "$c:$addr_c"; do
        pid=${p%%:*}
        line=$(page_counts "$pid" "$(range "${p#*:}")")
        note "$pid: $line"
        mlocked=$(page_count mlocked "$pid" "$(range "${p#*:}")")
        (( mlocked == 16384 )) || fail "$pid: $mlocked of 16384 pages mlocked ($line)"
done

# the cgroup's unevictable covers the three and the reference (within 2%)
unevictable=$(awk '$1 == "unevictable" { print $2 }' "$cg/memory.stat")
note "memory.stat unevictable: $unevictable"
(( unevictable * 100 >= 4 * 64 * 1024 * 1024 * 98 )) || fail "unevictable $unevictable < 256 MiB"

assert_unharmed "$a"
assert_unharmed "$b"
assert_unharmed "$c"
assert_unharmed "$d"
assert_mlockd_alive
stop_mlockd
