#!/usr/bin/env bash
# broker.sh - a private RabbitMQ node for the bridge tests, without systemd.
#
# The node has its own name, data and log directories, erlang cookie (HOME)
# and ports, all on loopback, so it neither needs nor disturbs a system broker
# on 5672 (Debian's postinst may start one). The state lives in DIR:
#   DIR/port        the AMQP port, written once the node accepts connections
#   DIR/unavailable why the node could not start (the tests then skip)
#   DIR/pid         the node's process group (the rabbitmq-server script)
# Usage: broker.sh start DIR | stop DIR | kill DIR (SIGKILL, keeps the data)
#        | restart DIR (start again on the same port and data)
#        | ctl DIR ARGS... (rabbitmqctl against the node; slow: 10-25 s here)
set -uo pipefail

cmd=${1:?usage: broker.sh start|stop|kill|restart|ctl DIR}
dir=$(realpath -m "${2:?usage: broker.sh start|stop|kill|restart|ctl DIR}")
server=/usr/lib/rabbitmq/bin/rabbitmq-server
start_timeout=${SHMQ_TEST_BROKER_TIMEOUT:-120}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

unavailable() {
  echo "$1" > "$dir/unavailable"
  echo "broker.sh: broker unavailable: $1" >&2
  exit 0 # not a failure: the bridge tests skip with this reason
}

# Three consecutive free ports: AMQP, Erlang distribution, epmd. Below the
# ephemeral range (32768..), where probing a closed port can connect to itself.
pick_port() {
  local p
  for p in $(seq 21672 3 21872); do
    port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)) && { echo "$p"; return 0; }
  done
  return 1
}

node_env() {
  local p=$1
  export HOME="$dir/home" RABBITMQ_NODENAME="shmqtest$p@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$p RABBITMQ_DIST_PORT=$((p + 1))
  export ERL_EPMD_PORT=$((p + 2)) ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" # empty: ignore /etc/rabbitmq's
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

launch() {
  local p=$1 t=0
  node_env "$p"
  setsid "$server" >> "$dir/server.log" 2>&1 < /dev/null &
  echo $! > "$dir/pid"
  while ! port_open "$p"; do
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || unavailable "rabbitmq-server exited (see $dir/server.log)"
    [ "$t" -ge $((start_timeout * 10)) ] && { stop_node; unavailable "not listening after ${start_timeout}s"; }
    sleep 0.1
    t=$((t + 1))
  done
  echo "$p" > "$dir/port"
  echo "broker.sh: node listening on 127.0.0.1:$p after $((t / 10)).$((t % 10))s" >&2
}

start() {
  rm -rf "$dir"
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  [ -x "$server" ] || unavailable "$server not installed (scripts/deps.sh installs rabbitmq-server)"
  local p
  p=$(pick_port) || unavailable "no free loopback ports in 21672..21874"
  echo "[]." > "$dir/enabled_plugins"
  : > "$dir/rabbitmq-env.conf"
  printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$p" > "$dir/rabbitmq.conf"
  launch "$p"
}

# Stop the node's process group with `sig`, wait for it, then its epmd.
stop_node() {
  local sig=${1:-TERM} pg t=0
  if [ -f "$dir/pid" ]; then
    pg=$(cat "$dir/pid")
    kill "-$sig" -- "-$pg" 2>/dev/null
    while kill -0 -- "-$pg" 2>/dev/null && [ $t -lt 300 ]; do sleep 0.1; t=$((t + 1)); done
    kill -KILL -- "-$pg" 2>/dev/null
    rm -f "$dir/pid"
  fi
  if [ "$sig" = TERM ] && [ -f "$dir/port" ]; then
    ERL_EPMD_PORT=$(($(cat "$dir/port") + 2)) epmd -kill > /dev/null 2>&1
  fi
  return 0
}

case "$cmd" in
  start) start ;;
  stop) stop_node TERM ;;
  kill) stop_node KILL ;;
  restart) stop_node KILL; launch "$(cat "$dir/port")" ;;
  ctl)
    shift 2
    node_env "$(cat "$dir/port")"
    exec /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$RABBITMQ_NODENAME" "$@" ;;
  *) echo "usage: broker.sh start|stop|kill|restart|ctl DIR" >&2; exit 2 ;;
esac
