#!/bin/bash
# Name= matches a process that renames itself after exec (prctl PR_SET_NAME): mlockd asks the proc
# connector for comm events while a policy matches on Name=, and locks the process when its new
# name matches. A reload that leaves no Name= policy resubscribes without them, and events still
# come (a new process is found).
. "${top_srcdir:-.}/tests/lib.sh"
require_root

write_policy renamed "[Match]
Name=mlk-renamed
[Lock]
Mode=onfault
Regions=anon"

start_mlockd --log-level=debug
start_my_target pid --anon 8M --touch 1M --mode rename --comm mlk-renamed
addr=$(ready_field "$(target_output)" anon)
sleep 1
lacks_vmflag "$pid" "$addr" lo || fail "locked before it took the policy's name"

kill -USR1 "$pid"
wait_until 5 grep -q '^renamed' "$(target_output)" || fail "the target did not rename itself"
[[ $(cat /proc/"$pid"/comm) == mlk-renamed ]] || fail "comm is $(cat /proc/"$pid"/comm)"
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not locked after the rename: $(vmflags_at "$pid" "$addr")"

# no Name= policy left: the subscription changes and new processes are still found
write_policy renamed "[Match]
Executable=$MY_TARGET
[Lock]
Mode=onfault
Regions=anon"
"$MLOCKCTL" reload || fail "reload failed"
grep -q "Process events resubscribed, comm changes left out" "$MLOCKD_LOG" ||
        fail "the reload did not resubscribe without comm events: $(grep -i "process events\|subscribe" "$MLOCKD_LOG")"
start_my_target pid2 --anon 8M --touch 1M
addr2=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$pid2" "$addr2" lo lf || fail "a process started after the resubscription was not locked"

assert_unharmed "$pid"
assert_unharmed "$pid2"
assert_mlockd_alive
stop_mlockd
