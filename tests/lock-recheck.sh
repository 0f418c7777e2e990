#!/bin/bash
# The accounting tick looks again only at targets whose mapped size moved (VmSize, one read of a
# statm file the manager keeps open) and, for a lock on fault, only where the target's memory
# cgroup's figures moved: the target is in a memory cgroup of its own, and while it is idle a tick
# samples nothing of it, reads no smaps through the injector and no status (VmLck); once it maps
# and touches more, the tick samples it, plans again and locks the new mapping.
. "${top_srcdir:-.}/tests/lib.sh"
require_root
command -v strace >/dev/null || skip "strace is not installed (it counts the injector's smaps reads)"

write_daemon_conf "AccountingInterval=200ms"
write_app_policy grow

cg=$(make_test_memcg "mlockd-recheck-$$")
start_mlockd --log-level=debug
TARGET=$(cgroup_wrapper "$cg") start_target pid "$MY_TARGET" --anon 8M --touch 2M --mode mmap
addr=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not locked"
wait_until 10 grep -q "Process $pid (.*), policy grow: locked" "$MLOCKD_LOG" || fail "no locked state line"
sleep 0.5 # the first tick after the lock looks once, to learn the size

# idle: over ~10 ticks, the injector opens no smaps of the target
read -ra daemon < <(cat /proc/"$MLOCKD_PID"/task/*/children | tr "\n" " ")
(( ${#daemon[@]} > 0 )) || fail "no injector process under the manager"
args=()
for p in "${daemon[@]}"; do args+=(-p "$p"); done
timeout -s INT 2 strace -f -qq -e trace=openat,open "${args[@]}" -o "$TEST_TMP/idle.strace" 2>/dev/null || true
[[ -s $TEST_TMP/idle.strace ]] || note "strace saw no open at all while idle"
! grep -q "/proc/$pid/smaps\|/$pid/smaps" "$TEST_TMP/idle.strace" ||
        fail "an idle target's smaps were read on the tick: $(grep -c smaps "$TEST_TMP/idle.strace") times"
# the manager's word for the same ticks: its cgroup idle, nothing sampled, no smaps read, no status
# read; the statm file (sampled once the lock was made) kept open
wait_until 5 grep -q '^<7>.*Tick: 1 target, 0 sampled, 0 smaps reads, 0 status reads,' "$MLOCKD_LOG" ||
        fail "no idle tick line: $(grep 'Tick:' "$MLOCKD_LOG" | tail -n 3)"
idle_ticks=$(grep -c 'Tick: 1 target, 0 sampled, 0 smaps reads, 0 status reads,' "$MLOCKD_LOG")
status_reads=$(grep -c 'Tick: 1 target, .* 1 status read,' "$MLOCKD_LOG")
ls -l /proc/"$MLOCKD_PID"/fd | grep -q " /proc/$pid/statm\$" ||
        fail "the manager does not keep the target's statm open: $(ls -l /proc/"$MLOCKD_PID"/fd | grep /proc/)"
# strace detached: the injector is still there and still works
for p in "${daemon[@]}"; do kill -0 "$p" 2>/dev/null || fail "injector $p gone after strace"; done

# growth: a new mapping moves statm's size, and the next tick locks it
kill -USR1 "$pid"
wait_until 5 grep -q '^mmap=' "$(target_output)" || fail "the target did not map more: $(cat "$(target_output)")"
new=$(sed -n 's/^mmap=//p' "$(target_output)" | tail -n 1)
wait_until 10 has_vmflags "$pid" "$new" lo lf || fail "the new mapping at $new was not locked: $(vmflags_at "$pid" "$new")"
has_vmflags "$pid" "$addr" lo lf || fail "the first mapping lost its lock"
grep -q 'Tick: 1 target, 1 sampled, 1 smaps read,' "$MLOCKD_LOG" ||
        fail "no tick read the smaps of the target that grew: $(grep 'Tick:' "$MLOCKD_LOG" | tail -n 3)"
# its size moved: VmLck was read again
wait_until 5 eval '(( $(grep -c "Tick: 1 target, .* 1 status read," "$MLOCKD_LOG") > status_reads ))' ||
        fail "no status read after the growth: $(grep 'Tick:' "$MLOCKD_LOG" | tail -n 3)"
sleep 1 # idle again: sampled, not read
(( $(grep -c 'Tick: 1 target, 0 sampled, 0 smaps reads, 0 status reads,' "$MLOCKD_LOG") > idle_ticks )) ||
        fail "no idle tick after the growth: $(grep 'Tick:' "$MLOCKD_LOG" | tail -n 3)"

assert_unharmed "$pid"
assert_mlockd_alive
stop_mlockd
