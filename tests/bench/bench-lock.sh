#!/bin/bash
# Locking benchmarks (make bench): exec->locked latency, time to lock 2,000 processes on fault,
# the longest hold under MaxPause against one plain mlock2 of the same size, and the daemon's RSS
# and wakeups per second when idle. Prints figures; asserts nothing about time.
. "${top_srcdir:-.}/tests/lib.sh"
bench=$top_builddir/tests/bench

write_policy bench "[Match]
Executable=$MY_TARGET
[Lock]
Mode=onfault
Regions=anon"
start_mlockd

echo "== exec->locked latency (100 processes, one after another)"
for i in $(seq 1 100); do
        "$bench/bench-spawn" 1 10 1024 "$MY_TARGET" --anon 1M --touch 256K | grep -o 'median [0-9.]* ms' | awk '{ print $2 }'
done | sort -n | awk '{ v[NR] = $1 } END { printf "median %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", v[int(NR/2)+1], v[int(NR*0.9)], v[int(NR*0.99)], v[NR] }'

echo "== 2,000 processes started at once, locked on fault"
"$bench/bench-spawn" 2000 120 1024 "$MY_TARGET" --anon 1M --touch 256K || true

echo "== daemon when idle (10 s)"
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$MLOCKD_PID/status")
sw0=$(awk '/ctxt_switches/ { s += $2 } END { print s }' "/proc/$MLOCKD_PID/status")
sleep 10
sw1=$(awk '/ctxt_switches/ { s += $2 } END { print s }' "/proc/$MLOCKD_PID/status")
echo "RSS ${rss} kB, wakeups $(( (sw1 - sw0) / 10 ))/s"
stop_mlockd

echo "== hold under MaxPause=5ms vs one plain mlock2 (384 MiB, populating)"
write_policy bench "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
MaxPause=5ms"
start_mlockd
start_my_target spin --anon 384M --mode clock
out=$(target_output)
addr=$(ready_field "$out" anon)
wait_until 60 eval '(( $(locked_kb_at "$spin" "$addr") >= 393216 ))' || echo "not locked in time"
kill -USR1 "$spin"
wait_until 5 grep -q gap_us "$out"
echo "mlockd, MaxPause=5ms: longest gap seen by the target $(grep -o 'gap_us=[0-9]*' "$out" | tail -n1 | cut -d= -f2) us"
stop_mlockd
start_my_target plain --anon 384M --mode clock
out=$(target_output)
addr=$(ready_field "$out" anon)
"$bench/bench-hold" "$plain" "$addr" $((384 << 20))
kill -USR1 "$plain"
wait_until 5 grep -q gap_us "$out"
echo "plain mlock2: longest gap seen by the target $(grep -o 'gap_us=[0-9]*' "$out" | tail -n1 | cut -d= -f2) us"
