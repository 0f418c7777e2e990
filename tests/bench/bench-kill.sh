#!/bin/bash
# Kill-safety figures (make bench): tests/lock-kill.sh with KILL_RUNS (100) SIGKILLs of the manager
# and as many of the injector, each aimed inside an injected call of a full lock (Mode=full
# MaxPause=1ms) of a KILL_MIB (1024) MiB target. Prints how many targets were harmed, and how many
# kills landed inside a call. Figures only: the exit status is 0 whatever they are.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
export top_srcdir
export KILL_RUNS=${KILL_RUNS:-100} KILL_MIB=${KILL_MIB:-1024}

out=$(bash "$top_srcdir/tests/lock-kill.sh" 2>&1)
rc=$?
grep -E '^(kill-|# )' <<<"$out"
(( rc == 0 || rc == 1 )) || { echo "lock-kill.sh could not run (exit $rc):"; tail -n 20 <<<"$out"; }
exit 0
