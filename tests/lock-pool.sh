#!/bin/bash
# Two injector workers (Injectors=2): 200 matching processes started at once are all locked and
# verified (each job ended locked), none is left stopped or traced, and both workers served them:
# each worker's context switches (the kernel's count: an idle injector sleeps in recvmsg) grew by
# many while the spares, which serve nothing, did not move.
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/pool-lib.sh"

start_pool 2
for w in 1 2; do
        before_active[w]=$(switches "${active[w]}")
        before_spare[w]=$(switches "${spare[w]}")
done

start_many 200
wait_all_locked 200 || fail "$(count_unlocked 200) of 200 processes not locked"
wait_until 60 all_verified 200 || fail "not every job ended locked: $(grep -c 'policy pool: locked' "$MLOCKD_LOG") of 200"
for p in "${pids[@]}"; do
        assert_unharmed "$p"
done

for w in 1 2; do
        grown=$(( $(switches "${active[w]}") - before_active[w] ))
        # 200 targets, several requests each: a worker that took a fair part woke hundreds of times
        (( grown >= 50 )) || fail "worker $w (injector ${active[w]}) woke $grown times for 200 targets: it served (almost) none"
        (( $(switches "${spare[w]}") == before_spare[w] )) || fail "the spare of worker $w (${spare[w]}) ran: it took requests"
        note "worker $w (injector ${active[w]}): $grown context switches"
done
! grep -q "takes over\|died\|did not answer" "$MLOCKD_LOG" || fail "an injector was lost: $(grep -i injector "$MLOCKD_LOG")"
assert_mlockd_alive
stop_mlockd
