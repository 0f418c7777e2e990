#!/bin/bash
# Full locking: the whole mapping is populated and Locked:, VmFlags lo without lf; with Future=yes
# and Regions=all the target's later mappings are locked too (MCL_FUTURE).
. "${top_srcdir:-.}/tests/lib.sh"

write_policy db "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=all
Future=yes
MaxPause=5ms"

start_mlockd
start_my_target pid --anon 64M --mode mmap
out=$(target_output)
addr=$(ready_field "$out" anon)

wait_until 15 has_vmflags "$pid" "$addr" lo || fail "not locked: $(vmflags_at "$pid" "$addr")"
lacks_vmflag "$pid" "$addr" lf || fail "full locking left lf set"
wait_until 10 eval '(( $(locked_kb_at "$pid" "$addr") >= 65536 ))' || fail "Locked: $(locked_kb_at "$pid" "$addr") kB < 64 MiB"
# Regions=all takes in the program's libraries: a large page-cache folio that the loader's own
# segment edges cut cannot be mlocked by anyone (doc/kernel-facts.md 4), and is reported so
wait_until 10 grep -Eq "Process $pid \(.*\), policy db: (locked|partial:folio)," "$MLOCKD_LOG" ||
        fail "state is not locked: $(grep "Process $pid" "$MLOCKD_LOG")"
if grep -q "Process $pid (.*), policy db: partial:folio" "$MLOCKD_LOG"; then
        grep -Eq "Process $pid \(.*\): ([0-9.]+[KMG]?) of its locked ranges not mlocked .*\(\1 in large folios its own mappings cut\)" "$MLOCKD_LOG" ||
                fail "partial:folio, but not all of what is not mlocked is in cut folios: $(grep "Process $pid" "$MLOCKD_LOG")"
fi
# the kernel's per-page word on the anonymous mapping: every page mlocked
if "$top_builddir/tests/helpers/pagecount" $$ >/dev/null 2>&1; then
        end=$(printf '%x' $((addr + 64 * 1024 * 1024)))
        kb=$(mlocked_kb "$pid" "${addr#0x}-$end")
        (( kb == 65536 )) || fail "only $kb kB of the 64 MiB mapping mlocked per kpageflags"
else
        note "per-page flags unreadable here: the kpageflags check is left out"
fi

# MCL_FUTURE: a mapping made now is locked by the kernel without mlockd doing anything
kill -USR1 "$pid"
wait_until 5 grep -q '^mmap=' "$out" || fail "target did not map: $(cat "$out")"
new=$(grep '^mmap=' "$out" | tail -n1 | cut -d= -f2)
has_vmflags "$pid" "$new" lo || fail "new mapping not locked (MCL_FUTURE missing): $(vmflags_at "$pid" "$new")"

assert_unharmed "$pid"
assert_mlockd_alive
stop_mlockd
