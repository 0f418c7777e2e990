#!/bin/bash
# Seccomp-confined targets: one whose filter kills mlock2 is skipped (skipped:seccomp), alive and
# untouched; one whose filters allow lock-on-fault mlock2 is locked. Needs CAP_SYS_ADMIN for the
# injector to read the filters (without it both are skipped, never tried: also checked).
. "${top_srcdir:-.}/tests/lib.sh"
VICTIM=$top_builddir/tests/helpers/victim
cp "$VICTIM" "$TEST_TMP/victim-$TEST_NAME"
VICTIM=$TEST_TMP/victim-$TEST_NAME

write_policy confined "[Match]
Executable=$VICTIM
[Lock]
Mode=onfault
Regions=anon"

start_victim() {
        "$VICTIM" "$1" >"$TEST_TMP/$1.out" 2>&1 &
        track_pid $!
        printf -v "$2" '%s' $!
        wait_until 10 grep -q '^ready' "$TEST_TMP/$1.out" || fail "victim $1 did not start"
}
start_victim seccomp-kill killpid
start_victim seccomp-allow allowpid
# started before the daemon: their filters are in place when it first looks at them
start_mlockd
kaddr=$(ready_field "$TEST_TMP/seccomp-kill.out" anon)
aaddr=$(ready_field "$TEST_TMP/seccomp-allow.out" anon)

wait_until 15 grep -q "Process $killpid (.*), policy confined: skipped:seccomp" "$MLOCKD_LOG" ||
        fail "killing filter not reported: $(grep "Process $killpid" "$MLOCKD_LOG")"
assert_unharmed "$killpid"
lacks_vmflag "$killpid" "$kaddr" lo || fail "a target whose filter kills mlock2 was locked"
grep -q "kill_process\|unreadable" "$MLOCKD_LOG" || fail "the action is not named"

caps=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
if (( (16#$caps >> 21) & 1 )); then
        wait_until 15 has_vmflags "$allowpid" "$aaddr" lo lf ||
                fail "a target whose filter allows mlock2 was not locked: $(grep "Process $allowpid" "$MLOCKD_LOG")"
else
        wait_until 15 grep -q "Process $allowpid (.*), policy confined: skipped:seccomp" "$MLOCKD_LOG" ||
                fail "without CAP_SYS_ADMIN a filtered target must be skipped"
fi
assert_unharmed "$allowpid"
assert_mlockd_alive
stop_mlockd
