#!/bin/bash
# mlockctl as a user and a script see it: usage errors and their exit codes, a clear message and
# exit 3 when mlockd is not running (these parts run without the daemon), then against mlockd on
# a private bus: tables, --json that parses, apply/release seen in the kernel's VmFlags, and the
# documented exit codes for access denied (4), no such process (5) and a refused reload (1).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/bus-lib.sh"

# ---- without the daemon ----------------------------------------------------------------------------
expect_status 0 "$MLOCKCTL" --help
grep -q 'Exit status' "$TEST_TMP/out" || fail "--help does not document exit codes"
expect_status 0 "$MLOCKCTL" --version
grep -qx "mlockctl [0-9].*" "$TEST_TMP/out" || fail "--version: $(cat "$TEST_TMP/out")"
expect_status 2 "$MLOCKCTL" frobnicate
grep -q "Unknown command 'frobnicate'" "$TEST_TMP/err" || fail "unknown command: $(cat "$TEST_TMP/err")"
expect_status 2 "$MLOCKCTL" --frobnicate status
expect_status 2 "$MLOCKCTL" apply
expect_status 2 "$MLOCKCTL" apply 12x
expect_status 2 "$MLOCKCTL" apply 0
expect_status 2 "$MLOCKCTL" apply 4194305
expect_status 2 "$MLOCKCTL" release -- -1
expect_status 2 "$MLOCKCTL" reload now

# No bus at all
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$TEST_TMP/nothing-here expect_status 3 "$MLOCKCTL" status
grep -q 'mlockd is not running' "$TEST_TMP/err" || fail "no bus: $(cat "$TEST_TMP/err")"

# --json=MODE as systemd has it; a bad mode is a usage error
expect_status 2 "$MLOCKCTL" --json=bogus targets
grep -q "Invalid --json= mode 'bogus'" "$TEST_TMP/err" || fail "--json=bogus: $(cat "$TEST_TMP/err")"
expect_status 2 "$MLOCKCTL" explain
expect_status 2 "$MLOCKCTL" status 1 2

# A bus where activating org.mlockd1 fails (as with a masked unit, where systemd refuses to start
# it and dbus-daemon passes the error on): unreachable, 3, with the reason
mkdir -p "$TEST_TMP/services"
printf '[D-BUS Service]\nName=org.mlockd1\nExec=/bin/false\nUser=root\n' >"$TEST_TMP/services/org.mlockd1.service"
cat >"$TEST_TMP/activation.conf" <<END
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$TEST_TMP/activation.socket</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$TEST_TMP/services</servicedir>
  <policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>
    <allow receive_type="method_call"/><allow receive_type="method_return"/><allow receive_type="error"/>
    <allow receive_type="signal"/></policy>
</busconfig>
END
if command -v dbus-daemon >/dev/null; then
        dbus-daemon --config-file="$TEST_TMP/activation.conf" --fork --print-pid=4 4>"$TEST_TMP/activation.pid" ||
                fail "no activation bus"
        track_pid "$(cat "$TEST_TMP/activation.pid")"
        DBUS_SYSTEM_BUS_ADDRESS=unix:path=$TEST_TMP/activation.socket expect_status 3 "$MLOCKCTL" targets
        grep -q "mlockd is not running (org.mlockd1 is not on the system bus): " "$TEST_TMP/err" ||
                fail "failed activation: $(cat "$TEST_TMP/err")"
fi

# A bus without mlockd
start_private_bus permissive
open_bus_to_nobody
for cmd in status targets cgroups policies "apply 1" "release 1" reload; do
        # shellcheck disable=SC2086
        expect_status 3 "$MLOCKCTL" $cmd
        grep -qF 'mlockd is not running (org.mlockd1 is not on the system bus)' "$TEST_TMP/err" ||
                fail "mlockctl $cmd without mlockd: $(cat "$TEST_TMP/err")"
        [[ ! -s $TEST_TMP/out ]] || fail "mlockctl $cmd without mlockd printed: $(cat "$TEST_TMP/out")"
done
expect_status 3 "$MLOCKCTL" --json targets
[[ ! -s $TEST_TMP/out ]] || fail "--json printed something on failure"

# ---- with the daemon -------------------------------------------------------------------------------
require_mlockd
command -v python3 >/dev/null || skip "python3 not installed"

CONF=$TEST_TMP/conf
make_config "$CONF"
start_target T --anon 64M --touch 16M
ADDR=$(anon_addr "$T")
start_mlockd D "$CONF"
wait_until 120 locked_at_least "$T" 16384 || fail "target $T was never locked"
wait_until 30 daemon_settled "$T" || fail "the daemon never recorded a final state for $T"

# Tables
expect_status 0 "$MLOCKCTL" targets
grep -qE "^ *PID +COMM +POLICY +LOCKED +STATE +CGROUP" "$TEST_TMP/out" || fail "targets header: $(cat "$TEST_TMP/out")"
grep -qE "^ *$T +target[-a-z]* +test +[0-9.]+M +(locked|partial)" "$TEST_TMP/out" ||
        fail "targets lacks $T: $(cat "$TEST_TMP/out")"
grep -qE "^[0-9]+ targets? listed\.$" "$TEST_TMP/out" || fail "targets footer: $(cat "$TEST_TMP/out")"
expect_status 0 "$MLOCKCTL" --no-legend --no-pager targets
! grep -q "PID" "$TEST_TMP/out" || fail "--no-legend printed a header"
! grep -q "listed" "$TEST_TMP/out" || fail "--no-legend printed a footer"
expect_status 0 "$MLOCKCTL" policies
grep -qE "^test +onfault +[1-9][0-9]* +[0-9.]+M +$CONF/policy.d/test.conf$" "$TEST_TMP/out" ||
        fail "policies: $(cat "$TEST_TMP/out")"
expect_status 0 "$MLOCKCTL" cgroups
grep -qE "^CGROUP +UNEVICTABLE +LOCKED +BUDGET +FOREIGN$" "$TEST_TMP/out" || fail "cgroups: $(cat "$TEST_TMP/out")"
expect_status 0 "$MLOCKCTL" status
grep -qx "Version: $("$MLOCKD" --version | awk '{ print $2 }')" "$TEST_TMP/out" || fail "status: $(cat "$TEST_TMP/out")"
grep -qE "^ Locked: [0-9.]+[MG] in [1-9][0-9]* targets?$" "$TEST_TMP/out" || fail "status: $(cat "$TEST_TMP/out")"
grep -qE "^test +onfault " "$TEST_TMP/out" || fail "status lacks the policy: $(cat "$TEST_TMP/out")"

# JSON: one document per command, and it parses; the figures are the bus's, in bytes
for cmd in status targets cgroups policies; do
        expect_status 0 "$MLOCKCTL" --json "$cmd"
        python3 -m json.tool "$TEST_TMP/out" >/dev/null || fail "mlockctl --json $cmd: $(cat "$TEST_TMP/out")"
done
expect_status 0 "$MLOCKCTL" --json targets
bytes=$(python3 -c "import json, sys; print([t['locked_bytes'] for t in json.load(open(sys.argv[1])) if t['pid'] == $T][0])" "$TEST_TMP/out")
kernel=$(( $(kernel_locked_kb "$T") * 1024 ))
(( bytes - kernel <= 1 << 20 && kernel - bytes <= 1 << 20 )) || fail "--json says $bytes bytes, the kernel $kernel"

# release / apply, as the kernel sees them
expect_status 0 "$MLOCKCTL" release "$T"
wait_until 30 no_lo "$T" "$ADDR" || fail "release left lo: $(vmflags_at "$T" "$ADDR")"
expect_status 0 "$MLOCKCTL" --json apply "$T"
python3 -m json.tool "$TEST_TMP/out" >/dev/null || fail "apply --json: $(cat "$TEST_TMP/out")"
wait_until 60 locked_at_least "$T" 16384 || fail "apply did not lock $T again"
has_lo "$T" "$ADDR" || fail "apply: no lo on $ADDR"

# --json=pretty and --json=short: the same document, indented or on one line; --json=off: tables
expect_status 0 "$MLOCKCTL" --json=short targets
[[ $(wc -l <"$TEST_TMP/out") -eq 1 ]] || fail "--json=short is not one line: $(cat "$TEST_TMP/out")"
cp "$TEST_TMP/out" "$TEST_TMP/short"
expect_status 0 "$MLOCKCTL" --json=pretty targets
(( $(wc -l <"$TEST_TMP/out") > 3 )) || fail "--json=pretty is not indented: $(cat "$TEST_TMP/out")"
grep -q '^  {$' "$TEST_TMP/out" || fail "--json=pretty: $(cat "$TEST_TMP/out")"
[[ $(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])) == json.load(open(sys.argv[2])))' \
        "$TEST_TMP/out" "$TEST_TMP/short") == True ]] || fail "--json=pretty and short differ"
expect_status 0 "$MLOCKCTL" --json=off targets
grep -qE "^ *PID +COMM" "$TEST_TMP/out" || fail "--json=off did not print a table"

# status PID: the target in full, the kernel's figure
expect_status 0 "$MLOCKCTL" status "$T"
cat "$TEST_TMP/out"
grep -qE "^ +PID: $T \(target" "$TEST_TMP/out" || fail "status PID: $(cat "$TEST_TMP/out")"
grep -qx "Executable: $TARGET" "$TEST_TMP/out" || fail "status PID lacks the executable: $(cat "$TEST_TMP/out")"
grep -qx "    Policy: test" "$TEST_TMP/out" || fail "status PID lacks the policy"
grep -qE "^     State: (locked|partial \([a-z:-]+\))$" "$TEST_TMP/out" || fail "status PID state: $(cat "$TEST_TMP/out")"
grep -qE "^    Locked: [0-9.]+M " "$TEST_TMP/out" || fail "status PID locked"
grep -qE "^    Cgroup: /" "$TEST_TMP/out" || fail "status PID cgroup"
grep -qE "^    Budget: " "$TEST_TMP/out" || fail "status PID budget"
grep -qE "^ Last lock: held the process at most [0-9.]+(us|ms|s) in one step \(MaxPause=5ms\)" "$TEST_TMP/out" ||
        fail "status PID hold: $(cat "$TEST_TMP/out")"
for mode in short pretty; do
        expect_status 0 "$MLOCKCTL" --json=$mode status "$T"
        python3 - "$TEST_TMP/out" "$T" "$(( $(kernel_locked_kb "$T") * 1024 ))" "$(( $(locked_kb "$T") * 1024 ))" <<'PY' || fail "status PID --json=$mode: $(cat "$TEST_TMP/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pid"] == int(sys.argv[2]), d
# smaps Locked: beside the per-page figure
assert abs(d["smaps_locked_bytes"] - int(sys.argv[4])) <= 1 << 20, d
assert d["policy"] == "test", d
assert d["status"] in ("locked", "partial"), d
assert d["state"].startswith(d["status"]), d
assert abs(d["locked_bytes"] - int(sys.argv[3])) <= 1 << 20, d
assert d["cgroup"].startswith("/"), d
assert d["max_pause_usec"] == 5000, d
for k in ("budget_bytes", "max_hold_usec", "reason", "exe", "cgroup_accounted"):
        assert k in d, k
PY
done
expect_status 5 "$MLOCKCTL" status $$
grep -q "is not a target" "$TEST_TMP/err" || fail "status of a non-target: $(cat "$TEST_TMP/err")"

# explain PID: every policy, every key, the process's value and whether it held
expect_status 0 "$MLOCKCTL" explain "$T"
cat "$TEST_TMP/out"
grep -qx "Process $T matches policy test (the first that matches wins)." "$TEST_TMP/out" || fail "explain: $(cat "$TEST_TMP/out")"
grep -qx "MATCH test ($CONF/policy.d/test.conf)" "$TEST_TMP/out" || fail "explain lacks the policy line"
grep -qx "  held   Executable=$TARGET" "$TEST_TMP/out" || fail "explain lacks the key"
grep -qx "         the process: $TARGET" "$TEST_TMP/out" || fail "explain lacks the value"
expect_status 0 "$MLOCKCTL" explain $$
grep -qx "Process $$ matches no policy." "$TEST_TMP/out" || fail "explain of a shell: $(cat "$TEST_TMP/out")"
grep -qx "no    test ($CONF/policy.d/test.conf)" "$TEST_TMP/out" || fail "explain: $(cat "$TEST_TMP/out")"
grep -qx "  failed Executable=$TARGET" "$TEST_TMP/out" || fail "explain lacks the failed key"
grep -qx "         the process: $(readlink /proc/$$/exe)" "$TEST_TMP/out" || fail "explain lacks the shell's exe"
for mode in short pretty; do
        expect_status 0 "$MLOCKCTL" --json=$mode explain $$
        python3 - "$TEST_TMP/out" "$$" "$(readlink /proc/$$/exe)" <<'PY' || fail "explain --json=$mode: $(cat "$TEST_TMP/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pid"] == int(sys.argv[2]) and d["policy"] is None, d
p = [x for x in d["policies"] if x["name"] == "test"][0]
assert p["matched"] is False, p
k = p["keys"][0]
assert k["key"] == "Executable" and k["held"] is False and k["value"] == sys.argv[3], k
PY
done
expect_status 0 "$MLOCKCTL" --json explain "$T"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["policy"] == "test" and d["policies"][0]["keys"][0]["held"]' \
        "$TEST_TMP/out" || fail "explain --json of the target: $(cat "$TEST_TMP/out")"
expect_status 5 "$MLOCKCTL" explain "$(dead_pid)"
expect_status 0 setpriv --reuid=65534 --regid=65534 --clear-groups "$MLOCKCTL" explain "$T"
expect_status 0 setpriv --reuid=65534 --regid=65534 --clear-groups "$MLOCKCTL" status "$T"

# apply refused (mlockd never touches itself): exit 1, "PID: STATE: message"
expect_status 1 "$MLOCKCTL" apply "$D"
grep -q "^$D: skipped:self: " "$TEST_TMP/err" || fail "apply of a refused target: $(cat "$TEST_TMP/err")"
expect_status 1 "$MLOCKCTL" --json apply "$D"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["state"] == "skipped:self" and d["message"], d' \
        "$TEST_TMP/out" || fail "apply --json of a refused target: $(cat "$TEST_TMP/out")"

# exit codes scripts rely on
expect_status 5 "$MLOCKCTL" apply "$(dead_pid)"
expect_status 5 "$MLOCKCTL" release "$(dead_pid)"
expect_status 5 "$MLOCKCTL" apply $$            # matches no policy
expect_status 4 setpriv --reuid=65534 --regid=65534 --clear-groups "$MLOCKCTL" release "$T"
grep -qx "Access denied: this needs root." "$TEST_TMP/err" || fail "access denied: $(cat "$TEST_TMP/err")"
expect_status 4 setpriv --reuid=65534 --regid=65534 --clear-groups "$MLOCKCTL" reload
grep -qx "Access denied: this needs root." "$TEST_TMP/err" || fail "access denied: $(cat "$TEST_TMP/err")"
expect_status 4 setpriv --reuid=65534 --regid=65534 --clear-groups "$MLOCKCTL" apply "$T"
! grep -q "Rejected send message" "$TEST_TMP/err" || fail "dbus-daemon's text shown: $(cat "$TEST_TMP/err")"
expect_status 0 setpriv --reuid=65534 --regid=65534 --clear-groups "$MLOCKCTL" targets
has_lo "$T" "$ADDR" || fail "a refused release unlocked $T"

printf '[Match]\nExecutable=%s\n[Lock]\nMode=sometimes\n' "$TARGET" >"$CONF/policy.d/broken.conf"
expect_status 1 "$MLOCKCTL" reload
grep -q "broken.conf:4" "$TEST_TMP/err" || fail "reload does not say what is wrong: $(cat "$TEST_TMP/err")"
rm "$CONF/policy.d/broken.conf"
expect_status 0 "$MLOCKCTL" reload

stop_mlockd "$D"
expect_status 3 "$MLOCKCTL" status
exit 0
