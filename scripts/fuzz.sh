#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run each for SECONDS (default 60).
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=build-fuzz
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Ilib/include -Ilib/src)
lib_sources=$(ls lib/src/*.cpp)
clang++ "${flags[@]}" tests/fuzz/fuzz_segment.cpp $lib_sources -o "$out/fuzz_segment"
for target in fuzz_segment; do
  corpus="$out/corpus-$target"
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/segment/* "$corpus/" 2>/dev/null || true
  echo "fuzz: $target for ${seconds}s"
  "$out/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
done
