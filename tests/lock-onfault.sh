#!/bin/bash
# Lock-on-fault: a process running before the daemon and one started after it are both locked on
# fault (VmFlags lo lf); the touched part is Locked:, and pages touched later become locked too.
. "${top_srcdir:-.}/tests/lib.sh"

write_app_policy cache

start_my_target before --anon 64M --touch 16M
out_before=$(target_output)
start_mlockd

addr=$(ready_field "$out_before" anon)
wait_until 10 has_vmflags "$before" "$addr" lo lf || fail "running process not locked on fault: $(vmflags_at "$before" "$addr")"
(( $(locked_kb_at "$before" "$addr") >= 16384 )) || fail "touched 16 MiB not Locked: $(locked_kb_at "$before" "$addr") kB"
# lock-on-fault must not populate the untouched rest
(( $(locked_kb_at "$before" "$addr") < 65536 )) || fail "onfault populated the whole mapping"

start_my_target after --anon 64M --touch 16M
out_after=$(target_output)
addr2=$(ready_field "$out_after" anon)
wait_until 10 has_vmflags "$after" "$addr2" lo lf || fail "process started later not locked: $(vmflags_at "$after" "$addr2")"
wait_until 10 eval '(( $(locked_kb_at "$after" "$addr2") >= 16384 ))' || fail "later process: Locked: too small"

assert_unharmed "$before"
assert_unharmed "$after"
grep -q "Process $before (.*), policy cache: locked" "$MLOCKD_LOG" || fail "no state line for $before"
assert_mlockd_alive
stop_mlockd
# a clean stop keeps the locks in place
has_vmflags "$before" "$addr" lo lf || fail "locks lost at daemon stop"

# a restarted daemon adopts the locks in place: both targets locked again, without one injection
write_daemon_conf "AccountingInterval=200ms
MetricsFile=$TEST_TMP/metrics.prom"
: >"$MLOCKD_LOG"
start_mlockd
for p in "$before" "$after"; do
        wait_until 10 grep -q "Process $p (.*), policy cache: locked" "$MLOCKD_LOG" || fail "$p not adopted after restart"
done
# a metrics file written after both were adopted (the accounting tick rewrites it)
wait_until 5 grep -q '^mlockd_targets{policy="cache",state="locked",reason=""} 2$' "$TEST_TMP/metrics.prom" 2>/dev/null ||
        fail "no metrics with both targets locked"
grep -q '^mlockd_injections_total 0$' "$TEST_TMP/metrics.prom" ||
        fail "the restarted daemon locked again what was locked: $(grep injections_total "$TEST_TMP/metrics.prom")"
has_vmflags "$before" "$addr" lo lf || fail "locks lost after restart"
stop_mlockd
