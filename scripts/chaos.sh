#!/usr/bin/env bash
# The long chaos run: thousands of kills and millions of messages, then a
# summary table. Usage: scripts/chaos.sh [SECONDS] [chaos options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
dir=$(scripts/build.sh)
seconds=${1:-600}
shift || true
"$dir/tests/chaos/chaos" --daemon "$dir/daemon/shmqd/shmqd" --seconds "$seconds" --kill-ms 100 \
  --producers 3 --consumers 3 "$@"
