#!/bin/bash
# The target's own locks are its own: a target that mlock()ed 4 MiB itself keeps that region's
# `lo` (full, not made onfault) and its VmLck after Release, after a reload that removes the policy,
# after Mode=none, after the munlockall that undoes MCL_FUTURE, and after mlockd stops. mlockd
# undoes exactly its own part.
. "${top_srcdir:-.}/tests/lib.sh"

start_private_bus
onfault="[Match]
Executable=$MY_TARGET
[Lock]
Mode=onfault
Regions=anon"
write_policy app "$onfault"

start_my_target pid --anon 32M --touch 8M --self-lock 4M
out=$(target_output)
addr=$(ready_field "$out" anon)
own=$(ready_field "$out" own)
own_kb=$(locked_kb_at "$pid" "$own")
(( own_kb == 4096 )) || fail "the target's own lock is $own_kb kB, not 4096"

vmlck() { awk '/^VmLck:/ { print $2 }' "/proc/$pid/status"; }
# the own region: locked full by the target, never lock-on-fault, all 4 MiB
own_intact() {
        has_vmflags "$pid" "$own" lo && lacks_vmflag "$pid" "$own" lf && (( $(locked_kb_at "$pid" "$own") == 4096 ))
}
mlockd_undone() { lacks_vmflag "$pid" "$addr" lo && (( $(vmlck) == 4096 )); }

start_mlockd
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not locked"
own_intact || fail "locking onfault changed the target's own full lock: $(vmflags_at "$pid" "$own")"
(( $(vmlck) > 4096 )) || fail "VmLck $(vmlck) kB: mlockd locked nothing"

# Release
"$MLOCKCTL" release "$pid" || fail "release failed"
wait_until 10 mlockd_undone || fail "Release: VmLck $(vmlck) kB, anon $(vmflags_at "$pid" "$addr")"
own_intact || fail "Release undid the target's own lock: $(vmflags_at "$pid" "$own"), VmLck $(vmlck) kB"

# Apply again, then a reload that removes the policy
"$MLOCKCTL" apply "$pid" >/dev/null || fail "apply failed"
has_vmflags "$pid" "$addr" lo lf || fail "not locked again after apply"
rm -f "$CONF_DIR/policy.d/app.conf"
"$MLOCKCTL" reload || fail "reload failed"
wait_until 10 mlockd_undone || fail "policy removed: VmLck $(vmlck) kB"
own_intact || fail "removing the policy undid the target's own lock"

# back, then Mode=none
write_policy app "$onfault"
"$MLOCKCTL" reload || fail "reload failed"
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not relocked after the policy came back"
write_policy app "[Match]
Executable=$MY_TARGET
[Lock]
Mode=none"
"$MLOCKCTL" reload || fail "reload failed"
wait_until 10 mlockd_undone || fail "Mode=none: VmLck $(vmlck) kB"
own_intact || fail "Mode=none undid the target's own lock"

# Future=yes: undone with munlockall(), after which the own lock is put back, full
write_policy app "[Match]
Executable=$MY_TARGET
[Lock]
Mode=onfault
Regions=all
Future=yes"
"$MLOCKCTL" reload || fail "reload failed"
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not locked with Future=yes"
own_intact || fail "Future=yes changed the target's own lock: $(vmflags_at "$pid" "$own")"
"$MLOCKCTL" release "$pid" || fail "release failed"
wait_until 10 lacks_vmflag "$pid" "$addr" lo || fail "Release after Future=yes did not unlock"
own_intact || fail "munlockall undid the target's own lock: $(vmflags_at "$pid" "$own"), VmLck $(vmlck) kB"
(( $(vmlck) == 4096 )) || fail "after Future=yes and Release VmLck is $(vmlck) kB, not the own 4096"

# mlockd stops: everything stays as it is
write_policy app "$onfault"
"$MLOCKCTL" reload || fail "reload failed"
"$MLOCKCTL" apply "$pid" >/dev/null || fail "apply failed"
stop_mlockd
own_intact || fail "stopping mlockd undid the target's own lock"
has_vmflags "$pid" "$addr" lo lf || fail "stopping mlockd undid its locks"

assert_unharmed "$pid"
