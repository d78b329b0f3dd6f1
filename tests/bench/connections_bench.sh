#!/usr/bin/env bash
# Thousands of customers' keep-alive connections (issue 19): tests/tools/hold_conns.py holds N
# TLS connections open on the customer listener (from 32 loopback source addresses, under the
# per-address limit), each asking /v1/health every 10 s as a browser keeps a connection alive,
# while hey seals at full rate. Measured on the configured defaults, in the same run:
#   - how many connections were held, refused, dropped;
#   - /v1/health latency for a new client (50 sequential curls): p50, p99, max;
#   - seals per second with and without the held connections;
#   - c2s-web's resident memory and threads, idle and holding.
#
#   tests/bench/connections_bench.sh [N]      (N default 2000; prints a markdown section)
# Env: BENCH_HEY (hey seconds, 10), BENCH_HEY_C (hey workers, 8), C2S_BUILD_DIR (a Release build;
#      default: builds build/release).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
N=${1:-2000}
heys=${BENCH_HEY:-10} heyc=${BENCH_HEY_C:-8}
PY=/usr/bin/python3
for t in hey curl gs; do
	command -v $t >/dev/null || { echo "missing $t (scripts/deps.sh installs it)" >&2; exit 1; }
done
if [ -z "${C2S_BUILD_DIR:-}" ]; then
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build/release -j"$(nproc)" >/dev/null
	export C2S_BUILD_DIR=$root/build/release
fi
export C2S_SOURCE_DIR=$root C2S_SEAL_RATE=0 C2S_RATE_API=0
. tests/tools/appliance.sh
W=$(mktemp -d /tmp/c2s-conn-bench.XXXXXX)
trap 'kill "$(cat "$W/hold.pid" 2>/dev/null)" 2>/dev/null; c2s_stop "$W/app"; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$W"' EXIT
mkdir -p "$W/app"
c2s_provision "$W/app" ec:p256 >"$W/provision.log" 2>&1 || { cat "$W/provision.log"; exit 1; }
c2s_start "$W/app" >/dev/null || { echo "daemon did not start" >&2; exit 1; }
port=$(cat "$W/app/web.port") ca=$W/app/pki/root.pem tok=$(cat "$W/app/api-token")
url=https://127.0.0.1:$port
gs -q -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -o "$W/doc.pdf" -c "showpage" >/dev/null
web() { pgrep -x c2s-web -P "$(cat "$W/app/click2signd.pid")" | head -1; }
mem() { awk '/^VmRSS/ {r = $2} /^VmHWM/ {h = $2} /^Threads/ {t = $2} END {printf "%d %d %d", r / 1024, h / 1024, t}' "/proc/$(web)/status"; }
health() { # 50 new clients, one after the other: p50 p99 max in ms, and failures
	local i
	for i in $(seq 50); do
		curl -s -o /dev/null --max-time 5 --cacert "$ca" -w '%{http_code} %{time_total}\n' "$url/v1/health" || echo "000 5"
	done | sort -k2,2g | awk '{ if ($1 != 200) f++; t[NR] = $2 * 1000 } END { printf "%.0f %.0f %.0f %d", t[int(NR * 0.5)], t[int(NR * 0.99)], t[NR], f }'
}
seals() { # seals/s of 200 answers, and answers that were not 200
	hey -z "${heys}s" -c "$heyc" -host localhost -m POST -T application/pdf \
		-H "Authorization: Bearer $tok" -D "$W/doc.pdf" "$url/v1/seal?level=B-B" >"$W/hey.txt" 2>&1
	local ok total secs
	ok=$(sed -n 's/^ *\[200\][[:space:]]*\([0-9]*\) responses.*/\1/p' "$W/hey.txt")
	total=$(sed -n 's/^ *\[[0-9]*\][[:space:]]*\([0-9]*\) responses.*/\1/p' "$W/hey.txt" | awk '{s += $1} END {print s + 0}')
	secs=$(sed -n 's/^ *Total:[[:space:]]*\([0-9.]*\) secs.*/\1/p' "$W/hey.txt")
	awk -v ok="${ok:-0}" -v t="${total:-0}" -v s="${secs:-1}" 'BEGIN {printf "%.0f %d", ok / s, t - ok}'
}
read -r idle_rss _ idle_thr <<<"$(mem)"
read -r h0_50 h0_99 h0_max h0_f <<<"$(health)"
read -r s0 s0_bad <<<"$(seals)"
per=$(((N + 31) / 32))
"$PY" tests/tools/hold_conns.py --port "$port" --cafile "$ca" --sources 10-41 --per-source "$per" \
	--status "$W/hold.status" >"$W/hold.log" 2>&1 &
echo $! >"$W/hold.pid"
for _ in $(seq 600); do grep -q ready "$W/hold.status" 2>/dev/null && break; sleep 0.2; done
read -r _ held failed <"$W/hold.status"
read -r hold_rss _ hold_thr <<<"$(mem)"
read -r h1_50 h1_99 h1_max h1_f <<<"$(health)"
seals >"$W/seals1" &
sp=$!
sleep 2 # health while the seals run at full rate
read -r h2_50 h2_99 h2_max h2_f <<<"$(health)"
wait "$sp"
read -r s1 s1_bad <"$W/seals1" || true # no newline after the numbers
read -r _ _ peak_thr <<<"$(mem)"
read -r _ peak_rss _ <<<"$(mem)"
kill "$(cat "$W/hold.pid")"
for _ in $(seq 100); do grep -q '^end' "$W/hold.status" && break; sleep 0.2; done
read -r _ held_end _ dropped < <(grep '^end' "$W/hold.status" || echo "end ? ? ?")

echo "## Thousands of customers' connections"
echo
echo "\`tests/bench/connections_bench.sh $N\` on $(date -u +%Y-%m-%d), $(nproc) cores: the default [web]"
echo "max_connections and max_per_ip, seals B-B with a P-256 key, hey -c $heyc for ${heys} s."
echo
echo "| | idle | holding $((per * 32)) connections |"
echo "|---|---|---|"
echo "| connections held / refused / dropped | — | $held / $failed / $dropped (held at the end: $held_end) |"
echo "| /v1/health, new client, p50 / p99 / max ms (failures of 50) | $h0_50 / $h0_99 / $h0_max ($h0_f) | $h1_50 / $h1_99 / $h1_max ($h1_f); while sealing at full rate: $h2_50 / $h2_99 / $h2_max ($h2_f) |"
echo "| seals/s (answers not 200) | $s0 ($s0_bad) | $s1 ($s1_bad) |"
echo "| c2s-web RSS MiB / threads | $idle_rss / $idle_thr | $hold_rss / $hold_thr (peak RSS $peak_rss MiB, $peak_thr threads) |"
