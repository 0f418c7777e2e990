#!/bin/bash
# A process that what is known without its exe (comm, cgroup, unit, uid) already rules out of every
# policy costs no exe read: neither the manager nor the injector reads it (for a process of another
# owner the injector would be woken, for every such process on the machine). Where the exe decides,
# it is still read, and the process matched.
. "${top_srcdir:-.}/tests/lib.sh"
require_root
command -v strace >/dev/null || skip "strace is not installed (it watches the exe reads)"

OTHER=$TEST_TMP/target-other
cp "$MY_TARGET" "$OTHER"
# only uid 4242 could match: a root process is ruled out before its exe is known
write_policy a-user "[Match]
Executable=$MY_TARGET
User=4242
[Lock]
Mode=onfault
Regions=anon"
start_mlockd --log-level=debug

# trace_exe_reads FILE: strace the manager and its injectors' readlinks into FILE, in the background
trace_exe_reads() {
        local args=(-p "$MLOCKD_PID") p
        for p in $(cat /proc/"$MLOCKD_PID"/task/*/children); do args+=(-p "$p"); done
        strace -f -qq -e trace=readlink,readlinkat "${args[@]}" -o "$1" 2>/dev/null &
        strace_pid=$!
        track_pid "$strace_pid"
        sleep 1 # attached
}
untrace() {
        kill -INT "$strace_pid"
        wait "$strace_pid" 2>/dev/null || true
}

trace_exe_reads "$TEST_TMP/ruled-out.strace"
start_my_target out --anon 1M --touch 1M
sleep 1 # its fork and exec events were handled
untrace
! grep -q "/proc/$out/exe" "$TEST_TMP/ruled-out.strace" ||
        fail "the exe of $out was read though User= rules it out: $(grep "/proc/$out/exe" "$TEST_TMP/ruled-out.strace")"
grep -q "Process $out .*matches policy" "$MLOCKD_LOG" && fail "$out matched"
lacks_vmflag "$out" "$(ready_field "$(target_output)" anon)" lo || fail "$out was locked"

# only the exe can decide: it is read, and the process locked
write_policy b-exe "[Match]
Executable=$OTHER
[Lock]
Mode=onfault
Regions=anon"
kill -HUP "$MLOCKD_PID"
wait_until 10 grep -q 'Reloaded 2 policies' "$MLOCKD_LOG" || fail "no reload"
trace_exe_reads "$TEST_TMP/decided.strace"
TARGET=$OTHER start_target in --anon 1M --touch 1M
wait_until 10 grep -q "Process $in (.*), policy b-exe: locked" "$MLOCKD_LOG" || fail "$in not locked"
untrace
grep -q "/proc/$in/exe" "$TEST_TMP/decided.strace" ||
        fail "the exe of $in was not read: $(grep -c readlink "$TEST_TMP/decided.strace") readlinks"
assert_unharmed "$out"
assert_unharmed "$in"
assert_mlockd_alive
stop_mlockd
