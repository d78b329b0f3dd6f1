#!/usr/bin/env bash
# Builds everything and runs every test suite (unit, fuzz-corpus replay, integration)
# under ASan + UBSan, driven by CTest. Also builds the release flavour so its
# FORTIFY/-O2 warnings fail the run too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# The house rule first: no module includes one on its own or a higher floor (docs/ARCHITECTURE.md).
python3 scripts/check_includes.py
jobs=$(nproc)
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs"
cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Sanitize -DC2S_TEST_HOOKS=ON >/dev/null
cmake --build build/sanitize -j"$jobs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# the daemon's children read the suppressions at exit as their own users, who may not pass
# through the directory this clone lies in (under /root, say): a readable copy
supp=$(mktemp /tmp/c2s-lsan-XXXXXX.supp)
cp tests/lsan.supp "$supp"
chmod 644 "$supp"
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$supp:print_suppressions=0}
export C2S_RELEASE_DIR=$PWD/build/release
# CTest's summary line closes the run.
exec ctest --test-dir build/sanitize --output-on-failure --timeout 900 -j2 "$@"
