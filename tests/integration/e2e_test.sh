#!/usr/bin/env bash
# The customer's pages in real browsers: Debian's Chromium and Firefox ESR driven by
# puppeteer-core (tests/e2e/, installed with npm ci from the committed lock file, no browser
# download). The appliance is provisioned exactly as in orders_test.sh (signer mode, SoftHSM2,
# the sinks, the local TSA, the test clock); this script creates the orders through the API
# (portal-signed), ends two of them (one cancelled, one expired by the moved clock) and runs
# tests/e2e/flows.js once per browser. Screenshots: $C2S_BUILD_DIR/e2e-screenshots/.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
export C2S_SEAL_RATE=${C2S_SEAL_RATE:-0}
PY=/usr/bin/python3
e2e=$C2S_SOURCE_DIR/tests/e2e
shots=$C2S_BUILD_DIR/e2e-screenshots
t0=$(date +%s)

for b in /usr/bin/chromium /usr/bin/firefox-esr /usr/bin/node /usr/bin/npm; do
	[ -x "$b" ] || { echo "e2e: $b is missing (scripts/deps.sh installs it)"; echo "0 passed, 1 failed"; exit 1; }
done

# --- puppeteer-core and axe-core from the committed lock file, outside the source tree ---
# Reinstalled only when the lock file changes; npm's cache stays in the build dir, not $HOME.
nm=$C2S_BUILD_DIR/e2e-node
want=$(sha256sum "$e2e/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$nm/lock.sha256" 2>/dev/null)" != "$want" ]; then
	rm -rf "$nm" && mkdir -p "$nm"
	cp "$e2e/package.json" "$e2e/package-lock.json" "$nm/"
	if ! (cd "$nm" && PUPPETEER_SKIP_DOWNLOAD=1 timeout 300 npm ci --no-audit --no-fund \
		--cache "$nm/.npm-cache" >"$nm/npm-ci.log" 2>&1); then
		cat "$nm/npm-ci.log"
		echo "e2e: npm ci failed"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "$want" >"$nm/lock.sha256"
fi

d=$(mktemp -d /tmp/c2s-e2e-test.XXXXXX)
trap '[ -f "$d/browser.pgid" ] && kill -KILL -- "-$(cat "$d/browser.pgid")" 2>/dev/null; [ -f "$d/portal-www.pid" ] && kill "$(cat "$d/portal-www.pid")"; c2s_stop "$d"; rm -rf "$d"' EXIT
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_provision_signer "$d" >>"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_start_sinks "$d" || { echo "sinks did not start"; exit 1; }
c2s_start_tsa "$d" || { echo "TSA did not start"; exit 1; }
# certificate login: the Slovenian-shaped test PKI, its anchor, intermediate and CRLs installed
# the operator's way, and a loopback "portal" to return to
cust=$d/cust
"$C2S_SOURCE_DIR/tests/tools/mkcustpki.sh" "$cust" >"$d/mkcustpki.log" 2>&1 || { cat "$d/mkcustpki.log"; exit 1; }
for f in trust.pem inter.pem; do
	"$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" trust add "$cust/$f" >/dev/null || exit 1
done
for f in root.crl inter.crl; do
	"$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" crl add "$cust/crl/$f" >/dev/null || exit 1
done
mkdir -p "$d/portal-www/prijava" && echo '<!DOCTYPE html><title>portal</title><p>portal' >"$d/portal-www/prijava/index.html"
pport=$(c2s_free_port)
"$PY" -m http.server --bind 127.0.0.1 --directory "$d/portal-www" "$pport" >"$d/portal-www.log" 2>&1 &
echo $! >"$d/portal-www.pid"
printf '\n[certlogin]\nreturn_url = http://127.0.0.1:%s/prijava/\n' "$pport" >>"$d/c2s.conf"
export C2S_TEST_CLOCK_FILE=$d/clock
echo 0 >"$C2S_TEST_CLOCK_FILE"
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
ca=$d/pki/root.pem
tok=$(cat "$d/api-token")
api() { # METHOD PATH [BODYFILE] -> body, then the status on the last line
	curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
		-X "$1" ${3:+--data-binary @"$3"} -w '\n%{http_code}' "$url$2"
}

# --- the orders: two documents and two attachments each, as in orders_test.sh ---
for i in 0 1 2 3; do
	printf '%%!PS\n/Helvetica findfont 14 scalefont setfont 72 720 moveto (Dokument %d: Janez Novak) show showpage\n' "$i" >"$d/d$i.ps"
	ps2pdf "$d/d$i.ps" "$d/d$i.pdf"
done
mkorder() { # NAME REF [EXPIRES_IN]: creates the order, writes DIR/NAME.order (the API's answer)
	"$PY" - "$d" "$2" "${3:-}" >"$d/$1.json" <<'EOF' || return 1
import base64, json, sys
d, ref, exp = sys.argv[1:]
b = lambda n: base64.b64encode(open("%s/d%d.pdf" % (d, n), "rb").read()).decode()
o = {"reference": ref, "locale": "sl",
     "subscriber": {"given_name": "Janez", "family_name": "Novak", "email": "janez.novak@example.si",
                    "phone": "+38641123456"},
     "account": {"id": "moj-a1-778899", "given_name": "Janez", "family_name": "Novak"},
     "documents": [{"title": "Naročniška pogodba", "filename": "pogodba.pdf", "content_base64": b(0)},
                   {"title": "Aneks k pogodbi", "filename": "aneks.pdf", "content_base64": b(1)}],
     "attachments": [{"title": "Cenik", "filename": "cenik.pdf", "content_base64": b(2)},
                     {"title": "Splošni pogoji", "filename": "pogoji.pdf", "content_base64": b(3)}]}
if exp:
    o["expires_in"] = int(exp)
json.dump(o, sys.stdout, ensure_ascii=False)
EOF
	"$PY" "$C2S_SOURCE_DIR/tests/tools/portal_jws.py" --key "$d/portal/key.pem" --aud "$url" \
		"$d/$1.json" >"$d/$1.signed.json" || return 1
	local r
	r=$(api POST /v1/orders "$d/$1.signed.json")
	[ "$(tail -n1 <<<"$r")" = 201 ] || { echo "order $1 not created: $r"; return 1; }
	sed '$d' <<<"$r" >"$d/$1.order"
}
n=0
for b in chromium firefox; do
	for f in main en phone; do
		n=$((n + 1))
		mkorder "$b-$f" "A1-E2E-$(printf %04d $n)" || exit 1
	done
done
mkorder cancelled A1-E2E-0100 || exit 1
mkorder expired A1-E2E-0101 60 || exit 1
r=$(api POST "/v1/orders/$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$d/cancelled.order")/cancel")
[ "$(tail -n1 <<<"$r")" = 200 ] || { echo "cancel failed: $r"; exit 1; }
# the expired order's 60 s are over for the daemon; the others' 24 h are not
echo 120 >"$C2S_TEST_CLOCK_FILE"

"$PY" - "$d" "$url" "$shots" >"$d/e2e.json" <<'EOF'
import glob, json, os, sys
d, url, shots = sys.argv[1:]
orders = {}
for f in glob.glob(d + "/*.order"):
    o = json.load(open(f))
    orders[os.path.basename(f)[:-6]] = {"id": o["id"], "url": o["signing_url"]}
json.dump({"base": url, "ca": d + "/pki/root.pem", "sms_log": d + "/sms.log",
           "daemon_log": d + "/click2signd.log", "shots": shots, "tmp": d,
           "orders": orders}, sys.stdout, indent=1)
EOF
rm -rf "$shots" && mkdir -p "$shots"

# --- the browsers, one after the other, each bounded ---
total_pass=0
total_fail=0
for b in chromium firefox; do
	echo "--- $b"
	# its own process group, so that a browser left behind by a killed run goes with it
	NODE_PATH=$nm/node_modules setsid timeout -k 5 150 /usr/bin/node "$e2e/flows.js" "$b" \
		"$d/e2e.json" >"$d/$b.out" 2>&1 &
	echo $! >"$d/browser.pgid"
	wait "$(cat "$d/browser.pgid")"
	rc=$?
	kill -KILL -- "-$(cat "$d/browser.pgid")" 2>/dev/null
	rm -f "$d/browser.pgid"
	cat "$d/$b.out"
	p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$d/$b.out" | tail -1)
	f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$d/$b.out" | tail -1)
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-0}))
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		total_fail=$((total_fail + 1))
		echo "FAIL - $b: the run ended with exit code $rc$([ "$rc" = 124 ] && echo ' (timeout)')"
	fi
done

# --- certificate login in both browsers (tests/e2e/certlogin.js): the certificate is chosen
# without a dialog, registered with a portal assertion, then logs in back to the portal ---
echo "--- certificate login"
churl=https://127.0.0.1:$(cat "$d/cert.port")
reg() { echo "$churl/c/register?assertion=$("$PY" "$C2S_SOURCE_DIR/tests/tools/portal_jws.py" --key "$d/portal/key.pem" --aud "$url" --account acct-e2e)"; }
"$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" key public --label c2s-assertion >"$d/assertion-pub.pem"
C2S_CERT_URL=$churl C2S_CA=$ca CERT_P12=$cust/good-ec/client.p12 CERT_ISSUER_CN="Test SIGEN-CA G2" \
	CERT_ROOT_PEM=$cust/trust.pem REGISTER_URL_CHROMIUM=$(reg) REGISTER_URL_FIREFOX=$(reg) \
	RETURN_URL=http://127.0.0.1:$pport/prijava/ ARTIFACTS=$shots NODE_PATH=$nm/node_modules \
	setsid timeout -k 5 120 /usr/bin/node "$e2e/certlogin.js" >"$d/certlogin.out" 2>"$d/certlogin.err" &
echo $! >"$d/browser.pgid"
wait "$(cat "$d/browser.pgid")"
rc=$?
kill -KILL -- "-$(cat "$d/browser.pgid")" 2>/dev/null
rm -f "$d/browser.pgid"
cat "$d/certlogin.err"
check "certificate login: both browsers registered and logged in (exit $rc)" test "$rc" -eq 0
for b in chromium firefox; do
	line=$(grep "\"browser\":\"$b\"" "$d/certlogin.out")
	jws=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["assertion"])' "$line" 2>/dev/null)
	claims=$("$PY" "$C2S_SOURCE_DIR/tests/tools/portal_jws.py" --verify "$d/assertion-pub.pem" "$jws" 2>&1)
	contains "certificate login ($b): the assertion is signed by the appliance's key, for acct-e2e" \
		"$claims" '"sub":"acct-e2e"'
done

c2s_stop "$d"
no_sanitizer_reports "$d/click2signd.log"
it_pass=$((it_pass + total_pass))
it_fail=$((it_fail + total_fail))
echo "e2e: $(($(date +%s) - t0)) s; screenshots in $shots"
c2s_no_secrets "$d"
it_done
