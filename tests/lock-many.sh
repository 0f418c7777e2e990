#!/bin/bash
# 200 matching processes started at once are all locked and verified (each job ended locked);
# none is missed, and none is left stopped or traced.
. "${top_srcdir:-.}/tests/lib.sh"

write_app_policy many

start_mlockd
pids=()
for i in $(seq 1 200); do
        "$MY_TARGET" --anon 2M --touch 1M >"$TEST_TMP/many.$i" 2>&1 &
        pids+=($!)
        track_pid $!
done

all_locked() {
        local i
        for i in $(seq 1 200); do
                grep -q '^ready' "$TEST_TMP/many.$i" || return 1
                has_vmflags "${pids[i-1]}" "$(ready_field "$TEST_TMP/many.$i" anon)" lo lf || return 1
        done
}
if ! wait_until 60 all_locked; then
        missed=0
        for i in $(seq 1 200); do
                has_vmflags "${pids[i-1]}" "$(ready_field "$TEST_TMP/many.$i" anon)" lo lf || missed=$((missed + 1))
        done
        fail "$missed of 200 processes not locked"
fi
# verified: every job ended with the state line (after its last step, so no tracer is attached)
all_verified() {
        local p
        for p in "${pids[@]}"; do
                grep -q "Process $p (.*), policy many: locked" "$MLOCKD_LOG" || return 1
        done
}
wait_until 60 all_verified || fail "not every job ended locked: $(grep -c 'policy many: locked' "$MLOCKD_LOG") of 200"
for p in "${pids[@]}"; do
        assert_unharmed "$p"
done
assert_mlockd_alive
stop_mlockd
