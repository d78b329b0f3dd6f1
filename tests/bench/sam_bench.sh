#!/usr/bin/env bash
# Customer signing under sole control (docs/SAM.md), measured through the real c2s-keyholder over
# IPC (tests/bench/sam_bench.c is the web and notify peer), against the token's raw P-256 C_Sign
# rate (raw_bench, same token, same run), as docs/BENCHMARKS.md "Customer signing" describes:
#   1. latency: one order at a time, p50/p90 of manifest, code, verify (signer mode: the
#      customer's P-256 key generated in SoftHSM2 and the certificate issued), the first and the
#      next signature, order end; signer and seal mode; plus the token's own key generation.
#   2. rate: IPC_SIGN_DOC_REQ under SADs (orders of 32 documents, each signed once), 1 and 2
#      client threads, signer and seal mode, alternated round by round with raw_bench 1 and 2
#      threads; and a breakdown: the keyholder's store on tmpfs (no fsync), many live orders.
#
#   tests/bench/sam_bench.sh [--no-doc] [--quick]
#     --no-doc  print the markdown, do not touch docs/BENCHMARKS.md
#     --quick   short smoke run (numbers are not for the doc)
# Env: BENCH_SECS (seconds of signing per rate measurement, 5), BENCH_ROUNDS (3),
#      BENCH_ORDERS (orders per latency run, 50), BENCH_LIVE (live orders per thread while
#      signing, 2), BENCH_MANY (live orders in the "many live orders" row, 32).
# Everything runs in a temp dir (and, for the no-fsync rows, a dir under /dev/shm); the
# keyholders are children of sam_bench and end with it.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
doc=1
secs=${BENCH_SECS:-5} rounds=${BENCH_ROUNDS:-3} orders=${BENCH_ORDERS:-50} live=${BENCH_LIVE:-2}
many=${BENCH_MANY:-32}
for a in "$@"; do
	case $a in
	--no-doc) doc=0 ;;
	--quick) secs=1 rounds=1 orders=10 many=8 doc=0 ;;
	*) echo "usage: tests/bench/sam_bench.sh [--no-doc] [--quick]" >&2; exit 2 ;;
	esac
done
PY=/usr/bin/python3
for t in gs openssl pkcs11-tool; do
	command -v $t >/dev/null || { echo "missing $t (scripts/deps.sh installs it)" >&2; exit 1; }
done

export C2S_SOURCE_DIR=$root C2S_BUILD_DIR=$root/build/release
echo "== building build/release (Release)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j2 >/dev/null
B=$C2S_BUILD_DIR/tests/bench
KH=$C2S_BUILD_DIR/click2signd
# shellcheck source=../tools/appliance.sh
. "$root/tests/tools/appliance.sh"
export C2S_SEAL_RATE=0

W=$(mktemp -d /tmp/c2s-sambench.XXXXXX)
M=$(mktemp -d /dev/shm/c2s-sambench.XXXXXX) # the keyholder store without fsync cost
res=$W/results.tsv
: >"$res"
cleanup() { rm -rf "$W" "$M"; }
trap cleanup EXIT
t_start=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== provisioning (P-256 seal key, signer mode) under $W"
A=$W/a
{ c2s_provision "$A" ec:p256 && c2s_provision_signer "$A"; } >"$W/provision.log" 2>&1 ||
	{ cat "$W/provision.log" >&2; echo "provisioning failed" >&2; exit 1; }
export SOFTHSM2_CONF=$A/softhsm2.conf
# seal mode: the same appliance without [signer]; the tmpfs variants move [keyholder] state_dir
awk '/^\[signer\]$/ {skip = 1; next} /^\[/ {skip = 0} !skip' "$A/c2s.conf" >"$A/seal.conf"
cp "$A/c2s.conf" "$A/signer.conf"
for c in signer seal; do
	mkdir -m 700 "$M/$c"
	sed "s|^\[keyholder\]\$|[keyholder]\nstate_dir = $M/$c|" "$A/$c.conf" >"$A/$c-tmpfs.conf"
done

echo "== 32 documents (Ghostscript, 2 pages each)"
for i in $(seq 0 31); do
	printf '/Times-Roman findfont 11 scalefont setfont\n1 1 2 { /p exch def 1 1 60 { /l exch def
60 760 l 12 mul sub moveto (Contract %d, clause ) show l 10 string cvs show
(: the parties agree to the terms set out in this agreement, page ) show p 10 string cvs show
} for showpage } for\n' "$i" >"$W/doc.ps"
	gs -q -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -o "$W/doc$(printf %02d "$i").pdf" "$W/doc.ps"
done
docs=("$W"/doc*.pdf)
# token objects (pkcs11-tool, OpenSC): all, and private keys without a label (no order's key)
objects() {
	pkcs11-tool --module "$(sed -n 's/^module = //p' "$A/c2s.conf")" --token-label c2s --login \
		--pin "$(cat "$A/pin")" --list-objects 2>/dev/null |
		awk '/Object;/ {n++; priv = /^Private Key/} /^  label:/ && priv && NF == 1 {u++} END {print n + 0, u + 0}'
}
printf 'objects\tstart\t%s\n' "$(objects)" >>"$res"
portal=$A/portal/key.pem
rate_of() { sed -n 's/.* = \([0-9.]*\)\/s.*/\1/p'; }
errs_of() { sed -n 's/.*\/s, \([0-9]*\) errors.*/\1/p'; }

# sam NAME CONF THREADS LIVE ROUND: one rate measurement
sam() {
	local out
	out=$("$B/sam_bench" rate "$KH" "$A/$2.conf" "$portal" "$3" "$secs" "$4" "${docs[@]}" \
		2>>"$W/kh-$1.log" || true)
	printf 'rate\t%s\t%s\t%s\t%s\t%s\n' "$1" "$3" "$5" "$(echo "$out" | rate_of)" "$(echo "$out" | errs_of)" >>"$res"
	printf '  %-18s %d thr: %s\n' "$1" "$3" "$out"
}
raw() {
	local out
	out=$("$B/raw_bench" "$A/c2s.conf" "$1" "$secs")
	printf 'rate\traw\t%s\t%s\t%s\t0\n' "$1" "$2" "$(echo "$out" | rate_of)" >>"$res"
	printf '  %-18s %d thr: %s\n' raw "$1" "$out"
}
lat() { # NAME CONF ROUND
	"$B/sam_bench" latency "$KH" "$A/$2.conf" "$portal" "$orders" "${docs[@]}" 2>>"$W/kh-lat.log" |
		awk -v n="$1" -v r="$3" '$1 == "lat" {printf "lat\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, r, $2, $4, $5, $6, $7}' >>"$res" ||
		{ echo "sam_bench latency ($1) failed; its last lines:" >&2; tail -3 "$W/kh-lat.log" >&2; exit 1; }
}

for r in $(seq "$rounds"); do
	echo "== round $r/$rounds (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	printf 'load\t%s\t%s\n' "$r" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$res"
	# latency: the token's key generation, then one order at a time in each mode
	"$B/sam_bench" keygen "$A/c2s.conf" "$orders" 2>/dev/null |
		awk -v r="$r" '$1 == "lat" {printf "lat\ttoken\t%s\t%s\t%s\t%s\t%s\t%s\n", r, $2, $4, $5, $6, $7}' >>"$res"
	lat signer signer "$r"
	lat seal seal "$r"
	awk -F'\t' -v r="$r" '$1 == "lat" && $3 == r && ($4 ~ /verify|sign|keygen/) {printf "  latency %-6s %-18s p50 %7s ms  p90 %7s ms\n", $2, $4, $5, $6}' "$res"
	# rate, alternated with the raw limit
	raw 1 "$r"
	sam signer signer 1 "$live" "$r"
	sam seal seal 1 "$live" "$r"
	raw 2 "$r"
	sam signer signer 2 "$live" "$r"
	sam seal seal 2 "$live" "$r"
	# breakdown: no fsync (store on tmpfs), many live orders (signer keys in the token)
	sam signer-tmpfs signer-tmpfs 1 "$live" "$r"
	sam seal-tmpfs seal-tmpfs 1 "$live" "$r"
	sam seal-tmpfs seal-tmpfs 2 "$live" "$r"
	sam signer-many signer 1 "$many" "$r"
done

printf 'objects\tend\t%s\n' "$(objects)" >>"$res"
printf 'keygen_fail\t%s\n' "$(cat "$W"/kh-*.log 2>/dev/null | grep -c 'C_GenerateKeyPair: CKR_' || true)" >>"$res"
elapsed=$(($(date +%s) - t_start))
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
$PY - "$res" "$(date -u +%Y-%m-%d)" \
	"$cpu, $(nproc) cores, $(uname -r), $(df -T "$W" | awk 'NR == 2 {print $2}') under /tmp, SoftHSM2 $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null), load average (1/5/15 min) at start: $load0, at end: $(cut -d' ' -f1-3 /proc/loadavg)" \
	"$secs" "$rounds" "$orders" "$live" "$many" "$elapsed" >"$W/numbers.md" <<'PYEOF'
import statistics as st, sys
res, date, machine, secs, rounds, orders, live, many, elapsed = sys.argv[1:10]
rows = [l.rstrip("\n").split("\t") for l in open(res) if l.strip()]
out = []
p = out.append
m = lambda v: st.mean(v) if v else 0
p(f"_Latest run: {date}, `tests/bench/sam_bench.sh` ({elapsed} s). Machine: {machine}. "
  f"Load average at the start of each round: "
  + "; ".join(f"{r[2]}" for r in rows if r[0] == "load") + "._")
p("")
def lat(mode, part):
    return [(float(r[4]), float(r[5])) for r in rows if r[0] == "lat" and r[1] == mode and r[3] == part]
def rate(name, t):
    return {r[3]: (float(r[4] or 0), int(r[5] or 0)) for r in rows if r[0] == "rate" and r[1] == name and r[2] == str(t)}
raw1, raw2 = rate("raw", 1), rate("raw", 2)
sig_ms = 1000 / m([v[0] for v in raw1.values()]) if raw1 else 0
kg = lat("token", "keygen")
kg50 = st.median([a for a, b in kg]) if kg else 0
p(f"### Latency, one order at a time ({orders} orders per round, {rounds} rounds; p50 / p90 per round, ms)")
p("")
p("| Step | signer mode p50 | signer mode p90 | seal mode p50 | seal mode p90 | token's own work | signer p50 / token |")
p("|---|---|---|---|---|---:|---:|")
floor = {"otp_verify": kg50 + sig_ms, "sign_first": sig_ms, "sign_next": sig_ms,
         "verify+sign_first": kg50 + 2 * sig_ms}
fl_txt = {"otp_verify": "keygen + 1 C_Sign", "sign_first": "1 C_Sign", "sign_next": "1 C_Sign",
          "verify+sign_first": "keygen + 2 C_Sign"}
fmt = lambda v: " / ".join(f"{x:.2f}" for x in v) if v else "-"
for part, name in (("manifest", "manifest (IPC_MANIFEST_REQ)"), ("otp_send", "code sent (IPC_OTP_SEND_REQ)"),
                   ("otp_verify", "code verified (IPC_OTP_VERIFY_REQ)"), ("sign_first", "first signature"),
                   ("verify+sign_first", "**verified code to first signature**"),
                   ("sign_next", "next signature (document 1)"), ("order_end", "order end")):
    s, e = lat("signer", part), lat("seal", part)
    f = floor.get(part)
    ratio = f"{st.median([a for a, b in s]) / f:.1f}x" if f and s else ""
    p(f"| {name} | {fmt([a for a, b in s])} | {fmt([b for a, b in s])} | {fmt([a for a, b in e])} | "
      f"{fmt([b for a, b in e])} | {f'{f:.2f} ms ({fl_txt[part]})' if f else ''} | {ratio} |")
p(f"| token: `hsm_key_generate` P-256, CKA_TOKEN (no keyholder) | {fmt([a for a, b in kg])} | "
  f"{fmt([b for a, b in kg])} | | | | |")
p(f"| token: one raw C_Sign (1 / raw 1-thread rate) | {sig_ms:.3f} | | | | | |")
p("")
p(f"### Signatures per second under SADs vs the token's raw P-256 C_Sign ({rounds} alternated rounds, "
  f"{secs} s of signing each; orders of 32 documents, {live} live orders per client thread)")
p("")
p("| What | Threads | rate/s (mean) | rounds | / raw (same threads) | per-round ratios | errors |")
p("|---|---:|---:|---|---:|---|---:|")
def row(label, name, t, base):
    v = rate(name, t)
    if not v:
        return
    rs = [v[k][0] for k in sorted(v)]
    per = [v[k][0] / base[k][0] for k in sorted(v) if k in base and base[k][0]]
    bm = m([x[0] for x in base.values()])
    p(f"| {label} | {t} | {m(rs):,.0f} | {' / '.join(f'{x:,.0f}' for x in rs)} | "
      f"**{m(rs) / bm if bm else 0:.3f}** | {' / '.join(f'{x:.3f}' for x in per)} | {sum(v[k][1] for k in v)} |")
row("raw C_Sign, P-256 (`raw_bench`, seal key)", "raw", 1, raw1)
row("raw C_Sign, P-256 (`raw_bench`, seal key)", "raw", 2, raw2)
row("signer mode (the order's own key)", "signer", 1, raw1)
row("signer mode (the order's own key)", "signer", 2, raw2)
row("seal mode (`[signer]` off)", "seal", 1, raw1)
row("seal mode (`[signer]` off)", "seal", 2, raw2)
p("")
p("Breakdown (same rounds):")
p("")
p("| Variant | Threads | rate/s (mean) | rounds | ms per signature | / raw | errors |")
p("|---|---:|---:|---|---:|---:|---:|")
def brow(label, name, t, base):
    v = rate(name, t)
    if not v:
        return
    rs = [v[k][0] for k in sorted(v)]
    bm = m([x[0] for x in base.values()])
    p(f"| {label} | {t} | {m(rs):,.0f} | {' / '.join(f'{x:,.0f}' for x in rs)} | "
      f"{1000 / m(rs) if m(rs) else 0:.3f} | {m(rs) / bm if bm else 0:.3f} | {sum(v[k][1] for k in v)} |")
brow("signer mode", "signer", 1, raw1)
brow("signer mode, keyholder store on tmpfs (no fsync)", "signer-tmpfs", 1, raw1)
brow(f"signer mode, {many} live orders ({2 * int(many)} more objects in the token)", "signer-many", 1, raw1)
brow("seal mode", "seal", 1, raw1)
brow("seal mode, keyholder store on tmpfs (no fsync)", "seal-tmpfs", 1, raw1)
brow("seal mode, keyholder store on tmpfs (no fsync)", "seal-tmpfs", 2, raw2)
ob = {r[1]: r[2].split() for r in rows if r[0] == "objects"}
kf = [r[1] for r in rows if r[0] == "keygen_fail"]
if ob:
    p("")
    p(f"Token objects after provisioning: {ob.get('start', ['?'])[0]}; after the run, every order ended: "
      f"{ob.get('end', ['?', '?'])[0]}; unlabelled private keys among them: {ob.get('end', ['?', '?'])[1]}. "
      f"`C_GenerateKeyPair` failures logged by the keyholder: {kf[0] if kf else '?'}.")
print("\n".join(out))
PYEOF
cat "$W/numbers.md"
if [ $doc = 1 ]; then
	md=$root/docs/BENCHMARKS.md
	if grep -q '^<!-- sam:begin -->$' "$md" && grep -q '^<!-- sam:end -->$' "$md"; then
		awk -v f="$W/numbers.md" '/^<!-- sam:begin -->$/ {print; while ((getline l < f) > 0) print l; skip=1; next}
			/^<!-- sam:end -->$/ {skip=0} !skip' "$md" >"$W/doc.md"
		cat "$W/doc.md" >"$md"
		echo "== numbers written into docs/BENCHMARKS.md"
	else
		echo "== docs/BENCHMARKS.md has no sam:begin/end markers; paste the markdown above"
	fi
fi
echo "== done in ${elapsed}s"
