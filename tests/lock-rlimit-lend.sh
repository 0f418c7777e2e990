#!/bin/bash
# Limits that cannot be borrowed (issue 14). RaiseMemlockLimit= raises only the soft RLIMIT_MEMLOCK,
# never above the hard one, never the hard one itself, and puts the soft one back once the lock is
# done, the lock staying. A process not running as root is lent nothing when its policy matches on
# what any user can satisfy (here Executable=: a copy of the program): partial:rlimit, its limits
# as they were, and mlockd does not even ask. (Raising a soft limit up to the hard one needs no
# CAP_SYS_RESOURCE for a process of our own uid, so the root targets here run on any host; the
# root targets have CAP_IPC_LOCK taken away, which would otherwise lift the limit.)
. "${top_srcdir:-.}/tests/lib.sh"
require_root # its targets run as other users (setpriv), before start_mlockd would check
command -v setpriv >/dev/null || skip "setpriv not installed"
command -v prlimit >/dev/null || skip "prlimit not installed"

MiB=$((1024 * 1024))
write_policy lend "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon"

# limits PID: "SOFT HARD" of RLIMIT_MEMLOCK, read back from the kernel (/proc/PID/limits: prlimit(2)
# on another user's process needs CAP_SYS_RESOURCE even to read)
limits() { awk '/^Max locked memory/ { print $4, $5 }' "/proc/$1/limits"; }
vmlck_kb() { awk '/^VmLck:/ { print $2 }' "/proc/$1/status"; }
final_state() {
        wait_until 20 grep -Eq "Process $1 \(.*\), policy lend: (locked|partial|failed|skipped)" "$MLOCKD_LOG" ||
                { cat "$MLOCKD_LOG" >&2; fail "no final state for $1"; }
        grep -Eo "Process $1 \(.*\), policy lend: [a-z:_-]+" "$MLOCKD_LOG" | tail -n1 | sed 's/.*: //'
}
start_limited() { # OUTVAR SOFT HARD [setpriv args] -- target args
        local var=$1 soft=$2 hard=$3 out p
        shift 3
        out=$(mktemp "$TEST_TMP/target.XXXXXX")
        prlimit --memlock="$soft:$hard" setpriv "$@" >"$out" 2>&1 &
        p=$!
        track_pid "$p"
        wait_until 10 grep -q '^ready' "$out" || fail "target did not start: $(cat "$out")"
        printf -v "$var" '%s' "$p"
}

# root, 4 MiB to lock under a soft limit of 1 MiB and a hard one of 8 MiB: lent up to 8 MiB, then
# the soft limit back to 1 MiB, the 4 MiB staying locked
start_limited fits $MiB $((8 * MiB)) --bounding-set=-ipc_lock "$MY_TARGET" --anon 4M --touch 4M
# root, 16 MiB under a hard limit of 8 MiB: the hard limit is the ceiling, not raised
start_limited big $MiB $((8 * MiB)) --bounding-set=-ipc_lock "$MY_TARGET" --anon 16M --touch 16M
# nobody, matched by Executable= only: nothing lent, not even asked for
start_limited nobody $MiB $((8 * MiB)) --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
        "$MY_TARGET" --anon 4M --touch 4M
for p in "$fits" "$big" "$nobody"; do
        [[ $(limits "$p") == "$MiB $((8 * MiB))" ]] || fail "target $p did not start with 1M:8M: $(limits "$p")"
done
start_mlockd --log-level=debug

[[ $(final_state "$fits") == locked ]] || fail "4M under a hard limit of 8M: $(final_state "$fits")"
grep -q "Raised RLIMIT_MEMLOCK of $fits .*putting back $MiB" "$MLOCKD_LOG" || fail "the raise was not logged"
wait_until 5 eval '[[ $(limits "$fits") == "$MiB $((8 * MiB))" ]]' ||
        fail "limits after the lock are $(limits "$fits"), expected the soft one back at 1M and the hard one as it was"
(( $(vmlck_kb "$fits") >= 4096 )) || fail "the lock did not stay after the limit went back: VmLck $(vmlck_kb "$fits") kB"

[[ $(final_state "$big") == partial:rlimit ]] || fail "16M under a hard limit of 8M: $(final_state "$big")"
wait_until 5 eval '[[ $(limits "$big") == "$MiB $((8 * MiB))" ]]' || fail "limits afterwards: $(limits "$big")"
vm=$(vmlck_kb "$big")
(( vm > 1024 && vm <= 8192 )) || fail "VmLck $vm kB: expected what fits under the 8 MiB hard limit"

[[ $(final_state "$nobody") == partial:rlimit ]] || fail "nobody: $(final_state "$nobody")"
[[ $(limits "$nobody") == "$MiB $((8 * MiB))" ]] || fail "nobody's limits changed: $(limits "$nobody")"
(( $(vmlck_kb "$nobody") <= 1024 )) || fail "nobody got $(vmlck_kb "$nobody") kB locked under a 1 MiB limit"
! grep -q "RLIMIT_MEMLOCK of $nobody" "$MLOCKD_LOG" || fail "mlockd tried to lend nobody a limit: $(grep "RLIMIT_MEMLOCK of $nobody" "$MLOCKD_LOG")"

assert_unharmed "$fits"
assert_unharmed "$big"
assert_unharmed "$nobody"
assert_mlockd_alive
stop_mlockd
