#!/bin/bash
# A target is gone when its whole process is: the thread-group leader exiting while another
# thread runs (an EXIT event for the leader) keeps the target; the process dying removes it at
# once, told by its pidfd.
. "${top_srcdir:-.}/tests/lib.sh"

write_app_policy

start_my_target pid --anon 16M --touch 4M --mode thread
addr=$(ready_field "$(target_output)" anon)
start_mlockd
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not locked"
"$MLOCKCTL" targets --json >/dev/null || fail "mlockctl targets --json failed"
listed "$pid" || fail "target not listed: $("$MLOCKCTL" targets --json)"

kill -USR1 "$pid"
wait_until 10 eval '[[ $(awk "/^State:/ { print \$2 }" /proc/'"$pid"'/status) == Z ]]' ||
        fail "the leader did not exit"
(( $(ls /proc/"$pid"/task | wc -l) >= 1 )) || fail "no thread left"
sleep 0.5 # the EXIT event has been read by now
listed "$pid" || fail "the leader's exit made mlockd forget a process whose other thread still runs"

kill -KILL "$pid"
wait_until 5 eval '! listed '"$pid" || fail "a dead target is still listed"
assert_mlockd_alive
stop_mlockd
