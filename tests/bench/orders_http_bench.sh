#!/usr/bin/env bash
# The order path through the whole appliance (HTTPS, JSON, portal signature check, PDF check,
# blobs, one store transaction, the keyholder's manifest), and the customer's signing over HTTP:
#   1. orders created per second, each with 1 MB of documents (2 x 512 KB), C parallel clients;
#   2. time from a verified code to all documents signed (2 documents, B-T, signer mode), p50/p90;
# printed with the token's raw P-256 C_Sign rate measured in the same run (raw_bench).
#
#   tests/bench/orders_http_bench.sh [ORDERS] [CLIENTS] [FLOWS]     (defaults 200 4 20)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-200} P=${2:-4} F=${3:-20}
export C2S_SOURCE_DIR=$root C2S_BUILD_DIR=$root/build/release C2S_SEAL_RATE=0 C2S_RATE_API=0
cmake -S "$root" -B "$C2S_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$C2S_BUILD_DIR" -j"$(nproc)" >/dev/null
. "$root/tests/tools/appliance.sh"
d=$(mktemp -d /tmp/c2s-orders-bench.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
PY=/usr/bin/python3
c2s_provision "$d" ec:p256 >/dev/null 2>&1
c2s_provision_signer "$d" >/dev/null 2>&1
c2s_start_sinks "$d"
c2s_start_tsa "$d"
c2s_start "$d"
url=https://127.0.0.1:$(cat "$d/web.port")
ca=$d/pki/root.pem
tok=$(cat "$d/api-token")

# two 512 KB documents (a page of text plus 512 KB of an uncompressed stream the page draws nothing
# from) and N portal-signed orders over them
"$PY" - "$d" "$N" "$url" "$root" <<'EOF'
import base64, json, os, subprocess, sys
d, n, url, root = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def pdf(tag, size):
    filler = (b"% " + os.urandom(60).hex().encode() + b"\n") * (size // 123)
    content = b"BT /F1 14 Tf 72 720 Td (" + tag + b") Tj ET\n" + filler
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offs = b"%PDF-1.7\n", []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offs)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
    return base64.b64encode(out).decode()
docs = [pdf(b"Pogodba", 512 * 1024), pdf(b"Aneks", 512 * 1024)]
for i in range(n):
    o = {"reference": "bench-%06d" % i, "locale": "sl",
         "subscriber": {"given_name": "Janez", "family_name": "Novak",
                        "email": "janez.novak@example.si", "phone": "+38641123456"},
         "account": {"id": "acc", "given_name": "Janez", "family_name": "Novak"},
         "documents": [{"title": "Pogodba", "filename": "p.pdf", "content_base64": docs[0]},
                       {"title": "Aneks", "filename": "a.pdf", "content_base64": docs[1]}]}
    p = "%s/o%06d.json" % (d, i)
    json.dump(o, open(p, "w"))
    s = subprocess.run([sys.executable, root + "/tests/tools/portal_jws.py", "--key",
                        d + "/portal/key.pem", "--aud", url, "--exp-in", "600", p],
                       capture_output=True, check=True).stdout
    open(p, "wb").write(s)
EOF

create() { curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
	--data-binary @"$1" -o "$1.resp" -w '%{http_code}\n' "$url/v1/orders"; }
export -f create
export ca tok url
t0=$(date +%s.%N)
ls "$d"/o*.json | xargs -P "$P" -I{} bash -c 'create {}' >"$d/codes"
t1=$(date +%s.%N)
ok=$(grep -c '^201$' "$d/codes" || true)
orders_rate=$("$PY" -c "print('%.1f' % ($ok / ($t1 - $t0)))")

# the customer: verified code -> both documents signed, F times (each its own order)
"$PY" - "$d" "$url" "$ca" "$F" >"$d/flows" <<'EOF'
import email, glob, json, re, ssl, subprocess, sys, time, http.cookiejar, urllib.request, urllib.parse
from email import policy
d, url, ca, F = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
links = {}
for f in sorted(glob.glob(d + "/o*.json.resp")):
    r = json.load(open(f))
    links[r["reference"]] = r["signing_url"]
ctx = ssl.create_default_context(cafile=ca)
def run(i):
    link = links["bench-%06d" % i]
    jar = http.cookiejar.CookieJar()
    op = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), urllib.request.HTTPCookieProcessor(jar))
    html = op.open(link).read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    before = open(d + "/sms.log").read().count("koda")
    op.open(link + "/otp", urllib.parse.urlencode({"csrf": csrf}).encode()).read()
    for _ in range(200):
        lines = [l for l in open(d + "/sms.log").read().splitlines() if "koda" in l]
        if len(lines) > before: break
        time.sleep(0.05)
    code = re.search(r"\d{6}", lines[-1].split("\t")[1]).group(0)
    op.open(link + "/otp/verify", urllib.parse.urlencode({"csrf": csrf, "code": code}).encode()).read()
    t0 = time.monotonic()
    for n in (0, 1):
        op.open(link + "/documents/%d/sign" % n, urllib.parse.urlencode({"csrf": csrf}).encode()).read()
    return time.monotonic() - t0
ts = sorted(run(i) for i in range(F))
print("%.1f %.1f" % (ts[len(ts) // 2] * 1000, ts[int(len(ts) * 0.9)] * 1000))
EOF
read -r p50 p90 <"$d/flows"
kill "$(cat "$d/click2signd.pid")"; sleep 1
raw=$(SOFTHSM2_CONF=$d/softhsm2.conf "$C2S_BUILD_DIR/tests/bench/raw_bench" "$d/c2s.conf" 1 3 2>/dev/null | grep -o "[0-9.]*/s" | head -1 || true)
echo "orders created with 1 MB of documents: $ok of $N in $("$PY" -c "print('%.1f' % ($t1 - $t0))") s = $orders_rate orders/s ($P clients)"
echo "verified code -> both documents signed (B-T, signer mode, over HTTPS): p50 $p50 ms, p90 $p90 ms ($F customers)"
echo "token raw P-256 C_Sign, 1 thread: ${raw:-n/a}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
