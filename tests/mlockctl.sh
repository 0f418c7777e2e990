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
grep -qE "^CGROUP +UNEVICTABLE +LOCKED +BUDGET$" "$TEST_TMP/out" || fail "cgroups: $(cat "$TEST_TMP/out")"
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
kernel=$(( $(locked_kb "$T") * 1024 ))
(( bytes - kernel <= 1 << 20 && kernel - bytes <= 1 << 20 )) || fail "--json says $bytes bytes, smaps $kernel"

# release / apply, as the kernel sees them
expect_status 0 "$MLOCKCTL" release "$T"
wait_until 30 no_lo "$T" "$ADDR" || fail "release left lo: $(vmflags_at "$T" "$ADDR")"
expect_status 0 "$MLOCKCTL" --json apply "$T"
python3 -m json.tool "$TEST_TMP/out" >/dev/null || fail "apply --json: $(cat "$TEST_TMP/out")"
wait_until 60 locked_at_least "$T" 16384 || fail "apply did not lock $T again"
has_lo "$T" "$ADDR" || fail "apply: no lo on $ADDR"

# exit codes scripts rely on
expect_status 5 "$MLOCKCTL" apply "$(dead_pid)"
expect_status 5 "$MLOCKCTL" release "$(dead_pid)"
expect_status 5 "$MLOCKCTL" apply $$            # matches no policy
expect_status 4 setpriv --reuid=65534 --regid=65534 --clear-groups "$MLOCKCTL" release "$T"
expect_status 4 setpriv --reuid=65534 --regid=65534 --clear-groups "$MLOCKCTL" reload
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
