#!/bin/bash
# A child forked by a process that is not a target is looked at a moment after its fork, unless it
# exec'd by then (its exec is looked at instead): a parent whose uid changed after mlockd looked
# at it (no process event says so) forks children that match, and they are locked. A process
# started from a shell (fork, then exec) is found once, by its exec.
. "${top_srcdir:-.}/tests/lib.sh"

uid=4343 # not a user of any other test
other=$TEST_TMP/other
cp "$MY_TARGET" "$other"
write_daemon_conf "ScanInterval=1h"
write_policy forked "[Match]
Executable=$MY_TARGET
User=$uid
[Lock]
Mode=onfault
Regions=anon"
write_policy execd "[Match]
Executable=$other
[Lock]
Mode=onfault
Regions=anon"

start_mlockd
start_my_target parent --anon 1M --touch 256K --fork-uid "$uid"
out=$(target_output)
addr=$(ready_field "$out" anon)
sleep 0.5 # its exec was looked at: root's, it matches nothing
lacks_vmflag "$parent" "$addr" lo || fail "root's process was locked: $(vmflags_at "$parent" "$addr")"

# the parent becomes $uid and forks: the child is $uid's from its start
kill -USR2 "$parent"
wait_until 10 grep -q '^child pid=' "$out" || fail "target did not fork: $(cat "$out")"
child=$(grep '^child pid=' "$out" | tail -n1 | sed 's/^child pid=\([0-9]*\).*/\1/')
track_pid "$child"
[[ $(awk '/^Uid:/ { print $2 }' "/proc/$child/status") == "$uid" ]] || fail "child not $uid's"
wait_until 10 has_vmflags "$child" "$addr" lo lf || fail "forked child not locked: $(vmflags_at "$child" "$addr")"
grep -q "Process $child (.*), policy forked: locked," "$MLOCKD_LOG" || fail "no lock logged for $child"
# the parent changed its uid without an event, and the scan is an hour away: left as it was
lacks_vmflag "$parent" "$addr" lo || fail "the parent was locked: $(vmflags_at "$parent" "$addr")"

# a fork then exec from this shell, started matching: found by its exec, locked
TARGET=$other start_target execd --anon 1M --touch 256K
addr2=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$execd" "$addr2" lo lf || fail "fork+exec target not locked: $(vmflags_at "$execd" "$addr2")"
(( $(grep -c "Process $execd (.*), policy execd: locked," "$MLOCKD_LOG") == 1 )) ||
        fail "locked other than once: $(grep "Process $execd " "$MLOCKD_LOG")"

assert_unharmed "$parent"
assert_unharmed "$child"
assert_unharmed "$execd"
assert_mlockd_alive
stop_mlockd
