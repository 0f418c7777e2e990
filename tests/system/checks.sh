#!/bin/bash
# The system test's checks, run inside the booted container by mlockd-system-test.service, as
# root, under systemd as PID 1 and on the real system bus. Writes one line per check to
# /results/checks ("ok NAME" or "FAIL NAME: why"), everything said to /results/log, and
# /results/done at the end. See tests/system/run.sh for the container.
set -u
R=/results
exec >>"$R/log" 2>&1
: >"$R/checks"

user=mltester
deb=/root/mlockd.deb
start=$(date +%s)

say() { echo "# $*"; }
pass() {
        echo "ok $1"
        echo "ok $1" >>"$R/checks"
}
flunk() {
        echo "FAIL $1: $2"
        echo "FAIL $1: $2" >>"$R/checks"
}
# check NAME FUNCTION: run a check; it prints why on failure and returns non-zero.
check() {
        local name=$1 out rc t0
        t0=$(date +%s%N)
        out=$("$2" 2>&1)
        rc=$?
        [[ -n $out ]] && sed 's/^/  /' <<<"$out"
        if (( rc == 0 )); then
                pass "$name ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
        else
                flunk "$name" "$(tail -n 1 <<<"$out")"
        fi
        return $rc
}
# wait_for SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
        local deadline=$(( $(date +%s) + $1 ))
        shift
        until "$@"; do
                (( $(date +%s) < deadline )) || return 1
                sleep 0.2
        done
}
# as_user COMMAND...: COMMAND as the ordinary user, for at most 10 s.
as_user() {
        timeout 10 runuser -u "$user" -- "$@"
}
main_pid() {
        systemctl show -p MainPID --value "$1"
}
# The state mlockd reports for a pid, from mlockctl status.
state_of() {
        timeout 10 mlockctl status "$1" 2>/dev/null | sed -n 's/^ *State: //p'
}
redis_pid() {
        main_pid redis-server.service
}
vmlck_kb() {
        awk '/^VmLck:/ { print $2 }' "/proc/$1/status"
}
# Our units, as make install put them (one unit, or the manager's and the injector's).
our_units() {
        (cd /lib/systemd/system && ls mlockd*.service mlockd*.socket 2>/dev/null)
}
journal_tail() {
        journalctl -b --no-pager -o cat -n "${2:-15}" -u "$1" 2>/dev/null | sed 's/^/  journal: /'
}

say "systemd $(systemctl --version | head -n1), kernel $(uname -r)"
# The system stays "starting" until this unit, part of the boot, is done.
say "system: $(systemctl is-system-running); failed units: $(systemctl --failed --no-legend --plain | awk '{ print $1 }' | tr '\n' ' ')"
say "memory cgroup of redis-server: $(awk -F: '$2 == "memory" { print $3 }' "/proc/$(redis_pid)/cgroup")"
useradd --create-home "$user"

# ---- install: enabled and started, conffiles, bus files --------------------------------------
check_install() {
        local u out
        out=$(DEBIAN_FRONTEND=noninteractive timeout 120 dpkg -i "$deb" 2>&1) || { echo "$out"; echo "dpkg -i failed"; return 1; }
        [[ -n $(our_units) ]] || { echo "no mlockd units in /lib/systemd/system"; return 1; }
        for u in $(our_units); do
                # units with an [Install] section are enabled; the others (started on demand) static
                if grep -q '^\[Install\]' "/lib/systemd/system/$u"; then
                        [[ $(systemctl is-enabled "$u") == enabled ]] || { echo "$u is $(systemctl is-enabled "$u") after install"; return 1; }
                        [[ $(systemctl is-active "$u") == active ]] || { journal_tail "$u"; echo "$u is $(systemctl is-active "$u") after install"; return 1; }
                fi
                echo "$u: $(systemctl is-enabled "$u"), $(systemctl is-active "$u")"
        done
        dpkg-query -W -f='${Conffiles}\n' mlockd | grep -q '^ /etc/mlockd/mlockd.conf ' ||
                { echo "/etc/mlockd/mlockd.conf is not a conffile"; return 1; }
        [[ -f /usr/share/dbus-1/system.d/org.mlockd1.conf || -f /etc/dbus-1/system.d/org.mlockd1.conf ]] ||
                { echo "no bus policy org.mlockd1.conf"; return 1; }
        grep -q '^SystemdService=mlockd.service' /usr/share/dbus-1/system-services/org.mlockd1.service ||
                { echo "no activation file naming mlockd.service"; return 1; }
}
check install check_install || { echo finished >"$R/done"; exit 0; }

# ---- systemctl start and status ----------------------------------------------------------------
check_start() {
        timeout 60 systemctl start mlockd.service || { journal_tail mlockd.service; echo "systemctl start failed"; return 1; }
        [[ $(systemctl is-active mlockd.service) == active ]] || { echo "not active"; return 1; }
        local status
        status=$(systemctl show -p StatusText --value mlockd.service)
        echo "StatusText: $status"
        [[ -n $status ]] || { echo "no Status= from sd_notify"; return 1; }
        systemctl status --no-pager mlockd.service | head -n 12
}
check start-status check_start

# ---- the bus: root may do everything, an ordinary user may read and is refused the rest -------
check_bus_root() {
        local out
        out=$(timeout 10 busctl get-property org.mlockd1 /org/mlockd1 org.mlockd1.Manager Version) ||
                { echo "busctl get-property Version failed"; return 1; }
        echo "Version: $out"
        timeout 10 busctl call org.mlockd1 /org/mlockd1 org.mlockd1.Manager ListPolicies >/dev/null ||
                { echo "busctl call ListPolicies failed"; return 1; }
        timeout 10 mlockctl status >/dev/null || { echo "mlockctl status exited $?"; return 1; }
        timeout 10 mlockctl reload || { echo "mlockctl reload as root exited $?"; return 1; }
}
check bus-root check_bus_root

check_bus_user() {
        local out rc
        as_user busctl get-property org.mlockd1 /org/mlockd1 org.mlockd1.Manager Version >/dev/null ||
                { echo "an ordinary user cannot read Version"; return 1; }
        as_user mlockctl targets >/dev/null || { echo "mlockctl targets as $user exited $?"; return 1; }
        rc=0
        out=$(as_user mlockctl reload 2>&1) || rc=$?
        echo "mlockctl reload as $user: exit $rc: $out"
        (( rc == 4 )) || { echo "mlockctl reload as $user exited $rc, not 4 (mlockctl(1))"; return 1; }
        [[ $out == *"Access denied: this needs root."* ]] || { echo "no clear message: $out"; return 1; }
        rc=0
        out=$(as_user mlockctl apply 1 2>&1) || rc=$?
        (( rc == 4 )) || { echo "mlockctl apply as $user exited $rc, not 4: $out"; return 1; }
        rc=0
        out=$(as_user busctl call org.mlockd1 /org/mlockd1 org.mlockd1.Manager Reload 2>&1) || rc=$?
        echo "busctl call Reload as $user: exit $rc: $out"
        (( rc != 0 )) || { echo "busctl Reload as $user succeeded"; return 1; }
}
check bus-user check_bus_user

# ---- Debian's redis-server, untouched, locked by Unit= ----------------------------------------
# Regions that fit redis-server's RLIMIT_MEMLOCK (8M under systemd 252), for hosts where mlockd
# lacks CAP_SYS_RESOURCE to lift it (nspawn passes on only what its host has): the mappings of the
# program itself (about 2.3M), locked on fault. Its shared libraries and heaps would exceed it.
cat >/etc/mlockd/policy.d/redis.conf <<'EOF'
[Match]
Unit=redis-server.service
[Lock]
Mode=onfault
Regions=file:/usr/bin/redis-*
EOF
chmod 0644 /etc/mlockd/policy.d/redis.conf

redis_locked() {
        local pid
        pid=$(redis_pid)
        [[ $(state_of "$pid") == locked* ]]
}
check_redis() {
        local pid state flags vmlck
        [[ -z $(systemctl show -p DropInPaths --value redis-server.service) ]] || { echo "redis-server.service has drop-ins"; return 1; }
        dpkg --verify redis-server | grep -q . && { dpkg --verify redis-server; echo "redis-server's files were changed"; return 1; }
        pid=$(redis_pid)
        (( pid > 0 )) || { echo "redis-server is not running"; return 1; }
        grep -q '^Seccomp:[[:space:]]*2' "/proc/$pid/status" && echo "redis-server runs under a seccomp filter"
        timeout 30 systemctl reload mlockd.service || { echo "systemctl reload mlockd failed"; return 1; }
        if ! wait_for 15 redis_locked; then
                timeout 10 mlockctl status "$pid"
                journal_tail mlockd.service
                echo "redis-server ($pid) is $(state_of "$pid"), not locked"
                return 1
        fi
        timeout 10 mlockctl status "$pid"
        vmlck=$(vmlck_kb "$pid")
        flags=$(grep -c '^VmFlags:.* lo .*lf' "/proc/$pid/smaps")
        echo "redis-server $pid: VmLck ${vmlck} kB, $flags mappings with VmFlags lo lf"
        (( vmlck > 0 )) || { echo "VmLck is 0"; return 1; }
        (( flags > 0 )) || { echo "no mapping carries lo lf"; return 1; }
        echo "$vmlck" >/run/redis-vmlck
}
check redis-locked check_redis

# ---- systemctl reload fails on a broken policy, the old configuration stays --------------------
check_reload_refused() {
        local rc=0 pid
        printf '[Match]\nUnit=cron.service\n[Lock]\nMode=sometimes\n' >/etc/mlockd/policy.d/broken.conf
        chmod 0644 /etc/mlockd/policy.d/broken.conf
        timeout 30 systemctl reload mlockd.service || rc=$?
        rm -f /etc/mlockd/policy.d/broken.conf
        echo "systemctl reload with a broken policy: exit $rc"
        journal_tail mlockd.service 4
        (( rc != 0 )) || { echo "systemctl reload succeeded on a broken policy (ExecReload=$(systemctl show -p ExecReload --value mlockd.service | sed -n 's/.*argv\[\]=\([^;]*\);.*/\1/p'))"; return 1; }
        [[ $(systemctl is-active mlockd.service) == active ]] || { echo "mlockd is $(systemctl is-active mlockd.service) after the refused reload"; return 1; }
        timeout 10 mlockctl policies | grep -qw redis || { echo "the redis policy is gone"; return 1; }
        pid=$(redis_pid)
        [[ $(state_of "$pid") == locked* ]] || { echo "redis-server is $(state_of "$pid") after the refused reload"; return 1; }
        timeout 30 systemctl reload mlockd.service || { echo "reload of the fixed configuration failed"; return 1; }
}
check reload-refused check_reload_refused

# ---- the watchdog: a stopped manager is restarted, and the new one adopts the locks ----------
check_watchdog() {
        local old new n0 n1 wd
        old=$(main_pid mlockd.service)
        n0=$(systemctl show -p NRestarts --value mlockd.service)
        wd=$(systemctl show -p WatchdogUSec --value mlockd.service)
        echo "WatchdogSec=$wd; stopping the manager ($old) with SIGSTOP"
        kill -STOP "$old"
        wait_for 180 sh -c '[ "$(systemctl show -p MainPID --value mlockd.service)" != "'"$old"'" ] &&
                [ "$(systemctl show -p MainPID --value mlockd.service)" != 0 ] &&
                [ "$(systemctl is-active mlockd.service)" = active ]' ||
                { journal_tail mlockd.service; echo "mlockd was not restarted within 180 s"; return 1; }
        new=$(main_pid mlockd.service)
        n1=$(systemctl show -p NRestarts --value mlockd.service)
        echo "restarted: $old -> $new, NRestarts $n0 -> $n1"
        journalctl -b --no-pager -o cat -u mlockd.service | grep -i 'watchdog' | tail -n 2
        journalctl -b --no-pager -o cat -u mlockd.service | grep -qi 'watchdog timeout' ||
                { echo "no watchdog timeout in the journal"; return 1; }
        (( n1 > n0 )) || { echo "NRestarts did not grow"; return 1; }
}
check watchdog-restart check_watchdog

# The new manager finds redis-server locked by the old one: the same state and VmLck, nothing
# undone or locked twice, the target neither stopped nor traced.
check_adopted() {
        local pid state tracer
        [[ -f /run/redis-vmlck ]] || { echo "redis-server was not locked before the restart (see redis-locked)"; return 1; }
        pid=$(redis_pid)
        if ! wait_for 15 redis_locked; then
                timeout 10 mlockctl status "$pid"
                journal_tail mlockd.service 6
                echo "redis-server is $(state_of "$pid") after the restart"
                return 1
        fi
        state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status")
        tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$pid/status")
        [[ $state != T && $state != t && $tracer == 0 ]] || { echo "redis-server left in state $state, traced by $tracer"; return 1; }
        [[ $(vmlck_kb "$pid") == "$(cat /run/redis-vmlck)" ]] ||
                { echo "VmLck changed over the restart: $(cat /run/redis-vmlck) -> $(vmlck_kb "$pid") kB"; return 1; }
        timeout 10 mlockctl status "$pid" | grep -E 'State|Locked'
}
check locks-adopted check_adopted

# ---- reinstall, as an upgrade does: the units are restarted and the locks stay ----------------
check_reinstall() {
        local old new
        old=$(main_pid mlockd.service)
        DEBIAN_FRONTEND=noninteractive timeout 120 dpkg -i "$deb" >/dev/null || { echo "dpkg -i again failed"; return 1; }
        new=$(main_pid mlockd.service)
        [[ $(systemctl is-active mlockd.service) == active ]] || { echo "mlockd is $(systemctl is-active mlockd.service)"; return 1; }
        echo "mlockd.service: $old -> $new"
        (( new != old )) || { echo "mlockd.service was not restarted"; return 1; }
        [[ -f /run/redis-vmlck ]] || { echo "redis-server was not locked before (see redis-locked)"; return 1; }
        wait_for 15 redis_locked || { echo "redis-server is $(state_of "$(redis_pid)") after the reinstall"; return 1; }
        [[ $(vmlck_kb "$(redis_pid)") == "$(cat /run/redis-vmlck)" ]] ||
                { echo "VmLck changed: $(cat /run/redis-vmlck) -> $(vmlck_kb "$(redis_pid)") kB"; return 1; }
}
check reinstall check_reinstall

# ---- bus activation: a call to org.mlockd1 starts a stopped mlockd -------------------------------
check_activation() {
        timeout 60 systemctl stop mlockd.service || { echo "systemctl stop failed"; return 1; }
        [[ $(systemctl is-active mlockd.service) != active ]] || { echo "still active after stop"; return 1; }
        timeout 60 busctl get-property org.mlockd1 /org/mlockd1 org.mlockd1.Manager Version ||
                { journal_tail mlockd.service; echo "the call did not start mlockd"; return 1; }
        [[ $(systemctl is-active mlockd.service) == active ]] || { echo "mlockd is $(systemctl is-active mlockd.service) after the call"; return 1; }
}
check bus-activation check_activation

# ---- exposure of every unit of ours (figures, not a check) -------------------------------------
for u in $(our_units); do
        [[ $u == *.service ]] || continue
        say "exposure: $(systemd-analyze security --no-pager "$u" 2>/dev/null | grep -o 'Overall exposure level.*')" |
                tee -a "$R/exposure"
done

# ---- purge: nothing left ------------------------------------------------------------------------
check_purge() {
        local u units left
        units=$(our_units)
        rm -f /etc/mlockd/policy.d/redis.conf
        DEBIAN_FRONTEND=noninteractive timeout 120 dpkg --purge mlockd || { echo "dpkg --purge failed"; return 1; }
        left=$(ls -d /etc/mlockd /var/lib/mlockd /usr/share/dbus-1/system.d/org.mlockd1.conf \
                /usr/share/dbus-1/system-services/org.mlockd1.service 2>/dev/null)
        for u in $units; do
                left+=$(ls -d "/lib/systemd/system/$u" /etc/systemd/system/*/"$u" \
                        /var/lib/systemd/deb-systemd-helper-enabled/"$u".dsh-also \
                        /var/lib/systemd/deb-systemd-helper-enabled/*/"$u" 2>/dev/null)
        done
        [[ -z $left ]] || { echo "left after purge: $left"; return 1; }
        [[ $(systemctl is-active mlockd.service) != active ]] || { echo "mlockd still active after purge"; return 1; }
        ! timeout 10 busctl status org.mlockd1 >/dev/null 2>&1 || { echo "org.mlockd1 is still on the bus"; return 1; }
        [[ $(dpkg-query -W -f='${db:Status-Abbrev}' mlockd 2>/dev/null) != ii* ]] || { echo "still installed"; return 1; }
}
check purge check_purge

say "checks took $(( $(date +%s) - start ))s"
echo finished >"$R/done"
