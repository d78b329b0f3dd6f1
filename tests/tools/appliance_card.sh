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
	c2s_card_tool setup "$d/card" >/dev/null || return 1
	c2s_card_tool start "$d/card" || return 1
	c2s_card_tool env "$d/card" >"$d/card.env" || return 1
	# shellcheck disable=SC1091
	. "$d/card.env"
	export PCSCLITE_CSOCK_NAME
	c2s_card_key_select "$key" || return 1
	(umask 077 && cp "$C2S_CARD_PIN_FILE" "$d/pin")
	chmod 600 "$d/pin"
	c2s_configure "$d" "$C2S_CARD_MODULE" "$C2S_CARD_TOKEN_URI" "$c2s_card_key_uri" \
		"Click2Sign Card Seal" "card = yes" || return 1
	# The card's own certificates are self-signed TLS-client ones that PDF validators do not
	# accept for signatures: the seal certificate comes from the test PKI, for the card's
	# key (CSR signed on the card). The card keeps its certificate and refuses new objects,
	# so cert import keeps ours in [seal] chain: leaf first, then the issuing CA.
	c2s_certify "$d" "$c2s_card_key_uri" "Click2Sign Card Seal"
}

# c2s_stop_card DIR: the daemon and TSA (c2s_stop), then the card's pcscd and bridge.
c2s_stop_card() {
	local d=$1
	c2s_stop "$d"
	if [ -d "$d/card" ]; then
		c2s_card_tool stop "$d/card" >/dev/null 2>&1 || true
	fi
}
