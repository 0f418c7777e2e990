#!/bin/bash
# Drift: a target that munlocks what mlockd locked is noticed on an accounting tick (its VmLck
# fell), checked again, logged at notice with the bytes lost, and locked again (Relock=yes, the default): the
# kernel shows the mapping VM_LOCKED and every page mlocked again. Under Relock=no it is left
# unlocked and reported partial:drifted, on the bus and in the metrics. Each target is in a memory
# cgroup of its own, whose unevictable agrees.
. "${top_srcdir:-.}/tests/lib.sh"
command -v busctl >/dev/null || skip "busctl not installed"

KEEP_TARGET=$TEST_TMP/target-keep
cp "$MY_TARGET" "$KEEP_TARGET"
write_daemon_conf "AccountingInterval=300ms
MetricsFile=$TEST_TMP/metrics.prom"
write_policy relock "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon"
write_policy keep "[Match]
Executable=$KEEP_TARGET
[Lock]
Mode=full
Regions=anon
Relock=no"

# each target in a memory cgroup of its own: the kernel's unevictable is checked too
cg_a=$(make_test_memcg "mlockd-drift-a-$$")
cg_b=$(make_test_memcg "mlockd-drift-b-$$")
unevictable_of() { awk '$1 == "unevictable" { print $2 }' "$1/memory.stat"; }

start_mlockd
TARGET=$(cgroup_wrapper "$cg_a") start_target a "$MY_TARGET" --anon 32M --mode munlock
out_a=$(target_output)
TARGET=$(cgroup_wrapper "$cg_b") start_target b "$KEEP_TARGET" --anon 32M --mode munlock
out_b=$(target_output)
addr_a=$(ready_field "$out_a" anon)
addr_b=$(ready_field "$out_b" anon)
wait_until 20 grep -q "Process $a (.*), policy relock: locked," "$MLOCKD_LOG" || fail "$a not locked"
wait_until 20 grep -q "Process $b (.*), policy keep: locked," "$MLOCKD_LOG" || fail "$b not locked"
state_of() { busctl --json=short call org.mlockd1 /org/mlockd1 org.mlockd1.Manager GetTarget u "$1" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][5])'; }
locked_of() { busctl --json=short call org.mlockd1 /org/mlockd1 org.mlockd1.Manager GetTarget u "$1" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][4])'; }
# a young target's first plan can come before its mapping ("locked, 0B"): the lock of the mapping
# is waited for, and its job's end (the bus says locked with all of it), before it is undone
for t in "$a:$addr_a" "$b:$addr_b"; do
        wait_until 20 has_vmflags "${t%%:*}" "${t#*:}" lo || fail "${t%%:*}: its mapping not locked"
        wait_until 20 eval '[[ $(state_of "${t%%:*}") == locked ]] && (( $(locked_of "${t%%:*}") >= 32 << 20 ))' ||
                fail "${t%%:*} on the bus: $(state_of "${t%%:*}"), $(locked_of "${t%%:*}") bytes"
done

pages_ok=0
"$top_builddir/tests/helpers/pagecount" $$ >/dev/null 2>&1 && pages_ok=1
range() { printf '%x-%x' "$1" $(($1 + 32 * 1024 * 1024)); }

# both targets undo mlockd's lock
kill -USR1 "$a" "$b"
wait_until 5 grep -q '^munlocked' "$out_a" || fail "$a did not munlock: $(cat "$out_a")"
wait_until 5 grep -q '^munlocked' "$out_b" || fail "$b did not munlock: $(cat "$out_b")"

# Relock=yes: noticed, logged, locked again
wait_until 20 has_vmflags "$a" "$addr_a" lo || fail "not locked again: $(vmflags_at "$a" "$addr_a")"
wait_until 5 grep -q "<5>Process $a (.*): mlockd's lock had drifted (32M no longer locked, .*); locked again" "$MLOCKD_LOG" ||
        fail "no notice for $a: $(grep "Process $a" "$MLOCKD_LOG")"
wait_until 10 eval '(( $(locked_kb_at "$a" "$addr_a") >= 32768 ))' || fail "Locked: $(locked_kb_at "$a" "$addr_a") kB"
if (( pages_ok )); then
        mlocked=$(page_count mlocked "$a" "$(range "$addr_a")")
        (( mlocked == 8192 )) || fail "$a: $mlocked of 8192 pages mlocked after the relock"
        # the kernel's unevictable agrees within 2% with what is mlocked (batched statistics)
        unevictable_agrees "$cg_a" "$a" || fail "$a: unevictable $UNEVICTABLE, $TRUTH bytes mlocked"
        note "$a relocked: $TRUTH bytes mlocked, unevictable $UNEVICTABLE"
else
        note "per-page flags unreadable here: the relock checked by VmFlags and Locked: only"
fi
wait_until 10 eval '[[ $(state_of "$a") == locked ]]' || fail "$a on the bus: $(state_of "$a")"
# the bus and the metrics show it locked again, with its bytes
wait_until 10 eval '(( $(locked_of "$a") >= 32 << 20 ))' || fail "$a on the bus: $(locked_of "$a") bytes locked"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$TEST_TMP/metrics.prom"; }
wait_until 10 eval '[[ $(metric "mlockd_targets{policy=\"relock\",state=\"locked\",reason=\"\"}") == 1 ]]' ||
        fail "metrics: $(grep mlockd_targets "$TEST_TMP/metrics.prom")"
wait_until 10 eval '(( $(metric "mlockd_locked_bytes{policy=\"relock\"}") >= 32 << 20 ))' ||
        fail "metrics: $(grep mlockd_locked_bytes "$TEST_TMP/metrics.prom")"

# Relock=no: left unlocked, partial:drifted on the bus and in the metrics
wait_until 20 eval '[[ $(state_of "$b") == partial:drifted ]]' || fail "$b on the bus: $(state_of "$b")"
lacks_vmflag "$b" "$addr_b" lo || fail "Relock=no, but $b was locked again"
(( $(unevictable_of "$cg_b") < 32 << 20 )) || fail "$b: unevictable $(unevictable_of "$cg_b") after its munlock"
# what drifted is on the bus too
mlockctl_out=$("$MLOCKCTL" status "$b") || fail "mlockctl status $b failed"
grep -q "State: partial (drifted)" <<<"$mlockctl_out" || fail "mlockctl status: $mlockctl_out"
grep -q "<5>Process $b (.*): its lock drifted (now .* mlocked), left so (Relock=no)" "$MLOCKD_LOG" ||
        fail "no notice for $b: $(grep "Process $b" "$MLOCKD_LOG")"
wait_until 10 grep -q '^mlockd_targets{policy="keep",state="partial",reason="drifted"} 1$' "$TEST_TMP/metrics.prom" ||
        fail "metrics: $(grep mlockd_targets "$TEST_TMP/metrics.prom")"
grep -Eq '^mlockd_drift_rechecks_total ([2-9]|[1-9][0-9]+)$' "$TEST_TMP/metrics.prom" ||
        fail "metrics: $(grep drift "$TEST_TMP/metrics.prom")"
# what is left locked is the kernel's figure, not the old one, on the bus and in the metrics
wait_until 10 eval '(( $(locked_of "$b") < 32 << 20 ))' || fail "$b on the bus: still $(locked_of "$b") bytes locked"
wait_until 10 eval '(( $(metric "mlockd_locked_bytes{policy=\"keep\"}") < 32 << 20 ))' ||
        fail "metrics: $(grep mlockd_locked_bytes "$TEST_TMP/metrics.prom")"
sleep 1 # more ticks: still left alone
lacks_vmflag "$b" "$addr_b" lo || fail "Relock=no, but $b was locked again later"
[[ $(state_of "$b") == partial:drifted ]] || fail "$b: $(state_of "$b")"

assert_unharmed "$a"
assert_unharmed "$b"
assert_mlockd_alive
stop_mlockd
