#!/bin/bash
# With no target and no metrics file the accounting tick is off: the STATUS= line it sends on
# every tick stops coming, over many AccountingInterval=s. A matching process turns the tick on
# again (locked, and its drift watched), its exit off again; a reload ticks once. With a
# MetricsFile= the tick stays on: the file's timestamp says mlockd is alive.
. "${top_srcdir:-.}/tests/lib.sh"
require_root

write_daemon_conf "AccountingInterval=100ms"
write_app_policy
start_private_bus

start_notify_listener
ticks() { grep -c '^STATUS=' "$TEST_TMP/notify.out"; }
# assert_quiet N WHY: the Nth "tick is off" line is logged, and then no STATUS= over 20 intervals
off_count() { grep -c 'the accounting tick is off' "$MLOCKD_LOG"; }
assert_quiet() {
        local before n=$1
        wait_until 10 eval '(( $(off_count) >= n ))' || fail "the tick did not go off: $(tail -n 20 "$MLOCKD_LOG")"
        before=$(ticks)
        sleep 2
        (( $(ticks) == before )) || fail "$(( $(ticks) - before )) ticks with nothing to do ($2)"
}

NOTIFY_SOCKET=$NOTIFY_SOCK start_mlockd --log-level=debug
assert_quiet 1 "no target at start"

# a target: ticks again, and the tick still does its work (drift is noticed and undone)
start_my_target pid --anon 8M --touch 8M --mode munlock
addr=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not locked"
grep -q 'The accounting tick is on again' "$MLOCKD_LOG" || fail "no 'on again' line"
before=$(ticks)
wait_until 10 eval '(( $(ticks) >= before + 3 ))' || fail "no tick with a target: $(ticks) STATUS= lines"
kill -USR1 "$pid"
wait_until 5 grep -q '^munlocked' "$(target_output)" || fail "the target did not munlock"
wait_until 10 grep -q "Process $pid (.*): mlockd's lock had drifted" "$MLOCKD_LOG" ||
        fail "drift not noticed: $(grep "Process $pid" "$MLOCKD_LOG")"
wait_until 10 has_vmflags "$pid" "$addr" lo || fail "not locked again"
assert_unharmed "$pid"

# the target gone: one more tick empties its cgroup's account, then off
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
wait_until 10 grep -q "Forgetting target $pid" "$MLOCKD_LOG" || fail "target $pid not forgotten"
assert_quiet 2 "after the last target exited"

# a reload ticks once, and goes off again
kill -HUP "$MLOCKD_PID"
assert_quiet 3 "after a reload"

# with a metrics file the tick stays on
stop_mlockd
write_daemon_conf "AccountingInterval=100ms
MetricsFile=$TEST_TMP/metrics.prom"
: >"$TEST_TMP/notify.out"
NOTIFY_SOCKET=$NOTIFY_SOCK start_mlockd --log-level=debug
wait_until 10 eval '(( $(ticks) >= 5 ))' || fail "MetricsFile= set, but no tick: $(ticks) STATUS= lines"
(( $(off_count) == 3 )) || fail "the tick went off with a metrics file to keep fresh"
assert_mlockd_alive
stop_mlockd
