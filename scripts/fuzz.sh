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
# toml++ 3.3 asserts on some malformed keys (e.g. "[" then a newline) before
# reporting them as parse errors; production builds compile its asserts out,
# so the fuzzer does too, and checks what shmqd actually does.
clang++ "${flags[@]}" '-DTOML_ASSERT(expr)=((void)0)' -Ilib/include -Idaemon/shmqd tests/fuzz/fuzz_config.cpp daemon/shmqd/config.cpp \
  daemon/shmqd/net_address.cpp lib/src/*.cpp -o "$out/fuzz_config"

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
