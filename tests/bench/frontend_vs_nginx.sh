#!/usr/bin/env bash
# The same hostile HTTP clients against c2s-web and against nginx configured alike (TLS 1.2/1.3,
# the appliance's server certificate, header and body timeouts of 10 s, 32 MiB bodies), side by
# side: what each answers to request-smuggling shapes and control characters, how long slowloris
# connections live, how fast /v1/health answers meanwhile, and memory afterwards.
#   tests/bench/frontend_vs_nginx.sh [SLOW_CLIENTS]      (default 100; about 1 minute)
# Prints a Markdown section; docs/BENCHMARKS.md has the latest one.
set -uo pipefail
cd "$(dirname "$0")/../.."
export C2S_SOURCE_DIR=$PWD C2S_BUILD_DIR=${C2S_BUILD_DIR:-$PWD/build/release}
. tests/tools/appliance.sh
N=${1:-100}
W=$(mktemp -d /tmp/c2s-fe-bench.XXXXXX)
trap '[ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; c2s_stop "$W/app" 2>/dev/null; rm -rf "$W"' EXIT
PY=/usr/bin/python3
command -v nginx >/dev/null || { echo "nginx is missing (scripts/deps.sh installs nginx-light)" >&2; exit 1; }

c2s_provision "$W/app" ec:p256 >"$W/provision.log" 2>&1 || { cat "$W/provision.log"; exit 1; }
printf '\n[web]\nheader_timeout = 10\nmax_connections = 1024\nmax_per_ip = 1024\n' >>"$W/app/c2s.conf"
sed -i 's/^log_level = info$/log_level = warn/' "$W/app/c2s.conf"
c2s_start "$W/app" || { echo "appliance did not start" >&2; exit 1; }
app_port=$(cat "$W/app/web.port")
ca=$W/app/pki/root.pem

ng=$W/nginx
mkdir -p "$ng/tmp"
ng_port=$(c2s_free_port)
cat >"$ng/nginx.conf" <<EOT
user root;
worker_processes 2;
daemon off;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $ng/tmp/body;
	proxy_temp_path $ng/tmp/proxy;
	fastcgi_temp_path $ng/tmp/fastcgi;
	uwsgi_temp_path $ng/tmp/uwsgi;
	scgi_temp_path $ng/tmp/scgi;
	client_header_timeout 10s;
	client_body_timeout 10s;
	client_max_body_size 32m;
	server {
		listen 127.0.0.1:$ng_port ssl;
		ssl_certificate $W/app/pki/server/cert.pem;
		ssl_certificate_key $W/app/pki/server/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		location / { return 200 '{"status":"ok"}\n'; }
	}
}
EOT
nginx -e "$ng/error.log" -p "$ng" -c "$ng/nginx.conf" &
echo $! >"$W/nginx.pid"
c2s_wait_http "https://127.0.0.1:$ng_port/v1/health" "$ca" 10 || { echo "nginx did not start" >&2; exit 1; }

raw() { "$PY" tests/tools/rawhttp.py --ca "$ca" "$@"; }
answer() { # PORT REQUEST -> "status (n responses)"
	local out n
	out=$(raw --port "$1" --timeout 4 "$2")
	n=$(grep -c '^HTTP/1\.[01] [0-9]' <<<"$out")
	printf '%s%s' "$(head -n1 <<<"$out" | cut -d' ' -f2)" "$([ "$n" -gt 1 ] && echo " + a second response")"
}
echo "## Front end vs nginx under hostile clients"
echo
echo "\`tests/bench/frontend_vs_nginx.sh $N\` on $(date -u +%Y-%m-%d), $(nproc) cores; both on loopback with the same server certificate, 10 s header timeout."
echo
echo "| request | c2s-web | nginx |"
echo "|---|---|---|"
H='Host: a\r\nConnection: close\r\n'
while IFS='|' read -r what req; do
	printf '| %s | %s | %s |\n' "$what" "$(answer "$app_port" "$req")" "$(answer "$ng_port" "$req")"
done <<EOT
two Host headers|GET /v1/health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n
no Host (HTTP/1.1)|GET /v1/health HTTP/1.1\r\nConnection: close\r\n\r\n
two Content-Lengths|POST /v1/health HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab
Content-Length + chunked, request smuggled behind|POST /v1/health HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: a\r\n\r\n
Transfer-Encoding: gzip, chunked|POST /v1/health HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n
/metrics%00.png|GET /metrics%00.png HTTP/1.1\r\n${H}\r\n
control character in a header value|GET /v1/health HTTP/1.1\r\nX-A: b\x01c\r\n${H}\r\n
NUL in a header value|GET /v1/health HTTP/1.1\r\nX-A: b\x00c\r\n${H}\r\n
obs-fold|GET /v1/health HTTP/1.1\r\nX-A: b\r\n c\r\n${H}\r\n
space before the colon|GET /v1/health HTTP/1.1\r\nHost : a\r\nConnection: close\r\n\r\n
bare CR|GET /v1/health HTTP/1.1\r\nHost: a\rX-B: c\r\nConnection: close\r\n\r\n
Content-Length: 1x|POST /v1/health HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\nConnection: close\r\n\r\n
EOT
tls_ok() { timeout 10 openssl s_client -connect "127.0.0.1:$1" -CAfile "$ca" "${@:2}" </dev/null >/dev/null 2>&1 && echo served || echo refused; }
printf '| TLS 1.3 ClientHello offering only ffdhe8192 | %s | %s |\n' "$(tls_ok "$app_port" -tls1_3 -groups ffdhe8192)" "$(tls_ok "$ng_port" -tls1_3 -groups ffdhe8192)"
printf '| TLS 1.2, DHE key exchange only | %s | %s |\n' "$(tls_ok "$app_port" -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256:DHE-ECDSA-AES128-GCM-SHA256)" "$(tls_ok "$ng_port" -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256:DHE-ECDSA-AES128-GCM-SHA256)"

slowloris() { # PORT -> "max lifetime s, health p50/max ms while they run"
	local port=$1 pids=() i
	for i in $(seq "$N"); do
		raw --port "$port" --timeout 40 --drip 1 --pause 1 'GET /v1/health HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n' >"$W/slow-$port-$i" 2>&1 &
		pids+=($!)
	done
	sleep 2
	local lat=()
	for i in $(seq 10); do
		lat+=("$(curl -s --cacert "$ca" -o /dev/null -w '%{time_total}' --max-time 5 "https://127.0.0.1:$port/v1/health")")
		sleep 0.5
	done
	wait "${pids[@]}"
	"$PY" - "$W" "$port" "${lat[@]}" <<'EOF'
import glob, re, statistics, sys
w, port, lat = sys.argv[1], sys.argv[2], [float(x) * 1000 for x in sys.argv[3:]]
t = [float(re.search(r"elapsed ([0-9.]+)", open(f).read()).group(1)) for f in glob.glob(f"{w}/slow-{port}-*")]
print("%.1f s | health p50 %.0f ms, max %.0f ms" % (max(t), statistics.median(lat), max(lat)), end="")
EOF
}
rss() { ps -o rss= -p "$1" | awk '{s+=$1} END {print int(s/1024)}'; }
a=$(slowloris "$app_port")
n=$(slowloris "$ng_port")
printf '| %d slowloris clients (1 byte/s): longest life | %s | %s |\n' "$N" "${a%% |*}" "${n%% |*}"
printf '| ... /v1/health meanwhile | %s | %s |\n' "${a#*| }" "${n#*| }"
webpid=$(pgrep -x c2s-web -P "$(cat "$W/app/click2signd.pid")" | head -1)
ngpids="$(cat "$ng/nginx.pid"),$(pgrep -P "$(cat "$ng/nginx.pid")" | paste -sd,)"
printf '| memory afterwards | %s MiB (c2s-web) | %s MiB (master + workers) |\n' "$(rss "$webpid")" "$(rss "$ngpids")"
