#!/usr/bin/env bash
# The seal's body is hashed as it arrives (web/server.c, the route's hash_body; pades takes that
# SHA-256 state when it covers exactly the original). Shapes that could make the hashed bytes
# differ from the sealed ones: chunked bodies cut at odd places (1 byte, 63, 64, 65, across the
# library's buffer), a Content-Length body, several seals one after the other on one keep-alive
# connection, a refused (413) body before a good one. Each answer must validate
# (tests/tools/validate_pdf.sh: the original is a byte prefix, pdfsig, openssl cms over the
# /ByteRange, the message-digest attribute).
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
PY=/usr/bin/python3
d=$(mktemp -d /tmp/c2s-sealstream-test.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
cat >>"$d/c2s.conf" <<EOT

[web]
max_body = 4000000
EOT
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
port=$(cat "$d/web.port")
ca=$d/pki/root.pem
"$PY" "$C2S_SOURCE_DIR/tests/tools/hostile_pdfs.py" "$d" clean.pdf >/dev/null
"$PY" "$C2S_SOURCE_DIR/tests/tools/big_pdf.py" "$d/big.pdf" 3000000 >/dev/null
check "the documents were made" test -s "$d/clean.pdf" -a -s "$d/big.pdf"

# One connection: each line of the plan is one request, answered before the next is sent.
"$PY" - "$port" "$ca" "$(cat "$d/api-token")" "$d" >"$d/client.log" 2>&1 <<'EOF'
import socket, ssl, sys
port, ca, tok, d = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60),
                    server_hostname="localhost")
buf = b""

def answer():
    global buf
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        if not c:
            raise SystemExit("connection closed before an answer")
        buf += c
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    n = 0
    for l in lines[1:]:
        k, _, v = l.partition(":")
        if k.strip().lower() == "content-length":
            n = int(v)
    while len(buf) < n:
        c = s.recv(65536)
        if not c:
            raise SystemExit("connection closed inside an answer")
        buf += c
    body, buf = buf[:n], buf[n:]
    return status, body

def seal(doc, cuts, out):
    data = open(f"{d}/{doc}", "rb").read()
    h = (f"POST /v1/seal?level=B-B HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {tok}\r\n"
         "Content-Type: application/pdf\r\n")
    if cuts is None:
        s.sendall((h + f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
    else:
        s.sendall((h + "Transfer-Encoding: chunked\r\n\r\n").encode())
        i, k = 0, 0
        while i < len(data):
            n = cuts[k % len(cuts)]
            k += 1
            piece = data[i:i + n]
            i += n
            s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    st, body = answer()
    open(f"{d}/{out}", "wb").write(body)
    print(out, st, len(body))

seal("clean.pdf", [1, 63, 64, 65, 1000, 7], "a.pdf")
seal("big.pdf", None, "b.pdf")
seal("big.pdf", [1, 3, 65536, 65535, 131073, 5], "c.pdf")
seal("clean.pdf", None, "d.pdf")
seal("big.pdf", [1 << 20, 1, 17], "e.pdf")
EOF
check "one keep-alive connection took five seals" test "$(grep -c ' 200 ' "$d/client.log")" -eq 5 ||
	cat "$d/client.log"
for x in a:clean b:big c:big d:clean e:big; do
	out=${x%%:*} orig=${x#*:}
	if r=$("$C2S_SOURCE_DIR/tests/tools/validate_pdf.sh" --level B-B "$d/$out.pdf" "$d/$orig.pdf" "$ca" 2>&1); then
		ok "seal $out ($orig.pdf): validators accept"
	else
		fail "seal $out ($orig.pdf): $r"
	fi
done

# a chunked body over max_body is refused (413) and the connection closed; the next seal, on a
# new connection, is whole again
"$PY" - "$port" "$ca" "$(cat "$d/api-token")" >"$d/over.log" 2>&1 <<'EOF'
import socket, ssl, sys
port, ca, tok = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                    server_hostname="localhost")
s.sendall((f"POST /v1/seal HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {tok}\r\n"
           "Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
try:
    for _ in range(25):
        s.sendall(b"%x\r\n" % 200000 + b"%" * 200000 + b"\r\n")
    s.sendall(b"0\r\n\r\n")
except OSError:
    pass
data = b""
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
except OSError:
    pass
print(data.split(b"\r\n", 1)[0].decode("latin-1"))
EOF
contains "a chunked body over max_body: 413" "$(cat "$d/over.log")" " 413"
code=$(curl -s --cacert "$ca" -H "Authorization: Bearer $(cat "$d/api-token")" \
	-H 'Content-Type: application/pdf' -H 'Transfer-Encoding: chunked' \
	--data-binary @"$d/big.pdf" -o "$d/f.pdf" -w '%{http_code}' \
	"https://127.0.0.1:$port/v1/seal?level=B-B")
if [ "$code" = 200 ] && r=$("$C2S_SOURCE_DIR/tests/tools/validate_pdf.sh" --level B-B "$d/f.pdf" "$d/big.pdf" "$ca" 2>&1); then
	ok "after the 413, a chunked seal (curl) validates"
else
	fail "after the 413, a chunked seal (curl): $code ${r:-}"
fi
no_sanitizer_reports "$d/click2signd.log"
it_done
