// metrics.hpp - what the metrics endpoint shows: a snapshot of every queue,
// taken by the loop once per tick and handed to the HTTP thread under a
// mutex. The HTTP thread never touches a segment or a store, so a slow
// scraper can never slow the loop down, and a stuck loop shows as a stale
// shmq_daemon_loop_seconds rather than a hung endpoint.
#pragma once

#include "shmq/shmq.h"

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace shmqd {

// Dead-letter reasons, indexed like the core's DeadReason.
constexpr std::array<const char *, 7> kReasonNames = {"none",    "max_attempts",  "rejected",       "expired",
                                                      "invalid", "group_removed", "bridge_rejected"};

struct ConsumerSample {
    int32_t pid;
    uint64_t delivered, acked;
    uint32_t in_flight;
};

struct QueueSample {
    std::string name;
    std::string group;               // a topic's consumer group: its gauges get a `group` label
    shmq_stats stats{};              // `client` is not used (null)
    uint64_t spilled = 0;            // messages waiting in the spill store
    uint64_t spill_bytes = 0;
    uint64_t dead_letters = 0;       // records in the dead-letter store
    uint64_t dead_letter_bytes = 0;
    int64_t oldest_age_ns = 0;       // oldest ready message, in memory or spilled
    uint32_t consumers = 0;
    std::array<uint64_t, kReasonNames.size()> dead_lettered{}; // written by this daemon, per reason
    uint64_t spilled_total = 0, refilled_total = 0, redriven_total = 0;
    uint64_t dlq_dropped_total = 0; // dropped by retention
    bool spill_full = false;
    int64_t oldest_dead_letter_age_ns = 0; // 0: none
    // Store health: failing now (logged, no write has worked since), and
    // failures since this daemon started by kind (no_space, io, ...).
    bool dlq_failing = false, spill_failing = false;
    std::map<std::string, uint64_t> dlq_errors, spill_errors;
    std::vector<ConsumerSample> per_consumer;
};

// A histogram of tick durations in seconds (cumulative buckets).
struct LoopHistogram {
    static constexpr std::array<double, 10> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                       0.005,  0.01,    0.025,  0.1,   1.0};
    std::array<uint64_t, kBounds.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
    void observe(double seconds);
};

struct Snapshot {
    std::vector<QueueSample> queues;
    LoopHistogram loop;
    int64_t started_ns = 0;   // CLOCK_REALTIME
    int64_t last_tick_ns = 0; // CLOCK_REALTIME, end of the last tick over all queues
    int64_t now_ns = 0;       // CLOCK_REALTIME, when read() took the snapshot
};

// The hand-over point between the loop (publish) and the HTTP thread (read).
class MetricsBoard {
public:
    void publish(std::vector<QueueSample> queues); // after a tick: also its time
    void observe_tick(double seconds);
    void set_started(int64_t ns);
    Snapshot read() const;

private:
    mutable std::mutex mu_;
    Snapshot snap_;
};

// Render a snapshot in the Prometheus text exposition format (0.0.4).
std::string render_metrics(const Snapshot &s);

struct HttpRequest;
struct HttpResponse;
// GET /metrics: the latest snapshot, rendered; anything else 404 (metrics_text.cpp).
HttpResponse serve_metrics(const MetricsBoard &board, const HttpRequest &r);

} // namespace shmqd
