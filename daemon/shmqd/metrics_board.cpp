// metrics_board.cpp - the mutex-guarded snapshot shared by the loop and the
// metrics thread (metrics.hpp). Copies in, copies out: nobody holds the lock
// while rendering or scanning a segment.
#include "metrics.hpp"

#include "sys.hpp"

#include <utility>

namespace shmqd {

void LoopHistogram::observe(double seconds) {
    for (size_t i = 0; i < kBounds.size(); ++i)
        if (seconds <= kBounds[i]) ++buckets[i];
    ++count;
    sum += seconds;
}

void MetricsBoard::publish(std::vector<QueueSample> queues) {
    std::lock_guard<std::mutex> g(mu_);
    snap_.queues = std::move(queues);
    snap_.last_tick_ns = shmq::detail::real_ns();
}

void MetricsBoard::observe_tick(double seconds) {
    std::lock_guard<std::mutex> g(mu_);
    snap_.loop.observe(seconds);
}

void MetricsBoard::set_started(int64_t ns) {
    std::lock_guard<std::mutex> g(mu_);
    snap_.started_ns = ns;
}

Snapshot MetricsBoard::read() const {
    std::lock_guard<std::mutex> g(mu_);
    Snapshot s = snap_;
    s.now_ns = shmq::detail::real_ns();
    return s;
}

} // namespace shmqd
