#!/usr/bin/env bash
# [pades] repair: POST /v1/documents/repair on damaged, sound, signed-and-damaged and hostile
# files; an order the portal does not sign keeps the repaired document, which the customer then
# signs (the keyholder hashes the repaired bytes); with the portal's signature required the
# appliance never swaps a document and points to the endpoint; with repair off, 403. Real
# daemon, SoftHSM2, sinks, curl; qpdf and the validators on every output.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
export C2S_SEAL_RATE=${C2S_SEAL_RATE:-0}
d=$(mktemp -d /tmp/c2s-repair-test.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
PY=/usr/bin/python3
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_provision_portal "$d" >>"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_start_sinks "$d" || { echo "sinks did not start"; exit 1; }
cp "$d/c2s.conf" "$d/c2s.conf.base"
printf '\n[pades]\nrepair = yes\n\n[orders]\nportal_signature = off\n' >>"$d/c2s.conf"
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
ca=$d/pki/root.pem
tok=$(cat "$d/api-token")
validate="$C2S_SOURCE_DIR/tests/tools/validate_pdf.sh"
for k in xref signed hostile dupkey; do "$PY" "$C2S_SOURCE_DIR/tests/tools/damaged_pdf.py" "$d/$k.pdf" $k; done
ps2pdf <(printf '%%!PS\n/Helvetica findfont 14 scalefont setfont 72 720 moveto (Dokument) show showpage\n') "$d/sound.pdf"
repair() { # IN OUT -> "status repaired-header"
	curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' \
		--data-binary @"$1" -o "$2" -D "$2.h" -w '%{http_code}' "$url/v1/documents/repair"
	printf ' %s' "$(grep -i '^x-click2sign-repaired:' "$2.h" | cut -d' ' -f2- | tr -d '\r')"
}
seal() { # IN OUT -> status
	curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' \
		--data-binary @"$1" -o "$2" -w '%{http_code}' "$url/v1/seal?level=B-B"
}

# --- the endpoint ---
code=$(seal "$d/xref.pdf" "$d/xref.refused")
equals "a damaged file is refused for sealing as it is" "$code" 422
contains "... and the reason names the damage" "$(cat "$d/xref.refused")" "expected n n obj"
r=$(repair "$d/xref.pdf" "$d/xref.rep.pdf")
equals "damaged file: 200 and what was repaired" "$r" "200 expected n n obj"
check "the repaired file passes qpdf --check" bash -c "qpdf --check '$d/xref.rep.pdf' >/dev/null"
if ! cmp -s "$d/xref.pdf" "$d/xref.rep.pdf"; then ok "the repaired file is a new file"; else fail "repair returned the same bytes"; fi
code=$(seal "$d/xref.rep.pdf" "$d/xref.sealed.pdf")
if [ "$code" = 200 ] && out=$("$validate" --level B-B "$d/xref.sealed.pdf" "$d/xref.rep.pdf" "$ca" 2>&1); then
	ok "the repaired file seals, and the validators accept the seal"
else
	fail "sealing the repaired file: HTTP $code ${out:-}"
fi
code=$(seal "$d/dupkey.pdf" "$d/dupkey.sealed.pdf")
if [ "$code" = 200 ] && out=$("$validate" --level B-B "$d/dupkey.sealed.pdf" "$d/dupkey.pdf" "$ca" 2>&1); then
	ok "harmless defects (duplicated key, startxref on the newline): sealed as it is, validators accept"
else
	fail "dupkey seal: HTTP $code ${out:-}"
fi
l=$(grep 'sealed as it is:' "$d/click2signd.log")
contains "... and the log names the duplicated key" "$l" "dictionary has duplicated key /Type"
contains "... and the startxref" "$l" "startxref points at whitespace before the xref section"
# shapes the prescan cannot see (tests/tools/attack: a second Flate layer, an unclosed string
# before a huge catalog, 40 object streams each under the per-object bound, a shared 15 MB /T):
# read first in a child under the kernel's limits ([pades] parse_memory 64M, parse_cpu 1 s)
mkdir -p "$d/attack"
N=2000000 "$PY" "$C2S_SOURCE_DIR/tests/tools/attack/gen_objstm.py" "$d/attack" &&
	N=2000000 "$PY" "$C2S_SOURCE_DIR/tests/tools/attack/gen_desync.py" "$d/attack" &&
	"$PY" "$C2S_SOURCE_DIR/tests/tools/attack/gen_shape.py" "$d/attack" || fail "attack files not generated"
web_pid=$(pgrep -f 'c2s-web' | head -1)
for f in B2_flate2 B3_filter_ref A5_objstm_paren C1_many_objstm D1_shared_T; do
	t0=$(date +%s%N)
	code=$(seal "$d/attack/$f.pdf" "$d/attack/$f.out")
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$code" = 422 ] && [ "$ms" -lt 5000 ]; then
		ok "attack $f ($(stat -c %s "$d/attack/$f.pdf") bytes): 422 in $ms ms: $(grep -o '"detail":"[^"]*' "$d/attack/$f.out" | cut -c11-90)"
	else
		fail "attack $f: HTTP $code in $ms ms: $(head -c 300 "$d/attack/$f.out")"
	fi
done
equals "c2s-web survived the attack files (same process)" "$(pgrep -f 'c2s-web' | head -1)" "$web_pid"
srv=$(pgrep -P "$web_pid" -x c2s-web | head -1)
check "c2s-web has its PDF probe server" test -n "$srv"
equals "the probe server holds stdin, stdout, stderr, its socket and one per worker only" "$(ls "/proc/$srv/fd" 2>/dev/null | wc -l)" 8
equals "four workers ([pades] parse_parallel), those the attack files ended replaced" "$(pgrep -P "$srv" | wc -l)" 4
w=$(pgrep -P "$srv" | head -1)
equals "a worker holds stdin, stdout, stderr and its socket only" "$(ls "/proc/$w/fd" 2>/dev/null | wc -l)" 4
r=$(repair "$d/dupkey.pdf" "$d/dupkey.rep.pdf")
equals "harmless defects need no repair" "$r" "200 none"
r=$(repair "$d/xref.rep.pdf" "$d/xref.rep2.pdf")
equals "repairing the repaired file: nothing to do" "$r" "200 none"
r=$(repair "$d/sound.pdf" "$d/sound.rep.pdf")
equals "a sound file: 200, none" "$r" "200 none"
check "a sound file comes back byte for byte" cmp -s "$d/sound.pdf" "$d/sound.rep.pdf"
r=$(repair "$d/signed.pdf" "$d/signed.rep")
equals "a damaged file with a signature: 422" "${r%% *}" 422
contains "... because a rewrite would invalidate the signature" "$(cat "$d/signed.rep")" "carries a signature"
r=$(repair "$d/hostile.pdf" "$d/hostile.rep")
equals "a hostile object stream: 422" "${r%% *}" 422
contains "... refused before qpdf holds it" "$(cat "$d/hostile.rep")" "too large to inspect safely"
printf 'not a pdf' >"$d/text.pdf"
r=$(repair "$d/text.pdf" "$d/text.rep")
equals "not a PDF: 422" "${r%% *}" 422
code=$(curl -s --cacert "$ca" -H 'Content-Type: application/pdf' --data-binary @"$d/xref.pdf" \
	-o /dev/null -w '%{http_code}' "$url/v1/documents/repair")
equals "no bearer token: 401" "$code" 401

# --- an order the portal does not sign: repaired in place, then signed by the customer ---
"$PY" - "$d" <<'PYEOF'
import base64, json, sys
d = sys.argv[1]
b = lambda n: base64.b64encode(open("%s/%s" % (d, n), "rb").read()).decode()
o = {"reference": "A1-REPAIR-1", "locale": "en",
     "subscriber": {"given_name": "Janez", "family_name": "Novak",
                    "email": "janez.novak@example.si", "phone": "+38641123456"},
     "account": {"id": "moj-a1-1", "given_name": "Janez", "family_name": "Novak"},
     "documents": [{"title": "Contract", "filename": "contract.pdf", "content_base64": b("xref.pdf")}],
     "attachments": [{"title": "Terms", "filename": "terms.pdf", "content_base64": b("sound.pdf")}]}
json.dump(o, open(d + "/order.json", "w"))
PYEOF
api() { curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
	-X "$1" ${3:+--data-binary @"$3"} -w '\n%{http_code}' "$url$2"; }
jget() { "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval("d"+sys.argv[1]))' "$1"; }
r=$(api POST /v1/orders "$d/order.json")
equals "order with a damaged document (no portal signature, repair on): 201" "$(tail -n1 <<<"$r")" 201
link=$(sed '$d' <<<"$r" | jget "['signing_url']")
contains "the log names the repair" "$(cat "$d/click2signd.log")" "document 0 repaired"
jar=$d/jar
C() { curl -s --cacert "$ca" -b "$jar" -c "$jar" "$@"; }
C "$link" -o "$d/start.html"
csrf=$(grep -o 'name="csrf" value="[^"]*"' "$d/start.html" | head -1 | sed 's/.*value="//;s/"//')
C -X POST --data "csrf=$csrf" "$link/otp" -o /dev/null
check "code SMS delivered" wait_for 20 grep -q 'koda' "$d/sms.log"
otp=$(grep 'koda' "$d/sms.log" | tail -1 | cut -f2 | grep -o '[0-9]\{6\}')
loc=$(C -X POST --data "csrf=$csrf&code=$otp" "$link/otp/verify" -o /dev/null -w '%{http_code}')
equals "code accepted" "$loc" 303
C "$link/documents/0.pdf" -o "$d/shown.pdf"
check "the customer is shown the repaired file" cmp -s "$d/shown.pdf" "$d/xref.rep.pdf"
loc=$(C -X POST --data "csrf=$csrf" "$link/documents/0/sign" -o /dev/null -w '%{http_code}')
equals "the customer signs the repaired document" "$loc" 303
C -X POST --data "csrf=$csrf" "$link/finish" -o "$d/fin.html"
contains "confirmation page" "$(cat "$d/fin.html")" 'id="confirmation"'
check "the signed document arrives by e-mail" wait_for 30 bash -c "grep -rl 'contract' '$d/mail' | grep -q eml"
eml=$(grep -rl 'contract' "$d/mail" | tail -1)
"$PY" - "$eml" "$d/signed-contract.pdf" <<'PYEOF'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
for p in m.walk():
    if p.get_filename() == "contract.pdf":
        open(sys.argv[2], "wb").write(p.get_payload(decode=True))
PYEOF
if out=$("$validate" --level B-B "$d/signed-contract.pdf" "$d/xref.rep.pdf" "$ca" 2>&1); then
	ok "the customer's signature on the repaired document: validators accept"
else
	fail "signed contract: ${out:-missing}"
fi

# --- repair off: 403, and orders refuse the damaged file without mentioning repair ---
c2s_stop "$d"
cp "$d/c2s.conf.base" "$d/c2s.conf"
printf '\n[orders]\nportal_signature = off\n' >>"$d/c2s.conf"
c2s_start "$d" || { echo "daemon did not restart"; tail "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
r=$(repair "$d/xref.pdf" "$d/off.rep")
equals "repair off: 403" "${r%% *}" 403
contains "... type repair-disabled" "$(cat "$d/off.rep")" "repair-disabled"
sed -i 's/A1-REPAIR-1/A1-REPAIR-2/' "$d/order.json"
r=$(api POST /v1/orders "$d/order.json")
equals "repair off: the damaged document refuses the order" "$(tail -n1 <<<"$r")" 422
b=$(sed '$d' <<<"$r")
contains "... naming the damage" "$b" "expected n n obj"
if [[ $b != *documents/repair* ]]; then ok "... without pointing to a repair this appliance does not do"; else fail "repair mentioned while off"; fi

# --- portal signature required, repair on: never swapped, the portal is told where to repair ---
c2s_stop "$d"
cp "$d/c2s.conf.base" "$d/c2s.conf"
printf '\n[pades]\nrepair = yes\n' >>"$d/c2s.conf"
c2s_start "$d" || { echo "daemon did not restart"; tail "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
sed -i 's/A1-REPAIR-2/A1-REPAIR-3/' "$d/order.json"
"$PY" "$C2S_SOURCE_DIR/tests/tools/portal_jws.py" --key "$d/portal/key.pem" --aud "$url" \
	"$d/order.json" >"$d/order-signed.json"
r=$(api POST /v1/orders "$d/order-signed.json")
equals "signed manifest over a damaged document: 422" "$(tail -n1 <<<"$r")" 422
contains "... pointing to /v1/documents/repair" "$(sed '$d' <<<"$r")" "/v1/documents/repair"
c2s_no_secrets "$d"
it_done
