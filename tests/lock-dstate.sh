#!/bin/bash
# Targets in D state stall nobody (issue 14). 20 vfork parents, each waiting uninterruptibly for a
# child that never execs, match a Mode=full policy. A process in D cannot be stopped until it
# wakes: their lock steps are held back (pending:uninterruptible) and tried again with a backoff,
# never sent to the injector to wait on. Meanwhile a normal target is locked, ListTargets keeps
# answering, the D processes stay untraced; once their children go, they are locked too.
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/hostile-lib.sh"
command -v busctl >/dev/null || skip "busctl not installed"
command -v python3 >/dev/null || skip "python3 not installed"

write_policy dstate "[Match]
Executable=$MY_HOSTILE
Name=dparent
[Lock]
Mode=full
Regions=anon"
write_policy normal "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon"

parents=() children=()
for i in $(seq 1 20); do
        start_hostile p --comm dparent --anon 1M --vfork
        wait_until 5 grep -q '^child pid=' "$HOSTILE_OUT" || fail "no vfork child: $(cat "$HOSTILE_OUT")"
        c=$(sed -n 's/^child pid=//p' "$HOSTILE_OUT")
        track_pid "$c"
        parents+=("$p")
        children+=("$c")
done
for p in "${parents[@]}"; do
        wait_until 5 eval '[[ $(awk "/^State:/ { print \$2 }" /proc/'"$p"'/status) == D ]]' ||
                skip "a vfork parent is not shown in D state here"
done

start_mlockd
start_my_target normal --anon 8M --touch 8M
addr=$(ready_field "$(target_output)" anon)
t0=$(date +%s%N)
wait_until 30 eval '[[ $(state_of '"$normal"') == locked ]]' ||
        { grep -v '^<7>' "$MLOCKD_LOG" >&2; fail "the normal target beside 20 D-state ones: $(state_of "$normal")"; }
note "normal target locked $(( ($(date +%s%N) - t0) / 1000000 )) ms after it started, beside 20 D-state targets"
has_vmflags "$normal" "$addr" lo || fail "the normal target's memory is not locked"

# the bus keeps answering (each call within busctl's 2 s), and the D ones are held back
for i in $(seq 1 10); do
        busctl --system --timeout=2 call org.mlockd1 /org/mlockd1 org.mlockd1.Manager ListTargets >/dev/null ||
                fail "ListTargets did not answer beside the D-state targets"
done
for p in "${parents[@]}"; do
        wait_until 10 eval '[[ $(state_of '"$p"') == pending:uninterruptible ]]' ||
                fail "D-state target $p: $(state_of "$p")"
        [[ $(awk '/^TracerPid:/ { print $2 }' "/proc/$p/status") == 0 ]] || fail "D-state target $p is traced"
done
! grep -q "did not answer request" "$MLOCKD_LOG" || fail "the injector got stuck"
! grep -Eq "policy dstate: failed" "$MLOCKD_LOG" || fail "a D-state target failed: $(grep 'policy dstate: failed' "$MLOCKD_LOG")"

# the children go: the parents wake and are locked on a later try
for c in "${children[@]}"; do
        kill -KILL "$c"
done
for p in "${parents[@]}"; do
        wait_until 60 eval '[[ $(state_of '"$p"') == locked ]]' || { grep -v "^<7>" "$MLOCKD_LOG" >&2; fail "woken target $p: $(state_of "$p")"; }
        assert_unharmed "$p"
done
assert_unharmed "$normal"
assert_mlockd_alive
stop_mlockd
