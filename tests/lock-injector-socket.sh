#!/bin/bash
# The injector as its own service, without systemd: tests/helpers/socket-service holds the
# listening SOCK_SEQPACKET socket and runs `mlockd --injector` on it with the unit's bounding set,
# restarting it when it dies, as mlockd-injector.socket/.service do (Accept=no, Restart=always);
# the manager runs with --injector-socket= in a cgroup named
# mlockd.service (below this test's own), with only the capabilities mlockd.service leaves it
# (a bounding set of CAP_NET_ADMIN and CAP_SETPCAP: no ptrace, no admin) and under its
# SystemCallFilter= (tests/helpers/syscall-filter, EPERM for the rest). Checked:
#  - a target is locked through the service (the kernel's VmFlags); of two under seccomp filters,
#    the one whose filter allows mlock2 is locked and the one whose filter kills it is skipped and
#    left alive (the server reads their filters: it is under none);
#  - a server that does not answer (test hook MLOCKD_TEST_INJECTOR_STALL) is killed after its
#    timeout, the manager reconnects and the job ends locked, the target unharmed;
#  - a server killed outright is replaced the same way, and a new target is locked;
#  - the listener killed outright (its servers with it) is restarted, the manager's new
#    connection waits in the socket's backlog meanwhile, and a new target is locked;
#  - peers the injector must refuse are refused, with the reason, before any request: a root
#    manager outside mlockd.service, and a manager running as uid 65534;
#  - with Injectors=2 the manager makes two connections, each served by a process of its own;
#  - SIGTERM ends the listener cleanly once its servers are done.
# One worker (Injectors=1) until the last manager, whatever the CPUs.
. "${top_srcdir:-.}/tests/lib.sh"

require_root
command -v setpriv >/dev/null || skip "setpriv not installed"

# The hierarchy mlockd takes a process's unit from (lib/cgroup.c cgroup_paths_match_path): the
# unified one unless it is "/" on a host with a v1 name=systemd hierarchy.
unified=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
named=$(awk -F: '$2 == "name=systemd" { print $3 }' /proc/self/cgroup)
if [[ -n $named && ( -z $unified || $unified == / ) && -d /sys/fs/cgroup/systemd ]]; then
        cgbase=/sys/fs/cgroup/systemd${named%/}
elif [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
        cgbase=/sys/fs/cgroup${unified%/}
else
        skip "no cgroup hierarchy to name a unit in"
fi
slice=$cgbase/mlockdtest-$$.slice
mkdir -p "$slice/mlockd.service" || skip "cannot create a cgroup under $cgbase"
_test_cgroups+=("$slice/mlockd.service" "$slice")

write_app_policy
write_daemon_conf "Injectors=1"

VICTIM=$TEST_TMP/victim-$TEST_NAME
cp "$top_builddir/tests/helpers/victim" "$VICTIM"
write_policy confined "[Match]
Executable=$VICTIM
[Lock]
Mode=onfault
Regions=anon"
start_victim() {
        "$VICTIM" "$1" >"$TEST_TMP/$1.out" 2>&1 &
        track_pid $!
        printf -v "$2" '%s' $!
        wait_until 10 grep -q '^ready' "$TEST_TMP/$1.out" || fail "victim $1 did not start"
}
start_victim seccomp-kill killpid
start_victim seccomp-allow allowpid
kaddr=$(ready_field "$TEST_TMP/seccomp-kill.out" anon)
aaddr=$(ready_field "$TEST_TMP/seccomp-allow.out" anon)

SOCK=$TEST_TMP/injector.sock
INJ_LOG=$TEST_TMP/injector.log
# the injector with mlockd-injector.service's bounding set, and nothing else
MLOCKD_TEST_INJECTOR_STALL=1 "$top_builddir/tests/helpers/socket-service" "$SOCK" \
        setpriv --bounding-set=-all,+sys_ptrace,+sys_admin,+sys_nice,+sys_resource "$MLOCKD" --injector \
        >"$INJ_LOG" 2>&1 &
INJ_PID=$!
track_pid "$INJ_PID"
wait_until 10 grep -q "Listening for mlockd.service" "$INJ_LOG" || fail "the injector did not listen: $(cat "$INJ_LOG")"
[[ $(stat -c %a "$SOCK") == 600 ]] || fail "the socket is not 0600"

start_private_bus

# start_manager CGROUP_DIR [setpriv args]: the manager in that cgroup, on the injector's socket.
start_manager() {
        local cg=$1
        shift
        "$@" sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" --config-dir "$3" --injector-socket="$4"' \
                sh "$cg" "$MLOCKD" "$CONF_DIR" "$SOCK" >>"$MLOCKD_LOG" 2>&1 &
        MLOCKD_PID=$!
        track_pid "$MLOCKD_PID"
}

start_my_target pid --anon 16M --touch 4M
addr=$(ready_field "$(target_output)" anon)
filter=()
names=$(unit_syscall_filter "$top_builddir/systemd/mlockd.service")
if [[ -n $names ]]; then
        filter=("$top_builddir/tests/helpers/syscall-filter" $names --)
        # LeakSanitizer's check at exit ptraces the process, which the unit's filter refuses
        export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
else
        note "systemd-analyze is missing: the manager runs without mlockd.service's SystemCallFilter="
fi
start_manager "$slice/mlockd.service" setpriv --bounding-set=-all,+net_admin,+setpcap "${filter[@]}"
wait_until 30 grep -q 'running:' "$MLOCKD_LOG" || { cat "$MLOCKD_LOG" "$INJ_LOG" >&2; fail "mlockd did not start"; }
grep -q "Connected to the injector at $SOCK" "$MLOCKD_LOG" || fail "the manager did not use the injector socket"
grep -q "Serving the manager (pid $MLOCKD_PID)" "$INJ_LOG" || fail "the injector did not serve the manager: $(cat "$INJ_LOG")"
# the manager forked no injector of its own, and holds no capability at all once started
[[ -z $(cat /proc/"$MLOCKD_PID"/task/*/children) ]] || fail "the manager has children: it forked injectors"
[[ -z $names ]] || grep -q '^Seccomp:[[:space:]]*2' /proc/"$MLOCKD_PID"/status || fail "the manager is not under a filter"
for set in CapPrm CapEff CapBnd; do
        v=$(awk -v k="$set:" '$1 == k { print $2 }' /proc/"$MLOCKD_PID"/status)
        (( 16#$v == 0 )) || fail "the manager still holds capabilities: $set $v"
done

if grep -q "Test hook: this injector stops answering" "$INJ_LOG"; then
        wait_until 40 grep -q "did not answer request" "$MLOCKD_LOG" || fail "the stuck server was never timed out"
        wait_until 20 grep -q "Connected to the injector at $SOCK again" "$MLOCKD_LOG" ||
                { cat "$MLOCKD_LOG" >&2; fail "the manager did not reconnect after the stuck server"; }
        ! grep -q "left stopped or traced" "$MLOCKD_LOG" || fail "the stuck server left the target stopped or traced"
        # a call that did not return is not tried again on that target (failed:stuck), whichever
        # target the stalled step was on; a fresh copy of it is locked through the new connection
        wait_until 20 grep -q "Process [0-9]* (.*), policy [a-z]*: failed:stuck" "$MLOCKD_LOG" ||
                { cat "$MLOCKD_LOG" >&2; fail "the target of the stuck call is not failed:stuck"; }
        stuck=$(sed -n 's/.*Process \([0-9]*\) (.*), policy [a-z]*: failed:stuck.*/\1/p' "$MLOCKD_LOG" | head -n1)
        assert_unharmed "$stuck"
        if [[ $stuck == "$pid" ]]; then
                start_my_target pid --anon 16M --touch 4M
                addr=$(ready_field "$(target_output)" anon)
        elif [[ $stuck == "$allowpid" ]]; then
                start_victim seccomp-allow allowpid
                aaddr=$(ready_field "$TEST_TMP/seccomp-allow.out" anon)
        elif [[ $stuck == "$killpid" ]]; then
                # its filter is read in the injector at the step, so the stalled step may be its own
                start_victim seccomp-kill killpid
                kaddr=$(ready_field "$TEST_TMP/seccomp-kill.out" anon)
        else
                fail "the stuck call was on $stuck, not one of this test's targets ($pid $allowpid $killpid)"
        fi
else
        note "not a test build: the stall hook is not honoured, the stuck-server case is not run"
fi
wait_until 20 has_vmflags "$pid" "$addr" lo lf || { cat "$MLOCKD_LOG" "$INJ_LOG" >&2; fail "the target was not locked"; }
assert_unharmed "$pid"
assert_mlockd_alive

wait_until 20 grep -q "Process $killpid (.*), policy confined: skipped:seccomp" "$MLOCKD_LOG" ||
        fail "a filter that kills mlock2 was not reported: $(grep "Process $killpid" "$MLOCKD_LOG")"
lacks_vmflag "$killpid" "$kaddr" lo || fail "a target whose filter kills mlock2 was locked"
assert_unharmed "$killpid"
if (( (16#$(awk '/^CapEff:/ { print $2 }' /proc/self/status) >> 21) & 1 )); then
        wait_until 20 has_vmflags "$allowpid" "$aaddr" lo lf ||
                fail "a target whose filter allows mlock2 was not locked: $(grep "Process $allowpid" "$MLOCKD_LOG")"
        ! grep -q "Process $allowpid .*unreadable" "$MLOCKD_LOG" || fail "the server could not read the filter"
else
        note "no CAP_SYS_ADMIN: filters cannot be read, the allowing filter is not checked"
fi
assert_unharmed "$allowpid"

# kill the server outright: the manager sees its pidfd, reconnects, and locks a new target
server=$(sed -n 's/.*Connected to the injector at .* (server pid \([0-9]*\).*/\1/p' "$MLOCKD_LOG" | tail -n1)
[[ -n $server ]] || fail "no server pid in the manager's log"
grep -q "Serving the manager (pid $MLOCKD_PID) in process $server\." "$INJ_LOG" ||
        fail "server $server is not one the injector started"
# new_target_locked OUTVAR WHAT: a target started now is locked (and unharmed) after WHAT
new_target_locked() {
        local _p _a
        start_my_target _p --anon 16M --touch 4M
        _a=$(ready_field "$(target_output)" anon)
        wait_until 20 has_vmflags "$_p" "$_a" lo lf || { cat "$MLOCKD_LOG" >&2; fail "no new target locked after $2"; }
        assert_unharmed "$_p"
        printf -v "$1" '%s' "$_p"
}
connections() {
        grep -c "Connected to the injector at $SOCK" "$MLOCKD_LOG"
}
more_connections() {
        (( $(connections) > $1 ))
}
n=$(connections)
kill -KILL "$server"
wait_until 10 more_connections "$n" ||
        { cat "$MLOCKD_LOG" >&2; fail "the manager did not reconnect after its server was killed"; }
# its pidfd, or a send that finds its end closed, whichever comes first
grep -Eq "The injector \(pid $server\) (died|went away)" "$MLOCKD_LOG" || { cat "$MLOCKD_LOG" >&2; fail "the server's death was not logged"; }
new_target_locked pid2 "the server was killed"
assert_unharmed "$pid"
assert_mlockd_alive

# kill the listener outright: socket-service kills its servers and starts it again after 100 ms;
# the manager's new connection waits in the backlog until then
listener=$(sed -n 's/^started //p' "$INJ_LOG" | tail -n1)
[[ -n $listener ]] && kill -0 "$listener" || fail "no listener pid in $INJ_LOG"
n=$(connections)
kill -KILL "$listener"
wait_until 10 grep -q "^exited $listener" "$INJ_LOG" || fail "socket-service did not see the listener die"
wait_until 10 more_connections "$n" ||
        { cat "$MLOCKD_LOG" "$INJ_LOG" >&2; fail "the manager did not reconnect after the listener was restarted"; }
[[ $(sed -n 's/^started //p' "$INJ_LOG" | tail -n1) != "$listener" ]] || fail "the listener was not restarted"
new_target_locked pid3 "the listener restarted"
assert_unharmed "$pid"
assert_mlockd_alive

# peers to refuse: a root manager outside mlockd.service, and one running as uid 65534 (the
# socket is opened to everyone for this; mlockd-injector.socket is 0600). Each must exit 1 at
# start with the injector's reason, and the injector must log the refusal.
keep=$MLOCKD_PID
chmod 0666 "$SOCK"
chmod -R a+rX "$CONF_DIR"
: >"$TEST_TMP/wrong.log"
rc=0
timeout 30 "$MLOCKD" --config-dir "$CONF_DIR" --injector-socket="$SOCK" >"$TEST_TMP/wrong.log" 2>&1 || rc=$?
(( rc == 1 )) || fail "a manager outside mlockd.service exited $rc: $(cat "$TEST_TMP/wrong.log")"
grep -q "The injector refused this manager: not in mlockd.service" "$TEST_TMP/wrong.log" ||
        fail "no refusal for a manager outside mlockd.service: $(cat "$TEST_TMP/wrong.log")"
grep -q "Refusing a connection: not in mlockd.service" "$INJ_LOG" || fail "the injector did not log the refusal"

rc=0
timeout 30 setpriv --reuid 65534 --regid 65534 --clear-groups \
        "$MLOCKD" --config-dir "$CONF_DIR" --injector-socket="$SOCK" >"$TEST_TMP/wrong.log" 2>&1 || rc=$?
(( rc == 1 )) || fail "a manager as uid 65534 exited $rc: $(cat "$TEST_TMP/wrong.log")"
grep -q "The injector refused this manager: uid 65534 is not root" "$TEST_TMP/wrong.log" ||
        fail "no refusal for uid 65534: $(cat "$TEST_TMP/wrong.log")"
grep -q "Refusing a connection: uid 65534 is not root" "$INJ_LOG" || fail "the injector did not log the uid refusal"
MLOCKD_PID=$keep
assert_mlockd_alive
assert_unharmed "$pid"

# two workers: two connections, each served by a process of its own, and a new target is locked
stop_mlockd
write_daemon_conf "Injectors=2"
: >"$MLOCKD_LOG"
start_manager "$slice/mlockd.service" setpriv --bounding-set=-all,+net_admin,+setpcap "${filter[@]}"
wait_until 30 grep -q 'running:' "$MLOCKD_LOG" || { cat "$MLOCKD_LOG" "$INJ_LOG" >&2; fail "mlockd with Injectors=2 did not start"; }
servers=$(sed -n 's/.*Connected to the injector at .* (server pid \([0-9]*\).*/\1/p' "$MLOCKD_LOG" | sort -u)
(( $(wc -w <<<"$servers") == 2 )) || fail "with Injectors=2 the manager did not make two connections: $servers"
for s in $servers; do
        grep -q "Serving the manager (pid $MLOCKD_PID) in process $s\." "$INJ_LOG" ||
                fail "server $s is not one the injector started for this manager"
done
new_target_locked pid4 "two connections were made"
assert_unharmed "$pid"

# the good manager stops; then SIGTERM ends the listener cleanly (socket-service passes it on
# and exits with the listener's status)
stop_mlockd
kill -TERM "$INJ_PID"
rc=0
wait "$INJ_PID" || rc=$?
(( rc == 0 )) || fail "the injector exited $rc on SIGTERM: $(cat "$INJ_LOG")"
grep -q "Stopping: each server finishes its request first" "$INJ_LOG" || fail "the listener did not stop on SIGTERM"
assert_unharmed "$pid"
assert_unharmed "$pid2"
assert_unharmed "$pid3"
assert_unharmed "$pid4"
exit 0
