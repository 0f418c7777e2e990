#!/bin/bash
# A process found by its exec is watched while it is young: the injector opens a perf event on its
# new mappings and the manager polls it, so what it maps after its first plan is locked on that
# signal, with no sampling timer. The manager holds the event (an anon_inode:[perf_event] among its
# descriptors) and closes it once the process is no longer young. A thread the process starts is
# not seen by the event: the watch ends there, and what the thread maps is found by sampling.
# The kernel's word throughout: VmFlags lo lf of each new mapping. Skips where perf events are
# refused (mlockd then samples, as lock-recheck.sh tests).
. "${top_srcdir:-.}/tests/lib.sh"
require_root

write_daemon_conf "AccountingInterval=500ms"
write_app_policy young

perf_fds() {
        ls -l /proc/"$MLOCKD_PID"/fd 2>/dev/null | grep -c 'anon_inode:\[perf_event\]'
}

start_mlockd --log-level=debug
(( $(perf_fds) == 0 )) || fail "the manager holds a perf event with no target"
start_my_target pid --anon 4M --touch 1M --mode mmap
out=$(target_output)
addr=$(ready_field "$out" anon)
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not locked: $(vmflags_at "$pid" "$addr")"
if grep -q "Perf events on other processes are refused" "$MLOCKD_LOG"; then
        skip "perf events refused here: $(grep 'Perf events' "$MLOCKD_LOG")"
fi
grep -q "Watching the new mappings of $pid " "$MLOCKD_LOG" ||
        fail "no watch on the young target: $(grep -v '^<7>' "$MLOCKD_LOG" | tail -n 5)"
(( $(perf_fds) == 1 )) || fail "the manager holds $(perf_fds) perf events for one young target"

# a mapping made while young: signalled, planned again, locked
kill -USR1 "$pid"
wait_until 5 grep -q '^mmap=' "$out" || fail "the target did not map more: $(cat "$out")"
new=$(sed -n 's/^mmap=//p' "$out" | tail -n 1)
wait_until 5 has_vmflags "$pid" "$new" lo lf || fail "the new mapping at $new was not locked: $(vmflags_at "$pid" "$new")"
grep -q "Process $pid (.*) mapped memory (its watch)\." "$MLOCKD_LOG" || fail "the watch did not fire"
grep -q "Process $pid (.*) mapped more memory, planning again\." "$MLOCKD_LOG" || fail "no second plan"
grep -q "Process $pid (.*) started a thread" "$MLOCKD_LOG" && fail "a thread was reported that never ran"

# mappings made in a burst, while the jobs for the earlier ones run: each one ends up locked (a
# signal during a job is looked at when it ends, or the job's verify read plans again)
for i in 1 2 3 4 5 6; do kill -USR1 "$pid"; sleep 0.002; done
wait_until 5 eval '(( $(grep -c "^mmap=" "$out") >= 2 ))' || fail "the burst mapped nothing"
sleep 0.5
for a in $(sed -n 's/^mmap=//p' "$out"); do
        wait_until 5 has_vmflags "$pid" "$a" lo lf || fail "a mapping of the burst at $a was not locked: $(vmflags_at "$pid" "$a")"
done
note "$(grep -c "^mmap=" "$out") mappings, $(grep -c "Process $pid mapped more while it was being locked" "$MLOCKD_LOG") plans from verify reads"

# a thread of its own: the watch ends, and the thread's mapping is found by sampling
kill -USR2 "$pid"
wait_until 5 grep -q '^thread_mmap=' "$out" || fail "the thread did not map: $(cat "$out")"
tnew=$(sed -n 's/^thread_mmap=//p' "$out" | tail -n 1)
wait_until 5 grep -q "Process $pid (.*) started a thread: its new mappings are sampled" "$MLOCKD_LOG" ||
        fail "the thread did not end the watch"
wait_until 5 has_vmflags "$pid" "$tnew" lo lf || fail "the thread's mapping at $tnew was not locked: $(vmflags_at "$pid" "$tnew")"
wait_until 5 eval '(( $(perf_fds) == 0 ))' || fail "the watch was not closed after the thread: $(perf_fds) perf events"
has_vmflags "$pid" "$addr" lo lf || fail "the first mapping lost its lock"
has_vmflags "$pid" "$new" lo lf || fail "the second mapping lost its lock"
assert_unharmed "$pid"

# a second young target: its watch is closed once it is no longer young (2 s, then a tick)
start_my_target pid2 --anon 2M --touch 1M --mode mmap
addr2=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$pid2" "$addr2" lo lf || fail "the second target was not locked"
wait_until 5 grep -q "Watching the new mappings of $pid2 " "$MLOCKD_LOG" || fail "no watch on the second target"
wait_until 10 eval '(( $(perf_fds) == 0 ))' || fail "the watch outlived the young window: $(perf_fds) perf events"
# still locked afterwards, and later mappings found by the tick's samples
kill -USR1 "$pid2"
wait_until 5 grep -q '^mmap=' "$(target_output)" || fail "the second target did not map more"
new2=$(sed -n 's/^mmap=//p' "$(target_output)" | tail -n 1)
wait_until 10 has_vmflags "$pid2" "$new2" lo lf || fail "a mapping after the young window was not locked"
assert_unharmed "$pid2"

# a mapping whose signal is still queued when the watch expires: the manager is stopped while the
# target is young, the target maps, and the manager runs again only once it is old, with the
# tick's timer and the watch's wakeup due together. The tick's sample must not take the size with
# that mapping as seen: the mapping is locked all the same
start_my_target pid3 --anon 2M --touch 1M --mode mmap
out3=$(target_output)
addr3=$(ready_field "$out3" anon)
wait_until 10 has_vmflags "$pid3" "$addr3" lo lf || fail "the third target was not locked"
wait_until 5 grep -q "Watching the new mappings of $pid3 " "$MLOCKD_LOG" || fail "no watch on the third target"
wait_until 5 grep -Eq "Process $pid3 \(.*\), policy young: locked" "$MLOCKD_LOG" || fail "the third target's job did not end"
kill -STOP "$MLOCKD_PID"
kill -USR1 "$pid3"
wait_until 5 grep -q '^mmap=' "$out3" || { kill -CONT "$MLOCKD_PID"; fail "the third target did not map more"; }
new3=$(sed -n 's/^mmap=//p' "$out3" | tail -n 1)
sleep 3 # past the young window (2 s) and a tick (500 ms)
kill -CONT "$MLOCKD_PID"
wait_until 10 has_vmflags "$pid3" "$new3" lo lf ||
        fail "a mapping signalled as the watch expired was never locked: $(vmflags_at "$pid3" "$new3")"
# the kernel's per-page word: the 1 MiB it touched there is mlocked
if "$top_builddir/tests/helpers/pagecount" $$ >/dev/null 2>&1; then
        kb=$(mlocked_kb "$pid3" "${new3#0x}-$(printf '%x' $((new3 + 1024 * 1024)))")
        (( kb == 1024 )) || fail "$kb kB of the 1 MiB mapped while the watch expired are mlocked per kpageflags"
else
        note "per-page flags unreadable here: the kpageflags check is left out"
fi
assert_unharmed "$pid3"
assert_mlockd_alive
stop_mlockd
