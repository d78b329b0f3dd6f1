#!/usr/bin/env bash
# Every JSON parse and dump goes through firmware/base/json (c2s_json_parse, c2s_json_dumps,
# c2s_json_dump_callback): jansson 2.14 called directly returns an altered document or text
# after a failed allocation (see firmware/base/json.h). Fails naming each direct call.
set -uo pipefail
src=${C2S_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src" || exit 1
hits=$(git ls-files -- firmware hsm drivers web provisioning | grep -E '\.(c|h)$' |
	grep -v '^firmware/base/json\.[ch]$' |
	xargs grep -nE '\bjson_(loads|loadb|loadf|loadfd|load_file|load_callback|dumps|dumpb|dumpf|dumpfd|dump_file|dump_callback)[[:space:]]*\(' || true)
if [ -n "$hits" ]; then
	echo "FAIL: direct jansson parse/dump calls (use firmware/base/json.h):"
	echo "$hits"
	exit 1
fi
echo "ok: every JSON parse and dump goes through firmware/base/json"
