#!/usr/bin/env bash
# POST /v1/seal end to end: real daemon, SoftHSM2 RSA-3072 seal key, local TSA and CRLs,
# a corpus from several producers, independent validators (tests/tools/validate_pdf.sh).
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
# bursts and benchmarks measure the appliance, not the seal permit (50/s by default)
export C2S_SEAL_RATE=${C2S_SEAL_RATE:-0}
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
d=$(mktemp -d /tmp/c2s-seal-test.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
c2s_provision "$d" rsa:3072 2>/dev/null || { echo "provisioning failed"; exit 1; }
c2s_start_tsa "$d" || { echo "TSA did not start"; exit 1; }
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
ca=$d/pki/root.pem
tok=$(cat "$d/api-token")
"$C2S_SOURCE_DIR/tests/tools/make_corpus.sh" "$d/corpus" >/dev/null || { echo "corpus failed"; exit 1; }
validate="$C2S_SOURCE_DIR/tests/tools/validate_pdf.sh"
seal() { # IN OUT LEVEL -> prints HTTP status
	curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' \
		--data-binary @"$1" -o "$2" -w '%{http_code}' "$url/v1/seal?level=$3"
}

# every signable corpus file, B-B; a few producers at B-T and B-LT
for f in "$d"/corpus/*.pdf; do
	n=$(basename "$f" .pdf)
	case $n in refuse-*) continue ;; esac
	code=$(seal "$f" "$d/$n.bb.pdf" B-B)
	if [ "$code" = 200 ] && out=$("$validate" --level B-B "$d/$n.bb.pdf" "$f" "$ca" 2>&1); then
		ok "B-B $n: validators accept"
	else
		fail "B-B $n: HTTP $code: $(tail -c 600 "$d/$n.bb.pdf" 2>/dev/null | tr -d '\0' | head -c 300) ${out:-}"
	fi
done
for n in gs qpdf-objstm qpdf-linear hybrid incremental; do
	for lv in B-T B-LT; do
		code=$(seal "$d/corpus/$n.pdf" "$d/$n.$lv.pdf" $lv)
		if [ "$code" = 200 ] && out=$("$validate" --level $lv "$d/$n.$lv.pdf" "$d/corpus/$n.pdf" "$ca" 2>&1); then
			ok "$lv $n: validators accept"
		else
			fail "$lv $n: HTTP $code: ${out:-}"
		fi
	done
done
contains "B-LT embeds the CRLs in /DSS" "$(qpdf --qdf --object-streams=disable "$d/gs.B-LT.pdf" - 2>/dev/null | grep -a -c '/CRLs')" "1"

# sealing a sealed file keeps the first signature valid
code=$(seal "$d/gs.B-T.pdf" "$d/gs.twice.pdf" B-B)
if [ "$code" = 200 ] && out=$("$validate" --level B-B --sigs 2 "$d/gs.twice.pdf" "$d/gs.B-T.pdf" "$ca" 2>&1); then
	ok "second seal over a B-T file: both signatures valid"
else
	fail "second seal: HTTP $code ${out:-}"
fi

# the generated corpus's files with harmless producer defects (tests/tools/hostile_pdfs.py): each
# sealed as it is and validated; its hostile ones refused
/usr/bin/python3 "$C2S_SOURCE_DIR/tests/tools/hostile_pdfs.py" "$d/hostile" >/dev/null ||
	fail "hostile corpus not generated"
while IFS=$'\t' read -r f want what; do
	n=${f%.pdf}
	code=$(seal "$d/hostile/$f" "$d/hostile/$n.sealed" B-B)
	case $want in
	ok)
		sigs=1
		[ "$n" = ok-signpdf ] && sigs=2
		if [ "$code" = 200 ] && out=$("$validate" --level B-B --sigs $sigs "$d/hostile/$n.sealed" "$d/hostile/$f" "$ca" 2>&1); then
			ok "corpus $n ($what): sealed as it is, validators accept"
		else
			fail "corpus $n: HTTP $code: ${out:-$(head -c 300 "$d/hostile/$n.sealed")}"
		fi
		;;
	*) equals "corpus $n: refused ($what)" "$code" 422 ;;
	esac
done <"$d/hostile/expect.tsv"

# refusals: exact reason, 422, nothing signed
for n in refuse-encrypted-user:encrypted refuse-encrypted-owner:encrypted \
	refuse-certified-docmdp:"no changes allowed" refuse-damaged-truncated:damaged \
	refuse-damaged-xref:damaged refuse-notpdf-text:"not a PDF"; do
	f=${n%%:*}
	want=${n#*:}
	code=$(seal "$d/corpus/$f.pdf" "$d/$f.out" B-B)
	body=$(cat "$d/$f.out")
	equals "$f: HTTP 422" "$code" 422
	contains "$f: problem names the reason" "$body" "$want"
	contains "$f: problem type invalid-document" "$body" "/invalid-document"
done
before=$(curl -s --cacert "$ca" "$url/v1/health" | grep -o '"signatures":[0-9]*')
seal "$d/corpus/refuse-encrypted-user.pdf" /dev/null B-B >/dev/null
after=$(curl -s --cacert "$ca" "$url/v1/health" | grep -o '"signatures":[0-9]*')
equals "a refused document costs no signature" "$after" "$before"

# the TSA goes away: B-T fails with a clear 502, B-B still works
kill "$(cat "$d/tsa.pid")"
rm -f "$d/tsa.pid"
code=$(seal "$d/corpus/gs.pdf" "$d/notsa.out" B-T)
equals "B-T without a TSA: 502" "$code" 502
contains "B-T without a TSA: names the TSA" "$(cat "$d/notsa.out")" "tsa"
code=$(seal "$d/corpus/gs.pdf" "$d/bb-after.pdf" B-B)
equals "B-B still works without the TSA" "$code" 200

# keyholder killed in the middle of a burst: each answer is a valid seal or a clear 503
mkdir -p "$d/burst"
seq 1 60 | xargs -P 4 -I{} sh -c "curl -s --cacert '$ca' -H 'Authorization: Bearer $tok' -H 'Content-Type: application/pdf' --data-binary @'$d/corpus/cairo.pdf' -o '$d/burst/{}.out' -w '%{http_code}' '$url/v1/seal?level=B-B' >'$d/burst/{}.code'" &
burst=$!
sleep 0.4
kill -9 "$(c2s_kid "$d" c2s-keyholder)"
wait $burst
good=0 clear=0 bad=0
for c in "$d"/burst/*.code; do
	o=${c%.code}.out
	case $(cat "$c") in
	200) if pdfsig "$o" 2>/dev/null | grep -q "Signature is Valid"; then good=$((good + 1)); else bad=$((bad + 1)); fi ;;
	503) if grep -q '"status":503' "$o"; then clear=$((clear + 1)); else bad=$((bad + 1)); fi ;;
	*) bad=$((bad + 1)) ;;
	esac
done
echo "burst: $good valid seals, $clear clear 503s, $bad other"
equals "burst: no wrong or unclear answer" "$bad" 0
check "burst: most requests were sealed" test "$good" -ge 40
check "sealing works again after the restart" wait_for 15 bash -c "[ \$(curl -s --cacert '$ca' -H 'Authorization: Bearer $tok' -H 'Content-Type: application/pdf' --data-binary @'$d/corpus/mupdf.pdf' -o /dev/null -w '%{http_code}' '$url/v1/seal') = 200 ]"
c2s_stop "$d" # the processes write their leak reports on exit
no_sanitizer_reports "$d/click2signd.log"
c2s_no_secrets "$d"
it_done
