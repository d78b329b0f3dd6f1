#!/usr/bin/env bash
# Customers' own certificates on the certificate listener (API.md section 3), with curl as the
# browser: a test PKI shaped like the Slovenian qualified CAs (tests/tools/mkcustpki.sh: root,
# intermediate, customers with Č/Š/Ž in UTF8String, BMPString and T61String, serialNumber,
# qcStatements, RSA, RSA-PSS and ECDSA), its CRLs served over HTTP on loopback and fetched by the
# appliance from the certificates' distribution points. Each good certificate registers with a
# portal assertion and logs in (the login assertion verified with openssl against the key that
# `key public` exports); each bad one is refused with its own problem type, in both languages;
# the portal's API lists and unbinds; the admin commands refuse what they must.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
PY=/usr/bin/python3
d=$(mktemp -d /tmp/c2s-certlogin-test.XXXXXX)
crlpid=
trap '[ -n "$crlpid" ] && kill "$crlpid" 2>/dev/null; c2s_stop "$d"; rm -rf "$d"' EXIT
admin() { "$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" "$@"; }

c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_provision_signer "$d" >>"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
crlport=$(c2s_free_port)
cust=$d/cust
"$C2S_SOURCE_DIR/tests/tools/mkcustpki.sh" "$cust" "http://127.0.0.1:$crlport/crl" \
	>"$d/mkcustpki.log" 2>&1 || { cat "$d/mkcustpki.log"; exit 1; }
# the distribution points: the root's CRL in DER, the intermediate's in PEM (as Halcom serves its)
mkdir -p "$d/crlweb/crl"
cp "$cust/crl/root.crl" "$d/crlweb/crl/root.crl"
cp "$cust/crl/inter.crl.pem" "$d/crlweb/crl/inter.crl"
"$PY" -m http.server --bind 127.0.0.1 --directory "$d/crlweb" "$crlport" >"$d/crl-http.log" 2>&1 &
crlpid=$!
c2s_wait_http "http://127.0.0.1:$crlport/crl/inter.crl" "" 10 || { echo "CRL server down"; exit 1; }
cat >>"$d/c2s.conf" <<EOT

[certlogin]
return_url = https://portal.example.si/prijava
EOT

# --- provisioning: trust add / list / remove, crl add ---
out=$(admin trust add "$cust/trust.pem" 2>&1)
contains "trust add names the anchor" "$out" "anchor"
contains "trust add decodes the anchor's name" "$out" "CN=Test SI-TRUST Root"
out=$(admin trust add "$cust/good-ec/cert.pem" 2>&1)
check "trust add refuses a customer (non-CA) certificate" test $? -ne 0
contains "... saying why" "$out" "not a CA certificate"
out=$(admin trust list 2>&1)
contains "trust list shows the anchor" "$out" "Test SI-TRUST Root"
evil_fp=$(admin trust add "$cust/other/ca.pem" | grep -o '[0-9a-f]\{64\}')
check "trust remove takes a CA out again" admin trust remove "$evil_fp"
out=$(admin trust list 2>&1)
check "... and it is gone from the list" test "${out/Evil/}" = "$out"
out=$(admin crl add "$cust/crl/inter.crl" 2>&1)
check "crl add refuses a CRL whose issuer is not trusted (the intermediate is not provisioned)" \
	test $? -ne 0
contains "... saying why" "$out" "not signed by any trusted"
out=$(admin crl add "$cust/crl/root.crl" 2>&1)
check "crl add takes the root's CRL" test $? -eq 0
contains "... naming its issuer" "$out" "Test SI-TRUST Root"
# a CRL with the root's name but signed by another key
"$PY" - "$cust/crl/root.crl" "$d/forged.crl" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-5] ^= 0x55  # inside the signature
open(sys.argv[2], "wb").write(bytes(b))
EOF
out=$(admin crl add "$d/forged.crl" 2>&1)
check "crl add refuses a CRL whose signature does not verify" test $? -ne 0

c2s_start_sinks "$d" || { echo "sinks did not start"; exit 1; }
c2s_start_tsa "$d" || { echo "TSA did not start"; exit 1; }
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
curl_=(curl -s --cacert "$d/pki/root.pem" --max-time 20)
churl=https://127.0.0.1:$(cat "$d/cert.port")
tok=$(cat "$d/api-token")
admin key public --label c2s-assertion >"$d/assertion-pub.pem"
check "key public exports the assertion key" grep -q "BEGIN PUBLIC KEY" "$d/assertion-pub.pem"

assertion() { # ACCOUNT [extra portal_jws args]
	local acc=$1
	shift
	"$PY" "$C2S_SOURCE_DIR/tests/tools/portal_jws.py" --key "$d/portal/key.pem" --aud "$url" \
		--account "$acc" "$@"
}
# cert NAME: curl's client-certificate options for a customer of the test PKI (the chain the
# client sends)
cert() { echo --cert "$cust/$1/chain.pem" --key "$cust/$1/key.pem"; }
# curl's OpenSSL would not even load an RSA-1024 key or a SHA-1 certificate at its default
# security level
cat >"$d/seclevel0.cnf" <<'EOT'
openssl_conf = c
[c]
ssl_conf = s
[s]
system_default = d
[d]
CipherString = DEFAULT:@SECLEVEL=0
EOT
jget() { "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval("d"+sys.argv[1]))' "$1"; }
# verify_jws JWS PUBKEY: ES256 signature with openssl; prints the payload
verify_jws() { "$PY" "$C2S_SOURCE_DIR/tests/tools/portal_jws.py" --verify "$2" "$1"; }

# --- the good ones: register (JSON), register again (already), log in, in both forms ---
for name in good-rsa good-ec good-p384 good-pss; do
	acc="acct-$name"
	cn=$(head -n1 "$cust/$name/subject.txt")
	# shellcheck disable=SC2046
	r=$("${curl_[@]}" $(cert "$name") -H 'Accept: application/json' -w '\n%{http_code}' \
		"$churl/c/register?assertion=$(assertion "$acc")")
	equals "$name registers (201)" "$(tail -n1 <<<"$r")" 201
	body=$(sed '$d' <<<"$r")
	equals "$name: bound to the assertion's account" "$(jget "['account']" <<<"$body" 2>&1)" "$acc"
	contains "$name: subject decoded to UTF-8 ($cn)" "$(jget "['subject']" <<<"$body" 2>&1)" "CN=$cn"
	equals "$name: serial as the CA wrote it" "$(jget "['serial']" <<<"$body" 2>&1)" \
		"$(head -n1 "$cust/$name/serial.txt")"
	# shellcheck disable=SC2046
	r=$("${curl_[@]}" $(cert "$name") -H 'Accept: application/json' -w '\n%{http_code}' \
		"$churl/c/register?assertion=$(assertion "$acc")")
	equals "$name: registering again says already (200)" "$(tail -n1 <<<"$r")" 200
	# shellcheck disable=SC2046
	loc=$("${curl_[@]}" $(cert "$name") -o /dev/null -w '%{http_code} %{redirect_url}' \
		"$churl/c/login?return=https://portal.example.si/prijava")
	contains "$name logs in: 303 to the portal" "$loc" "303 https://portal.example.si/prijava?assertion="
	jws=${loc##*assertion=}
	claims=$(verify_jws "$jws" "$d/assertion-pub.pem" 2>&1)
	contains "$name: the login assertion verifies with the exported key" "$claims" "\"sub\":\"$acc\""
	now=$(date +%s)
	check "$name: exp - iat <= 300, iat is now, aud is the portal, iss this appliance" "$PY" -c '
import json,sys; c=json.loads(sys.argv[1]); now=int(sys.argv[2])
assert c["exp"]-c["iat"]<=300 and abs(c["iat"]-now)<30 and c["aud"]=="https://moj.a1.test", c
assert c["iss"]==sys.argv[3] and len(c["jti"])>=16, c' "$claims" "$now" "$url"
done
# mkleaf NAME CDP [KEYFROM]: a further customer of the intermediate, with the given CRL
# distribution point (none when CDP is empty) (and the key of KEYFROM's certificate: a renewal that keeps the key)
mkleaf() {
	local o=$cust/$1
	mkdir -p "$o"
	if [ -n "${3:-}" ]; then cp "$cust/$3/key.pem" "$o/key.pem"; else
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$o/key.pem" 2>/dev/null; fi
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$o/ext"
	[ -n "$2" ] && printf 'crlDistributionPoints=%s\n' "$2" >>"$o/ext"
	openssl req -new -key "$o/key.pem" -subj "/C=SI/O=Test/CN=Stranka $1" -out "$o/req.csr" 2>/dev/null
	openssl x509 -req -in "$o/req.csr" -CA "$cust/inter/ca.pem" -CAkey "$cust/inter/ca.key" \
		-set_serial "0x$(openssl rand -hex 12)" -days 30 -extfile "$o/ext" -out "$o/cert.pem" 2>/dev/null
	cat "$o/cert.pem" "$cust/inter/ca.pem" >"$o/chain.pem"
}
mkleaf html "URI:http://127.0.0.1:$crlport/crl/inter.crl"
# the HTML form of the same (the customer's browser): a question that names the account, then
# a POST whose token must match the cookie set with the question
jar=$d/cookies
a=$(assertion acct-html)
# shellcheck disable=SC2046
page=$("${curl_[@]}" -c "$jar" $(cert html) "$churl/c/register?assertion=$a")
contains "the registration page (sl) asks first (#register-confirm)" "$page" 'id="register-confirm"'
contains "... naming the account" "$page" 'id="register-account">acct-html<'
contains "... and the holder" "$page" "Stranka html"
r=$("${curl_[@]}" -H "Authorization: Bearer $tok" "$url/v1/accounts/acct-html/certificates")
equals "... nothing is bound before the answer" "$(jget "['certificates']" <<<"$r" 2>&1)" "[]"
csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' <<<"$page" | grep -o '[0-9a-f]\{32\}')
# shellcheck disable=SC2046
page=$("${curl_[@]}" $(cert html) --data-urlencode "assertion=$a" --data "csrf=$csrf" "$churl/c/register")
contains "a confirmation without the page's cookie is refused (no cross-site binding)" "$page" 'id="error"'
# shellcheck disable=SC2046
page=$("${curl_[@]}" -b "$jar" $(cert html) --data-urlencode "assertion=$a" --data "csrf=0000$csrf" "$churl/c/register")
contains "... and one with another token" "$page" 'id="error"'
# shellcheck disable=SC2046
page=$("${curl_[@]}" -b "$jar" $(cert html) --data-urlencode "assertion=$a" --data "csrf=$csrf" "$churl/c/register")
contains "confirmed: #registered" "$page" 'id="registered"'
# a token and cookie an attacker chose (equal, but not this registration's) confirm nothing
# shellcheck disable=SC2046
page=$("${curl_[@]}" -b "c2s_reg=00112233445566778899aabbccddeeff" $(cert html) --data-urlencode "assertion=$a" \
	--data "csrf=00112233445566778899aabbccddeeff" "$churl/c/register")
contains "a self-made token and cookie do not confirm" "$page" 'id="error"'
# JSON binds at once, but not for another website's request (a cross-site fetch may set Accept)
for h in "Sec-Fetch-Site: cross-site" "Origin: https://evil.example"; do
	# shellcheck disable=SC2046
	r=$("${curl_[@]}" $(cert html) -H 'Accept: application/json' -H "$h" -w '\n%{http_code}' \
		"$churl/c/register?assertion=$(assertion acct-evil)")
	equals "JSON registration with '$h': 403" "$(tail -n1 <<<"$r")" 403
	contains "... /cross-site-request" "$r" "problems/cross-site-request"
done
r=$("${curl_[@]}" -H "Authorization: Bearer $tok" "$url/v1/accounts/acct-evil/certificates")
equals "... and nothing was bound to the attacker's account" "$(jget "['certificates']" <<<"$r" 2>&1)" "[]"
# a renewal that keeps the key: registered again, and the new certificate logs in
mkleaf html2 "URI:http://127.0.0.1:$crlport/crl/inter.crl" html
# shellcheck disable=SC2046
r=$("${curl_[@]}" $(cert html2) -H 'Accept: application/json' -w '\n%{http_code}' \
	"$churl/c/register?assertion=$(assertion acct-html)")
equals "a renewed certificate with the same key registers (201)" "$(tail -n1 <<<"$r")" 201
# shellcheck disable=SC2046
loc=$("${curl_[@]}" $(cert html2) -o /dev/null -w '%{http_code}' "$churl/c/login?return=https://portal.example.si/prijava")
equals "... and logs in" "$loc" 303
# a distribution point that is not http(s): revocation cannot be checked, so no login
mkleaf ldaponly "URI:ldap://x500.example/cn=CA?certificateRevocationList"
# shellcheck disable=SC2046
r=$("${curl_[@]}" $(cert ldaponly) -H 'Accept: application/json' "$churl/c/check")
contains "an LDAP-only distribution point: revocation unknown, not accepted" "$r" "problems/certificate-revocation-unknown"
contains "... saying to install the CRL" "$r" "crl add"
# no distribution point at all, and no CRL of the intermediate installed: revocation is required
mkleaf nocdp ""
# shellcheck disable=SC2046
r=$("${curl_[@]}" $(cert nocdp) -H 'Accept: application/json' "$churl/c/check")
contains "a certificate naming no distribution point, its issuer's CRL not installed: unknown" "$r" "problems/certificate-revocation-unknown"
contains "... saying so" "$r" "names no CRL distribution point"
# a hostile chain: the intermediate sent six times over is one candidate, and answered fast
cat "$cust/good-ec/cert.pem" "$cust/inter/ca.pem" "$cust/inter/ca.pem" "$cust/inter/ca.pem" \
	"$cust/inter/ca.pem" "$cust/inter/ca.pem" >"$d/dup-chain.pem"
t=$("${curl_[@]}" --cert "$d/dup-chain.pem" --key "$cust/good-ec/key.pem" -o /dev/null -w '%{http_code} %{time_total}' "$churl/c/check")
contains "the same intermediate six times: still valid" "$t" "200 "
# shellcheck disable=SC2046
page=$("${curl_[@]}" $(cert good-ec) -H 'Accept-Language: en' "$churl/c/check")
contains "the check page (en) says the certificate is accepted" "$page" "this service accepts it"

# --- the bad ones: each its own reason (problem+json), nothing bound ---
bad() { # NAME TYPE STATUS [needle in detail]
	local name=$1 type=$2 status=$3 needle=${4:-} pre=()
	case $name in rsa1024 | sha1) pre=(env OPENSSL_CONF="$d/seclevel0.cnf") ;; esac
	# shellcheck disable=SC2046
	r=$("${pre[@]}" "${curl_[@]}" $(cert "$name") -H 'Accept: application/json' -w '\n%{http_code}' \
		"$churl/c/register?assertion=$(assertion "acct-$name")")
	equals "$name: HTTP $status" "$(tail -n1 <<<"$r")" "$status"
	body=$(sed '$d' <<<"$r")
	equals "$name: type /$type" "$(jget "['type']" <<<"$body" 2>&1)" "https://click2sign.invalid/problems/$type"
	[ -n "$needle" ] && contains "$name: the detail says '$needle'" "$(jget "['detail']" <<<"$body" 2>&1)" "$needle"
	r=$("${curl_[@]}" -H "Authorization: Bearer $tok" "$url/v1/accounts/acct-$name/certificates")
	equals "$name: nothing was bound" "$(jget "['certificates']" <<<"$r" 2>&1)" "[]"
}
bad expired certificate-expired 403 "expired on"
bad notyet certificate-not-yet-valid 403 "valid only from"
bad revoked certificate-revoked 403 "revoked on $(cut -c1-10 "$cust/revoked/revoked_at")"
bad unknown certificate-untrusted 403 "Evil Test CA"
bad nointer certificate-chain-incomplete 403 "Test SIGEN-CA G2"
bad serveronly certificate-usage 403 "server authentication only"
bad critext certificate-usage 403 "1.3.6.1.4.1.99999.1"
bad rsa1024 certificate-weak 403 "1024 bits"
bad sha1 certificate-weak 403 "SHA-1"
bad caleaf certificate-usage 403 "CA certificate"
# (nonRepudiation alone, tests/tools/mkcustpki.sh good-sign: browsers never offer such a
# certificate for TLS and GnuTLS ends the handshake; custcert_test covers its refusal)
r=$("${curl_[@]}" -H 'Accept: application/json' -w '\n%{http_code}' \
	"$churl/c/register?assertion=$(assertion acct-none)")
equals "no certificate: 403 /certificate-missing" "$(jget "['type']" <<<"$(sed '$d' <<<"$r")" 2>&1)" \
	"https://click2sign.invalid/problems/certificate-missing"
contains "... saying what to do" "$r" "izberite svoje"
# the same refusals as pages, in the customer's language
page=$("${curl_[@]}" "$churl/c/login")
contains "no certificate (sl page): what to do" "$page" "izberite svoje"
contains "... in #error" "$page" 'id="error"'
# shellcheck disable=SC2046
page=$("${curl_[@]}" $(cert expired) -H 'Accept-Language: en-GB,en' "$churl/c/login")
contains "expired (en page): the date" "$page" "The certificate expired on"
# shellcheck disable=SC2046
page=$("${curl_[@]}" $(cert revoked) "$churl/c/login")
contains "revoked (sl page)" "$page" "Izdajatelj je potrdilo preklical"

# --- registration and login refusals that are not about the certificate ---
# shellcheck disable=SC2046
r=$("${curl_[@]}" $(cert good-rsa) -H 'Accept: application/json' -w '\n%{http_code}' \
	"$churl/c/register?assertion=$(assertion acct-other)")
equals "a certificate bound to another account: 409" "$(tail -n1 <<<"$r")" 409
contains "... /certificate-bound-elsewhere" "$r" "problems/certificate-bound-elsewhere"
a=$(assertion acct-good-ec --jti replay-test-0000000001)
# shellcheck disable=SC2046
"${curl_[@]}" $(cert good-ec) -H 'Accept: application/json' -o /dev/null "$churl/c/register?assertion=$a"
# shellcheck disable=SC2046
r=$("${curl_[@]}" $(cert good-ec) -H 'Accept: application/json' "$churl/c/register?assertion=$a")
contains "a used assertion (same jti) is refused" "$r" "used already"
# shellcheck disable=SC2046
r=$("${curl_[@]}" $(cert good-ec) -H 'Accept: application/json' \
	"$churl/c/register?assertion=$(assertion acct-x --iat-offset -900)")
contains "an expired assertion is refused" "$r" "problems/assertion-invalid"
# shellcheck disable=SC2046
r=$("${curl_[@]}" $(cert good-ec) -H 'Accept: application/json' \
	"$churl/c/register?assertion=$("$PY" "$C2S_SOURCE_DIR/tests/tools/portal_jws.py" \
		--key "$d/portal/key.pem" --aud https://elsewhere.example --account acct-x)")
contains "an assertion for another audience is refused" "$r" "problems/assertion-invalid"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/mallory.pem" 2>/dev/null
# shellcheck disable=SC2046
r=$("${curl_[@]}" $(cert good-ec) -H 'Accept: application/json' \
	"$churl/c/register?assertion=$("$PY" "$C2S_SOURCE_DIR/tests/tools/portal_jws.py" \
		--key "$d/mallory.pem" --aud "$url" --account acct-x)")
contains "an assertion signed by another key is refused" "$r" "problems/assertion-invalid"
# shellcheck disable=SC2046
r=$("${curl_[@]}" $(cert good-ec) -o /dev/null -w '%{http_code}' \
	"$churl/c/login?return=https://evil.example/steal")
equals "login to a return URL off the allow-list: 400, no redirect" "$r" 400
# shellcheck disable=SC2046
r=$("${curl_[@]}" $(cert good-ec) -o /dev/null -w '%{http_code}' \
	"$churl/c/login?return=https://portal.example.si/prijava.evil.example")
equals "... nor a look-alike of an allowed one" "$r" 400
for ret in "https://portal.example.si/prijava/../../evil/steal" "https://portal.example.si/prijava/%2e%2e/evil" \
	"https://portal.example.si/prijava?assertion=forged" "https://portal.example.si/prijava/..?x=1" \
	"https://portal.example.si/prijava?Assertion=x" "https://portal.example.si/prijava?asser%74ion=x"; do
	# shellcheck disable=SC2046
	r=$("${curl_[@]}" $(cert good-ec) -o /dev/null -w '%{http_code}' --get --data-urlencode "return=$ret" "$churl/c/login")
	equals "... nor $ret" "$r" 400
done
r=$("${curl_[@]}" -H "Authorization: Bearer $tok" "$url/v1/accounts/acct-good-pss/certificates")
fp=$(jget "['certificates'][0]['fingerprint']" <<<"$r")
check "the portal lists the account's certificate" test ${#fp} -eq 64
r=$("${curl_[@]}" -H "Authorization: Bearer $tok" -X DELETE -w '%{http_code}' -o /dev/null \
	"$url/v1/accounts/acct-good-pss/certificates/$fp")
equals "the portal unbinds it" "$r" 200
r=$("${curl_[@]}" -H "Authorization: Bearer $tok" -X DELETE -w '%{http_code}' -o /dev/null \
	"$url/v1/accounts/acct-good-pss/certificates/$fp")
equals "unbinding again: 404" "$r" 404
r=$("${curl_[@]}" -w '%{http_code}' -o /dev/null "$url/v1/accounts/acct-good-pss/certificates")
equals "the portal API needs the bearer token" "$r" 401
# shellcheck disable=SC2046
r=$("${curl_[@]}" $(cert good-pss) -H 'Accept: application/json' -w '\n%{http_code}' \
	"$churl/c/login")
contains "an unbound certificate: /certificate-not-registered" "$r" "problems/certificate-not-registered"
r=$("${curl_[@]}" -w '%{http_code}' -o /dev/null "$url/c/login")
equals "the main listener does not serve certificate login" "$r" 404
r=$("${curl_[@]}" -w '%{http_code}' -o /dev/null "$churl/v1/orders/x")
equals "the certificate listener does not serve the API" "$r" 404

# --- revocation: the CRL was fetched from the distribution point; without it, refusal ---
contains "the intermediate's CRL (PEM) was fetched over HTTP" "$(cat "$d/crl-http.log")" "GET /crl/inter.crl"
if grep -q "GET /crl/root.crl" "$d/crl-http.log"; then
	fail "the root's CRL was fetched although crl add installed a current one"
else
	ok "the root's CRL installed with crl add is used, not fetched"
fi

m=$("${curl_[@]}" "$url/metrics")
check "metrics count the expired certificates" grep -qE '^c2s_cert_checks_total\{result="certificate-expired"\} [1-9]' <<<"$m"
check "metrics count the logins" grep -qE '^c2s_cert_logins_total [4-9]' <<<"$m"
check "metrics declare the family" grep -q '^# TYPE c2s_cert_checks_total counter' <<<"$m"

no_sanitizer_reports "$d/click2signd.log"
c2s_no_secrets "$d"
it_done
