#!/usr/bin/env bash
# TLS session resumption ([web] tls_resume): new connections with a full handshake against
# resumed ones, on one appliance (P-256 certificate), one client at a time.
#   TLS 1.3: tests/bench/tls_resume.py, N connections each way, one GET /v1/health each;
#   TLS 1.2: openssl s_time -new against -reuse, 5 s each (s_time cannot resume TLS 1.3).
#   tests/bench/tls_resume.sh [N]   (Release build in build/release; ~30 s)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD n=${1:-1000}
export C2S_SOURCE_DIR=$root C2S_BUILD_DIR=${C2S_BUILD_DIR:-$root/build/release}
export C2S_RATE_API=0
. tests/tools/appliance.sh
W=$(mktemp -d /tmp/c2s-resume-bench.XXXXXX)
trap 'c2s_stop "$W/a" 2>/dev/null; rm -rf "$W"' EXIT
c2s_provision "$W/a" ec:p256 >/dev/null 2>&1 || { echo "provisioning failed" >&2; exit 1; }
sed -i 's/^log_level = info$/log_level = warn/' "$W/a/c2s.conf"
c2s_start "$W/a" >/dev/null || { echo "daemon did not start" >&2; exit 1; }
port=$(cat "$W/a/web.port") ca=$W/a/pki/root.pem
/usr/bin/python3 tests/bench/tls_resume.py "$port" "$ca" "$n"
for m in -new -reuse; do
	openssl s_time -connect "127.0.0.1:$port" -tls1_2 $m -time 5 -CAfile "$ca" 2>&1 |
		sed -n "s/^\([0-9]*\) connections in \([0-9.]*\)s; \([0-9.]*\) connections\/user sec.*/TLS 1.2 ${m#-}: \1 connections in 5 s (\3 per second of the client CPU)/p"
done
