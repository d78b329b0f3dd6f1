#!/usr/bin/env bash
# click2sign-admin against a real SoftHSM2 token, checked with openssl and pkcs11-tool.
# Every command of the provisioning tool runs for real; failures must be refused with a
# one-line reason and the documented exit code.
set -euo pipefail

SRC=${C2S_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${C2S_BUILD_DIR:-$SRC/build}
ADMIN=$BUILD/click2sign-admin
MODULE=/usr/lib/softhsm/libsofthsm2.so
TOKEN=c2s-admin-test
[ -x "$ADMIN" ] || { echo "click2sign-admin not built at $ADMIN" >&2; exit 1; }
[ -e "$MODULE" ] || { echo "SoftHSM2 module missing: $MODULE (scripts/deps.sh)" >&2; exit 1; }

T=$(mktemp -d /tmp/c2s-admin-test.XXXXXX)
cleanup() { if [ -n "${C2S_KEEP_TMP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi; }
trap cleanup EXIT

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad() {
	FAIL=$((FAIL + 1))
	echo "FAIL - $1"
	if [ -n "${2:-}" ]; then sed 's/^/       | /' <<<"$2"; fi
}

# run ARGS...: runs the tool with $CONF; sets RC, OUT, ERR (never trips set -e).
run() {
	set +e
	"$ADMIN" --config "$CONF" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}
# expect_ok DESC ARGS...
expect_ok() {
	local desc=$1
	shift
	run "$@"
	if [ "$RC" -eq 0 ]; then ok "$desc"; else bad "$desc (exit $RC)" "$OUT$ERR"; fi
}
# expect_fail DESC CODE PATTERN ARGS...: exit CODE, stderr matches PATTERN; for code 1 the
# reason must be exactly one line.
expect_fail() {
	local desc=$1 code=$2 pattern=$3
	shift 3
	run "$@"
	local lines
	lines=$(printf '%s\n' "$ERR" | grep -c . || true)
	if [ "$RC" -ne "$code" ]; then
		bad "$desc (exit $RC, wanted $code)" "$OUT$ERR"
	elif ! grep -qE -- "$pattern" <<<"$ERR"; then
		bad "$desc (stderr lacks /$pattern/)" "$ERR"
	elif [ "$code" -eq 1 ] && [ "$lines" -ne 1 ]; then
		bad "$desc (reason is $lines lines, wanted 1)" "$ERR"
	else
		ok "$desc"
	fi
}
# check DESC CMD...: a plain assertion
check() {
	local desc=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$desc"; else bad "$desc"; fi
}
has() { grep -qE -- "$2" <<<"$1"; }

# ---- a private SoftHSM2, PIN files and a config ----
mkdir -p "$T/tokens"
cat >"$T/softhsm2.conf" <<EOF
directories.tokendir = $T/tokens
objectstore.backend = file
log.level = ERROR
EOF
export SOFTHSM2_CONF=$T/softhsm2.conf
umask 077
printf '%s\n' 'so-secret-8642' >"$T/so.pin"
printf '%s\n' 'user-1357' >"$T/user.pin"
printf '%s\n' 'user-2468-new' >"$T/new.pin"
printf '%s\n' 'not-the-pin' >"$T/wrong.pin"
chmod 600 "$T"/*.pin
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/tls.key" \
	-out "$T/tls.pem" -subj "/CN=localhost" -days 2 2>/dev/null

write_config() { # FILE SEAL_KEY
	cat >"$1" <<EOF
[daemon]
state_dir = $T/state
log_level = info
[web]
listen = 127.0.0.1:18443
cert_listen = 127.0.0.1:18444
tls_cert = $T/tls.pem
tls_key = $T/tls.key
[token]
module = $MODULE
module_allow = $MODULE
uri = pkcs11:token=$TOKEN
pin_file = $T/user.pin
[seal]
key = $2
chain = $T/seal-chain.pem
name = Test seal
EOF
}
CONF=$T/c2s.conf
write_config "$CONF" c2s-seal

# ---- usage ----
expect_fail "unknown command exits 2 with usage" 2 "usage: click2sign-admin" frobnicate
set +e
"$ADMIN" init >/dev/null 2>"$T/err"
RC=$?
set -e
check "missing --config exits 2" test "$RC" -eq 2
expect_fail "unknown option exits 2" 2 "unknown option" key list --bogus
expect_fail "bad key type exits 2" 2 "rsa:2048" key generate --label x --type rsa:1024

# ---- init ----
expect_ok "init on a valid config" init
check "init: state dir is mode 0700" test "$(stat -c %a "$T/state")" = 700
check "init: database created" test -f "$T/state/click2sign.db"
has "$OUT" "next steps" && ok "init: prints next steps" || bad "init: prints next steps" "$OUT"
cat >"$T/bad.conf" <<EOF
[daemon]
state_dir = $T/state
[web]
max_body = lots
colour = blue
EOF
CONF=$T/bad.conf run init
if [ "$RC" -eq 1 ] && has "$ERR" "max_body" && has "$ERR" "colour" && has "$ERR" "problem"; then
	ok "init on a broken config lists every problem"
else
	bad "init on a broken config lists every problem (exit $RC)" "$ERR"
fi

CONF=$T/bad.conf expect_fail "other commands name the first config problem in one line" 1 \
	"config .*\[token\] .*more; .init. lists them all" key list

# ---- token ----
expect_ok "token init" token init --label "$TOKEN" --so-pin-file "$T/so.pin" --pin-file "$T/user.pin"
expect_fail "token init refuses to erase an initialised token without --yes" 2 "already initialised" \
	token init --label "$TOKEN" --so-pin-file "$T/so.pin" --pin-file "$T/user.pin"
expect_ok "token status" token status
has "$OUT" "label: +$TOKEN\$" && ok "token status shows the label" || bad "token status shows the label" "$OUT"
has "$OUT" "logged in: +yes" && ok "token status: logged in" || bad "token status: logged in" "$OUT"
has "$OUT" "c2s-seal: NOT FOUND" && ok "token status: seal key not yet there" ||
	bad "token status: seal key not yet there" "$OUT"
chmod 644 "$T/user.pin"
expect_fail "PIN file with mode 0644 is refused" 1 "0600" token status
chmod 600 "$T/user.pin"
sed "s|^uri = .*|uri = pkcs11:token=C2S-ADMIN-TEST|" "$CONF" >"$T/case.conf"
CONF=$T/case.conf expect_fail "a token URI in the wrong case names the tokens it saw" 1 \
	"tokens seen: \"$TOKEN\"" token status
cp -p "$T/user.pin" "$T/user.pin.bak"
printf '%s \n' "$(cat "$T/user.pin.bak")" >"$T/user.pin"
expect_fail "a PIN file ending with a space is refused before any login (no try used)" 1 \
	"ends with a space" token status
cp -p "$T/user.pin.bak" "$T/user.pin"
expect_fail "pin-change with a wrong old PIN is refused" 1 "old PIN" \
	token pin-change --old-pin-file "$T/wrong.pin" --new-pin-file "$T/new.pin"
expect_ok "token pin-change" token pin-change --new-pin-file "$T/new.pin"
cp "$T/new.pin" "$T/user.pin"
expect_ok "token status with the new PIN" token status

# ---- keys ----
expect_ok "key generate rsa:3072" key generate --label c2s-seal --type rsa:3072
expect_ok "key generate ec:p256" key generate --label c2s-ec --type ec:p256
expect_fail "key generate refuses a duplicate label" 1 "already exists" \
	key generate --label c2s-ec --type ec:p256
expect_ok "key list" key list
has "$OUT" "^c2s-seal +[0-9a-f]+ +rsa +3072 +no" && ok "key list shows the RSA key" ||
	bad "key list shows the RSA key" "$OUT"
has "$OUT" "^c2s-ec +[0-9a-f]+ +ec +p256 +no" && ok "key list shows the EC key" ||
	bad "key list shows the EC key" "$OUT"

# ---- CSRs, verified by openssl ----
SUBJ="CN=Žiga Čas,O=Test d.o.o.,C=SI"
expect_ok "csr for the RSA key" csr --key c2s-seal --subject "$SUBJ" --out "$T/seal.csr"
check "openssl req -verify accepts the RSA CSR" openssl req -verify -noout -in "$T/seal.csr"
S=$(openssl req -in "$T/seal.csr" -noout -subject -nameopt oneline,-esc_msb 2>&1 || true)
has "$S" "CN = Žiga Čas" && ok "CSR subject keeps UTF-8" || bad "CSR subject keeps UTF-8" "$S"
run csr --key c2s-ec --subject "CN=Ec Test,C=SI"
printf '%s\n' "$OUT" >"$T/ec.csr"
check "csr for the EC key on stdout" test "$RC" -eq 0
check "openssl req -verify accepts the EC CSR" openssl req -verify -noout -in "$T/ec.csr"
PUB_TOKEN=$(openssl req -in "$T/seal.csr" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)
expect_fail "csr refuses an unparsable subject" 2 "subject" csr --key c2s-seal --subject "XX=nope"
expect_fail "csr refuses a subject with ';' between attributes (not taken as one CN)" 2 \
	"unescaped ';'" csr --key c2s-seal --subject "CN=x;O=y"
expect_fail "csr refuses a country that is not two capital letters" 2 "two-letter country" \
	csr --key c2s-seal --subject "CN=x,C=Slovenia"
expect_ok "csr takes an escaped comma" csr --key c2s-seal --subject "CN=Novak\\, Janez,C=SI" --out "$T/esc.csr"
expect_fail "csr refuses an unknown key" 1 "no private key" csr --key nope --subject "CN=x"
expect_ok "key generate ec:p521" key generate --label c2s-p521 --type ec:p521
p521_ok=1
for i in 1 2 3 4; do
	run csr --key c2s-p521 --subject "CN=P521 $i"
	printf '%s\n' "$OUT" >"$T/p521.csr"
	openssl req -verify -noout -in "$T/p521.csr" >/dev/null 2>&1 || p521_ok=0
done
check "4 P-521 CSRs verify (DER ECDSA encoding)" test "$p521_ok" -eq 1

# ---- a test CA: root -> intermediate -> leaf ----
cat >"$T/ca.ext" <<EOF
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
EOF
cat >"$T/leaf.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
EOF
mkca() { # NAME SUBJECT
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" \
		-out "$T/$1.pem" -subj "$2" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
mkca root "/CN=C2S Test Root"
mkca other "/CN=C2S Other Root"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/inter.key" \
	-out "$T/inter.csr" -subj "/CN=C2S Test Issuing CA" 2>/dev/null
openssl x509 -req -in "$T/inter.csr" -CA "$T/root.pem" -CAkey "$T/root.key" -CAcreateserial \
	-days 20 -extfile "$T/ca.ext" -out "$T/inter.pem" 2>/dev/null
sign_leaf() { # CSR OUT
	openssl x509 -req -in "$1" -CA "$T/inter.pem" -CAkey "$T/inter.key" -CAcreateserial \
		-days 10 -extfile "$T/leaf.ext" -out "$2" 2>/dev/null
}
sign_leaf "$T/seal.csr" "$T/seal.pem"
sign_leaf "$T/ec.csr" "$T/ec.pem"
cat "$T/inter.pem" "$T/root.pem" >"$T/chain.pem"
cat "$T/root.pem" "$T/inter.pem" >"$T/wrong-order.pem"
cp "$T/other.pem" "$T/other-chain.pem"

# ---- cert import ----
expect_fail "cert import: certificate of another key refused" 1 "does not match key 'c2s-seal'" \
	cert import --key c2s-seal --cert "$T/ec.pem"
expect_fail "cert import: certificate of no key in the token refused" 1 "matches no key" \
	cert import --cert "$T/root.pem"
expect_fail "cert import: chain from an unrelated CA refused" 1 "chain is broken at CN=" \
	cert import --key c2s-seal --cert "$T/seal.pem" --chain "$T/other-chain.pem"
expect_fail "cert import: chain in the wrong order refused" 1 "chain is broken at" \
	cert import --key c2s-seal --cert "$T/seal.pem" --chain "$T/wrong-order.pem"
check "nothing written to [seal] chain after refusals" test ! -e "$T/seal-chain.pem"
expect_ok "cert import of the seal certificate with its chain" \
	cert import --key c2s-seal --cert "$T/seal.pem" --chain "$T/chain.pem"
has "$OUT" "wrote 2 issuer" && ok "cert import wrote the issuers to [seal] chain" ||
	bad "cert import wrote the issuers to [seal] chain" "$OUT"
check "[seal] chain + leaf verify with openssl" \
	openssl verify -CAfile "$T/root.pem" -untrusted "$T/seal-chain.pem" "$T/seal.pem"
pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --read-object --type cert \
	--label c2s-seal -o "$T/token-cert.der" >/dev/null 2>&1 || true
openssl x509 -in "$T/seal.pem" -outform DER -out "$T/seal.der"
check "the token holds exactly the imported certificate" cmp -s "$T/token-cert.der" "$T/seal.der"
expect_ok "cert import without --key finds the EC key" cert import --cert "$T/ec.pem"
has "$OUT" "key 'c2s-ec'" && has "$OUT" "not the \[seal\] key" && ok "...and says where it went" ||
	bad "...and says where it went" "$OUT"
expect_ok "cert import of the same certificate again" cert import --cert "$T/ec.pem"
expect_ok "key list after import" key list
has "$OUT" "^c2s-seal +[0-9a-f]+ +rsa +3072 +yes" && ok "key list: seal key has a certificate" ||
	bad "key list: seal key has a certificate" "$OUT"
has "$OUT" "^c2s-ec +[0-9a-f]+ +ec +p256 +yes" && ok "key list: EC key has a certificate" ||
	bad "key list: EC key has a certificate" "$OUT"
TOK_PUB=$(openssl x509 -in "$T/seal.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)
check "seal certificate carries the token key (via the CSR)" test "$PUB_TOKEN" = "$TOK_PUB"

# ---- API clients ----
expect_ok "client add" client add portal
TOKEN_OUT=$OUT
check "client add prints only a 43-char token on stdout" \
	grep -qxE '[A-Za-z0-9_-]{43}' <<<"$TOKEN_OUT"
check "client add prints one stdout line" test "$(printf '%s\n' "$TOKEN_OUT" | wc -l)" -eq 1
expect_fail "client add refuses a duplicate name" 1 "exists already" client add portal
expect_fail "client add refuses a bad name" 2 "NAME" client add "bad name!"
expect_ok "client list" client list
has "$OUT" "^portal +[0-9T:Z-]+ +active" && ok "client list shows the active client" ||
	bad "client list shows the active client" "$OUT"
if has "$OUT" "$TOKEN_OUT"; then bad "client list does not show the token"; else ok "client list does not show the token"; fi
expect_ok "client revoke" client revoke portal
run client list
has "$OUT" "^portal .* revoked" && ok "client list shows it revoked" ||
	bad "client list shows it revoked" "$OUT"
expect_fail "client revoke of an unknown client" 1 "no client named" client revoke nobody

# ---- selftest ----
expect_ok "selftest" selftest
n_ok=$(grep -cE ' OK ' <<<"$OUT" || true)
has "$OUT" "c2s-seal +RSA-PKCS1-SHA256 +OK" && has "$OUT" "c2s-seal +RSA-PSS-SHA256 +OK" &&
	has "$OUT" "c2s-ec +ECDSA-SHA256 +OK" && has "$OUT" "c2s-p521 +ECDSA-SHA256 +OK" &&
	has "$OUT" "seal cert +OK" && ok "selftest OK rows ($n_ok)" || bad "selftest OK rows" "$OUT"
write_config "$T/noseal.conf" c2s-missing
CONF=$T/noseal.conf run selftest
if [ "$RC" -eq 1 ] && has "$OUT" "c2s-missing +seal key +FAIL" && has "$ERR" "failed"; then
	ok "selftest fails when the seal key is missing"
else
	bad "selftest fails when the seal key is missing (exit $RC)" "$OUT$ERR"
fi
has "$OUT" "no key labelled 'c2s-missing' in the token; it has .*'c2s-seal'" &&
	ok "... naming the keys the token has (a mistyped label)" ||
	bad "... naming the keys the token has (a mistyped label)" "$OUT"
write_config "$T/ecseal.conf" c2s-p521
CONF=$T/ecseal.conf run selftest
if [ "$RC" -eq 1 ] && has "$OUT" "seal cert +FAIL"; then
	ok "selftest fails when the seal key has no certificate"
else
	bad "selftest fails when the seal key has no certificate (exit $RC)" "$OUT$ERR"
fi

# ---- key destroy ----
expect_fail "key destroy without --yes exits 2" 2 "--yes" key destroy --label c2s-p521
expect_ok "key destroy --yes" key destroy --label c2s-p521 --yes
run key list
if has "$OUT" "c2s-p521"; then bad "destroyed key is gone from key list" "$OUT"; else ok "destroyed key is gone from key list"; fi
expect_fail "key destroy of a missing key" 1 "no private key" key destroy --label c2s-p521 --yes

# ---- re-initialising erases the token ----
expect_ok "token init --yes on an initialised token" \
	token init --label "$TOKEN" --so-pin-file "$T/so.pin" --yes
run key list
has "$OUT" "no private keys" && ok "re-initialised token has no keys" ||
	bad "re-initialised token has no keys" "$OUT"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
