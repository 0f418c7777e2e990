#!/bin/bash
# org.mlockd1 on a private dbus-daemon, driven by busctl and dbus-send: every member answers with
# its documented signature, the figures agree with /proc, Release unlocks and Apply locks again,
# errors are the named ones, nobody may only read (the bus policy and the daemon's own check),
# a broken reload keeps the old policy, and a flood of bad calls leaves the daemon up.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/bus-lib.sh"

require_mlockd
command -v dbus-send >/dev/null || skip "dbus-send not installed"
command -v python3 >/dev/null || skip "python3 not installed"
command -v setpriv >/dev/null || skip "setpriv not installed"

DEST=(org.mlockd1 /org/mlockd1 org.mlockd1.Manager)

# call MEMBER [SIGNATURE ARGS...]: busctl's JSON of the reply
call() {
        busctl --system --json=short call "${DEST[@]}" "$@"
}

# py EXPR JSON: a python expression on the parsed JSON (as d)
py() {
        python3 -c "import json, sys; d = json.loads(sys.argv[1]); print($1)" "$2"
}

# error_of MEMBER [dbus-send args]: the D-Bus error name of a call, or "ok"; error_of_nobody: as
# uid 65534
error_of() {
        local out
        if out=$(dbus-send --system --print-reply --dest=org.mlockd1 /org/mlockd1 \
                         "org.mlockd1.Manager.$1" "${@:2}" 2>&1); then
                echo ok
        else
                sed -n 's/^Error \([^:]*\):.*/\1/p' <<<"$out" | head -n1
        fi
}
error_of_nobody() {
        local out
        if out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
                         dbus-send --system --print-reply --dest=org.mlockd1 /org/mlockd1 \
                         "org.mlockd1.Manager.$1" "${@:2}" 2>&1); then
                echo ok
        else
                echo "$out" >"$TEST_TMP/last-error"
                sed -n 's/^Error \([^:]*\):.*/\1/p' <<<"$out" | head -n1
        fi
}

expect_error() {
        local want=$1 got
        shift
        got=$(error_of "$@")
        [[ $got == "$want" ]] || fail "$*: got '$got', expected $want"
}

CONF=$TEST_TMP/conf
make_config "$CONF"

# ---- 1. the strict bus: the project's policy file -----------------------------------------------
if [[ -f $top_srcdir/systemd/org.mlockd1.conf ]]; then
        start_private_bus
        open_bus_to_nobody
        strict=1
else
        note "systemd/org.mlockd1.conf does not exist yet: bus policy checks skipped"
        start_private_bus permissive
        open_bus_to_nobody
        strict=0
fi

start_target T --anon 64M --touch 16M
ADDR=$(anon_addr "$T")
[[ -n $ADDR ]] || fail "no anon address for target $T"
start_mlockd D "$CONF"

wait_until 120 locked_at_least "$T" 16384 || fail "target $T was never locked: $(locked_kb "$T") kB"
wait_until 30 daemon_settled "$T" || fail "the daemon never recorded a final state for $T"
has_lo "$T" "$ADDR" || fail "VmFlags of $ADDR in $T lack lo: $(vmflags_at "$T" "$ADDR")"

# Signatures
for m in ListPolicies:'a(sssut)' ListTargets:'a(usssts)' ListCgroups:'a(stttt)'; do
        j=$(call "${m%%:*}") || fail "${m%%:*} failed"
        [[ $(py 'd["type"]' "$j") == "${m#*:}" ]] || fail "${m%%:*} answered $(py 'd["type"]' "$j")"
done
j=$(call GetTarget u "$T") || fail "GetTarget $T failed"
[[ $(py 'd["type"]' "$j") == usssts ]] || fail "GetTarget answered $j"

# The target: policy, state, and bytes that agree with the kernel's mlocked pages (kpageflags;
# smaps Locked: where unreadable) within 1M: the target may fault in a page of stack or heap after
# mlockd measured
j=$(call GetTarget u "$T")
[[ $(py 'd["data"][0]' "$j") == "$T" ]] || fail "GetTarget pid: $j"
[[ $(py 'd["data"][2]' "$j") == test ]] || fail "GetTarget policy: $j"
state=$(py 'd["data"][5]' "$j")
[[ $state == locked || $state == partial* ]] || fail "state of $T is $state"
bytes=$(py 'd["data"][4]' "$j")
kernel=$(( $(kernel_locked_kb "$T") * 1024 ))
(( bytes >= 16 << 20 )) || fail "mlockd says $bytes bytes locked in $T, expected at least 16M"
(( bytes - kernel <= 1 << 20 && kernel - bytes <= 1 << 20 )) ||
        fail "mlockd says $bytes bytes locked in $T, the kernel says $kernel"

j=$(call ListTargets)
[[ $(py "[t for t in d['data'][0] if t[0] == $T][0][2]" "$j") == test ]] || fail "ListTargets lacks $T: $j"

j=$(call ListPolicies)
[[ $(py "[p[1] for p in d['data'][0] if p[0] == 'test'][0]" "$j") == onfault ]] || fail "ListPolicies: $j"
[[ $(py "[p[2] for p in d['data'][0] if p[0] == 'test'][0]" "$j") == "$CONF/policy.d/test.conf" ]] ||
        fail "ListPolicies file: $j"
(( $(py "[p[3] for p in d['data'][0] if p[0] == 'test'][0]" "$j") >= 1 )) || fail "ListPolicies count: $j"

# The target's memory cgroup is accounted: unevictable is the kernel's, at least what we locked
j=$(call ListCgroups)
(( $(py "len(d['data'][0])" "$j") >= 1 )) || fail "ListCgroups is empty: $j"
(( $(py "max(c[1] for c in d['data'][0])" "$j") >= 16 << 20 )) || fail "no cgroup with 16M unevictable: $j"

# Properties
j=$(busctl --system --json=short get-property "${DEST[@]}" Version)
[[ $(py 'd["data"]' "$j") == "$("$MLOCKD" --version | awk '{ print $2 }')" ]] || fail "Version: $j"
j=$(busctl --system --json=short get-property "${DEST[@]}" LockedBytes)
(( $(py 'd["data"]' "$j") >= bytes )) || fail "LockedBytes $j < $bytes"

# ---- access: nobody reads, and is refused the rest ----------------------------------------------
setpriv --reuid=65534 --regid=65534 --clear-groups \
        busctl --system call "${DEST[@]}" ListTargets >/dev/null || fail "nobody cannot ListTargets"
[[ $(error_of_nobody Apply uint32:"$T") == org.freedesktop.DBus.Error.AccessDenied ]] || fail "nobody may Apply"
[[ $(error_of_nobody Release uint32:"$T") == org.freedesktop.DBus.Error.AccessDenied ]] || fail "nobody may Release"
[[ $(error_of_nobody Reload) == org.freedesktop.DBus.Error.AccessDenied ]] || fail "nobody may Reload"
has_lo "$T" "$ADDR" || fail "a refused Release unlocked $T"

# ---- Release and Apply ----------------------------------------------------------------------------
j=$(call Release u "$T") || fail "Release $T failed"
wait_until 30 no_lo "$T" "$ADDR" || fail "Release left lo on $ADDR: $(vmflags_at "$T" "$ADDR")"
(( $(locked_kb "$T") == 0 )) || fail "Release left $(locked_kb "$T") kB locked"

j=$(call Apply u "$T") || fail "Apply $T failed"
[[ $(py 'd["type"]' "$j") == s ]] || fail "Apply answered $j"
state=$(py 'd["data"][0]' "$j")
[[ $state == locked || $state == partial* || $state == pending ]] || fail "Apply gave state $state"
wait_until 60 locked_at_least "$T" 16384 || fail "Apply did not lock $T again: $(locked_kb "$T") kB"
has_lo "$T" "$ADDR" || fail "Apply: no lo on $ADDR"

# ---- errors ---------------------------------------------------------------------------------------
expect_error org.mlockd1.Error.NoSuchProcess Apply uint32:"$(dead_pid)"
expect_error org.mlockd1.Error.NoSuchProcess Release uint32:"$(dead_pid)"
expect_error org.mlockd1.Error.NoSuchProcess GetTarget uint32:"$(dead_pid)"
expect_error org.mlockd1.Error.NotMatched Apply uint32:$$          # this shell matches no policy
expect_error org.freedesktop.DBus.Error.InvalidArgs Apply uint32:0
expect_error org.freedesktop.DBus.Error.InvalidArgs Apply uint32:4194305
expect_error org.freedesktop.DBus.Error.InvalidArgs Apply uint32:4294967295
expect_error org.freedesktop.DBus.Error.InvalidArgs Apply string:"$T"
expect_error org.freedesktop.DBus.Error.InvalidArgs Apply uint32:"$T" uint32:1
expect_error org.freedesktop.DBus.Error.UnknownMethod Frobnicate

# A flood of bad calls: every one answered, the daemon still up and right
for i in $(seq 1 500); do
        echo "call org.mlockd1 /org/mlockd1 org.mlockd1.Manager GetTarget u $((4194305 + i))"
done >"$TEST_TMP/flood"
n=0
while read -r _ dest path iface member sig arg; do
        busctl --system call "$dest" "$path" "$iface" "$member" "$sig" "$arg" >/dev/null 2>&1 && fail "GetTarget $arg succeeded"
        n=$((n + 1))
done <"$TEST_TMP/flood"
(( n == 500 )) || fail "flood: $n calls"
kill -0 "$D" || fail "mlockd died under the flood"
j=$(call GetTarget u "$T") || fail "GetTarget after the flood failed"
[[ $(py 'd["data"][0]' "$j") == "$T" ]] || fail "GetTarget after the flood: $j"

# ---- Reload: a broken file is refused and the old policy keeps working ---------------------------
printf '[Match]\nExecutable=%s\n[Lock]\nMode=sometimes\n' "$TARGET" >"$CONF/policy.d/broken.conf"
out=$(dbus-send --system --print-reply --dest=org.mlockd1 /org/mlockd1 org.mlockd1.Manager.Reload 2>&1) &&
        fail "Reload with a broken file succeeded"
[[ $out == *org.mlockd1.Error.InvalidConfig* ]] || fail "Reload: $out"
[[ $out == *broken.conf:4* ]] || fail "InvalidConfig does not name broken.conf:4: $out"
start_target T2 --anon 32M --touch 8M
wait_until 120 locked_at_least "$T2" 8192 || fail "after a refused reload, new target $T2 was not locked"
j=$(call GetTarget u "$T2")
[[ $(py 'd["data"][2]' "$j") == test ]] || fail "after a refused reload: $j"
rm "$CONF/policy.d/broken.conf"
call Reload >/dev/null || fail "Reload of a fixed configuration failed"

stop_mlockd "$D"

# ---- 2. a permissive bus: the daemon's own check, alone ------------------------------------------
bus_pid=$(cat "$TEST_TMP/bus.pid")
kill -TERM "$bus_pid"
wait_until 30 eval '! kill -0 '"$bus_pid"' 2>/dev/null' || fail "dbus-daemon $bus_pid did not exit"
rm -f "$TEST_TMP/bus.socket"
start_private_bus permissive
open_bus_to_nobody
start_mlockd D "$CONF"
wait_until 120 locked_at_least "$T" 16384 || fail "target $T not locked by the second daemon"
setpriv --reuid=65534 --regid=65534 --clear-groups \
        busctl --system call "${DEST[@]}" ListPolicies >/dev/null || fail "nobody cannot ListPolicies"
for m in "Apply uint32:$T" "Release uint32:$T" "Reload"; do
        # shellcheck disable=SC2086
        [[ $(error_of_nobody $m) == org.freedesktop.DBus.Error.AccessDenied ]] || fail "nobody may $m (permissive bus)"
done
has_lo "$T" "$ADDR" || fail "a refused Release unlocked $T (permissive bus)"
stop_mlockd "$D"

(( strict )) || note "bus policy part ran on a permissive bus (no systemd/org.mlockd1.conf)"
exit 0
