#!/bin/bash
# Process events lost to an overflow of the daemon's queue. After an overflow the kernel queues
# nothing, and reports no second loss, until the queue has been read empty once
# (tests/test-procmon.c, test_congested). A process that execs in that time is announced by no
# event, so the rescan has to come after the queue was read empty, not when the loss is reported.
# Here: the manager is stopped (SIGSTOP) while a burst of forks overflows its queue; it is let go
# until it has read the report of the loss, and stopped again; a waiting process then execs the
# target, a target (a shell) execs sleep, which no policy matches, and another target renames
# itself; once let go, the manager must find and lock the first, forget the second and keep the
# third as it was, with no periodic scan (ScanInterval=0).
. "${top_srcdir:-.}/tests/lib.sh"
require_root

write_daemon_conf "ScanInterval=0"
write_app_policy
# a shell of its own name, a target until it execs sleep
mkdir -p "$TEST_TMP/bin"
cp "$(command -v bash)" "$TEST_TMP/bin/lostshell"
write_policy shell "[Match]
Executable=$TEST_TMP/bin/lostshell
[Lock]
Mode=onfault
Regions=anon"

# the manager's proc connector socket in /proc/net/netlink (protocol 11): "rmem BYTES drops N"
connector_state() {
        local fd ino
        for fd in /proc/"$MLOCKD_PID"/fd/*; do
                ino=$(readlink "$fd" 2>/dev/null) || continue
                [[ $ino == socket:\[*\] ]] || continue
                ino=${ino#socket:[}
                ino=${ino%]}
                awk -v i="$ino" '$2 == 11 && $10 == i { print "rmem", $5, "drops", $9; found = 1 } END { exit !found }' \
                        /proc/net/netlink && return 0
        done
        return 1
}
connector_drops() {
        connector_state | awk '{ print $4 }'
}

start_mlockd
connector_state >/dev/null || skip "the daemon has no proc connector socket here (no events: $(grep -i 'scanning' "$MLOCKD_LOG"))"

# a process that will exec the target when told: bash until then, which no policy matches
mkfifo "$TEST_TMP/go"
out=$TEST_TMP/target.waiting
bash -c 'read -r _ <"$1"; shift; exec "$@"' waiting "$TEST_TMP/go" "$MY_TARGET" --anon 16M --touch 4M >"$out" 2>&1 &
pid=$!
track_pid "$pid"

# and a target that will exec something no policy matches
mkfifo "$TEST_TMP/go-shell"
"$TEST_TMP/bin/lostshell" -c 'read -r _ <"$1"; exec sleep 1000' lostshell "$TEST_TMP/go-shell" &
shell=$!
track_pid "$shell"
wait_until 10 grep -Eq "Process $shell \(.*\), policy shell: (locked|partial)" "$MLOCKD_LOG" ||
        fail "the shell was not locked: $(grep "Process $shell" "$MLOCKD_LOG")"
listed "$shell" || fail "the shell is not listed"

# and a target that renames itself: a rename keeps its locks, and it stays the target it was
start_my_target renamer --anon 4M --touch 1M --mode rename --comm lost-renamed
rout=$(target_output)
wait_until 10 grep -Eq "Process $renamer \(.*\), policy app: locked" "$MLOCKD_LOG" || fail "the renamer was not locked"

kill -STOP "$MLOCKD_PID"
drops=0
for burst in 1 2 3 4 5 6 7 8; do
        "$top_builddir/tests/helpers/forker" 10000 || { kill -CONT "$MLOCKD_PID"; fail "the fork burst failed"; }
        drops=$(connector_drops)
        (( drops > 0 )) && break
done
if (( drops == 0 )); then
        kill -CONT "$MLOCKD_PID"
        skip "80,000 forks did not overflow the daemon's event queue"
fi
note "the queue overflowed after $burst bursts of 10,000 forks ($drops events dropped)"

# let it read the report of the loss (with the old order it rescanned right then), then stop it
# before it has read the rest of the queue
kill -CONT "$MLOCKD_PID"
for i in $(seq 1 5000); do
        grep -q "Process events were lost" "$MLOCKD_LOG" && break
done
kill -STOP "$MLOCKD_PID"
grep -q "Process events were lost" "$MLOCKD_LOG" || { kill -CONT "$MLOCKD_PID"; fail "no loss was reported: $(cat "$MLOCKD_LOG")"; }
state=$(connector_state)
note "stopped again: $state"
(( $(awk '{ print $2 }' <<<"$state") > 0 )) ||
        note "the manager had read its whole queue before it was stopped again: the case is not made this time"
echo go >"$TEST_TMP/go"
echo go >"$TEST_TMP/go-shell"
kill -USR1 "$renamer"
wait_until 10 grep -q '^ready' "$out" || { kill -CONT "$MLOCKD_PID"; fail "the target did not start: $(cat "$out")"; }
[[ $(readlink "/proc/$pid/exe") == "$MY_TARGET" ]] || { kill -CONT "$MLOCKD_PID"; fail "process $pid did not exec the target"; }
wait_until 10 grep -q '^renamed' "$rout" || { kill -CONT "$MLOCKD_PID"; fail "the renamer did not rename"; }
wait_until 10 eval '[[ $(cat /proc/'"$shell"'/comm) == sleep ]]' || { kill -CONT "$MLOCKD_PID"; fail "the shell did not exec sleep"; }
note "the target exec'd meanwhile: $(connector_state)"
kill -CONT "$MLOCKD_PID"

addr=$(ready_field "$out" anon)
wait_until 20 has_vmflags "$pid" "$addr" lo lf ||
        { cat "$MLOCKD_LOG" >&2; fail "a process that exec'd while the queue was still being read was never found"; }
wait_until 10 grep -Eq "Process $pid \(.*\), policy app: locked" "$MLOCKD_LOG" ||
        fail "its job did not end locked: $(grep "Process $pid" "$MLOCKD_LOG")"
# the kernel's per-page word: the 4 MiB it touched are mlocked
if "$top_builddir/tests/helpers/pagecount" $$ >/dev/null 2>&1; then
        kb=$(mlocked_kb "$pid" "${addr#0x}-$(printf '%x' $((addr + 16 * 1024 * 1024)))")
        (( kb >= 4096 )) || fail "only $kb kB of the 4 MiB touched are mlocked per kpageflags"
else
        note "per-page flags unreadable here: the kpageflags check is left out"
fi
# the shell that exec'd sleep, which no policy matches, is no target any more
wait_until 20 eval '! listed '"$shell" || fail "process $shell, sleep now, is still listed: $("$MLOCKCTL" targets --json)"
# the renamed one, its locks kept, is the same target, not found and locked a second time
listed "$renamer" || fail "the renamed target is no longer listed: $("$MLOCKCTL" targets --json)"
raddr=$(ready_field "$rout" anon)
has_vmflags "$renamer" "$raddr" lo lf || fail "the renamed target lost its lock"
(( $(grep -Ec "Process $renamer \(.*\), policy app: locked" "$MLOCKD_LOG") == 1 )) ||
        fail "the renamed target was locked again as a new one: $(grep "Process $renamer" "$MLOCKD_LOG")"
grep -q "Process events were lost, rescanning /proc once the queued ones are read." "$MLOCKD_LOG" ||
        fail "the notice does not say when the rescan comes: $(grep 'events were lost' "$MLOCKD_LOG")"
assert_unharmed "$pid"
assert_unharmed "$shell"
assert_unharmed "$renamer"
assert_mlockd_alive
stop_mlockd
