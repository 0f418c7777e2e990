#!/bin/bash
# MetricsFile=: a Prometheus textfile with the per-policy and per-cgroup figures, replaced atomically,
# agreeing with smaps; and BudgetExceeded on the bus when a target's own MCL_FUTURE growth takes its
# cgroup past the budget. The file's lifetime: a stale one from an earlier run is replaced before
# READY, the timestamp moves on every accounting tick, a clean stop removes it.
. "${top_srcdir:-.}/tests/lib.sh"
command -v busctl >/dev/null || skip "busctl not installed"

cg=$(make_test_memcg "mlockd-metrics-$$") || exit $? # a skip in $(...) ends only the subshell
metrics=$TEST_TMP/mlockd.prom
write_daemon_conf "AccountingInterval=200ms
MetricsFile=$metrics"
write_policy grow "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=all
Future=yes
[Limits]
CgroupMaxUnevictable=40M"

start_my_target pid --anon 24M --mode mmap
out=$(target_output)
echo "$pid" >"$cg/cgroup.procs"
# a file left by an earlier run: its figures must be gone once mlockd is up
printf 'mlockd_targets{policy="old",state="locked"} 99\nmlockd_last_update_timestamp_seconds 1\n' >"$metrics"
start_private_bus
busctl monitor --match "type='signal',interface='org.mlockd1.Manager',member='BudgetExceeded'" \
        >"$TEST_TMP/signals" 2>&1 &
track_pid $!
start_mlockd
# "running:" is logged right after READY=1, and the file is written before it
! grep -q 'policy="old"' "$metrics" || fail "the stale metrics file was still there at READY"
grep -qx "mlockd_build_info{version=\"$("$MLOCKD" --version | awk '{ print $2 }')\"} 1" "$metrics" ||
        fail "no build_info: $(cat "$metrics")"
stamp() { awk '$1 == "mlockd_last_update_timestamp_seconds" { print $2 }' "$metrics" 2>/dev/null; }
first=$(stamp)
now=$(date +%s)
[[ -n $first ]] && (( ${first%.*} > now - 60 && ${first%.*} <= now )) || fail "timestamp $first is not now ($now)"

# Regions=all: a large page-cache folio of a library that the loader's segment edges cut cannot
# be mlocked (doc/kernel-facts.md), and says so as partial:folio
wait_until 20 grep -Eq "Process $pid \(.*\), policy grow: (locked|partial:folio)," "$MLOCKD_LOG" ||
        fail "not locked: $(grep "Process $pid" "$MLOCKD_LOG")"
state=$(grep -Eo "Process $pid \(.*\), policy grow: [a-z:]+" "$MLOCKD_LOG" | tail -n1 | awk '{ print $NF }')
state_labels='state="locked",reason=""'
[[ $state == partial:folio ]] && state_labels='state="partial",reason="folio"'
# the file is rewritten on the accounting tick: wait for one written after the lock
metrics_locked() { awk '$1 == "mlockd_locked_bytes{policy=\"grow\"}" { print $2 }' "$metrics" 2>/dev/null; }
wait_until 5 eval '(( $(metrics_locked || echo 0) > 0 ))' || fail "no locked bytes in the metrics file"
kb=$(kernel_locked_kb "$pid")
bytes=$(metrics_locked)
(( bytes / 1024 <= kb + 1024 && bytes / 1024 + 1024 >= kb )) ||
        fail "metrics say $bytes bytes locked, the kernel says $kb kB"
grep -qF "mlockd_targets{policy=\"grow\",$state_labels} 1" "$metrics" || fail "no target count: $(cat "$metrics")"
# the timestamp moves on with the accounting ticks (200ms), even when nothing else changes
wait_until 5 eval '[[ $(stamp) != "$first" ]]' || fail "the timestamp did not move: $(stamp)"
grep -q '^mlockd_cgroup_unevictable_bytes{cgroup=' "$metrics" || fail "no cgroup series with a memory controller"
grep -q '^mlockd_injections_total [1-9]' "$metrics" || fail "no injection count"
grep -q '^mlockd_injection_seconds_bucket' "$metrics" || fail "no injection histogram"
if command -v promtool >/dev/null; then
        promtool check metrics <"$metrics" || fail "promtool rejects the metrics file"
fi

# the target maps 20 MiB more; MCL_FUTURE locks it; its cgroup goes over the 40 MiB budget
for i in $(seq 1 20); do
        kill -USR1 "$pid"
        wait_until 5 eval '[[ $(grep -c "^mmap=" "$out") -ge $i ]]' || fail "target did not map"
done
wait_until 10 grep -q 'BudgetExceeded' "$TEST_TMP/signals" || fail "no BudgetExceeded signal: $(cat "$TEST_TMP/signals")"
grep -q "over its budget" "$MLOCKD_LOG" || fail "budget overrun not logged"
assert_unharmed "$pid"
assert_mlockd_alive
stop_mlockd
[[ ! -e $metrics ]] || fail "a clean stop left the metrics file: $(head -n 5 "$metrics")"
