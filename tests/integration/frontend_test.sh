#!/usr/bin/env bash
# The HTTPS front end against hostile clients (tests/tools/rawhttp.py sends exactly the bytes it
# is given over TLS): request smuggling shapes, control characters, conformance headers, TLS
# groups, slowloris and slow bodies against the deadlines, the health reserve at the connection
# limit, the body-memory budget, and no internal address in a client-facing error. Each attack
# is bounded; c2s-web's memory and /v1/health are checked after them.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
PY=/usr/bin/python3
d=$(mktemp -d /tmp/c2s-frontend-test.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
# short deadlines and limits, so that the attacks finish in seconds; no TSA is started (the
# seal at B-T must fail without naming the TSA's address to the client)
cat >>"$d/c2s.conf" <<EOT

[web]
header_timeout = 3
body_min_rate = 2000
max_connections = 32
max_per_ip = 64
body_memory = 50331648
EOT
# under ASan freed memory sits in a quarantine (256 MiB by default) and would read as growth
export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=4
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
port=$(cat "$d/web.port")
ca=$d/pki/root.pem
tok=$(cat "$d/api-token")
url=https://127.0.0.1:$port
raw() { "$PY" "$C2S_SOURCE_DIR/tests/tools/rawhttp.py" --port "$port" --ca "$ca" "$@"; }
status() { head -n1 <<<"$1" | cut -d' ' -f2; }
health_ms() { curl -s --cacert "$ca" -o /dev/null -w '%{http_code} %{time_total}' "$url/v1/health"; }
# the fastest of three answers: one late answer is the shared machine's scheduling, three are
# the server's (each is a fresh connection and handshake)
health_best() {
	local a b c
	a=$(health_ms) b=$(health_ms) c=$(health_ms)
	printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -k1,1 -k2,2g | head -1
}
webpid() { pgrep -x c2s-web -P "$(cat "$d/click2signd.pid")" | head -1; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$(webpid)/status" 2>/dev/null; }
rss0=$(rss_kb)

# --- request syntax: refused before routing, connection closed ---
H='Host: a\r\nConnection: close\r\n'
refused() { # WHAT STATUS NEEDLE REQUEST
	local out
	out=$(raw --timeout 4 "$4")
	equals "$1: $2" "$(status "$out")" "$2"
	contains "$1: problem+json says why" "$out" "$3"
}
refused "two Host headers" 400 "exactly one Host" 'GET /v1/health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n'
refused "HTTP/1.1 without Host" 400 "exactly one Host" 'GET /v1/health HTTP/1.1\r\nConnection: close\r\n\r\n'
refused "two Content-Lengths" 400 "more than one Content-Length" 'POST /v1/seal HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'
refused "Transfer-Encoding gzip, chunked" 501 "only transfer coding" 'POST /v1/seal HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
refused "a NUL after percent-decoding" 400 "control character (%00)" "GET /metrics%00.png HTTP/1.1\\r\\n$H\\r\\n"
refused "a control character in the path" 400 "control character (%0A)" "GET /v1/health%0a HTTP/1.1\\r\\n$H\\r\\n"
refused "a control character in a header value" 400 "control character in its value" "GET /v1/health HTTP/1.1\\r\\nX-A: b\\x01c\\r\\n$H\\r\\n"
refused "a bare CR" 400 "control character" 'GET /v1/health HTTP/1.1\r\nHost: a\rX-B: c\r\nConnection: close\r\n\r\n'
refused "a space before the colon" 400 "not allowed in a name" 'GET /v1/health HTTP/1.1\r\nHost : a\r\nConnection: close\r\n\r\n'
# smuggling: Content-Length with Transfer-Encoding, and a request hidden behind it
out=$(raw --timeout 4 'POST /v1/seal HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: a\r\n\r\n')
equals "Content-Length with Transfer-Encoding: 400" "$(status "$out")" 400
check "... and the request smuggled behind it is never executed" test "$(grep -c 'c2s_http_requests_total' <<<"$out")" -eq 0
contains "... the connection is closed after the answer" "$(head -n1 <<<"$out")" "closed 1"

# --- conformance ---
out=$(raw --timeout 4 "GET /v1/orders/x HTTP/1.1\\r\\n$H\\r\\n")
contains "401 carries WWW-Authenticate: Bearer" "$out" 'WWW-Authenticate: Bearer'
out=$(raw --timeout 4 "POST /v1/health HTTP/1.1\\r\\n$H\\r\\n")
equals "405 for POST /v1/health" "$(status "$out")" 405
contains "405 carries Allow" "$out" "Allow: GET, HEAD"
out=$(raw --timeout 4 "HEAD /v1/health HTTP/1.1\\r\\n$H\\r\\n")
equals "HEAD where GET is served: 200" "$(status "$out")" 200
check "... without a body" test "$(tail -n1 <<<"$out" | grep -c '"status"')" -eq 0

# --- TLS: no finite-field DH, no TLS 1.1 ---
tls() { timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile "$ca" "$@" </dev/null >/dev/null 2>&1; }
no_tls() { ! tls "$@"; }
check "a ClientHello offering only ffdhe8192 (TLS 1.3) is refused" no_tls -tls1_3 -groups ffdhe8192
check "TLS 1.2 with only DHE key exchange is refused" no_tls -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256:DHE-ECDSA-AES128-GCM-SHA256
check "TLS 1.1 is refused" no_tls -tls1_1
check "X25519 over TLS 1.3 is served" tls -tls1_3 -groups X25519
check "P-384 over TLS 1.3 is served" tls -tls1_3 -groups secp384r1
check "TLS 1.2 is served" tls -tls1_2

# --- TLS session resumption ([web] tls_resume): tickets on the main listener, none on the
# certificate listener (every login there signs with the client's key afresh) ---
resumed() { # PORT VERSION: the second handshake's first line, with the first one's ticket
	rm -f "$d/sess.pem"
	timeout 10 openssl s_client -connect "127.0.0.1:$1" "$2" -CAfile "$ca" -sess_out "$d/sess.pem" \
		-ign_eof </dev/null >/dev/null 2>&1
	test -s "$d/sess.pem" || { echo "no ticket"; return; }
	timeout 10 openssl s_client -connect "127.0.0.1:$1" "$2" -CAfile "$ca" -sess_in "$d/sess.pem" \
		</dev/null 2>/dev/null | grep -E '^(New|Reused),' | head -n1
}
contains "TLS 1.3: a second connection resumes with the ticket of the first" "$(resumed "$port" -tls1_3)" "Reused, TLSv1.3"
contains "TLS 1.2: the same" "$(resumed "$port" -tls1_2)" "Reused, TLSv1.2"
cport=$(cat "$d/cert.port")
r=$(resumed "$cport" -tls1_3)
check "the certificate listener gives TLS 1.3 clients no ticket ($r)" test "$r" = "no ticket"
r=$(timeout 10 openssl s_client -connect "127.0.0.1:$cport" -tls1_3 -CAfile "$ca" </dev/null 2>/dev/null | grep -E "^(New|Reused),")
contains "... and serves them with a full handshake" "$r" "New, TLSv1.3"
contains "... over TLS 1.2 it does not resume" "$(resumed "$cport" -tls1_2)" "New, TLSv1.2"
for v in -tls1_3 -tls1_2; do # a ticket of the main listener shown to the certificate listener
	rm -f "$d/sess.pem"
	timeout 10 openssl s_client -connect "127.0.0.1:$port" $v -CAfile "$ca" -sess_out "$d/sess.pem" \
		-ign_eof </dev/null >/dev/null 2>&1
	r=$(timeout 10 openssl s_client -connect "127.0.0.1:$cport" $v -CAfile "$ca" -sess_in "$d/sess.pem" \
		</dev/null 2>/dev/null | grep -E '^(New|Reused),' | head -n1)
	check "a main-listener ticket ($v) is not accepted by the certificate listener ($r)" \
		test -s "$d/sess.pem" -a "${r%%,*}" = New
done

# --- slowloris: 20 connections trickling their headers; closed at the deadline ---
slow=()
for i in $(seq 20); do
	raw --timeout 15 --drip 1 --pause 1 'GET /v1/health HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n' >"$d/slow$i.out" 2>&1 &
	slow+=($!)
done
sleep 1
h=$(health_best)
contains "health answers while 20 slow clients trickle headers" "$h" "200 "
check "... within 100 ms" "$PY" -c "import sys; sys.exit(float('${h#* }') > 0.1)"
wait "${slow[@]}"
closed=$(grep -l 'closed 1' "$d"/slow*.out | wc -l)
equals "all 20 slow clients were closed" "$closed" 20
check "... at the 3 s header deadline, not after their 50 s of trickling" \
	"$PY" -c "import re,glob,sys; t=[float(re.search(r'elapsed ([0-9.]+)',open(f).read()).group(1)) for f in glob.glob('$d/slow*.out')]; sys.exit(max(t) > 8)"
check "the log says why" grep -q "header section was not complete in time" "$d/click2signd.log"

# --- a slow body: 20 bytes a second against a minimum of 2000 (after a 10 s grace) ---
body=$(head -c 2000 /dev/zero | tr '\0' 'A')
out=$(raw --timeout 25 --drip 20 --pause 1 --whole-first "POST /v1/seal HTTP/1.1\\r\\nHost: a\\r\\nAuthorization: Bearer $tok\\r\\nContent-Type: application/pdf\\r\\nContent-Length: 2000\\r\\n\\r\\n" "$body")
contains "a body slower than body_min_rate is cut off" "$(head -n1 <<<"$out")" "closed 1"
check "... after the grace, long before its 100 s" "$PY" -c "import re,sys; sys.exit(float(re.search(r'elapsed ([0-9.]+)', sys.argv[1]).group(1)) > 16)" "$(head -n1 <<<"$out")"
check "the log says why" grep -q "body arrived slower" "$d/click2signd.log"

# --- the health reserve: at max_connections, health still answers; nothing else does ---
"$PY" - "$port" "$ca" >"$d/reserve.out" <<'EOF'
import socket, ssl, subprocess, sys, time
p, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
idle = [ctx.wrap_socket(socket.create_connection(("127.0.0.1", p)), server_hostname="x") for _ in range(32)]
time.sleep(0.3)
for path in ["/v1/health", "/metrics"]:
    r = subprocess.run(["curl", "-s", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                        f"https://127.0.0.1:{p}{path}"], capture_output=True, text=True)
    print(path, r.stdout)
EOF
contains "32 connections held (the limit): health still answers" "$(cat "$d/reserve.out")" "/v1/health 200"
contains "... and other routes are told to come back (503)" "$(cat "$d/reserve.out")" "/metrics 503"

# --- the body budget (48 MiB): a second large body in flight is refused at once ---
"$PY" - "$port" "$ca" "$tok" >"$d/budget.out" <<'EOF'
import socket, ssl, sys, time
p, ca, tok = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca); ctx.check_hostname = False
def start():
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", p), timeout=5), server_hostname="x")
    s.sendall(("POST /v1/seal HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/pdf\r\nContent-Length: 30000000\r\n\r\n" % tok).encode() + b"%PDF" * 100)
    return s
a = start(); time.sleep(0.3); b = start()
b.settimeout(3)
try:
    print(b.recv(4096).decode(errors="replace").split("\r\n")[0])
except socket.timeout:
    print("no answer")
EOF
contains "two 30 MB bodies against a 48 MiB budget: the second gets 503 at once" "$(cat "$d/budget.out")" "503"

# --- a chunked body over max_body (32 MiB): 413 while the client is still sending ---
head -c 40000000 /dev/zero >"$d/huge.bin"
r=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' \
	-H 'Transfer-Encoding: chunked' --data-binary @"$d/huge.bin" -o /dev/null \
	-w '%{http_code} %{time_total}' "$url/v1/seal")
contains "a chunked body over max_body: 413" "$r" "413 "
check "... within 5 s" "$PY" -c "import sys; sys.exit(float('${r#* }') > 5)"
rm -f "$d/huge.bin"

# --- no internal address in a client-facing error (the TSA is not running) ---
printf '%%!PS\n/Helvetica findfont 12 scalefont setfont 72 720 moveto (x) show showpage\n' >"$d/x.ps"
ps2pdf "$d/x.ps" "$d/x.pdf"
r=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' \
	--data-binary @"$d/x.pdf" -w '\n%{http_code}' "$url/v1/seal?level=B-T")
equals "a seal at B-T without its TSA: 502" "$(tail -n1 <<<"$r")" 502
check "... and the problem does not name the TSA's address" test "$(grep -c "127.0.0.1:" <<<"$r")" -eq 0
check "... which the log keeps" grep -q "TSA http://127.0.0.1" "$d/click2signd.log"

# --- after all of it ---
h=$(health_ms)
contains "health answers after the attacks" "$h" "200 "
rss1=$(rss_kb)
check "c2s-web's memory grew by less than 64 MiB (${rss0:-?} -> ${rss1:-?} kB)" \
	test "$((${rss1:-0} - ${rss0:-0}))" -lt 65536
m=$(curl -s --cacert "$ca" "$url/metrics")
check "metrics count the slow clients closed" grep -qE '^c2s_http_closed_total\{reason="slow-headers"\} [1-9]' <<<"$m"
no_sanitizer_reports "$d/click2signd.log"
it_done
