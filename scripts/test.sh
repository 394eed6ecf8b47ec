#!/usr/bin/env bash
# Install what is missing, build, and run every test.
# Usage: scripts/test.sh [--sanitize address,undefined|thread]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
dir=$(scripts/build.sh "$@")
cd "$dir"
ctest --output-on-failure -j2 --timeout 900
