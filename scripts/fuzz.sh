#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of untrusted input (docs/FUZZING.md).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Builds the libFuzzer build (clang, ASan + UBSan, the library instrumented too), runs each
# target (tests/fuzz/<name>_fuzz.c; default: all) for SECONDS (default 60) as one niced job into
# a scratch corpus, merges what found new coverage back into tests/fuzz/corpus/<name>/ and
# prints a table. Crash, leak, timeout and out-of-memory inputs are kept under the findings
# directory; the exit status is 1 when any target found one.
#
# Environment: C2S_FUZZ_BUILD (build dir, default /tmp/c2s-fuzz-b), C2S_FUZZ_WORK (scratch
# corpora, logs and findings, default /tmp/c2s-fuzz), C2S_FUZZ_NICE (default 15).
set -euo pipefail
# The whole script is one function, read before it runs: editing this file while a long run
# is going (a git checkout, a merge) cannot change what the run executes.
main() {
src=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
case $secs in '' | *[!0-9]*)
	echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
	exit 2
	;;
esac
build=${C2S_FUZZ_BUILD:-/tmp/c2s-fuzz-b}
work=${C2S_FUZZ_WORK:-/tmp/c2s-fuzz}
nice_n=${C2S_FUZZ_NICE:-15}

# targets: the arguments (with or without the _fuzz suffix), or every tests/fuzz/*_fuzz.c
targets=()
if [ $# -gt 0 ]; then
	for t in "$@"; do
		t=${t%_fuzz}_fuzz
		[ -f "$src/tests/fuzz/$t.c" ] || {
			echo "fuzz: no target tests/fuzz/$t.c" >&2
			exit 2
		}
		targets+=("$t")
	done
else
	for f in "$src"/tests/fuzz/*_fuzz.c; do
		targets+=("$(basename "$f" .c)")
	done
fi

# Largest input each target is fed (and so the largest file merged into its corpus): enough
# for what the parser meets in service, small enough to keep the corpora reviewable.
max_len_of() {
	case $1 in
	pdf_fuzz) echo 65536 ;;
	scan_fuzz) echo 32768 ;;
	custcert_fuzz | crl_fuzz | order_json_fuzz | ipc_fuzz) echo 16384 ;;
	cms_attrs_fuzz | tsa_resp_fuzz | jws_fuzz | config_fuzz) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

# the toolchain: clang with its libFuzzer runtime (scripts/deps.txt lists both)
if ! command -v clang >/dev/null ||
	[ ! -f "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ]; then
	echo "fuzz: clang or its libFuzzer runtime is missing; installing scripts/deps.txt" >&2
	bash "$src/scripts/deps.sh"
fi

if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^C2S_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
	echo "fuzz: $build is not a fuzz build (C2S_FUZZ=ON); set C2S_FUZZ_BUILD" >&2
	exit 2
fi
mkdir -p "$work"
# configured every time: a new tests/fuzz/*_fuzz.c becomes a target
CC=clang cmake -S "$src" -B "$build" -DC2S_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS="-fsanitize=address,undefined" >"$work/configure.log" 2>&1 || {
	cat "$work/configure.log" >&2
	exit 1
}
nice -n "$nice_n" cmake --build "$build" -j2 --target "${targets[@]}" >"$work/build.log" 2>&1 || {
	tail -40 "$work/build.log" >&2
	exit 1
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}

corpus_size() { # files and KiB (their bytes, not disk blocks) of a corpus directory
	local n k
	n=$(find "$1" -maxdepth 1 -type f | wc -l)
	k=$(find "$1" -maxdepth 1 -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s / 1024}')
	echo "$n/${k}K"
}

rows=()
found=0
for t in "${targets[@]}"; do
	bin=$build/tests/$t
	corpus=$src/tests/fuzz/corpus/$t
	scratch=$work/$t.new
	findings=$work/findings/$t
	log=$work/$t.log
	max_len=$(max_len_of "$t")
	mkdir -p "$corpus" "$findings"
	rm -rf "$scratch"
	mkdir -p "$scratch"
	before=$(corpus_size "$corpus")
	touch "$work/$t.stamp"
	echo "fuzz: $t for ${secs}s (max_len $max_len, log $log)" >&2
	t0=$(date +%s)
	# new inputs go to the scratch dir (first); the committed corpus is read, not written
	set +e
	nice -n "$nice_n" "$bin" -max_total_time="$secs" -max_len="$max_len" -timeout=20 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" \
		"$scratch" "$corpus" >"$log" 2>&1
	rc=$?
	set -e
	t1=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	covline=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$log" | tail -1 || true)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$covline")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$covline")
	# only what adds coverage to the committed corpus joins it
	nice -n "$nice_n" "$bin" -merge=1 -max_len="$max_len" -timeout=20 -rss_limit_mb=2048 \
		"$corpus" "$scratch" >"$work/$t.merge.log" 2>&1 || true
	after=$(corpus_size "$corpus")
	n_find=$(find "$findings" -maxdepth 1 -type f \
		\( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
		-newer "$work/$t.stamp" | wc -l)
	if [ "$n_find" -gt 0 ] || { [ "$rc" -ne 0 ] && [ -z "$execs" ]; }; then
		found=1
		[ "$n_find" -gt 0 ] || n_find="rc=$rc"
		echo "fuzz: $t: findings in $findings (see $log)" >&2
	fi
	rows+=("$t $((t1 - t0)) ${execs:-?} ${cov:-?} ${ft:-?} $before $after $n_find")
done

printf '\n%-18s %7s %12s %6s %7s %14s %14s %8s\n' target seconds executions cov ft \
	"corpus before" "corpus after" findings
for r in "${rows[@]}"; do
	# shellcheck disable=SC2086
	printf '%-18s %7s %12s %6s %7s %14s %14s %8s\n' $r
done
echo "findings directory: $work/findings"
return "$found"
}
main "$@"
