#!/usr/bin/env bash
# Runs the appliance on the embedded defaults with everything it needs, under var/demo/:
# a SoftHSM2 token with the seal key, a test PKI, a local TSA, and a sample sealed PDF.
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
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null

[ -d "$demo" ] && c2s_stop_card "$demo"
rm -rf "$demo"
mkdir -p "$demo"
if [ $card = 1 ]; then
	echo "starting the emulated smartcard and provisioning a test PKI under var/demo/ ..."
	c2s_provision_card "$demo" 3072
	admin_env="PCSCLITE_CSOCK_NAME=$PCSCLITE_CSOCK_NAME"
else
	echo "provisioning a SoftHSM2 token, keys and a test PKI under var/demo/ ..."
	c2s_provision "$demo" rsa:3072
	admin_env="SOFTHSM2_CONF=$demo/softhsm2.conf"
fi
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

cat <<EOT

Click2Sign is running (pid $(cat "$demo/click2signd.pid")); log: var/demo/click2signd.log
  health:   curl --cacert $ca $url/v1/health
  seal:     curl --cacert $ca -H "Authorization: Bearer \$C2S_TOKEN" -H "Content-Type: application/pdf" \\
              --data-binary @file.pdf "$url/v1/seal?level=B-T" -o sealed.pdf
  sample:   var/demo/sample-sealed.pdf (check it: pdfsig var/demo/sample-sealed.pdf)
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
