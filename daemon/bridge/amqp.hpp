// amqp.hpp - one AMQP 0-9-1 connection with one channel, over rabbitmq-c.
//
// Errors: every failure (socket, protocol, a channel or connection closed by
// the broker, a heartbeat timeout) throws BrokerError with a readable reason;
// the binding then drops the connection and reconnects with backoff. A
// Connection is used by one thread.
#pragma once

#include "config.hpp"

#include <amqp.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bridge {

struct BrokerError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A publisher confirm (or the return that precedes one).
struct Confirm {
    enum Kind { ack, nack, returned } kind = ack;
    uint64_t tag = 0;       // ack, nack: the delivery tag
    bool multiple = false;  // ack, nack: every tag up to `tag`
    std::optional<uint64_t> local_id; // returned: the x-shmq-local-id header
};

// A delivered message; owns rabbitmq-c's envelope.
struct Delivery {
    amqp_envelope_t env{};
    bool held = false;
    Delivery() = default;
    Delivery(const Delivery &) = delete;
    Delivery &operator=(const Delivery &) = delete;
    ~Delivery() { clear(); }
    void clear();
    std::string_view body() const;
};

class Connection {
public:
    explicit Connection(const BrokerConfig &cfg) : cfg_(cfg) {}
    ~Connection() { close(); }
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    void open();  // connect, log in, open channel 1
    void close();          // drop the connection (after a failure); never throws
    void close_politely(); // connection.close handshake first (on a clean stop); never throws
    bool is_open() const { return conn_ != nullptr; }
    // The broker said connection.blocked (a memory or disk alarm: it reads
    // nothing more from publishers) and not yet connection.unblocked.
    bool blocked() const { return blocked_; }

    // out
    void confirm_select();
    void publish(const std::string &exchange, const std::string &routing_key, bool mandatory,
                 const amqp_basic_properties_t *props, std::string_view body);
    // Wait up to timeout_ms for a confirm or return; false if none came.
    bool next_confirm(int timeout_ms, Confirm *out);

    // in
    void consume(const std::string &queue, uint16_t prefetch);
    bool next_delivery(int timeout_ms, Delivery *out); // false on timeout
    void ack(uint64_t tag, bool multiple);
    void reject(uint64_t tag, bool requeue);
    void heartbeat(); // keep the connection alive while not reading
    // Messages ready in `queue` (a passive queue.declare; deliveries that
    // arrive meanwhile are kept for next_delivery).
    uint32_t ready_count(const std::string &queue);
    // Declare a durable queue (nothing happens if it exists with these
    // properties; a queue declared otherwise closes the channel: BrokerError).
    void declare_queue(const std::string &queue);

private:
    void check(amqp_rpc_reply_t r, const char *what);
    void check_status(int status, const char *what);
    [[noreturn]] void closed_by_broker(const amqp_frame_t &f);
    bool note_blocking(const amqp_frame_t &f);
    const BrokerConfig &cfg_;
    amqp_connection_state_t conn_ = nullptr;
    bool blocked_ = false;
};

} // namespace bridge
