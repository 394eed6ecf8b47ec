#!/usr/bin/env bash
# Install what is missing, build the benchmarks, and run them side by side.
# Usage: scripts/bench.sh [--short] [bench/run.sh options]; results in bench/results/
# (the HTTP API's, bench/http/run.py, in bench/results/http.md)
# (--short writes to build-bench/results-short/ instead, so CI leaves the tree alone).
# Builds in build-bench/, apart from the test build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
dir=$(scripts/build.sh --dir build-bench -DSHMQ_BUILD_BENCH=ON -DSHMQ_BUILD_TESTS=OFF -DSHMQ_BUILD_BINDINGS=OFF)
out=() http=()
[ "${1:-}" = "--short" ] && out=(--out "$dir/results-short") http=(--short --out "$dir/results-short/http.md")
status=0
bench/run.sh "$dir/bench/shmq_bench" "${out[@]}" "$@" || status=$?
bench/http/run.py --build "$dir" "${http[@]}" || status=$? # the HTTP API beside its floor and direct sends
exit $status
