#!/bin/bash
# A map too large to plan quickly (issue 14): a process with 60,000 memory mappings (one page
# each, alternating protections) under Mode=full, beside a normal target. Above MaxMappings=
# (20000 by default) it is counted in /proc/PID/maps by the injector, never read through smaps
# (which walks every page table), and refused: skipped:too-many-maps. The normal target is locked
# and the bus answers. A process of 5,000 mappings, under the bound, is planned and locked.
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/hostile-lib.sh"
command -v busctl >/dev/null || skip "busctl not installed"
command -v python3 >/dev/null || skip "python3 not installed"
(( $(sysctl -n vm.max_map_count) > 61000 )) || skip "vm.max_map_count is below 61000"

write_policy maps "[Match]
Executable=$MY_HOSTILE
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon"

start_hostile many --maps 60000
n=$(wc -l <"/proc/$many/maps")
(( n >= 60000 )) || fail "the hostile target has only $n mappings"
start_hostile some --maps 5000
start_my_target normal --anon 8M --touch 8M
addr=$(ready_field "$(target_output)" anon)

start_mlockd
wait_until 30 eval '[[ $(state_of '"$normal"') == locked ]]' ||
        { grep -v '^<7>' "$MLOCKD_LOG" >&2; fail "the normal target: $(state_of "$normal")"; }
has_vmflags "$normal" "$addr" lo || fail "the normal target's memory is not locked"
wait_until 30 eval '[[ $(state_of '"$many"') == skipped:too-many-maps ]]' ||
        fail "60,000 mappings: $(state_of "$many")"
(( $(awk '/^VmLck:/ { print $2 }' "/proc/$many/status") == 0 )) || fail "something of the refused target was locked"
t0=$(date +%s%N)
wait_until 120 eval '[[ $(state_of '"$some"') == locked ]]' || fail "5,000 mappings: $(state_of "$some")"
note "5,000 mappings locked within $(( ($(date +%s%N) - t0) / 1000000 )) ms of the check"
for i in $(seq 1 5); do
        busctl --system --timeout=2 call org.mlockd1 /org/mlockd1 org.mlockd1.Manager ListTargets >/dev/null ||
                fail "ListTargets did not answer"
done


assert_unharmed "$many"
assert_unharmed "$some"
assert_unharmed "$normal"
assert_mlockd_alive
stop_mlockd
