#!/usr/bin/env bash
# broker.sh - a private RabbitMQ node for the bridge tests, without systemd.
#
# The node has its own name, data and log directories, erlang cookie (HOME)
# and ports, all on loopback, so it neither needs nor disturbs a system broker
# on 5672 (Debian's postinst may start one). The state lives in DIR:
#   DIR/port        the AMQP port, written once the node accepts connections
#   DIR/unavailable why the node could not start (the tests then skip)
#   DIR/pid         the node's process group (the rabbitmq-server script)
#   DIR/tls/        a throwaway CA (ca.pem), the node's certificate for
#                   "localhost" signed by it, a client certificate (client.pem,
#                   client.key), an unrelated CA (other-ca.pem) and a client
#                   certificate it signed (rogue.pem, rogue.key)
#   DIR/tls_port    the AMQPS port (TLS, verifying client certificates when
#                   sent), written once it accepts connections
#   DIR/tls_unavailable  why there is no TLS listener (the TLS tests then skip)
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

# Four consecutive free ports: AMQP, Erlang distribution, epmd, AMQPS. Below
# the ephemeral range (32768..), where probing a closed port can connect to itself.
pick_port() {
  local p
  for p in $(seq 21672 4 21872); do
    port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)) && port_free $((p + 3)) &&
      { echo "$p"; return 0; }
  done
  return 1
}

# A throwaway CA and certificates (EC P-256, valid 7 days) in DIR/tls.
make_certs() (
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  mkdir -p "$dir/tls" && cd "$dir/tls" || return 1
  for ca in ca other-ca; do
    openssl req -x509 "${ec[@]}" -days 7 -subj "/CN=shmq test $ca" -keyout "$ca.key" -out "$ca.pem" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign || return 1
  done
  openssl req "${ec[@]}" -subj /CN=localhost -keyout server.key -out server.csr &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 7 -out server.pem \
      -extfile <(printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n') || return 1
  for c in client:ca rogue:other-ca; do
    openssl req "${ec[@]}" -subj "/CN=shmq-bridge-test" -keyout "${c%:*}.key" -out "${c%:*}.csr" &&
      openssl x509 -req -in "${c%:*}.csr" -CA "${c#*:}.pem" -CAkey "${c#*:}.key" -CAcreateserial -days 7 \
        -out "${c%:*}.pem" -extfile <(printf 'extendedKeyUsage=clientAuth\n') || return 1
  done
)

# The AMQPS listener's lines of rabbitmq.conf, or why there is none.
tls_conf() {
  local t="$dir/tls"
  command -v openssl > /dev/null || { echo "openssl not installed (scripts/deps.sh installs it)" > "$dir/tls_unavailable"; return; }
  make_certs > "$dir/openssl.log" 2>&1 || { echo "openssl could not make certificates (see $dir/openssl.log)" > "$dir/tls_unavailable"; return; }
  printf 'listeners.ssl.default = 127.0.0.1:%s\n' $(($1 + 3))
  printf 'ssl_options.%s = %s\n' cacertfile "$t/ca.pem" certfile "$t/server.pem" keyfile "$t/server.key" \
    verify verify_peer fail_if_no_peer_cert false
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
  if [ ! -f "$dir/tls_unavailable" ]; then
    while ! port_open $((p + 3)) && [ "$t" -lt $((start_timeout * 10)) ]; do sleep 0.1; t=$((t + 1)); done
    if port_open $((p + 3)); then echo $((p + 3)) > "$dir/tls_port"
    else echo "the AMQPS listener did not open (see $dir/log)" > "$dir/tls_unavailable"; fi
  fi
  echo "$p" > "$dir/port"
  echo "broker.sh: node listening on 127.0.0.1:$p after $((t / 10)).$((t % 10))s" >&2
}

start() {
  rm -rf "$dir"
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  [ -x "$server" ] || unavailable "$server not installed (scripts/deps.sh installs rabbitmq-server)"
  local p
  p=$(pick_port) || unavailable "no free loopback ports in 21672..21875"
  echo "[]." > "$dir/enabled_plugins"
  : > "$dir/rabbitmq-env.conf"
  { printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$p"; tls_conf "$p"; } > "$dir/rabbitmq.conf"
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
