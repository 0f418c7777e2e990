#!/bin/bash
# mlockd without CAP_NET_ADMIN (a unit whose CapabilityBoundingSet= leaves it out, a container
# without NET_ADMIN). Kernels before 6.6, and some builds since, refuse the proc connector to such
# a process (this host's 6.18 refused the bind with EPERM); others take it. Either way, a process
# started after mlockd is locked (smaps VmFlags, and the kernel's per-page flags where readable):
#  - refused: mlockd says at warning that the kernel wants CAP_NET_ADMIN, names the scan interval
#    and keeps CAP_NET_ADMIN as the way back, and finds the process by its scan of /proc;
#  - taken: no warning, and the process is found by its events (ScanInterval=0: no periodic scan).
. "${top_srcdir:-.}/tests/lib.sh"
require_root
command -v setpriv >/dev/null || skip "setpriv not installed (util-linux)"
setpriv --bounding-set -net_admin true 2>"$TEST_TMP/setpriv.err" ||
        skip "setpriv --bounding-set refused: $(cat "$TEST_TMP/setpriv.err")"

# the daemon started through setpriv, which execs it: $MLOCKD_PID is still the daemon's
real=$MLOCKD
MLOCKD=$TEST_TMP/mlockd-no-net-admin
printf '#!/bin/sh\nexec setpriv --bounding-set -net_admin %q "$@"\n' "$real" >"$MLOCKD"
chmod +x "$MLOCKD"

write_daemon_conf "ScanInterval=1s"
write_app_policy

start_mlockd

if grep -q "This kernel lets only CAP_NET_ADMIN subscribe to process events" "$MLOCKD_LOG"; then
        note "the kernel refuses the proc connector without CAP_NET_ADMIN: scanning"
        grep -q "<4>This kernel lets only CAP_NET_ADMIN subscribe to process events (the proc connector), and mlockd runs without it: new processes are found by scanning /proc every 1s (ScanInterval=) instead. Keep CAP_NET_ADMIN in the unit's CapabilityBoundingSet=, as shipped." "$MLOCKD_LOG" ||
                fail "the warning does not say what it does and how to get events back: $(grep -i 'net_admin' "$MLOCKD_LOG")"
else
        note "the kernel takes the proc connector without CAP_NET_ADMIN: events"
        ! grep -q "scanning /proc every" "$MLOCKD_LOG" || fail "mlockd fell back to scanning: $(grep -i 'scanning' "$MLOCKD_LOG")"
        # no periodic scan: what finds the process below is its exec event
        stop_mlockd
        write_daemon_conf "ScanInterval=0"
        start_mlockd
fi

start_my_target pid --anon 16M --touch 4M
addr=$(ready_field "$(target_output)" anon)
# found by the next scan (1 s) or by its exec event, then locked
wait_until 10 has_vmflags "$pid" "$addr" lo lf || { cat "$MLOCKD_LOG" >&2; fail "a process started after mlockd was not locked"; }
wait_until 10 grep -Eq "Process $pid \(.*\), policy app: locked" "$MLOCKD_LOG" ||
        fail "the target's job did not end locked: $(grep "Process $pid" "$MLOCKD_LOG")"
# the kernel's per-page word: the 4 MiB touched are mlocked
if "$top_builddir/tests/helpers/pagecount" $$ >/dev/null 2>&1; then
        end=$(printf '%x' $((addr + 16 * 1024 * 1024)))
        kb=$(mlocked_kb "$pid" "${addr#0x}-$end")
        (( kb >= 4096 )) || fail "only $kb kB of the 4 MiB touched are mlocked per kpageflags"
else
        note "per-page flags unreadable here: the kpageflags check is left out"
fi
assert_unharmed "$pid"
stop_mlockd
