# Shared by the integration tests (sourced). Every process and cgroup a test makes is recorded
# and removed on exit; nothing else is ever signalled. Exit codes: 0 pass, 1 fail, 77 skip, 99 error.

set -u
umask 022 # files the tests write must pass the checks mlockd makes of its configuration files

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$PWD}"
: "${MLOCKD:=$top_builddir/mlockd}"
: "${MLOCKCTL:=$top_builddir/mlockctl}"
: "${TARGET:=$top_builddir/tests/helpers/target}"

TEST_NAME=$(basename "$0" .sh)
TEST_TMP=$(mktemp -d "/tmp/mlockd-$TEST_NAME.XXXXXX")
_test_pids=()
_test_cgroups=()
_test_swapfiles=()
# Cgroups and swapfiles are also listed in files: make_test_memcg and make_swapfile print their
# path and so run in $(...), a subshell whose arrays the cleanup never sees.
_test_cgroups_file=$TEST_TMP/.cgroups
_test_swapfiles_file=$TEST_TMP/.swapfiles

fail() {
        echo "FAIL: $TEST_NAME: $*" >&2
        exit 1
}

skip() {
        echo "SKIP: $TEST_NAME: $*" >&2
        exit 77
}

note() {
        echo "# $*"
}

# _pid_starttime PID VAR: VAR is pid's start time (field 22 of /proc/PID/stat, after the comm,
# which may hold spaces, parentheses and newlines: the file is read whole, and the fields start
# after its last ") "), empty when it is gone. No fork.
_pid_starttime() {
        local _ps_stat="" _ps_f
        printf -v "$2" '%s' ""
        [[ -r /proc/$1/stat ]] || return 0
        IFS= read -r -d '' _ps_stat 2>/dev/null <"/proc/$1/stat" || true
        [[ $_ps_stat == *") "* ]] || return 0
        read -r -a _ps_f <<<"${_ps_stat##*) }"
        printf -v "$2" '%s' "${_ps_f[19]:-}"
}

# Remember a pid so cleanup ends it (SIGKILL: a stopped process must go too), with its start
# time: a test that ran long has reaped many of its processes, and on a host whose pids wrap
# (pid_max 32768) the number may be another test's process by then; cleanup signals only a
# process that started when this one did.
track_pid() {
        local start
        _pid_starttime "$1" start
        _test_pids+=("$1:$start")
}

_test_cleanup() {
        local status=$? pid sw i start killed
        # a failed test shows the end of the daemon's log (debug lines left out) in its own log
        if (( status == 1 )) && [[ -s ${MLOCKD_LOG:-} ]]; then
                echo "--- the last lines of $MLOCKD_LOG above debug level:" >&2
                grep -v '^<7>' "$MLOCKD_LOG" | tail -n 30 >&2
        fi
        killed=()
        for pid in "${_test_pids[@]}"; do
                _pid_starttime "${pid%%:*}" start
                [[ -n ${pid#*:} && $start == "${pid#*:}" ]] || continue
                kill -KILL "${pid%%:*}" 2>/dev/null && killed+=("${pid%%:*}")
        done
        # only what was signalled: a child left alone (not ours any more) would be waited for forever
        for pid in "${killed[@]}"; do
                wait "$pid" 2>/dev/null || true
        done
        [[ -f $_test_cgroups_file ]] && mapfile -t -O "${#_test_cgroups[@]}" _test_cgroups <"$_test_cgroups_file"
        # the newest first: a child cgroup made after its parent goes before it
        for (( i = ${#_test_cgroups[@]} - 1; i >= 0; i-- )); do
                rmdir "${_test_cgroups[i]}" 2>/dev/null || true
        done
        [[ -f $_test_swapfiles_file ]] && mapfile -t -O "${#_test_swapfiles[@]}" _test_swapfiles <"$_test_swapfiles_file"
        for sw in "${_test_swapfiles[@]}"; do
                remove_swapfile "$sw"
        done
        if [[ ${MLOCKD_TEST_KEEP:-} == 1 ]]; then
                echo "# kept $TEST_TMP (MLOCKD_TEST_KEEP=1)" >&2
        else
                rm -rf "$TEST_TMP"
        fi
}
trap _test_cleanup EXIT

# start_target OUTVAR [target args...]: start tests/helpers/target and wait for its ready line.
start_target() {
        local _st_var=$1 _st_out _st_pid _st_i
        shift
        _st_out=$(mktemp "$TEST_TMP/target.XXXXXX")
        "$TARGET" "$@" >"$_st_out" 2>&1 &
        _st_pid=$!
        track_pid "$_st_pid"
        for _st_i in $(seq 1 500); do
                grep -q '^ready' "$_st_out" 2>/dev/null && break
                kill -0 "$_st_pid" 2>/dev/null || fail "target $* died: $(cat "$_st_out")"
                sleep 0.01
        done
        grep -q '^ready' "$_st_out" || fail "target $* never became ready"
        printf -v "$_st_var" '%s' "$_st_pid"
}

# Sum of smaps "Locked:" in kB for a pid.
locked_kb() {
        awk '/^Locked:/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps"
}

# locked_kb_sum PID...: locked_kb of them all, summed.
locked_kb_sum() {
        local p s=0
        for p in "$@"; do
                s=$(( s + $(locked_kb "$p") ))
        done
        echo "$s"
}

# final_states POLICY PID...: the daemon's log lines that give each pid's final state under POLICY
# (locked, partial, skipped, failed).
final_states() {
        local policy=$1 pids
        shift
        pids=$(IFS='|'; echo "$*")
        grep -E "Process ($pids) \(.*\), policy $policy: (locked|partial|skipped|failed)" "$MLOCKD_LOG"
}

# smaps_field PID ADDR FIELD: the FIELD ("VmFlags", "Locked", "Rss", ...) line of the mapping that
# contains address ADDR (hex, with 0x), without the field name. Plain bash: mawk has no strtonum.
smaps_field() {
        local pid=$1 addr=$((16#${2#0x})) field=$3 line range inside=0 start end
        while IFS= read -r line; do
                if [[ $line =~ ^([0-9a-f]+)-([0-9a-f]+)\  ]]; then
                        start=$((16#${BASH_REMATCH[1]}))
                        end=$((16#${BASH_REMATCH[2]}))
                        (( addr >= start && addr < end )) && inside=1 || inside=0
                elif (( inside )) && [[ $line == "$field:"* ]]; then
                        line=${line#"$field:"}
                        echo "${line#"${line%%[![:space:]]*}"}"
                        return 0
                fi
        done <"/proc/$pid/smaps"
        return 1
}

# VmFlags of the mapping that contains address $2 (hex, with 0x).
vmflags_at() {
        smaps_field "$1" "$2" VmFlags
}

# Wait until a command succeeds, up to $1 seconds.
wait_until() {
        local timeout=$1 deadline
        shift
        deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
        while ! "$@"; do
                (( $(date +%s%N) < deadline )) || return 1
                sleep 0.02
        done
}

# Sleeps that start no process (benches: the daemon looks at every exec): open_quiet_fifo once,
# before the windows measured; then quiet_sleep SECONDS is a read with a timeout on a FIFO nobody
# writes.
open_quiet_fifo() {
        mkfifo "$TEST_TMP/quiet.fifo"
        exec {QUIET_FD}<>"$TEST_TMP/quiet.fifo"
}
quiet_sleep() {
        read -r -t "$1" -u "$QUIET_FD" _ || :
}

# Start a private dbus-daemon with the project's bus policy; sets DBUS_SYSTEM_BUS_ADDRESS.
# $1 (optional): "permissive" to let anyone call anything (tests the daemon's own checks).
start_private_bus() {
        local mode=${1:-strict} conf=$TEST_TMP/bus.conf addr_file=$TEST_TMP/bus.addr pid_file=$TEST_TMP/bus.pid
        command -v dbus-daemon >/dev/null || skip "dbus-daemon not installed"
        {
                echo '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"'
                echo ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">'
                echo '<busconfig>'
                echo '  <type>system</type>'
                echo "  <listen>unix:path=$TEST_TMP/bus.socket</listen>"
                echo '  <auth>EXTERNAL</auth>'
                echo '  <policy context="default">'
                echo '    <allow user="*"/>'
                echo '    <deny own="*"/>'
                echo '    <allow send_type="method_call"/>'
                echo '    <allow send_type="signal"/>'
                echo '    <allow send_requested_reply="true" send_type="method_return"/>'
                echo '    <allow send_requested_reply="true" send_type="error"/>'
                echo '    <allow receive_type="method_call"/>'
                echo '    <allow receive_type="method_return"/>'
                echo '    <allow receive_type="error"/>'
                echo '    <allow receive_type="signal"/>'
                echo '    <allow send_destination="org.freedesktop.DBus"/>'
                echo '  </policy>'
                if [[ $mode == permissive ]]; then
                        echo '  <policy context="default"><allow own="org.mlockd1"/>'
                        echo '    <allow send_destination="org.mlockd1"/></policy>'
                elif [[ -f $top_srcdir/systemd/org.mlockd1.conf ]]; then
                        echo "  <include>$top_srcdir/systemd/org.mlockd1.conf</include>"
                fi
                echo '</busconfig>'
        } >"$conf"
        dbus-daemon --config-file="$conf" --fork --print-address=3 --print-pid=4 \
                3>"$addr_file" 4>"$pid_file" || fail "dbus-daemon did not start"
        track_pid "$(cat "$pid_file")"
        DBUS_SYSTEM_BUS_ADDRESS=$(head -n1 "$addr_file")
        export DBUS_SYSTEM_BUS_ADDRESS
}

# Make a memory cgroup below the one this test runs in (v1 memory controller or v2). Prints its
# path under the cgroupfs; the cgroup is removed on exit.
make_test_memcg() {
        local name=$1 base rel
        if [[ -d /sys/fs/cgroup/memory ]]; then
                rel=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
                base=/sys/fs/cgroup/memory${rel%/}
        elif [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
                rel=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
                base=/sys/fs/cgroup${rel%/}
        else
                skip "no memory cgroup controller"
        fi
        mkdir -p "$base/$name" || skip "cannot create a cgroup under $base"
        echo "$base/$name" >>"$_test_cgroups_file"
        echo "$base/$name"
}

# True when we may raise RLIMIT_MEMLOCK (CAP_SYS_RESOURCE).
have_cap_sys_resource() {
        local eff
        eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
        (( (16#$eff >> 24) & 1 ))
}

# A private copy of the target program, so that this test's policies (Executable=$MY_TARGET) never
# match the targets of tests running in parallel. Readable and executable by every user.
chmod 0755 "$TEST_TMP"
MY_TARGET=$TEST_TMP/target-$TEST_NAME
[[ -x $TARGET ]] && cp "$TARGET" "$MY_TARGET"
chmod 0755 "$MY_TARGET"

# start_my_target OUTVAR [args...]: like start_target, with this test's own copy.
start_my_target() {
        TARGET=$MY_TARGET start_target "$@"
}

# The output file of the target started last by start_target (its ready line, children, gaps).
target_output() {
        ls -t "$TEST_TMP"/target.* | head -n1
}

# Config directory with mlockd.conf and policy.d/; write_policy NAME CONTENT adds a policy.
CONF_DIR=$TEST_TMP/conf
mkdir -p "$CONF_DIR/policy.d"
write_policy() {
        printf '%s\n' "$2" >"$CONF_DIR/policy.d/$1.conf"
}
# write_app_policy [NAME]: the policy most tests need, NAME (default "app"): the test's own target,
# locked on fault, its anonymous memory.
write_app_policy() {
        write_policy "${1:-app}" "[Match]
Executable=$MY_TARGET
[Lock]
Mode=onfault
Regions=anon"
}
write_daemon_conf() {
        printf '[Daemon]\n%s\n' "$1" >"$CONF_DIR/mlockd.conf"
}

# start_notify_listener: tests/helpers/notify-listen on $NOTIFY_SOCK, for NOTIFY_SOCKET=; what it
# receives goes to $TEST_TMP/notify.out, one line each.
NOTIFY_SOCK=$TEST_TMP/notify.sock
start_notify_listener() {
        "$top_builddir/tests/helpers/notify-listen" "$NOTIFY_SOCK" >"$TEST_TMP/notify.out" 2>&1 &
        track_pid $!
        wait_until 5 grep -q listening "$TEST_TMP/notify.out" || fail "listener did not start"
}

MLOCKD_LOG=$TEST_TMP/mlockd.log
MLOCKD_PID=

# require_root: skip unless root. mlockd refuses to start without its capabilities (and the bus
# refuses non-root callers of Apply), so a non-root build user, as dh_auto_test runs the suite,
# skips these tests instead of failing them.
require_root() {
        (( EUID == 0 )) || skip "needs root (mlockd's capabilities, the bus methods for root), running as uid $EUID"
}

# start_mlockd [args...]: start the daemon on this test's config and the private bus, and wait
# until it has scanned and taken its bus name.
start_mlockd() {
        local i from
        require_root
        [[ -n ${DBUS_SYSTEM_BUS_ADDRESS:-} ]] || start_private_bus
        # this daemon's lines only: an earlier one's "running:" may be in the log
        from=$(( $(stat -c %s "$MLOCKD_LOG" 2>/dev/null || echo 0) + 1 ))
        "$MLOCKD" --config-dir "$CONF_DIR" "$@" >>"$MLOCKD_LOG" 2>&1 &
        MLOCKD_PID=$!
        track_pid "$MLOCKD_PID"
        for i in $(seq 1 1000); do
                tail -c +"$from" "$MLOCKD_LOG" | grep -q 'running:' && return 0
                if ! kill -0 "$MLOCKD_PID" 2>/dev/null; then
                        cat "$MLOCKD_LOG" >&2
                        fail "mlockd exited during start-up"
                fi
                sleep 0.02
        done
        cat "$MLOCKD_LOG" >&2
        fail "mlockd did not become ready"
}

# stop_mlockd: SIGTERM, and check it ended cleanly (exit 0).
stop_mlockd() {
        local rc=0
        [[ -n $MLOCKD_PID ]] || return 0
        kill -TERM "$MLOCKD_PID" 2>/dev/null || true
        wait "$MLOCKD_PID" || rc=$?
        MLOCKD_PID=
        if (( rc != 0 )); then
                cat "$MLOCKD_LOG" >&2
                fail "mlockd exited with status $rc"
        fi
}

# The daemon must still be alive (not killed by its own seccomp filter, not crashed).
assert_mlockd_alive() {
        kill -0 "$MLOCKD_PID" 2>/dev/null || { cat "$MLOCKD_LOG" >&2; fail "mlockd died"; }
}

# True when the mapping at $2 in pid $1 carries every VmFlags mnemonic given after it.
has_vmflags() {
        local pid=$1 addr=$2 flags f
        shift 2
        flags=" $(vmflags_at "$pid" "$addr") "
        for f in "$@"; do
                [[ $flags == *" $f "* ]] || return 1
        done
        return 0
}
lacks_vmflag() {
        local flags
        flags=" $(vmflags_at "$1" "$2") "
        [[ $flags != *" $3 "* ]]
}

# smaps Locked: (kB) of the mapping at $2 in pid $1.
locked_kb_at() {
        local v
        v=$(smaps_field "$1" "$2" Locked) || { echo 0; return; }
        echo "${v%% *}"
}

# field VALUE from a "ready pid=... anon=..." line of a target output file
ready_field() {
        grep '^ready' "$1" | tail -n1 | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'
}

# listed PID: whether mlockctl's target list (ListTargets on the bus) has PID.
listed() {
        "$MLOCKCTL" targets --json | grep -q "\"pid\":$1\b"
}

# A process is "unharmed" when it is alive and none of its threads is stopped or traced (the
# injector attaches to one thread, not always the first).
# Left stopped or traced means for good: a lock step in progress holds a target for at most
# MaxPause, so a stop or a tracer that is still there after 2 s is a failure.
assert_unharmed() {
        local pid=$1 state tracer i
        for i in $(seq 1 100); do
                kill -0 "$pid" 2>/dev/null || fail "process $pid died"
                # each thread's State and TracerPid: the first found stopped or traced, or "S 0"
                read -r state tracer < <(awk '/^State:/ { s = $2 } /^TracerPid:/ { t = $2
                        if (s == "T" || s == "t" || t != 0) { print s, t; bad = 1; exit } }
                        END { if (!bad) print "S", 0 }' /proc/"$pid"/task/*/status 2>/dev/null)
                [[ -n $state && $state != T && $state != t && $tracer == 0 ]] && return 0
                sleep 0.02
        done
        [[ $state != T && $state != t ]] || fail "process $pid was left stopped ($state)"
        fail "process $pid is still traced by $tracer"
}

# make_swapfile SIZE_MB: a swapfile of our own under /var/tmp, swapped on at a high priority so it
# is used before any other; prints its path. Skips (77) when swapon is refused (no CAP_SYS_ADMIN,
# a filesystem without swapfile support). Removed by remove_swapfile or at exit.
make_swapfile() {
        local size_mb=$1 f
        command -v mkswap >/dev/null && command -v swapon >/dev/null || skip "mkswap/swapon not installed"
        f=$(mktemp /var/tmp/mlockd-swap.XXXXXX) || skip "cannot create a file under /var/tmp"
        if ! dd if=/dev/zero of="$f" bs=1M count="$size_mb" status=none 2>/dev/null; then
                rm -f "$f"
                skip "cannot write a ${size_mb} MiB swapfile under /var/tmp"
        fi
        chmod 600 "$f"
        mkswap "$f" >/dev/null 2>&1 || { rm -f "$f"; skip "mkswap refused $f"; }
        if ! swapon -p 32767 "$f" 2>"$TEST_TMP/swapon.err"; then
                rm -f "$f"
                skip "swapon refused: $(cat "$TEST_TMP/swapon.err")"
        fi
        echo "$f" >>"$_test_swapfiles_file"
        echo "$f"
}

# remove_swapfile PATH: swapoff (which reads its pages back in) and delete it.
remove_swapfile() {
        [[ -f $1 ]] || return 0
        swapoff "$1" 2>/dev/null || true
        rm -f "$1"
}

# require_page_flags: skip (77) with the reason unless this test can read per-page flags (pagemap
# PFNs and /proc/kpageflags need CAP_SYS_ADMIN). Call it at the top level, not in $(...).
require_page_flags() {
        local rc=0
        "$top_builddir/tests/helpers/pagecount" $$ >/dev/null 2>"$TEST_TMP/pagecount.err" || rc=$?
        [[ $rc -eq 77 ]] && skip "per-page flags: $(cat "$TEST_TMP/pagecount.err")"
        [[ $rc -eq 0 ]] || fail "pagecount: $(cat "$TEST_TMP/pagecount.err")"
}

# page_counts PID [START-END ...]: one line of per-page counts from pagemap + kpageflags
# (tests/helpers/pagecount; see there for the fields). Call require_page_flags first: inside $(...)
# a skip only ends the subshell.
page_counts() {
        local out rc=0
        out=$("$top_builddir/tests/helpers/pagecount" "$@" 2>"$TEST_TMP/pagecount.err") || rc=$?
        [[ $rc -eq 77 ]] && skip "per-page flags: $(cat "$TEST_TMP/pagecount.err")"
        [[ $rc -eq 0 ]] || fail "pagecount $*: $(cat "$TEST_TMP/pagecount.err")"
        echo "$out"
}

# page_count FIELD PID [START-END ...]: one field of page_counts, e.g. mlocked (in pages).
page_count() {
        local field=$1
        shift
        page_counts "$@" | tr ' ' '\n' | awk -F= -v k="$field" '$1 == k { print $2 }'
}

# mlocked_kb PID [START-END ...]: the truly mlocked memory of PID (pages with PG_mlocked), in kB.
mlocked_kb() {
        local line pages ps
        line=$(page_counts "$@")
        pages=$(tr ' ' '\n' <<<"$line" | awk -F= '$1 == "mlocked" { print $2 }')
        ps=$(tr ' ' '\n' <<<"$line" | awk -F= '$1 == "page_size" { print $2 }')
        echo $((pages * ps / 1024))
}

# cgroup_unevictable CG: the unevictable bytes of the cgroup directory CG and everything below it
# (v1 total_unevictable, v2 unevictable, which is hierarchical).
cgroup_unevictable() {
        awk '$1 == "total_unevictable" { t = $2; seen = 1 } $1 == "unevictable" { u = $2 }
             END { print (seen ? t : u) + 0 }' "$1/memory.stat"
}

# unevictable_agrees CG PID [TIMEOUT]: wait (default 15 s) until the cgroup CG's memory.stat
# unevictable is within 2% of what PID truly has mlocked, both read again each time; sets
# UNEVICTABLE and TRUTH (bytes) to the last figures either way. The kernel flushes memcg
# statistics in batches: up to about 64 pages a CPU plus 128 may wait for its periodic flush, every
# 2 s, which a loaded machine can delay.
unevictable_agrees() {
        local cg=$1 pid=$2 timeout=${3:-15} deadline
        deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
        while :; do
                TRUTH=$(( $(mlocked_kb "$pid") * 1024 ))
                UNEVICTABLE=$(awk '$1 == "unevictable" { print $2 }' "$cg/memory.stat")
                (( UNEVICTABLE * 100 >= TRUTH * 98 && UNEVICTABLE * 100 <= TRUTH * 102 )) && return 0
                (( $(date +%s%N) < deadline )) || return 1
                sleep 0.1
        done
}

# unit_syscall_filter UNIT_FILE: the system calls the unit's SystemCallFilter= lines allow, one per
# line, groups expanded with systemd-analyze syscall-filter (allow lists, then ~ removals, in
# order). Empty when the unit has no filter or systemd-analyze is missing.
unit_syscall_filter() {
        local line group v x
        local -A members allows
        command -v systemd-analyze >/dev/null || return 0
        while IFS= read -r line; do
                if [[ $line == @* ]]; then
                        group=$line
                        members[$group]=
                elif [[ -n ${group:-} && $line =~ ^[[:space:]]+([@a-z0-9_-]+)$ ]]; then
                        members[$group]+=" ${BASH_REMATCH[1]}"
                fi
        done < <(systemd-analyze syscall-filter 2>/dev/null)
        _usf_expand() {
                local y
                for y in "$@"; do
                        if [[ $y == @* ]]; then
                                _usf_expand ${members[$y]:-}
                        else
                                echo "$y"
                        fi
                done
        }
        while read -r v; do
                if [[ $v == '~'* ]]; then
                        for x in $(_usf_expand ${v#\~}); do unset "allows[$x]"; done
                else
                        for x in $(_usf_expand $v); do allows[$x]=1; done
                fi
        done < <(sed -n 's/^SystemCallFilter=//p' "$1")
        for x in "${!allows[@]}"; do
                echo "$x"
        done
}

# kernel_locked_kb PID: what mlockd reports as locked in PID, by the kernel's word: its mlocked
# pages (kpageflags) where this test can read them, else the smaps Locked: sum (a PSS figure,
# which mlockd falls back to as well).
kernel_locked_kb() {
        if "$top_builddir/tests/helpers/pagecount" $$ >/dev/null 2>&1; then
                mlocked_kb "$1"
        else
                locked_kb "$1"
        fi
}

# cgroup_wrapper CG: a script that moves itself into the cgroup directory CG and execs its
# arguments; with TARGET=$(cgroup_wrapper CG) start_target runs a target there from its first
# page, so its memory is charged to CG. Prints the script's path.
cgroup_wrapper() {
        local w
        w=$(mktemp "$TEST_TMP/in-cgroup.XXXXXX")
        printf '#!/bin/sh\necho $$ >"%s/cgroup.procs" || exit 1\nexec "$@"\n' "$1" >"$w"
        chmod 0755 "$w"
        echo "$w"
}
