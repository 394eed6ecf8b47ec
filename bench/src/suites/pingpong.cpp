// pingpong.cpp - round-trip latency of 64-byte messages between two processes,
// for every transport, from the cache-line limit to POSIX mq. For shmq a round
// trip is send -> recv -> ack -> reply, on two queues (one per direction).
// With `busy`, a CPU-bound process runs beside the pair for each measurement.
#include <optional>

#include "../measure.hpp"
#include "../suites.hpp"

namespace bench {

namespace {
constexpr size_t kSize = 64;
} // namespace

Json pingpong_suite(const Config &cfg, bool busy) {
    std::vector<std::string> names = {"cacheline", "spsc_ring", "shmq_spin", "shmq_default", "shmq_sleep",
                                      "boost_mq",  "boost_mq_spin", "unix_socket", "pipe", "posix_mq"};
    const char *suite = busy ? "pingpong+busy" : "pingpong";
    return for_each_transport(cfg, suite, names, Feature::PingPong, [&](Transport &t) {
        std::optional<BusyNeighbour> neighbour;
        if (busy)
            neighbour.emplace();
        auto r = measure_pingpong(t, kSize, cfg.pingpong_rounds, cfg.warmup_rounds,
                                  cfg.pingpong_budget_s);
        neighbour.reset();
        progress(suite, t.name(),
                 "p50 " + fmt_ns(double(r.summary.p50)) + ", p99.9 " +
                     fmt_ns(double(r.summary.p999)) + " over " + std::to_string(r.summary.count) +
                     ", " + r.placement);
        Json j = to_json(r.summary);
        j["size"] = kSize;
        j["placement"] = r.placement;
        j["settings"] = t.describe();
        j["curve"] = percentile_curve(r.sorted);
        return j;
    });
}

Json suite_pingpong(const Config &cfg) { return pingpong_suite(cfg, false); }

} // namespace bench
