// fixed_rate.cpp - latency under an open-loop load of `fixed_rate_hz` 64-byte
// messages per second, measured from each message's intended send time, so a
// stall is charged to every message queued behind it (no coordinated omission).
#include "../measure.hpp"
#include "../suites.hpp"

namespace bench {

namespace {
constexpr size_t kSize = 64;
} // namespace

Json suite_fixed_rate(const Config &cfg) {
    std::vector<std::string> names = {"spsc_ring", "shmq_spin", "shmq_default", "shmq_sleep", "boost_mq", "boost_mq_spin",
                                      "unix_socket", "pipe",    "posix_mq"};
    return for_each_transport(cfg, "fixed_rate", names, Feature::FixedRate, [&](Transport &t) {
        auto r = measure_fixed_rate(t, kSize, cfg.fixed_rate_hz, cfg.fixed_rate_s);
        progress("fixed_rate", t.name(),
                 "p50 " + fmt_ns(double(r.latency.summary.p50)) + ", p99.9 " +
                     fmt_ns(double(r.latency.summary.p999)) + ", max " +
                     fmt_ns(double(r.latency.summary.max)));
        Json j = to_json(r.latency.summary);
        j["size"] = kSize;
        j["target_hz"] = cfg.fixed_rate_hz;
        j["achieved_hz"] = r.achieved_hz;
        j["max_send_lag_ns"] = r.max_send_lag_ns;
        j["curve"] = percentile_curve(r.latency.sorted);
        return j;
    });
}

} // namespace bench
