#!/bin/bash
# Locking benchmarks (make bench). Each figure is printed beside its floor, measured in the same run
# and interleaved with it, over BENCH_ROUNDS (default 5) rounds:
#   - exec->locked, one process at a time (p50/p90/p99), against the process's own mlock2 of the
#     same mapping timed the same way from exec (a copy of the target the policy does not match,
#     run with --lock-anon onfault);
#   - the same with 50 processes started at once;
#   - 2,000 (BENCH_MANY) processes started at once until all are locked (none missed) against as
#     many that lock themselves, with the daemon's CPU per process (every injector counted), for
#     each Injectors= of BENCH_INJECTORS (default "1 2", and auto where it is another count), a
#     fresh daemon each, interleaved;
#   - the daemon's CPU per accounting tick with as many idle targets, and its wakeups per second with
#     no target (context switches of every thread of the manager and the injector);
#   - the longest hold under MaxPause against one plain mlock2 of the same size.
# The daemon's CPU is the sum of /proc/PID/task/*/schedstat (ns on CPU) of the manager and its
# children. Prints figures; asserts nothing about time.
# BENCH_ONLY="idle one fifty many tick hold" (any subset) runs only those sections.
# At the end every figure is printed again in one table, beside its floor and their ratio.
. "${top_srcdir:-.}/tests/lib.sh"
bench=$top_builddir/tests/bench
rounds=${BENCH_ROUNDS:-5}
many=${BENCH_MANY:-2000}
FLOOR=$TEST_TMP/target-floor
cp "$MY_TARGET" "$FLOOR"
target_args=(--anon 1M --touch 256K)

# the manager and the processes it forked (the injector and its spare), one a line (children lists
# them on one line, space-separated)
daemon_pids() {
        echo "$MLOCKD_PID"
        cat /proc/"$MLOCKD_PID"/task/*/children 2>/dev/null | tr -s ' ' '\n' | grep .
}
# ns on CPU of the given pids' threads
cpu_ns() {
        local p
        for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{ s += $1 } END { printf "%.0f\n", s }'
}
ctxt_switches() {
        local p
        for p in "$@"; do cat /proc/"$p"/task/*/status 2>/dev/null; done |
                awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { printf "%.0f\n", s }'
}
# stdin: one number a line; prints "p50 X, p90 Y, p99 Z" (unit $1)
percentiles() {
        sort -g | awk -v u="$1" '{ v[NR] = $1 } END {
                if (NR == 0) { print "no samples"; exit }
                i50 = int(NR * 0.5) + 1; i90 = int(NR * 0.9) + 1; i99 = int(NR * 0.99) + 1
                if (i90 > NR) i90 = NR; if (i99 > NR) i99 = NR
                printf "p50 %.2f%s, p90 %.2f%s, p99 %.2f%s (%d samples)\n", v[i50], u, v[i90], u, v[i99], u, NR }'
}
# section NAME: whether to run it (BENCH_ONLY unset: all)
section() {
        [[ -z ${BENCH_ONLY:-} || " $BENCH_ONLY " == *" $1 "* ]]
}
median() {
        sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'
}
# stdin: one number a line; prints "p50/p90/p99"
pcts() {
        percentiles "" | awk '{ gsub(/,/, ""); print $2 "/" $4 "/" $6 }'
}
# row WHAT MLOCKD FLOOR: a line of the closing table; the ratio is of the last of a/b/c figures
TABLE=$TEST_TMP/table
: >"$TABLE"
row() {
        awk -v w="$1" -v d="$2" -v f="$3" 'BEGIN {
                n = split(d, dv, "/"); split(f, fv, "/")
                ratio = (f == "0" || f == "-") ? "-" : (fv[n] > 0 ? sprintf("%.1fx", dv[n] / fv[n]) : "-")
                printf "%-44s %-24s %-24s %s\n", w, d, f, ratio }' >>"$TABLE"
}

write_app_policy bench

# No process of the bench's own while a window is measured: bash builtins only, and no $(...)
# (a subshell is a fork the daemon sees): read -t on a FIFO nobody writes for the wait, the
# counters summed with read into a variable. What the daemon sees then are the machine's own
# process events, counted by bench-events (the daemon's own proc connector subscription, in a
# coprocess started before).
open_quiet_fifo
# EVENTS: the fork, thread and exec events the machine made so far (bench-events runs as the
# coprocess EVENTS_CO)
events_now() {
        local f nf t nt e ne
        echo >&"${EVENTS_CO[1]}" && read -r -t 5 -u "${EVENTS_CO[0]}" f nf t nt e ne _ && EVENTS=$(( nf + nt + ne )) || EVENTS=0
}
# SWITCHES: the context switches of the given pids' threads, as ctxt_switches counts them
ctxt_switches_quiet() {
        local p f k v
        SWITCHES=0
        for p in "$@"; do
                for f in /proc/"$p"/task/*/status; do
                        [[ -r $f ]] || continue
                        while read -r k v; do
                                [[ $k == voluntary_ctxt_switches: || $k == nonvoluntary_ctxt_switches: ]] &&
                                        (( SWITCHES += v ))
                        done <"$f"
                done
        done
}
if section idle; then
echo "== daemon with no target: wakeups per second (default AccountingInterval), $rounds windows of 4 s," \
     "the bench forking nothing meanwhile"
start_mlockd
coproc EVENTS_CO { exec "$bench/bench-events"; }
sleep 1
mapfile -t pids < <(daemon_pids)
for r in $(seq 1 "$rounds"); do
        quiet_sleep 1 # what the forks before are seen
        ctxt_switches_quiet "${pids[@]}"; s0=$SWITCHES
        events_now; p0=$EVENTS
        quiet_sleep 4
        events_now; p1=$EVENTS
        ctxt_switches_quiet "${pids[@]}"; s1=$SWITCHES
        # and with 100 fork+exec of the bench's own (/bin/true), for the wakeups per event
        for i in {1..100}; do /bin/true; done
        quiet_sleep 1
        events_now; p2=$EVENTS
        ctxt_switches_quiet "${pids[@]}"; s2=$SWITCHES
        echo "$(( s1 - s0 )) $(( p1 - p0 )) $(( s2 - s1 )) $(( p2 - p1 ))"
done >"$TEST_TMP/idle"
echo "wakeups: median $(awk '{ print $1 / 4 }' "$TEST_TMP/idle" | median)/s with" \
     "$(awk '{ print $2 / 4 }' "$TEST_TMP/idle" | median) process events/s on the machine (per window: $(awk '{ printf "%s%d/%d", (NR > 1 ? ", " : ""), $1, $2 }' "$TEST_TMP/idle") wakeups/events);" \
     "windows with no process event: $(awk '$2 == 0 { n++; s += $1 } END { printf "%d, %d wakeups in them", n, s }' "$TEST_TMP/idle");" \
     "RSS $(awk '/^VmRSS:/ { print $2 }' "/proc/$MLOCKD_PID/status") kB; floor 0/s"
row "wakeups/s, no target" "$(awk '{ print $1 / 4 }' "$TEST_TMP/idle" | median)" 0
row "  process events/s on the machine meanwhile" "$(awk '{ print $2 / 4 }' "$TEST_TMP/idle" | median)" -
echo "with 100 /bin/true of the bench's own: wakeups per process event median $(awk '$4 > 0 { print $3 / $4 }' "$TEST_TMP/idle" | median)" \
     "(per round: $(awk '{ printf "%s%d/%d", (NR > 1 ? ", " : ""), $3, $4 }' "$TEST_TMP/idle") wakeups/events)"
row "  wakeups per process event" "$(awk '$4 > 0 { print $3 / $4 }' "$TEST_TMP/idle" | median)" -
events_pid=$EVENTS_CO_PID
exec {EVENTS_CO[1]}>&-
wait "$events_pid" 2>/dev/null || true
stop_mlockd
fi

write_daemon_conf "AccountingInterval=1s"
start_mlockd

if section one; then
echo "== exec->locked, one at a time: $rounds rounds of 20 (mlockd) + 20 (own mlock2), interleaved"
: >"$TEST_TMP/one.d"
: >"$TEST_TMP/one.f"
for r in $(seq 1 "$rounds"); do
        for i in $(seq 1 20); do
                "$bench/bench-spawn" -r 1 10 1024 "$MY_TARGET" "${target_args[@]}" | awk '/^latency_ms/ { print $2 }' >>"$TEST_TMP/one.d"
                "$bench/bench-spawn" -r 1 10 1024 "$FLOOR" --lock-anon onfault "${target_args[@]}" | awk '/^latency_ms/ { print $2 }' >>"$TEST_TMP/one.f"
        done
done
echo "mlockd:       $(percentiles ' ms' <"$TEST_TMP/one.d")"
echo "own mlock2:   $(percentiles ' ms' <"$TEST_TMP/one.f")"
row "exec->locked, one at a time, p50/p90/p99 ms" "$(pcts <"$TEST_TMP/one.d")" "$(pcts <"$TEST_TMP/one.f")"

fi
if section fifty; then
echo "== exec->locked, 50 started at once: $rounds rounds, interleaved"
: >"$TEST_TMP/fifty.d"
: >"$TEST_TMP/fifty.f"
for r in $(seq 1 "$rounds"); do
        "$bench/bench-spawn" -r 50 30 1024 "$MY_TARGET" "${target_args[@]}" | awk '/^latency_ms/ { print $2 }' >>"$TEST_TMP/fifty.d"
        "$bench/bench-spawn" -r 50 30 1024 "$FLOOR" --lock-anon onfault "${target_args[@]}" | awk '/^latency_ms/ { print $2 }' >>"$TEST_TMP/fifty.f"
done
echo "mlockd:       $(percentiles ' ms' <"$TEST_TMP/fifty.d")"
echo "own mlock2:   $(percentiles ' ms' <"$TEST_TMP/fifty.f")"
row "exec->locked, 50 at once, p50/p90/p99 ms" "$(pcts <"$TEST_TMP/fifty.d")" "$(pcts <"$TEST_TMP/fifty.f")"

fi
if section many; then
# each Injectors= value (BENCH_INJECTORS, default "1 2", and auto where it resolves to another count)
# in a daemon of its own, started afresh in every round, the rounds interleaved with the floor; the
# daemon's CPU counts every injector (each worker and its spare are the manager's children)
injectors=(${BENCH_INJECTORS:-1 2})
auto=$(nproc) # Injectors=auto (daemon_config_injectors())
(( auto < 1 )) && auto=1
(( auto > 4 )) && auto=4
[[ " ${injectors[*]} " == *" $auto "* ]] || injectors+=(auto)
echo "== $many started at once, until all locked: $rounds rounds, interleaved, Injectors= ${injectors[*]}" \
     "(auto: $auto here), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
stop_mlockd
for r in $(seq 1 "$rounds"); do
        for n in "${injectors[@]}"; do
                write_daemon_conf "AccountingInterval=1s
Injectors=$n"
                start_mlockd
                sleep 1 # the start-up scan is done
                mapfile -t pids < <(daemon_pids)
                c0=$(cpu_ns "${pids[@]}")
                out=$("$bench/bench-spawn" "$many" 120 1024 "$MY_TARGET" "${target_args[@]}")
                c1=$(cpu_ns "${pids[@]}")
                echo "d$n $(awk '/^time until all/ { print $5 }' <<<"$out") $(awk '/^processes:/ { print $6 }' <<<"$out") $(( c1 - c0 )) $(cut -d' ' -f1 /proc/loadavg)"
                sleep 2 # the exits are seen and the targets forgotten
                stop_mlockd
        done
        out=$("$bench/bench-spawn" "$many" 120 1024 "$FLOOR" --lock-anon onfault "${target_args[@]}")
        echo "f $(awk '/^time until all/ { print $5 }' <<<"$out") $(awk '/^processes:/ { print $6 }' <<<"$out") 0 $(cut -d' ' -f1 /proc/loadavg)"
done >"$TEST_TMP/many"
for n in "${injectors[@]}"; do
        echo "mlockd, Injectors=$n: all locked in median $(awk -v k="d$n" '$1 == k { print $2 }' "$TEST_TMP/many" | median) s" \
             "(rounds: $(awk -v k="d$n" '$1 == k { printf "%s%s", (c++ ? ", " : ""), $2 }' "$TEST_TMP/many")), " \
             "missed $(awk -v k="d$n" '$1 == k { s += $3 } END { print s + 0 }' "$TEST_TMP/many") in all rounds," \
             "daemon CPU median $(awk -v k="d$n" -v n="$many" '$1 == k { print $4 / n / 1e6 }' "$TEST_TMP/many" | median) ms per process"
        row "$many at once, Injectors=$n, until all locked, s" \
            "$(awk -v k="d$n" '$1 == k { print $2 }' "$TEST_TMP/many" | median)" \
            "$(awk '$1 == "f" { print $2 }' "$TEST_TMP/many" | median)"
        row "$many at once, Injectors=$n, missed (all rounds)" \
            "$(awk -v k="d$n" '$1 == k { s += $3 } END { print s + 0 }' "$TEST_TMP/many")" 0
        row "$many at once, Injectors=$n, daemon CPU per process, ms" \
            "$(awk -v k="d$n" -v n="$many" '$1 == k { print $4 / n / 1e6 }' "$TEST_TMP/many" | median)" -
done
echo "own mlock2:   all locked in median $(awk '$1 == "f" { print $2 }' "$TEST_TMP/many" | median) s" \
     "(rounds: $(awk '$1 == "f" { printf "%s%s", (c++ ? ", " : ""), $2 }' "$TEST_TMP/many")), " \
     "missed $(awk '$1 == "f" { s += $3 } END { print s }' "$TEST_TMP/many") in all rounds"
echo "load average (1 min) at each measurement: $(awk '{ printf "%s%s:%s", (NR > 1 ? ", " : ""), $1, $5 }' "$TEST_TMP/many")"
write_daemon_conf "AccountingInterval=1s"
start_mlockd

fi
if section tick; then
echo "== accounting tick with $many idle locked targets (AccountingInterval=1s): $rounds windows of 3 s"
# at debug, each tick logs the CPU time its handler took (the manager's thread CPU clock): the
# tick alone, apart from what the machine's process events cost the daemon meanwhile
stop_mlockd
start_mlockd --log-level=debug
# in a memory cgroup of their own, as a workload is: the bench's own processes are not there
tick_cg=$(make_test_memcg "mlockd-bench-tick-$$")
coproc SPAWN { echo "$BASHPID" >"$tick_cg/cgroup.procs" && exec "$bench/bench-spawn" -w "$many" 120 1024 "$MY_TARGET" "${target_args[@]}"; }
while read -r -u "${SPAWN[0]}" line; do
        [[ $line == holding* ]] && break
done
echo "$line"
sleep 12 # past the young targets' rechecks
mapfile -t pids < <(daemon_pids)
for r in $(seq 1 "$rounds"); do
        m0=$(cpu_ns "$MLOCKD_PID")
        c0=$(cpu_ns "${pids[@]}")
        ctxt_switches_quiet "${pids[@]}"; s0=$SWITCHES
        quiet_sleep 3
        ctxt_switches_quiet "${pids[@]}"; s1=$SWITCHES
        m1=$(cpu_ns "$MLOCKD_PID")
        c1=$(cpu_ns "${pids[@]}")
        echo "$(( c1 - c0 )) $(( m1 - m0 )) $(( s1 - s0 ))"
done >"$TEST_TMP/tick"
grep -o 'Tick: [0-9]* targets.* us of CPU' "$MLOCKD_LOG" | tail -n $(( rounds * 3 )) >"$TEST_TMP/tick.log"
echo "daemon CPU per second (a tick and the machine's process events): median $(awk '{ print $1 / 3e6 }' "$TEST_TMP/tick" | median) ms" \
     "(manager alone $(awk '{ print $2 / 3e6 }' "$TEST_TMP/tick" | median) ms)," \
     "wakeups $(awk '{ print $3 / 3 }' "$TEST_TMP/tick" | median)/s"
echo "the tick's own CPU (its handler, as the manager logs it), last $(wc -l <"$TEST_TMP/tick.log") ticks:" \
     "median $(awk '{ print $(NF - 3) / 1e3 }' "$TEST_TMP/tick.log" | median) ms; floor 0; last: $(tail -n 1 "$TEST_TMP/tick.log")"
row "tick, $many idle targets, tick CPU ms" "$(awk '{ print $(NF - 3) / 1e3 }' "$TEST_TMP/tick.log" | median)" 0
# the same targets while their cgroup is busy: a process there maps and writes 4 MiB anew every
# 0.3 s, so the cgroup's figures move on every tick and each target is looked at
if command -v python3 >/dev/null; then
        python3 -c '
import mmap, sys, time
open(sys.argv[1] + "/cgroup.procs", "w").write("0")
while True:
    m = mmap.mmap(-1, 4 << 20); m.write(b"x" * (4 << 20)); m.close(); time.sleep(0.3)' "$tick_cg" &
        busy=$!
        sleep 2
        n0=$(grep -c 'Tick: [0-9]* targets' "$MLOCKD_LOG")
        sleep 6
        n1=$(grep -c 'Tick: [0-9]* targets' "$MLOCKD_LOG")
        kill "$busy"
        wait "$busy" 2>/dev/null || true
        grep -o 'Tick: [0-9]* targets.* us of CPU' "$MLOCKD_LOG" | sed -n "$(( n0 + 1 )),${n1}p" >"$TEST_TMP/tick-busy.log"
        echo "the tick's own CPU with the targets' cgroup busy, $(wc -l <"$TEST_TMP/tick-busy.log") ticks:" \
             "median $(awk '{ print $(NF - 3) / 1e3 }' "$TEST_TMP/tick-busy.log" | median) ms; last: $(tail -n 1 "$TEST_TMP/tick-busy.log")"
        row "  the same, their cgroup busy, tick CPU ms" "$(awk '{ print $(NF - 3) / 1e3 }' "$TEST_TMP/tick-busy.log" | median)" 0
fi
row "  daemon CPU per s (tick + process events), ms" "$(awk '{ print $1 / 3e6 }' "$TEST_TMP/tick" | median)" 0
echo >&"${SPAWN[1]}"
wait "$SPAWN_PID" 2>/dev/null || true
fi
stop_mlockd
rm -f "$CONF_DIR/mlockd.conf"

if [[ -z ${BENCH_SKIP_HOLD:-} ]] && section hold; then
echo "== hold under MaxPause=5ms vs one plain mlock2 (384 MiB, populating): $rounds rounds, interleaved"
write_policy bench "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
MaxPause=5ms"
# lock_span PID KB T0: waits until VmLck of PID reaches KB; LOCK_SPAN is the time in ms from the
# first change of VmLck (the first step done) to that (the last step), LOCK_SINCE from T0 (us of
# EPOCHREALTIME, the target's fork) to the last step; polled every 2 ms with builtins only (no
# fork beside the lock)
lock_span() {
        local k v t1= now deadline=$(( $3 + 60000000 ))
        LOCK_SPAN=nan LOCK_SINCE=nan
        while now=${EPOCHREALTIME/./}; (( now < deadline )); do
                v=0
                while read -r k v _; do [[ $k == VmLck: ]] && break; done <"/proc/$1/status"
                [[ -z $t1 && $v != 0 ]] && t1=$now
                if (( v >= $2 )); then
                        LOCK_SPAN=$(( (now - t1) / 1000 )) LOCK_SINCE=$(( (now - $3) / 1000 ))
                        return 0
                fi
                quiet_sleep 0.002
        done
        return 1
}
: >"$TEST_TMP/hold"
for r in $(seq 1 "$rounds"); do
        : >"$MLOCKD_LOG"
        start_mlockd --log-level=debug
        # not start_target: its wait for the ready line forks while the lock begins
        out=$(mktemp "$TEST_TMP/target.XXXXXX")
        t0=${EPOCHREALTIME/./}
        "$MY_TARGET" --anon 384M --mode clock >"$out" 2>&1 &
        spin=$!
        track_pid "$spin"
        lock_span "$spin" 393216 "$t0" || echo "not locked in time"
        span="$LOCK_SPAN $LOCK_SINCE"
        addr=$(ready_field "$out" anon)
        wait_until 60 eval '(( $(locked_kb_at "$spin" "$addr") >= 393216 ))' || echo "not locked in time"
        kill -USR1 "$spin"
        wait_until 5 grep -q gap_us "$out"
        gap=$(grep -o 'gap_us=[0-9]*' "$out" | tail -n1 | cut -d= -f2)
        stop_mlockd
        # the daemon's holds (its lock steps) and, where the injector says it, the waits before them
        # for the thread held last to run
        holds=$(grep -Eo "Process $spin: lock step at .* held [0-9]+ us" "$MLOCKD_LOG" | grep -Eo '[0-9]+ us$' |
                awk '{ n++; s += $1; if ($1 > m) m = $1 } END { printf "%d %d %.1f", n, m, s / 1000 }')
        waited=$(grep -Eo "before it, [0-9]+ us waiting for the thread held last to run( \(it did not\))?" "$MLOCKD_LOG" |
                 awk '{ n++; s += $3; g += /did not/ } END { if (n) printf "%.1f %d", s / 1000, g; else print "- -" }')
        kill -KILL "$spin"; wait "$spin" 2>/dev/null
        start_my_target plain --anon 384M --mode clock
        out=$(target_output)
        addr=$(ready_field "$out" anon)
        plain_held=$("$bench/bench-hold" "$plain" "$addr" $((384 << 20)) | grep -Eo 'held [0-9.]+ ms' | cut -d' ' -f2)
        kill -USR1 "$plain"
        wait_until 5 grep -q gap_us "$out"
        plain_gap=$(grep -o 'gap_us=[0-9]*' "$out" | tail -n1 | cut -d= -f2)
        kill -KILL "$plain"; wait "$plain" 2>/dev/null
        # gap_us steps longest_hold_us holds_sum_ms span_ms exec_to_last_ms waited_ms waits_given_up
        # plain_held_ms plain_gap_us
        echo "$gap $holds $span $waited $plain_held $plain_gap" | tee -a "$TEST_TMP/hold" | awk '{
                printf "round: target gap %d us; daemon: %d steps, longest hold %d us, holds %.1f ms in all, first step to last %d ms (exec to last %d ms), waited before holds %s ms (%s gave up); plain mlock2: held %s ms, gap %d us\n",
                        $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
done
hold_median() { awk -v c="$1" '{ print $c }' "$TEST_TMP/hold" | median; }
echo "mlockd, MaxPause=5ms: median longest gap seen by the target $(hold_median 1) us, the daemon's longest hold" \
     "$(hold_median 3) us, $(hold_median 2) steps holding $(hold_median 4) ms in all, the full lock $(hold_median 5) ms" \
     "from its first step to its last, $(hold_median 6) ms from exec (waited for the target to run: $(hold_median 7) ms)"
echo "plain mlock2: median longest gap seen by the target $(hold_median 10) us, held (the whole lock) $(hold_median 9) ms"
row "hold, 384 MiB full, MaxPause=5ms, gap us" "$(hold_median 1)" "$(hold_median 10)"
row "  the daemon's longest hold, us" "$(hold_median 3)" "$(hold_median 9 | awk '{ print $1 * 1000 }')"
row "  the full lock, first step to last, ms" "$(hold_median 5)" "$(hold_median 9)"
row "  the full lock, exec to last step, ms" "$(hold_median 6)" -
fi

echo "== every figure beside its floor (the floor: the processes lock themselves; 0: nothing)"
printf "%-44s %-24s %-24s %s\n" "what" "mlockd" "floor" "ratio"
cat "$TABLE"
