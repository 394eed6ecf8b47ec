// measure.cpp - ping-pong, throughput and fixed-rate runs over a Transport.
// Children write their samples into a shared anonymous mapping that the parent
// reads after reaping them; a failed child fails the run (Children::wait_all).
#include "measure.hpp"

#include "counters.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <sched.h>

namespace bench {

size_t capacity_for(size_t msg_size) {
    return std::clamp<size_t>((16u << 20) / std::max<size_t>(msg_size, 1), 8, 4096);
}

void put_header(void *buf, uint64_t seq, int64_t t_ns) {
    auto *p = static_cast<char *>(buf);
    std::memcpy(p, &seq, sizeof seq);
    std::memcpy(p + 8, &t_ns, sizeof t_ns);
}

uint64_t get_seq(const void *buf) {
    uint64_t v;
    std::memcpy(&v, buf, sizeof v);
    return v;
}

int64_t get_time(const void *buf) {
    int64_t v;
    std::memcpy(&v, static_cast<const char *>(buf) + 8, sizeof v);
    return v;
}

namespace {

// What children hand back: a gate, a few counters and a sample array.
struct Shared {
    Gate gate;
    std::atomic<uint64_t> count{0};
    std::atomic<int64_t> end_ns{0};
    std::atomic<int64_t> lag_ns{0};
    std::atomic<int> cpu[2][2]; // [side][start, end], sched_getcpu()
    CounterValues hw[2];        // throughput: [producer, consumer]
    // Throughput: the consumer's count, published every 64 messages on a line
    // of its own, and what the producer saw queued (sent - that) every 64 sends.
    alignas(64) std::atomic<uint64_t> consumed{0};
    alignas(64) std::atomic<uint64_t> queued_sum{0}, queued_looks{0};
};

// "same CPU", "two CPUs" or "moved", from where both sides ran at start and end.
std::string placement(const Shared &sh) {
    bool same_start = sh.cpu[0][0] == sh.cpu[1][0], same_end = sh.cpu[0][1] == sh.cpu[1][1];
    if (same_start && same_end)
        return "same CPU";
    return !same_start && !same_end ? "two CPUs" : "moved";
}

struct Run {
    SharedMem mem;
    Shared *shared;
    int64_t *samples;
    explicit Run(size_t max_samples)
        : mem(sizeof(Shared) + max_samples * sizeof(int64_t)),
          shared(new (mem.data()) Shared{}),
          samples(reinterpret_cast<int64_t *>(mem.as<char>() + sizeof(Shared))) {}
    LatencyRun latency() const {
        LatencyRun r;
        r.sorted.assign(samples, samples + shared->count.load());
        r.summary = summarize(r.sorted);
        return r;
    }
};

std::vector<char> message_buffer(size_t size) {
    return std::vector<char>(std::max<size_t>(size, 16), char(0xab));
}

void echo_side(Transport &t, size_t size, Shared &sh) {
    auto ep = t.open(1, 0);
    auto buf = message_buffer(size);
    sh.gate.arrive(2);
    while (true) {
        ep->recv(buf.data(), size);
        ep->send(buf.data(), size);
        uint64_t seq = get_seq(buf.data());
        if (seq == kStopSeq)
            break;
        if (seq == 1)
            sh.cpu[1][0] = sched_getcpu();
    }
    sh.cpu[1][1] = sched_getcpu();
}

void ping_side(Transport &t, size_t size, size_t rounds, size_t warmup, double budget_s, Run &run) {
    auto ep = t.open(0, 1);
    auto buf = message_buffer(size);
    run.shared->gate.arrive(2);
    // Warm-up ends after `warmup` rounds or a quarter of the budget, whichever
    // comes first (under a busy neighbour a round may take a scheduler tick).
    int64_t warm_until = now_ns() + int64_t(budget_s * 0.25e9);
    int64_t deadline = INT64_MAX; // set once warm-up is over
    bool recording = false;
    size_t n = 0;
    for (uint64_t seq = 1; n < rounds; seq++) {
        put_header(buf.data(), seq, 0);
        int64_t t0 = now_ns();
        ep->send(buf.data(), size);
        ep->recv(buf.data(), size);
        int64_t t1 = now_ns();
        if (get_seq(buf.data()) != seq)
            throw std::runtime_error("ping-pong: reply out of order");
        if (seq == 1)
            run.shared->cpu[0][0] = sched_getcpu();
        if (!recording && (seq > warmup || t0 > warm_until)) {
            recording = true;
            deadline = t0 + int64_t(budget_s * 1e9);
        }
        if (recording)
            run.samples[n++] = t1 - t0;
        if (t1 > deadline)
            break;
    }
    run.shared->count.store(n);
    run.shared->cpu[0][1] = sched_getcpu();
    put_header(buf.data(), kStopSeq, 0);
    ep->send(buf.data(), size);
    ep->recv(buf.data(), size);
}

} // namespace

LatencyRun measure_pingpong(Transport &t, size_t size, size_t rounds, size_t warmup,
                            double budget_s) {
    ChannelGuard channel(t, {size, std::min<size_t>(64, capacity_for(size))});
    Run run(rounds);
    Children kids;
    kids.spawn([&] { echo_side(t, size, *run.shared); });
    kids.spawn([&] { ping_side(t, size, rounds, warmup, budget_s, run); });
    kids.wait_all(3 * budget_s + 60);
    LatencyRun r = run.latency();
    r.placement = placement(*run.shared);
    return r;
}

namespace {

void produce(Transport &t, size_t size, double seconds, Shared &sh) {
    auto ep = t.open(0, -1);
    auto buf = message_buffer(size);
    Counters hw;
    int64_t deadline = sh.gate.arrive(2) + int64_t(seconds * 1e9);
    hw.start();
    uint64_t check_mask = size >= 4096 ? 0 : 63;
    uint64_t queued_sum = 0, looks = 0;
    for (uint64_t seq = 1;; seq++) {
        put_header(buf.data(), seq, 0);
        ep->send(buf.data(), size);
        if ((seq & check_mask) != 0)
            continue;
        queued_sum += seq - sh.consumed.load(std::memory_order_relaxed);
        looks++;
        if (now_ns() > deadline)
            break;
    }
    sh.queued_sum.store(queued_sum);
    sh.queued_looks.store(looks);
    put_header(buf.data(), kStopSeq, 0);
    ep->send(buf.data(), size);
    sh.hw[0] = hw.stop();
}

void consume(Transport &t, size_t size, Shared &sh) {
    auto ep = t.open(-1, 0);
    auto buf = message_buffer(size);
    Counters hw;
    sh.gate.arrive(2);
    hw.start();
    uint64_t expect = 1;
    while (true) {
        ep->recv(buf.data(), size);
        uint64_t seq = get_seq(buf.data());
        if (seq == kStopSeq)
            break;
        if (seq != expect++)
            throw std::runtime_error("throughput: message out of order or lost");
        if ((seq & 63) == 0)
            sh.consumed.store(seq, std::memory_order_relaxed);
    }
    sh.end_ns.store(now_ns());
    sh.hw[1] = hw.stop();
    sh.count.store(expect - 1);
}

} // namespace

Json rate_json(const RateRun &r, size_t size) {
    Json j{{"size", size},
           {"messages", r.messages},
           {"seconds", r.seconds},
           {"msgs_per_s", r.per_second()},
           {"bytes_per_s", r.per_second() * double(size)}};
    if (!r.counters.is_null())
        j["per_message_counters"] = r.counters;
    if (r.capacity > 0) {
        j["mean_queued"] = r.mean_queued;
        j["capacity"] = r.capacity;
    }
    return j;
}

RateRun measure_throughput(Transport &t, size_t size, double seconds) {
    ChannelGuard channel(t, {size, capacity_for(size)});
    Run run(0);
    Children kids;
    kids.spawn([&] { consume(t, size, *run.shared); });
    kids.spawn([&] { produce(t, size, seconds, *run.shared); });
    kids.wait_all(2 * seconds + 30);
    RateRun r;
    r.messages = run.shared->count.load();
    r.seconds = double(run.shared->end_ns.load() - run.shared->gate.start_ns.load()) / 1e9;
    r.counters = per_message(run.shared->hw[0], run.shared->hw[1], r.messages);
    uint64_t looks = run.shared->queued_looks.load();
    r.mean_queued = looks ? double(run.shared->queued_sum.load()) / double(looks) : 0;
    r.capacity = capacity_for(size);
    return r;
}

namespace {

void paced_sender(Transport &t, size_t size, double hz, size_t n, Shared &sh) {
    auto ep = t.open(0, -1);
    auto buf = message_buffer(size);
    int64_t start = sh.gate.arrive(2) + 1000000;
    double period = 1e9 / hz;
    int64_t worst_lag = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t due = start + int64_t(double(i) * period);
        int64_t now;
        while ((now = now_ns()) < due)
            cpu_relax();
        worst_lag = std::max(worst_lag, now - due);
        put_header(buf.data(), i + 1, due);
        ep->send(buf.data(), size);
    }
    put_header(buf.data(), kStopSeq, 0);
    ep->send(buf.data(), size);
    sh.lag_ns.store(worst_lag);
}

void timed_receiver(Transport &t, size_t size, Run &run) {
    auto ep = t.open(-1, 0);
    auto buf = message_buffer(size);
    run.shared->gate.arrive(2);
    size_t n = 0;
    while (true) {
        ep->recv(buf.data(), size);
        int64_t now = now_ns();
        if (get_seq(buf.data()) == kStopSeq)
            break;
        run.samples[n++] = now - get_time(buf.data());
        run.shared->end_ns.store(now, std::memory_order_relaxed);
    }
    run.shared->count.store(n);
}

} // namespace

FixedRateRun measure_fixed_rate(Transport &t, size_t size, double hz, double seconds) {
    size_t n = size_t(hz * seconds);
    ChannelGuard channel(t, {size, capacity_for(size)});
    Run run(n);
    Children kids;
    kids.spawn([&] { timed_receiver(t, size, run); });
    kids.spawn([&] { paced_sender(t, size, hz, n, *run.shared); });
    kids.wait_all(2 * seconds + 30);
    FixedRateRun r;
    r.latency = run.latency();
    int64_t span = run.shared->end_ns.load() - (run.shared->gate.start_ns.load() + 1000000);
    r.achieved_hz = span > 0 ? double(r.latency.summary.count) / (double(span) / 1e9) : 0;
    r.max_send_lag_ns = run.shared->lag_ns.load();
    return r;
}

} // namespace bench
