# Like tests/tools/appliance.sh, but the seal key is on the emulated smartcard
# (tests/tools/testcard.sh): OpenSC's PKCS#11 module, a private pcscd, the cardbridge.
# Source appliance.sh first (c2s_free_port, c2s_start_tsa, c2s_start, c2s_stop), then this.
# Requires C2S_BUILD_DIR (click2sign-admin, tests/tools/cardbridge/cardbridge) and
# C2S_SOURCE_DIR. Nothing outside DIR is touched; servers listen on 127.0.0.1 (vpcd, the
# card's TCP link, on 0.0.0.0: test machines only).
#
#   c2s_provision_card DIR [KEY]   KEY: 3072 (default) or 2048, or the card's key id (0002)
#   c2s_start_tsa DIR; c2s_start DIR    as with appliance.sh
#   c2s_stop_card DIR              stops the daemon, the TSA, pcscd and the bridge (by PID)
#
# After c2s_provision_card: DIR/card is the testcard directory, DIR/card.env its settings
# (sourced here, so PCSCLITE_CSOCK_NAME and C2S_CARD_* are exported), DIR/seal.pem the seal
# certificate (test PKI, for the card's key), DIR/pki/root.pem the root of the seal, server
# and TSA certificates as with appliance.sh.

c2s_card_tool() {
	bash "$C2S_SOURCE_DIR/tests/tools/testcard.sh" "$@"
}

# c2s_card_key_select KEY: sets c2s_card_key_uri and c2s_card_cert from the card's env
c2s_card_key_select() {
	case $1 in
	3072 | rsa3072 | rsa:3072 | "$C2S_CARD_KEY_3072_ID")
		c2s_card_key_uri=$C2S_CARD_KEY_3072_URI c2s_card_cert=$C2S_CARD_CERT_3072 ;;
	2048 | rsa2048 | rsa:2048 | "$C2S_CARD_KEY_2048_ID")
		c2s_card_key_uri=$C2S_CARD_KEY_2048_URI c2s_card_cert=$C2S_CARD_CERT_2048 ;;
	*)
		echo "c2s_provision_card: unknown card key '$1' (2048, 3072," \
			"$C2S_CARD_KEY_2048_ID or $C2S_CARD_KEY_3072_ID)" >&2
		return 1
		;;
	esac
}

c2s_provision_card() {
	local d=$1 key=${2:-3072}
	local admin=$C2S_BUILD_DIR/click2sign-admin tools=$C2S_SOURCE_DIR/tests/tools
	mkdir -p "$d/state" "$d/crl"
	chmod 700 "$d/state"
	c2s_card_tool setup "$d/card" >/dev/null || return 1
	c2s_card_tool start "$d/card" || return 1
	c2s_card_tool env "$d/card" >"$d/card.env" || return 1
	# shellcheck disable=SC1091
	. "$d/card.env"
	export PCSCLITE_CSOCK_NAME
	c2s_card_key_select "$key" || return 1
	local port cport tport
	port=$(c2s_free_port)
	cport=$(c2s_free_port)
	tport=$(c2s_free_port)
	echo "$tport" >"$d/tsa.port"
	(umask 077 && cp "$C2S_CARD_PIN_FILE" "$d/pin")
	chmod 600 "$d/pin"
	# server TLS certificate, TSA and its CRLs: the test PKI as with appliance.sh
	C2S_CRL_BASE_URL="http://127.0.0.1:$tport/crl" "$tools/mkpki.sh" "$d/pki" >/dev/null || return 1
	cat >"$d/c2s.conf" <<EOT
# Click2Sign appliance configuration, seal key on the test smartcard
# (made by tests/tools/appliance_card.sh)
[daemon]
state_dir = $d/state
log_level = info

[web]
listen = 127.0.0.1:$port
cert_listen = 127.0.0.1:$cport
tls_cert = $d/pki/server/cert.pem
tls_key = $d/pki/server/key.pem
public_url = https://127.0.0.1:$port
workers = 4

[token]
module = $C2S_CARD_MODULE
uri = $C2S_CARD_TOKEN_URI
pin_file = $d/pin
card = yes

[seal]
key = $c2s_card_key_uri
chain = $d/seal-chain.pem
name = Click2Sign Card Seal
reason = Sealed by the operator
location = Ljubljana

[tsa]
url = http://127.0.0.1:$tport/
trust = $d/pki/root.pem
EOT
	: >"$d/seal-chain.pem"
	"$admin" --config "$d/c2s.conf" init >/dev/null || return 1
	# The card's own certificates are self-signed TLS-client ones that PDF validators do not
	# accept for signatures: the seal certificate comes from the test PKI, for the card's
	# key (CSR signed on the card). The card keeps its certificate and refuses new objects,
	# so cert import keeps ours in [seal] chain: leaf first, then the issuing CA.
	"$admin" --config "$d/c2s.conf" csr --key "$c2s_card_key_uri" \
		--subject "CN=Click2Sign Card Seal,O=Click2Sign Demo,C=SI" --out "$d/seal.csr" >/dev/null || return 1
	"$tools/mkpki.sh" sign-csr "$d/pki" "$d/seal.csr" "$d/seal.pem" seal >/dev/null || return 1
	"$admin" --config "$d/c2s.conf" cert import --key "$c2s_card_key_uri" --cert "$d/seal.pem" \
		--chain "$d/pki/issuing/ca.pem" >"$d/cert-import.out" || return 1
	"$admin" --config "$d/c2s.conf" client add portal >"$d/api-token" || return 1
	chmod 600 "$d/api-token"
	echo "$port" >"$d/web.port"
	echo "$cport" >"$d/cert.port"
}

# c2s_stop_card DIR: the daemon and TSA (c2s_stop), then the card's pcscd and bridge.
c2s_stop_card() {
	local d=$1
	c2s_stop "$d"
	if [ -d "$d/card" ]; then
		c2s_card_tool stop "$d/card" >/dev/null 2>&1 || true
	fi
}
