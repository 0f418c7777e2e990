# Shared by tests/bus.sh and tests/mlockctl.sh (sourced after tests/lib.sh): a config directory
# with one policy for $TARGET, mlockd started on the private bus, and the kernel's view of a
# target's big anonymous mapping.

# This test's own copy of the target (tests/lib.sh made it): a policy matching the shared binary
# would also match, and ptrace, the targets of tests running in parallel.
TARGET=$MY_TARGET

# require_mlockd: skip until the daemon can run (the manager is merged).
require_mlockd() {
        "$MLOCKD" --help 2>/dev/null | grep -q -- --dry-run || skip "mlockd cannot lock yet"
        command -v busctl >/dev/null || skip "busctl not installed"
}

# make_config DIR: DIR/policy.d/test.conf matching $TARGET, lock on fault.
make_config() {
        mkdir -p "$1/policy.d"
        printf '[Match]\nExecutable=%s\n[Lock]\nMode=onfault\n' "$TARGET" >"$1/policy.d/test.conf"
}

# start_mlockd OUTVAR CONFIG_DIR: start the daemon on $DBUS_SYSTEM_BUS_ADDRESS, wait until it
# owns org.mlockd1. Its log goes to $TEST_TMP/mlockd.log.
start_mlockd() {
        local var=$1 dir=$2 pid
        require_root
        "$MLOCKD" --config-dir "$dir" 2>>"$TEST_TMP/mlockd.log" &
        pid=$!
        track_pid "$pid"
        wait_until 120 _mlockd_ready "$pid" || fail "mlockd never took org.mlockd1: $(tail -n 20 "$TEST_TMP/mlockd.log")"
        printf -v "$var" '%s' "$pid"
}

_mlockd_ready() {
        kill -0 "$1" 2>/dev/null || fail "mlockd died: $(tail -n 20 "$TEST_TMP/mlockd.log")"
        busctl --system status org.mlockd1 >/dev/null 2>&1
}

# stop_mlockd PID: SIGTERM, and it must exit cleanly.
stop_mlockd() {
        kill -TERM "$1"
        wait "$1" || fail "mlockd exited with status $? on SIGTERM: $(tail -n 20 "$TEST_TMP/mlockd.log")"
}

# anon_addr PID: the address of a target's anonymous mapping, from its ready line
# (start_target keeps the output in $TEST_TMP/target.*).
anon_addr() {
        sed -n "s/^ready pid=$1 anon=\(0x[0-9a-f]*\) .*/\1/p" "$TEST_TMP"/target.* | head -n1
}

# daemon_settled PID: the daemon has verified PID and recorded a final state. The kernel shows the
# lock a moment before (the verify step follows the last mlock2), so a test that compares the
# daemon's figures with smaps waits for this too.
daemon_settled() {
        busctl call org.mlockd1 /org/mlockd1 org.mlockd1.Manager GetTarget u "$1" 2>/dev/null |
                grep -qE '"(locked|partial[^"]*)"$'
}

# locked_at_least PID KB: smaps Locked: of PID is at least KB.
locked_at_least() {
        (( $(locked_kb "$1") >= $2 ))
}

# has_lo PID ADDR / no_lo PID ADDR: the mapping's VmFlags has (not) "lo".
has_lo() {
        [[ " $(vmflags_at "$1" "$2") " == *" lo "* ]]
}
no_lo() {
        ! has_lo "$@"
}

# A pid that is not in use: a child that has exited and been reaped.
dead_pid() {
        local pid
        sleep 0 &
        pid=$!
        wait "$pid"
        echo "$pid"
}

# Let uid 65534 reach the private bus's socket (mktemp -d makes $TEST_TMP 0700).
open_bus_to_nobody() {
        chmod 0755 "$TEST_TMP"
}

# expect_status STATUS CMD...: run CMD, its exit status must be STATUS; its output in
# $TEST_TMP/out and $TEST_TMP/err
expect_status() {
        local want=$1 got=0
        shift
        "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || got=$?
        (( got == want )) || fail "$*: exit status $got, expected $want: $(cat "$TEST_TMP/err")"
}
