#!/bin/bash
# One of two injector workers (Injectors=2) SIGKILLed while 200 targets started at once are being
# locked: its spare takes over, the call it was in is retried (the target was left running and
# untraced), the other worker goes on untouched, and every target ends locked or with its reason
# logged; none is left stopped or traced, and the manager keeps running.
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/pool-lib.sh"

start_pool 2
s1=$(switches "${active[1]}")
s2=$(switches "${spare[1]}")

# the kill in the middle of the burst: 100 started, then 100 more behind it
start_many 100
wait_until 30 eval '(( $(switches "${active[1]}") >= s1 + 10 ))' || fail "worker 1 (${active[1]}) never served"
waiting=$(pending "${pids[@]}")
kill -KILL "${active[1]}"
(( waiting > 0 )) || fail "every target was locked before the kill: nothing was tested"
note "$waiting of 100 targets not locked yet when worker 1 (${active[1]}) was killed, 100 more to start"
start_many 100

wait_until 10 grep -q "The spare injector (pid ${spare[1]}) takes over after the injector \(died\|went away\)" "$MLOCKD_LOG" ||
        fail "the spare of worker 1 did not take over: $(grep -i injector "$MLOCKD_LOG")"

# each target: locked (and its job ended so), or a final state that says why not
ended() {
        local p
        for p in "${pids[@]}"; do
                grep -q "Process $p (.*), policy pool: \(locked\|failed\|partial\|skipped\)" "$MLOCKD_LOG" || return 1
        done
}
if ! wait_until 60 ended; then
        for p in "${pids[@]}"; do
                grep -q "Process $p (.*), policy pool: " "$MLOCKD_LOG" ||
                        note "no state line for $p: $(grep "\b$p\b" "$MLOCKD_LOG"; grep -E '^(State|TracerPid|VmLck)' /proc/"$p"/status | tr '\n' ' ')"
        done
        fail "not every target's job ended: $(grep -c 'policy pool: ' "$MLOCKD_LOG") state lines for 200"
fi
not_locked=0
for i in $(seq 1 200); do
        p=${pids[i - 1]}
        assert_unharmed "$p"
        if ! locked_one "$i"; then
                grep -q "Process $p (.*), policy pool: locked" "$MLOCKD_LOG" &&
                        fail "process $p is logged locked, but its mapping is not"
                note "process $p not locked: $(grep "Process $p (" "$MLOCKD_LOG" | tail -n1)"
                not_locked=$(( not_locked + 1 ))
        fi
done
# the call worker 1 was in is retried (-ECONNRESET): no target should be lost to the kill
(( not_locked == 0 )) || fail "$not_locked of 200 targets not locked after one worker was killed"

kill -0 "${active[2]}" || fail "worker 2 (${active[2]}) died with worker 1"
! grep -q "injector (pid ${active[2]})" "$MLOCKD_LOG" || fail "worker 2 was disturbed: $(grep "pid ${active[2]}" "$MLOCKD_LOG")"
(( $(switches "${spare[1]}") > s2 )) || fail "the spare of worker 1 (${spare[1]}) never ran: it served nothing"
! grep -q "left stopped or traced" "$MLOCKD_LOG" || fail "the lost worker left a target stopped or traced"
assert_mlockd_alive
stop_mlockd
