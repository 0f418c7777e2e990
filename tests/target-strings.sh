#!/bin/bash
# Strings from targets are data (issue 14): a process that names itself "x\xff\xfe" or with control
# characters, one whose executable sits at an invalid-UTF-8 path of almost a page, and a cgroup
# with an invalid-UTF-8 name. ListTargets, GetTarget, DescribeTarget, ListCgroups, mlockctl
# targets/status and the metrics file must all answer, for root and for anybody, with the odd
# bytes escaped ("\xff"), and the log must carry no raw invalid byte.
. "${top_srcdir:-.}/tests/lib.sh"
. "$top_srcdir/tests/hostile-lib.sh"
command -v busctl >/dev/null || skip "busctl not installed"
command -v python3 >/dev/null || skip "python3 not installed"
command -v setpriv >/dev/null || skip "setpriv not installed"

cg=$(make_test_memcg "$(printf 'mlockd-strings-%d-\xff\x01' $$)")
metrics=$TEST_TMP/mlockd.prom
write_daemon_conf "AccountingInterval=200ms
MetricsFile=$metrics"
write_policy strings "[Match]
Executable=$MY_HOSTILE
Executable=$TEST_TMP/d01*
Name=*
[Lock]
Mode=onfault
Regions=anon"

start_hostile bad --comm "$(printf 'x\xff\xfe')" --anon 1M
start_hostile ctl --comm "$(printf 'a\nb\tc\x1b[31m\x7f')" --anon 1M
echo "$ctl" >"$cg/cgroup.procs"
# an executable at a path of about 4000 bytes, with invalid UTF-8 and a newline in its components,
# made and started step by step (cd, then a relative name: a path that long fits no system call)
(
        cd "$TEST_TMP" || exit 1
        for i in $(seq 1 16); do
                d=$(printf 'd%02d\xff\xfe\n%0245d' "$i" 0)
                mkdir "$d" && cd "$d" || exit 1
        done
        name=$(printf 'h\xc3\x28')
        cp "$MY_HOSTILE" "$name" || exit 1
        exec "./$name" --anon 1M >"$TEST_TMP/deep.out" 2>&1
) &
deep_pid=$!
track_pid "$deep_pid"
wait_until 10 grep -qs '^ready' "$TEST_TMP/deep.out" || fail "the deep target did not start: $(cat "$TEST_TMP/deep.out" 2>&1)"
exe_len=$(readlink "/proc/$deep_pid/exe" | wc -c)
(( exe_len > 3900 && exe_len < 4096 )) || fail "the deep exe path is $exe_len bytes, wanted just under a page"
note "exe path of $exe_len bytes"

start_mlockd
for p in "$bad" "$ctl" "$deep_pid"; do
        wait_until 20 eval '[[ $(state_of '"$p"') == locked ]]' || fail "process $p not locked: $(state_of "$p")"
done

DEST=(org.mlockd1 /org/mlockd1 org.mlockd1.Manager)
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
for who in "" as_nobody; do
        list=$($who busctl --system --json=short call "${DEST[@]}" ListTargets) ||
                fail "ListTargets failed ${who:-as root}"
        python3 - "$list" "$bad" "$ctl" "$deep_pid" <<'PY' || fail "ListTargets ${who:-as root}: $list"
import json, sys
d = {t[0]: t for t in json.loads(sys.argv[1])["data"][0]}
bad, ctl, deep = map(int, sys.argv[2:5])
assert d[bad][1] == "x\\xff\\xfe", d[bad]
assert d[ctl][1] == "a\\x0ab\\x09c\\x1b[31m\\x7f", d[ctl]
for t in d.values():
    assert t[5] == "locked", t
PY
        $who busctl --system call "${DEST[@]}" GetTarget u "$bad" | grep -qF 'x\\xff\\xfe' ||
                fail "GetTarget ${who:-as root}: $($who busctl --system call "${DEST[@]}" GetTarget u "$bad" 2>&1)"
        desc=$($who busctl --system --json=short call "${DEST[@]}" DescribeTarget u "$deep_pid") ||
                fail "DescribeTarget ${who:-as root} failed"
        python3 - "$desc" "$exe_len" <<'PY' || fail "DescribeTarget ${who:-as root}: $desc"
import json, sys
d = json.loads(sys.argv[1])["data"][0]
exe = d["exe"]["data"]
assert exe.endswith("/h\\xc3("), exe
assert exe.count("\\xff\\xfe\\x0a") == 16, exe
# each invalid byte and the newline take 4 bytes escaped: 3 each for 3 x 16 of them, 3 for the \xc3
assert len(exe.encode()) == int(sys.argv[2]) - 1 + 3 * 48 + 3, (len(exe), sys.argv[2])
PY
        $who busctl --system call "${DEST[@]}" Explain u "$bad" | grep -qF 'x\\xff\\xfe' ||
                fail "Explain ${who:-as root}: $($who busctl --system call "${DEST[@]}" Explain u "$bad" 2>&1)"
        # the memory cgroup (v1 on hybrid hosts: not the Cgroup= path ListTargets shows)
        desc=$($who busctl --system --json=short call "${DEST[@]}" DescribeTarget u "$ctl") ||
                fail "DescribeTarget ${who:-as root} failed"
        python3 -c 'import json, sys
d = json.loads(sys.argv[1])["data"][0]
assert d["comm"]["data"] == "a\\x0ab\\x09c\\x1b[31m\\x7f", d
assert d["memory_cgroup"]["data"].endswith("-\\xff\\x01"), d' "$desc" || fail "DescribeTarget ${who:-as root}: $desc"
        cgroups=$($who busctl --system --json=short call "${DEST[@]}" ListCgroups) ||
                fail "ListCgroups ${who:-as root} failed"
        grep -qF -- '-\\xff\\x01"' <<<"$cgroups" || fail "ListCgroups ${who:-as root} lacks the escaped cgroup: $cgroups"
        out=$($who "$MLOCKCTL" targets 2>&1) || fail "mlockctl targets ${who:-as root}: $out"
        # mlockctl shows the bus's escapes as they are (as systemctl shows "\x2d"), not doubled
        grep -qF 'x\xff\xfe' <<<"$out" || fail "mlockctl targets ${who:-as root} lacks the escaped comm: $out"
        ! grep -qF 'x\\xff' <<<"$out" || fail "mlockctl targets ${who:-as root} doubles the backslashes: $out"
        out=$($who "$MLOCKCTL" --json targets 2>&1) || fail "mlockctl --json targets ${who:-as root}: $out"
        python3 -c 'import json, sys; json.loads(sys.argv[1])' "$out" || fail "mlockctl --json targets is not JSON: $out"
        for p in "$bad" "$ctl" "$deep_pid"; do
                out=$($who "$MLOCKCTL" status "$p" 2>&1) || fail "mlockctl status $p ${who:-as root}: $out"
        done
        out=$($who "$MLOCKCTL" status 2>&1) || fail "mlockctl status ${who:-as root}: $out"
done

# the metrics file: the cgroup label escaped the same way, and valid for Prometheus
wait_until 5 grep -q 'mlockd-strings-.*\\\\xff\\\\x01' "$metrics" || fail "no escaped cgroup label: $(grep cgroup= "$metrics")"
! LC_ALL=C grep -q $'[\x80-\xff]' "$metrics" || fail "a raw byte above 0x7f in the metrics file"
if command -v promtool >/dev/null; then
        promtool check metrics <"$metrics" || fail "promtool rejects the metrics file"
fi

# the log: the same escapes, never the raw bytes (whatever the log level logged of these targets)
grep -qF 'x\xff\xfe' "$MLOCKD_LOG" || fail "the log never names the odd comm: $(grep "$bad" "$MLOCKD_LOG")"
! LC_ALL=C grep -q $'\xff' "$MLOCKD_LOG" || fail "a raw 0xff in the log"
! LC_ALL=C grep -q $'\x1b' "$MLOCKD_LOG" || fail "a raw escape character in the log"

assert_unharmed "$bad"
assert_unharmed "$ctl"
assert_unharmed "$deep_pid"
assert_mlockd_alive
stop_mlockd
