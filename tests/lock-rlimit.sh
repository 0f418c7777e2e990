#!/bin/bash
# An unprivileged target (uid 65534, RLIMIT_MEMLOCK 8 MiB) cannot have 64 MiB locked: mlockd
# raises the limit when it holds CAP_SYS_RESOURCE, and otherwise locks what fits and reports
# partial:rlimit. Either way the target is alive, unharmed, and can still map memory (MCL_FUTURE
# was not injected under the limit).
. "${top_srcdir:-.}/tests/lib.sh"
command -v setpriv >/dev/null || skip "setpriv not installed"
command -v prlimit >/dev/null || skip "prlimit not installed"

write_policy nobody "[Match]
Executable=$MY_TARGET
User=65534
[Lock]
Mode=onfault
Regions=all
Future=yes"

start_mlockd
out=$TEST_TMP/target.nobody
prlimit --memlock=$((8 * 1024 * 1024)) -- setpriv --reuid=65534 --regid=65534 --clear-groups \
        --inh-caps=-all -- "$MY_TARGET" --anon 64M --touch 4M --mode mmap >"$out" 2>&1 &
pid=$!
track_pid "$pid"
wait_until 10 grep -q '^ready' "$out" || fail "target did not start: $(cat "$out")"

wait_until 15 grep -Eq "Process $pid \(.*\), policy nobody: (locked|partial:rlimit)" "$MLOCKD_LOG" ||
        fail "no final state for the unprivileged target: $(grep "Process $pid" "$MLOCKD_LOG")"
vmlck=$(awk '/^VmLck:/ { print $2 }' "/proc/$pid/status")
if have_cap_sys_resource; then
        grep -q "policy nobody: locked" "$MLOCKD_LOG" || fail "limit not raised although we hold CAP_SYS_RESOURCE"
else
        grep -q "policy nobody: partial:rlimit" "$MLOCKD_LOG" || fail "expected partial:rlimit"
        (( vmlck > 0 && vmlck <= 8192 )) || fail "VmLck $vmlck kB is not within the 8 MiB limit"
fi

# its own allocations still work: no MCL_FUTURE under a finite limit
kill -USR1 "$pid"
wait_until 5 grep -q '^mmap' "$out" || fail "target did not answer"
grep -q '^mmap=' "$out" || fail "the target's own mmap failed after locking: $(cat "$out")"
assert_unharmed "$pid"
assert_mlockd_alive
stop_mlockd
