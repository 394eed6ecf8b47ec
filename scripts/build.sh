#!/usr/bin/env bash
# Configure and build into build/ (or build-<sanitizer>/ with --sanitize S).
# Usage: scripts/build.sh [--sanitize address,undefined|thread] [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=""
if [ "${1:-}" = "--sanitize" ]; then
  sanitize="$2"
  shift 2
fi
dir=build
[ -n "$sanitize" ] && dir="build-${sanitize//,/-}"

cmake -S . -B "$dir" -G Ninja -DSHMQ_WERROR=ON -DSHMQ_SANITIZE="$sanitize" "$@" >/dev/null
cmake --build "$dir" -- -k 0 >&2
echo "$dir"
