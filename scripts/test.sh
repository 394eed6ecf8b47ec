#!/usr/bin/env bash
# Install what is missing (a cheap, quiet check when nothing is: scripts/deps.sh),
# build, and run every test.
# Usage: scripts/test.sh [--sanitize address,undefined|thread]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
dir=$(scripts/build.sh "$@")
cd "$dir"
ctest --output-on-failure -j2 --timeout 900
