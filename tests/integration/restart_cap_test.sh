#!/usr/bin/env bash
# A child that keeps failing right after its start is not restarted forever: after 10 failures
# in a row (each within 30 s of its start) the daemon stops with the reason, and its ports
# close, instead of keeping a port that never answers. Here c2s-notify is killed each time it
# comes back (about 35 s, most of it the restart backoff).
set -uo pipefail
. "$C2S_SOURCE_DIR/tests/tools/appliance.sh"
. "$C2S_SOURCE_DIR/tests/tools/itlib.sh"
d=$(mktemp -d /tmp/c2s-restart-cap-test.XXXXXX)
trap 'c2s_stop "$d"; rm -rf "$d"' EXIT
c2s_provision "$d" ec:p256 >"$d/provision.log" 2>&1 || { cat "$d/provision.log"; exit 1; }
c2s_start "$d" || { echo "daemon did not start"; cat "$d/click2signd.log"; exit 1; }
pid=$(cat "$d/click2signd.pid")
url=https://127.0.0.1:$(cat "$d/web.port")
kills=0
for _ in $(seq 900); do # up to 90 s
	[ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || break
	n=$(pgrep -x c2s-notify -P "$pid" | head -1)
	if [ -n "$n" ]; then
		kill -9 "$n" 2>/dev/null && kills=$((kills + 1))
	fi
	sleep 0.1
done
check "the daemon stopped by itself (after $kills kills)" bash -c "[ ! -e /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status"
wait "$pid" 2>/dev/null
rc=$?
equals "... with exit status 1" "$rc" 1
contains "... saying which process kept failing and that it stopped" "$(cat "$d/click2signd.log")" \
	"c2s-notify failed 10 times in a row"
check "... and nothing listens on its port any more" bash -c "! curl -s -o /dev/null --max-time 2 -k '$url/v1/health'"
check "... and no child is left" bash -c "! pgrep -P $pid"
rm -f "$d/click2signd.pid"
it_done
