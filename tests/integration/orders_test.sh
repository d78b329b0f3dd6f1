#!/usr/bin/env bash
# The signing order end to end: real daemon (signer mode), SoftHSM2, the test portal's signed
# manifest, the real SMTP / SMS / webhook sinks, curl as the customer's browser, and the
# independent validators on the signed PDFs that arrive by e-mail. Then the refusals (identity,
# JSON, portal signature, idempotency), cancel, and expiry with a moved clock.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
export C2S_SEAL_RATE=${C2S_SEAL_RATE:-0}
d=$(mktemp -d /tmp/c2s-orders-test.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
PY=/usr/bin/python3
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_provision_signer "$d" >>"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_start_sinks "$d" || { echo "sinks did not start"; exit 1; }
c2s_start_tsa "$d" || { echo "TSA did not start"; exit 1; }
export C2S_TEST_CLOCK_FILE=$d/clock
echo 0 >"$C2S_TEST_CLOCK_FILE"
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
ca=$d/pki/root.pem
tok=$(cat "$d/api-token")
api() { # METHOD PATH [BODYFILE] -> body, then the status on the last line
	curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
		-X "$1" ${3:+--data-binary @"$3"} -w '\n%{http_code}' "$url$2"
}
status_of() { tail -n1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
jget() { "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval("d"+sys.argv[1]))' "$1"; }

# --- documents and the order body (two documents, two attachments) ---
for i in 0 1 2 3; do
	printf '%%!PS\n/Helvetica findfont 14 scalefont setfont 72 720 moveto (Dokument %d: Janez Novak) show showpage\n' "$i" >"$d/d$i.ps"
	ps2pdf "$d/d$i.ps" "$d/d$i.pdf"
done
mkorder() { # REF OUT [given] [family] [acc_given] [acc_family]
	"$PY" - "$d" "$1" "$2" "${3:-Janez}" "${4:-Novak}" "${5:-JANEZ}" "${6:-Novak  }" <<'EOF'
import base64, json, sys
d, ref, out, g, f, ag, af = sys.argv[1:]
b = lambda n: base64.b64encode(open("%s/d%d.pdf" % (d, n), "rb").read()).decode()
o = {"reference": ref, "locale": "sl",
     "subscriber": {"given_name": g, "family_name": f, "email": "janez.novak@example.si",
                    "phone": "+38641123456"},
     "account": {"id": "moj-a1-778899", "given_name": ag, "family_name": af},
     "documents": [{"title": "Naročniška pogodba", "filename": "pogodba.pdf", "content_base64": b(0)},
                   {"title": "Aneks k pogodbi", "filename": "aneks.pdf", "content_base64": b(1)}],
     "attachments": [{"title": "Cenik", "filename": "cenik.pdf", "content_base64": b(2)},
                     {"title": "Splošni pogoji", "filename": "pogoji.pdf", "content_base64": b(3)}]}
json.dump(o, open(out, "w"), ensure_ascii=False)
EOF
}
sign_portal() { # IN OUT [extra args]
	local in=$1 out=$2
	shift 2
	"$PY" "$C2S_SOURCE_DIR/tests/tools/portal_jws.py" --key "$d/portal/key.pem" --aud "$url" "$@" "$in" >"$out"
}

# --- create: 201, the link by e-mail, the notice by SMS ---
mkorder A1-2026-000123 "$d/o1.json"
sign_portal "$d/o1.json" "$d/o1s.json"
r=$(api POST /v1/orders "$d/o1s.json")
equals "create: 201" "$(status_of "$r")" 201
id=$(body_of "$r" | jget "['id']")
link=$(body_of "$r" | jget "['signing_url']")
contains "create: awaiting signature" "$(body_of "$r")" '"status":"awaiting_signature"'
r2=$(api POST /v1/orders "$d/o1s.json")
equals "same reference, same body: 200 with the existing order" "$(status_of "$r2")" 200
contains "same reference: same order id" "$(body_of "$r2")" "\"id\":\"$id\""
check "link e-mail delivered" wait_for 20 bash -c "grep -l -r '$link' '$d/mail' | grep -q eml"
check "SMS notice delivered" wait_for 20 grep -q 'Povezava za podpis' "$d/sms.log"
equals "no code in the SMS log yet" "$(grep -c 'koda' "$d/sms.log")" 0

# --- the customer: start page, code, wrong code, pasted code, documents ---
jar=$d/jar
C() { curl -s --cacert "$ca" -b "$jar" -c "$jar" "$@"; }
C "$link" -o "$d/start.html"
contains "start page: the send-code form" "$(cat "$d/start.html")" 'id="otp-send"'
contains "start page: masked phone" "$(cat "$d/start.html")" '+386******56'
hdrs=$(C -D - -o /dev/null "$link")
contains "start page: CSP without inline script" "$hdrs" "frame-ancestors 'none'"
contains "start page: no referrer" "$hdrs" "Referrer-Policy: no-referrer"
csrf=$(grep -o 'name="csrf" value="[^"]*"' "$d/start.html" | head -1 | sed 's/.*value="//;s/"//')
# the link reloaded without cookies (a bot, or a hostile customer): sessions of one order are
# capped and the visit is recorded once, so one link can neither fill the table nor the log
for _ in $(seq 30); do curl -s --cacert "$ca" -o /dev/null "$link"; done
r=$(api GET "/v1/orders/$id")
equals "30 reloads without a cookie: one link_opened event" "$(body_of "$r" | grep -o '"type":"link_opened"' | wc -l)" 1
code=$(C -X POST --data "csrf=forged" "$link/otp" -o /dev/null -w '%{http_code}')
equals "a forged CSRF token sends no code (back to the start)" "$code" 303
equals "no code sent for the forged form" "$(grep -c 'koda' "$d/sms.log")" 0
C -X POST --data "csrf=$csrf" "$link/otp" -o "$d/otp.html"
contains "code page: sent to the masked phone" "$(cat "$d/otp.html")" 'Kodo smo poslali'
contains "code page: one-time-code field" "$(cat "$d/otp.html")" 'autocomplete="one-time-code"'
check "code SMS delivered" wait_for 20 grep -q 'koda' "$d/sms.log"
otp=$(grep 'koda' "$d/sms.log" | tail -1 | cut -f2 | grep -o '[0-9]\{6\}')
equals "the code went to the manifest's phone" "$(grep 'koda' "$d/sms.log" | tail -1 | cut -f1)" "+38641123456"
wrong=$(printf '%06d' $(((10#$otp + 1) % 1000000)))
C -X POST --data "csrf=$csrf&code=$wrong" "$link/otp/verify" -o "$d/wrong.html"
contains "wrong code: attempts left shown" "$(cat "$d/wrong.html")" 'Preostali poskusi: 2'
contains "wrong code: the error is tied to the page" "$(cat "$d/wrong.html")" 'id="error"'
pasted="${otp:0:3}+-+${otp:3:3}%0A"
loc=$(C -X POST --data "csrf=$csrf&code=$pasted" "$link/otp/verify" -o /dev/null -w '%{http_code} %{redirect_url}')
contains "pasted code with spaces, dash and newline: on to the documents" "$loc" "303 $link/documents"
C "$link/documents" -o "$d/docs.html"
contains "documents: the list" "$(cat "$d/docs.html")" 'id="doc-list"'
contains "documents: Podpiši above the document" "$(cat "$d/docs.html")" 'id="sign-button"'
pdfcode=$(C "$link/documents/0.pdf" -o "$d/view0.pdf" -w '%{http_code} %{content_type}')
contains "document 0 viewable as PDF" "$pdfcode" "200 application/pdf"
cmp -s "$d/view0.pdf" "$d/d0.pdf" && ok "the document shown is the one the portal sent" || fail "document shown differs"

# --- sign each, double submit signs once, Izhod ---
loc=$(C -X POST --data "csrf=$csrf" "$link/documents/0/sign" -o /dev/null -w '%{http_code} %{redirect_url}')
equals "sign document 0: on to document 1" "$loc" "303 $link/documents/1"
loc=$(C -X POST --data "csrf=$csrf" "$link/documents/0/sign" -o /dev/null -w '%{http_code}')
equals "double submit of document 0: no second signature" "$loc" 303
equals "the keyholder signed document 0 once" "$(grep -c 'document 0 of order .* signed (signer key)' "$d/click2signd.log")" 1
loc=$(C -X POST --data "csrf=$csrf" "$link/documents/1/sign" -o /dev/null -w '%{http_code}')
equals "sign document 1" "$loc" 303
C "$link/documents" -o "$d/docs2.html"
contains "all signed: the button is Izhod" "$(cat "$d/docs2.html")" 'id="finish-button"'
C -X POST --data "csrf=$csrf" "$link/finish" -o "$d/fin.html"
contains "confirmation page" "$(cat "$d/fin.html")" 'id="confirmation"'
contains "confirmation: the attachments are on their way" "$(cat "$d/fin.html")" 'cenikom in splošnimi pogoji'
r=$(api GET "/v1/orders/$id")
contains "API: the order is signed" "$(body_of "$r")" '"status":"signed"'
C "$link" -o "$d/after.html"
contains "the link after signing says it is done" "$(cat "$d/after.html")" 'id="confirmation"'

# --- after link + SMS code: the confirmation offers to register a certificate for the portal
# login (API.md section 3), on the certificate listener, with a single-use ticket ---
reg=$("$PY" -c 'import html,re,sys; m=re.search(r"id=\"cert-register\" href=\"([^\"]+)\"", open(sys.argv[1]).read()); print(html.unescape(m.group(1)) if m else "")' "$d/fin.html")
contains "confirmation: a link to register a certificate" "$reg" "https://127.0.0.1:$(cat "$d/cert.port")/c/register?ticket="
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/me.key" \
	-subj "/CN=Janez Novak" -out "$d/me.csr" 2>/dev/null
printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$d/me.ext"
openssl x509 -req -in "$d/me.csr" -CA "$d/pki/customer/ca.pem" -CAkey "$d/pki/customer/ca.key" \
	-days 30 -extfile "$d/me.ext" -out "$d/me.pem" 2>/dev/null
mecurl() { curl -s --cacert "$ca" --cert "$d/me.pem" --key "$d/me.key" -H 'Accept: application/json' -w '\n%{http_code}' "$@"; }
r=$(mecurl "$reg")
equals "the ticket registers the customer's certificate (201)" "$(status_of "$r")" 201
contains "... to the order's portal account" "$(body_of "$r")" '"account":"moj-a1-778899"'
r=$(mecurl "$reg")
contains "the ticket is single use" "$(body_of "$r")" "problems/assertion-invalid"
r=$(api GET /v1/accounts/moj-a1-778899/certificates)
contains "the portal lists the registered certificate" "$(body_of "$r")" '"subject":"CN=Janez Novak"'
r=$(mecurl "https://127.0.0.1:$(cat "$d/cert.port")/c/register?ticket=$(printf '%064d' 7)")
contains "a made-up ticket is refused" "$(body_of "$r")" "problems/assertion-invalid"

# --- what the customer receives: signed PDFs plus attachments, valid, in their name ---
check "completion e-mail delivered" wait_for 20 bash -c "grep -l 'Podpisani dokumenti' '$d'/mail/*.eml"
"$PY" - "$d" <<'EOF' >"$d/mail.out"
import email, glob, sys
from email import policy
d = sys.argv[1]
for f in sorted(glob.glob(d + "/mail/*.eml")):
    m = email.message_from_bytes(open(f, "rb").read(), policy=policy.default)
    if str(m["Subject"]) != "Podpisani dokumenti":
        continue
    for p in m.iter_attachments():
        open("%s/got-%s" % (d, p.get_filename()), "wb").write(p.get_payload(decode=True))
        print(p.get_filename())
EOF
equals "completion e-mail: 2 signed documents + 2 attachments" "$(tr '\n' ' ' <"$d/mail.out")" "pogodba.pdf aneks.pdf cenik.pdf pogoji.pdf "
cmp -s "$d/got-cenik.pdf" "$d/d2.pdf" && ok "the price list travels unchanged" || fail "cenik.pdf changed"
for pair in "pogodba 0" "aneks 1"; do
	set -- $pair
	if out=$(bash "$C2S_SOURCE_DIR/tests/tools/validate_pdf.sh" --level B-T "$d/got-$1.pdf" "$d/d$2.pdf" "$ca" 2>&1); then
		ok "$1.pdf: valid B-T signature (pdfsig, qpdf, openssl cms, openssl ts)"
	else
		fail "$1.pdf does not validate: $out"
	fi
	contains "$1.pdf: signed in the subscriber's name" "$(pdfsig "$d/got-$1.pdf" 2>&1)" "Common Name: Janez Novak"
done

# --- the webhook for activation, signed ---
check "webhook order.signed delivered" wait_for 20 grep -q '"event":"order.signed"' "$d/webhooks.log"
hook=$(grep '"event":"order.signed"' "$d/webhooks.log" | head -1)
sig=$("$PY" - "$d" <<'EOF'
import json, sys
for line in open(sys.argv[1] + "/webhooks.headers"):
    h = json.loads(line)["headers"]
    if h.get("x-click2sign-signature"):
        print(h["x-click2sign-signature"]); break
EOF
)
want="sha256=$(printf '%s' "$hook" | openssl dgst -sha256 -hmac "$(cat "$d/webhook.secret")" | sed 's/.*= //')"
equals "webhook signature is the HMAC of the body" "$sig" "$want"

# --- refusals: identity, JSON, portal signature, conflict; nothing written ---
rows_before=$(sqlite3 "$d/state/click2sign.db" 'select count(*) from orders; select count(*) from outbox;' | tr '\n' ' ')
mkorder A1-2026-000124 "$d/o2.json" Janez Novak Janez Novakov
sign_portal "$d/o2.json" "$d/o2s.json"
r=$(api POST /v1/orders "$d/o2s.json")
equals "Janez Novak vs Novakov: 422" "$(status_of "$r")" 422
contains "identity: names the field with both values" "$(body_of "$r")" '"field":"family_name","contract":"Novak","account":"Novakov"'
mkorder A1-2026-000125 "$d/o3.json" Živa Čeh Ziva Ceh
sign_portal "$d/o3.json" "$d/o3s.json"
r=$(api POST /v1/orders "$d/o3s.json")
contains "Živa Čeh vs Ziva Ceh: refused as diacritics only" "$(body_of "$r")" '"diacritics_only":true'
mkorder A1-2026-000126 "$d/o4.json" Novak Janez Janez Novak
sign_portal "$d/o4.json" "$d/o4s.json"
r=$(api POST /v1/orders "$d/o4s.json")
equals "given and family name swapped: accepted" "$(status_of "$r")" 201
printf '{"reference": "x", ' >"$d/bad.json"
r=$(api POST /v1/orders "$d/bad.json")
equals "malformed JSON: 400" "$(status_of "$r")" 400
"$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); o["colour"]="blue"; json.dump(o,open(sys.argv[2],"w"))' "$d/o1s.json" "$d/unk.json"
r=$(api POST /v1/orders "$d/unk.json")
contains "unknown field: 400 naming the path" "$(body_of "$r")" '"path":"$.colour"'
"$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); o["documents"][1]["content_base64"]="bm90IGEgcGRm"; json.dump(o,open(sys.argv[2],"w"))' "$d/o1.json" "$d/notpdf.json"
sed -i 's/A1-2026-000123/A1-2026-000127/' "$d/notpdf.json"
sign_portal "$d/notpdf.json" "$d/notpdfs.json"
r=$(api POST /v1/orders "$d/notpdfs.json")
contains "a non-PDF document: 422 with its index" "$(body_of "$r")" '"path":"$.documents[1]"'
"$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); c=o["documents"][0]["content_base64"]; o["documents"][0]["content_base64"]=c[:400]+"****"+c[404:]; json.dump(o,open(sys.argv[2],"w"))' "$d/o1.json" "$d/badb64.json"
sed -i 's/A1-2026-000123/A1-2026-000132/' "$d/badb64.json"
sign_portal "$d/badb64.json" "$d/badb64s.json"
r=$(api POST /v1/orders "$d/badb64s.json")
equals "a document that is not base64: 400" "$(status_of "$r")" 400
contains "not base64: the field's path and why" "$(body_of "$r")" 'documents[0].content_base64: not valid base64'
"$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); o["subscriber"]["phone"]="+38640999999"; json.dump(o,open(sys.argv[2],"w"),ensure_ascii=False)' "$d/o1s.json" "$d/tamper.json"
r=$(api POST /v1/orders "$d/tamper.json")
contains "the body differs from the portal's signed claims: 422 naming the claim" "$(body_of "$r")" '"claim":"signer.phone"'
mkorder A1-2026-000129 "$d/o5.json"
sign_portal "$d/o5.json" "$d/o5s.json" --iat-offset -1200 --exp-in 600
r=$(api POST /v1/orders "$d/o5s.json")
contains "an expired portal signature: 422" "$(body_of "$r")" 'expired'
"$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); o["attachments"]=[]; json.dump(o,open(sys.argv[2],"w"),ensure_ascii=False)' "$d/o1s.json" "$d/diff.json"
r=$(api POST /v1/orders "$d/diff.json")
equals "same reference, different body: 409" "$(status_of "$r")" 409
rows_after=$(sqlite3 "$d/state/click2sign.db" 'select count(*) from orders; select count(*) from outbox;' | tr '\n' ' ')
o_before=${rows_before%% *}
equals "refusals wrote no order (only the swapped-names one was created)" "${rows_after%% *}" "$((o_before + 1))"

# --- cancel: webhook, dead link ---
mkorder A1-2026-000130 "$d/o6.json"
sign_portal "$d/o6.json" "$d/o6s.json"
r=$(api POST /v1/orders "$d/o6s.json")
id6=$(body_of "$r" | jget "['id']")
link6=$(body_of "$r" | jget "['signing_url']")
r=$(api POST "/v1/orders/$id6/cancel")
contains "cancel: 200, cancelled" "$(body_of "$r")" '"status":"cancelled"'
check "webhook order.cancelled" wait_for 20 grep -q '"event":"order.cancelled"' "$d/webhooks.log"
code=$(curl -s --cacert "$ca" -o "$d/cancelled.html" -w '%{http_code}' "$link6")
equals "cancelled link: 410" "$code" 410
contains "cancelled link: says so" "$(cat "$d/cancelled.html")" 'preklicano'

# --- expiry: 25 hours later the sweep hands the open orders to the courier ---
mkorder A1-2026-000131 "$d/o7.json"
sign_portal "$d/o7.json" "$d/o7s.json"
r=$(api POST /v1/orders "$d/o7s.json")
id7=$(body_of "$r" | jget "['id']")
link7=$(body_of "$r" | jget "['signing_url']")
echo $((25 * 3600)) >"$C2S_TEST_CLOCK_FILE"
check "expired after 24 h: webhook order.expired" wait_for 20 grep -q "\"event\":\"order.expired\".*$id7" "$d/webhooks.log"
r=$(api GET "/v1/orders/$id7")
contains "API: expired" "$(body_of "$r")" '"status":"expired"'
check "courier e-mail to the customer" wait_for 20 bash -c "grep -l 'Subject: Podpis dokumentov: obiskal vas bo kurir' '$d'/mail/*.eml"
code=$(curl -s --cacert "$ca" -o "$d/expired.html" -w '%{http_code}' "$link7")
equals "expired link: 410" "$code" 410
contains "expired link: a courier will come" "$(cat "$d/expired.html")" 'kurir'

m=$(curl -s --cacert "$ca" "$url/metrics")
contains "metrics: outbox backlog with HELP and TYPE" "$m" "# TYPE c2s_outbox_pending gauge"
contains "metrics: nothing given up" "$m" "c2s_outbox_failed 0"

# --- the audit chain verifies, with checkpoints the keyholder signed ---
check "the keyholder signs a checkpoint of the audit head" wait_for 40 grep -q 'audit checkpoint [0-9]* signed' "$d/click2signd.log"
out=$("$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" audit verify 2>&1)
contains "audit chain verifies" "$out" "verified"
contains "audit: the checkpoint's signature verifies" "$out" "signatures verified"
mkdir -p "$d/tampered" && chmod 700 "$d/tampered"
sqlite3 "$d/state/click2sign.db" ".backup '$d/tampered/click2sign.db'"
sqlite3 "$d/tampered/click2sign.db" "update checkpoints set at = at + 1"
sed "s|^state_dir = .*|state_dir = $d/tampered|" "$d/c2s.conf" >"$d/tampered.conf"
out=$("$C2S_BUILD_DIR/click2sign-admin" --config "$d/tampered.conf" audit verify 2>&1)
contains "audit: a rewritten checkpoint is caught" "$out" "does not verify"
export_out=$("$C2S_BUILD_DIR/click2sign-admin" --config "$d/c2s.conf" audit export "$id" --dir "$d/evidence" 2>&1)
contains "audit export writes the evidence" "$export_out" "written to"
contains "evidence: hashes before and after signing" "$(cat "$d/evidence/evidence.json")" "signed_sha256"
contains "evidence: the browser and address of the code step" "$(cat "$d/evidence/evidence.json")" '"user_agent": "curl/'
[ -s "$d/evidence/signed-0-pogodba.pdf" ] && ok "evidence: the signed PDFs" || fail "no signed PDF in the evidence"

c2s_stop "$d"
grep -q 'Povezava za podpis' "$d/sms.log"
no_sanitizer_reports "$d/click2signd.log"
! grep -q "$otp" "$d/click2signd.log" && ok "the code is in no log line" || fail "the code appears in the daemon log"
c2s_no_secrets "$d"
it_done
