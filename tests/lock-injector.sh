#!/bin/bash
# A supervised injector. A stuck one (forced with the test hook MLOCKD_TEST_INJECTOR_STALL, which
# only test builds honour) is killed after its timeout; the target it was on is left running and
# untraced, and failed:stuck (a call that did not return is not tried again: the target could hold
# the spare the same way); the spare takes over and locks a new target; no reply is paired with
# the wrong request. A killed injector is noticed at once, and with no injector left mlockd exits non-zero
# (systemd restarts it). One worker (Injectors=1): tests/lock-pool.sh loses one of two.
. "${top_srcdir:-.}/tests/lib.sh"

write_daemon_conf "Injectors=1"

write_app_policy

start_my_target pid --anon 16M --touch 4M
addr=$(ready_field "$(target_output)" anon)
MLOCKD_TEST_INJECTOR_STALL=1 start_mlockd
grep -q "Test hook: this injector stops answering" "$MLOCKD_LOG" || skip "not a test build (the stall hook needs --enable-sanitizers)"

wait_until 40 grep -q "did not answer request" "$MLOCKD_LOG" || fail "the stuck injector was never timed out"
wait_until 20 grep -q "Process $pid (.*), policy app: failed:stuck" "$MLOCKD_LOG" ||
        { cat "$MLOCKD_LOG" >&2; fail "the target of the stuck call is not failed:stuck"; }
grep -q "spare injector .* takes over" "$MLOCKD_LOG" || fail "no spare took over"
lacks_vmflag "$pid" "$addr" lo || fail "the stuck call was tried again"
start_my_target pid3 --anon 16M --touch 4M
addr3=$(ready_field "$(target_output)" anon)
wait_until 20 has_vmflags "$pid3" "$addr3" lo lf || { cat "$MLOCKD_LOG" >&2; fail "the spare did not lock a new target"; }
assert_unharmed "$pid3"
! grep -q "Dropping an injector reply" "$MLOCKD_LOG" || fail "a reply was paired with the wrong request"
! grep -q "left stopped or traced" "$MLOCKD_LOG" || fail "the lost injector left the target stopped or traced"
assert_unharmed "$pid"
assert_mlockd_alive

# the spare is the only injector now: kill it; the manager notices and exits non-zero
inj=$(cat /proc/"$MLOCKD_PID"/task/*/children)
set -- $inj
(( $# == 1 )) || fail "expected one injector left, found: $inj"
kill -KILL "$1"
rc=0
wait "$MLOCKD_PID" || rc=$?
MLOCKD_PID=
(( rc != 0 )) || fail "mlockd exited 0 with no injector left"
grep -q "The injector (pid $1) died" "$MLOCKD_LOG" || fail "the injector's death was not logged"
grep -q "No injector is left" "$MLOCKD_LOG" || fail "no error said why mlockd exits"

# a fresh daemon: an injector killed, then a new target locked by the spare
: >"$MLOCKD_LOG"
start_mlockd
active=$(sed -n 's/.*Injector 1 of 1 started (pid \([0-9]*\)), and a spare.*/\1/p' "$MLOCKD_LOG")
[[ -n $active ]] || fail "the start-up line names no injector and spare: $(grep -i injector "$MLOCKD_LOG")"
kill -KILL "$active"
wait_until 10 grep -q "takes over after the injector \(died\|went away\)" "$MLOCKD_LOG" ||
        fail "the injector's death went unnoticed: $(cat "$MLOCKD_LOG")"
start_my_target pid2 --anon 16M --touch 4M
addr2=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$pid2" "$addr2" lo lf || fail "no new target locked after the injector was killed"
wait_until 20 grep -q "Process $pid2 (.*), policy app: locked" "$MLOCKD_LOG" || fail "the new target's job did not end locked"
assert_unharmed "$pid"
assert_unharmed "$pid2"
stop_mlockd
