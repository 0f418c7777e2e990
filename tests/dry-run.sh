#!/bin/bash
# mlockd --dry-run beside a running daemon: it needs no bus name and takes none, touches no
# process (the kernel's VmFlags and smaps say so), prints per process the policy and the plan
# with its trims, and exits 0; --json=short|pretty parse.
. "${top_srcdir:-.}/tests/lib.sh"
command -v python3 >/dev/null || skip "python3 not installed"

write_app_policy
start_mlockd
start_my_target locked_pid --anon 16M --touch 4M
addr=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$locked_pid" "$addr" lo lf || fail "the daemon did not lock its target"

# a second configuration that the daemon does not read: a policy for another copy of the target
other=$TEST_TMP/other-target
cp "$MY_TARGET" "$other"
mkdir -p "$TEST_TMP/plan/policy.d"
printf '[Match]\nExecutable=%s\n[Lock]\nMode=full\nRegions=anon\n[Limits]\nMaxLocked=8M\n' "$other" \
        >"$TEST_TMP/plan/policy.d/other.conf"
TARGET=$other start_target pid --anon 32M --touch 16M
addr2=$(ready_field "$(target_output)" anon)

rc=0
timeout 60 "$MLOCKD" --dry-run --config-dir "$TEST_TMP/plan" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
cat "$TEST_TMP/out" "$TEST_TMP/err"
(( rc == 0 )) || fail "--dry-run beside a running daemon exited $rc"
grep -qE "^ *$pid +other-target +other +full +8(\.0)?M +[0-9.]+M +[1-9][0-9]* +limit( |$)" "$TEST_TMP/out" ||
        fail "--dry-run does not show the plan trimmed to MaxLocked=: $(cat "$TEST_TMP/out")"
grep -q "Dry run: nothing was touched." "$TEST_TMP/out" || fail "no summary"
! grep -q "org.mlockd1" "$TEST_TMP/err" || fail "--dry-run spoke to the bus: $(cat "$TEST_TMP/err")"

# nothing was touched: no lock flags, nothing locked, not stopped or traced
lacks_vmflag "$pid" "$addr2" lo || fail "--dry-run locked its target"
(( $(locked_kb "$pid") == 0 )) || fail "--dry-run: $(locked_kb "$pid") kB locked"
assert_unharmed "$pid"
# the daemon is still there, with its name and its lock
assert_mlockd_alive
busctl --system status org.mlockd1 >/dev/null 2>&1 || fail "the daemon lost its bus name"
has_vmflags "$locked_pid" "$addr" lo lf || fail "the daemon's lock is gone"

# named PIDs: each one listed, matched or not
timeout 60 "$MLOCKD" --dry-run --config-dir "$TEST_TMP/plan" "$pid" "$locked_pid" >"$TEST_TMP/out" 2>&1 ||
        fail "--dry-run PID failed"
grep -qE "^ *$locked_pid +target-dry-run +0B +0B +0 +no policy matches" "$TEST_TMP/out" ||
        fail "an unmatched PID is not listed: $(cat "$TEST_TMP/out")"

for mode in short pretty; do
        timeout 60 "$MLOCKD" --dry-run --json=$mode --config-dir "$TEST_TMP/plan" "$pid" >"$TEST_TMP/out" ||
                fail "--dry-run --json=$mode failed"
        python3 - "$TEST_TMP/out" "$pid" <<'PY' || fail "--dry-run --json=$mode: $(cat "$TEST_TMP/out")"
import json, sys
rows = json.load(open(sys.argv[1]))
r = [x for x in rows if x["pid"] == int(sys.argv[2])][0]
assert r["policy"] == "other" and r["mode"] == "full", r
assert r["lock_bytes"] == 8 << 20 and r["wanted_bytes"] >= 32 << 20 and r["trimmed"] == "limit", r
PY
done

lacks_vmflag "$pid" "$addr2" lo || fail "--dry-run locked its target"
stop_mlockd
