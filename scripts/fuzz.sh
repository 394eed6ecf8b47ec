#!/usr/bin/env bash
# Build the libFuzzer targets (CMake, clang) and run each for SECONDS (default 60),
# starting from the seed corpora in the repository. A crash fails the script.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=build-fuzz
# The fuzzers are CMake targets (SHMQ_BUILD_FUZZERS): a clang build of the
# library and the store, instrumented for libFuzzer, ASan and UBSan.
CC=clang CXX=clang++ cmake -S . -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMQ_BUILD_FUZZERS=ON \
  -DSHMQ_SANITIZE=address,undefined -DSHMQ_BUILD_TESTS=OFF -DSHMQ_BUILD_EXAMPLES=OFF -DSHMQ_BUILD_BINDINGS=OFF >/dev/null
cmake --build "$out" --target fuzz_segment fuzz_record_log fuzz_config >&2
for t in fuzz_segment fuzz_record_log fuzz_config; do ln -sf "tests/fuzz/$t" "$out/$t"; done

# The segment fuzzer writes its segments here; gone when the script ends.
export SHMQ_DIR=$(mktemp -d /dev/shm/shmq-fuzz-XXXXXX)
trap 'rm -rf "$SHMQ_DIR"' EXIT

run() { # target seed-dir
  local corpus="$out/corpus-$1"
  mkdir -p "$corpus"
  cp -n "$2"/* "$corpus/" 2>/dev/null || true
  echo "fuzz: $1 for ${seconds}s"
  "$out/$1" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>&1 | tail -n 6
}
run fuzz_segment tests/fuzz/corpus/segment
run fuzz_record_log tests/store/corpus
run fuzz_config tests/fuzz/corpus/config
