#!/bin/bash
# mlockctl and busctl against the real bus code (daemon/manager-bus.c, manager_bus_connect) on a
# private dbus-daemon, with the manager stubbed (tests/test-manager-bus --serve, fixed rows): runs
# before the daemon exists. Checks the tables, --json, exit codes, the access check with the
# credentials dbus-daemon reports, and that a second owner of org.mlockd1 fails clearly.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/bus-lib.sh"

SERVER=$top_builddir/tests/test-manager-bus
[[ -x $SERVER ]] || skip "$SERVER not built"
command -v busctl >/dev/null || skip "busctl not installed"
command -v python3 >/dev/null || skip "python3 not installed"
require_root

start_private_bus permissive
open_bus_to_nobody
"$SERVER" --serve 2>"$TEST_TMP/server.log" &
S=$!
track_pid "$S"
wait_until 60 busctl --system status org.mlockd1 >/dev/null 2>&1 || fail "stub server never took org.mlockd1"

# A second owner is refused, and says why
expect_status 1 "$SERVER" --serve
grep -q "org.mlockd1 is already owned" "$TEST_TMP/err" || fail "second owner: $(cat "$TEST_TMP/err")"

# Signatures as busctl sees them
busctl --system introspect org.mlockd1 /org/mlockd1 org.mlockd1.Manager >"$TEST_TMP/introspect" ||
        fail "introspect failed"
for row in ".Apply method u s" ".GetTarget method u usssts" ".ListCgroups method - a(stttt)" \
           ".ListPolicies method - a(sssut)" ".ListTargets method - a(usssts)" ".Release method u -" \
           ".Reload method - -" ".LockedBytes property t" ".Version property s" \
           ".BudgetExceeded signal stt" ".TargetChanged signal us"; do
        awk '{ $0 = $0 }; 1' "$TEST_TMP/introspect" | tr -s ' ' | grep -qF "$row" || fail "introspect lacks '$row'"
done

# Tables
expect_status 0 "$MLOCKCTL" targets
grep -qE "^4242 redis-server redis +16M partial:rlimit /system.slice/redis.service$" "$TEST_TMP/out" ||
        fail "targets: $(cat "$TEST_TMP/out")"
grep -qE "^4300 jackd +audio +4K pending$" "$TEST_TMP/out" || fail "targets (no trailing blanks): $(cat "$TEST_TMP/out")"
grep -qx "2 targets listed." "$TEST_TMP/out" || fail "targets footer: $(cat "$TEST_TMP/out")"
expect_status 0 "$MLOCKCTL" cgroups
grep -qE "^/user.slice +4K +4K +- +0B$" "$TEST_TMP/out" || fail "cgroups: $(cat "$TEST_TMP/out")"
grep -qE "^/system.slice/redis.service +20M +16M +1G +2M$" "$TEST_TMP/out" || fail "cgroups: $(cat "$TEST_TMP/out")"
expect_status 0 "$MLOCKCTL" --no-legend policies
[[ $(wc -l <"$TEST_TMP/out") == 2 ]] || fail "--no-legend policies: $(cat "$TEST_TMP/out")"
expect_status 0 "$MLOCKCTL" status
grep -qE "^Version: [0-9]" "$TEST_TMP/out" ||
        fail "status: $(cat "$TEST_TMP/out")"
grep -qx " Locked: 16M in 2 targets" "$TEST_TMP/out" || fail "status: $(cat "$TEST_TMP/out")"

# JSON parses, sizes in bytes
for cmd in status targets cgroups policies; do
        expect_status 0 "$MLOCKCTL" --json "$cmd"
        python3 -m json.tool "$TEST_TMP/out" >/dev/null || fail "--json $cmd: $(cat "$TEST_TMP/out")"
done
expect_status 0 "$MLOCKCTL" --json status
[[ $(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["locked_bytes"], d["targets"], len(d["policies"]))' \
        "$TEST_TMP/out") == "16781312 2 2" ]] || fail "--json status: $(cat "$TEST_TMP/out")"

# Actions and exit codes (the stub: 4242 locks, 1 refused, 4243 unmatched, others unknown)
expect_status 0 "$MLOCKCTL" apply 4242
grep -qx "4242: locked" "$TEST_TMP/out" || fail "apply: $(cat "$TEST_TMP/out")"
expect_status 1 "$MLOCKCTL" apply 1
grep -q "^1: skipped:pid1: " "$TEST_TMP/err" || fail "apply 1: $(cat "$TEST_TMP/err")"
expect_status 5 "$MLOCKCTL" apply 4243
expect_status 5 "$MLOCKCTL" apply 5555
expect_status 5 "$MLOCKCTL" release 5555
expect_status 0 "$MLOCKCTL" release 4242
expect_status 0 "$MLOCKCTL" reload
expect_status 1 "$MLOCKCTL" reload       # the stub's second reload finds problems
grep -q "bad.conf:3: Unknown key 'Foo'" "$TEST_TMP/err" || fail "reload: $(cat "$TEST_TMP/err")"

# uid 65534: reads, is refused the rest (the credentials come from dbus-daemon)
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
expect_status 0 "${NOBODY[@]}" "$MLOCKCTL" targets
expect_status 4 "${NOBODY[@]}" "$MLOCKCTL" apply 4242
expect_status 4 "${NOBODY[@]}" "$MLOCKCTL" release 4242
expect_status 4 "${NOBODY[@]}" "$MLOCKCTL" reload

# Malformed calls get errors, the server stays up (the 500-call flood is in test-manager-bus
# and tests/bus.sh)
busctl --system call org.mlockd1 /org/mlockd1 org.mlockd1.Manager Apply s 4242 2>/dev/null && fail "Apply(s) succeeded"
for i in $(seq 1 50); do
        busctl --system call org.mlockd1 /org/mlockd1 org.mlockd1.Manager GetTarget u $((4194305 + i)) 2>/dev/null &&
                fail "GetTarget $((4194305 + i)) succeeded"
done
kill -0 "$S" || fail "the server died"
expect_status 0 "$MLOCKCTL" targets

kill -TERM "$S"
wait "$S" || fail "the server exited with $?: $(cat "$TEST_TMP/server.log")"
expect_status 3 "$MLOCKCTL" status
grep -qF "mlockd is not running (org.mlockd1 is not on the system bus)." "$TEST_TMP/err" || fail "$(cat "$TEST_TMP/err")"

# A host without a memory controller: no figures where none were measured
STUB_NO_MEMORY_CONTROLLER=1 "$SERVER" --serve 2>>"$TEST_TMP/server.log" &
S=$!
track_pid "$S"
wait_until 60 busctl --system status org.mlockd1 >/dev/null 2>&1 || fail "stub server never took org.mlockd1"
expect_status 0 "$MLOCKCTL" cgroups
grep -q "no memory cgroup controller" "$TEST_TMP/out" || fail "cgroups without a controller: $(cat "$TEST_TMP/out")"
! grep -q "/user.slice" "$TEST_TMP/out" || fail "cgroups without a controller showed figures"
expect_status 0 "$MLOCKCTL" --json cgroups
[[ $(cat "$TEST_TMP/out") == "[]" ]] || fail "--json cgroups without a controller: $(cat "$TEST_TMP/out")"
kill -TERM "$S"
wait "$S" || fail "the server exited with $?"
exit 0
