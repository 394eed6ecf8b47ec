#!/usr/bin/env bash
# Configure and build into build/ (or build-<sanitizer>/ with --sanitize S,
# or the directory given with --dir). Prints the build directory.
# Usage: scripts/build.sh [--dir DIR] [--sanitize address,undefined|thread] [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."

dir=""
if [ "${1:-}" = "--dir" ]; then
  dir="$2"
  shift 2
fi
sanitize=""
if [ "${1:-}" = "--sanitize" ]; then
  sanitize="$2"
  shift 2
fi
[ -z "$dir" ] && dir=build
[ -n "$sanitize" ] && [ "$dir" = build ] && dir="build-${sanitize//,/-}"

cmake -S . -B "$dir" -G Ninja -DSHMQ_WERROR=ON -DSHMQ_SANITIZE="$sanitize" "$@" >/dev/null
cmake --build "$dir" -- -k 0 >&2
echo "$dir"
