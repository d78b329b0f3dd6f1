#!/usr/bin/env bash
# What reading every document first in a limited child costs (pdf_probe, [pades] parse_cpu):
# POST /v1/seal (B-B, P-256, the 34 KB contract of run.sh) under hey, one appliance restarted
# between parse_cpu = 1 (the default: probe) and parse_cpu = 0 (no probe), alternated round by
# round so that machine noise hits both; and the same for a 10 MB document (one request at a time).
#   tests/bench/probe_bench.sh [ROUNDS]   (Release build in build/release; ~2 minutes)
# Env: BENCH_HEY (hey seconds, 10), BENCH_HEY_C (workers, 8).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD rounds=${1:-2} heys=${BENCH_HEY:-10} heyc=${BENCH_HEY_C:-8}
export C2S_SOURCE_DIR=$root C2S_BUILD_DIR=${C2S_BUILD_DIR:-$root/build/release}
export C2S_SEAL_RATE=0 C2S_RATE_API=0
. tests/tools/appliance.sh
W=$(mktemp -d /tmp/c2s-probe-bench.XXXXXX)
trap 'c2s_stop "$W/a" 2>/dev/null; rm -rf "$W"' EXIT
c2s_provision "$W/a" ec:p256 >/dev/null 2>&1 || { echo "provisioning failed" >&2; exit 1; }
cp "$W/a/c2s.conf" "$W/base.conf"
printf '/Times-Roman findfont 11 scalefont setfont\n1 1 46 { /p exch def 1 1 60 { /l exch def
60 760 l 12 mul sub moveto (Clause ) show l 10 string cvs show
(: the parties agree to the terms, conditions and schedules set out in this agreement, page ) show
p 10 string cvs show } for showpage } for\n' >"$W/doc.ps"
gs -q -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -o "$W/doc34k.pdf" "$W/doc.ps"
/usr/bin/python3 tests/tools/big_pdf.py "$W/doc10m.pdf" 10000000
start() { # PARSE_CPU
	c2s_stop "$W/a" 2>/dev/null || true
	cp "$W/base.conf" "$W/a/c2s.conf"
	printf '\n[pades]\nparse_cpu = %s\nparse_parallel = %s\n' "$1" "${BENCH_PARALLEL:-4}" >>"$W/a/c2s.conf"
	c2s_start "$W/a" >/dev/null || { echo "daemon did not start" >&2; exit 1; }
}
url() { echo "https://127.0.0.1:$(cat "$W/a/web.port")/v1/seal?level=B-B"; }
rate() { # -> 200s per second
	hey -z "${heys}s" -c "$heyc" -host localhost -m POST -T application/pdf \
		-H "Authorization: Bearer $(cat "$W/a/api-token")" -D "$W/doc34k.pdf" "$(url)" >"$W/hey.txt" 2>&1
	local ok secs
	ok=$(sed -n 's/^ *\[200\][[:space:]]*\([0-9]*\) responses.*/\1/p' "$W/hey.txt")
	secs=$(sed -n 's/^ *Total:[[:space:]]*\([0-9.]*\) secs.*/\1/p' "$W/hey.txt")
	awk -v o="${ok:-0}" -v s="${secs:-1}" 'BEGIN {printf "%.1f", o / s}'
}
big() { # -> median seconds of 5 sealings of the 10 MB document
	for _ in 1 2 3 4 5; do
		curl -s -o /dev/null -w '%{time_total}\n' --cacert "$W/a/pki/root.pem" \
			-H "Authorization: Bearer $(cat "$W/a/api-token")" -H 'Content-Type: application/pdf' \
			--data-binary @"$W/doc10m.pdf" "$(url)"
	done | sort -n | sed -n 3p
}
echo "round  probe(seals/s)  none(seals/s)  ratio   10MB probe(s)  10MB none(s)"
for r in $(seq 1 "$rounds"); do
	start 1; p=$(rate); pb=$(big)
	start 0; n=$(rate); nb=$(big)
	awk -v r="$r" -v p="$p" -v n="$n" -v pb="$pb" -v nb="$nb" \
		'BEGIN {printf "%5d  %14.1f  %13.1f  %5.2f   %13.3f  %12.3f\n", r, p, n, p / n, pb, nb}'
done
