// shmq_batch.cpp - one-way throughput with shmq's batch API: the producer sends
// `batch` messages per shmq_send_batch call, the consumer leases up to `batch`
// per shmq_recv_batch call, copies each out and checks its order, and acks
// them with one shmq_ack_batch call (each message keeps its own lease).
#include <cstring>
#include <new>

#include "../counters.hpp"
#include "../measure.hpp"
#include "../shmq_util.hpp"
#include "../suites.hpp"

namespace bench {

namespace {

constexpr size_t kSize = 64;

struct BatchShared {
    Gate gate;
    std::atomic<uint64_t> received{0};
    std::atomic<int64_t> end_ns{0};
    CounterValues hw[2]; // [producer, consumer]
};

void batch_producer(const std::string &name, size_t batch, double seconds, BatchShared &sh) {
    Handle q(name, bench_options(1000000000u));
    std::vector<char> bufs(batch * kSize, char(0xab));
    std::vector<shmq_iov> iov(batch);
    Counters hw;
    int64_t deadline = sh.gate.arrive(2) + int64_t(seconds * 1e9);
    hw.start();
    uint64_t seq = 1;
    while (now_ns() < deadline) {
        for (size_t i = 0; i < batch; i++) {
            put_header(&bufs[i * kSize], seq++, 0);
            iov[i] = {&bufs[i * kSize], kSize};
        }
        shmq_check(shmq_send_batch(q.get(), iov.data(), batch, nullptr, kShmqTimeoutNs),
                   "shmq_send_batch");
    }
    put_header(bufs.data(), kStopSeq, 0);
    shmq_check(shmq_send(q.get(), bufs.data(), kSize, kShmqTimeoutNs), "shmq_send");
    sh.hw[0] = hw.stop();
}

// Copies out and checks each leased message, then acks them all with one
// shmq_ack_batch (still one lease per message); false after the stop message.
bool drain_batch(shmq_queue *q, shmq_msg *msgs, size_t count, uint64_t &expect) {
    char buf[kSize];
    bool more = true;
    for (size_t i = 0; i < count; i++) {
        std::memcpy(buf, msgs[i].data, kSize);
        uint64_t seq = get_seq(buf);
        if (seq == kStopSeq)
            more = false;
        else if (seq != expect++)
            throw std::runtime_error("batch: message out of order or lost");
    }
    shmq_check(shmq_ack_batch(q, msgs, count, nullptr), "shmq_ack_batch");
    return more;
}

void batch_consumer(const std::string &name, size_t batch, BatchShared &sh) {
    Handle q(name, bench_options(1000000000u));
    std::vector<shmq_msg> msgs(batch);
    Counters hw;
    sh.gate.arrive(2);
    hw.start();
    uint64_t expect = 1;
    bool more = true;
    while (more) {
        size_t count = 0;
        shmq_check(shmq_recv_batch(q.get(), msgs.data(), batch, &count, kShmqTimeoutNs),
                   "shmq_recv_batch");
        more = drain_batch(q.get(), msgs.data(), count, expect);
    }
    sh.end_ns.store(now_ns());
    sh.hw[1] = hw.stop();
    sh.received.store(expect - 1);
}

} // namespace

RateRun shmq_batch_throughput(const Config &cfg, size_t batch) {
    NamedQueue queue(bench_params(kSize, 4096));
    SharedMem mem(sizeof(BatchShared));
    auto *sh = new (mem.data()) BatchShared{};
    Children kids;
    kids.spawn([&] { batch_consumer(queue.name(), batch, *sh); });
    kids.spawn([&] { batch_producer(queue.name(), batch, cfg.throughput_s, *sh); });
    kids.wait_all(2 * cfg.throughput_s + 30);
    uint64_t n = sh->received.load();
    return RateRun{n, double(sh->end_ns.load() - sh->gate.start_ns.load()) / 1e9, per_message(sh->hw[0], sh->hw[1], n), 0, 0};
}

} // namespace bench
