#!/bin/sh
# ctest.sh BROKER_DIR BUILD - ctest's run of the order pipeline over RabbitMQ,
# against the private broker the bridge tests start (tests/bridge/broker.sh);
# exit 77 (skipped) with the reason when that broker could not start.
port=$(cat "$1/port" 2>/dev/null) ||
  { echo "SKIPPED: the RabbitMQ test broker is unavailable: $(cat "$1/unavailable" 2>/dev/null)"; exit 77; }
exec python3 "$(dirname "$0")/../pipeline.py" run --orders 40 --fail-rate 0.1 --check \
  --build "$2" --rabbitmq "127.0.0.1:$port"
