#!/usr/bin/env bash
# The Debian package, end to end: cpack builds it from the release build (C2S_RELEASE_DIR),
# lintian finds no error or warning, systemd-analyze verifies the unit; then, as root, dpkg -i,
# the users, group and directories are checked, a SoftHSM2 token is provisioned with the
# installed click2sign-admin against the installed /etc/click2sign/click2sign.conf, and the
# daemon is started with the unit's own ExecStart=, Environment= and UMask=, under the unit's
# capability bounding set, system call filter, MemoryDenyWriteExecute, RestrictAddressFamilies
# and RestrictSUIDSGID (tests/tools/unitjail; no systemd in CI) and a NOTIFY_SOCKET that must
# receive READY=1. Health and a B-T seal must work; SIGTERM must bring STOPPING=1 and exit 0.
# dpkg --purge must remove the files and keep the token aside. The machine is left as found:
# only what this test created (the users, the purge's backup) is removed.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
S=$C2S_SOURCE_DIR
R=${C2S_RELEASE_DIR:-${C2S_BUILD_DIR:-}} # a sanitizer build is refused below
UNIT=/lib/systemd/system/click2signd.service
ETC=/etc/click2sign
STATE=/var/lib/click2sign
USERS="c2s-keyholder c2s-web c2s-notify"
start=$SECONDS

if [ -z "$R" ] || ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$R/CMakeCache.txt" 2>/dev/null ||
	grep -q '^C2S_TEST_HOOKS:BOOL=ON$' "$R/CMakeCache.txt"; then
	echo "skip: C2S_RELEASE_DIR must name a Release build without C2S_TEST_HOOKS (got '${R}')"
	exit 0
fi
w=$(mktemp -d /tmp/c2s-package.XXXXXX)
chmod 755 "$w"
created_users=""
created_group=0
installed=0
pids=()
backups_before=$(ls -d /var/backups/click2sign-purged-* 2>/dev/null)
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -f "$w/tsa.pid" ] && kill "$(cat "$w/tsa.pid")" 2>/dev/null
	[ "$installed" = 1 ] && dpkg --purge click2sign >/dev/null 2>&1
	for b in $(ls -d /var/backups/click2sign-purged-* 2>/dev/null); do
		grep -qxF "$b" <<<"$backups_before" || rm -rf "$b"
	done
	for u in $created_users; do
		deluser --system --quiet "$u" >/dev/null 2>&1
		getent group "$u" >/dev/null && delgroup --system --quiet "$u" >/dev/null 2>&1
	done
	[ "$created_group" = 1 ] && delgroup --system --quiet click2sign >/dev/null 2>&1
	rm -rf "$w"
}
trap cleanup EXIT

# ---- build and lint (any user) ----
(cd "$w" && timeout 120 nice cpack -G DEB -B "$w/out" --config "$R/CPackConfig.cmake") \
	>"$w/cpack.log" 2>&1
deb=$(ls "$w"/out/click2sign_*_amd64.deb 2>/dev/null | head -1)
check "cpack built the package" test -s "$deb"
[ -s "$deb" ] || { tail -20 "$w/cpack.log"; it_done; exit; }
deps=$(dpkg-deb -f "$deb" Depends)
contains "Depends names the real libraries (dpkg-shlibdeps)" "$deps" "libgnutls30"
contains "Depends names adduser (postinst)" "$deps" "adduser"
lintian --fail-on error,warning --pedantic -I "$deb" >"$w/lintian.log" 2>&1
lrc=$?
equals "lintian: no error, no warning (exit $lrc)" "$lrc" 0
grep -E '^[EW]:' "$w/lintian.log"
# the unit as shipped, before installation: the command is the one in the package
mkdir -p "$w/unit"
sed "s|^ExecStart=/usr/sbin/click2signd|ExecStart=$R/click2signd|" \
	"$S/packaging/click2signd.service" >"$w/unit/click2signd.service"
check "systemd-analyze verify accepts the unit" \
	systemd-analyze verify --man=no "$w/unit/click2signd.service"

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: installing the package needs root (the rest of this test runs only as root)"
	it_done
	exit
fi
if dpkg-query -W -f='${Status}' click2sign 2>/dev/null | grep -q "ok installed" ||
	[ -e "$ETC" ] || [ -e "$STATE" ]; then
	echo "skip: click2sign is installed here already ($ETC or $STATE exists); not touching it"
	it_done
	exit
fi
for u in $USERS; do getent passwd "$u" >/dev/null || created_users="$created_users $u"; done
getent group click2sign >/dev/null || created_group=1

# ---- install ----
installed=1
dpkg -i "$deb" >"$w/dpkg-i.log" 2>&1
equals "dpkg -i succeeded" "$?" 0
check "the unit is installed where systemd looks" test -f "$UNIT"
check "systemd-analyze verify accepts the installed unit (binary, man pages)" \
	systemd-analyze verify "$UNIT"
check "man finds click2sign.conf(5)" man -w 5 click2sign.conf
check "the configuration is a conffile" \
	grep -qx " $ETC/click2sign.conf [0-9a-f]*" <(dpkg-query -W -f='${Conffiles}\n' click2sign)
check "the service is enabled for boot" \
	test -L /etc/systemd/system/multi-user.target.wants/click2signd.service
check "group click2sign exists" getent group click2sign
for u in $USERS; do
	IFS=: read -r _ _ uid _ _ home shell <<<"$(getent passwd "$u")"
	check "$u is a system user without home or shell" \
		test "${uid:-0}" -gt 0 -a "${uid:-1000}" -lt 1000 -a "$home" = /nonexistent -a \
		"$shell" = /usr/sbin/nologin
done
equals "state directory owner and mode (root's, sticky, set-group-ID)" \
	"$(stat -c %U:%G:%a "$STATE")" root:click2sign:3771
kh_owner=c2s-keyholder:c2s-keyholder
equals "keyholder store directory" "$(stat -c %U:%G:%a "$STATE/keyholder")" "$kh_owner:700"
equals "token directory" "$(stat -c %U:%G:%a "$STATE/tokens")" "$kh_owner:700"

# ---- provision with the installed tool and configuration ----
port=$(c2s_free_port)
cport=$(c2s_free_port)
tport=$(c2s_free_port)
prov() {
	set -e
	export SOFTHSM2_CONF=$ETC/softhsm2.conf
	local C="/usr/sbin/click2sign-admin --config $ETC/click2sign.conf"
	"$S/tests/tools/mkpki.sh" "$w/pki" >/dev/null
	cat "$w/pki/server/cert.pem" "$w/pki/server/chain.pem" >"$ETC/tls.pem"
	(umask 077 && cp "$w/pki/server/key.pem" "$ETC/tls.key")
	(umask 077 && head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ETC/user.pin" &&
		echo >>"$ETC/user.pin")
	(umask 077 && head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$w/so.pin" &&
		echo >>"$w/so.pin")
	sed -i -e "s|:8443|:$port|g" -e "s|:8444|:$cport|g" \
		-e "s|^; url = https://tsa.example.si/.*|url = http://127.0.0.1:$tport/|" \
		-e "s|^; trust = .*tsa-roots.pem|trust = $w/pki/root.pem|" "$ETC/click2sign.conf"
	$C init >/dev/null
	$C token init --label c2s --so-pin-file "$w/so.pin"
	$C key generate --label c2s-seal --type ec:p256 >/dev/null
	$C csr --key c2s-seal --subject "CN=Package Test Seal,O=Click2Sign,C=SI" --out "$w/seal.csr" \
		>/dev/null
	"$S/tests/tools/mkpki.sh" sign-csr "$w/pki" "$w/seal.csr" "$w/seal.pem" seal >/dev/null
	cat "$w/pki/issuing/ca.pem" "$w/pki/root/ca.pem" >"$w/issuers.pem"
	$C cert import --key c2s-seal --cert "$w/seal.pem" --chain "$w/issuers.pem" >/dev/null
	(umask 077 && $C client add portal >"$w/portal.token")
}
(prov) >"$w/provision.log" 2>&1
equals "provisioned with the installed click2sign-admin (exit $?)" "$?" 0
check "SoftHSM2 wrote the token under $STATE/tokens" \
	test -n "$(find "$STATE/tokens" -mindepth 1 -print -quit)"
/usr/bin/python3 "$S/tests/tools/tsa_server.py" --pki "$w/pki" --port "$tport" \
	--pid-file "$w/tsa.pid" >"$w/tsa.log" 2>&1 &
pids+=($!)

# ---- the unit's command, environment and restrictions ----
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
unit_env=$(sed -n 's/^Environment=//p' "$UNIT")
unit_umask=$(sed -n 's/^UMask=//p' "$UNIT")
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z ' 'a-z,' | sed 's/cap_/+/g')
families=$(sed -n 's/^RestrictAddressFamilies=//p' "$UNIT" | tr 'A-Z ' 'a-z,' | sed 's/af_//g')
equals "ExecStart= is the packaged daemon and configuration" "$exec_start" \
	"/usr/sbin/click2signd -c $ETC/click2sign.conf"
check "the unit sets MemoryDenyWriteExecute and RestrictSUIDSGID (emulated below)" \
	test "$(grep -cxE '(MemoryDenyWriteExecute|RestrictSUIDSGID)=yes' "$UNIT")" = 2
/usr/bin/python3 - "$UNIT" >"$w/syscalls.txt" <<'EOT'
import subprocess, sys
out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True).stdout
groups, cur = {}, None
for line in out.splitlines():
    if line.startswith("@"):
        cur = line.strip()
        groups[cur] = []
    elif line.startswith("    ") and cur and not line.strip().startswith("#"):
        groups[cur].append(line.strip())
def expand(n):
    return set().union(*(expand(x) for x in groups[n])) if n.startswith("@") else {n}
names = set()
for line in open(sys.argv[1]):
    if line.startswith("SystemCallFilter="):
        for n in line.split("=", 1)[1].split():
            names |= expand(n)
print("\n".join(sorted(names)))
EOT
check "the unit's system call filter expands to an allow-list" test "$(wc -l <"$w/syscalls.txt")" -gt 100
# a NOTIFY_SOCKET as systemd binds it: every datagram, one per line (newlines as '|')
/usr/bin/python3 - "$w/notify.sock" "$w/notify.log" <<'EOT' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(150)
with open(sys.argv[2], "a") as log:
    while True:
        m = s.recv(4096).decode()
        log.write(m.replace("\n", "|") + "\n")
        log.flush()
        if "STOPPING=1" in m:
            break
EOT
pids+=($!)
wait_for 5 test -S "$w/notify.sock"
(
	umask "$unit_umask"
	export $unit_env NOTIFY_SOCKET=$w/notify.sock
	# shellcheck disable=SC2086
	exec setpriv --bounding-set "-all,$caps" \
		"$R/tests/tools/unitjail/c2s_unitjail" --syscalls "$w/syscalls.txt" --mdwe \
		--families "$families" --no-suid-sgid -- $exec_start
) >"$w/daemon.log" 2>&1 &
dpid=$!
pids+=($dpid)
check "READY=1 reached NOTIFY_SOCKET" wait_for 30 grep -q '^READY=1|STATUS=listening on' "$w/notify.log"
# the restrictions are really on the running parent (and so on the children it starts)
st=$(cat "/proc/$dpid/status" 2>/dev/null)
contains "the daemon runs under seccomp filters" "$st" $'Seccomp:\t2'
contains "the daemon runs with no_new_privs" "$st" $'NoNewPrivs:\t1'
bnd=$((16#$(sed -n 's/^CapBnd:\t//p' <<<"$st")))
nbnd=0
while [ "$bnd" -gt 0 ]; do nbnd=$((nbnd + (bnd & 1))) bnd=$((bnd >> 1)); done
equals "the daemon's bounding set has the unit's 7 capabilities" "$nbnd" 7
ca=$w/pki/root.pem
health=$(curl -s --max-time 5 --cacert "$ca" "https://127.0.0.1:$port/v1/health")
contains "health answers ok" "$health" '"status":"ok"'
gs -q -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -o "$w/contract.pdf" \
	-c "/Helvetica findfont 20 scalefont setfont 72 720 moveto (Contract) show showpage" >/dev/null
code=$(curl -s --max-time 30 --cacert "$ca" -o "$w/sealed.pdf" -w '%{http_code}' \
	-H "Authorization: Bearer $(cat "$w/portal.token" 2>/dev/null)" \
	-H 'Content-Type: application/pdf' --data-binary @"$w/contract.pdf" \
	"https://127.0.0.1:$port/v1/seal?level=B-T")
equals "a B-T seal (GnuTLS, qpdf, the token, libcurl to the TSA) under the unit's limits" "$code" 200
check "the sealed PDF validates at B-T" \
	"$S/tests/tools/validate_pdf.sh" --level B-T "$w/sealed.pdf" "$w/contract.pdf" "$ca"
kill -TERM "$dpid"
wait "$dpid"
equals "SIGTERM stops the daemon with exit 0" "$?" 0
check "STOPPING=1 reached NOTIFY_SOCKET" wait_for 5 grep -qx 'STOPPING=1' "$w/notify.log"
if grep -qiE "bad system call|killed by signal 31|Operation not permitted" "$w/daemon.log"; then
	fail "the daemon log shows a restriction hit: $(grep -m1 -iE 'signal 31|bad system|not permitted' "$w/daemon.log")"
else
	ok "no process was killed or refused by the unit's restrictions"
fi

# ---- purge ----
dpkg --purge click2sign >"$w/purge.log" 2>&1
equals "dpkg --purge succeeded" "$?" 0
installed=0
check "the programs are gone" test ! -e /usr/sbin/click2signd -a ! -e /usr/sbin/click2sign-admin
check "the unit and its enablement are gone" \
	test ! -e "$UNIT" -a ! -L /etc/systemd/system/multi-user.target.wants/click2signd.service
check "$ETC and $STATE are gone" test ! -e "$ETC" -a ! -e "$STATE"
backup=$(sed -n 's/^click2sign: state and keys kept in \([^ ]*\) .*/\1/p' "$w/purge.log")
check "purge kept the token aside in $backup, mode 0700" \
	test -n "$backup" -a "$(stat -c %a "$backup" 2>/dev/null)" = 700 -a -d "$backup/state/tokens"
check "purge kept the PIN file aside with the token" test -f "$backup/etc/user.pin"
for u in $USERS; do check "$u stays after purge (Debian policy)" getent passwd "$u"; done
echo "package test: $((SECONDS - start)) s"
it_done
