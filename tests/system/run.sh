#!/bin/bash
# The system test (make check-system): mlockd installed from its Debian package into a bookworm
# root, booted with systemd-nspawn under a real systemd and system bus, and checked from inside
# (tests/system/checks.sh). Exits 0 when every check passed, 1 when one failed, 77 (with the
# reason) when this host cannot run it: not root, no mmdebstrap, systemd-nspawn or
# dpkg-buildpackage, or no Debian archive to build the root from.
#
# Steps, each timed:
#   1. the .deb, built from a distdir of this tree (dpkg-buildpackage -b, tests off: make check
#      runs them), and lintian --fail-on error when lintian is installed; or $MLOCKD_DEB as given
#   2. the root: mmdebstrap bookworm with tests/system/packages, from the mirror and proxy that
#      this host's apt uses, cached as $MLOCKD_SYSTEM_TEST_CACHE/ROOT-<hash of the list>.tar
#      (default /var/cache/mlockd-system-test)
#   3. a copy of the root with the .deb, checks.sh and two units of the test's own
#      (and $MLOCKD_SYSTEM_TEST_ROOT_HOOK ROOT, when set)
#   4. the boot: SYSTEMD_SECCOMP=0 systemd-nspawn -b --register=no --keep-unit, in cgroups of its
#      own below this test's, with a hard timeout; the checks power the container off when done
set -u
set -o pipefail

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$PWD}"
: "${MAKE:=make}"
here=$top_srcdir/tests/system
cache=${MLOCKD_SYSTEM_TEST_CACHE:-/var/cache/mlockd-system-test}
suite=bookworm
boot_timeout=${MLOCKD_SYSTEM_TEST_TIMEOUT:-900}
log=$top_builddir/tests/system/system-test.log
t_start=$(date +%s)

skip() {
        echo "SKIP: system test: $*" >&2
        exit 77
}
fail() {
        echo "FAIL: system test: $*" >&2
        exit 1
}
elapsed() {
        echo "$(( $(date +%s) - $1 ))s"
}

(( EUID == 0 )) || skip "needs root (mmdebstrap, systemd-nspawn), running as uid $EUID"
for tool in mmdebstrap systemd-nspawn; do
        command -v "$tool" >/dev/null || skip "$tool not installed (apt-get install mmdebstrap systemd-container)"
done
if [[ -z ${MLOCKD_DEB:-} ]]; then
        command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
                skip "dpkg-buildpackage or dh not installed (apt-get install dpkg-dev debhelper)"
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/mlockd-system-test.XXXXXX") || fail "cannot make a work directory"
cgroups=()
cleanup() {
        local cg pid
        # Whatever is left in the container's cgroups (nspawn killed by the timeout leaves its
        # payload running) was started by this test: end it by pid, then remove the cgroups.
        for cg in "${cgroups[@]}"; do
                [[ -d $cg ]] || continue
                while read -r pid; do
                        kill -KILL "$pid" 2>/dev/null || true
                done < <(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
        done
        for cg in "${cgroups[@]}"; do
                [[ -d $cg ]] || continue
                for _ in $(seq 50); do
                        [[ -z $(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null) ]] && break
                        sleep 0.1
                done
                find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
        done
        rm -rf --one-file-system "$work"
}
trap cleanup EXIT
mkdir -p "$(dirname "$log")"
: >"$log"

# ---- 1. the package ----------------------------------------------------------------------------
t=$(date +%s)
if [[ -n ${MLOCKD_DEB:-} ]]; then
        deb=$MLOCKD_DEB
        [[ -f $deb ]] || fail "MLOCKD_DEB=$deb does not exist"
else
        src=$work/src/mlockd
        mkdir -p "$work/src"
        "$MAKE" -s -C "$top_builddir" distdir distdir="$src" top_distdir="$src" >"$work/distdir.log" 2>&1 ||
                { cat "$work/distdir.log"; fail "make distdir failed"; }
        [[ -f $src/debian/control ]] || fail "the distdir has no debian/ (EXTRA_DIST)"
        (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b) \
                >"$work/deb.log" 2>&1 || { tail -n 40 "$work/deb.log"; fail "dpkg-buildpackage failed"; }
        deb=$(ls "$work"/src/mlockd_*.deb | head -n1)
        [[ -f $deb ]] || fail "dpkg-buildpackage made no .deb"
        if command -v lintian >/dev/null; then
                lintian --fail-on error "$work"/src/mlockd_*.changes >"$work/lintian.log" 2>&1 ||
                        { cat "$work/lintian.log"; fail "lintian found errors"; }
                grep -v 'running with root privileges' "$work/lintian.log" || true
        fi
fi
echo "# package: $(basename "$deb") in $(elapsed "$t")"

# ---- 2. the root, cached -------------------------------------------------------------------------
# The mirror and proxy this host's apt uses (so it works wherever apt-get does).
apt_mirror() {
        local f
        for f in /etc/apt/sources.list.d/*.sources; do
                [[ -f $f ]] || continue
                awk -v suite="$suite" '
                        /^$/ { if (uri && ok) { print uri; exit } uri = ""; ok = 0; next }
                        tolower($1) == "uris:" { uri = $2 }
                        tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
                        tolower($1) == "types:" && $0 !~ /deb( |$)/ { ok = -99 }
                        END { if (uri && ok > 0) print uri }' "$f"
        done
        [[ -f /etc/apt/sources.list ]] &&
                awk -v suite="$suite" '$1 == "deb" && $0 ~ " " suite " " { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
                        /etc/apt/sources.list
        echo http://deb.debian.org/debian
}
mirror=${MLOCKD_SYSTEM_TEST_MIRROR:-$(apt_mirror | grep -v -- '-security' | head -n1)}
aptopts=()
while IFS= read -r line; do
        aptopts+=(--aptopt="$line")
done < <(apt-config dump 2>/dev/null | grep -E '^Acquire::(http|https)::Proxy ')

packages=$(grep -v -e '^#' -e '^$' "$here/packages" | sort | tr '\n' ',')
packages=${packages%,}
key=$(printf '%s %s %s\n' "$suite" apt "$packages" | sha256sum | cut -c1-16)
root_tar=$cache/ROOT-$key.tar
t=$(date +%s)
if [[ -f $root_tar ]]; then
        echo "# root: $root_tar (cached)"
else
        mkdir -p "$cache" || skip "cannot create $cache"
        echo "# root: building $root_tar with mmdebstrap from $mirror"
        if ! mmdebstrap --variant=apt --format=tar --include="$packages" "${aptopts[@]}" "$suite" "$root_tar.tmp.$$" "$mirror" \
                >"$work/mmdebstrap.log" 2>&1; then
                tail -n 20 "$work/mmdebstrap.log"
                rm -f "$root_tar.tmp.$$"
                # No archive reachable is the host's limit, not mlockd's.
                grep -qiE 'Failed to fetch|Could not resolve|Temporary failure|Connection failed|Unable to connect' \
                        "$work/mmdebstrap.log" && skip "mmdebstrap cannot reach $mirror"
                fail "mmdebstrap failed"
        fi
        mv "$root_tar.tmp.$$" "$root_tar"
        echo "# root: built in $(elapsed "$t")"
fi

# ---- 3. the test's copy of the root ------------------------------------------------------------
t=$(date +%s)
root=$work/root
results=$work/results
mkdir -p "$root" "$results"
tar -xf "$root_tar" -C "$root" || fail "cannot unpack $root_tar"
cp "$deb" "$root/root/mlockd.deb"
install -D -m 0755 "$here/checks.sh" "$root/usr/local/lib/mlockd-system-test/checks.sh"
for unit in cgroup-memory-rw.service mlockd-system-test.service; do
        install -m 0644 "$here/$unit" "$root/etc/systemd/system/$unit"
done
mkdir -p "$root/etc/systemd/system/sysinit.target.wants" "$root/etc/systemd/system/multi-user.target.wants"
ln -sf ../cgroup-memory-rw.service "$root/etc/systemd/system/sysinit.target.wants/"
ln -sf ../mlockd-system-test.service "$root/etc/systemd/system/multi-user.target.wants/"
# $MLOCKD_SYSTEM_TEST_ROOT_HOOK: a command run with the root's path before the boot, to try a
# variation (a drop-in, another config) without changing the test.
if [[ -n ${MLOCKD_SYSTEM_TEST_ROOT_HOOK:-} ]]; then
        $MLOCKD_SYSTEM_TEST_ROOT_HOOK "$root" || fail "MLOCKD_SYSTEM_TEST_ROOT_HOOK failed"
fi
echo "# copy: $(elapsed "$t")"

# ---- 4. the boot -------------------------------------------------------------------------------
# The container's own cgroups, below this test's in the hierarchies systemd and nspawn write to:
# the v1 memory controller and name=systemd, and the unified one. Removed on exit.
cg_dirs() {
        local ctl path mp
        while IFS=: read -r _ ctl path; do
                case $ctl in
                memory) mp=/sys/fs/cgroup/memory ;;
                name=systemd) mp=/sys/fs/cgroup/systemd ;;
                "") if [[ -d /sys/fs/cgroup/unified ]]; then mp=/sys/fs/cgroup/unified; else mp=/sys/fs/cgroup; fi ;;
                *) continue ;;
                esac
                [[ -e $mp/cgroup.procs ]] && echo "$mp${path%/}/mlockd-system-test.$$"
        done </proc/self/cgroup
}
mapfile -t cgroups < <(cg_dirs)

t=$(date +%s)
echo "# boot: systemd-nspawn, at most ${boot_timeout}s"
(
        for cg in "${cgroups[@]}"; do
                mkdir -p "$cg" && echo "$BASHPID" >"$cg/cgroup.procs" || echo "# cannot use cgroup $cg" >&2
        done
        exec env SYSTEMD_SECCOMP=0 timeout -k 10 "$boot_timeout" \
                systemd-nspawn -q -D "$root" -b --register=no --keep-unit --console=pipe \
                --bind="$results:/results" </dev/null
) >"$work/console.log" 2>&1
rc=$?
echo "# boot: nspawn exited $rc after $(elapsed "$t")"

cat "$results/log" >>"$log" 2>/dev/null
cat "$work/console.log" >>"$log"
[[ -f $results/log ]] && cat "$results/log"
if [[ ! -f $results/done ]]; then
        tail -n 40 "$work/console.log"
        (( rc == 124 || rc == 137 )) && fail "the checks did not finish within ${boot_timeout}s"
        fail "the container did not run the checks (nspawn exited $rc)"
fi
echo "# system test: $(grep -c '^ok ' "$results/checks") passed, $(grep -c '^FAIL ' "$results/checks") failed, in $(elapsed "$t_start") (log: $log)"
grep -q '^FAIL ' "$results/checks" && exit 1
exit 0
