#!/bin/bash
# Release's errors as org.mlockd1(5) says (issue 14): a target whose seccomp filter kills munlock
# is locked (mlock2 is allowed), then released by root: the unlock is refused, never tried, and
# the answer is org.mlockd1.Error.Refused with the state (AccessDenied is for callers who are not root);
# the target lives, still locked. A non-root caller gets AccessDenied. Apply on a zombie is
# NoSuchProcess (tests/lock-apply-async.sh).
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/hostile-lib.sh"
command -v dbus-send >/dev/null || skip "dbus-send not installed"
command -v setpriv >/dev/null || skip "setpriv not installed"
command -v busctl >/dev/null || skip "busctl not installed"
command -v python3 >/dev/null || skip "python3 not installed"
caps=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
(( (16#$caps >> 21) & 1 )) || skip "no CAP_SYS_ADMIN: the injector cannot read the filter, the target is never locked"

write_policy refuse "[Match]
Executable=$MY_HOSTILE
[Lock]
Mode=onfault
Regions=anon"

start_hostile pid --anon 4M --kill-munlock
anon=$(ready_field "$HOSTILE_OUT" anon)
start_mlockd
wait_until 20 eval '[[ $(state_of '"$pid"') == locked ]]' || fail "not locked: $(state_of "$pid")"

release() {
        "$@" dbus-send --system --print-reply --dest=org.mlockd1 /org/mlockd1 org.mlockd1.Manager.Release \
                uint32:"$pid" 2>&1
}
out=$(release) && fail "Release of a target that cannot unlock succeeded: $out"
[[ $out == *"org.mlockd1.Error.Refused"* ]] || fail "Release as root: $out"
[[ $out == *"skipped:seccomp:kill_process"* ]] || fail "the refusal does not say why: $out"
out=$(release setpriv --reuid=65534 --regid=65534 --clear-groups) && fail "Release as nobody succeeded: $out"
[[ $out == *"AccessDenied"* ]] || fail "Release as nobody: $out"
assert_unharmed "$pid"
has_vmflags "$pid" "$anon" lo lf || fail "the lock went although the unlock was refused"
assert_mlockd_alive
stop_mlockd
