// measure.hpp - the three measurements that work on any Transport: closed-loop
// ping-pong latency, one-way throughput, and open-loop fixed-rate latency.
// Each forks two children (one per side), so every figure crosses processes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"
#include "transport.hpp"

namespace bench {

// Slots per direction for a message size: about 16 MiB, between 8 and 4096.
size_t capacity_for(size_t msg_size);

struct LatencyRun {
    Summary summary;
    std::vector<int64_t> sorted; // every sample, ascending
    // Ping-pong only: where the two processes ran at the start and at the end
    // of the measurement: "same CPU", "two CPUs" or "moved" (the scheduler's
    // choice, which decides how sleeping transports are woken).
    std::string placement;
};

// Round trips of `size`-byte messages: `warmup` unrecorded (fewer if a quarter
// of `budget_s` passes first), then up to `rounds` recorded, stopping early
// once `budget_s` has passed since the warm-up ended.
LatencyRun measure_pingpong(Transport &t, size_t size, size_t rounds, size_t warmup,
                            double budget_s);

struct RateRun {
    uint64_t messages = 0;
    double seconds = 0;
    Json counters; // per message, both processes (counters.hpp); null if not counted
    // measure_throughput only: messages the producer saw waiting, on average
    // (near capacity: the consumer is the slower side; near 0: the producer),
    // and the channel's capacity; capacity 0 when not measured.
    double mean_queued = 0;
    size_t capacity = 0;
    double per_second() const { return seconds > 0 ? double(messages) / seconds : 0; }
};

// One producer process sends for `seconds`; one consumer process receives. The
// rate is messages received over the time from the start line to the last one.
RateRun measure_throughput(Transport &t, size_t size, double seconds);
Json rate_json(const RateRun &r, size_t size);

struct FixedRateRun {
    LatencyRun latency;      // from each message's intended send time to its receipt
    double achieved_hz = 0;  // messages over the time until the last one was received
    int64_t max_send_lag_ns = 0; // how late the sender was at worst
};

// Open loop: message i is due at start + i / hz, whatever happened to earlier ones.
// Latency counts from the due time, so a stalled transport is charged for every
// message it delayed (no coordinated omission).
FixedRateRun measure_fixed_rate(Transport &t, size_t size, double hz, double seconds);

// Message header: words 0 and 1 of the payload.
void put_header(void *buf, uint64_t seq, int64_t t_ns);
uint64_t get_seq(const void *buf);
int64_t get_time(const void *buf);

} // namespace bench
