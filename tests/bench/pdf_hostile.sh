#!/usr/bin/env bash
# Time and memory of pdf_prepare on each file of the hostile/damaged corpus (issue 18;
# tests/tools/hostile_pdfs.py), for docs/BENCHMARKS.md "Hostile PDFs". Runs the unit test's
# binary in print-only mode: each file is prepared once in its own child process (RLIMIT_CPU
# 20 s, RLIMIT_AS 2 GiB), CPU = user+sys and peak RSS from wait4(). Use a Release build.
#
#   tests/bench/pdf_hostile.sh BUILD_DIR [FILE.pdf ...]
# Prints the table (file, expected, got, cpu_ms, maxrss_KiB, +KiB over clean.pdf, verdict);
# with FILE names only those (plus the clean.pdf baseline). Exit 0 even when files fail.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: tests/bench/pdf_hostile.sh BUILD_DIR [FILE.pdf ...]" >&2; exit 2; }
cd "$(dirname "$0")/../.."
bin="$1/tests/pdf_hostile_test"
shift
[ -x "$bin" ] || { echo "$bin: not built (cmake --build $(dirname "$(dirname "$bin")") --target pdf_hostile_test)" >&2; exit 1; }
for t in qpdf pdfsig /usr/bin/python3; do
	command -v $t >/dev/null || { echo "missing $t (scripts/deps.sh installs it)" >&2; exit 1; }
done
type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$(dirname "$(dirname "$bin")")/CMakeCache.txt" 2>/dev/null || true)
echo "pdf_hostile: $(date -u +%Y-%m-%d) $(nproc) cores, build type ${type:-unknown}, qpdf $(qpdf --version | sed -n '1s/.* //p')"
C2S_SOURCE_DIR=$PWD C2S_HOSTILE_PRINT=1 C2S_HOSTILE_ONLY="$*" nice -n 10 "$bin" 2>/dev/null
