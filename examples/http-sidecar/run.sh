#!/usr/bin/env bash
# The example end to end: start shmqd (from the build directory) with the
# API on a Unix socket in a temporary directory, send lines with producer.js,
# consume them with worker.sh (and worker.py, the Python binding, where it
# was built), and check that every line came back exactly once.
# Exits 77 (skipped) without node, curl, jq or base64.
# Usage: run.sh BUILD_DIR [PYTHON_CORE_DIR]   (the second: where the build put
# the Python binding's _core*.so; without it, curl consumes everything)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
for tool in node curl jq base64; do
  command -v $tool >/dev/null || { echo "run.sh: $tool not installed: skipped"; exit 77; }
done
tmp=$(mktemp -d)
export SHMQ_DIR=$(mktemp -d /dev/shm/shmq-http-sidecar.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp" "$SHMQ_DIR"; }
trap cleanup EXIT
cat >"$tmp/shmqd.toml" <<TOML
version = 1
[daemon]
spill_dir = "spill"
dead_letter_dir = "dlq"
metrics = "off"
api_socket = "shmqd.sock"
[queues.jobs]
slot_count = 16
slot_size = 256
overflow = "block"
TOML
"$build/daemon/shmqd/shmqd" --config "$tmp/shmqd.toml" --foreground 2>"$tmp/shmqd.log" &
pid=$!
for _ in $(seq 100); do grep -q ready "$tmp/shmqd.log" && break; sleep 0.1; done
grep -q ready "$tmp/shmqd.log" || { cat "$tmp/shmqd.log"; exit 1; }
seq 1 40 | sed 's/^/job /' >"$tmp/sent"
node "$here/producer.js" "$tmp/shmqd.sock" jobs <"$tmp/sent" &   # 40 lines into 16 slots: it waits for room
producer=$!
# With the Python binding (not in sanitizer builds), it takes the second half
# after the curl worker; else the curl worker takes all.
core=""
[ -n "${2:-}" ] && core=$(ls "$2"/_core*.so 2>/dev/null | head -n 1 || true)
if [ -n "$core" ]; then
  "$here/worker.sh" "$tmp/shmqd.sock" jobs 20 >"$tmp/got"
  SHMQ_PYTHON_CORE=$core PYTHONPATH="$here/../../bindings/python" python3 "$here/worker.py" jobs 20 >>"$tmp/got"
  by="curl (20) and the Python binding (20)"
else
  "$here/worker.sh" "$tmp/shmqd.sock" jobs 40 >"$tmp/got"
  by="curl"
fi
wait $producer
diff <(sort "$tmp/sent") <(sort "$tmp/got") && echo "http-sidecar: 40 messages sent by Node.js, consumed by $by"
