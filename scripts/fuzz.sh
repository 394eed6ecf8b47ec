#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run each for SECONDS (default 60),
# starting from the seed corpora in the repository. A crash fails the script.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=build-fuzz
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined)

clang++ "${flags[@]}" -Ilib/include -Ilib/src tests/fuzz/fuzz_segment.cpp lib/src/*.cpp -o "$out/fuzz_segment"
clang++ "${flags[@]}" -Idaemon tests/store/fuzz_record_log.cpp daemon/store/*.cpp -o "$out/fuzz_record_log"

run() { # target seed-dir
  local corpus="$out/corpus-$1"
  mkdir -p "$corpus"
  cp -n "$2"/* "$corpus/" 2>/dev/null || true
  echo "fuzz: $1 for ${seconds}s"
  "$out/$1" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>&1 | tail -n 6
}
run fuzz_segment tests/fuzz/corpus/segment
run fuzz_record_log tests/store/corpus
