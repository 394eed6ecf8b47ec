#!/usr/bin/env bash
# Install what is missing, build, and run the main job: a queue, a producer
# process and a consumer process, and a summary of what flowed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
dir=$(scripts/build.sh)
"$dir/examples/quickstart" "${@}"
