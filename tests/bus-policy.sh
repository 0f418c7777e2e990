#!/bin/bash
# systemd/org.mlockd1.conf on a private system bus: only root may own org.mlockd1; uid 65534 may
# call the read-only members (lists, GetTarget, Properties.Get/GetAll, Introspect, Peer) and is
# refused Apply, Release, Reload and Properties.Set, which root may call. The name is served by
# tests/helpers/bus-dummy, which marks every member unprivileged: a refusal comes from the policy.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

BUS_DUMMY=$top_builddir/tests/helpers/bus-dummy
command -v busctl >/dev/null || skip "busctl not installed"
command -v setpriv >/dev/null || skip "setpriv not installed"
[[ $(id -u) == 0 ]] || skip "needs root to switch to uid 65534"
[[ -f $top_srcdir/systemd/org.mlockd1.conf ]] || fail "no systemd/org.mlockd1.conf"
[[ -x $BUS_DUMMY ]] || fail "$BUS_DUMMY was not built"

# uid 65534 must reach the bus socket in $TEST_TMP.
chmod 0711 "$TEST_TMP"
start_private_bus   # includes systemd/org.mlockd1.conf
note "bus: $DBUS_SYSTEM_BUS_ADDRESS"

as_nobody() {
        setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}
as_nobody true || skip "setpriv cannot switch to uid 65534 here"

# ---- owning the name -----------------------------------------------------------------------------
rc=0
as_nobody "$BUS_DUMMY" --own-only >"$TEST_TMP/nobody-dummy.out" 2>&1 || rc=$?
(( rc == 3 )) || fail "uid 65534 owning org.mlockd1: exit $rc, expected 3 (denied): $(cat "$TEST_TMP/nobody-dummy.out")"
note "uid 65534 may not own org.mlockd1"

"$BUS_DUMMY" >"$TEST_TMP/dummy.out" 2>&1 &
dummy=$!
track_pid "$dummy"
wait_until 60 grep -q '^ready' "$TEST_TMP/dummy.out" ||
        fail "root could not own org.mlockd1: $(cat "$TEST_TMP/dummy.out")"
note "root owns org.mlockd1"

# ---- calls -----------------------------------------------------------------------------------------
call() {
        local who=$1
        shift
        if [[ $who == nobody ]]; then
                as_nobody busctl --system "$@"
        else
                busctl --system "$@"
        fi
}

allowed() {
        local who=$1 out
        shift
        out=$(call "$who" "$@" 2>&1) || fail "$who was refused: busctl $* → $out"
        note "allowed for $who: $*"
}

refused() {
        local who=$1 out
        shift
        out=$(call "$who" "$@" 2>&1) && fail "$who was allowed: busctl $* → $out"
        [[ $out == *"Rejected send message"* || $out == *"Access denied"* ]] ||
                fail "busctl $* failed, but not because the bus refused it: $out"
        note "refused for $who: $*"
}

obj=(org.mlockd1 /org/mlockd1)
mgr=(org.mlockd1 /org/mlockd1 org.mlockd1.Manager)
for who in nobody root; do
        allowed "$who" call "${mgr[@]}" ListPolicies
        allowed "$who" call "${mgr[@]}" ListTargets
        allowed "$who" call "${mgr[@]}" ListCgroups
        allowed "$who" call "${mgr[@]}" GetTarget u 1
        allowed "$who" get-property "${mgr[@]}" Version
        allowed "$who" call "${obj[@]}" org.freedesktop.DBus.Properties GetAll s org.mlockd1.Manager
        allowed "$who" introspect "${obj[@]}"
        allowed "$who" call "${obj[@]}" org.freedesktop.DBus.Peer Ping
done

refused nobody call "${mgr[@]}" Apply u 1
refused nobody call "${mgr[@]}" Release u 1
refused nobody call "${mgr[@]}" Reload
refused nobody set-property "${mgr[@]}" LogLevel s debug
# members the policy does not name are refused too
refused nobody call "${obj[@]}" org.mlockd1.Manager Frobnicate

allowed root call "${mgr[@]}" Apply u 1
allowed root call "${mgr[@]}" Release u 1
allowed root call "${mgr[@]}" Reload
allowed root set-property "${mgr[@]}" LogLevel s debug
[[ $(call root get-property "${mgr[@]}" LogLevel) == 's "debug"' ]] || fail "Properties.Set by root did not reach the object"

kill -TERM "$dummy"
wait "$dummy" || fail "bus-dummy exited with $?"
exit 0
