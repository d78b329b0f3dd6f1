#!/usr/bin/env bash
# Runs the appliance on the embedded defaults with everything it needs, under var/demo/:
# a SoftHSM2 token with the seal key and the issuing CA for customers' certificates, a test PKI,
# a test portal, a local TSA, real local sinks for e-mail (var/demo/mail/*.eml), SMS
# (var/demo/sms.log) and webhooks (var/demo/webhooks.log), a sample signing order, and a sample
# sealed PDF.
#
#   scripts/demo.sh               run in the foreground (Ctrl-C stops everything)
#   scripts/demo.sh --background  return once the daemon is healthy; writes var/demo/env
#   scripts/demo.sh --stop        stop what a background demo started
#   scripts/demo.sh --card [--background]   the same with the seal key on the emulated
#                                 smartcard (tests/tools/testcard.sh: private pcscd, OpenSC);
#                                 var/demo/env also has C2S_CARD_CTL (remove|insert|status)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
demo=$root/var/demo
mode=foreground
card=0
for arg in "$@"; do
	case "$arg" in
	--background) mode=background ;;
	--stop) mode=stop ;;
	--card) card=1 ;;
	*) echo "usage: scripts/demo.sh [--card] [--background|--stop]" >&2; exit 2 ;;
	esac
done

export C2S_SOURCE_DIR=$root C2S_BUILD_DIR=$root/build/release
# shellcheck source=../tests/tools/appliance.sh
. "$root/tests/tools/appliance.sh"
# shellcheck source=../tests/tools/appliance_card.sh
. "$root/tests/tools/appliance_card.sh"

if [ $mode = stop ]; then
	[ -d "$demo" ] && c2s_stop_card "$demo" # also the card's pcscd and bridge, if any
	echo "demo stopped"
	exit 0
fi

scripts/deps.sh
# Started as root, the daemon runs its children as their own users (docs/THREATMODEL.md); they
# must reach the demo's files. When this clone lies where they cannot pass (under /root, say),
# the demo lives in /var/lib/click2sign-demo and var/demo points there.
if [ "$(id -u)" -eq 0 ] &&
	! setpriv --reuid=c2s-web --regid=c2s-web --clear-groups -- test -x "$root" 2>/dev/null; then
	[ -d "$demo" ] && [ ! -L "$demo" ] && { c2s_stop_card "$demo"; rm -rf "$demo"; }
	mkdir -p "$root/var" /var/lib/click2sign-demo
	ln -sfn /var/lib/click2sign-demo "$demo"
	demo=/var/lib/click2sign-demo
fi
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null

[ -d "$demo" ] && c2s_stop_card "$demo"
rm -rf "$demo"
mkdir -p "$demo"
if [ $card = 1 ]; then
	echo "starting the emulated smartcard and provisioning a test PKI under var/demo/ ..."
	c2s_provision_card "$demo" 3072
	c2s_provision_portal "$demo" # customer documents are signed with the card's seal key
	admin_env="PCSCLITE_CSOCK_NAME=$PCSCLITE_CSOCK_NAME"
else
	echo "provisioning a SoftHSM2 token, keys and a test PKI under var/demo/ ..."
	c2s_provision "$demo" rsa:3072
	c2s_provision_signer "$demo"
	admin_env="SOFTHSM2_CONF=$demo/softhsm2.conf"
fi
c2s_start_sinks "$demo"
c2s_start_tsa "$demo"
c2s_start "$demo"

url=https://127.0.0.1:$(cat "$demo/web.port")
ca=$demo/pki/root.pem
token=$(cat "$demo/api-token")
cat >"$demo/env" <<EOT
C2S_URL=$url
C2S_CERT_URL=https://127.0.0.1:$(cat "$demo/cert.port")
C2S_TOKEN=$token
C2S_CA=$ca
C2S_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
C2S_SOFTHSM2_CONF=$demo/softhsm2.conf
C2S_TSA_URL=http://127.0.0.1:$(cat "$demo/tsa.port")/
C2S_SIGNING_ROOT=$ca
C2S_TEST_CA_DIR=$demo/pki/customer
C2S_PIN_FILE=$demo/pin
C2S_SEAL_KEY_LABEL=c2s-seal
C2S_ADMIN=$C2S_BUILD_DIR/click2sign-admin
C2S_CONFIG=$demo/c2s.conf
C2S_PID=$(cat "$demo/click2signd.pid")
C2S_SMS_LOG=$demo/sms.log
C2S_MAIL_DIR=$demo/mail
C2S_WEBHOOK_LOG=$demo/webhooks.log
C2S_PORTAL_KEY=$demo/portal/key.pem
C2S_PORTAL_RETURN_URL=https://moj.a1.test/prijava
EOT
if [ $card = 1 ]; then
	# the seal key is on the card: OpenSC, the card's key, its private pcscd
	sed -i -e "s|^C2S_PKCS11_MODULE=.*|C2S_PKCS11_MODULE=$C2S_CARD_MODULE|" \
		-e "s|^C2S_SOFTHSM2_CONF=.*|C2S_SOFTHSM2_CONF=$C2S_CARD_SOFTHSM2_CONF|" \
		-e "s|^C2S_SEAL_KEY_LABEL=.*|C2S_SEAL_KEY_LABEL='$C2S_CARD_KEY_3072_URI'|" "$demo/env"
	cat >>"$demo/env" <<EOT
C2S_CARD_CTL=$C2S_CARD_CTL
PCSCLITE_CSOCK_NAME=$PCSCLITE_CSOCK_NAME
EOT
fi

# A sample document, sealed at B-T through the running appliance.
gs -q -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -o "$demo/sample.pdf" \
	-c "/Helvetica findfont 20 scalefont setfont 72 720 moveto (Click2Sign sample contract) show showpage" >/dev/null
curl -sS --fail-with-body --cacert "$ca" -H "Authorization: Bearer $token" \
	-H "Content-Type: application/pdf" --data-binary @"$demo/sample.pdf" \
	"$url/v1/seal?level=B-T" -o "$demo/sample-sealed.pdf"

# A sample signing order, as the portal creates it.
c2s_sample_order "$demo" "$demo/sample-order.out"
link=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signing_url"])' "$demo/sample-order.out")
echo "C2S_SAMPLE_LINK=$link" >>"$demo/env"

cat <<EOT

Click2Sign is running (pid $(cat "$demo/click2signd.pid")); log: var/demo/click2signd.log
  health:   curl --cacert $ca $url/v1/health
  seal:     curl --cacert $ca -H "Authorization: Bearer \$C2S_TOKEN" -H "Content-Type: application/pdf" \\
              --data-binary @file.pdf "$url/v1/seal?level=B-T" -o sealed.pdf
  sample:   var/demo/sample-sealed.pdf (check it: pdfsig var/demo/sample-sealed.pdf)

  A sample order for Janez Novak (two documents, price list and general terms) is waiting:
    open      $link
              (the test CA is var/demo/pki/root.pem; or curl --cacert it)
    the code  arrives by "SMS" in var/demo/sms.log (tail -f var/demo/sms.log)
    e-mails   var/demo/mail/*.eml: the link now, the signed PDFs with the attachments after "Izhod"
    webhooks  var/demo/webhooks.log (order.signed for activation)
  admin:    $admin_env $C2S_BUILD_DIR/click2sign-admin --config $demo/c2s.conf selftest
  settings: var/demo/env (source it: . var/demo/env)
EOT
[ $card = 0 ] || cat <<EOT
  card:     \$C2S_CARD_CTL remove / insert   (the seal key is on the emulated card)
EOT

if [ $mode = background ]; then
	echo "stop it with: scripts/demo.sh --stop"
	exit 0
fi
echo "press Ctrl-C to stop"
trap 'c2s_stop_card "$demo"; echo; echo "demo stopped"; exit 0' INT TERM
while kill -0 "$(cat "$demo/click2signd.pid")" 2>/dev/null; do sleep 1; done
c2s_stop_card "$demo"
