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
write_app_policy renamed
"$MLOCKCTL" reload || fail "reload failed"
wait_until 5 grep -Eq "Process events resubscribed|Could not subscribe again" "$MLOCKD_LOG" ||
        fail "the reload did not try to resubscribe without comm events: $(grep -i "process events\|subscribe" "$MLOCKD_LOG")"
if ! grep -q "Process events resubscribed, comm changes left out" "$MLOCKD_LOG"; then
        # kernels before 6.6, and some built since, let only CAP_NET_ADMIN subscribe (a bind to the
        # connector's group is EPERM), which the running manager no longer has: the old subscription
        # stays, and must still deliver
        grep -q "Could not subscribe again to process events (comm changes left out), keeping the old subscription: Operation not permitted" "$MLOCKD_LOG" ||
                fail "the resubscription failed otherwise: $(grep -i "subscribe" "$MLOCKD_LOG")"
        note "this kernel refuses an unprivileged subscription to the proc connector: the old one is kept"
        refused=1
fi
start_my_target pid2 --anon 8M --touch 1M
addr2=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$pid2" "$addr2" lo lf || fail "a process started after the resubscription was not locked"

# a daemon started without a Name= policy, and one added by a reload: rename events are asked
# for then, or, where the kernel refuses, the operator is told what is missed
stop_mlockd
start_mlockd --log-level=debug
write_policy renamed "[Match]
Name=mlk-renamed3
[Lock]
Mode=onfault
Regions=anon"
"$MLOCKCTL" reload || fail "the reload adding Name= failed"
if [[ -n ${refused:-} ]]; then
        wait_until 5 grep -q "<4>.*Could not subscribe again to process events with rename events, keeping the old subscription without them" "$MLOCKD_LOG" ||
                fail "no warning that renames are missed: $(grep -i "subscribe" "$MLOCKD_LOG")"
else
        wait_until 5 grep -q "Process events resubscribed, comm changes included" "$MLOCKD_LOG" ||
                fail "the reload did not ask for rename events: $(grep -i "subscribe" "$MLOCKD_LOG")"
        start_my_target pid3 --anon 8M --touch 1M --mode rename --comm mlk-renamed3
        addr3=$(ready_field "$(target_output)" anon)
        kill -USR1 "$pid3"
        wait_until 10 has_vmflags "$pid3" "$addr3" lo lf ||
                fail "a rename after the reload was not matched: $(vmflags_at "$pid3" "$addr3")"
        assert_unharmed "$pid3"
fi

assert_unharmed "$pid"
assert_unharmed "$pid2"
assert_mlockd_alive
stop_mlockd
