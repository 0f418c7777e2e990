#!/bin/bash
# mlockd --check-config on a directory mixing good and bad policy files: every problem is printed as
# FILE:LINE: message, the exit status says whether there was one, and the good policies still load
# (--dump-config prints them, and its output loads back to the same configuration).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

dir="$top_srcdir/tests/data/policy/mixed"
out="$TEST_TMP/out"
err="$TEST_TMP/err"

rc=0
"$MLOCKD" --check-config --config-dir "$dir" >"$out" 2>"$err" || rc=$?
cat "$out" "$err"
[ "$rc" -eq 1 ] || fail "--check-config on a bad configuration exited $rc, expected 1"

cat >"$TEST_TMP/expected" <<END
$dir/mlockd.conf:3: Invalid DefaultMaxPause= value '10us': below the minimum of 100us
$dir/mlockd.conf:4: Invalid Injectors= value '0': expected auto or 1 to 8
$dir/policy.d/20-typo.conf:5: Invalid Mode= value 'fulll': expected onfault, full or none
$dir/policy.d/40-everyone.conf:1: No [Match] key: this policy would match every process, refusing it
$dir/policy.d/50-binary.conf:3: Binary junk (a NUL byte, invalid UTF-8 or a control character), not a configuration file
$dir/policy.d/60-comment.conf:5: Invalid MaxLocked= value '1G # one gigabyte': expected a size in bytes with an optional K, M, G or T suffix ('#' starts a comment only at the beginning of a line)
END
# (warnings about this host, such as programs not installed here, are checked elsewhere)
diff -u "$TEST_TMP/expected" <(grep -v ': \(warning\|note\): ' "$out") || fail "--check-config printed other problems than expected"
grep -q "2 valid policies, 6 problems, [0-9]* warnings\?\." "$err" || fail "no summary on stderr"

# the good ones are kept, in file order; the bad [Daemon] key keeps its default (5ms)
"$MLOCKD" --dump-config --config-dir "$dir" >"$out" 2>"$err" || fail "--dump-config failed"
[ "$(grep -c '^# policy.d/' "$out")" -eq 2 ] || fail "--dump-config should print exactly 2 policies"
grep '^# policy.d/' "$out" | sed -n 1p | grep -q '10-database.conf' || fail "10-database is not first"
grep '^# policy.d/' "$out" | sed -n 2p | grep -q '30-cache.conf' || fail "30-cache is not second"
grep -qx 'ScanInterval=10s' "$out" || fail "ScanInterval= not applied"
grep -qx 'DefaultMaxPause=5ms' "$out" || fail "the bad DefaultMaxPause= did not keep its default"
grep -qx 'Injectors=auto' "$out" || fail "the bad Injectors= did not keep its default (auto)"
grep -qx 'Mode=full' "$out" || fail "Mode=full of 10-database not dumped"
grep -qx 'Regions=anon' "$out" || fail "Regions=anon of 30-cache not dumped"
grep -q '20-typo.conf:5: Invalid Mode=' "$err" || fail "--dump-config did not warn about the bad file"

# the dump loads back: split it into mlockd.conf and policy.d/NAME.conf, check it, dump it again
split_dump() {
        local in=$1 to=$2
        mkdir -p "$to/policy.d"
        awk -v to="$to" '
                /^# mlockd.conf$/ { f = to "/mlockd.conf"; next }
                /^# policy.d\// { split($2, a, "/"); f = to "/policy.d/" a[2]; next }
                { print > f }' "$in"
}
split_dump "$out" "$TEST_TMP/again"
"$MLOCKD" --check-config --config-dir "$TEST_TMP/again" || fail "the dump does not load back cleanly"
"$MLOCKD" --dump-config --config-dir "$TEST_TMP/again" >"$TEST_TMP/out2" || fail "--dump-config of the dump failed"
diff -u <(grep -v '^# policy.d/' "$out") <(grep -v '^# policy.d/' "$TEST_TMP/out2") ||
        fail "the dump of the dump differs"

# a clean configuration: exit 0, nothing on stdout
"$MLOCKD" --check-config --config-dir "$top_srcdir/tests/data/policy/good" >"$out" ||
        fail "--check-config on a good configuration failed"
# only warnings about this host (programs not installed here), no problem
! grep -v ': \(warning\|note\): ' "$out" || fail "--check-config printed problems for a good configuration"

# the shipped example configuration is clean too
mkdir -p "$TEST_TMP/conf"
cp "$top_srcdir/conf/mlockd.conf" "$TEST_TMP/conf/"
cp -r "$top_srcdir/conf/policy.d" "$TEST_TMP/conf/"
"$MLOCKD" --check-config --config-dir "$TEST_TMP/conf" || fail "conf/ examples have problems"

# a duration without a unit is an error naming the fix; a key given twice is a warning naming both
# lines, and warnings alone do not fail the check
umask 022
mkdir -p "$TEST_TMP/units/policy.d"
printf '[Match]\nName=x\n[Lock]\nMaxPause=5\n' >"$TEST_TMP/units/policy.d/a.conf"
rc=0
"$MLOCKD" --check-config --config-dir "$TEST_TMP/units" >"$out" 2>"$err" || rc=$?
[ "$rc" -eq 1 ] || fail "MaxPause=5 passed --check-config (exit $rc)"
grep -qx "$TEST_TMP/units/policy.d/a.conf:4: Invalid MaxPause= value '5': a duration needs a unit; write 5us, 5ms or 5s" "$out" ||
        fail "no clear error for MaxPause=5: $(cat "$out")"
# a policy that would lend RLIMIT_MEMLOCK on keys any user can satisfy (Name=) is warned about
printf '[Match]\nName=sh\n' >"$TEST_TMP/units/policy.d/a.conf"
"$MLOCKD" --check-config --config-dir "$TEST_TMP/units" >"$out" 2>"$err" || fail "a warning failed --check-config"
grep -q "^$TEST_TMP/units/policy.d/a.conf:2: warning: RaiseMemlockLimit= will lift RLIMIT_MEMLOCK for root's processes only" "$out" ||
        fail "no warning about a limit lent on Name=: $(cat "$out")"
printf '[Match]\nName=sh\nUser=65534\n' >"$TEST_TMP/units/policy.d/a.conf"
"$MLOCKD" --check-config --config-dir "$TEST_TMP/units" >"$out" 2>"$err" || fail "a warning failed --check-config"
! grep -q "RaiseMemlockLimit=" "$out" || fail "a warning about the limit although User= is given: $(cat "$out")"
printf '[Match]\nName=sh\n[Lock]\nMode=full\nMaxPause=5ms\nMode=onfault\n[Limits]\nRaiseMemlockLimit=no\n' \
        >"$TEST_TMP/units/policy.d/a.conf"
"$MLOCKD" --check-config --config-dir "$TEST_TMP/units" >"$out" 2>"$err" || fail "a warning failed --check-config"
grep -qx "$TEST_TMP/units/policy.d/a.conf:6: warning: Mode= is given again; it replaces the value from line 4" "$out" ||
        fail "no warning naming both lines of a duplicate key: $(cat "$out")"
grep -q "1 valid policy, 0 problems, 1 warning" "$err" || fail "warning not counted: $(cat "$err")"

# files others could write (or that others own) are refused, like sshd's StrictModes
printf '[Match]\nName=y\n' >"$TEST_TMP/units/policy.d/b.conf"
chmod 0666 "$TEST_TMP/units/policy.d/b.conf"
rc=0
"$MLOCKD" --check-config --config-dir "$TEST_TMP/units" >"$out" 2>"$err" || rc=$?
[ "$rc" -eq 1 ] || fail "a world-writable policy passed --check-config"
grep -qx "$TEST_TMP/units/policy.d/b.conf: Refusing to read this file: writable by every user (mode 0666; chmod go-w it)" "$out" ||
        fail "world-writable file not refused: $(cat "$out")"
chmod 0644 "$TEST_TMP/units/policy.d/b.conf"
if [ "$(id -u)" -eq 0 ]; then
        chown 65534:65534 "$TEST_TMP/units/policy.d/b.conf"
        rc=0
        "$MLOCKD" --check-config --config-dir "$TEST_TMP/units" >"$out" 2>"$err" || rc=$?
        [ "$rc" -eq 1 ] || fail "a policy owned by uid 65534 passed --check-config"
        grep -qx "$TEST_TMP/units/policy.d/b.conf: Refusing to read this file: owned by uid 65534, not by root (chown root: it)" "$out" ||
                fail "file owned by another user not refused: $(cat "$out")"
else
        note "not root: cannot make a file owned by another user, that case is left out"
fi
chmod 0777 "$TEST_TMP/units/policy.d"
rc=0
"$MLOCKD" --check-config --config-dir "$TEST_TMP/units" >"$out" 2>"$err" || rc=$?
[ "$rc" -eq 1 ] || fail "a world-writable policy.d passed --check-config"
grep -q "^$TEST_TMP/units/policy.d: Refusing to read this directory: writable by every user" "$out" ||
        fail "world-writable policy.d not refused: $(cat "$out")"
grep -q "0 valid policies" "$err" || fail "files in a world-writable policy.d were read"

# a missing directory: an error, exit 1
rc=0
"$MLOCKD" --check-config --config-dir "$TEST_TMP/nonexistent" >/dev/null 2>"$err" || rc=$?
[ "$rc" -eq 1 ] || fail "--check-config on a missing directory exited $rc"
grep -q "No such file or directory" "$err" || fail "no clear error for a missing directory"
grep -q "^<3>Failed to read configuration directory" "$err" || fail "no <3> prefix when stderr is not a terminal: $(cat "$err")"

# on a terminal, no "<N>" prefixes (script(1) gives the command a pseudo-terminal)
if command -v script >/dev/null; then
        script -qec "$MLOCKD --check-config --config-dir $TEST_TMP/nonexistent" /dev/null >"$out" 2>&1 || true
        grep -q "^Failed to read configuration directory" "$out" || fail "on a terminal: $(cat -A "$out")"
        ! grep -q "<3>" "$out" || fail "a <3> prefix on a terminal: $(cat -A "$out")"
else
        note "script(1) not installed: the terminal case is left out"
fi
exit 0
