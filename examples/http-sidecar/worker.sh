#!/usr/bin/env bash
# A worker in a shell loop: lease one message at a time from QUEUE over
# shmqd's HTTP API (a long-poll of up to 5 s), print its payload, ack it by
# its receipt. Stops after COUNT messages, or after 5 s without one.
# Needs curl, jq and base64. Usage: worker.sh SOCKET QUEUE COUNT
set -euo pipefail
sock=$1 queue=$2 count=$3
api() { curl -sf --unix-socket "$sock" -X POST "http://localhost/v1/$1"; }
done_=0
while [ "$done_" -lt "$count" ]; do
  reply=$(api "queues/$queue/leases?max=1&wait=5000")
  receipt=$(jq -r '.messages[0].receipt // empty' <<<"$reply")
  if [ -z "$receipt" ]; then
    echo "worker: nothing came for 5 s after $done_ message(s)" >&2
    exit 1
  fi
  jq -r '.messages[0].data' <<<"$reply" | base64 -d
  echo
  api "receipts/$receipt/ack" >/dev/null
  done_=$((done_ + 1))
done
