#!/usr/bin/env bash
# The processes' sandboxes (firmware/base/sandbox.h). Started as root, each child runs as its
# own user with no new privileges, no core files and its seccomp allow-list, and (outside
# sanitizer builds) is not dumpable. The web's user cannot read the PIN, the token's files, the
# keyholder's store, notify's secrets or the keyholder's memory, nor ptrace the keyholder or take
# its descriptors, nor swap the portal's keys; a forbidden call kills the process and the parent
# starts it again; files planted as links are never followed by root; a missing user stops the
# start with its name. A seal and an order (mail, SMS) run under the filters.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "skipped: the users' separation needs root (CI runs as root)"
	exit 0
fi
"$C2S_SOURCE_DIR/scripts/deps.sh" >/dev/null # the users
rel=${C2S_RELEASE_DIR:-$C2S_BUILD_DIR}
d=$(mktemp -d /tmp/c2s-sandbox-test.XXXXXX)
victim=$(mktemp /tmp/c2s-sandbox-victim.XXXXXX)
trap 'c2s_stop "$d"; [ -n "${C2S_KEEP:-}" ] || rm -rf "$d" "$victim"' EXIT
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_provision_portal "$d" >>"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_start_tsa "$d" || { echo "TSA did not start"; exit 1; }
c2s_start_sinks "$d" || { echo "sinks did not start"; exit 1; }

# files a compromised web would plant in its own directory for root to follow
mkdir -p "$d/state/blobs"
echo "root's" >"$victim"
ln -s "$victim" "$d/state/blobs/planted-link"
ln "$victim" "$d/state/blobs/planted-hardlink"

c2s_start "$d" "$rel" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
ppid=$(cat "$d/click2signd.pid")
sanitized=0
ldd "$rel/click2signd" | grep -q libasan && sanitized=1
grp=$(getent group click2sign | cut -d: -f3)

field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
for role in c2s-keyholder c2s-web c2s-notify; do
	pid=$(c2s_kid "$d" "$role")
	equals "$role runs as its own user" "$(field "$pid" Uid)" "$(id -u "$role")"
	equals "$role: its own group" "$(field "$pid" Gid)" "$(id -g "$role")"
	equals "$role: no new privileges" "$(field "$pid" NoNewPrivs)" 1
	equals "$role: in seccomp filter mode" "$(field "$pid" Seccomp)" 2
	equals "$role: no core files" "$(awk '/^Max core file size/ {print $5 "/" $6}' "/proc/$pid/limits")" "0/0"
	if [ "$sanitized" = 0 ]; then
		# a process that is not dumpable has its /proc files owned by root
		equals "$role: not dumpable" "$(stat -c %u "/proc/$pid/mem")" 0
	fi
done
equals "the keyholder is in no supplementary group (not the database's)" \
	"$(awk '$1 == "Groups:" {print $2}' "/proc/$(c2s_kid "$d" c2s-keyholder)/status")" ""
equals "web shares the database group" \
	"$(awk '$1 == "Groups:" {print $2}' "/proc/$(c2s_kid "$d" c2s-web)/status")" "$grp"
for role in c2s-keyholder c2s-web c2s-notify; do
	pid=$(c2s_kid "$d" "$role")
	equals "$role leads its own session (no controlling terminal to inject keystrokes into)" \
		"$(ps -o sid= -p "$pid" | tr -d ' ')" "$pid"
done
equals "the parent: no core files" "$(awk '/^Max core file size/ {print $5}' "/proc/$ppid/limits")" 0
equals "the parent: no new privileges" "$(field "$ppid" NoNewPrivs)" 1

# --- what the web's user can do, and cannot ---
kh=$(c2s_kid "$d" c2s-keyholder)
check "web's user opens the main database (the test's users work)" \
	setpriv --reuid=c2s-web --regid=c2s-web --groups="$grp" -- \
	/usr/bin/python3 -c "open('$d/state/click2sign.db', 'r+b').close()"
check "the keyholder's user reads the PIN file" \
	setpriv --reuid=c2s-keyholder --regid=c2s-keyholder --clear-groups -- cat "$d/pin" >/dev/null
check "web's user cannot read the PIN file" \
	bash -c "! setpriv --reuid=c2s-web --regid=c2s-web --groups=$grp -- cat '$d/pin' 2>/dev/null"
check "web's user cannot list the token's files" \
	bash -c "! setpriv --reuid=c2s-web --regid=c2s-web --groups=$grp -- ls '$d/tokens' 2>/dev/null"
check "web's user cannot open the keyholder's store" \
	bash -c "! setpriv --reuid=c2s-web --regid=c2s-web --groups=$grp -- ls '$d/state/keyholder' 2>/dev/null"
check "web's user cannot read notify's webhook secret" \
	bash -c "! setpriv --reuid=c2s-web --regid=c2s-web --groups=$grp -- cat '$d/webhook.secret' 2>/dev/null"
check "the keyholder's user cannot open the main database" \
	bash -c "! setpriv --reuid=c2s-keyholder --regid=c2s-keyholder --clear-groups -- /usr/bin/python3 -c \"open('$d/state/click2sign.db','rb')\" 2>/dev/null"
check "web's user cannot rename the keyholder's store away (sticky state directory)" \
	bash -c "! setpriv --reuid=c2s-web --regid=c2s-web --groups=$grp -- mv '$d/state/keyholder' '$d/state/kh-moved' 2>/dev/null"
check "web's user cannot replace a directory root keeps there" \
	bash -c "! setpriv --reuid=c2s-web --regid=c2s-web --groups=$grp -- mv '$d/state/trust' '$d/state/trust-moved' 2>/dev/null"
check "web's user cannot add a portal key" bash -c "! setpriv --reuid=c2s-web --regid=c2s-web \
	--groups=$grp -- touch '$d/portal-keys/planted.pem' 2>/dev/null"
check "web's user cannot add a trust anchor" bash -c "! setpriv --reuid=c2s-web --regid=c2s-web \
	--groups=$grp -- touch '$d/state/trust/planted.pem' 2>/dev/null"
cat >"$d/probe.py" <<'EOF'
import ctypes, os, sys
pid = int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
what = sys.argv[1]
if what == "mem":
    try:
        with open(f"/proc/{pid}/mem", "rb") as f:
            f.seek(0x400000)
            f.read(16)
        print("read")
    except OSError as e:
        print("refused:", e.strerror)
elif what == "ptrace":
    PTRACE_ATTACH = 16
    r = libc.ptrace(PTRACE_ATTACH, pid, None, None)
    print("attached" if r == 0 else "refused: " + os.strerror(ctypes.get_errno()))
elif what == "getfd":
    try:
        pfd = os.pidfd_open(pid)
    except OSError as e:
        print("refused:", e.strerror)
        sys.exit()
    SYS_pidfd_getfd = 438
    r = libc.syscall(SYS_pidfd_getfd, pfd, 3, 0)
    print("took fd" if r >= 0 else "refused: " + os.strerror(ctypes.get_errno()))
EOF
for w in mem ptrace getfd; do
	out=$(setpriv --reuid=c2s-web --regid=c2s-web --groups="$grp" -- /usr/bin/python3 "$d/probe.py" "$w" "$kh" 2>&1)
	contains "web's user: $w on the keyholder is refused" "$out" "refused: "
done
check "the planted symbolic link's target kept its owner" test "$(stat -c %u "$victim")" = 0
contains "... and the log names it" "$(cat "$d/click2signd.log")" "planted-link is not a regular file"
contains "a hard-linked file was left as it is, named in the log" "$(cat "$d/click2signd.log")" \
	"planted-hardlink has 2 hard links"

# --- the full flow under the filters: a seal, an order with its mail and SMS ---
gs -q -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -o "$d/doc.pdf" -c "showpage" >/dev/null
code=$(curl -s -o "$d/sealed.pdf" -w '%{http_code}' --cacert "$d/pki/root.pem" \
	-H "Authorization: Bearer $(cat "$d/api-token")" -H 'Content-Type: application/pdf' \
	--data-binary @"$d/doc.pdf" "$url/v1/seal?level=B-T")
equals "a B-T seal under the filters" "$code" 200
[ "$code" = 200 ] || { head -c 400 "$d/sealed.pdf"; echo; grep -v ' info: ' "$d/click2signd.log" | tail -20; }
check "... which pdfsig accepts" bash -c "pdfsig '$d/sealed.pdf' 2>&1 | grep -q 'Signature is Valid'"
check "an order is created under the filters" c2s_sample_order "$d" "$d/order.json"
check "... notify mails the link" wait_for 20 bash -c "ls '$d/mail/'*.eml"
check "... and texts the notice" wait_for 20 test -s "$d/sms.log"
check "no process was killed by its filter during the flow" \
	bash -c "! grep -E 'outside its sandbox|killed by signal' '$d/click2signd.log'"
c2s_no_secrets "$d"
c2s_stop "$d"
no_sanitizer_reports "$d/click2signd.log" # also: no process killed by its filter while stopping

# a link planted where the database's journal goes (web and notify create files there) is not
# followed by root: click2sign-admin run as root gives the roles their files back after each
# command, as the daemon does at each start
victim2=$d/victim2
echo "root's" >"$victim2"
chmod 600 "$victim2"
ln -s "$victim2" "$d/state/click2sign.db-journal"
"$rel/click2sign-admin" --config "$d/c2s.conf" client list >/dev/null 2>&1
equals "the journal-name link's target kept its owner and mode" "$(stat -c %u:%a "$victim2")" 0:600
rm -f "$d/state/click2sign.db-journal"
# ... nor one at a token directory inside the state directory, whichever way the paths are
# written (a trailing slash makes the kernel follow a last link despite O_NOFOLLOW)
mkdir -m 700 "$d/victim3"
ln -s "$d/victim3" "$d/state/tokens"
sed -e "s|^state_dir = .*|state_dir = $d/state/|" -e "s|^\[token\]$|[token]\ndirectory = $d/state/./tokens/|" \
	"$d/c2s.conf" >"$d/slash.conf"
"$rel/click2sign-admin" --config "$d/slash.conf" client list >/dev/null 2>&1
equals "a link at the token directory's name is not followed (paths with / and /./)" \
	"$(stat -c %u:%a "$d/victim3")" 0:700
rm -f "$d/state/tokens"

# --- forbidden calls (test build: SIGUSR2 makes a process try the call) ---
export C2S_TEST_SANDBOX_PROBE="c2s-web=execve,c2s-keyholder=socket-inet,c2s-notify=execve"
: >"$d/click2signd.log"
c2s_start "$d" "$C2S_BUILD_DIR" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
unset C2S_TEST_SANDBOX_PROBE
for role in c2s-web c2s-keyholder c2s-notify; do
	pid=$(c2s_kid "$d" "$role")
	kill -USR2 "$pid"
	check "$role: the forbidden call ends it" wait_for 10 bash -c "! kill -0 $pid"
	contains "... and the parent says why" "$(cat "$d/click2signd.log")" \
		"$role (pid $pid) was killed for a system call outside its sandbox"
	check "... and starts a new one" wait_for 10 bash -c "pgrep -P $(cat "$d/click2signd.pid") -x $role"
done
check "health answers again after the restarts" wait_for 20 \
	curl -sf -o /dev/null --cacert "$d/pki/root.pem" "$url/v1/health"
c2s_stop "$d"

# --- [daemon] sandbox = log lets a call outside the list through (the kernel logs it); off
# loads no filter ---
sed 's/^\[daemon\]$/[daemon]\nsandbox = log/' "$d/c2s.conf" >"$d/log.conf"
cp "$d/c2s.conf" "$d/enforce.conf"
cp "$d/log.conf" "$d/c2s.conf"
export C2S_TEST_SANDBOX_PROBE="c2s-keyholder=socket-inet"
c2s_start "$d" "$C2S_BUILD_DIR" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
unset C2S_TEST_SANDBOX_PROBE
kh=$(c2s_kid "$d" c2s-keyholder)
equals "sandbox = log: the keyholder still has a filter" "$(field "$kh" Seccomp)" 2
kill -USR2 "$kh"
sleep 1
check "... and survives the call outside it" kill -0 "$kh"
c2s_stop "$d"
sed 's/^\[daemon\]$/[daemon]\nsandbox = off/' "$d/enforce.conf" >"$d/c2s.conf"
c2s_start "$d" "$rel" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
equals "sandbox = off: no filter" "$(field "$(c2s_kid "$d" c2s-web)" Seccomp)" 0
contains "... and the log says so" "$(cat "$d/click2signd.log")" "sandbox = off: c2s-web runs without its system-call filter"
equals "... the users are separate all the same" "$(field "$(c2s_kid "$d" c2s-web)" Uid)" "$(id -u c2s-web)"
c2s_stop "$d"
cp "$d/enforce.conf" "$d/c2s.conf"

# --- a missing user stops the start, named ---
sed 's/^\[daemon\]$/[daemon]\nweb_user = c2s-nosuchuser/' "$d/c2s.conf" >"$d/bad.conf"
out=$("$rel/click2signd" -n -c "$d/bad.conf" 2>&1)
contains "-n names the missing user" "$out" "[daemon] web_user: there is no user 'c2s-nosuchuser'"
"$rel/click2signd" -c "$d/bad.conf" >"$d/bad.log" 2>&1
equals "... and the daemon does not start" "$?" 1
check "... nothing listens" bash -c "! curl -s -o /dev/null --max-time 2 -k '$url/v1/health'"
it_done
