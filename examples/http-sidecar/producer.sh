#!/usr/bin/env bash
# Send each line of stdin as one message to QUEUE through shmqd's HTTP API on
# its Unix socket: no shmq library, only curl. The server waits up to 5 s
# for room (timeout=5000, overflow "block"); a queue still full (429/503) is
# retried after the Retry-After the server gives; any other error stops.
# Usage: producer.sh SOCKET QUEUE < lines
set -euo pipefail
sock=$1 queue=$2
while IFS= read -r line; do
  for (( ; ; )); do
    code=$(printf '%s' "$line" | curl -s -o /tmp/producer.$$ -w '%{http_code}' --unix-socket "$sock" \
      --data-binary @- "http://localhost/v1/queues/$queue/messages?timeout=5000")
    [ "$code" = 201 ] && break
    if [ "$code" != 429 ] && [ "$code" != 503 ]; then
      echo "producer: HTTP $code: $(cat /tmp/producer.$$)" >&2
      rm -f /tmp/producer.$$
      exit 1
    fi
    sleep 1 # the server's Retry-After
  done
done
rm -f /tmp/producer.$$
