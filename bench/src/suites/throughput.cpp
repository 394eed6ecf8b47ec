// throughput.cpp - one-way throughput of 64-byte messages from one producer
// process to one consumer process, every message received, checked for order
// and (for shmq) acked one by one; plus shmq's batch API as its own variant.
#include "../measure.hpp"
#include "../suites.hpp"

namespace bench {

namespace {
constexpr size_t kSize = 64;
constexpr size_t kBatch = 32;
} // namespace

Json suite_throughput(const Config &cfg) {
    std::vector<std::string> names = {"spsc_ring", "shmq_spin", "shmq_sleep", "boost_mq",
                                      "unix_socket", "pipe",    "posix_mq"};
    Json out = for_each_transport(cfg, "throughput", names, Feature::OneWay, [&](Transport &t) {
        auto r = measure_throughput(t, kSize, cfg.throughput_s);
        progress("throughput", t.name(), fmt_rate(r.per_second()));
        Json j = rate_json(r, kSize);
        j["settings"] = t.describe();
        return j;
    });
    if (!variant_selected(cfg, "shmq_batch"))
        return out;
    try {
        out["shmq_batch"] = shmq_batch_throughput(cfg, kBatch);
    } catch (const std::exception &e) {
        out["shmq_batch"] = error_entry("throughput shmq_batch", e);
    }
    return out;
}

} // namespace bench
