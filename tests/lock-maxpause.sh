#!/bin/bash
# MaxPause: a 384 MiB untouched mapping is fully locked in steps while the target spins on the clock;
# the target ends locked and unharmed (its running checksum intact). The longest gap it saw is
# printed, not asserted (machines are noisy): tests/bench/bench-lock prints the comparison.
. "${top_srcdir:-.}/tests/lib.sh"

write_policy big "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
MaxPause=5ms"

start_mlockd
start_my_target pid --anon 384M --mode clock
out=$(target_output)
addr=$(ready_field "$out" anon)

wait_until 60 eval '(( $(locked_kb_at "$pid" "$addr") >= 393216 ))' ||
        fail "384 MiB not fully locked: $(locked_kb_at "$pid" "$addr") kB"
has_vmflags "$pid" "$addr" lo || fail "VmFlags without lo"
kill -USR1 "$pid"
wait_until 5 grep -q '^gap_us=' "$out" || fail "target did not answer"
grep -q 'checksum_ok=1' "$out" || fail "target's computation was disturbed: $(cat "$out")"
note "longest gap seen by the target: $(grep -o 'gap_us=[0-9]*' "$out" | tail -n1)"
assert_unharmed "$pid"
assert_mlockd_alive
stop_mlockd
