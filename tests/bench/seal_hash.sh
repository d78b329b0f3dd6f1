#!/usr/bin/env bash
# A large document's seal against `openssl dgst -sha256` of the same file (docs/BENCHMARKS.md
# "Document hashing"): one P-256 appliance; each round starts the daemon of every build given,
# seals the document once through it (curl time_total of POST /v1/seal?level=B-B, TLS over
# loopback included) after one small warm-up seal, notes c2s-web's peak RSS for that seal, and
# stops it; then times `openssl dgst -sha256` and `sha256sum` of the file (page cache warm).
# Builds alternate round by round so machine noise hits them alike.
#
#   tests/bench/seal_hash.sh BUILD_DIR [BUILD_DIR ...]
# Env: BENCH_MB (document size in MiB, 100), BENCH_ROUNDS (5), BENCH_PADES (lines added to
# [pades]), BENCH_NGINX (1: also nginx answering the same POST with the sealed file).
# Prints one line per build: median seal, median openssl dgst, their ratio, peak copies of the
# document in c2s-web. Everything on 127.0.0.1 in a temp dir; servers stopped by PID.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: tests/bench/seal_hash.sh BUILD_DIR [BUILD_DIR ...]" >&2; exit 2; }
cd "$(dirname "$0")/../.."
root=$PWD
mb=${BENCH_MB:-100} rounds=${BENCH_ROUNDS:-5}
for t in curl pdfsig qpdf openssl sha256sum; do
	command -v $t >/dev/null || { echo "missing $t (scripts/deps.sh installs it)" >&2; exit 1; }
done
builds=("$@")
for b in "${builds[@]}"; do
	[ -x "$b/click2signd" ] || { echo "$b/click2signd: not built" >&2; exit 1; }
done
export C2S_SOURCE_DIR=$root C2S_BUILD_DIR=${builds[0]}
# shellcheck source=../tools/appliance.sh
. "$root/tests/tools/appliance.sh"
export C2S_SEAL_RATE=0 C2S_RATE_API=0

W=$(mktemp -d /tmp/c2s-sealhash.XXXXXX)
chmod 711 "$W" # as root, the daemon's users pass through to the appliance below
cleanup() {
	[ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null
	[ -d "$W/ec" ] && c2s_stop "$W/ec"
	rm -rf "$W"
}
trap cleanup EXIT

c2s_provision "$W/ec" ec:p256 >/dev/null 2>&1 || { echo "provisioning failed" >&2; exit 1; }
sed -i 's/^\[web\]$/[web]\nmax_body = 400M/' "$W/ec/c2s.conf"
printf '\n[pades]\npdf_max = 400M\n%s' "${BENCH_PADES:-}" >>"$W/ec/c2s.conf"
sed -i 's/^log_level = info$/log_level = warn/' "$W/ec/c2s.conf"
c2s_start_tsa "$W/ec" || { echo "TSA did not start" >&2; exit 1; }

f=$W/big.pdf small=$W/small.pdf
/usr/bin/python3 "$root/tests/tools/big_pdf.py" "$f" $((mb * 1048576))
/usr/bin/python3 "$root/tests/tools/big_pdf.py" "$small" 20000
qpdf --check "$f" >/dev/null 2>&1 || { echo "generated PDF is not valid" >&2; exit 1; }
size=$(stat -c %s "$f")
cat "$f" >/dev/null

url() { echo "https://127.0.0.1:$(cat "$W/ec/web.port")/v1/seal?level=B-B"; }
seal() { # IN OUT -> "HTTP_CODE TIME_TOTAL"
	curl -s --cacert "$W/ec/pki/root.pem" -H "Authorization: Bearer $(cat "$W/ec/api-token")" \
		-H 'Content-Type: application/pdf' --data-binary @"$1" -o "$2" \
		-w '%{http_code} %{time_total}' "$(url)"
}
timed() { { TIMEFORMAT=%R; time "$@" >/dev/null; } 2>&1; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# BENCH_NGINX=1: nginx-light as in run.sh (TLS 1.3, P-256, a POST answered with a static file)
# times the same POST of the document answered with the sealed file: moving the bytes alone.
ngport=
if [ -n "${BENCH_NGINX:-}" ]; then
	ng=$W/nginx
	mkdir -p "$ng/www/v1" "$ng/tmp"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$ng/key.pem" -out "$ng/cert.pem" 2>/dev/null
	ngport=$(c2s_free_port)
	cat >"$ng/nginx.conf" <<EOT
user root;
worker_processes auto;
daemon off;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_max_body_size 400m;
	client_body_temp_path $ng/tmp/body;
	proxy_temp_path $ng/tmp/proxy;
	fastcgi_temp_path $ng/tmp/fastcgi;
	uwsgi_temp_path $ng/tmp/uwsgi;
	scgi_temp_path $ng/tmp/scgi;
	server {
		listen 127.0.0.1:$ngport ssl;
		ssl_certificate $ng/cert.pem;
		ssl_certificate_key $ng/key.pem;
		ssl_protocols TLSv1.3;
		root $ng/www;
		location / { error_page 405 =200 \$uri; }
	}
}
EOT
	echo x >"$ng/www/v1/seal"
	nginx -e "$ng/error.log" -p "$ng" -c "$ng/nginx.conf" &
	echo $! >"$W/nginx.pid"
	c2s_wait_http "https://127.0.0.1:$ngport/v1/seal" "$ng/cert.pem" 10 || { echo "nginx did not start" >&2; exit 1; }
fi
echo "== $size bytes, $rounds rounds, builds: ${builds[*]}"
for r in $(seq "$rounds"); do
	for i in "${!builds[@]}"; do
		c2s_start "$W/ec" "${builds[$i]}" || { echo "daemon did not start" >&2; tail "$W/ec/click2signd.log" >&2; exit 1; }
		out=$(seal "$small" /dev/null)
		[ "${out% *}" = 200 ] || { echo "warm-up seal: HTTP $out" >&2; exit 1; }
		web=$(c2s_kid "$W/ec" c2s-web)
		echo 5 >"/proc/$web/clear_refs"
		base=$(awk '/^VmRSS/ {print $2}' "/proc/$web/status")
		out=$(seal "$f" "$W/out.pdf")
		[ "${out% *}" = 200 ] || { echo "seal: HTTP $out: $(head -c 300 "$W/out.pdf")" >&2; exit 1; }
		hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$web/status")
		c2s_stop "$W/ec"
		c2s_start_tsa "$W/ec" >/dev/null || { echo "TSA did not restart" >&2; exit 1; }
		pdfsig "$W/out.pdf" 2>/dev/null | grep -q "Signature is Valid" ||
			{ echo "the sealed document does not verify" >&2; exit 1; }
		echo "${out#* }" >>"$W/seal-$i"
		awk -v h="$hwm" -v b="$base" -v s="$size" 'BEGIN {printf "%.2f\n", (h - b) * 1024 / s}' >>"$W/copies-$i"
		printf '  round %d build %d: seal %ss, c2s-web RSS %s kB -> peak %s kB\n' "$r" "$i" "${out#* }" "$base" "$hwm"
	done
	if [ -n "$ngport" ]; then # the transfer alone: the same POST, the sealed file back
		cp "$W/out.pdf" "$W/nginx/www/v1/seal"
		out=$(curl -s --cacert "$W/nginx/cert.pem" -H 'Content-Type: application/pdf' \
			--data-binary @"$f" -o "$W/ng.out" -w '%{http_code} %{time_total}' \
			"https://127.0.0.1:$ngport/v1/seal")
		[ "${out% *}" = 200 ] && cmp -s "$W/ng.out" "$W/out.pdf" || { echo "nginx: HTTP $out" >&2; exit 1; }
		echo "${out#* }" >>"$W/nginx-t"
		printf '  round %d: nginx, the same POST and answer %ss\n' "$r" "${out#* }"
	fi
	timed openssl dgst -sha256 "$f" >>"$W/openssl"
	timed sha256sum "$f" >>"$W/sha256sum"
	printf '  round %d: openssl dgst %ss, sha256sum %ss\n' "$r" "$(tail -1 "$W/openssl")" "$(tail -1 "$W/sha256sum")"
done
if grep -q "outside its sandbox" "$W/ec/click2signd.log"; then
	echo "a process was killed outside its sandbox:" >&2
	grep "outside its sandbox" "$W/ec/click2signd.log" >&2
	exit 1
fi
o=$(median <"$W/openssl")
h=$(median <"$W/sha256sum")
echo "openssl dgst -sha256: median ${o}s; sha256sum: median ${h}s (same rounds)"
if [ -n "$ngport" ]; then
	n=$(median <"$W/nginx-t")
	awk -v n="$n" -v o="$o" 'BEGIN { printf "nginx, the same POST and answer: median %.3fs, %.2fx openssl dgst\n", n, n / o }'
fi
for i in "${!builds[@]}"; do
	s=$(median <"$W/seal-$i")
	c=$(median <"$W/copies-$i")
	awk -v s="$s" -v o="$o" -v h="$h" -v c="$c" -v b="${builds[$i]}" -v n="$size" 'BEGIN {
		printf "%s: seal median %.3fs (%.1f ms/MB), %.2fx openssl dgst, %.2fx sha256sum, peak %s copies in c2s-web\n",
			b, s, s * 1000 / (n / 1e6), s / o, s / h, c }'
done
