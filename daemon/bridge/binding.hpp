// binding.hpp - the two directions a binding runs in, one thread each.
//
// A binding's thread owns its local queue handle and its broker connection.
// It returns when `stop` becomes true (after settling what it can); broker
// failures never end it: it reconnects with backoff (Backoff below).
#pragma once

#include "config.hpp"
#include "metrics.hpp"

#include <atomic>
#include <chrono>

namespace bridge {

// out: lease locally, publish with confirms, ack locally on the confirm.
void run_out(const Binding &b, const BrokerConfig &broker, Metrics &m, const std::atomic<bool> &stop);
// in: consume with manual acks, send locally, ack to the broker after the send.
void run_in(const Binding &b, const BrokerConfig &broker, Metrics &m, const std::atomic<bool> &stop);

// Exponential backoff between reconnects: min, 2*min, ... up to max.
class Backoff {
public:
    using clock = std::chrono::steady_clock;
    Backoff(uint32_t min_ms, uint32_t max_ms) : min_ms_(min_ms), max_ms_(max_ms) {}
    void failed();            // schedule the next attempt later
    void succeeded() { cur_ms_ = 0; }
    bool due() const { return clock::now() >= next_; }
    uint32_t delay_ms() const { return cur_ms_; }

private:
    uint32_t min_ms_, max_ms_, cur_ms_ = 0;
    clock::time_point next_{};
};

// Sleep up to `ms`, waking early when `stop` is set.
void nap(const std::atomic<bool> &stop, uint32_t ms);

} // namespace bridge
