#!/bin/bash
# Apply runs as a job and answers when it ends: while a 1 GiB full lock with MaxPause=1ms runs
# through Apply, ListTargets answers and a process started meanwhile is discovered; two Applies on
# different targets both complete with their states. Nothing here is timed (tests/bench does).
. "${top_srcdir:-.}/tests/lib.sh"

write_policy big "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
MaxPause=1ms"

start_my_target big --anon 1G
big_addr=$(ready_field "$(target_output)" anon)
start_my_target small --anon 64M
small_addr=$(ready_field "$(target_output)" anon)
start_mlockd
bus() { busctl call --timeout=300 org.mlockd1 /org/mlockd1 org.mlockd1.Manager "$@"; }

# the scan locked both; release them so that Apply has the whole lock to do
wait_until 120 has_vmflags "$big" "$big_addr" lo || fail "1 GiB target not locked at start"
wait_until 30 has_vmflags "$small" "$small_addr" lo || fail "small target not locked at start"
"$MLOCKCTL" release "$big" || fail "release failed"
"$MLOCKCTL" release "$small" || fail "release failed"
lacks_vmflag "$big" "$big_addr" lo || fail "release did not unlock"

# two Applies at once, the 1 GiB one first
bus Apply u "$big" >"$TEST_TMP/apply-big" 2>&1 &
apply_big=$!
bus Apply u "$small" >"$TEST_TMP/apply-small" 2>&1 &
apply_small=$!

# meanwhile: the bus answers, and a new process is discovered
bus ListTargets >"$TEST_TMP/list" || fail "ListTargets did not answer during the Apply"
grep -q "\"$MY_TARGET\"\|$big" "$TEST_TMP/list" || fail "ListTargets answer is not the target list: $(cat "$TEST_TMP/list")"
start_my_target late --anon 16M
wait_until 30 eval 'bus ListTargets | grep -qw '"$late" || fail "the process started during the Apply was not discovered"
kill -0 "$apply_big" 2>/dev/null && note "the 1 GiB Apply was still running when the late process was listed"

wait "$apply_big" || fail "Apply of the 1 GiB target failed: $(cat "$TEST_TMP/apply-big")"
wait "$apply_small" || fail "Apply of the small target failed: $(cat "$TEST_TMP/apply-small")"
grep -q '^s "locked"$' "$TEST_TMP/apply-big" || fail "Apply returned $(cat "$TEST_TMP/apply-big")"
grep -q '^s "locked"$' "$TEST_TMP/apply-small" || fail "Apply returned $(cat "$TEST_TMP/apply-small")"
(( $(locked_kb_at "$big" "$big_addr") >= 1048576 )) || fail "1 GiB not locked: $(locked_kb_at "$big" "$big_addr") kB"

# Apply on a zombie: NoSuchProcess
bash -c 'sleep 0.1 & exec sleep 5' &
zp=$!
track_pid "$zp"
sleep 0.5
zombie=$(cat /proc/"$zp"/task/*/children 2>/dev/null | awk '{ print $1 }')
if [[ -n $zombie ]] && [[ $(awk '/^State:/ { print $2 }' /proc/"$zombie"/status 2>/dev/null) == Z ]]; then
        out=$(bus Apply u "$zombie" 2>&1) && fail "Apply on a zombie succeeded: $out"
        [[ $out == *NoSuchProcess* || $out == *"No process"* ]] || fail "Apply on a zombie: $out"
else
        note "no zombie to try Apply on"
fi

for p in "$big" "$small" "$late"; do assert_unharmed "$p"; done
assert_mlockd_alive
stop_mlockd
