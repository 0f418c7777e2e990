#!/bin/bash
# The experiments behind doc/kernel-facts.md, with a swapfile made for the run (1 GiB under
# /var/tmp, removed at exit). Prints the per-page counts after each step; asserts nothing.
. "$top_srcdir/tests/lib.sh"

facts=$top_builddir/tests/bench/kernel-facts
swap=$(make_swapfile 1024) || exit $?
_test_swapfiles+=("$swap")
note "swapfile $swap on ($(uname -r))"
for e in flags populate swapin thp madvise refault; do
        echo "== kernel-facts $e"
        "$facts" "$e" || [[ $? -eq 77 ]] || fail "kernel-facts $e failed"
done
