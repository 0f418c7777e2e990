#!/bin/bash
# MaxPause as a bound (make bench; asserts nothing about time). For each kind of memory at
# MaxPause=5ms and 1ms, a Mode=full lock of a fresh target (--mode clock: it measures the longest
# gap between two reads of its own clock) prints, side by side:
#   - the daemon's holds per step (count, p50, p99, max, steps over MaxPause, holds over 3x MaxPause
#     and how many of those right after another: the injector's held time, from PTRACE_INTERRUPT to
#     PTRACE_DETACH), from its debug log;
#   - the longest gap the target itself saw while it was locked, and over the same time idle
#     before (the noise of this machine in the same run);
#   - one plain mlock2 of the same range in an identical fresh target (what locking costs without
#     MaxPause), its held time and the target's gap;
#   - on a second line: the floor of the same steps, an identical fresh target mlock2()ing its
#     own mapping in the very steps mlockd took there (the same sizes, in order, no ptrace: what
#     the kernel and the machine make each step cost), against mlockd's steps over the same range;
#     and, for mlockd's steps over MaxPause, where the time went (the injector's debug line):
#     how many had the syscall alone over MaxPause (the kernel's work, as in the floor) and how
#     many the wait for the stop (the target waiting for its CPU).
# Kinds: 2 GiB of 4K pages to populate, 1 GiB MADV_HUGEPAGE to populate (THP), 256 MiB of which
# 3/4 were pushed to a swapfile by a memcg limit (swap-in, Prefetch=no: the lock pays for it).
# BENCH_PACE_KINDS selects some ("4k thp swap"), BENCH_PACE_PAUSES the MaxPause values;
# BENCH_PACE_KEEP_LOGS=DIR keeps the daemon's debug log of each case there. BENCH_PACE_ABBA=1 runs
# the floor and mlockd once more in the reverse order and prints each run's share of steps over
# MaxPause on its mapping in the order they ran (what the machine's state at each moment adds).
# On a VM whose balloon reports free pages to the host (/sys/module/page_reporting), memory freed
# in the last seconds is still backed by the host and populates up to 26x faster than memory freed
# before (doc/kernel-facts.md §7): each target then starts BENCH_PACE_SETTLE seconds (default 5)
# after the last one was killed, so that every column populates memory in the same state.
. "${top_srcdir:-.}/tests/lib.sh"
require_root
bench=$top_builddir/tests/bench
kinds=${BENCH_PACE_KINDS:-4k thp swap}
settle=0
[[ -d /sys/module/page_reporting ]] && settle=${BENCH_PACE_SETTLE:-5}
pauses=${BENCH_PACE_PAUSES:-5ms 1ms}
write_daemon_conf "AccountingInterval=10s"

# stdin: one number a line; prints "n N, p50 X, p99 Y, max Z, sum S"
summary() {
        sort -g | awk '{ v[NR] = $1; sum += $1 } END {
                if (NR == 0) { print "no steps"; exit }
                i50 = int(NR * 0.50 + 0.5); i99 = int(NR * 0.99 + 0.5)
                if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
                printf "%d steps, p50 %d us, p99 %d us, max %d us, sum %d ms", NR, v[i50], v[i99], v[NR], sum / 1000 }'
}
# stdin: the holds in step order, $1: MaxPause in us; prints "L > 3x (R after another)": holds over
# three times MaxPause, and how many of them right after another (what a sustained slowdown costs)
long_holds() {
        awk -v m="$1" '{ l = $1 > 3 * m; n += l; r += l && last; last = l }
                END { printf "%d > 3x (%d after another)", n, r }'
}
# the target's longest gap since the last ask
gap_of() {
        local out=$1 n
        n=$(grep -c '^gap_us=' "$out")
        kill -USR1 "$2"
        wait_until 5 eval '(( $(grep -c "^gap_us=" "$out") > n ))' || { echo "?"; return; }
        grep -o '^gap_us=[0-9]*' "$out" | tail -n1 | cut -d= -f2
}

# quiet_wait TIMEOUT_S FILE REGEX: until a line of FILE matches REGEX, with no process started
# and no file read twice. What the bench does while a case runs is the noise it measures: a poll of
# grep, date and sleep every 20 ms (wait_until) makes three execs that the daemon looks at, and
# greps through its whole debug log, megabytes by the end, on one of the CPUs the holds need. New
# lines are read from a descriptor kept open on FILE, the naps are quiet_sleep, and the shell waits
# at SCHED_IDLE: reading the log line by line still costs a CPU for milliseconds at a time, and a
# tracer woken onto that CPU would wait behind it (seen with perf sched: 1.8 ms).
open_quiet_fifo
quiet_wait() {
        local deadline=$(( ${EPOCHREALTIME//[.,]/} + $1 * 1000000 )) line part= fd r=1
        exec {fd}<"$2"
        chrt --idle -p 0 "$BASHPID" >/dev/null 2>&1 || :
        while (( ${EPOCHREALTIME//[.,]/} < deadline )); do
                # a line still being written comes back without its newline: kept for the next read
                while IFS= read -r -u "$fd" line; do
                        line=$part$line part=
                        if [[ $line =~ $3 ]]; then
                                r=0
                                break 2
                        fi
                done
                part+=$line
                quiet_sleep 0.02
        done
        exec {fd}<&-
        chrt --other -p 0 "$BASHPID" >/dev/null 2>&1 || :
        return $r
}

swapfile=
cg=
# start_case KIND VAR [TARGET ARGS]: a fresh target of that kind, ready and (for swap) swapped out;
# the target's mode: clock, or what the arguments say
start_case() {
        local kind=$1 var=$2 limit_file
        shift 2
        sleep "$settle"
        (( $# > 0 )) || set -- --mode clock
        case $kind in
        4k) start_my_target "$var" --anon 2G "$@" ;;
        thp) start_my_target "$var" --anon 1G --hugepage "$@" ;;
        swap)
                [[ -n $swapfile ]] || swapfile=$(make_swapfile 512)
                [[ -n $cg ]] || cg=$(make_test_memcg "mlockd-bench-pace-$$")
                limit_file=$cg/memory.limit_in_bytes
                [[ -f $limit_file ]] || limit_file=$cg/memory.max
                echo $((64 << 20)) >"$limit_file"
                TARGET=$(cgroup_wrapper "$cg") start_target "$var" "$MY_TARGET" --anon 256M --touch 256M "$@"
                echo $((2 << 30)) >"$limit_file"
                ;;
        esac
}
size_of() { case $1 in 4k) echo $((2 << 30)) ;; thp) echo $((1 << 30)) ;; swap) echo $((256 << 20)) ;; esac; }

# run_mlockd KIND MAXPAUSE_US: a fresh target locked by a fresh daemon; sets what the report
# prints (steps, over, long, split, state, idle, locked) and leaves mlockd's steps over the target's
# own mapping, "bytes held_us" in order, in $TEST_TMP/steps
run_mlockd() {
        local kind=$1 us=$2 pid out addr end
        : >"$MLOCKD_LOG"
        start_case "$kind" pid
        out=$(target_output)
        addr=$(ready_field "$out" anon)
        sleep 1
        idle=$(gap_of "$out" "$pid")
        # the same time idle as the lock takes is not known in advance: one second, then
        # the lock, then the gap over the lock
        start_mlockd --log-level=debug
        quiet_wait 300 "$MLOCKD_LOG" "Process $pid \(.*\), policy pace: (locked|partial|skipped|failed)" ||
                echo "# $kind $mp: no final state"
        locked=$(gap_of "$out" "$pid")
        state=$(grep -Eo "Process $pid \(.*\), policy pace: [a-z:-]+" "$MLOCKD_LOG" | tail -n1 | awk '{ print $NF }')
        steps=$(grep -Eo "Process $pid: (lock|relock) step at .* held [0-9]+ us" "$MLOCKD_LOG" |
                grep -Eo '[0-9]+ us$' | cut -d' ' -f1)
        end=$(( addr + $(size_of "$kind") ))
        grep -Eo "Process $pid: lock step at 0x[0-9a-f]+ of [0-9]+ KiB held [0-9]+ us" "$MLOCKD_LOG" |
                while read -r _ _ _ _ _ at _ kib _ _ held _; do
                        (( at >= addr && at < end )) && echo "$(( kib * 1024 )) $held"
                done >"$TEST_TMP/steps"
        # the injector's split of each hold over MaxPause: the call alone over it, or the wait
        split=$(grep -Eo "Process $pid: held [0-9]+ us, of which [0-9]+ us waiting for the stop and [0-9]+ us in the calls" "$MLOCKD_LOG" |
                awk -v m="$us" '{ h = $4; w = $8; c = $15
                        if (h > m) { n++; nc += c > m; nw += w > m / 2 } }
                        END { printf "%d over: %d with the call alone over, %d waited > MaxPause/2 for the stop", n, nc, nw }')
        over=$(awk -v m="$us" '$1 > m { n++ } END { print n + 0 }' <<<"$steps")
        long=$(long_holds "$us" <<<"$steps")
        stop_mlockd
        [[ -n ${BENCH_PACE_KEEP_LOGS:-} ]] && cp "$MLOCKD_LOG" "$BENCH_PACE_KEEP_LOGS/mlockd-$kind-$mp.log"
        kill -KILL "$pid"; wait "$pid" 2>/dev/null
}
# run_own KIND STEPS_FILE: the floor, the same steps by the target itself; sets own_steps (held_us
# a line)
run_own() {
        local own oout
        start_case "$1" own --mode steps --steps "$2"
        oout=$(target_output)
        kill -USR1 "$own"
        quiet_wait 300 "$oout" '^steps_done' || echo "# $kind $mp: the floor's steps did not end"
        own_steps=$(grep -o '^step_us=[0-9]*' "$oout" | cut -d= -f2)
        kill -KILL "$own"; wait "$own" 2>/dev/null
}
# stdin: one hold a line; $1: MaxPause in us; prints "O of N over (P%)"
over_of() {
        awk -v m="$1" '{ n++; o += $1 > m } END { printf "%d of %d over (%.1f%%)", o, n, n ? 100 * o / n : 0 }'
}

printf '%-5s %-8s | %-92s | %-22s | %-13s | %s\n' kind MaxPause "mlockd: held per step (daemon)" \
        "target's longest gap" "idle noise" "one mlock2: held / target's gap"
for kind in $kinds; do
        for mp in $pauses; do
                us=$(echo "$mp" | sed 's/ms$/000/; s/us$//')
                write_policy pace "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
Prefetch=no
MaxPause=$mp"
                run_mlockd "$kind" "$us"
                # one plain mlock2 of the whole range in a fresh identical target
                start_case "$kind" plain
                pout=$(target_output)
                paddr=$(ready_field "$pout" anon)
                (void=$(gap_of "$pout" "$plain"))
                held=$("$bench/bench-hold" "$plain" "$paddr" "$(size_of "$kind")" | grep -Eo 'held [0-9.]+ ms')
                pgap=$(gap_of "$pout" "$plain")
                kill -KILL "$plain"; wait "$plain" 2>/dev/null
                # the floor: the same steps, by the target itself
                cut -d' ' -f1 "$TEST_TMP/steps" >"$TEST_TMP/steps.bytes"
                run_own "$kind" "$TEST_TMP/steps.bytes"
                printf '%-5s %-8s | %-92s | %-22s | %-13s | %s\n' "$kind" "$mp" \
                        "$(summary <<<"$steps"), $over over, $long ($state)" "$locked us" "$idle us" "$held / $pgap us"
                printf '%-14s | same steps on its mapping: mlockd %s, %s over; own mlock2 %s, %s over | %s\n' "" \
                        "$(cut -d' ' -f2 "$TEST_TMP/steps" | summary)" \
                        "$(awk -v m="$us" '$2 > m { n++ } END { print n + 0 }' "$TEST_TMP/steps")" \
                        "$(summary <<<"$own_steps")" \
                        "$(awk -v m="$us" '$1 > m { n++ } END { print n + 0 }' <<<"$own_steps")" "$split"
                # BENCH_PACE_ABBA=1: the order of the runs counted out. The runs above were
                # mlockd first, the floor last; now the floor again (the same steps) and mlockd
                # again, so that each side has run once early and once late in the case
                if [[ ${BENCH_PACE_ABBA:-0} == 1 ]]; then
                        m1=$(cut -d' ' -f2 "$TEST_TMP/steps" | over_of "$us")
                        o1=$(over_of "$us" <<<"$own_steps")
                        run_own "$kind" "$TEST_TMP/steps.bytes"
                        o2=$(over_of "$us" <<<"$own_steps")
                        run_mlockd "$kind" "$us"
                        m2=$(cut -d' ' -f2 "$TEST_TMP/steps" | over_of "$us")
                        printf '%-14s | in order: mlockd %s; own %s; own again %s; mlockd again %s\n' "" \
                                "$m1" "$o1" "$o2" "$m2"
                fi
        done
done
[[ -n $swapfile ]] && remove_swapfile "$swapfile"
exit 0
