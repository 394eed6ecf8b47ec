// out.cpp - the "out" direction: local queue -> RabbitMQ exchange.
//
// Leases up to max_inflight messages, publishes each (mandatory, persistent)
// on a channel in confirm mode, and acks the lease only when the broker's
// basic.ack covers its delivery tag; a basic.nack, or a basic.return before
// the ack (unroutable), nacks it locally instead (or rejects it past
// reject_after). A lease is held until then, and extended at half its life,
// so a broker outage costs no attempt: after a reconnect every unconfirmed
// lease is published again on the new channel. A bridge killed at any moment
// leaves leases that recovery gives back (the attempt counts): the message is
// published again, so duplicates on the broker are bounded by max_inflight.
#include "amqp.hpp"
#include "binding.hpp"
#include "identity.hpp"
#include "local.hpp"

#include <spdlog/spdlog.h>

#include <map>

namespace bridge {

namespace {

using clock = std::chrono::steady_clock;

struct Flight {
    Lease lease;
    bool returned = false;
    clock::time_point extended;
};

class Out {
public:
    Out(const Binding &b, const BrokerConfig &broker, Metrics &m, const std::atomic<bool> &stop)
        : b_(b), amqp_(broker), m_(m), stop_(stop), backoff_(broker.reconnect_min_ms, broker.reconnect_max_ms) {}
    ~Out();
    void run();

private:
    bool ensure_local();
    void ensure_broker();
    void step();
    size_t fill(int timeout_ms);
    void publish(Flight &f);
    void drain(int timeout_ms);
    void settle(const Confirm &c);
    void mark_returned(std::optional<uint64_t> local_id);
    void finish(Flight &f, bool confirmed);
    void refuse(Flight &f);
    void upkeep();
    void drop(std::map<uint64_t, Flight>::iterator it);
    void shutdown();

    const Binding &b_;
    LocalQueue local_;
    Connection amqp_;
    Metrics &m_;
    const std::atomic<bool> &stop_;
    Backoff backoff_;
    std::map<uint64_t, Flight> inflight_; // by delivery tag on the current channel
    uint64_t next_tag_ = 0;
    bool ever_connected_ = false;
    clock::time_point last_recover_{};
};

Out::~Out() {
    for (auto &[tag, f] : inflight_) LocalQueue::release(f.lease);
}

bool Out::ensure_local() {
    if (local_.is_open()) return true;
    int rc = local_.open(b_.local_queue, b_.max_inflight, b_.group);
    if (LocalQueue::is_ok(rc)) return true;
    spdlog::warn("[{}] cannot open local queue {}: {}; retrying", b_.name, b_.local_queue, LocalQueue::strerror(rc));
    nap(stop_, 1000);
    return false;
}

// Connect, enter confirm mode, and publish again whatever was unconfirmed.
void Out::ensure_broker() {
    if (amqp_.is_open() || !backoff_.due()) return;
    amqp_.open();
    if (!b_.declare_queue.empty()) amqp_.declare_queue(b_.declare_queue);
    amqp_.confirm_select();
    if (ever_connected_) m_.reconnects++;
    ever_connected_ = true;
    backoff_.succeeded();
    m_.connected = 1;
    spdlog::info("[{}] connected; publishing {} unconfirmed again", b_.name, inflight_.size());
    std::map<uint64_t, Flight> old;
    old.swap(inflight_);
    next_tag_ = 0;
    for (auto &[tag, f] : old) inflight_.emplace(++next_tag_, std::move(f));
    for (auto &[tag, f] : inflight_) publish(f);
}

// The identity published is the first one the message had: the one an in
// binding wrote into its headers (or its envelope), else its own here; and
// the message_id a foreign publisher gave it (x-shmq-message-id), if any.
void Out::publish(Flight &f) {
    std::string_view body = f.lease.payload;
    std::vector<Header> headers;
    if (!LocalQueue::parse_headers(f.lease.headers, &headers)) headers.clear(); // a damaged block: none
    Identity id{b_.local_queue, f.lease.id, f.lease.attempt, f.lease.enqueued_ns};
    if (std::optional<Identity> carried = identity_from(headers))
        id = {carried->queue, carried->id, f.lease.attempt, carried->enqueued_ns};
    if (b_.envelope) {
        std::string_view inner;
        if (std::optional<Identity> carried = unwrap(body, &inner)) {
            body = inner;
            if (carried->known()) id = {carried->queue, carried->id, f.lease.attempt, carried->enqueued_ns};
        }
    }
    std::string_view mid = message_id_from(headers);
    if (mid.size() > 255) mid = {}; // longer than AMQP's shortstr: not one we kept
    f.returned = false;
    Properties props(id, f.lease.id, b_.persistent, headers, mid);
    amqp_.publish(b_.exchange, b_.routing_key, b_.mandatory, props.get(), body);
    m_.published++;
}

size_t Out::fill(int timeout_ms) {
    Lease got[64];
    size_t room = b_.max_inflight - inflight_.size(), n = 0;
    int rc = local_.lease(got, std::min<size_t>(room, 64), &n, timeout_ms);
    if (n == 0 && LocalQueue::needs_reopen(rc)) {
        spdlog::warn("[{}] local queue {}: {}; opening it again", b_.name, b_.local_queue, LocalQueue::strerror(rc));
        for (auto &[tag, f] : inflight_) LocalQueue::release(f.lease); // their segment is gone
        inflight_.clear();
        local_.close();
    }
    // Track every lease before publishing any, so a failed publish loses none.
    std::vector<uint64_t> tags;
    for (size_t i = 0; i < n; i++) {
        tags.push_back(++next_tag_);
        inflight_.emplace(next_tag_, Flight{got[i], false, clock::now()});
    }
    m_.inflight = int64_t(inflight_.size());
    for (uint64_t t : tags) publish(inflight_.at(t));
    return n;
}

void Out::drain(int timeout_ms) {
    Confirm c;
    while (amqp_.next_confirm(timeout_ms, &c)) {
        settle(c);
        timeout_ms = 0;
    }
    m_.inflight = int64_t(inflight_.size());
}

void Out::settle(const Confirm &c) {
    if (c.kind == Confirm::returned) return mark_returned(c.local_id);
    auto first = c.multiple ? inflight_.begin() : inflight_.find(c.tag);
    if (first == inflight_.end()) return; // a lease already dropped (lost, or its queue deleted)
    auto last = inflight_.upper_bound(c.tag);
    for (auto it = first; it != last; it = inflight_.erase(it)) {
        if (c.kind == Confirm::nack) m_.broker_nacked++;
        finish(it->second, c.kind == Confirm::ack && !it->second.returned);
    }
}

// A basic.return precedes the basic.ack of the same publish: remember it.
void Out::mark_returned(std::optional<uint64_t> local_id) {
    m_.returned++;
    for (auto &[tag, f] : inflight_)
        if (local_id && f.lease.id == *local_id && !f.returned) {
            f.returned = true;
            return;
        }
}

void Out::finish(Flight &f, bool confirmed) {
    if (!confirmed) return refuse(f);
    int rc = local_.ack(f.lease);
    if (LocalQueue::is_ok(rc)) m_.confirmed++;
    else if (LocalQueue::is_lost(rc)) m_.lease_lost++; // redelivered locally: a duplicate on the broker
    else spdlog::warn("[{}] local ack of message {}: {}", b_.name, f.lease.id, LocalQueue::strerror(rc));
    LocalQueue::release(f.lease);
}

// The broker refused the message: retry it with the queue's backoff, or
// dead-letter it once it has had reject_after attempts.
void Out::refuse(Flight &f) {
    bool reject = b_.reject_after > 0 && f.lease.attempt >= b_.reject_after;
    int rc = reject ? local_.reject(f.lease) : local_.nack(f.lease);
    if (LocalQueue::is_ok(rc)) (reject ? m_.local_rejected : m_.local_nacked)++;
    else if (LocalQueue::is_lost(rc)) m_.lease_lost++;
    spdlog::warn("[{}] broker refused message {} (attempt {}): {}", b_.name, f.lease.id, f.lease.attempt,
                 reject ? "dead-lettered" : "nacked for a retry");
    LocalQueue::release(f.lease);
}

void Out::drop(std::map<uint64_t, Flight>::iterator it) {
    m_.lease_lost++;
    LocalQueue::release(it->second.lease);
    inflight_.erase(it);
}

// Extend leases at half their life; once a second, run the core's recovery
// (it gives back the leases of a bridge that was killed) and read the backlog.
void Out::upkeep() {
    clock::time_point now = clock::now();
    for (auto it = inflight_.begin(); it != inflight_.end();) {
        Flight &f = it->second;
        auto half = std::chrono::milliseconds(f.lease.lease_ms / 2);
        if (now - f.extended < half) { ++it; continue; }
        int rc = local_.extend(f.lease, f.lease.lease_ms);
        f.extended = now;
        if (LocalQueue::is_lost(rc)) drop(it++);
        else ++it;
    }
    if (now - last_recover_ >= std::chrono::seconds(1)) {
        local_.recover();
        last_recover_ = now;
        uint64_t ready = 0;
        double age = 0;
        if (LocalQueue::is_ok(local_.backlog(&ready, &age))) {
            m_.backlog = int64_t(ready);
            m_.oldest_age_ms = int64_t(age * 1000);
        }
    }
}

void Out::step() {
    upkeep();
    ensure_broker();
    if (!amqp_.is_open()) return nap(stop_, 20);
    size_t leased = 0;
    if (inflight_.size() < b_.max_inflight && !amqp_.blocked()) leased = fill(inflight_.empty() ? 100 : 0);
    bool wait = amqp_.blocked() || (!inflight_.empty() && (leased == 0 || inflight_.size() >= b_.max_inflight));
    drain(wait ? 20 : 0);
    m_.blocked = amqp_.blocked(); // while blocked, publish nothing more: a write could stall
}

// Stop leasing; wait a little for the confirms of what is in flight. What is
// still unconfirmed goes back to the queue when the handle closes.
void Out::shutdown() {
    auto deadline = clock::now() + std::chrono::seconds(5);
    try {
        while (amqp_.is_open() && !inflight_.empty() && clock::now() < deadline) drain(100);
    } catch (const BrokerError &e) {
        spdlog::warn("[{}] while stopping: {}", b_.name, e.what());
    }
    if (!inflight_.empty())
        spdlog::warn("[{}] stopping with {} unconfirmed: they return to {}", b_.name, inflight_.size(), b_.local_queue);
    for (auto &[tag, f] : inflight_) LocalQueue::release(f.lease);
    inflight_.clear();
    amqp_.close_politely();
    local_.close();
}

void Out::run() {
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
    shutdown();
}

} // namespace

void run_out(const Binding &b, const BrokerConfig &broker, Metrics &m, const std::atomic<bool> &stop) {
    Out(b, broker, m, stop).run();
}

} // namespace bridge
