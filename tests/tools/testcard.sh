#!/bin/bash
# testcard.sh: an emulated smartcard for tests and developers, no hardware needed.
#
#   testcard.sh setup  DIR   SoftHSM2 token (RSA-2048 + RSA-3072 keys and certificates),
#                            NSS db, private pcscd reader config; picks the vpcd ports
#   testcard.sh start  DIR   private pcscd + cardbridge; returns when OpenSC sees the card
#   testcard.sh remove DIR   "pull the card out" (returns at once)
#   testcard.sh insert DIR   "put the card back" (returns at once)
#   testcard.sh stop   DIR   kill, by PID, everything start started
#   testcard.sh pcscd-stop DIR / pcscd-start DIR   stop / restart only pcscd (the bridge
#                            stays and reconnects): a reader hot-plug / pcscd restart
#   testcard.sh status DIR   prints running/stopped for pcscd and the bridge
#   testcard.sh env    DIR   prints export lines (PCSCLITE_CSOCK_NAME, module, token URI, PIN...)
#
# Chain: OpenSC PKCS#11 -> libpcsclite -> our pcscd -> vpcd driver -> TCP -> cardbridge
#        -> libcacard (CAC emulation) -> NSS -> SoftHSM2 token in DIR.
#
# pcscd 1.9.9 ignores PCSCLITE_CSOCK_NAME (only clients honour it) and always uses
# /run/pcscd/pcscd.comm and /run/pcscd/pcscd.pid. To leave the system's pcscd alone we start
# ours in a private mount namespace (unshare -m, needs root or user namespaces) with
# DIR/run bind-mounted on /run/pcscd; clients reach it through PCSCLITE_CSOCK_NAME=DIR/run/
# pcscd.comm. Without unshare we fall back to the system path: then only one test card (and
# no system pcscd) can run at a time. vpcd listens on a TCP port pair chosen at setup time
# (DEVICENAME /dev/null:PORT in DIR/reader.conf.d/vpcd; the packaged /etc/reader.conf.d/vpcd
# fixes 35963/35964 and is not used), so several test cards can run side by side. Note vpcd
# binds 0.0.0.0: anything that can reach the port can play the card (test machines only).
#
# Finding the bridge binary: $CARDBRIDGE, else $C2S_BUILD_DIR/tests/tools/cardbridge/cardbridge.
set -euo pipefail

P11_SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
P11_OPENSC=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
TC_PIN=77777777 # CAC PINs are at most 8 bytes; this is the SoftHSM user PIN too
TC_SO_PIN=12345678
TC_LABEL="c2s-testcard" # the SoftHSM token behind the card
# OpenSC labels the CAC token with the CN of the card's first certificate: same CN on both
# certificates keeps the token label stable; the OU tells the keys apart.
TC_CN="Click2Sign test card"
SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

die() {
	echo "testcard: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 setup|start|stop|remove|insert|pcscd-stop|pcscd-start|status|env DIR" >&2
	exit 2
}

port_free() {
	! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

pick_ports() {
	local p
	for _ in $(seq 1 50); do
		p=$((40000 + (RANDOM % 10000) * 2))
		if port_free "$p" && port_free $((p + 1)); then
			echo "$p"
			return 0
		fi
	done
	die "no free TCP port pair for vpcd"
}

find_bridge() {
	local c
	for c in "${CARDBRIDGE:-}" "${C2S_BUILD_DIR:+$C2S_BUILD_DIR/tests/tools/cardbridge/cardbridge}"; do
		if [ -n "$c" ] && [ -x "$c" ]; then
			echo "$c"
			return 0
		fi
	done
	die "cardbridge not found: set CARDBRIDGE or C2S_BUILD_DIR (build tests/tools/cardbridge)"
}

# alive PIDFILE: the process in PIDFILE exists
alive() {
	[ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

sock_path() {
	if [ -s "$DIR/pcscd.mode" ] && [ "$(cat "$DIR/pcscd.mode")" = system ]; then
		echo /run/pcscd/pcscd.comm
	else
		echo "$DIR/run/pcscd.comm"
	fi
}

make_cert() { # ID LABEL BITS
	local id=$1 label=$2 bits=$3 tmpl="$DIR/certs/$2.tmpl"
	pkcs11-tool --module "$P11_SOFTHSM" --token-label "$TC_LABEL" --login --pin "$TC_PIN" \
		--keypairgen --key-type "RSA:$bits" --id "$id" --label "$label" >/dev/null
	cat >"$tmpl" <<-EOF
		cn = "$TC_CN"
		unit = "$label"
		organization = "Click2Sign tests"
		serial = $((0x$id + 1000))
		expiration_days = 3650
		signing_key
		encryption_key
		tls_www_client
	EOF
	GNUTLS_PIN=$TC_PIN certtool --generate-self-signed --provider "$P11_SOFTHSM" \
		--load-privkey "pkcs11:token=$TC_LABEL;object=$label;type=private" \
		--load-pubkey "pkcs11:token=$TC_LABEL;object=$label;type=public" \
		--template "$tmpl" --outfile "$DIR/certs/$label.pem" 2>/dev/null
	openssl x509 -in "$DIR/certs/$label.pem" -outform DER -out "$DIR/certs/$label.der"
	pkcs11-tool --module "$P11_SOFTHSM" --token-label "$TC_LABEL" --login --pin "$TC_PIN" \
		--write-object "$DIR/certs/$label.der" --type cert --id "$id" --label "$label" >/dev/null
}

cmd_setup() {
	[ -e "$DIR/softhsm2.conf" ] && die "$DIR is already set up"
	mkdir -p "$DIR/tokens" "$DIR/certs" "$DIR/nssdb" "$DIR/run" "$DIR/reader.conf.d"
	chmod 700 "$DIR"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
		"$DIR" >"$DIR/softhsm2.conf"
	export SOFTHSM2_CONF="$DIR/softhsm2.conf"
	softhsm2-util --init-token --free --label "$TC_LABEL" --so-pin "$TC_SO_PIN" \
		--pin "$TC_PIN" >/dev/null
	make_cert 01 rsa2048 2048
	make_cert 02 rsa3072 3072
	modutil -create -dbdir "sql:$DIR/nssdb" -force >/dev/null 2>&1
	# FRIENDLY: certificates readable without login (libcacard finds them by nickname)
	modutil -add SoftHSM -dbdir "sql:$DIR/nssdb" -libfile "$P11_SOFTHSM" -mechanisms FRIENDLY -force >/dev/null 2>&1
	local port
	port=$(pick_ports)
	echo "$port" >"$DIR/port"
	cat >"$DIR/reader.conf.d/vpcd" <<-EOF
		FRIENDLYNAME "Virtual PCD"
		DEVICENAME   /dev/null:$port
		LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so
	EOF
	(umask 077 && echo "$TC_PIN" >"$DIR/pin")
	# one-word control command for demos (C2S_CARD_CTL remove|insert|status)
	cat >"$DIR/cardctl" <<-EOF
		#!/bin/sh
		case "\$1" in remove | insert | status) ;; *) echo "usage: \$0 remove|insert|status" >&2; exit 2 ;; esac
		exec bash '$SELF' "\$1" '$DIR'
	EOF
	chmod 755 "$DIR/cardctl"
	echo "testcard: set up in $DIR (vpcd ports $port,$((port + 1)))"
}

start_pcscd() {
	local conf="$DIR/reader.conf.d"
	rm -f "$DIR/run/pcscd.comm" "$DIR/run/pcscd.pid" # stale after a SIGKILL
	mkdir -p /run/pcscd 2>/dev/null || true
	if unshare -m --propagation private true 2>/dev/null; then
		echo private >"$DIR/pcscd.mode"
		# shellcheck disable=SC2016 # expanded by the inner sh
		unshare -m --propagation private sh -c \
			'mount --bind "$1" /run/pcscd && exec pcscd -f -c "$2"' sh "$DIR/run" "$conf" \
			>"$DIR/pcscd.log" 2>&1 &
	else
		echo system >"$DIR/pcscd.mode"
		[ -S /run/pcscd/pcscd.comm ] && die "a pcscd already owns /run/pcscd (no unshare here)"
		pcscd -f -c "$conf" >"$DIR/pcscd.log" 2>&1 &
	fi
	echo $! >"$DIR/pcscd.pid"
}

# pcscd's socket is the keyholder's alone, as packaging/pcscd-click2sign.conf makes it for the
# system's pcscd: another local user (c2s-web among them) must not reach a card the keyholder
# has logged in to. pcscd itself creates it 0666.
guard_socket() {
	[ "$(id -u)" -eq 0 ] && getent passwd c2s-keyholder >/dev/null || return 0
	local s
	s=$(sock_path)
	chmod 711 "$DIR" "$(dirname "$s")"
	chgrp c2s-keyholder "$s" && chmod 660 "$s"
}

wait_card() { # SECONDS
	for _ in $(seq 1 $(($1 * 10))); do
		if PCSCLITE_CSOCK_NAME=$(sock_path) opensc-tool -a >/dev/null 2>&1; then
			return 0
		fi
		alive "$DIR/pcscd.pid" || die "pcscd exited; see $DIR/pcscd.log"
		sleep 0.1
	done
	return 1
}

cmd_start() {
	[ -s "$DIR/port" ] || die "$DIR is not set up (run: $0 setup $DIR)"
	alive "$DIR/pcscd.pid" && die "already started"
	local bridge port
	bridge=$(find_bridge)
	port=$(cat "$DIR/port")
	port_free "$port" || die "vpcd port $port is in use (another test card?)"
	start_pcscd
	# soft mode: the card holds these certificates, in this order (key IDs 0001, 0002)
	SOFTHSM2_CONF="$DIR/softhsm2.conf" "$bridge" --port "$port" --db "$DIR/nssdb" \
		--token "$TC_LABEL" --cert "$TC_LABEL:rsa2048" --cert "$TC_LABEL:rsa3072" \
		--pidfile "$DIR/bridge.pid" >"$DIR/bridge.log" 2>&1 &
	echo $! >"$DIR/bridge.pid" # the bridge rewrites it (same PID) once the card is ready
	if ! wait_card 60; then
		echo "--- pcscd.log" >&2
		tail -20 "$DIR/pcscd.log" >&2
		echo "--- bridge.log" >&2
		tail -20 "$DIR/bridge.log" >&2
		cmd_stop
		die "card did not show up within 60 s; see $DIR/pcscd.log and $DIR/bridge.log"
	fi
	[ -s "$DIR/keys" ] || write_keymap
	guard_socket
}

# The CAC applet numbers keys in certificate order (--cert order above; libcacard's
# use_hw mode would take NSS's unstable order): record which card object ID holds which key
# as OpenSC sees it (DIR/keys: "rsa2048 0001") rather than assume it.
write_keymap() {
	PCSCLITE_CSOCK_NAME=$(sock_path) pkcs11-tool --module "$P11_OPENSC" -O --type cert 2>/dev/null |
		awk '/subject:/ { match($0, /OU=[a-z0-9]+/); ou = substr($0, RSTART + 3, RLENGTH - 3) }
		     /ID:/ && ou != "" { print ou, $2; ou = "" }' >"$DIR/keys.tmp"
	if ! grep -q '^rsa2048 ' "$DIR/keys.tmp" || ! grep -q '^rsa3072 ' "$DIR/keys.tmp"; then
		die "could not map the card's keys (see $DIR/keys.tmp)"
	fi
	mv "$DIR/keys.tmp" "$DIR/keys"
}

key_id() { # LABEL -> hex ID on the card ("" before the first start)
	[ -s "$DIR/keys" ] && awk -v l="$1" '$1 == l { print $2 }' "$DIR/keys" || true
}

pct() { # hex "0002" -> "%00%02"
	echo "$1" | sed 's/\(..\)/%\1/g'
}

kill_pidfile() { # PIDFILE
	local pid
	[ -s "$1" ] || return 0
	pid=$(cat "$1")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$1"
}

cmd_stop() {
	kill_pidfile "$DIR/bridge.pid"
	kill_pidfile "$DIR/pcscd.pid"
}

signal_bridge() { # SIG
	alive "$DIR/bridge.pid" || die "bridge is not running"
	kill "-$1" "$(cat "$DIR/bridge.pid")"
}

cmd_status() {
	local p
	for p in pcscd bridge; do
		if alive "$DIR/$p.pid"; then
			echo "$p running $(cat "$DIR/$p.pid")"
		else
			echo "$p stopped"
		fi
	done
}

cmd_env() {
	[ -s "$DIR/port" ] || die "$DIR is not set up"
	echo "export PCSCLITE_CSOCK_NAME='$(sock_path)'"
	echo "export C2S_CARD_MODULE='$P11_OPENSC'"
	# OpenSC names the CAC token after the card holder's certificate CN.
	local tok id2 id3
	tok="pkcs11:model=PKCS%2315%20emulated;manufacturer=Common%20Access%20Card;token=${TC_CN// /%20}"
	id2=$(key_id rsa2048)
	id3=$(key_id rsa3072)
	echo "export C2S_CARD_TOKEN_URI='$tok'"
	echo "export C2S_CARD_TOKEN_LABEL='$TC_CN'"
	echo "export C2S_CARD_KEY_2048_ID='$id2'"
	echo "export C2S_CARD_KEY_3072_ID='$id3'"
	echo "export C2S_CARD_KEY_2048_URI='$tok;id=$(pct "$id2");type=private'"
	echo "export C2S_CARD_KEY_3072_URI='$tok;id=$(pct "$id3");type=private'"
	echo "export C2S_CARD_PIN='$TC_PIN'"
	echo "export C2S_CARD_PIN_FILE='$DIR/pin'"
	echo "export C2S_CARD_CERT_2048='$DIR/certs/rsa2048.pem'"
	echo "export C2S_CARD_CERT_3072='$DIR/certs/rsa3072.pem'"
	echo "export C2S_CARD_SOFTHSM2_CONF='$DIR/softhsm2.conf'"
	echo "export C2S_CARD_CTL='$DIR/cardctl'"
}

[ $# -eq 2 ] || usage
DIR=$2
case $1 in
setup | start) mkdir -p "$DIR" ;;
esac
[ -d "$DIR" ] || die "no such directory: $DIR"
DIR=$(cd "$DIR" && pwd)
case $1 in
setup) cmd_setup ;;
start) cmd_start ;;
stop) cmd_stop ;;
pcscd-stop) kill_pidfile "$DIR/pcscd.pid" ;;
pcscd-start)
	alive "$DIR/pcscd.pid" && die "pcscd already running"
	start_pcscd
	wait_card 20 || die "card did not come back; see $DIR/pcscd.log"
	guard_socket
	;;
remove) signal_bridge USR1 ;;
insert) signal_bridge USR2 ;;
status) cmd_status ;;
env) cmd_env ;;
*) usage ;;
esac
