#!/bin/bash
# Apply as a job (make bench): how long a 1 GiB full lock with MaxPause=1ms takes through Apply,
# and how fast ListTargets answers meanwhile (the loop is not blocked). Prints figures only.
. "${top_srcdir:-.}/tests/lib.sh"

write_policy big "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
MaxPause=1ms"
start_my_target big --anon 1G
addr=$(ready_field "$(target_output)" anon)
start_mlockd
wait_until 120 has_vmflags "$big" "$addr" lo || fail "not locked at start"
"$MLOCKCTL" release "$big" || fail "release failed"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(now_ms)
busctl call --timeout=300 org.mlockd1 /org/mlockd1 org.mlockd1.Manager Apply u "$big" >/dev/null &
apply=$!
lat=()
while kill -0 "$apply" 2>/dev/null; do
        a=$(date +%s%N)
        busctl call org.mlockd1 /org/mlockd1 org.mlockd1.Manager ListTargets >/dev/null || break
        lat+=($(( ($(date +%s%N) - a) / 1000 )))
done
wait "$apply" || fail "Apply failed"
t1=$(now_ms)
echo "Apply of a 1 GiB full lock (MaxPause=1ms): $(( t1 - t0 )) ms"
printf '%s\n' "${lat[@]}" | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "ListTargets meanwhile: %d calls, median %d us, max %d us\n", NR, v[int(NR/2)+1], v[NR] }'
stop_mlockd
