#!/usr/bin/env bash
# An expiring and an expired seal certificate (the appliance clock moved with the test clock):
# health says degraded with the date from [daemon] expiry_warning_days before the end, then 503
# once it has ended; seals are refused with a problem naming the certificate and the date;
# the metric counts down; the log says it. Before, an expired seal certificate kept sealing
# with health "ok" and nothing logged.
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
PY=/usr/bin/python3
d=$(mktemp -d /tmp/c2s-expiry-test.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
export C2S_TEST_CLOCK_FILE=$d/clock
echo 0 >"$C2S_TEST_CLOCK_FILE"
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
url=https://127.0.0.1:$(cat "$d/web.port")
ca=$d/pki/root.pem
tok=$(cat "$d/api-token")
health() { curl -s --cacert "$ca" -w '\n%{http_code}' "$url/v1/health"; }
jget() { "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval("d"+sys.argv[1]))' "$1"; }
printf '%%!PS\n/Helvetica findfont 12 scalefont setfont 72 720 moveto (x) show showpage\n' >"$d/x.ps"
ps2pdf "$d/x.ps" "$d/x.pdf"
seal() { curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -H 'Content-Type: application/pdf' \
	--data-binary @"$d/x.pdf" -o "$d/seal.out" -w '%{http_code}' "$url/v1/seal?level=B-B"; }

check "health ok" wait_for 20 bash -c "curl -sf --cacert '$ca' '$url/v1/health' | grep -q '\"status\":\"ok\"'"
h=$(health)
na=$(sed '$d' <<<"$h" | jget "['keys']['seal']['not_after']")
check "health names the seal certificate's end ($na)" test -n "$na"
na_s=$(date -d "$na" +%s)
equals "a seal now: 200" "$(seal)" 200
m=$(curl -s --cacert "$ca" "$url/metrics")
check "c2s_certificate_expiry_seconds{key=\"seal\"} counts down from about $((na_s - $(date +%s))) s" \
	grep -qE '^c2s_certificate_expiry_seconds\{key="seal"\} [1-9][0-9]+' <<<"$m"

# 10 days before the end (the warning starts 30 days before)
echo $((na_s - $(date +%s) - 10 * 86400)) >"$C2S_TEST_CLOCK_FILE"
h=$(health)
equals "10 days before: health still answers 200" "$(tail -n1 <<<"$h")" 200
equals "... status degraded" "$(sed '$d' <<<"$h" | jget "['status']")" degraded
contains "... the reason names the certificate and the date" "$(sed '$d' <<<"$h")" "the seal certificate '"
contains "... and its name" "$(sed '$d' <<<"$h")" "CN=Click2Sign Demo Seal"
contains "... and what to do" "$(sed '$d' <<<"$h")" "renew it"
equals "... seals still work" "$(seal)" 200

# a day after the end
echo $((na_s - $(date +%s) + 86400)) >"$C2S_TEST_CLOCK_FILE"
h=$(health)
equals "after the end: health 503" "$(tail -n1 <<<"$h")" 503
contains "... saying it expired" "$(sed '$d' <<<"$h")" "expired on"
equals "a seal after the end: 503" "$(seal)" 503
contains "... problem seal-certificate-expired" "$(cat "$d/seal.out")" "problems/seal-certificate-expired"
contains "... naming the certificate and the date" "$(cat "$d/seal.out")" "${na:0:10}"
m=$(curl -s --cacert "$ca" "$url/metrics")
check "the metric is negative" grep -qE '^c2s_certificate_expiry_seconds\{key="seal"\} -[0-9]+' <<<"$m"
no_sanitizer_reports "$d/click2signd.log"
it_done
