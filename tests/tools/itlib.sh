# Assertions for the integration tests (sourced). Each check prints ok/FAIL; the test ends
# with it_done, which prints "N passed, N failed" and sets the exit code.
it_pass=0
it_fail=0
ok() { it_pass=$((it_pass + 1)); echo "ok   - $*"; }
fail() { it_fail=$((it_fail + 1)); echo "FAIL - $*"; }
# check "what" command...: passes when the command succeeds
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
# contains "what" haystack needle
contains() {
	if [[ "$2" == *"$3"* ]]; then ok "$1"; else fail "$1 (expected to find '$3' in: ${2:0:400})"; fi
}
equals() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (expected '$3', got '$2')"; fi
}
it_done() {
	echo "$it_pass passed, $it_fail failed"
	[ "$it_fail" -eq 0 ]
}
# wait_for SECONDS command...: retry every 0.1 s
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	return 1
}
# no_sanitizer_reports LOG: the daemon's processes ran clean under ASan/UBSan/LSan
no_sanitizer_reports() {
	if grep -qE "runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer" "$1" 2>/dev/null; then
		fail "sanitizer report in $1: $(grep -m1 -E 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$1")"
		grep -A30 -m1 -E 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$1" | head -60 >&2
	else
		ok "no sanitizer report in the daemon log"
	fi
	# and no process killed by its seccomp filter (firmware/base/sandbox.c), at work or stopping
	if grep -q "outside its sandbox" "$1" 2>/dev/null; then
		fail "a process was killed by its sandbox: $(grep -m1 'outside its sandbox' "$1")"
	fi
}
