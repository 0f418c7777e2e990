#!/bin/bash
# Reload: a broken configuration is refused and the old policy keeps working; a reload that removes
# the policy unlocks what mlockd locked, and says so at notice; Mode=none does the same; a
# configuration's warnings are logged at a reload too.
. "${top_srcdir:-.}/tests/lib.sh"

write_app_policy

start_mlockd
start_my_target pid --anon 32M --touch 8M
addr=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not locked"

# a broken file: refused, the old policy stays
write_policy broken "[Match]
Executable=relative/path
[Lock]
Mode=sometimes"
kill -HUP "$MLOCKD_PID"
wait_until 10 grep -q "keeping the old one" "$MLOCKD_LOG" || fail "broken reload not refused"
grep -q "broken.conf:[0-9]*:" "$MLOCKD_LOG" || fail "the problem was not reported with FILE:LINE"
start_my_target pid2 --anon 16M --touch 4M
addr2=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$pid2" "$addr2" lo lf || fail "old policy stopped working after a refused reload"
rm -f "$CONF_DIR/policy.d/broken.conf"

# Mode=none: unlocks
write_policy app "[Match]
Executable=$MY_TARGET
[Lock]
Mode=none"
kill -HUP "$MLOCKD_PID"
wait_until 10 lacks_vmflag "$pid" "$addr" lo || fail "Mode=none did not unlock"
# said at notice, naming the target and the policy that had it
grep -q "^<5>Reload: $pid (.*) now matches a policy with Mode=none, was policy app" "$MLOCKD_LOG" ||
        fail "no notice for the target Mode=none unlocked: $(grep Reload: "$MLOCKD_LOG")"

# back on, then the policy removed: unlocks. A value taken but clamped (MaxPause= above 2s) is a
# warning in the log at a reload, as at start-up
write_policy app "[Match]
Executable=$MY_TARGET
[Lock]
Mode=onfault
Regions=anon
MaxPause=10s"
kill -HUP "$MLOCKD_PID"
wait_until 10 has_vmflags "$pid" "$addr" lo lf || fail "not relocked after reload"
wait_until 10 grep -q "^<4>.*app.conf:[0-9]*: warning: MaxPause=10s is above the most a step may hold a target, 2s: 2s is used" \
        "$MLOCKD_LOG" || fail "no warning at the reload: $(grep -i warning "$MLOCKD_LOG")"
rm -f "$CONF_DIR/policy.d/app.conf"
kill -HUP "$MLOCKD_PID"
wait_until 10 lacks_vmflag "$pid" "$addr" lo || fail "removing the policy did not unlock"
wait_until 10 lacks_vmflag "$pid2" "$addr2" lo || fail "removing the policy did not unlock the second target"
grep -q "^<5>Reload: $pid2 (.*) no longer matches any policy, was policy app: unlocking the [0-9.]*[KMG]\?B\? mlockd locked" \
        "$MLOCKD_LOG" || fail "no notice for the target a removed policy unlocked: $(grep Reload: "$MLOCKD_LOG")"

assert_unharmed "$pid"
assert_unharmed "$pid2"
assert_mlockd_alive
stop_mlockd
