#!/bin/bash
# Privilege separation on the running daemon: the manager holds no capability, has no_new_privs
# and its seccomp filter on; the injectors (its children: an injector and a spare for each worker,
# Injectors=, forked before the manager confined itself) hold only their four capabilities, are
# under no filter (they must read targets' filters) and die with the manager.
. "${top_srcdir:-.}/tests/lib.sh"

write_policy app "[Match]
Executable=$MY_TARGET"
start_mlockd

status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

[[ $(status "$MLOCKD_PID" Seccomp) == 2 ]] || fail "manager is not under its seccomp filter"
[[ $(status "$MLOCKD_PID" NoNewPrivs) == 1 ]] || fail "manager lacks no_new_privs"
(( 16#$(status "$MLOCKD_PID" CapEff) == 0 )) || fail "manager keeps capabilities: $(status "$MLOCKD_PID" CapEff)"
(( 16#$(status "$MLOCKD_PID" CapPrm) == 0 )) || fail "manager keeps permitted capabilities"
(( 16#$(status "$MLOCKD_PID" CapBnd) == 0 )) || fail "manager keeps a bounding set"

workers=$(sed -n 's/.*Injector [0-9]* of \([0-9]*\) started.*/\1/p' "$MLOCKD_LOG" | head -n1)
[[ -n $workers ]] || fail "the start-up lines name no injector: $(grep -i injector "$MLOCKD_LOG")"
children=$(cat /proc/"$MLOCKD_PID"/task/*/children)
set -- $children
(( $# == 2 * workers )) || fail "expected an injector and a spare for each of $workers workers, found: $children"
# CAP_SYS_PTRACE 19, CAP_SYS_ADMIN 21, CAP_SYS_NICE 23, CAP_SYS_RESOURCE 24
allowed=$(( (1 << 19) | (1 << 21) | (1 << 23) | (1 << 24) ))
for inj in "$@"; do
        eff=$((16#$(status "$inj" CapEff)))
        (( (eff & ~allowed) == 0 )) || fail "injector $inj holds more than its four capabilities: $(status "$inj" CapEff)"
        (( eff & (1 << 19) )) || fail "injector $inj lacks CAP_SYS_PTRACE"
        (( (16#$(status "$inj" CapBnd) & ~allowed) == 0 )) || fail "injector $inj's bounding set is wider than its four"
        [[ $(status "$inj" NoNewPrivs) == 1 ]] || fail "injector $inj lacks no_new_privs"
        [[ $(status "$inj" Seccomp) == 0 ]] || fail "injector $inj is under a seccomp filter: it could not read targets' filters"
done
injectors="$*"

# the manager's filter kills it for a syscall outside the list; the injectors then die with it
kill -KILL "$MLOCKD_PID"
wait "$MLOCKD_PID" 2>/dev/null || true
for inj in $injectors; do
        wait_until 5 eval '! kill -0 '"$inj"' 2>/dev/null' || fail "injector $inj outlived the manager"
done
