#!/usr/bin/env bash
# The keyholder hop at one client thread against the token's raw 1-thread C_Sign rate (the #19
# goal is >= 0.9), and what bounds it: the floor of any synchronous call into another process on
# this machine (ipc_floor: a bare ping-pong over a socketpair) and the same hop without the
# signature (kh_bench ... status). Three machine states, alternated round by round:
#   idle     as the machine is: a CPU with nothing to run halts, and waking it costs time;
#   busy     two nice-19 spinners keep both CPUs running (a loaded appliance's state);
#   one-cpu  client and keyholder pinned to CPU 0 (taskset): wake-ups without a second CPU.
# The bound on the ratio is t_raw / (t_raw + t_floor): the signature's own time plus the floor.
#   tests/bench/hop_bench.sh [ROUNDS] [SECONDS]   (Release build in build/release; ~2 minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD rounds=${1:-3} secs=${2:-3}
export C2S_SOURCE_DIR=$root C2S_BUILD_DIR=${C2S_BUILD_DIR:-$root/build/release}
export C2S_SEAL_RATE=0 C2S_RATE_API=0
. tests/tools/appliance.sh
B=$C2S_BUILD_DIR/tests/bench
W=$(mktemp -d /tmp/c2s-hop-bench.XXXXXX)
spin=()
cleanup() {
	[ ${#spin[@]} -gt 0 ] && kill "${spin[@]}" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
c2s_provision "$W/a" ec:p256 >/dev/null 2>&1 || { echo "provisioning failed" >&2; exit 1; }
export SOFTHSM2_CONF=$W/a/softhsm2.conf
conf=$W/a/c2s.conf
rate() { sed -n 's/.* = \([0-9.]*\)\/s.*/\1/p'; }
res=$W/res.tsv
: >"$res"
for r in $(seq "$rounds"); do
	for state in idle busy one-cpu; do
		pre=()
		if [ "$state" = busy ]; then
			for c in 1 2; do
				nice -n 19 sh -c 'while :; do :; done' &
				spin+=($!)
			done
		fi
		[ "$state" = one-cpu ] && pre=(taskset -c 0)
		raw=$("${pre[@]}" "$B/raw_bench" "$conf" 1 "$secs" | rate)
		hop=$("${pre[@]}" "$B/kh_bench" "$C2S_BUILD_DIR/click2signd" "$conf" 1 "$secs" 2>/dev/null | rate)
		st=$("${pre[@]}" "$B/kh_bench" "$C2S_BUILD_DIR/click2signd" "$conf" 1 "$secs" status 2>/dev/null | rate)
		fl=$("${pre[@]}" "$B/ipc_floor" "$secs" | rate)
		if [ ${#spin[@]} -gt 0 ]; then
			kill "${spin[@]}" 2>/dev/null || true
			wait "${spin[@]}" 2>/dev/null || true
			spin=()
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$state" "$r" "$raw" "$hop" "$st" "$fl" >>"$res"
		printf '  round %d %-7s raw %6.0f/s  hop %6.0f/s  status %6.0f/s  floor %6.0f/s\n' \
			"$r" "$state" "$raw" "$hop" "$st" "$fl"
	done
done
echo
echo "| Machine state | raw C_Sign/s | hop (seal attrs)/s | hop / raw | per round | status round trip | bare ping-pong | bound t_raw/(t_raw+t_floor) | hop / bound |"
echo "|---|---:|---:|---:|---|---:|---:|---:|---:|"
for state in idle busy one-cpu; do
	awk -F'\t' -v s="$state" '$1 == s {
		n++; raw += $3; hop += $4; st += $5; fl += $6; pr = pr (pr ? " / " : "") sprintf("%.2f", $4 / $3)
	} END {
		raw /= n; hop /= n; st /= n; fl /= n
		tr = 1e6 / raw; tf = 1e6 / fl; bound = tr / (tr + tf)
		printf "| %s | %.0f | %.0f | **%.2f** | %s | %.1f us | %.1f us | %.2f | %.2f |\n",
			s, raw, hop, hop / raw, pr, 1e6 / st, tf, bound, (hop / raw) / bound
	}' "$res"
done
