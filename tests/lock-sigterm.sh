#!/bin/bash
# SIGTERM while a long full lock is under way: the daemon finishes the step in progress and exits
# cleanly, logging no error; no target is left stopped or traced, and the targets keep running.
. "${top_srcdir:-.}/tests/lib.sh"

write_policy big "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
MaxPause=1ms"

start_my_target a --anon 512M --mode spin
start_my_target b --anon 512M
start_mlockd
# wait until locking is under way, then stop the daemon in the middle of it
wait_until 20 eval '(( $(awk "/^VmLck:/ { print \$2 }" /proc/$a/status) > 0 || $(awk "/^VmLck:/ { print \$2 }" /proc/$b/status) > 0 ))' ||
        fail "locking never started"
stop_mlockd
for p in $a $b; do
        assert_unharmed "$p"
        sleep 0.1
        assert_unharmed "$p"
done
# a clean stop: neither the manager nor its injector logs an error on the way out
! grep -E '^<[0-3]>' "$MLOCKD_LOG" || fail "errors logged on SIGTERM"
