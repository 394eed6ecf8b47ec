// backlog.cpp - 1 -> 1 with a backlog held steady: the producer keeps about
// kBacklog 64-byte messages queued (sent minus received, the consumer
// publishing its count every kEvery messages) and the consumer receives each
// one. Reported: the rate, the backlog the producer saw on average, and the
// latency of every kEvery-th message from its send to its receipt, i.e.
// through the backlog (about backlog / rate by Little's law).
#include <new>

#include "../measure.hpp"
#include "../suites.hpp"

namespace bench {

namespace {

constexpr size_t kSize = 64;
constexpr uint64_t kBacklog = 1000;
constexpr uint64_t kEvery = 16;
constexpr size_t kMaxSamples = size_t(1) << 21;

struct BacklogShared {
    Gate gate;
    alignas(64) std::atomic<uint64_t> received{0}; // written by the consumer only
    alignas(64) std::atomic<int64_t> end_ns{0};
    std::atomic<uint64_t> samples{0}, total{0};
    std::atomic<uint64_t> backlog_sum{0}, backlog_looks{0};
};

void backlog_producer(Transport &t, double seconds, BacklogShared &sh) {
    auto ep = t.open(0, -1);
    std::vector<char> buf(kSize, char(0xab));
    int64_t deadline = sh.gate.arrive(2) + int64_t(seconds * 1e9);
    uint64_t sum = 0, looks = 0;
    for (uint64_t seq = 1;; seq++) {
        if ((seq & 63) == 0 && now_ns() > deadline)
            break;
        uint64_t queued;
        while ((queued = seq - 1 - sh.received.load(std::memory_order_acquire)) >= kBacklog)
            cpu_relax();
        if ((seq & 63) == 0) {
            sum += queued;
            looks++;
        }
        put_header(buf.data(), seq, seq % kEvery == 0 ? now_ns() : 0);
        ep->send(buf.data(), kSize);
    }
    put_header(buf.data(), kStopSeq, 0);
    ep->send(buf.data(), kSize);
    sh.backlog_sum.store(sum);
    sh.backlog_looks.store(looks);
}

void backlog_consumer(Transport &t, BacklogShared &sh, int64_t *samples) {
    auto ep = t.open(-1, 0);
    std::vector<char> buf(kSize);
    sh.gate.arrive(2);
    size_t n = 0;
    uint64_t expect = 1;
    for (;; expect++) {
        ep->recv(buf.data(), kSize);
        uint64_t seq = get_seq(buf.data());
        if (seq == kStopSeq)
            break;
        if (seq != expect)
            throw std::runtime_error("backlog: message out of order or lost");
        if (seq % kEvery != 0)
            continue;
        if (n < kMaxSamples)
            samples[n++] = now_ns() - get_time(buf.data());
        sh.received.store(seq, std::memory_order_release);
    }
    sh.end_ns.store(now_ns());
    sh.samples.store(n);
    sh.total.store(expect - 1);
}

Json measure_backlog(Transport &t, double seconds) {
    ChannelGuard channel(t, {kSize, capacity_for(kSize)});
    SharedMem mem(sizeof(BacklogShared) + kMaxSamples * sizeof(int64_t));
    auto *sh = new (mem.data()) BacklogShared{};
    auto *samples = reinterpret_cast<int64_t *>(mem.as<char>() + sizeof(BacklogShared));
    Children kids;
    kids.spawn([&] { backlog_consumer(t, *sh, samples); });
    kids.spawn([&] { backlog_producer(t, seconds, *sh); });
    kids.wait_all(2 * seconds + 30);
    std::vector<int64_t> lat(samples, samples + sh->samples.load());
    Summary s = summarize(lat);
    RateRun rate{sh->total.load(), double(sh->end_ns.load() - sh->gate.start_ns.load()) / 1e9, nullptr, 0, 0};
    Json j = rate_json(rate, kSize);
    uint64_t looks = sh->backlog_looks.load();
    j["target_backlog"] = kBacklog;
    j["mean_backlog"] = looks ? double(sh->backlog_sum.load()) / double(looks) : 0.0;
    j["latency"] = to_json(s);
    j["latency_sampled_every"] = kEvery;
    j["settings"] = t.describe();
    return j;
}

} // namespace

Json suite_backlog(const Config &cfg) {
    // posix_mq is left out: its unprivileged limit (10 messages) cannot hold the backlog.
    std::vector<std::string> names = {"spsc_ring", "shmq_spin", "shmq_default", "shmq_sleep",
                                      "boost_mq",  "boost_mq_spin", "unix_socket", "pipe"};
    return for_each_transport(cfg, "backlog", names, Feature::OneWay, [&](Transport &t) {
        Json j = measure_backlog(t, cfg.throughput_s);
        progress("backlog", t.name(),
                 fmt_rate(j["msgs_per_s"].get<double>()) + ", mean backlog " +
                     std::to_string(int(j["mean_backlog"].get<double>())) + ", latency p50 " +
                     fmt_ns(j["latency"]["p50_ns"].get<double>()));
        return j;
    });
}

} // namespace bench
