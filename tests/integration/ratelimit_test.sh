#!/usr/bin/env bash
# The front end's rate limits against the real daemon (issue #20), with small limits in [web]:
# per API client (429 problem+json with Retry-After, another client and /v1/health unaffected),
# per client address on the customer pages and on the certificate listener (the page in the
# customer's language, another address unaffected), per order on code submissions (answered
# before the keyholder is asked: the refused attempt costs no try), service again after
# Retry-After, one log line per limited key, the counters in /metrics. The rates are one request
# every 5 s, so that a loaded machine's slow requests do not refill a bucket between two checks.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
export C2S_SEAL_RATE=${C2S_SEAL_RATE:-0}
d=$(mktemp -d /tmp/c2s-ratelimit-test.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
PY=/usr/bin/python3
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_provision_signer "$d" >>"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_start_sinks "$d" || { echo "sinks did not start"; exit 1; }
(umask 077 && "$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" client add other >"$d/other-token")
cat >>"$d/c2s.conf" <<EOT

[web]
rate_pages = 12
rate_pages_burst = 12
rate_codes = 12
rate_codes_burst = 2
rate_cert = 12
rate_cert_burst = 3
rate_api = 12
rate_api_burst = 5
EOT
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
curl_=https://127.0.0.1:$(cat "$d/cert.port")
ca=$d/pki/root.pem
tok=$(cat "$d/api-token")
other=$(cat "$d/other-token")
# REQ [curl args...] -> the status; headers in $d/h, body in $d/b
req() { curl -s --cacert "$ca" -D "$d/h" -o "$d/b" -w '%{http_code}' "$@"; }
hdr() { grep -i "^$1:" "$d/h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
retry_ok() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$2" ]; }

# --- two orders (two of the portal's five API requests at once) ---
for i in 0 1; do
	printf '%%!PS\n/Helvetica findfont 14 scalefont setfont 72 720 moveto (Dokument %d) show showpage\n' "$i" >"$d/d$i.ps"
	ps2pdf "$d/d$i.ps" "$d/d$i.pdf"
done
for ref in RL-1 RL-2; do
	"$PY" - "$d" "$ref" <<'EOF'
import base64, json, sys
d, ref = sys.argv[1:]
b = lambda n: base64.b64encode(open("%s/d%d.pdf" % (d, n), "rb").read()).decode()
o = {"reference": ref, "locale": "sl",
     "subscriber": {"given_name": "Janez", "family_name": "Novak", "email": "janez.novak@example.si",
                    "phone": "+38641123456"},
     "account": {"id": "moj-a1-778899", "given_name": "Janez", "family_name": "Novak"},
     "documents": [{"title": "Pogodba", "filename": "pogodba.pdf", "content_base64": b(0)}],
     "attachments": [{"title": "Cenik", "filename": "cenik.pdf", "content_base64": b(1)}]}
json.dump(o, open("%s/%s.json" % (d, ref), "w"))
EOF
	"$PY" "$C2S_SOURCE_DIR/tests/tools/portal_jws.py" --key "$d/portal/key.pem" --aud "$url" \
		"$d/$ref.json" >"$d/$ref.signed.json"
	code=$(req -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
		--data-binary @"$d/$ref.signed.json" "$url/v1/orders")
	equals "order $ref created" "$code" 201
	"$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); print(o["id"], o["signing_url"])' "$d/b" >"$d/$ref.ids"
done
read -r id1 link1 <"$d/RL-1.ids"
read -r _ link2 <"$d/RL-2.ids"

# --- per API client: burst 5, then 429 problem+json with Retry-After ---
codes=""
for _ in $(seq 8); do
	c=$(req -H "Authorization: Bearer $tok" "$url/v1/orders/$id1")
	codes="$codes $c"
	[ "$c" = 429 ] && cp "$d/h" "$d/api429.h" && cp "$d/b" "$d/api429.b"
done
contains "API: the burst is served ($codes)" "$codes" " 200 200 200"
contains "API: then 429 ($codes)" "$codes" " 429"
check "API: no more than the burst (5, two taken by the orders) served ($codes)" test "$(grep -o 200 <<<"$codes" | wc -l)" -le 5
cp "$d/api429.h" "$d/h"
ra=$(hdr Retry-After)
check "API: Retry-After is whole seconds >= 1 ($ra)" retry_ok "$ra" 5
equals "API: 429 is problem+json" "$(hdr Content-Type)" "application/problem+json"
contains "API: problem type rate-limited" "$(cat "$d/api429.b")" '"type":"https://click2sign.invalid/problems/rate-limited"'
contains "API: problem status 429" "$(cat "$d/api429.b")" '"status":429'
contains "API: the detail says when to retry" "$(cat "$d/api429.b")" "retry after"
# a body is drained and answered, never reset
code=$(req -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
	--data-binary @"$d/RL-1.signed.json" "$url/v1/orders")
equals "API: a POST with a body while limited: 429" "$code" 429
equals "API: ... as problem+json" "$(hdr Content-Type)" "application/problem+json"
code=$(req -H "Authorization: Bearer $other" "$url/v1/orders/$id1")
check "API: another client is not limited ($code)" test "$code" != 429 -a "$code" != 000
for _ in $(seq 10); do h=$(req "$url/v1/health"); [ "$h" = 200 ] || break; done
equals "API: /v1/health stays 200" "$h" 200
for _ in $(seq 10); do m=$(req "$url/metrics"); [ "$m" = 200 ] || break; done
equals "API: /metrics is not limited" "$m" 200
sleep "$ra"
code=$(req -H "Authorization: Bearer $tok" "$url/v1/orders/$id1")
equals "API: served again after Retry-After" "$code" 200

# --- per client address on the customer pages (burst 12), from 127.0.0.2 ---
codes=""
for _ in $(seq 16); do
	c=$(req --interface 127.0.0.2 "$link1")
	codes="$codes $c"
	[ "$c" = 429 ] && cp "$d/h" "$d/page429.h" && cp "$d/b" "$d/page429.b"
done
contains "pages: the burst is served ($codes)" "$codes" " 200 200 200 200 200 200 200 200"
contains "pages: then 429 ($codes)" "$codes" " 429"
cp "$d/page429.h" "$d/h"
ra=$(hdr Retry-After)
check "pages: Retry-After is whole seconds >= 1 ($ra)" retry_ok "$ra" 5
contains "pages: 429 is a page" "$(hdr Content-Type)" "text/html"
contains "pages: in Slovenian by default" "$(cat "$d/page429.b")" "Preveč zahtev"
contains "pages: says when to try again" "$(cat "$d/page429.b")" "Počakajte $ra s"
contains "pages: the error is marked for the browser tests" "$(cat "$d/page429.b")" 'id="error"'
contains "pages: the page keeps its security headers" "$(cat "$d/h")" "frame-ancestors 'none'"
code=$(req --interface 127.0.0.2 -H 'Accept-Language: en' "$link1")
equals "pages: English with Accept-Language (429)" "$code" 429
contains "pages: the English page" "$(cat "$d/b")" "Too many requests came from your address"
code=$(req --interface 127.0.0.2 --data 'csrf=x' "$link1/otp")
equals "pages: a POST with a body while limited: 429" "$code" 429
contains "pages: ... as the page, not a problem" "$(hdr Content-Type)" "text/html"
code=$(req --interface 127.0.0.2 "$url/s/%22%3E%3Ci%3Einjected")
equals "pages: any token is limited by address" "$code" 429
contains "pages: the path's token is escaped on the page" "$(cat "$d/b")" '/s/&quot;&gt;&lt;i&gt;injected'
check "pages: ... and never raw" bash -c "! grep -qF '\"><i>injected' '$d/b'"
code=$(req "$link1")
equals "pages: another address is served" "$code" 200
code=$(req "$url/s/%22%3E%3Ci%3Einjected")
equals "pages: an unknown token from another address: the 404 page" "$code" 404
check "pages: ... with the token escaped" bash -c "! grep -qF '\"><i>injected' '$d/b'"
equals "pages: health from the limited address: 200" "$(req --interface 127.0.0.2 "$url/v1/health")" 200
sleep "$ra"
equals "pages: served again after Retry-After" "$(req --interface 127.0.0.2 "$link1")" 200

# --- per order on code submissions (burst 2): refused before the keyholder is asked ---
jar=$d/jar
C() { req -b "$jar" -c "$jar" "$@"; }
C "$link1" >/dev/null
csrf=$(grep -o 'name="csrf" value="[^"]*"' "$d/b" | head -1 | sed 's/.*value="//;s/"//')
equals "code: sent" "$(C --data "csrf=$csrf" "$link1/otp")" 200
check "code: the SMS arrived" wait_for 20 grep -q 'koda' "$d/sms.log"
otp=$(grep 'koda' "$d/sms.log" | tail -1 | cut -f2 | grep -o '[0-9]\{6\}')
wrong=$(printf '%06d' $(((10#$otp + 1) % 1000000)))
C --data "csrf=$csrf&code=$wrong" "$link1/otp/verify" >/dev/null
contains "code: a wrong code, 2 tries left" "$(cat "$d/b")" "Preostali poskusi: 2"
code=$(C --data "csrf=$csrf&code=$wrong" "$link1/otp/verify")
equals "code: the third submission within the burst: 429" "$code" 429
ra=$(hdr Retry-After)
check "code: Retry-After is whole seconds >= 1 ($ra)" retry_ok "$ra" 5
contains "code: the page says so" "$(cat "$d/b")" "preveč poskusov s kodo"
contains "code: the code field is offered again" "$(cat "$d/b")" 'id="otp-code"'
sms_before=$(grep -c 'koda' "$d/sms.log")
req -b "$d/jar2" -c "$d/jar2" "$link2" >/dev/null
csrf2=$(grep -o 'name="csrf" value="[^"]*"' "$d/b" | head -1 | sed 's/.*value="//;s/"//')
equals "code: another order's code is sent" "$(req -b "$d/jar2" -c "$d/jar2" --data "csrf=$csrf2" "$link2/otp")" 200
sleep "$ra"
C --data "csrf=$csrf&code=$wrong" "$link1/otp/verify" >/dev/null
contains "code: after Retry-After the next wrong code leaves 1 try (the refused one never reached the keyholder)" \
	"$(cat "$d/b")" "Preostali poskusi: 1"
sleep 5
code=$(C --data "csrf=$csrf&code=$otp" "$link1/otp/verify")
equals "code: the right code then leads on (303)" "$code" 303
equals "code: no SMS sent by a refused request" "$(grep -c 'koda' "$d/sms.log")" "$((sms_before + 1))"

# --- per client address on the certificate listener (burst 3) ---
codes=""
for _ in $(seq 6); do
	c=$(req "$curl_/c/login?return=https://moj.a1.test/prijava")
	codes="$codes $c"
done
contains "cert: then 429 ($codes)" "$codes" " 429"
check "cert: the first three are not limited ($codes)" bash -c "! grep -q 429 <<<'${codes:0:12}'"
contains "cert: 429 is a page" "$(hdr Content-Type)" "text/html"
check "cert: Retry-After ($(hdr Retry-After))" retry_ok "$(hdr Retry-After)" 5
contains "cert: the page" "$(cat "$d/b")" "Preveč zahtev"
code=$(req -H 'Accept: application/json' "$curl_/c/login")
equals "cert: a JSON client gets 429" "$code" 429
contains "cert: ... as problem rate-limited" "$(cat "$d/b")" '/problems/rate-limited'
check "cert: another address is not limited" test "$(req --interface 127.0.0.2 "$curl_/c/login")" != 429
equals "cert: health on the certificate listener stays 200" "$(req "$curl_/v1/health")" 200

# --- metrics and log ---
r=$(curl -s --cacert "$ca" "$url/metrics")
for k in api-client page-ip code-order cert-ip; do
	check "metrics: c2s_rate_limited_total{kind=\"$k\"} counts" \
		grep -qE "^c2s_rate_limited_total\{kind=\"$k\"\} [1-9][0-9]*$" <<<"$r"
done
check "metrics: every family has HELP and TYPE" "$C2S_SOURCE_DIR/tests/tools/prom_check.py" <<<"$r"
check "metrics: the eviction counter is declared" grep -q '^# TYPE c2s_rate_limit_evictions_total counter' <<<"$r"
log=$d/click2signd.log
equals "log: one line for the API client's refusals" "$(grep -c "rate limit: API client portal is over" "$log")" 1
equals "log: one line for the limited address's page refusals" "$(grep -c "rate limit: client 127.0.0.2 is over \[web\] rate_pages" "$log")" 1
equals "log: one line for the order's code refusal" "$(grep -c "rate limit: order $id1 is over" "$log")" 1
equals "log: no bearer token in the log" "$(grep -cF -e "$tok" -e "$other" "$log")" 0
no_sanitizer_reports "$log"
it_done
