#!/bin/bash
# mlockd in a PID namespace (a container, a pod without hostPID), where the kernel takes the proc
# connector's subscription and delivers nothing: mlockd notices at start (its own child's events
# never come), says so at warning, and scans /proc every ScanInterval=. Run under
# `unshare --pid --fork --mount-proc`, with mlockd, its bus client and the targets inside and the
# private bus outside (reached by its socket path):
#  - a process started after mlockd is locked within ScanInterval + 1 s (smaps VmFlags, status
#    VmLck), though no event announces it;
#  - one that exits leaves ListTargets within 1 s (its pidfd, not an event, says it is gone).
. "${top_srcdir:-.}/tests/lib.sh"

SCAN=2 # ScanInterval=, in seconds

if [[ ${1:-} != inside ]]; then
        require_root
        command -v unshare >/dev/null || skip "unshare not installed"
        if ! unshare --pid --fork --mount-proc true 2>"$TEST_TMP/unshare.err"; then
                skip "unshare --pid --fork --mount-proc refused: $(cat "$TEST_TMP/unshare.err")"
        fi
        start_private_bus
        rc=0
        unshare --pid --fork --mount-proc "$BASH" "$0" inside || rc=$?
        exit "$rc"
fi

# ---- inside the namespace: this shell is its pid 1 ----------------------------------------------
(( $$ == 1 )) || fail "not the first process of a new PID namespace (pid $$)"

write_daemon_conf "ScanInterval=${SCAN}s"
write_app_policy

start_mlockd
grep -q "The proc connector delivered no event" "$MLOCKD_LOG" ||
        { cat "$MLOCKD_LOG" >&2; fail "mlockd did not notice that the proc connector is silent here"; }
grep -q '^<4>.*proc connector delivered no event' "$MLOCKD_LOG" || fail "the fallback is not logged at warning"

vmlck_kb() {
        awk '/^VmLck:/ { print $2 }' "/proc/$1/status"
}
locked() {
        has_vmflags "$1" "$2" lo lf && (( $(vmlck_kb "$1") >= 4096 ))
}

# started after mlockd: only a scan can find it
start_my_target pid --anon 16M --touch 4M
addr=$(ready_field "$(target_output)" anon)
wait_until $((SCAN + 1)) locked "$pid" "$addr" ||
        { cat "$MLOCKD_LOG" >&2; fail "process $pid was not locked within ScanInterval + 1 s (VmFlags: $(vmflags_at "$pid" "$addr"), VmLck: $(vmlck_kb "$pid") kB)"; }
wait_until 10 listed "$pid" || fail "process $pid is locked but not listed: $("$MLOCKCTL" targets --json)"
assert_unharmed "$pid"
note "process $pid found by a scan and locked: VmLck $(vmlck_kb "$pid") kB"

# a second one, to be sure the first was no accident of start-up timing
start_my_target pid2 --anon 16M --touch 4M
addr2=$(ready_field "$(target_output)" anon)
wait_until $((SCAN + 1)) locked "$pid2" "$addr2" || fail "process $pid2 was not locked within ScanInterval + 1 s"
wait_until 10 listed "$pid2" || fail "process $pid2 not listed"

# the first one exits: gone from ListTargets within 1 s, well before the next scan could tell
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
wait_until 1 eval '! listed '"$pid" || fail "process $pid still listed 1 s after it exited: $("$MLOCKCTL" targets --json)"
listed "$pid2" || fail "process $pid2 left ListTargets with the other"
assert_mlockd_alive
stop_mlockd
exit 0
