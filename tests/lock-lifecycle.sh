#!/bin/bash
# exec wipes locks: mlockd locks the new image; a forked child is a new target, locked on its own.
. "${top_srcdir:-.}/tests/lib.sh"

write_app_policy svc

start_mlockd
start_my_target pid --anon 32M --touch 8M
out=$(target_output)
addr=$(ready_field "$out" anon)
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not locked before exec"

# exec: same pid, new image, new mapping
kill -USR1 "$pid"
wait_until 10 eval '[[ $(grep -c "^ready" "$out") -ge 2 ]]' || fail "target did not re-exec: $(cat "$out")"
addr2=$(ready_field "$out" anon)
wait_until 10 has_vmflags "$pid" "$addr2" lo lf || fail "new image not relocked after exec: $(vmflags_at "$pid" "$addr2")"

# fork: the child inherits the mapping but not the lock
kill -USR2 "$pid"
wait_until 10 grep -q '^child pid=' "$out" || fail "target did not fork"
child=$(grep '^child pid=' "$out" | tail -n1 | sed 's/^child pid=\([0-9]*\).*/\1/')
track_pid "$child"
wait_until 10 has_vmflags "$child" "$addr2" lo lf || fail "forked child not locked: $(vmflags_at "$child" "$addr2")"
(( $(awk '/^VmLck:/ { print $2 }' "/proc/$child/status") > 0 )) || fail "child VmLck is 0"

assert_unharmed "$pid"
assert_unharmed "$child"
assert_mlockd_alive
stop_mlockd
