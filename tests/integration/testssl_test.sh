#!/usr/bin/env bash
# testssl.sh (Debian's) against both HTTPS listeners: protocols, standard cipher groups,
# forward secrecy, the server's preferences, known TLS vulnerabilities and the HTTP security
# headers. Nothing may be rated LOW or worse; SSLv2/3, TLS 1.0 and 1.1 must not be offered.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
PY=/usr/bin/python3
command -v testssl >/dev/null || { echo "testssl is missing (scripts/deps.sh installs testssl.sh)"; echo "0 passed, 1 failed"; exit 1; }
d=$(mktemp -d /tmp/c2s-testssl-test.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
for l in web cert; do
	port=$(cat "$d/$l.port")
	path=/v1/health
	timeout 300 testssl --quiet --color 0 --warnings off -p -s -f -P -U -h \
		--jsonfile "$d/$l.json" "https://127.0.0.1:$port$path" >"$d/$l.txt" 2>&1
	check "testssl finished against the $l listener" test -s "$d/$l.json"
	bad=$("$PY" - "$d/$l.json" <<'PYEOF'
import json, sys
# secure_client_renego is judged below, by our own check: testssl 3.0.8 decides it by whether
# openssl s_client exits 0 after asking for a renegotiation, which races with the server
# closing the connection (seen once as "VULNERABLE" in eight clean-clone runs)
bad = [f"{f['severity']} {f['id']}: {f.get('finding')}" for f in json.load(open(sys.argv[1]))
       if f.get("severity") in ("LOW", "MEDIUM", "HIGH", "CRITICAL")
       and f["id"] != "secure_client_renego"]
print("\n".join(bad))
PYEOF
)
	equals "testssl ($l listener): nothing rated LOW or worse" "$bad" ""
	# a client-initiated renegotiation (TLS 1.2) ends the connection: the request sent after it
	# gets no answer (a renegotiation DoS needs the server to go along)
	r=$( (printf 'R\n'; sleep 1; printf 'GET /v1/health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'; sleep 1) |
		timeout 10 openssl s_client -tls1_2 -connect "127.0.0.1:$port" 2>&1)
	contains "($l listener) a client-initiated renegotiation was asked for" "$r" "RENEGOTIATING"
	check "($l listener) ... and refused: no answer after it" bash -c "! grep -q '^HTTP/1' <<<\"\$1\"" _ "$r"
	for p in SSLv2 SSLv3 TLS1 TLS1_1; do
		f=$("$PY" -c 'import json,sys; print([x["finding"] for x in json.load(open(sys.argv[1])) if x["id"]==sys.argv[2]][0])' "$d/$l.json" "$p" 2>&1)
		contains "testssl ($l listener): $p not offered" "$f" "not offered"
	done
	f=$("$PY" -c 'import json,sys; print([x["finding"] for x in json.load(open(sys.argv[1])) if x["id"]=="PFS_ECDHE_curves"][0])' "$d/$l.json" 2>&1)
	check "testssl ($l listener): ECDHE curves only X25519, P-256, P-384 ($f)" \
		"$PY" -c 'import sys; c=set(sys.argv[1].split()); sys.exit(not c or not c <= {"prime256v1","secp384r1","X25519"})' "$f"
done
no_sanitizer_reports "$d/click2signd.log"
it_done
