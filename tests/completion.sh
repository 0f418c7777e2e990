#!/bin/bash
# Shell completions: the scripts parse (bash -n, zsh -n), and with bash-completion loaded, mlockctl
# completes its verbs, --json= modes, and for status/apply/release the PIDs of mlockd's targets
# (from "mlockctl --no-legend targets": a stand-in mlockctl on PATH answers here).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

bash -n "$top_srcdir/shell-completion/bash/mlockctl" || fail "bash completion for mlockctl does not parse"
bash -n "$top_srcdir/shell-completion/bash/mlockd" || fail "bash completion for mlockd does not parse"
if command -v zsh >/dev/null; then
        zsh -n "$top_srcdir/shell-completion/zsh/_mlockctl" || fail "zsh completion for mlockctl does not parse"
        zsh -n "$top_srcdir/shell-completion/zsh/_mlockd" || fail "zsh completion for mlockd does not parse"
else
        note "zsh not installed: its completions were not parsed"
fi

bc=
for f in /usr/share/bash-completion/bash_completion /etc/bash_completion; do
        [[ -r $f ]] && { bc=$f; break; }
done
[[ -n $bc ]] || skip "bash-completion not installed: only the syntax was checked"

mkdir -p "$TEST_TMP/path"
cat >"$TEST_TMP/path/mlockctl" <<'END'
#!/bin/sh
[ "$1 $2" = "--no-legend targets" ] && printf ' 4242 redis-server redis 16M locked /system.slice/redis.service\n 4300 jackd audio 1G partial:rlimit /\n'
END
chmod +x "$TEST_TMP/path/mlockctl"

# complete WORDS...: what bash would offer for the last word
complete_words() {
        PATH="$TEST_TMP/path:$PATH" bash -c '
                . "$1"; . "$2"; shift 2
                COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
                COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                _mlockctl mlockctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$bc" "$top_srcdir/shell-completion/bash/mlockctl" "$@"
}

[[ $(complete_words mlockctl "" | tr '\n' ' ') == "apply cgroups explain policies release reload status targets " ]] ||
        fail "verbs: $(complete_words mlockctl "")"
[[ $(complete_words mlockctl re | tr '\n' ' ') == "release reload " ]] || fail "re: $(complete_words mlockctl re)"
[[ $(complete_words mlockctl apply "" | tr '\n' ' ') == "4242 4300 " ]] || fail "apply PIDs: $(complete_words mlockctl apply "")"
[[ $(complete_words mlockctl --json=pretty status 43 | tr '\n' ' ') == "4300 " ]] || fail "status PID: $(complete_words mlockctl status 43)"
[[ $(complete_words mlockctl --json=p) == "pretty" ]] || fail "--json=: $(complete_words mlockctl --json=p)"
[[ $(complete_words mlockctl --no-l) == "--no-legend" ]] || fail "options: $(complete_words mlockctl --no-l)"
[[ -z $(complete_words mlockctl reload "") ]] || fail "reload takes no argument"
complete_words mlockctl explain "$$" | grep -qx "$$" || fail "explain does not offer running PIDs"
exit 0
