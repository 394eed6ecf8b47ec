// config.hpp - shmq-bridge's TOML configuration (see README.md for the keys).
//
// load_config() reads and validates the whole file; any problem (unknown key,
// wrong type, out of range, unreadable password file) becomes one message
// naming the key and line, and the bridge refuses to start.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bridge {

struct TlsConfig {
    bool enabled = false;
    std::string ca_file, cert_file, key_file;
    bool verify_peer = true;
    bool verify_hostname = true;
};

struct BrokerConfig {
    std::string host = "127.0.0.1";
    uint32_t port = 5672;
    std::string vhost = "/";
    std::string user = "guest";
    std::string password = "guest"; // read from password_file, never from the command line
    uint32_t heartbeat_s = 30;
    uint32_t connect_timeout_ms = 5000;
    uint32_t write_timeout_ms = 30000; // a write that makes no progress this long fails (TCP_USER_TIMEOUT)
    uint32_t reconnect_min_ms = 100;
    uint32_t reconnect_max_ms = 10000;
    TlsConfig tls;
};

enum class Direction { out, in };

struct Binding {
    Direction direction = Direction::out;
    std::string name;        // for logs and metrics; default "out:<local_queue>[/<group>]" or "in:<amqp_queue>"
    std::string local_queue; // out: leased from; in: sent to
    std::string group;       // out: a consumer group of the topic local_queue; "" leases from a queue
    // out
    std::string exchange;    // "" is the default exchange
    std::string routing_key;
    bool mandatory = true;   // unroutable messages come back (and are nacked locally)
    bool persistent = true;  // delivery_mode 2
    uint32_t max_inflight = 256; // leased and published, not yet confirmed
    uint32_t reject_after = 0;   // attempts after which a refused message is rejected
                                 // (dead-lettered) at once; 0: nack, the queue's max_attempts applies
    // in
    std::string amqp_queue;
    uint32_t prefetch = 256;  // basic.qos
    uint32_t ack_batch = 64;  // broker acks sent with multiple=true every N messages (or when idle)
    uint32_t send_timeout_ms = 1000; // per attempt at a local send; retried while the queue is full
    // both
    bool envelope = false; // in: wrap payloads with their identity; out: unwrap them
    bool headers = true;   // in: carry AMQP headers (the identity among them) as shmq headers
    std::string declare_queue; // a durable queue declared on each connect; "" declares nothing
};

struct StatusConfig {
    std::string file;          // Prometheus text, rewritten every interval; "" = none
    uint32_t interval_ms = 1000;
};

struct Config {
    BrokerConfig broker;
    std::vector<Binding> bindings;
    StatusConfig status;
    std::string log_level = "info";
};

// Parse `path`. On error returns nullopt and sets *err.
std::optional<Config> load_config(const std::string &path, std::string *err);

} // namespace bridge
