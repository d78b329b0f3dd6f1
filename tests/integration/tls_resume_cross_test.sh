#!/usr/bin/env bash
# TLS session resumption ([web] tls_resume) against the certificate listener, where every login
# must prove the client's key: a session of the main listener (TLS 1.2 or 1.3 ticket) offered
# to the certificate listener; a TLS 1.2 session of the certificate listener (its session ID)
# that carried a client certificate, offered again without the certificate or its key; 0-RTT on
# the main listener. /c/check (which reads the peer certificate as /c/login does) must then see
# no certificate. openssl s_client is the client; both listeners are c2s-web's.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
PY=/usr/bin/python3
d=$(mktemp -d /tmp/c2s-tlsresume-test.XXXXXX)
crlpid=
trap '[ -n "$crlpid" ] && kill "$crlpid" 2>/dev/null; c2s_stop "$d"; rm -rf "$d"' EXIT
admin() { "$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" "$@"; }

c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
crlport=$(c2s_free_port)
cust=$d/cust
"$C2S_SOURCE_DIR/tests/tools/mkcustpki.sh" "$cust" "http://127.0.0.1:$crlport/crl" \
	>"$d/mkcustpki.log" 2>&1 || { cat "$d/mkcustpki.log"; exit 1; }
mkdir -p "$d/crlweb/crl"
cp "$cust/crl/root.crl" "$d/crlweb/crl/root.crl"
cp "$cust/crl/inter.crl.pem" "$d/crlweb/crl/inter.crl"
"$PY" -m http.server --bind 127.0.0.1 --directory "$d/crlweb" "$crlport" >"$d/crl-http.log" 2>&1 &
crlpid=$!
c2s_wait_http "http://127.0.0.1:$crlport/crl/inter.crl" "" 10 || { echo "CRL server down"; exit 1; }
admin trust add "$cust/trust.pem" >"$d/admin.log" 2>&1 || { cat "$d/admin.log"; exit 1; }
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
port=$(cat "$d/web.port")
cport=$(cat "$d/cert.port")
ca=$d/pki/root.pem
crt=(-cert "$cust/good-ec/cert.pem" -cert_chain "$cust/good-ec/chain.pem" -key "$cust/good-ec/key.pem")

# tls PORT [s_client args...]: GET /c/check (or /v1/health on the main listener) on one
# connection; prints s_client's session lines and the HTTP answer
tls() {
	local p=$1 path=/c/check
	shift
	[ "$p" = "$port" ] && path=/v1/health
	printf 'GET %s HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\nConnection: close\r\n\r\n' \
		"$path" | timeout 15 openssl s_client -connect "127.0.0.1:$p" -CAfile "$ca" -ign_eof "$@" 2>&1
}
line() { grep -m1 -E '^(New|Reused),' <<<"$1"; }
valid() { grep -q '"valid": *true' <<<"$1"; }

# --- the harness itself: the certificate listener sees the certificate, the main listener
# resumes with its own tickets ---
out=$(tls "$cport" -tls1_3 "${crt[@]}")
check "with the client's key, /c/check finds the certificate valid (TLS 1.3)" valid "$out"
out=$(tls "$cport" -tls1_2 "${crt[@]}")
check "... and over TLS 1.2" valid "$out"
for v in -tls1_3 -tls1_2; do
	rm -f "$d/main$v.pem"
	tls "$port" "$v" -sess_out "$d/main$v.pem" >/dev/null
	check "the main listener gives a session to resume ($v)" test -s "$d/main$v.pem"
	contains "... and resumes it ($v)" "$(line "$(tls "$port" "$v" -sess_in "$d/main$v.pem")")" "Reused,"
done

# --- a main listener's session offered to the certificate listener ---
for v in -tls1_3 -tls1_2; do
	out=$(tls "$cport" "$v" -sess_in "$d/main$v.pem")
	contains "the certificate listener does not resume a main listener's session ($v)" "$(line "$out")" "New,"
	check "... and without a certificate /c/check finds none ($v)" test -n "$out" -a "$(valid "$out" && echo y)" != y
	out=$(tls "$cport" "$v" -sess_in "$d/main$v.pem" "${crt[@]}")
	contains "... also when the client then shows its certificate ($v)" "$(line "$out")" "New,"
done

# --- the certificate listener's own TLS 1.2 session (with the client certificate) offered
# again by a client without the key: by session ID and by ticket ---
rm -f "$d/cert12.pem"
tls "$cport" -tls1_2 "${crt[@]}" -sess_out "$d/cert12.pem" >/dev/null
if [ -s "$d/cert12.pem" ]; then
	out=$(tls "$cport" -tls1_2 -sess_in "$d/cert12.pem")
	contains "a TLS 1.2 session of the certificate listener is not resumed by session ID" "$(line "$out")" "New,"
	check "... so /c/check sees no certificate" test "$(valid "$out" && echo y)" != y
	out=$(openssl sess_id -in "$d/cert12.pem" -noout -text 2>&1)
	check "... and that session carries no ticket" test "$(grep -c 'TLS session ticket:' <<<"$out")" -eq 0
else
	ok "the certificate listener gives no TLS 1.2 session to resume"
fi
rm -f "$d/cert13.pem"
tls "$cport" -tls1_3 "${crt[@]}" -sess_out "$d/cert13.pem" >/dev/null
check "the certificate listener gives no TLS 1.3 ticket after a certificate login" test ! -s "$d/cert13.pem"

# --- 0-RTT on the main listener: the ticket allows none, and early data is not taken ---
out=$(openssl sess_id -in "$d/main-tls1_3.pem" -noout -text 2>&1)
contains "the main listener's TLS 1.3 ticket allows no early data" "$out" "Max Early Data: 0"
printf 'GET /v1/health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' >"$d/early.txt"
rm -f "$d/main2.pem"
tls "$port" -tls1_3 -sess_out "$d/main2.pem" >/dev/null
out=$(timeout 15 openssl s_client -connect "127.0.0.1:$port" -CAfile "$ca" -tls1_3 \
	-sess_in "$d/main2.pem" -early_data "$d/early.txt" </dev/null 2>&1)
check "early data is not accepted" test "$(grep -c 'Early data was accepted' <<<"$out")" -eq 0

pgrep -x c2s-web -P "$(cat "$d/click2signd.pid")" >/dev/null
check "c2s-web is still running" test $? -eq 0
no_sanitizer_reports "$d/click2signd.log"
it_done
