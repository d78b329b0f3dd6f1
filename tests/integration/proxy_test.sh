#!/usr/bin/env bash
# Customers behind the operator's reverse proxy ([web] trusted_proxies, issue 19): from a
# trusted proxy, the client that Forwarded / X-Forwarded-For names is the one the page limits
# count and the log names; the same headers from anyone else change nothing (a client cannot
# escape its limit by inventing addresses); the per-address connection limit spares the proxy
# and still holds for everyone else. The proxy is 127.0.0.2, another client 127.0.0.3.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
d=$(mktemp -d /tmp/c2s-proxy-test.XXXXXX)
trap 'kill "$(cat "$d/hold.pid" 2>/dev/null)" 2>/dev/null; c2s_stop "$d"; rm -rf "$d"' EXIT
PY=/usr/bin/python3
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
cat >>"$d/c2s.conf" <<EOT

[web]
trusted_proxies = 127.0.0.2, ::1
max_per_ip = 4
rate_pages = 12
rate_pages_burst = 3
EOT
out=$("$C2S_BUILD_DIR/click2signd" -n -c "$d/c2s.conf" 2>&1)
contains "the configuration with trusted proxies passes -n" "$out" "configuration OK"
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
port=$(cat "$d/web.port")
url=https://127.0.0.1:$port
ca=$d/pki/root.pem
page() { # SOURCE [header] -> status of a customer page (an unknown link: 404 until limited)
	curl -s --cacert "$ca" --interface "$1" ${2:+-H "$2"} -o /dev/null -w '%{http_code}' \
		"$url/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
}

# --- through the proxy: each forwarded client has its own bucket ---
for i in 1 2 3; do page 127.0.0.2 "X-Forwarded-For: 198.51.100.7" >/dev/null; done
equals "via the proxy, client A's 4th page in the burst of 3 is limited" \
	"$(page 127.0.0.2 "X-Forwarded-For: 198.51.100.7")" 429
equals "... client B through the same proxy is served" \
	"$(page 127.0.0.2 "X-Forwarded-For: 198.51.100.8")" 404
equals "... and so is B named by Forwarded (RFC 7239)" \
	"$(page 127.0.0.2 'Forwarded: for="198.51.100.9:4711";proto=https')" 404
equals "... the rightmost address is the proxy's view: a client-sent first entry does not help A" \
	"$(page 127.0.0.2 "X-Forwarded-For: 203.0.113.1, 198.51.100.7")" 429
check "the log names the forwarded client, not the proxy" \
	wait_for 5 grep -q "198.51.100.7" "$d/click2signd.log"

# --- not a trusted proxy: the headers are ignored ---
for i in 1 2 3; do page 127.0.0.3 "X-Forwarded-For: 192.0.2.$i" >/dev/null; done
equals "from an untrusted address, inventing X-Forwarded-For does not escape the limit" \
	"$(page 127.0.0.3 "X-Forwarded-For: 192.0.2.99")" 429

# --- connections: the proxy is not held to max_per_ip (4); others are ---
"$PY" "$C2S_SOURCE_DIR/tests/tools/hold_conns.py" --port "$port" --cafile "$ca" --sources 2-2 \
	--per-source 12 --status "$d/hold2.status" >/dev/null 2>&1 &
echo $! >"$d/hold.pid"
wait_for 30 grep -q ready "$d/hold2.status"
equals "the trusted proxy holds 12 connections (max_per_ip 4 does not apply to it)" \
	"$(cut -d' ' -f2,3 "$d/hold2.status")" "12 0"
kill "$(cat "$d/hold.pid")"
wait_for 10 grep -q '^end' "$d/hold2.status"
"$PY" "$C2S_SOURCE_DIR/tests/tools/hold_conns.py" --port "$port" --cafile "$ca" --sources 3-3 \
	--per-source 6 --status "$d/hold3.status" >/dev/null 2>&1 &
echo $! >"$d/hold.pid"
wait_for 30 grep -q ready "$d/hold3.status"
equals "another address holds max_per_ip (4) and is refused the rest (2)" \
	"$(cut -d' ' -f2,3 "$d/hold3.status")" "4 2"
kill "$(cat "$d/hold.pid")"
wait_for 10 grep -q '^end' "$d/hold3.status"
rm -f "$d/hold.pid"

# --- a bad entry in the list is refused by -n ---
sed 's/^trusted_proxies = .*/trusted_proxies = proxy.example.si/' "$d/c2s.conf" >"$d/bad.conf"
out=$("$C2S_BUILD_DIR/click2signd" -n -c "$d/bad.conf" 2>&1)
contains "a name instead of an address is refused, named" "$out" \
	"'proxy.example.si' is not an IPv4 or IPv6 address"
c2s_stop "$d"
no_sanitizer_reports "$d/click2signd.log"
it_done
