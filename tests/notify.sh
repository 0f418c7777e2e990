#!/bin/bash
# sd_notify: READY=1 with a STATUS= line once the first scan and the bus name are done, the
# watchdog, RELOADING=1 + MONOTONIC_USEC= then READY=1 on SIGHUP, STOPPING=1 on SIGTERM; all sent
# by the manager's own pid, none by the injector.
. "${top_srcdir:-.}/tests/lib.sh"

write_policy app "[Match]
Executable=$MY_TARGET
[Lock]
Mode=onfault"
start_private_bus

start_notify_listener

NOTIFY_SOCKET=$NOTIFY_SOCK WATCHDOG_USEC=400000 start_mlockd
wait_until 10 grep -q '^READY=1' "$TEST_TMP/notify.out" || fail "no READY=1: $(cat "$TEST_TMP/notify.out")"
grep -q '^STATUS=.*polic.*target' "$TEST_TMP/notify.out" || fail "no STATUS= summary"
wait_until 5 grep -q '^WATCHDOG=1' "$TEST_TMP/notify.out" || fail "no WATCHDOG=1 though WATCHDOG_USEC is set"

kill -HUP "$MLOCKD_PID"
wait_until 10 grep -q '^RELOADING=1' "$TEST_TMP/notify.out" || fail "no RELOADING=1 on SIGHUP"
grep -A1 '^RELOADING=1' "$TEST_TMP/notify.out" | grep -q '^MONOTONIC_USEC=[0-9]\+' ||
        fail "RELOADING=1 without MONOTONIC_USEC="
wait_until 10 eval '[[ $(grep -c "^READY=1" "$TEST_TMP/notify.out") -ge 2 ]]' || fail "no READY=1 after the reload"
# RELOADING=1 comes before the second READY=1
awk '/^RELOADING=1/ { r = NR } /^READY=1/ { last = NR } END { exit !(r && last > r) }' "$TEST_TMP/notify.out" ||
        fail "READY=1 did not follow RELOADING=1"

pid=$MLOCKD_PID
stop_mlockd
wait_until 5 grep -q '^STOPPING=1' "$TEST_TMP/notify.out" || fail "no STOPPING=1 on SIGTERM"
senders=$(grep '^pid=' "$TEST_TMP/notify.out" | sort -u)
[[ $senders == "pid=$pid" ]] || fail "messages came from other processes than the manager: $senders"
