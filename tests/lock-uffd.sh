#!/bin/bash
# Bounded steps whatever the target does (issue 14): a process with a userfaultfd-registered area
# whose faults it never serves, under Mode=full Regions=anon, beside a normal target. A populating
# mlock2 there would wait in handle_userfault() for ever, with the target traced and the injector
# stuck. The plan leaves the area out (VmFlags um): the rest of the process is locked, the area is
# not, nothing is left stopped or traced, and the normal target is locked too.
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/hostile-lib.sh"
command -v busctl >/dev/null || skip "busctl not installed"
command -v python3 >/dev/null || skip "python3 not installed"

write_policy uffd "[Match]
Executable=$MY_HOSTILE
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon"

start_hostile hostile --uffd 4M --anon 4M
uffd=$(ready_field "$HOSTILE_OUT" uffd)
anon=$(ready_field "$HOSTILE_OUT" anon)
has_vmflags "$hostile" "$uffd" um || skip "the kernel shows no um VmFlag for a userfaultfd area"
start_my_target normal --anon 8M --touch 8M
addr=$(ready_field "$(target_output)" anon)

start_mlockd
wait_until 20 eval '[[ $(state_of '"$normal"') == locked ]]' || fail "the normal target: $(state_of "$normal")"
has_vmflags "$normal" "$addr" lo || fail "the normal target's memory is not locked"
wait_until 20 eval '[[ $(state_of '"$hostile"') == locked ]]' ||
        { cat "$MLOCKD_LOG" >&2; fail "the userfaultfd target: $(state_of "$hostile")"; }
has_vmflags "$hostile" "$anon" lo || fail "the userfaultfd target's other memory is not locked"
lacks_vmflag "$hostile" "$uffd" lo || fail "the userfaultfd area was locked"
grep -q "Leaving 4M of process $hostile .* unlocked: userfaultfd-registered" "$MLOCKD_LOG" ||
        fail "the area left out was not logged: $(grep "$hostile" "$MLOCKD_LOG")"
! grep -q "did not answer" "$MLOCKD_LOG" || fail "the injector got stuck: $(grep "did not answer" "$MLOCKD_LOG")"
state=$(awk '/^State:/ { print $2 }' "/proc/$hostile/status")
[[ $state == S ]] || fail "the userfaultfd target is in state $state"
assert_unharmed "$hostile"
assert_unharmed "$normal"
assert_mlockd_alive
stop_mlockd
