# Shared by tests/lock-pool*.sh (sourced after tests/lib.sh): the injector workers and many targets.

# read_workers N: active[1..N] and spare[1..N], the pids from the start-up lines of the daemon
active=() spare=()
read_workers() {
        local n=$1 w line
        for w in $(seq 1 "$n"); do
                line=$(grep "Injector $w of $n started (pid [0-9]*), and a spare (pid [0-9]*)" "$MLOCKD_LOG") ||
                        fail "no start-up line for worker $w of $n: $(grep -i injector "$MLOCKD_LOG")"
                active[w]=$(sed 's/.*started (pid \([0-9]*\)).*/\1/' <<<"$line")
                spare[w]=$(sed 's/.*a spare (pid \([0-9]*\)).*/\1/' <<<"$line")
        done
}

# start_pool N: mlockd with Injectors=N and a policy "pool" for the targets' anon mapping, on fault;
# the workers read (read_workers), their spares asleep
start_pool() {
        write_app_policy pool
        write_daemon_conf "Injectors=$1"
        start_mlockd
        read_workers "$1"
        sleep 0.5 # the spares are asleep in recvmsg
}

# switches PID: its voluntary and involuntary context switches (every thread)
switches() {
        awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }' /proc/"$1"/task/*/status
}

# start_many N [target args]: N more targets at once (appended to pids, outputs $TEST_TMP/many.I,
# I counting from 1 over all of them)
pids=()
start_many() {
        local n=$1 i
        shift
        for i in $(seq $(( ${#pids[@]} + 1 )) $(( ${#pids[@]} + n ))); do
                "$MY_TARGET" --anon 2M --touch 1M "$@" >"$TEST_TMP/many.$i" 2>&1 &
                pids+=($!)
                track_pid $!
        done
}

# pending PID...: how many of them have nothing locked yet (VmLck 0), in one read
pending() {
        local p files=()
        for p in "$@"; do files+=("/proc/$p/status"); done
        awk '/^VmLck:/ && $2 == 0 { n++ } END { print n + 0 }' "${files[@]}" 2>/dev/null
}

# locked_one I: target I (1-based) has its anon mapping locked on fault (VmFlags lo lf)
locked_one() {
        grep -q '^ready' "$TEST_TMP/many.$1" && has_vmflags "${pids[$1 - 1]}" "$(ready_field "$TEST_TMP/many.$1" anon)" lo lf
}
count_unlocked() {
        local i missed=0
        for i in $(seq 1 "$1"); do
                locked_one "$i" || missed=$(( missed + 1 ))
        done
        echo "$missed"
}
all_locked() {
        local i
        for i in $(seq 1 "$1"); do
                locked_one "$i" || return 1
        done
}
wait_all_locked() {
        wait_until 60 all_locked "$1"
}
# every job ended with the state line (after its last step, so no tracer is attached)
all_verified() {
        local p
        for p in "${pids[@]:0:$1}"; do
                grep -q "Process $p (.*), policy pool: locked" "$MLOCKD_LOG" || return 1
        done
}
