#!/bin/bash
# Full locking: the whole mapping is populated and Locked:, VmFlags lo without lf; with Future=yes
# and Regions=all the target's later mappings are locked too (MCL_FUTURE).
. "${top_srcdir:-.}/tests/lib.sh"

write_policy db "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=all
Future=yes
MaxPause=5ms"

start_mlockd
start_my_target pid --anon 64M --mode mmap
out=$(target_output)
addr=$(ready_field "$out" anon)

wait_until 15 has_vmflags "$pid" "$addr" lo || fail "not locked: $(vmflags_at "$pid" "$addr")"
lacks_vmflag "$pid" "$addr" lf || fail "full locking left lf set"
wait_until 10 eval '(( $(locked_kb_at "$pid" "$addr") >= 65536 ))' || fail "Locked: $(locked_kb_at "$pid" "$addr") kB < 64 MiB"
wait_until 10 grep -q "Process $pid (.*), policy db: locked" "$MLOCKD_LOG" || fail "state is not locked: $(grep "Process $pid" "$MLOCKD_LOG")"

# MCL_FUTURE: a mapping made now is locked by the kernel without mlockd doing anything
kill -USR1 "$pid"
wait_until 5 grep -q '^mmap=' "$out" || fail "target did not map: $(cat "$out")"
new=$(grep '^mmap=' "$out" | tail -n1 | cut -d= -f2)
has_vmflags "$pid" "$new" lo || fail "new mapping not locked (MCL_FUTURE missing): $(vmflags_at "$pid" "$new")"

assert_unharmed "$pid"
assert_mlockd_alive
stop_mlockd
