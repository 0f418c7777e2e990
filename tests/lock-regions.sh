#!/bin/bash
# Regions=text locks only file-backed executable mappings; Regions=file:GLOB only matching files.
. "${top_srcdir:-.}/tests/lib.sh"

# one file each: smaps Locked: is proportional (PSS), a file mapped by both would count half
data=$TEST_TMP/data.bin
head -c $((4 * 1024 * 1024)) /dev/urandom >"$data"
other=$TEST_TMP/other.dat
cp "$data" "$other"

write_policy 10-text "[Match]
Executable=$MY_TARGET
Name=text-*
[Lock]
Mode=full
Regions=text"
write_policy 20-files "[Match]
Executable=$MY_TARGET
[Lock]
Mode=full
Regions=file:$TEST_TMP/*.bin"

start_mlockd

# the text policy matches by comm too: give the process a matching name through a symlink
ln -s "$MY_TARGET" "$TEST_TMP/text-proc"
TARGET=$TEST_TMP/text-proc start_target tpid --anon 8M --touch 8M --file "$other"
tout=$(target_output)
start_my_target fpid --anon 8M --touch 8M --file "$data"
fout=$(target_output)

text_locked() {
        # every r-xp mapping of the program itself carries lo
        awk -v exe="$MY_TARGET" '
                /^[0-9a-f]+-[0-9a-f]+ / { x = ($2 ~ /x/) && ($6 == exe); next }
                x && /^VmFlags:/ { if ($0 !~ / lo/) bad = 1; n++ }
                END { exit (n > 0 && !bad) ? 0 : 1 }' "/proc/$1/smaps"
}
wait_until 10 text_locked "$tpid" || fail "text of $tpid not locked"
lacks_vmflag "$tpid" "$(ready_field "$tout" anon)" lo || fail "Regions=text locked anon memory"
lacks_vmflag "$tpid" "$(ready_field "$tout" file)" lo || fail "Regions=text locked a read-only data file"

wait_until 10 has_vmflags "$fpid" "$(ready_field "$fout" file)" lo || fail "file:GLOB mapping not locked"
lacks_vmflag "$fpid" "$(ready_field "$fout" anon)" lo || fail "file:GLOB locked anon memory"
text_locked "$fpid" && fail "file:GLOB locked the program text"
(( $(locked_kb_at "$fpid" "$(ready_field "$fout" file)") >= 4096 )) || fail "file mapping Locked: too small"

assert_unharmed "$tpid"
assert_unharmed "$fpid"
assert_mlockd_alive
stop_mlockd
