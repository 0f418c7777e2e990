#!/bin/bash
# Executable= names what the user typed: a symlink to the binary (Debian's /usr/bin/python3 ->
# python3.11). /proc/PID/exe names the link's target, and the policy must still match it.
# --check-config notes the resolution naming both paths; a name that matches nothing is a warning.
. "${top_srcdir:-.}/tests/lib.sh"

link=$TEST_TMP/bin/app-link
mkdir -p "$TEST_TMP/bin"
ln -s "$MY_TARGET" "$link"
write_policy app "[Match]
Executable=$link
[Lock]
Mode=onfault
Regions=anon"
write_policy gone "[Match]
Executable=$TEST_TMP/bin/not-there"

"$MLOCKD" --check-config --config-dir "$CONF_DIR" >"$TEST_TMP/out" 2>&1 || fail "--check-config failed: $(cat "$TEST_TMP/out")"
cat "$TEST_TMP/out"
grep -qx "$CONF_DIR/policy.d/app.conf:2: note: Executable=$link is $MY_TARGET; both match" "$TEST_TMP/out" ||
        fail "--check-config did not note the resolution naming both paths"
grep -qx "$CONF_DIR/policy.d/gone.conf:2: warning: Executable=$TEST_TMP/bin/not-there matches no existing file" "$TEST_TMP/out" ||
        fail "--check-config did not warn about an Executable= that matches nothing"

start_mlockd
# started through the link: the kernel's exe is the target of the link
TARGET=$link start_target pid --anon 16M --touch 4M
[[ $(readlink "/proc/$pid/exe") == "$MY_TARGET" ]] || fail "/proc/$pid/exe is not the link's target"
addr=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$pid" "$addr" lo lf || { cat "$MLOCKD_LOG"; fail "a policy naming a symlink did not lock its target"; }
grep -q "note: Executable=$link is $MY_TARGET; both match" "$MLOCKD_LOG" || fail "the daemon did not log the resolution"

# a glob resolves too, refreshed at reload: a second link named by a glob
ln -s "$MY_TARGET" "$TEST_TMP/bin/other-link"
write_policy app "[Match]
Executable=$TEST_TMP/bin/other-*
[Lock]
Mode=onfault
Regions=anon"
"$MLOCKD" --check-config --config-dir "$CONF_DIR" >"$TEST_TMP/out" 2>&1 || fail "--check-config failed"
grep -qxF "$CONF_DIR/policy.d/app.conf:2: note: Executable=$TEST_TMP/bin/other-*: $TEST_TMP/bin/other-link is $MY_TARGET; both match" "$TEST_TMP/out" ||
        fail "no note for the glob's resolution: $(cat "$TEST_TMP/out")"
kill -HUP "$MLOCKD_PID"
wait_until 10 grep -q "Reloaded" "$MLOCKD_LOG" || fail "no reload"
TARGET=$TEST_TMP/bin/other-link start_target pid2 --anon 16M --touch 4M
addr2=$(ready_field "$(target_output)" anon)
wait_until 10 has_vmflags "$pid2" "$addr2" lo lf || fail "a glob matching a symlink did not lock its target"

assert_unharmed "$pid"
assert_unharmed "$pid2"
assert_mlockd_alive
stop_mlockd
