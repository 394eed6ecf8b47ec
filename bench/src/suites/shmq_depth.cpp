// shmq_depth.cpp - cost of one send + recv (+ ack) in a single process while 0,
// 1k or 100k messages already wait in the queue. FIFO order means each receive
// takes a message written `depth` messages ago, so deep queues pay cache misses;
// the SPSC ring and Boost show what that costs without shmq's bookkeeping.
#include "../suites.hpp"

namespace bench {

namespace {

constexpr size_t kSize = 64;
constexpr size_t kSlots = 131072;

double ns_per_message(Transport &t, size_t depth, size_t iters) {
    ChannelGuard channel(t, {kSize, kSlots});
    auto ep = t.open(0, 0);
    char buf[kSize] = {};
    for (size_t i = 0; i < depth; i++)
        ep->send(buf, kSize);
    for (size_t i = 0; i < iters / 10; i++) {
        ep->send(buf, kSize);
        ep->recv(buf, kSize);
    }
    int64_t t0 = now_ns();
    for (size_t i = 0; i < iters; i++) {
        ep->send(buf, kSize);
        ep->recv(buf, kSize);
    }
    int64_t t1 = now_ns();
    for (size_t i = 0; i < depth; i++)
        ep->recv(buf, kSize);
    return double(t1 - t0) / double(iters);
}

} // namespace

Json suite_depth(const Config &cfg) {
    std::vector<std::string> names = {"shmq_spin", "spsc_ring", "boost_mq", "boost_mq_spin"};
    return for_each_transport(cfg, "depth", names, Feature::Depth, [&](Transport &t) {
        Json points = Json::array();
        for (size_t depth : {size_t(0), size_t(1000), size_t(100000)}) {
            double ns = ns_per_message(t, depth, cfg.depth_iters);
            progress("depth", t.name(), std::to_string(depth) + " waiting: " + fmt_ns(ns));
            points.push_back({{"depth", depth}, {"ns_per_msg", ns}, {"iterations", cfg.depth_iters}});
        }
        return Json{{"size", kSize}, {"slots", kSlots}, {"points", points}};
    });
}

} // namespace bench
