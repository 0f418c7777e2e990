#!/bin/bash
# Kill-safety: SIGKILL of the manager, or of the injector, at a random moment of a full lock
# (Mode=full, MaxPause=1ms) harms no target. The target (tests/helpers/victim ward) holds KILL_MIB
# MiB of anonymous memory, every word written from its index, two threads checking their
# registers, FPU state and mask pass after pass, and a main thread counting SIGRTMIN in pause().
# After each kill: every thread alive, not stopped, not traced; then the memory intact, no check
# failed, every SIGRTMIN sent counted.
#
# KILL_RUNS (10) runs of each kind (KILL_ONLY=manager or injector: one kind); KILL_MIB (128). tests/bench/bench-kill.sh runs 100 of 1 GiB
# and prints the figures. The kill is aimed inside an injected call (tests/helpers/killer polls for
# a thread of the target traced and running, R or D, and kills then); the figures say how many were.
: "${top_builddir:=$PWD}"
TARGET=$top_builddir/tests/helpers/victim
KILLER=$top_builddir/tests/helpers/killer
. "${top_srcdir:-.}/tests/lib.sh"

: "${KILL_RUNS:=10}"
: "${KILL_MIB:=128}"

[[ -x $TARGET && -x $KILLER ]] || skip "tests/helpers/victim or killer is not built"

write_policy ward "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=anon
MaxPause=1ms"

vmlck_kb() {
        awk '/^VmLck:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# Why the process $1 is harmed (every thread), or nothing.
harm_of() {
        local st s
        kill -0 "$1" 2>/dev/null || { echo "died"; return; }
        for st in /proc/"$1"/task/*/status; do
                s=$(awk '/^State:/ { s = $2 } /^TracerPid:/ { t = $2 } END { print s, t }' "$st" 2>/dev/null) || continue
                case $s in
                Z\ *|X\ *) echo "died ($s)"; return;;
                T\ *|t\ *) echo "left stopped ($st: $s)"; return;;
                *\ 0) ;;
                *) echo "left traced ($st: $s)"; return;;
                esac
        done
}

# Wait until none of the pids is alive (a zombie nobody reaps counts as gone).
wait_gone() {
        local p
        for p in "$@"; do
                wait_until 20 eval "[[ ! -e /proc/$p ]] || grep -q '^State:.*Z' /proc/$p/status 2>/dev/null" ||
                        return 1
        done
}

sleep_ms() {
        sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')"
}

RUN_HARMED=0
RUN_IN_CALL=0

# run_one manager|injector DELAY_MS: one target, one daemon, one kill DELAY_MS after locking began.
run_one() {
        local what=$1 delay_ms=$2 pid out injectors harm sent=0 line kres
        : >"$MLOCKD_LOG"
        start_my_target pid ward "$KILL_MIB"
        out=$(target_output)
        start_mlockd
        injectors=$(cat /proc/"$MLOCKD_PID"/task/*/children 2>/dev/null)
        wait_until 30 eval '(( $(vmlck_kb "$pid") > 0 ))' || fail "locking of $pid never started"
        sleep_ms $(( delay_ms / 2 ))
        kill -RTMIN "$pid"
        sent=$(( sent + 1 ))
        sleep_ms $(( delay_ms - delay_ms / 2 ))

        # aim at an injected call: most of a lock's time is spent outside them, in the injector
        if [[ $what == manager ]]; then
                kres=$("$KILLER" "$pid" "$MLOCKD_PID" 5000) || fail "cannot kill the manager"
                wait "$MLOCKD_PID" 2>/dev/null || true
                MLOCKD_PID=
                # the injectors finish the step in hand and exit
                wait_gone $injectors || fail "an injector outlived the killed manager by 20 s"
        else
                if ! kres=$("$KILLER" "$pid" 0 5000); then
                        set -- $injectors       # not caught in a call: the active one, the first forked
                        kill -KILL "$1"
                        kres="killed $1 in_call=0"
                fi
                set -- $kres
                wait_gone "$2" || fail "SIGKILL did not end the injector $2"
                # the spare goes on with the job: a clean stop ends its step, and the manager
                kill -TERM "$MLOCKD_PID"
                wait "$MLOCKD_PID" 2>/dev/null || true
                MLOCKD_PID=
                wait_gone $injectors || fail "an injector outlived the stopped manager by 20 s"
        fi
        [[ $kres == *in_call=1 ]] && RUN_IN_CALL=$(( RUN_IN_CALL + 1 ))
        kill -RTMIN "$pid"
        sent=$(( sent + 1 ))

        harm=$(harm_of "$pid")
        if [[ -z $harm ]]; then
                sleep 0.2
                harm=$(harm_of "$pid")
        fi
        if [[ -z $harm ]]; then
                kill -USR2 "$pid"
                wait_until 20 grep -q '^ward ' "$out" || harm="no report: $(cat "$out")"
        fi
        if [[ -z $harm ]]; then
                line=$(grep '^ward ' "$out" | tail -n1)
                [[ $line == "ward sum_ok=1 sigs=$sent bad=0 "* ]] || harm="$line (sent $sent signals)"
        fi
        note "$what run: delay ${delay_ms} ms, $kres, ${harm:-unharmed}"
        [[ -n ${KILL_DEBUG:-} ]] && grep -i "injector" "$MLOCKD_LOG" >&2
        [[ -n $harm ]] && RUN_HARMED=$(( RUN_HARMED + 1 ))
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        if [[ -n $MLOCKD_PID ]]; then
                kill -KILL "$MLOCKD_PID"        # what it does next is not this test's business
                wait "$MLOCKD_PID" 2>/dev/null
                MLOCKD_PID=
        fi
        wait_gone $injectors || true
}

# How long a full lock of the target takes here: the kills are spread over it.
calibrate() {
        local pid start end
        : >"$MLOCKD_LOG"
        start_my_target pid ward "$KILL_MIB"
        start_mlockd
        wait_until 30 eval '(( $(vmlck_kb "$pid") > 0 ))' || fail "locking never started"
        start=$(date +%s%N)
        wait_until 120 grep -q "Process $pid (.*), policy ward: locked" "$MLOCKD_LOG" ||
                fail "the target was never locked: $(grep "Process $pid" "$MLOCKD_LOG")"
        end=$(date +%s%N)
        LOCK_MS=$(( (end - start) / 1000000 ))
        (( LOCK_MS > 0 )) || LOCK_MS=1
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
        stop_mlockd
}

calibrate
note "a full lock of $KILL_MIB MiB takes $LOCK_MS ms here"
for what in ${KILL_ONLY:-manager injector}; do
        RUN_HARMED=0
        RUN_IN_CALL=0
        for i in $(seq 1 "$KILL_RUNS"); do
                # in the first half, so that the lock is still under way on a busier machine
                run_one "$what" $(( RANDOM % (LOCK_MS / 2 + 1) ))
        done
        echo "kill-$what: $RUN_HARMED of $KILL_RUNS targets harmed ($RUN_IN_CALL killed inside an injected call), $KILL_MIB MiB, Mode=full MaxPause=1ms"
        eval "HARMED_$what=$RUN_HARMED"
done
(( ${HARMED_manager:-0} == 0 )) || fail "SIGKILL of the manager harmed $HARMED_manager of $KILL_RUNS targets"
(( ${HARMED_injector:-0} == 0 )) || fail "SIGKILL of the injector harmed $HARMED_injector of $KILL_RUNS targets"
