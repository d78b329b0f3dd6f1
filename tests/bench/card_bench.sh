#!/usr/bin/env bash
# Seal rate through the smartcard against the raw signing rate through OpenSC on the same card
# (the emulated test card: private pcscd + vpcd + libcacard bridge, tests/tools/testcard.sh).
#   tests/bench/card_bench.sh        (BENCH_SECS per measurement, default 10)
# Prints one markdown table; docs/BENCHMARKS.md ("Smartcard") keeps the latest.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export C2S_SOURCE_DIR=$root C2S_BUILD_DIR=$root/build/release
secs=${BENCH_SECS:-10}
scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
. tests/tools/appliance.sh
# bursts and benchmarks measure the appliance, not the seal permit (50/s by default)
export C2S_SEAL_RATE=${C2S_SEAL_RATE:-0} C2S_RATE_API=${C2S_RATE_API:-0}
. tests/tools/appliance_card.sh
top=$(mktemp -d /tmp/c2s-card-bench.XXXXXX)
cur=""
trap '[ -z "$cur" ] || c2s_stop_card "$cur"; rm -rf "$top"' EXIT
gs -q -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -o "$top/doc.pdf" \
	-c "/Helvetica findfont 14 scalefont setfont 72 720 moveto (Click2Sign card benchmark) show showpage" >/dev/null
rate() { sed -n 's/.*= \([0-9]*\)\/s.*/\1/p'; }
echo "| seal key on the card | raw C_Sign through OpenSC (1 session) | POST /v1/seal B-B (hey -c 4) | seal / raw |"
echo "|---|---:|---:|---:|"
for key in 2048 3072; do
	cur=$top/$key
	mkdir -p "$cur"
	c2s_provision_card "$cur" "$key" >"$cur/provision.log" 2>&1
	c2s_start_tsa "$cur"
	# raw first, with the daemon not running, so the card serves only the benchmark
	raw=$("$C2S_BUILD_DIR/tests/bench/raw_bench" "$cur/c2s.conf" 1 "$secs" | rate)
	c2s_start "$cur" "$C2S_BUILD_DIR"
	url=https://127.0.0.1:$(cat "$cur/web.port")
	code=$(curl -s --cacert "$cur/pki/root.pem" -H "Authorization: Bearer $(cat "$cur/api-token")" \
		-H 'Content-Type: application/pdf' --data-binary @"$top/doc.pdf" -o "$cur/check.pdf" \
		-w '%{http_code}' "https://127.0.0.1:$(cat "$cur/web.port")/v1/seal")
	[ "$code" = 200 ] && pdfsig "$cur/check.pdf" | grep -q "Signature is Valid" || {
		echo "seal check failed (HTTP $code)" >&2
		exit 1
	}
	seal=$(hey -z "${secs}s" -c 4 -host localhost -m POST -T application/pdf \
		-H "Authorization: Bearer $(cat "$cur/api-token")" -D "$top/doc.pdf" \
		"$url/v1/seal?level=B-B" | awk '/\[200\]/ {n=$2} /Total:/ {t=$2} END {if (t > 0) printf "%d", n / t}')
	echo "| RSA-$key | $raw/s | $seal/s | $(awk -v a="$seal" -v b="$raw" 'BEGIN {printf "%.2f", a / b}') |"
	c2s_stop_card "$cur"
	cur=""
done
