# Shared by scripts/demo.sh and the integration tests: provision and run a complete
# appliance (SoftHSM2 token, test PKI, config, local TSA) under one directory.
# Source it, then call the functions. Requires C2S_BUILD_DIR (built binaries) and
# C2S_SOURCE_DIR (the repo). Nothing outside DIR is touched; servers listen on 127.0.0.1.

c2s_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# c2s_wait_http URL CAFILE SECONDS: until the URL answers (any HTTP status)
c2s_wait_http() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		if curl -s -o /dev/null --max-time 2 ${2:+--cacert "$2"} "$1"; then return 0; fi
		sleep 0.1
	done
	return 1
}

# c2s_configure DIR MODULE TOKEN_URI SEAL_KEY SEAL_NAME [EXTRA_TOKEN_LINE]: ports, test PKI
# and DIR/c2s.conf, shared by the SoftHSM2 and the smartcard appliances. DIR/pin must exist.
c2s_configure() {
	local d=$1 module=$2 uri=$3 key=$4 name=$5 extra=${6:-}
	local port cport tport
	mkdir -p "$d/state" "$d/crl"
	chmod 700 "$d/state"
	# started as root, each child runs as its own user (firmware/base/sandbox.h), and must
	# pass through DIR (mktemp's 0700) and the scratch directories above it to reach what the
	# daemon gives it
	chmod 711 "$d"
	local up=$d
	while up=$(dirname "$up") && [[ "$up" == /tmp/?* || "$up" == /dev/shm/?* ]]; do
		chmod o+x "$up"
	done
	port=$(c2s_free_port)
	cport=$(c2s_free_port)
	tport=$(c2s_free_port)
	echo "$port" >"$d/web.port"
	echo "$cport" >"$d/cert.port"
	echo "$tport" >"$d/tsa.port"
	C2S_CRL_BASE_URL="http://127.0.0.1:$tport/crl" "$C2S_SOURCE_DIR/tests/tools/mkpki.sh" \
		"$d/pki" >/dev/null || return 1
	cat >"$d/c2s.conf" <<EOT
# Click2Sign appliance configuration (made by tests/tools/appliance.sh)
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
${C2S_RATE_API:+rate_api = $C2S_RATE_API}

[token]
module = $module
uri = $uri
pin_file = $d/pin
$extra

[seal]
key = $key
chain = $d/seal-chain.pem
name = $name
reason = Sealed by the operator
location = Ljubljana
${C2S_SEAL_RATE:+rate = $C2S_SEAL_RATE}

[tsa]
url = http://127.0.0.1:$tport/
trust = $d/pki/root.pem

[certlogin]
return_url = https://moj.a1.test/prijava
EOT
	: >"$d/seal-chain.pem" # filled by cert import (c2s_certify)
	"$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" init >/dev/null || return 1
	# customers' certificates from the test customer CA log in on the certificate listener
	"$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" trust add "$d/pki/customer/ca.pem" \
		>/dev/null || return 1
	# its CRL: certificates issued with openssl name no distribution point, and revocation is
	# required
	"$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" crl add "$d/pki/crl/customer.crl" \
		>/dev/null
}

# c2s_certify DIR KEY NAME: a seal certificate from the test PKI for the token's KEY (CSR
# signed through the token), imported, and the portal's API client (DIR/api-token).
c2s_certify() {
	local d=$1 key=$2 name=$3 admin=$C2S_BUILD_DIR/click2sign-admin
	"$admin" --config "$d/c2s.conf" csr --key "$key" \
		--subject "CN=$name,O=Click2Sign Demo,C=SI" --out "$d/seal.csr" >/dev/null || return 1
	"$C2S_SOURCE_DIR/tests/tools/mkpki.sh" sign-csr "$d/pki" "$d/seal.csr" "$d/seal.pem" seal \
		>/dev/null || return 1
	"$admin" --config "$d/c2s.conf" cert import --key "$key" --cert "$d/seal.pem" \
		--chain "$d/pki/issuing/ca.pem" >"$d/cert-import.out" || return 1
	(umask 077 && "$admin" --config "$d/c2s.conf" client add portal >"$d/api-token")
}

# c2s_provision DIR [KEYTYPE]: SoftHSM2 token, seal key, PKI, certificates, config, API client.
# KEYTYPE is the seal key type (rsa:3072 default, or ec:p256).
c2s_provision() {
	local d=$1 keytype=${2:-rsa:3072} admin=$C2S_BUILD_DIR/click2sign-admin
	mkdir -p "$d/tokens"
	cat >"$d/softhsm2.conf" <<EOT
directories.tokendir = $d/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOT
	export SOFTHSM2_CONF=$d/softhsm2.conf
	(umask 077 && head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d/pin" && echo >>"$d/pin")
	(umask 077 && head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d/so-pin" && echo >>"$d/so-pin")
	c2s_configure "$d" /usr/lib/softhsm/libsofthsm2.so pkcs11:token=c2s c2s-seal \
		"Click2Sign Demo Seal" || return 1
	"$admin" --config "$d/c2s.conf" token init --label c2s --so-pin-file "$d/so-pin" \
		--pin-file "$d/pin" >/dev/null || return 1
	"$admin" --config "$d/c2s.conf" key generate --label c2s-seal --type "$keytype" \
		>/dev/null || return 1
	c2s_certify "$d" c2s-seal "Click2Sign Demo Seal"
}

# c2s_provision_signer DIR: signer mode on a provisioned appliance: the issuing-CA key for
# customers' short-lived certificates in the token (certified by the test root, profile
# signerca), and a test portal whose key signs order manifests (DIR/portal/key.pem, trusted with
# portal-key add). Appends [signer] and [keyholder] to DIR/c2s.conf.
c2s_provision_signer() {
	local d=$1 admin=$C2S_BUILD_DIR/click2sign-admin
	c2s_provision_portal "$d" || return 1
	"$admin" --config "$d/c2s.conf" key generate --label c2s-issuing-ca --type ec:p256 \
		>/dev/null || return 1
	"$admin" --config "$d/c2s.conf" csr --key c2s-issuing-ca \
		--subject "CN=Click2Sign Demo Signer CA,O=Click2Sign Demo,C=SI" --out "$d/signer-ca.csr" \
		>/dev/null || return 1
	"$C2S_SOURCE_DIR/tests/tools/mkpki.sh" sign-csr "$d/pki" "$d/signer-ca.csr" "$d/signer-ca.pem" \
		signerca >/dev/null || return 1
	cat "$d/signer-ca.pem" "$d/pki/root/ca.pem" >"$d/signer-ca-chain.pem"
	"$admin" --config "$d/c2s.conf" key generate --label c2s-assertion --type ec:p256 \
		>/dev/null || return 1
	cat >>"$d/c2s.conf" <<EOT

[signer]
ca_key = c2s-issuing-ca
ca_chain = $d/signer-ca-chain.pem

[assertions]
key = c2s-assertion
audience = https://moj.a1.test
EOT
}

# c2s_provision_portal DIR: a test portal whose key signs order manifests (DIR/portal/key.pem),
# trusted by the appliance through click2sign-admin portal-key add.
c2s_provision_portal() {
	local d=$1 admin=$C2S_BUILD_DIR/click2sign-admin
	mkdir -p "$d/portal"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/portal/key.pem" \
		2>/dev/null || return 1
	openssl pkey -in "$d/portal/key.pem" -pubout -out "$d/portal/pub.pem" || return 1
	cat >>"$d/c2s.conf" <<EOT

[keyholder]
portal_keys = $d/portal-keys
EOT
	"$admin" --config "$d/c2s.conf" portal-key add "$d/portal/pub.pem" >/dev/null
}

# c2s_sample_order DIR OUT: a sample order (two documents, two attachments) signed by the test
# portal and created through the API; OUT gets the API's answer (signing_url in it).
c2s_sample_order() {
	local d=$1 out=$2 py=/usr/bin/python3 i url
	local titles=("Narocniska pogodba" "Aneks k pogodbi" "Cenik" "Splosni pogoji")
	for i in 0 1 2 3; do
		gs -q -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -o "$d/sample-$i.pdf" \
			-c "/Helvetica findfont 20 scalefont setfont 72 720 moveto (${titles[$i]}) show 72 690 moveto (Janez Novak) show showpage" >/dev/null || return 1
	done
	"$py" "$C2S_SOURCE_DIR/tests/tools/sample_order.py" "$d" >"$d/sample-order.json" || return 1
	url=https://127.0.0.1:$(cat "$d/web.port")
	"$py" "$C2S_SOURCE_DIR/tests/tools/portal_jws.py" --key "$d/portal/key.pem" --aud "$url" \
		"$d/sample-order.json" >"$d/sample-order-signed.json" || return 1
	curl -sS --fail-with-body --cacert "$d/pki/root.pem" \
		-H "Authorization: Bearer $(cat "$d/api-token")" -H 'Content-Type: application/json' \
		--data-binary @"$d/sample-order-signed.json" "$url/v1/orders" -o "$out"
}

# c2s_start_sinks DIR: the real sinks c2s-notify delivers to (tests/tools/sinks.py): SMTP writing
# DIR/mail/*.eml, an SMS gateway writing DIR/sms.log ("to<TAB>text" lines) and a webhook receiver
# writing DIR/webhooks.log (one JSON body per line; headers in DIR/webhooks.headers). Appends
# [notify] to DIR/c2s.conf (a webhook secret in DIR/webhook.secret).
c2s_start_sinks() {
	local d=$1 py=/usr/bin/python3 s=$C2S_SOURCE_DIR/tests/tools/sinks.py
	mkdir -p "$d/mail"
	: >"$d/sms.log"
	: >"$d/webhooks.log"
	"$py" "$s" smtp --dir "$d/mail" --port-file "$d/smtp.port" --pid-file "$d/smtp.pid" \
		--control "$d/smtp.ctl" >"$d/smtp-sink.log" 2>&1 &
	"$py" "$s" http --log "$d/sms.log" --format sms --port-file "$d/sms.port" \
		--pid-file "$d/sms.pid" --control "$d/sms.ctl" >"$d/sms-sink.log" 2>&1 &
	"$py" "$s" http --log "$d/webhooks.log" --headers-log "$d/webhooks.headers" \
		--port-file "$d/hook.port" --pid-file "$d/hook.pid" --control "$d/hook.ctl" \
		>"$d/hook-sink.log" 2>&1 &
	local f
	for f in smtp sms hook; do
		for _ in $(seq 100); do [ -s "$d/$f.port" ] && break; sleep 0.05; done
		[ -s "$d/$f.port" ] || return 1
	done
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d/webhook.secret")
	cat >>"$d/c2s.conf" <<EOT

[notify]
smtp_url = smtp://127.0.0.1:$(cat "$d/smtp.port")
smtp_from = podpis@click2sign.test
sms_url = http://127.0.0.1:$(cat "$d/sms.port")/sms
webhook_url = http://127.0.0.1:$(cat "$d/hook.port")/hooks/click2sign
webhook_secret_file = $d/webhook.secret
mail_domain = click2sign.test
EOT
}

# c2s_start_tsa DIR: local RFC 3161 TSA (also serves the CRLs) on the port chosen above.
c2s_start_tsa() {
	local d=$1
	/usr/bin/python3 "$C2S_SOURCE_DIR/tests/tools/tsa_server.py" --pki "$d/pki" \
		--port "$(cat "$d/tsa.port")" --pid-file "$d/tsa.pid" >"$d/tsa.log" 2>&1 &
	c2s_wait_http "http://127.0.0.1:$(cat "$d/tsa.port")/crl/root.crl" "" 10
}

# c2s_start DIR [BINDIR]: the daemon in the background; waits until /v1/health answers.
c2s_start() {
	local d=$1 bin=${2:-$C2S_BUILD_DIR}
	export SOFTHSM2_CONF=$d/softhsm2.conf
	"$bin/click2signd" -c "$d/c2s.conf" >>"$d/click2signd.log" 2>&1 &
	echo $! >"$d/click2signd.pid"
	c2s_wait_http "https://127.0.0.1:$(cat "$d/web.port")/v1/health" "$d/pki/root.pem" 30
}

# c2s_stop DIR: stop what c2s_start / c2s_start_tsa started, by PID.
c2s_stop() {
	local d=$1 f pid
	for f in "$d/click2signd.pid" "$d/tsa.pid" "$d/smtp.pid" "$d/sms.pid" "$d/hook.pid"; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		if kill "$pid" 2>/dev/null; then
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$f"
	done
}

# c2s_kid DIR NAME: PID of the child process NAME (c2s-keyholder / c2s-web).
c2s_kid() {
	pgrep -P "$(cat "$1/click2signd.pid")" -x "$2" | head -1
}

# c2s_no_secrets DIR: no PIN, API bearer token, signing-link token or one-time code of this
# appliance appears in its log or its state (database and journals, the keyholder's store, the
# documents, the token's files), each looked for verbatim; prints ok/FAIL lines (itlib.sh). The
# sinks (the customer's mail and SMS, the portal's webhooks) are where links and codes belong,
# and are where they are taken from. A delivered e-mail's link leaves the database's WAL within
# a second or so of the delivery: the search is repeated for up to 10 s.
c2s_no_secrets() {
	local d=$1 f i
	C2S_SECRETS=()
	C2S_CODES=()
	for f in pin so-pin api-token; do
		[ -s "$d/$f" ] && C2S_SECRETS+=("$(head -1 "$d/$f" | tr -d '\r\n')")
	done
	mapfile -t -O ${#C2S_SECRETS[@]} C2S_SECRETS < <(cat "$d"/mail/*.eml "$d/sms.log" 2>/dev/null |
		grep -oE '/s/[A-Za-z0-9_-]{16,}' | cut -c4- | sort -u)
	mapfile -t C2S_CODES < <(grep 'koda' "$d/sms.log" 2>/dev/null | cut -f2 | grep -oE '[0-9]{6}' | sort -u)
	for ((i = 0; i < 100; i++)); do
		c2s_secret_hits "$d" || break
		sleep 0.1
	done
	local n=$((${#C2S_SECRETS[@]} + ${#C2S_CODES[@]}))
	if [ -z "$C2S_HITS" ] && [ "$n" -gt 0 ]; then
		ok "none of $n secrets (PINs, bearer token, link tokens, codes) in the log or the state"
	else
		fail "secrets in the log or the state (looked for $n):$C2S_HITS"
	fi
}

# sets C2S_HITS; fails (1) when something was found
c2s_secret_hits() {
	local d=$1 s where=("$d/click2signd.log")
	C2S_HITS=""
	[ -d "$d/state" ] && where+=("$d/state")
	[ -d "$d/tokens" ] && where+=("$d/tokens")
	for s in "${C2S_SECRETS[@]}"; do
		[ ${#s} -ge 12 ] || continue
		grep -rFaqs -- "$s" "${where[@]}" &&
			C2S_HITS+=" ${s:0:4}... in $(grep -rFals -- "$s" "${where[@]}" | head -1)"
	done
	# a six-digit code can occur by chance in a PDF's offsets: the log and the stores only
	for s in "${C2S_CODES[@]}"; do
		grep -Faqs -- "$s" "$d/click2signd.log" "$d"/state/click2sign.db* "$d"/state/keyholder/* &&
			C2S_HITS+=" code ${s:0:2}.... in the log or a store"
	done
	[ -z "$C2S_HITS" ]
}
