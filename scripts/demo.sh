#!/usr/bin/env bash
# Install what is missing, build, and run the main job: the order pipeline of
# examples/order-pipeline. shmqd runs as a sidecar supervising a topic and its
# consumer groups; a web server takes orders (one of them poison) and publishes
# order.created once; Python email workers (one killed with SIGKILL mid-way)
# and a Go inventory worker process them exactly once each; the poison order
# ends in the email group's dead-letter store; a third group is bound live;
# then the same orders go to a server that sends the email inside the request. Prints a summary and checks that the counts add up.
# Usage: scripts/demo.sh [--orders N] [other pipeline.py run options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
dir=$(scripts/build.sh)
exec python3 examples/order-pipeline/pipeline.py run --build "$dir" --check "$@"
