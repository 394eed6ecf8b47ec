// shmq_scaling.cpp - aggregate throughput of 1-4 producer processes x 1-4
// consumer processes on one shmq queue (64 B, ack each, default spin budget).
// With more processes than cores the figures show oversubscription, and the
// report says so: nothing is pinned.
#include <cstring>
#include <new>
#include <unistd.h>

#include "../measure.hpp"
#include "../shmq_util.hpp"
#include "../suites.hpp"

namespace bench {

namespace {

constexpr size_t kSize = 64;
constexpr int64_t kIdleNs = 20'000'000; // a consumer idle this long after producers end stops

struct ScaleShared {
    Gate gate;
    std::atomic<uint32_t> producers_done{0};
    std::atomic<uint64_t> sent{0}, received{0};
    std::atomic<int64_t> last_ns{0};
};

void scale_producer(const std::string &name, uint32_t procs, double seconds, ScaleShared &sh) {
    Handle q(name, bench_default_options());
    char buf[kSize] = {};
    int64_t deadline = sh.gate.arrive(procs) + int64_t(seconds * 1e9);
    uint64_t n = 0;
    while ((n & 63) != 0 || now_ns() < deadline) {
        put_header(buf, ++n, 0);
        shmq_check(shmq_send(q.get(), buf, kSize, kShmqTimeoutNs), "shmq_send");
    }
    sh.sent += n;
    sh.producers_done++;
}

void scale_consumer(const std::string &name, uint32_t procs, uint32_t producers, ScaleShared &sh) {
    Handle q(name, bench_default_options());
    char buf[kSize];
    sh.gate.arrive(procs);
    uint64_t n = 0;
    int64_t last = 0;
    while (true) {
        shmq_msg m;
        int rc = shmq_recv(q.get(), &m, kIdleNs);
        if (rc == SHMQ_ETIMEDOUT || rc == SHMQ_EEMPTY) {
            if (sh.producers_done.load() == producers)
                break;
            continue;
        }
        shmq_check(rc, "shmq_recv");
        std::memcpy(buf, m.data, kSize);
        shmq_check(shmq_ack(q.get(), &m), "shmq_ack");
        n++;
        last = now_ns();
    }
    sh.received += n;
    int64_t prev = sh.last_ns.load();
    while (last > prev && !sh.last_ns.compare_exchange_weak(prev, last)) {
    }
}

Json scaling_cell(const Config &cfg, uint32_t producers, uint32_t consumers) {
    NamedQueue queue(bench_params(kSize, 4096));
    SharedMem mem(sizeof(ScaleShared));
    auto *sh = new (mem.data()) ScaleShared{};
    uint32_t procs = producers + consumers;
    Children kids;
    for (uint32_t i = 0; i < consumers; i++)
        kids.spawn([&] { scale_consumer(queue.name(), procs, producers, *sh); });
    for (uint32_t i = 0; i < producers; i++)
        kids.spawn([&] { scale_producer(queue.name(), procs, cfg.scaling_s, *sh); });
    kids.wait_all(2 * cfg.scaling_s + 30);
    if (sh->sent.load() != sh->received.load())
        throw std::runtime_error("scaling: sent " + std::to_string(sh->sent.load()) +
                                 " but received " + std::to_string(sh->received.load()));
    RateRun r{sh->received.load(), double(sh->last_ns.load() - sh->gate.start_ns.load()) / 1e9, nullptr, 0, 0};
    Json j = rate_json(r, kSize);
    j["producers"] = producers;
    j["consumers"] = consumers;
    j["oversubscribed"] = procs > uint32_t(sysconf(_SC_NPROCESSORS_ONLN));
    return j;
}

} // namespace

Json suite_scaling(const Config &cfg) {
    Json cells = Json::array();
    for (uint32_t p = 1; p <= 4; p++) {
        for (uint32_t c = 1; c <= 4; c++) {
            std::string label = std::to_string(p) + "x" + std::to_string(c);
            try {
                cells.push_back(measure_quietly(cfg, [&] { return scaling_cell(cfg, p, c); }));
                progress("scaling", label, fmt_rate(cells.back()["msgs_per_s"].get<double>()));
            } catch (const std::exception &e) {
                Json err = error_entry("scaling " + label, e);
                err["producers"] = p;
                err["consumers"] = c;
                cells.push_back(err);
            }
        }
    }
    return Json{{"size", kSize}, {"spin_ns", "library default"}, {"cells", cells}};
}

} // namespace bench
