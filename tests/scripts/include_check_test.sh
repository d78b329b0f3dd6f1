#!/usr/bin/env bash
# The include check (scripts/check_includes.py) passes on the tree and fails, naming the file and
# line, on each kind of planted violation: upward, sideways, private header, unresolvable include,
# a folder on no floor, and a cycle.
set -uo pipefail
src=${C2S_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
check=$src/scripts/check_includes.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

out=$(python3 "$check" --root "$src" 2>&1) && ok "the tree follows the floors" || bad "tree: $out"

# A fresh copy of the sources for each planted violation.
fresh() {
	rm -rf "$tmp/t" && mkdir -p "$tmp/t"
	(cd "$src" && git ls-files -- firmware hsm drivers web provisioning tests | grep -E '\.(c|h)$' |
		tar -cf - -T -) | tar -xf - -C "$tmp/t"
}
# expect DESCRIPTION FILE TEXT-TO-APPEND PATTERN
expect() {
	fresh
	printf '%s\n' "$3" >>"$tmp/t/$2"
	line=$(wc -l <"$tmp/t/$2")
	out=$(python3 "$check" --root "$tmp/t" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -q "^$2:$line: .*$4" <<<"$out"; then
		ok "$1 refused: $(grep "^$2:$line" <<<"$out" | head -1)"
	else
		bad "$1 (rc=$rc): $out"
	fi
}
expect "upward include" firmware/base/log.c '#include "firmware/keyholder/keyholder.h"' "upward include"
expect "upward include from hsm" hsm/hsm_sign.c '#include "firmware/pades/cms.h"' "sideways include"
expect "hsm using the keyholder" hsm/hsm_sign.c '#include "web/web.h"' "upward include"
expect "sideways include" web/health.c '#include "firmware/keyholder/keyholder.h"' "sideways include"
expect "private header" firmware/keyholder/keyholder.c '#include "hsm/hsm_int.h"' "private to hsm/"
expect "unresolvable include" firmware/pades/pdf.c '#include "../base/err.h"' "not found"
expect "cycle" firmware/pades/tsa.h '#include "pades.h"' "circular include"

fresh
mkdir -p "$tmp/t/firmware/stray" && echo 'int x;' >"$tmp/t/firmware/stray/x.c"
out=$(python3 "$check" --root "$tmp/t" 2>&1)
[ $? -eq 1 ] && grep -q "firmware/stray/x.c: folder firmware/stray/ is on no floor" <<<"$out" &&
	ok "folder on no floor refused" || bad "stray folder: $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
