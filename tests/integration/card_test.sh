#!/usr/bin/env bash
# The appliance with its seal key on a smartcard: the emulated CAC card (tests/tools/
# testcard.sh) through OpenSC's PKCS#11 module and a private pcscd. Seals validated by
# independent tools; the card pulled out in the middle of a burst; put back; pcscd
# restarted; a wrong PIN tried exactly once. Prints the measured timings.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
# bursts and benchmarks measure the appliance, not the seal permit (50/s by default)
export C2S_SEAL_RATE=${C2S_SEAL_RATE:-0}
. "$C2S_SOURCE_DIR/tests/tools/appliance_card.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
bridge=${CARDBRIDGE:-$C2S_BUILD_DIR/tests/tools/cardbridge/cardbridge}
if [ ! -x "$bridge" ]; then
	echo "SKIP: the cardbridge binary was not built ($bridge; it needs libcacard-dev)"
	exit 0
fi
d=$(mktemp -d /tmp/c2s-card-test.XXXXXX)
cleanup() {
	if [ "$it_fail" -gt 0 ] && [ -f "$d/click2signd.log" ]; then
		cat "$d/click2signd.first.log" "$d/click2signd.log" >"${TMPDIR:-/tmp}/c2s-card-test-failed.log" 2>/dev/null
		echo "daemon log kept in ${TMPDIR:-/tmp}/c2s-card-test-failed.log"
	fi
	c2s_stop_card "$d"
	rm -rf "$d"
}
trap cleanup EXIT
c2s_provision_card "$d" 3072 >"$d/provision.log" 2>&1 || {
	echo "provisioning failed"
	cat "$d/provision.log"
	exit 1
}
c2s_start_tsa "$d" || { echo "TSA did not start"; exit 1; }
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
ca=$d/pki/root.pem
tok=$(cat "$d/api-token")
admin=$C2S_BUILD_DIR/click2sign-admin
validate=$C2S_SOURCE_DIR/tests/tools/validate_pdf.sh
card() { c2s_card_tool "$1" "$d/card" >/dev/null; }
# a card the keyholder has logged in to signs for any client of pcscd: its socket is the
# keyholder's alone (testcard.sh guard_socket, as packaging/pcscd-click2sign.conf for the system's)
if [ "$(id -u)" -eq 0 ]; then
	reach='import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])'
	check "c2s-web's user cannot connect to pcscd" bash -c "! setpriv --reuid=c2s-web \
		--regid=c2s-web --clear-groups -- /usr/bin/python3 -c '$reach' '$PCSCLITE_CSOCK_NAME' 2>/dev/null"
	check "... the keyholder's user can" setpriv --reuid=c2s-keyholder --regid=c2s-keyholder \
		--clear-groups -- /usr/bin/python3 -c "$reach" "$PCSCLITE_CSOCK_NAME"
fi
health() { curl -s --max-time 2 --cacert "$ca" "$url/v1/health"; }
seal() { # IN OUT [LEVEL] -> prints HTTP status
	curl -s --max-time 20 --cacert "$ca" -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/pdf' --data-binary @"$1" -o "$2" -w '%{http_code}' \
		"$url/v1/seal?level=${3:-B-B}"
}
seal_ok() { [ "$(seal "$d/doc.pdf" "$d/probe.pdf")" = 200 ]; }
now() { date +%s.%N; }
ms_since() { echo "$1 $(now)" | awk '{ printf "%d", ($2 - $1) * 1000 }'; }
health_has() { [[ "$(health)" == *"$1"* ]]; }
# until_ms SECONDS command...: retries every 0.1 s until it succeeds or SECONDS of wall
# clock have passed (requests may be slow under load); prints the elapsed ms or -1
until_ms() {
	local t0 secs=$1
	shift
	t0=$(now)
	while [ "$(ms_since "$t0")" -lt $((secs * 1000)) ]; do
		if "$@" >/dev/null 2>&1; then
			ms_since "$t0"
			return 0
		fi
		sleep 0.1
	done
	echo -1
	return 1
}
gs -q -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -o "$d/doc.pdf" \
	-c "/Helvetica findfont 20 scalefont setfont 72 720 moveto (Sealed with a card) show showpage" >/dev/null

# ---- click2sign-admin on the card ----
contains "cert import: the card keeps its own certificate, ours goes to the config" \
	"$(cat "$d/cert-import.out")" "It is kept in the appliance's config instead"
first=$(openssl x509 -in "$d/seal-chain.pem" -noout -fingerprint -sha256)
equals "[seal] chain holds the seal certificate first" "$first" \
	"$(openssl x509 -in "$d/seal.pem" -noout -fingerprint -sha256)"
equals "[seal] chain holds leaf + issuing CA" "$(grep -c 'BEGIN CERTIFICATE' "$d/seal-chain.pem")" 2
out=$("$admin" --config "$d/c2s.conf" cert import --key "$C2S_CARD_KEY_2048_URI" \
	--cert "$d/seal.pem" 2>&1)
contains "cert import: the seal certificate against the other card key is refused" "$out" \
	"does not match key"
out=$("$admin" --config "$d/c2s.conf" token status 2>&1)
contains "token status: reader" "$out" "reader:        Virtual PCD"
contains "token status: ATR" "$out" "ATR:           3b7a18000073667465206364313434"
contains "token status: card name" "$out" "card name:     Common Access Card"
contains "token status: seal key found" "$out" "found (rsa:3072"
out=$("$admin" --config "$d/c2s.conf" key list 2>&1)
contains "key list: the RSA-2048 key" "$out" "CAC ID Certificate"
contains "key list: the RSA-3072 key" "$out" "3072"

# ---- sealing with the card ----
check "health: ok" wait_for 10 health_has '"status":"ok"'
h=$(health)
contains "health: card present" "$h" '"card":{"present":true'
contains "health: card ATR" "$h" '"atr":"3b7a18000073667465206364313434"'
for lv in B-B B-T; do
	code=$(seal "$d/doc.pdf" "$d/doc.$lv.pdf" $lv)
	if [ "$code" = 200 ] && out=$("$validate" --level $lv "$d/doc.$lv.pdf" "$d/doc.pdf" "$ca" 2>&1); then
		ok "$lv seal made on the card: validators accept"
	else
		fail "$lv seal on the card: HTTP $code ${out:-}"
	fi
done
contains "the signer is the card's seal certificate" \
	"$(pdfsig "$d/doc.B-B.pdf" 2>/dev/null)" "Click2Sign Card Seal"
equals "the seal certificate is for the card's RSA-3072 key" \
	"$(openssl x509 -in "$d/seal.pem" -noout -pubkey)" \
	"$(openssl x509 -in "$C2S_CARD_CERT_3072" -noout -pubkey)"
pid_d=$(cat "$d/click2signd.pid")
pid_k=$(c2s_kid "$d" c2s-keyholder)

# ---- the card pulled out during a burst of 300 seals ----
mkdir -p "$d/burst"
seq 1 300 | xargs -P 4 -I{} sh -c "curl -s --max-time 30 --cacert '$ca' -H 'Authorization: Bearer $tok' -H 'Content-Type: application/pdf' --data-binary @'$d/doc.pdf' -o '$d/burst/{}.out' -w '%{http_code}' '$url/v1/seal?level=B-B' >'$d/burst/{}.code'" &
burst=$!
sleep 1
card remove
detect=$(until_ms 5 health_has '"card":{"present":false')
echo "timing: card removal shown by /v1/health after ${detect} ms"
check "health shows the card absent within 1 s of the removal" \
	test "$detect" -ge 0 -a "$detect" -le 1000
h=$(health)
contains "health while absent: card-removed reason" "$h" "card removed from reader"
contains "health while absent: C2S_ERR_CARD_ABSENT" "$h" "C2S_ERR_CARD_ABSENT"
code=$(seal "$d/doc.pdf" "$d/absent.out")
equals "seal while the card is out: 503" "$code" 503
contains "seal while the card is out: problem names the card" "$(cat "$d/absent.out")" "card"
check "health while absent: token not present (after the next tick)" \
	wait_for 3 health_has '"token":{"present":false'
sleep 1
card insert
resume=$(until_ms 10 seal_ok)
echo "timing: first successful seal ${resume} ms after the card was put back"
check "a seal succeeds again within 3 s of the reinsertion" test "$resume" -ge 0 -a "$resume" -le 3000
wait $burst
good=0 clear=0 bad=0
for c in "$d"/burst/*.code; do
	o=${c%.code}.out
	case $(cat "$c") in
	200) if pdfsig "$o" 2>/dev/null | grep -q "Signature is Valid"; then good=$((good + 1)); else
		bad=$((bad + 1))
		echo "burst: a 200 that is not a valid seal: $(pdfsig "$o" 2>&1 | head -3)"
	fi ;;
	503) # a removal, said as such (not, say, a refused PIN)
		if grep -q '"status":503' "$o" && grep -Eq '/(card-removed|token-removed|token-missing|card-error)"' "$o"; then
			clear=$((clear + 1))
		else
			bad=$((bad + 1))
			echo "burst: unexpected 503: $(head -c 300 "$o")"
		fi
		;;
	*)
		bad=$((bad + 1))
		echo "burst: HTTP $(cat "$c"): $(head -c 300 "$o")"
		;;
	esac
done
echo "burst: $good valid seals, $clear clear 503s, $bad other"
equals "burst: every answer is a valid seal or a clear 503" "$bad" 0
check "burst: some requests were sealed" test "$good" -ge 1
check "burst: the removal was noticed by some requests" test "$clear" -ge 1
equals "no daemon restart: same click2signd" "$(cat "$d/click2signd.pid")" "$pid_d"
equals "no daemon restart: same c2s-keyholder" "$(c2s_kid "$d" c2s-keyholder)" "$pid_k"
contains "health: card back" "$(health)" '"card":{"present":true'

# ---- pcscd stopped and restarted (reader service restart) ----
card pcscd-stop
check "health reports pcscd unreachable" wait_for 5 health_has '"pcscd":false'
h=$(health)
contains "health while pcscd is down: reason" "$h" "pcscd"
contains "health while pcscd is down: card-error" "$h" "C2S_ERR_CARD"
equals "seal while pcscd is down: 503" "$(seal "$d/doc.pdf" "$d/nopcscd.out")" 503
card pcscd-start
resume=$(until_ms 10 seal_ok)
echo "timing: first successful seal ${resume} ms after pcscd-start returned"
check "sealing resumes after the pcscd restart" test "$resume" -ge 0
contains "health after the pcscd restart: ok" "$(health)" '"status":"ok"'
equals "pcscd restart: same c2s-keyholder" "$(c2s_kid "$d" c2s-keyholder)" "$pid_k"

# ---- wrong PIN: exactly one login attempt ----
c2s_stop "$d"
cp "$d/pin" "$d/pin.good"
(umask 077 && echo 12345678 >"$d/pin")
mv "$d/click2signd.log" "$d/click2signd.first.log"
c2s_start "$d" || fail "daemon did not start with the wrong PIN"
check "health shows the refused PIN" wait_for 10 health_has C2S_ERR_HSM_PIN_INCORRECT
equals "... in one sentence that names the PIN file and says it once" \
	"$(health | grep -o 'refused the PIN from [^;"]*pin; automatic login stopped' | wc -l)" 1
stays=1
for _ in $(seq 1 10); do
	sleep 0.5
	health_has C2S_ERR_HSM_PIN_INCORRECT || stays=0
done
equals "health stays pin-incorrect for 5 s" "$stays" 1
equals "seal with the wrong PIN: 503" "$(seal "$d/doc.pdf" "$d/badpin.out")" 503
contains "seal with the wrong PIN: problem says so" "$(cat "$d/badpin.out")" "pin-incorrect"
equals "exactly one login attempt in the log" \
	"$(grep -c 'C_Login(CKU_USER)' "$d/click2signd.log")" 1
# the card still takes the right PIN: fix the PIN file, restart the keyholder
cp "$d/pin.good" "$d/pin"
kill -9 "$(c2s_kid "$d" c2s-keyholder)"
check "the correct PIN works after a keyholder restart" wait_for 15 seal_ok
c2s_stop "$d" # the processes write their leak reports on exit
no_sanitizer_reports "$d/click2signd.first.log"
no_sanitizer_reports "$d/click2signd.log"
it_done
