#!/bin/bash
# mlockd reads a new process's exe itself when it may (its own uid, dumpable) and through the
# injector otherwise: a root target, a non-dumpable root target and a uid 65534 target are all
# matched by Executable= and locked.
. "${top_srcdir:-.}/tests/lib.sh"
require_root
command -v setpriv >/dev/null || skip "setpriv not installed"
setpriv --reuid=65534 --regid=65534 --clear-groups -- true || skip "setpriv cannot switch to uid 65534 here"

write_app_policy

start_mlockd
start_my_target plain --anon 4M --touch 1M
plain_addr=$(ready_field "$(target_output)" anon)
start_my_target undumpable --anon 4M --touch 1M --undumpable
undumpable_addr=$(ready_field "$(target_output)" anon)
[[ $(readlink /proc/"$undumpable"/exe 2>/dev/null) == "$MY_TARGET" ]] || fail "root cannot read the exe of its target"
TARGET=setpriv start_target nobody --reuid=65534 --regid=65534 --clear-groups -- "$MY_TARGET" --anon 4M --touch 1M
nobody_addr=$(ready_field "$(target_output)" anon)
[[ $(awk '/^Uid:/ { print $2 }' /proc/"$nobody"/status) == 65534 ]] || fail "the target does not run as uid 65534"

wait_until 10 has_vmflags "$plain" "$plain_addr" lo lf || fail "the root target was not locked"
wait_until 10 has_vmflags "$undumpable" "$undumpable_addr" lo lf ||
        fail "the non-dumpable target was not locked: $(vmflags_at "$undumpable" "$undumpable_addr")"
wait_until 10 has_vmflags "$nobody" "$nobody_addr" lo lf ||
        fail "the uid 65534 target was not locked: $(vmflags_at "$nobody" "$nobody_addr"); $(grep "$nobody" "$MLOCKD_LOG")"

for p in "$plain" "$undumpable" "$nobody"; do
        wait_until 10 grep -q "Process $p (.*), policy app: \(locked\|partial\)" "$MLOCKD_LOG" || fail "no final state for $p"
        assert_unharmed "$p"
done
assert_mlockd_alive
stop_mlockd
