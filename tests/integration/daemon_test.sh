#!/usr/bin/env bash
# The foundation end to end: real daemon, real SoftHSM2 token, curl verifying the server.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
d=$(mktemp -d /tmp/c2s-daemon-test.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
C2S_SEAL_RATE=3 c2s_provision "$d" ec:p256 || { echo "provisioning failed"; exit 1; }
sed -i 's/^\[web\]$/[web]\nmax_body = 1M/' "$d/c2s.conf"
url=https://127.0.0.1:$(cat "$d/web.port")
ca=$d/pki/root.pem
tok=$(cat "$d/api-token")
health() { curl -s --cacert "$ca" -w '\n%{http_code}' "$url/v1/health"; }

# -n names every problem and starts nothing
cp "$d/c2s.conf" "$d/bad.conf"
printf '[web]\nworkers = many\n[nope]\nx = 1\n' >>"$d/bad.conf"
out=$("$C2S_BUILD_DIR/click2signd" -n -c "$d/bad.conf" 2>&1)
rc=$?
equals "click2signd -n on a bad config exits 1" "$rc" 1
contains "bad key named with line" "$out" "[web] workers: 'many' is not a number"
contains "unknown section named" "$out" "[nope] x: unknown key"
out=$("$C2S_BUILD_DIR/click2signd" -n -c "$d/c2s.conf" 2>&1)
contains "good config checks OK" "$out" "configuration OK"

# readiness: what would stop the appliance is found by -n, each with what to do
out=$("$C2S_BUILD_DIR/click2signd" -h 2>&1)
rc=$?
equals "click2signd -h exits 0" "$rc" 0
contains "... with the usage" "$out" "usage: click2signd"
cp -p "$d/pin" "$d/pin.bak"
chmod 644 "$d/pin"
out=$("$C2S_BUILD_DIR/click2signd" -n -c "$d/c2s.conf" 2>&1)
equals "-n with a 0644 PIN file exits 1" "$?" 1
contains "... naming the mode and the fix" "$out" "[token] pin_file: $d/pin has mode 0644; it must be 0600 (chmod 600"
check "... at the line of the setting" grep -qE "c2s.conf:[0-9]+: \[token\] pin_file" <<<"$out"
chmod 600 "$d/pin"
printf '%s \n' "$(cat "$d/pin.bak")" >"$d/pin"
out=$("$C2S_BUILD_DIR/click2signd" -n -c "$d/c2s.conf" 2>&1)
contains "-n with a trailing space in the PIN says so" "$out" "ends with a space or tab"
cp -p "$d/pin.bak" "$d/pin"
ln -s "$d/pin" "$d/pin.link"
sed "s|^pin_file = .*|pin_file = $d/pin.link|" "$d/c2s.conf" >"$d/link.conf"
out=$("$C2S_BUILD_DIR/click2signd" -n -c "$d/link.conf" 2>&1)
contains "-n with a PIN file that is a symbolic link says so" "$out" "is a symbolic link"
sed "s|^key = c2s-seal|key = c2s-sael|" "$d/c2s.conf" >"$d/typo.conf"
out=$("$C2S_BUILD_DIR/click2signd" -n -c "$d/typo.conf" 2>&1)
equals "-n with a seal key label that is not in the token exits 1" "$?" 1
contains "... saying so (checked without a login)" "$out" "no certificate labelled 'c2s-sael'"
sed "s|^uri = pkcs11:token=c2s|uri = pkcs11:token=C2S|" "$d/c2s.conf" >"$d/case.conf"
out=$("$C2S_BUILD_DIR/click2signd" -n -c "$d/case.conf" 2>&1)
equals "-n with a token URI in the wrong case exits 1" "$?" 1
contains "... naming the tokens it saw" "$out" 'tokens seen: "c2s"'
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/other.key" 2>/dev/null
sed "s|^tls_key = .*|tls_key = $d/other.key|" "$d/c2s.conf" >"$d/mismatch.conf"
out=$("$C2S_BUILD_DIR/click2signd" -n -c "$d/mismatch.conf" 2>&1)
equals "-n with a TLS key of another certificate exits 1" "$?" 1
contains "... saying the key does not belong to the certificate" "$out" "does not belong to the certificate"
t0=$(date +%s)
out=$(timeout 20 "$C2S_BUILD_DIR/click2signd" -c "$d/mismatch.conf" 2>&1)
rc=$?
check "started with that pair, the daemon exits at once (rc $rc) instead of keeping a dead port" \
	test "$rc" -ne 0 -a "$rc" -ne 124 -a $(($(date +%s) - t0)) -lt 10
contains "... saying why" "$out" "not started: the HTTPS listeners cannot serve"
check "... and nothing listens on its port" bash -c "! curl -s -o /dev/null --max-time 2 -k '$url/v1/health'"

c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
check "health becomes ok" wait_for 20 bash -c "curl -sf --cacert '$ca' '$url/v1/health' | grep -q '\"status\":\"ok\"'"
h=$(health)
contains "health: status ok over verified TLS" "$h" '"status":"ok"'
contains "health: token present with label" "$h" '"present":true,"label":"c2s"'
contains "health: version" "$h" '"version":"'
pid=$(cat "$d/click2signd.pid")
kh=$(c2s_kid "$d" c2s-keyholder)
web=$(c2s_kid "$d" c2s-web)
check "c2s-keyholder runs as a child" test -n "$kh"
check "c2s-web runs as a child" test -n "$web"
check "keyholder names itself" grep -q c2s-keyholder /proc/"$kh"/comm
check "keyholder holds no TCP socket" bash -c "! ss -tanp | grep -q 'pid=$kh,'"
check "web holds the listening socket" bash -c "ss -tlnp | grep -q 'pid=$web,'"

# TLS: 1.2 and 1.3 only
check "TLS 1.3 accepted" curl -sf -o /dev/null --tlsv1.3 --cacert "$ca" "$url/v1/health"
check "TLS 1.2 accepted" curl -sf -o /dev/null --tlsv1.2 --tls-max 1.2 --cacert "$ca" "$url/v1/health"
check "TLS 1.1 refused" bash -c "! curl -s -o /dev/null --tlsv1.1 --tls-max 1.1 --cacert '$ca' '$url/v1/health'"

# errors are problem+json
r=$(curl -s --cacert "$ca" -w '\n%{http_code} %{content_type}' "$url/v1/nothing")
contains "unknown path: 404 problem+json" "$r" "404 application/problem+json"
r=$(curl -s --cacert "$ca" -X DELETE -w '\n%{http_code}' "$url/v1/health")
contains "wrong method: 405" "$r" "405"
r=$(curl -s --cacert "$ca" -X POST -H 'Content-Type: application/pdf' --data-binary x -w '\n%{http_code}' "$url/v1/seal")
contains "seal without bearer token: 401" "$r" "401"
contains "401 says what to do" "$r" "API client token"
r=$(curl -s --cacert "$ca" -H "Authorization: Bearer nope" -X POST -H 'Content-Type: application/pdf' --data-binary x -w '\n%{http_code}' "$url/v1/seal")
contains "seal with a wrong token: 401" "$r" "401"
head -c 1500000 /dev/zero >"$d/big.bin"
r=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' --data-binary @"$d/big.bin" -w '\n%{http_code} %{content_type}' "$url/v1/seal")
contains "oversized body: 413 problem+json" "$r" "413 application/problem+json"
contains "413 names the limit" "$r" "larger than 1048576 bytes"
r=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' -H 'Transfer-Encoding: chunked' --data-binary @"$d/big.bin" -w '\n%{http_code}' "$url/v1/seal")
contains "oversized chunked body: 413" "$r" "413"
r=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: text/plain' --data-binary x -w '\n%{http_code}' "$url/v1/seal")
contains "wrong content type: 415" "$r" "415"
r=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' --data-binary x -w '\n%{http_code}' "$url/v1/seal?level=B-X")
contains "bad level: 400" "$r" "400"
r=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' --data-binary 'hello' -w '\n%{http_code}' "$url/v1/seal")
contains "not a PDF: 422 invalid-document" "$r" "invalid-document"
r=$(curl -s --cacert "$ca" "$url/metrics")
contains "metrics: Prometheus text" "$r" "c2s_keyholder_up 1"
out=$("$C2S_SOURCE_DIR/tests/tools/prom_check.py" <<<"$r")
check "metrics: every family has HELP and TYPE, histograms cumulative ($out)" \
	"$C2S_SOURCE_DIR/tests/tools/prom_check.py" <<<"$r"
check "metrics: the request latency histogram counts the requests so far" \
	grep -qE '^c2s_http_request_duration_seconds_count [1-9][0-9]*$' <<<"$r"
check "metrics: the seal latency histogram is declared" grep -q '^# TYPE c2s_seal_duration_seconds histogram' <<<"$r"

# refusals decided before the body (unknown route, no bearer token) reach the client as the
# problem after the body is drained, never as a reset
head -c 1000000 /dev/zero | tr '\0' 'a' | sed 's/^/{"x":"/; s/$/"}/' >"$d/big.json"
codes=$(for _ in $(seq 12); do
	curl -s --cacert "$ca" -H 'Content-Type: application/json' --data-binary @"$d/big.json" \
		-o /dev/null -w '%{http_code}\n' "$url/v1/nowhere"
	curl -s --cacert "$ca" -H 'Content-Type: application/json' --data-binary @"$d/big.json" \
		-o /dev/null -w '%{http_code}\n' "$url/v1/orders"
done | sort | uniq -c | tr -s ' \n' ' ')
equals "1 MB bodies to an unknown route and without a token: 12 x 404, 12 x 401, no reset" "$codes" " 12 401 12 404 "

# the keyholder's seal permit ([seal] rate = 3 here): a burst of 8 gets 429s, then it refills
printf '%%!PS\n/Helvetica findfont 12 scalefont setfont 72 720 moveto (rate) show showpage\n' >"$d/r.ps"
ps2pdf "$d/r.ps" "$d/r.pdf"
codes=$(for _ in $(seq 8); do
	curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' \
		--data-binary @"$d/r.pdf" -o "$d/r.out" -w '%{http_code}\n' "$url/v1/seal"
done | sort | uniq -c | tr -s ' \n' ' ')
contains "seal permit: first seals of a burst pass ($codes)" "$codes" " 200"
contains "seal permit: the rest are refused with 429 ($codes)" "$codes" " 429"
contains "seal permit: refusal says rate-limited" "$(cat "$d/r.out")" "rate-limited"
sleep 1.2
code=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' \
	--data-binary @"$d/r.pdf" -o "$d/r.out" -w '%{http_code}' "$url/v1/seal")
equals "seal permit: refilled after a second" "$code" 200

# kill the keyholder: health says why (503), then it is restarted and recovers by itself
kill -9 "$kh"
h503=""
for _ in $(seq 100); do
	h=$(health)
	case "$h" in *503) h503=$h && break ;; esac
	sleep 0.05
done
check "health goes 503 while the keyholder is down" test -n "$h503"
contains "503 health names the keyholder" "$h503" "key-holding process"
check "keyholder restarted and health ok again" wait_for 15 bash -c "curl -sf --cacert '$ca' '$url/v1/health' | grep -q '\"status\":\"ok\"'"
kh2=$(c2s_kid "$d" c2s-keyholder)
check "a new keyholder pid" test -n "$kh2" -a "$kh2" != "$kh"
contains "restart logged" "$(cat "$d/click2signd.log")" "was killed by signal 9; restarting"

# kill the web process: restarted, serving again
kill -9 "$web"
check "c2s-web restarted and serving" wait_for 15 bash -c "curl -sf --cacert '$ca' '$url/v1/health' | grep -q '\"status\":\"ok\"'"

# PIN file with mode 0644 is refused with that reason; fixed, it recovers without restart
chmod 644 "$d/pin"
kill -9 "$(c2s_kid "$d" c2s-keyholder)"
check "PIN 0644: health 503" wait_for 15 bash -c "curl -s --cacert '$ca' '$url/v1/health' | grep -q 'PIN file refused'"
h=$(health)
contains "PIN 0644: reason names the mode" "$h" "0600"
contains "PIN 0644: status 503" "$h" "503"
chmod 600 "$d/pin"
check "PIN fixed: ok again without a restart" wait_for 10 bash -c "curl -sf --cacert '$ca' '$url/v1/health' | grep -q '\"status\":\"ok\"'"

# the SoftHSM2 token directory taken away and put back: 503 with the key and certificate not
# known meanwhile, and back to ok without a restart (the module is started over)
mv "$d/tokens" "$d/tokens.away"
check "token gone: health 503 within 5 s" wait_for 5 bash -c "curl -s --cacert '$ca' -o /dev/null -w '%{http_code}' '$url/v1/health' | grep -q 503"
h=$(health)
contains "token gone: the seal key is not reported present" "$h" '"seal":{"label":"c2s-seal","present":false,"certificate":false'
mv "$d/tokens.away" "$d/tokens"
t0=$(date +%s)
check "token back: health ok again within 20 s, no restart" wait_for 20 bash -c "curl -sf --cacert '$ca' '$url/v1/health' | grep -q '\"status\":\"ok\"'"
echo "# recovered in $(($(date +%s) - t0)) s"
contains "the module was started over" "$(cat "$d/click2signd.log")" "starting the PKCS#11 module over"

# an API client revoked while the daemon runs is refused from its next request (the token
# lookup is a statement prepared once: it must still read the table each time)
(umask 077 && "$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" client add revokee >"$d/revokee-token")
rtok=$(cat "$d/revokee-token")
v1() { curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -H "Authorization: Bearer $1" "$url/v1/orders/00000000000000000000000000"; }
check "a new API client is accepted at once" test "$(v1 "$rtok")" != 401
"$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" client revoke revokee >/dev/null
equals "... and refused right after its revocation" "$(v1 "$rtok")" 401
check "... while the other client is still accepted" test "$(v1 "$tok")" != 401

# SIGTERM stops everything cleanly
kill -TERM "$pid"
check "daemon exits on SIGTERM" wait_for 10 bash -c "[ ! -e /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status"
check "no children left" bash -c "! pgrep -x c2s-keyholder -P $pid && ! pgrep -x c2s-web -P $pid"
wait "$pid" 2>/dev/null
rc=$?
equals "exit status 0 after SIGTERM" "$rc" 0
rm -f "$d/click2signd.pid"
no_sanitizer_reports "$d/click2signd.log"
it_done
