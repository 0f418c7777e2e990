# Shared by the hostile-target tests (sourced after tests/lib.sh): this test's own copy of
# tests/helpers/hostile, so that its policies (Executable=$MY_HOSTILE) match nothing of the tests
# running in parallel, and a starter for it.

HOSTILE=$top_builddir/tests/helpers/hostile
[[ -x $HOSTILE ]] || skip "tests/helpers/hostile not built"
MY_HOSTILE=$TEST_TMP/hostile-$TEST_NAME
cp "$HOSTILE" "$MY_HOSTILE"
chmod 0755 "$MY_HOSTILE"

# start_hostile OUTVAR [hostile args...]: start it and wait for its ready line (77 from the helper:
# the kernel refused what it needs, the test skips).
start_hostile() {
        local _sh_var=$1 _sh_out _sh_pid _sh_i _sh_rc=0
        shift
        _sh_out=$(mktemp "$TEST_TMP/hostile.XXXXXX")
        "${HOSTILE_EXE:-$MY_HOSTILE}" "$@" >"$_sh_out" 2>&1 &
        _sh_pid=$!
        track_pid "$_sh_pid"
        for _sh_i in $(seq 1 1000); do
                grep -q '^ready' "$_sh_out" 2>/dev/null && break
                if ! kill -0 "$_sh_pid" 2>/dev/null; then
                        wait "$_sh_pid" || _sh_rc=$?
                        (( _sh_rc == 77 )) && skip "hostile $*: $(cat "$_sh_out")"
                        fail "hostile $* died: $(cat "$_sh_out")"
                fi
                sleep 0.01
        done
        grep -q '^ready' "$_sh_out" || fail "hostile $* never became ready"
        HOSTILE_OUT=$_sh_out
        printf -v "$_sh_var" '%s' "$_sh_pid"
}

# state_of PID: the target's state as ListTargets gives it (busctl, JSON), or "none".
state_of() {
        busctl --system --json=short call org.mlockd1 /org/mlockd1 org.mlockd1.Manager ListTargets |
                python3 -c 'import json, sys
for t in json.load(sys.stdin)["data"][0]:
    if t[0] == int(sys.argv[1]): print(t[5]); break
else: print("none")' "$1"
}
