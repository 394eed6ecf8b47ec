// in.cpp - the "in" direction: RabbitMQ queue -> local queue.
//
// Consumes with manual acks and a prefetch (basic.qos), sends each delivery
// into the local queue and acks it to the broker only after the send returned
// SHMQ_OK (acks go out with multiple=true every ack_batch messages, or when no
// delivery comes for a moment). While the local queue is full the bridge
// keeps retrying that one send and reads nothing more, so the broker holds at
// most `prefetch` unacked messages for it: backpressure, never a drop. A
// bridge killed at any moment leaves its unacked deliveries with the broker,
// which delivers them again: duplicates locally are bounded by the prefetch,
// and none are stored when the local queue has a deduplication window (the
// delivery's message_id is the send's key). The local queue may be a topic:
// the send reaches every bound group; while none is bound it waits, as for a
// full queue.
#include "amqp.hpp"
#include "binding.hpp"
#include "identity.hpp"
#include "local.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace bridge {

namespace {

class In {
public:
    In(const Binding &b, const BrokerConfig &broker, Metrics &m, const std::atomic<bool> &stop)
        : b_(b), amqp_(broker), m_(m), stop_(stop), backoff_(broker.reconnect_min_ms, broker.reconnect_max_ms),
          ack_batch_(std::max<uint32_t>(1, std::min(b.ack_batch, b.prefetch / 2))) {}
    void run();

private:
    bool ensure_local();
    void ensure_broker();
    void step();
    void deliver(const Delivery &d);
    bool send_local(std::string_view payload, OwnedHeaders headers, const Delivery &d);
    void wait_local(int rc, std::chrono::steady_clock::time_point *last_beat);
    void flush_acks();
    void read_lag();

    const Binding &b_;
    LocalQueue local_;
    Connection amqp_;
    Metrics &m_;
    const std::atomic<bool> &stop_;
    Backoff backoff_;
    uint32_t ack_batch_;
    uint64_t ack_tag_ = 0;  // the highest delivery tag sent locally, not yet acked
    uint32_t unacked_ = 0;  // how many deliveries that ack will cover
    bool ever_connected_ = false;
    int last_wait_rc_ = 0; // the code of the last wait logged (one line per kind of wait)
    std::chrono::steady_clock::time_point lag_read_{};
};

bool In::ensure_local() {
    if (local_.is_open()) return true;
    int rc = local_.open(b_.local_queue, 1);
    if (LocalQueue::is_ok(rc)) return true;
    spdlog::warn("[{}] cannot open local queue {}: {}; retrying", b_.name, b_.local_queue, LocalQueue::strerror(rc));
    nap(stop_, 1000);
    return false;
}

void In::ensure_broker() {
    if (amqp_.is_open() || !backoff_.due()) return;
    ack_tag_ = 0; // tags belong to the old channel; the broker requeued those deliveries
    unacked_ = 0;
    amqp_.open();
    if (!b_.declare_queue.empty()) amqp_.declare_queue(b_.declare_queue);
    amqp_.consume(b_.amqp_queue, uint16_t(b_.prefetch));
    if (ever_connected_) m_.reconnects++;
    ever_connected_ = true;
    backoff_.succeeded();
    m_.connected = 1;
    spdlog::info("[{}] connected; consuming from {}", b_.name, b_.amqp_queue);
}

void In::flush_acks() {
    if (unacked_ == 0) return;
    amqp_.ack(ack_tag_, true);
    m_.acked_broker += unacked_;
    unacked_ = 0;
}

// Once a second, the broker's ready count: the lag. Also while blocked on a
// full local queue, when it matters most.
void In::read_lag() {
    auto now = std::chrono::steady_clock::now();
    if (now - lag_read_ < std::chrono::seconds(1)) return;
    lag_read_ = now;
    m_.broker_backlog = int64_t(amqp_.ready_count(b_.amqp_queue));
}

// Send until it succeeds. Returns false if it never can (poison) or the
// bridge is stopping (the delivery then stays unacked: the broker keeps it).
bool In::send_local(std::string_view payload, OwnedHeaders headers, const Delivery &d) {
    auto last_beat = std::chrono::steady_clock::now();
    std::string_view key = local_.dedups() ? dedup_key_of(d.env.message.properties) : std::string_view();
    while (!stop_.load(std::memory_order_relaxed)) {
        bool duplicate = false;
        int rc = local_.send(payload, headers, int(b_.send_timeout_ms), key, &duplicate);
        if (LocalQueue::is_ok(rc)) {
            if (duplicate) m_.duplicates++;
            if (last_wait_rc_ != 0) spdlog::info("[{}] local sends to {} go through again", b_.name, b_.local_queue);
            last_wait_rc_ = 0;
            return true;
        }
        if (LocalQueue::is_poison(rc) && !headers.empty()) {
            // The payload may fit without the headers (identity ~100 bytes):
            // carry it bare rather than refuse it, and count what was dropped.
            m_.headers_skipped += headers.size();
            spdlog::warn("[{}] delivery of {} bytes: its {} headers do not fit {} ({}); sent without them",
                         b_.name, payload.size(), headers.size(), b_.local_queue, LocalQueue::strerror(rc));
            headers.clear();
            continue;
        }
        if (LocalQueue::is_poison(rc)) {
            flush_acks();
            amqp_.reject(d.env.delivery_tag, false); // the broker dead-letters it if the queue has a DLX
            m_.poison++;
            spdlog::error("[{}] delivery of {} bytes with {} headers cannot be sent to {}: {}; rejected to the broker",
                          b_.name, payload.size(), headers.size(), b_.local_queue, LocalQueue::strerror(rc));
            return false;
        }
        if (!local_.no_group(rc) && !LocalQueue::is_dedup_full(rc) &&
            (LocalQueue::needs_reopen(rc) || !LocalQueue::is_full(rc))) {
            spdlog::warn("[{}] local send: {}; opening {} again", b_.name, LocalQueue::strerror(rc), b_.local_queue);
            local_.close();
            while (!ensure_local() && !stop_.load(std::memory_order_relaxed)) {}
            continue;
        }
        wait_local(rc, &last_beat);
    }
    return false;
}

// The local queue cannot take the delivery now (full, a topic with no group
// bound, or its deduplication table full): settle what was sent, keep the
// connection alive, and try again (the broker keeps the rest meanwhile).
void In::wait_local(int rc, std::chrono::steady_clock::time_point *last_beat) {
    m_.backpressure_waits++;
    if (rc != last_wait_rc_ && !LocalQueue::is_full(rc))
        spdlog::warn("[{}] {}: {}; holding the delivery until it can be sent", b_.name, b_.local_queue,
                     local_.no_group(rc) ? "a topic with no consumer group bound" : LocalQueue::strerror(rc));
    last_wait_rc_ = rc;
    flush_acks();
    if (std::chrono::steady_clock::now() - *last_beat >= std::chrono::seconds(1)) {
        amqp_.heartbeat(); // we read nothing while blocked; tell the broker we live
        *last_beat = std::chrono::steady_clock::now();
    }
    read_lag();
    if (!LocalQueue::waited(rc)) nap(stop_, 100); // the others return at once: do not spin
}

void In::deliver(const Delivery &d) {
    m_.received++;
    std::string wrapped;
    std::string_view payload = d.body();
    const amqp_basic_properties_t &props = d.env.message.properties;
    if (b_.envelope) {
        wrapped = wrap(identity_from(props), payload);
        payload = wrapped;
    }
    size_t skipped = 0;
    OwnedHeaders headers;
    if (b_.headers) headers = local_headers_from(props, !b_.envelope, &skipped);
    if (skipped > 0) {
        m_.headers_skipped += skipped;
        spdlog::debug("[{}] {} AMQP headers of a delivery not carried locally", b_.name, skipped);
    }
    if (!send_local(payload, std::move(headers), d)) return;
    m_.sent_local++;
    ack_tag_ = d.env.delivery_tag;
    if (++unacked_ >= ack_batch_) flush_acks();
}

void In::step() {
    ensure_broker();
    if (!amqp_.is_open()) return nap(stop_, 20);
    read_lag();
    Delivery d;
    if (amqp_.next_delivery(unacked_ > 0 ? 5 : 100, &d)) deliver(d);
    else flush_acks(); // idle: settle what was sent
    m_.blocked = amqp_.blocked();
}

void In::run() {
    while (!stop_.load(std::memory_order_relaxed)) {
        if (!ensure_local()) continue;
        try {
            step();
        } catch (const BrokerError &e) {
            amqp_.close();
            m_.connected = 0;
            m_.blocked = 0;
            m_.broker_errors++;
            backoff_.failed();
            spdlog::warn("[{}] broker: {}; reconnecting in {} ms", b_.name, e.what(), backoff_.delay_ms());
        }
    }
    try {
        if (amqp_.is_open()) flush_acks();
    } catch (const BrokerError &e) {
        spdlog::warn("[{}] while stopping: {}", b_.name, e.what());
    }
    amqp_.close_politely();
    local_.close();
}

} // namespace

void run_in(const Binding &b, const BrokerConfig &broker, Metrics &m, const std::atomic<bool> &stop) {
    In(b, broker, m, stop).run();
}

} // namespace bridge
