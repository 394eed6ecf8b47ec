// throughput.cpp - one-way throughput of 64-byte messages from one producer
// process to one consumer process, every message received, checked for order
// and (for shmq) acked one by one; plus shmq's batch API as its own variant.
// Each variant runs `throughput_reps` times and reports the median run. With
// `busy`, a CPU-bound process runs beside the pair during every run.
#include <algorithm>
#include <optional>

#include "../measure.hpp"
#include "../suites.hpp"

namespace bench {

namespace {

constexpr size_t kSize = 64;
constexpr size_t kBatch = 32;

Json median_of_runs(const Config &cfg, const char *suite, const std::string &name, bool busy,
                    const std::function<RateRun()> &once) {
    std::vector<RateRun> runs;
    Json rates = Json::array();
    for (size_t i = 0; i < cfg.throughput_reps; i++) {
        std::optional<BusyNeighbour> neighbour;
        if (busy)
            neighbour.emplace();
        runs.push_back(once());
        rates.push_back(runs.back().per_second());
    }
    std::sort(runs.begin(), runs.end(),
              [](const RateRun &a, const RateRun &b) { return a.per_second() < b.per_second(); });
    const RateRun &median = runs[runs.size() / 2];
    progress(suite, name, fmt_rate(median.per_second()) + " (median of " +
                                     std::to_string(runs.size()) + ")");
    Json j = rate_json(median, kSize);
    j["runs_msgs_per_s"] = rates;
    return j;
}

} // namespace

Json throughput_suite(const Config &cfg, bool busy) {
    const char *suite = busy ? "throughput+busy" : "throughput";
    std::vector<std::string> names = {"spsc_ring", "shmq_spin", "shmq_default", "shmq_sleep", "boost_mq", "boost_mq_spin",
                                      "unix_socket", "pipe",    "posix_mq"};
    Json out = for_each_transport(cfg, suite, names, Feature::OneWay, [&](Transport &t) {
        Json j = median_of_runs(cfg, suite, t.name(), busy,
                                [&] { return measure_throughput(t, kSize, cfg.throughput_s); });
        j["settings"] = t.describe();
        return j;
    });
    if (!variant_selected(cfg, "shmq_batch"))
        return out;
    try {
        Json j = measure_quietly(cfg, [&] {
            return median_of_runs(cfg, suite, "shmq_batch", busy,
                                  [&] { return shmq_batch_throughput(cfg, kBatch); });
        });
        j["batch"] = kBatch;
        j["settings"] = {{"slot_count", 4096}, {"spin_ns", 1000000000u}, {"prefetch", 0}};
        out["shmq_batch"] = j;
    } catch (const std::exception &e) {
        out["shmq_batch"] = error_entry(std::string(suite) + " shmq_batch", e);
    }
    return out;
}

Json suite_throughput(const Config &cfg) { return throughput_suite(cfg, false); }

} // namespace bench
