#!/usr/bin/env bash
# Orders under faults: the sinks fail for a while and everything is still delivered once, with
# the same delivery ids on every try; the daemon is killed with SIGKILL during a burst of
# concurrent order creations, and after the restart every order acknowledged with 201 is
# complete, nothing is half-written, and the audit chain verifies.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
export C2S_SEAL_RATE=${C2S_SEAL_RATE:-0}
d=$(mktemp -d /tmp/c2s-orders-faults.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
PY=/usr/bin/python3
SINKS=$C2S_SOURCE_DIR/tests/tools/sinks.py
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_provision_signer "$d" >>"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_start_sinks "$d" || { echo "sinks did not start"; exit 1; }
c2s_start_tsa "$d" || exit 1
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
ca=$d/pki/root.pem
tok=$(cat "$d/api-token")

printf '%%!PS\n/Helvetica findfont 14 scalefont setfont 72 720 moveto (Pogodba) show showpage\n' >"$d/d.ps"
ps2pdf "$d/d.ps" "$d/d.pdf"
# N orders, each signed by the test portal (openssl), one JSON file per order
mkorders() { # PREFIX N
	"$PY" - "$d" "$1" "$2" "$url" "$C2S_SOURCE_DIR" <<'EOF'
import base64, json, subprocess, sys
d, prefix, n, url, src = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
pdf = base64.b64encode(open(d + "/d.pdf", "rb").read()).decode()
for i in range(n):
    o = {"reference": "%s-%05d" % (prefix, i), "locale": "en",
         "subscriber": {"given_name": "Janez", "family_name": "Novak",
                        "email": "janez.novak@example.si", "phone": "+38641123456"},
         "account": {"id": "acc-%d" % i, "given_name": "Janez", "family_name": "Novak"},
         "documents": [{"title": "Contract", "filename": "c.pdf", "content_base64": pdf}]}
    path = "%s/%s-%05d.json" % (d, prefix, i)
    json.dump(o, open(path, "w"))
    signed = subprocess.run(["/usr/bin/python3", src + "/tests/tools/portal_jws.py", "--key",
                             d + "/portal/key.pem", "--aud", url, "--exp-in", "600", path],
                            capture_output=True, check=True).stdout
    open(path, "wb").write(signed)
EOF
}
create() { # FILE -> "STATUS ID"
	curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
		--data-binary @"$1" -w '\n%{http_code}' "$url/v1/orders" |
		"$PY" -c 'import json,sys; t=sys.stdin.read().rsplit("\n",1); s=t[-1]
try: print(s, json.loads(t[0]).get("id","-"))
except Exception: print(s, "-")'
}

# --- 1. sinks down for a while: retried with backoff, delivered once, same delivery ids ---
"$PY" "$SINKS" control "$d/smtp.ctl" 451 2
"$PY" "$SINKS" control "$d/sms.ctl" 503 2
"$PY" "$SINKS" control "$d/hook.ctl" close 2
mkorders retry 1
read -r st oid < <(create "$d/retry-00000.json")
equals "order created while the sinks fail" "$st" 201
r=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -X POST -w '\n%{http_code}' "$url/v1/orders/$oid/cancel")
equals "cancelled (a webhook to deliver too)" "$(tail -n1 <<<"$r")" 200
check "link e-mail delivered after 2 refusals" wait_for 60 bash -c "ls '$d'/mail/*.eml 2>/dev/null | grep -q eml"
check "SMS notice delivered after 2 refusals" wait_for 60 grep -q 'Povezava\|signing link' "$d/sms.log"
check "webhook delivered after 2 dropped connections" wait_for 60 grep -q 'order.cancelled' "$d/webhooks.log"
equals "exactly one e-mail" "$(ls "$d"/mail/*.eml | wc -l)" 1
equals "exactly one SMS" "$(wc -l <"$d/sms.log")" 1
equals "exactly one webhook" "$(wc -l <"$d/webhooks.log")" 1
ids=$("$PY" - "$d/webhooks.headers" <<'EOF'
import json, sys
ids = [json.loads(l)["headers"].get("x-click2sign-delivery") for l in open(sys.argv[1])]
print(len(ids), len(set(ids)))
EOF
)
contains "the webhook's retries carry one delivery id" "$ids" " 1"
r=$(curl -s --cacert "$ca" "$url/metrics")
contains "metrics: nothing pending once delivered" "$r" "c2s_outbox_pending 0"
contains "metrics: nothing given up" "$r" "c2s_outbox_failed 0"

# --- 1b. the TSA fails after the keyholder signed: the signature is kept (B-B), not lost ---
mkorders tsa 1
read -r st oid < <(create "$d/tsa-00000.json")
equals "order for the TSA case created" "$st" 201
jar=$d/jar
C() { curl -s --cacert "$ca" -b "$jar" -c "$jar" "$@"; }
check "link e-mail for the TSA order" wait_for 30 bash -c "ls '$d'/mail/*.eml | wc -l | grep -q 2"
link=$("$PY" - "$d" <<'EOF'
import email, glob, re, sys
from email import policy
last = ""
for f in sorted(glob.glob(sys.argv[1] + "/mail/*.eml")):
    m = email.message_from_bytes(open(f, "rb").read(), policy=policy.default)
    t = m.get_body(preferencelist=("plain",)).get_content()
    g = re.search(r"https://\S+/s/[A-Za-z0-9_-]{43}", t)
    if g: last = g.group(0)
print(last)
EOF
)
C "$link" -o "$d/t-start.html"
csrf=$(grep -o 'name="csrf" value="[^"]*"' "$d/t-start.html" | head -1 | sed 's/.*value="//;s/"//')
C -X POST --data "csrf=$csrf" "$link/otp" -o /dev/null
check "code SMS" wait_for 30 grep -q 'code' "$d/sms.log"
otp=$(grep 'code' "$d/sms.log" | tail -1 | cut -f2 | grep -o '[0-9]\{6\}')
C -X POST --data "csrf=$csrf&code=$otp" "$link/otp/verify" -o /dev/null
kill "$(cat "$d/tsa.pid")"
loc=$(C -X POST --data "csrf=$csrf" "$link/documents/0/sign" -o "$d/t-sign.html" -w '%{http_code}')
equals "TSA down: the document is still signed (B-B, the signature kept)" "$loc" 303
contains "the log says the time-stamp is missing" "$(cat "$d/click2signd.log")" "signed without a time-stamp"
r=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" "$url/v1/orders/$oid")
contains "the order records the signed document" "$r" '"status":"signed"'
c2s_start_tsa "$d"

# --- 2. SIGKILL during 300 concurrent creations ---
N=300
mkorders burst $N
ls "$d"/burst-*.json | xargs -P 12 -I{} bash -c "$(declare -f create); PY=$PY ca='$ca' tok='$tok' url='$url' create {}" >"$d/burst.out" 2>/dev/null &
burst=$!
for _ in $(seq 100); do
	[ "$(grep -c '^201' "$d/burst.out" 2>/dev/null)" -ge 40 ] && break
	sleep 0.1
done
pid=$(cat "$d/click2signd.pid")
kill -9 $(pgrep -P "$pid") "$pid" 2>/dev/null
wait "$burst"
acked=$(grep -c '^201' "$d/burst.out")
if [ "$acked" -ge 40 ] && [ "$acked" -lt "$N" ]; then
	ok "killed with SIGKILL after $acked of $N orders were acknowledged"
else
	fail "the kill should fall inside the burst ($acked of $N acknowledged)"
fi
rm -f "$d/click2signd.pid"
c2s_start "$d" || { echo "daemon did not restart"; exit 1; }
missing=0
for oid in $(awk '$1 == 201 {print $2}' "$d/burst.out"); do
	code=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -o "$d/o.json" -w '%{http_code}' "$url/v1/orders/$oid")
	if [ "$code" != 200 ] || ! grep -q '"status":"awaiting_signature"' "$d/o.json" ||
		! grep -q '"type":"created"' "$d/o.json"; then
		missing=$((missing + 1))
	fi
done
equals "every acknowledged order exists, whole, after the restart" "$missing" 0
db=$d/state/click2sign.db
half=$(sqlite3 "$db" "select count(*) from orders o where not exists (select 1 from documents d where d.order_id = o.id) or not exists (select 1 from events e where e.order_id = o.id) or not exists (select 1 from outbox x where x.order_id = o.id)")
equals "no order without its documents, event or notices" "$half" 0
out=$("$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" audit verify 2>&1)
contains "audit chain verifies after the kill" "$out" "verified"
# the rest of the burst again: idempotent for those already created, new for the others
for f in "$d"/burst-*.json; do create "$f"; done >"$d/burst2.out"
equals "the whole burst again: 200 or 201 for every order" \
	"$(awk '$1 != 200 && $1 != 201' "$d/burst2.out" | wc -l)" 0
equals "all $N orders exist once" "$(sqlite3 "$db" "select count(*) from orders where reference like 'burst-%'")" "$N"

c2s_stop "$d"
no_sanitizer_reports "$d/click2signd.log"
c2s_no_secrets "$d"
it_done
