#!/usr/bin/env bash
# Install what is missing, build, and run the main job: shmqd supervising a
# queue named "default", a producer and a consumer process moving a million
# messages through it, a consumer killed with SIGKILL (its message comes
# back), a poison message that lands in the dead-letter store, and what
# shmqctl and the metrics endpoint say about it all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
dir=$(scripts/build.sh)
messages=${1:-1000000}

# A private segment directory and state, so the demo never touches real queues.
work=$(mktemp -d /tmp/shmq-demo-XXXXXX)
export SHMQ_DIR=$(mktemp -d /dev/shm/shmq-demo-XXXXXX)
cat > "$work/shmqd.toml" <<TOML
version = 1
[daemon]
spill_dir = "$work/spill"
dead_letter_dir = "$work/dead-letters"
metrics = "127.0.0.1:0"
[queues.default]
slot_size = 256
slot_count = 4096
TOML
"$dir/daemon/shmqd/shmqd" --config "$work/shmqd.toml" --foreground 2> "$work/shmqd.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$work" "$SHMQ_DIR"' EXIT

wait_for() { # up to 10 s for a command to succeed
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "demo: gave up waiting for: $*" >&2; return 1
}
ctl() { "$dir/daemon/shmqctl/shmqctl" --config "$work/shmqd.toml" "$@"; }

wait_for ctl stat default
echo "== shmqd is up (pid $daemon); queue 'default' in $SHMQ_DIR"
"$dir/examples/quickstart" "$messages" default
wait_for sh -c "'$dir/daemon/shmqctl/shmqctl' --config '$work/shmqd.toml' dlq list default --json | grep -q rejected"
echo
echo "== shmqctl list"
ctl list
echo
echo "== shmqctl dlq list default"
ctl dlq list default
url=$(grep -o 'http://127.0.0.1:[0-9]*/metrics' "$work/shmqd.log" | head -1)
echo
echo "== $url (excerpt)"
python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())" "$url" |
  grep -E '^shmq_(queue_messages_ready|messages_(enqueued|acked)_total|leases_reclaimed_total|messages_dead_lettered_total)' || true
kill -TERM $daemon
wait $daemon && echo && echo "== shmqd stopped cleanly on SIGTERM"
