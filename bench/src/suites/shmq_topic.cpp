// shmq_topic.cpp - publish/subscribe (issue 16, item 6): one publisher process
// -> N consumer processes (N = 1, 2, 4), 64 B and 4 KiB, two ways: a topic with
// N consumer groups, one consumer each (the payload is written once and every
// group leases it), and a publisher sending the same message to N queues, one
// consumer each (N copies in). Throughput: the messages/s each consumer got
// (payload copied out, order checked, ack each); round trip: from a publish
// until every consumer has replied on a shared reply queue. The library's
// default options; nothing pinned (N + 1 processes: oversubscribed past the CPUs).
#include <cstring>
#include <memory>
#include <new>
#include <unistd.h>
#include <vector>

#include "../measure.hpp"
#include "../shmq_util.hpp"
#include "../suites.hpp"

namespace bench {

namespace {

constexpr uint32_t kMaxN = 4;
constexpr size_t kSlots = 1024;           // per topic or queue, both variants
constexpr int64_t kPollNs = 20'000'000;   // a consumer's recv timeout before it looks at `done`
constexpr uint64_t kStop = ~uint64_t(0);  // round trip: the sequence number that ends a consumer

// The N destinations of one message: a topic's groups "g0".."gN-1", or N queues.
class Fanout {
  public:
    Fanout(bool topic, uint32_t n, size_t size) : topic_(topic), n_(n) {
        shmq_params p = bench_params(size, kSlots);
        if (topic)
            p.max_groups = n;
        for (uint32_t i = 0; i < (topic ? 1 : n); i++)
            queues_.push_back(std::make_unique<NamedQueue>(p));
        if (topic) {
            Handle t(queues_[0]->name(), bench_default_options());
            for (uint32_t i = 0; i < n; i++)
                shmq_check(shmq_group_add(t.get(), group(i).c_str()), "shmq_group_add");
        }
    }
    uint32_t n() const { return n_; }

    // In the publisher: the topic's handle (it publishes), or one per queue.
    std::vector<std::unique_ptr<Handle>> open_publisher() const {
        std::vector<std::unique_ptr<Handle>> hs;
        for (const auto &q : queues_)
            hs.push_back(std::make_unique<Handle>(q->name(), bench_default_options()));
        return hs;
    }

    // In consumer i: its group's handle, or its queue's. The caller closes it.
    shmq_queue *open_consumer(uint32_t i) const {
        shmq_options o = bench_default_options();
        shmq_queue *q = nullptr;
        int rc = topic_ ? shmq_open_group(queues_[0]->name().c_str(), group(i).c_str(), &o, &q)
                        : shmq_open(queues_[i]->name().c_str(), &o, &q);
        shmq_check(rc, topic_ ? "shmq_open_group" : "shmq_open");
        return q;
    }

  private:
    static std::string group(uint32_t i) { return "g" + std::to_string(i); }
    bool topic_;
    uint32_t n_;
    std::vector<std::unique_ptr<NamedQueue>> queues_;
};

void publish(const std::vector<std::unique_ptr<Handle>> &hs, const void *buf, size_t size) {
    for (const auto &h : hs)
        shmq_check(shmq_send(h->get(), buf, size, kShmqTimeoutNs), "shmq_send");
}

// Leases one message into buf (size bytes copied out) and acks it; false on a timeout.
bool take(shmq_queue *q, void *buf, size_t size, int64_t timeout_ns) {
    shmq_msg m;
    int rc = shmq_recv(q, &m, timeout_ns);
    if (rc == SHMQ_ETIMEDOUT || rc == SHMQ_EEMPTY)
        return false;
    shmq_check(rc, "shmq_recv");
    std::memcpy(buf, m.data, size < m.len ? size : m.len);
    shmq_check(shmq_ack(q, &m), "shmq_ack");
    return true;
}

struct FanShared {
    Gate gate;
    std::atomic<uint32_t> done{0};
    std::atomic<uint64_t> sent{0};
    std::atomic<uint64_t> received[kMaxN]{};
    std::atomic<int64_t> last_ns[kMaxN]{};
};

void fan_publisher(const Fanout &f, size_t size, double seconds, FanShared &sh) {
    auto hs = f.open_publisher();
    std::vector<char> buf(size);
    int64_t deadline = sh.gate.arrive(f.n() + 1) + int64_t(seconds * 1e9);
    uint64_t n = 0;
    while ((n & 63) != 0 || now_ns() < deadline) {
        put_header(buf.data(), ++n, 0);
        publish(hs, buf.data(), size);
    }
    sh.sent = n; // before done: a consumer that sees done reads the final count
    sh.done = 1;
}

void fan_consumer(const Fanout &f, uint32_t i, size_t size, FanShared &sh) {
    shmq_queue *q = f.open_consumer(i);
    std::vector<char> buf(size);
    sh.gate.arrive(f.n() + 1);
    uint64_t n = 0;
    int64_t last = 0;
    while (!(sh.done.load() && n == sh.sent.load())) {
        if (!take(q, buf.data(), size, kPollNs))
            continue;
        if (get_seq(buf.data()) != ++n)
            throw std::runtime_error("consumer " + std::to_string(i) + ": message " +
                                     std::to_string(get_seq(buf.data())) + " where " + std::to_string(n) + " was due");
        last = now_ns();
    }
    sh.received[i] = n;
    sh.last_ns[i] = last;
    shmq_close(q);
}

Json fan_throughput(const Fanout &f, size_t size, double seconds) {
    SharedMem mem(sizeof(FanShared));
    auto *sh = new (mem.data()) FanShared{};
    Children kids;
    for (uint32_t i = 0; i < f.n(); i++)
        kids.spawn([&, i] { fan_consumer(f, i, size, *sh); });
    kids.spawn([&] { fan_publisher(f, size, seconds, *sh); });
    kids.wait_all(2 * seconds + 60);
    Json rates = Json::array();
    double sum = 0, low = 0;
    for (uint32_t i = 0; i < f.n(); i++) {
        double s = double(sh->last_ns[i].load() - sh->gate.start_ns.load()) / 1e9;
        double rate = s > 0 ? double(sh->received[i].load()) / s : 0;
        rates.push_back(rate);
        sum += rate;
        low = i == 0 || rate < low ? rate : low;
    }
    return Json{{"messages", sh->sent.load()}, {"per_consumer_msgs_per_s", rates},
                {"mean_msgs_per_s", sum / f.n()}, {"min_msgs_per_s", low}};
}

// Round trip: consumers reply with the sequence number on one reply queue.
void rtt_consumer(const Fanout &f, uint32_t i, const std::string &reply, size_t size, Gate &gate) {
    shmq_queue *q = f.open_consumer(i);
    Handle back(reply, bench_default_options());
    std::vector<char> buf(size);
    gate.arrive(f.n() + 1);
    for (;;) {
        if (!take(q, buf.data(), size, kShmqTimeoutNs))
            throw std::runtime_error("round trip: no message for 10 s");
        uint64_t seq = get_seq(buf.data());
        if (seq == kStop)
            break;
        char ans[16];
        put_header(ans, seq, 0);
        shmq_check(shmq_send(back.get(), ans, sizeof ans, kShmqTimeoutNs), "shmq_send (reply)");
    }
    shmq_close(q);
}

void rtt_publisher(const Fanout &f, const std::string &reply, size_t size, size_t warmup, size_t rounds,
                   Gate &gate, int64_t *samples) {
    auto hs = f.open_publisher();
    Handle back(reply, bench_default_options());
    std::vector<char> buf(size);
    char ans[16];
    gate.arrive(f.n() + 1);
    for (size_t r = 0; r < warmup + rounds; r++) {
        int64_t t0 = now_ns();
        put_header(buf.data(), r + 1, t0);
        publish(hs, buf.data(), size);
        for (uint32_t got = 0; got < f.n(); got++)
            if (!take(back.get(), ans, sizeof ans, kShmqTimeoutNs))
                throw std::runtime_error("round trip: a reply took over 10 s");
        if (r >= warmup)
            samples[r - warmup] = now_ns() - t0;
    }
    put_header(buf.data(), kStop, 0);
    publish(hs, buf.data(), size);
}

Json fan_round_trip(const Fanout &f, size_t size, size_t rounds) {
    size_t warmup = rounds / 10;
    NamedQueue reply(bench_params(16, 64));
    SharedMem mem(sizeof(Gate) + rounds * sizeof(int64_t));
    auto *gate = new (mem.data()) Gate{};
    auto *samples = reinterpret_cast<int64_t *>(static_cast<char *>(mem.data()) + sizeof(Gate));
    Children kids;
    for (uint32_t i = 0; i < f.n(); i++)
        kids.spawn([&, i] { rtt_consumer(f, i, reply.name(), size, *gate); });
    kids.spawn([&] { rtt_publisher(f, reply.name(), size, warmup, rounds, *gate, samples); });
    kids.wait_all(120);
    std::vector<int64_t> v(samples, samples + rounds);
    return to_json(summarize(v));
}

Json fan_cell(const Config &cfg, bool topic, uint32_t n, size_t size) {
    Json j{{"variant", topic ? "topic" : "queues"}, {"consumers", n}, {"size", size}};
    {
        Fanout f(topic, n, size);
        j["throughput"] = fan_throughput(f, size, cfg.throughput_s);
    }
    Fanout f(topic, n, size);
    j["round_trip"] = fan_round_trip(f, size, cfg.size_rounds);
    j["oversubscribed"] = n + 1 > uint32_t(sysconf(_SC_NPROCESSORS_ONLN));
    return j;
}

} // namespace

Json suite_topic(const Config &cfg) {
    Json cells = Json::array();
    for (size_t size : {size_t(64), size_t(4096)})
        for (uint32_t n : {1u, 2u, 4u})
            for (bool topic : {true, false}) {
                std::string variant = topic ? "shmq_topic" : "shmq_queues";
                if (!variant_selected(cfg, variant))
                    continue;
                std::string label = variant + " 1->" + std::to_string(n) + " " + std::to_string(size) + " B";
                try {
                    cells.push_back(measure_quietly(cfg, [&] { return fan_cell(cfg, topic, n, size); }));
                    const Json &c = cells.back();
                    progress("topic", label, fmt_rate(c["throughput"]["mean_msgs_per_s"].get<double>()) +
                                                 " per consumer, round trip p50 " +
                                                 fmt_ns(c["round_trip"]["p50_ns"].get<double>()));
                } catch (const std::exception &e) {
                    Json err = error_entry("topic " + label, e);
                    err["variant"] = topic ? "topic" : "queues";
                    err["consumers"] = n;
                    err["size"] = size;
                    cells.push_back(err);
                }
            }
    return Json{{"slots", kSlots}, {"spin_ns", "library default"}, {"cells", cells}};
}

} // namespace bench
