#!/bin/bash
# MaxLocked= is a bound: it counts what mlockd already holds in the target, so five reloads and a
# restart never take a 64 MiB target past 8 MiB plus the target's own locks; lowering it gives the
# excess back.
. "${top_srcdir:-.}/tests/lib.sh"

policy() {
        write_policy app "[Match]
Executable=$MY_TARGET
[Lock]
Mode=onfault
Regions=anon
[Limits]
MaxLocked=$1"
}
policy 8M

start_my_target pid --anon 64M --touch 64M --self-lock 2M
out=$(target_output)
addr=$(ready_field "$out" anon)
own=$(ready_field "$out" own)
vmlck() { awk '/^VmLck:/ { print $2 }' "/proc/$pid/status"; }
own_kb=2048
bound=$(( 8 * 1024 + own_kb ))

within() { (( $(vmlck) <= $1 )) || fail "$2: VmLck $(vmlck) kB, over $1 kB"; }

start_mlockd
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not locked"
wait_until 10 eval '(( $(vmlck) > own_kb ))' || fail "nothing locked"
within "$bound" "first lock"
first=$(vmlck)

for i in 1 2 3 4 5; do
        "$MLOCKCTL" reload || fail "reload $i failed"
        "$MLOCKCTL" apply "$pid" >/dev/null 2>&1 # waits for the job; partial:limit exits 0
        within "$bound" "after reload $i"
done
(( $(vmlck) == first )) || fail "reloads changed VmLck from $first to $(vmlck) kB"

stop_mlockd
start_mlockd
"$MLOCKCTL" apply "$pid" >/dev/null 2>&1
within "$bound" "after a restart"
"$MLOCKCTL" reload || fail "reload after restart failed"
"$MLOCKCTL" apply "$pid" >/dev/null 2>&1
within "$bound" "after a restart and a reload"
has_vmflags "$pid" "$own" lo || fail "the target's own lock went away"

# lowered to 4M in a fresh daemon's life: what mlockd itself locked beyond it goes back
stop_mlockd
start_my_target pid2 --anon 64M --touch 64M
pid_saved=$pid
pid=$pid2
start_mlockd
wait_until 10 eval '(( $(vmlck) >= 8192 ))' || fail "second target: VmLck $(vmlck) kB, not 8 MiB"
within 8192 "second target"
policy 4M
"$MLOCKCTL" reload || fail "reload failed"
"$MLOCKCTL" apply "$pid" >/dev/null 2>&1
wait_until 10 eval '(( $(vmlck) <= 4096 ))' || fail "MaxLocked=4M: VmLck $(vmlck) kB, nothing given back"
(( $(vmlck) > 0 )) || fail "MaxLocked=4M gave back everything"

assert_unharmed "$pid_saved"
assert_unharmed "$pid"
assert_mlockd_alive
stop_mlockd
