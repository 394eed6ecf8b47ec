// metrics.hpp - per-binding counters, read by the status writer.
//
// Each binding's thread updates its own Metrics (relaxed atomics: counters, no
// ordering with anything else); render() writes them all as Prometheus text.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace bridge {

struct Metrics {
    std::string binding, direction;
    // out
    std::atomic<uint64_t> published{0}, confirmed{0}, returned{0}, broker_nacked{0},
        local_nacked{0}, local_rejected{0}, lease_lost{0};
    std::atomic<int64_t> inflight{0};
    std::atomic<int64_t> backlog{0};            // ready or delayed in the local queue
    std::atomic<int64_t> oldest_age_ms{0};      // age of its oldest ready message
    // in
    std::atomic<uint64_t> received{0}, sent_local{0}, acked_broker{0}, poison{0}, backpressure_waits{0},
        headers_skipped{0}, duplicates{0};
    std::atomic<int64_t> broker_backlog{0};     // ready in the broker's queue (the lag)
    // both
    std::atomic<uint64_t> reconnects{0}, broker_errors{0};
    std::atomic<int64_t> connected{0}, blocked{0};
};

std::string render(const std::vector<Metrics *> &all);
// Write render(all) to `path` atomically (temporary file, then rename).
bool write_status(const std::string &path, const std::vector<Metrics *> &all);

} // namespace bridge
