// test_bridge_failures.cpp - at-least-once across the boundary: the bridge
// SIGKILLed, the broker SIGKILLed and restarted, the TCP connection cut, all
// mid-stream under load. Every message arrives; duplicates stay within what
// was in flight at each failure (max_inflight out + prefetch in).
#include <doctest/doctest.h>

#include "flow.hpp"
#include "proxy.hpp"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <future>
#include <unistd.h>

using namespace bridge_test;

namespace {

// 20 000 by default; SHMQ_BRIDGE_TEST_MESSAGES=100000 for issue 19's size.
const int kMessages = std::getenv("SHMQ_BRIDGE_TEST_MESSAGES") ? std::atoi(std::getenv("SHMQ_BRIDGE_TEST_MESSAGES")) : 20000;
constexpr int kInflight = 128, kPrefetch = 128; // chain_config's settings

int broker_port() {
    std::string why;
    return *Broker::port(&why);
}

struct Outcome {
    Tally tally;
    uint64_t reconnects = 0; // of the last bridge process, both bindings
};

// A -> RabbitMQ queue -> B through one bridge; `fail` is called (with the
// bridge) each time a third of the messages arrived in B.
Outcome run_with_failures(const char *tag, int bridge_port, const std::function<void(BridgeProcess &)> &fail) {
    Peer peer(broker_port());
    LocalQ a(tag), b(tag);
    std::string q = std::string("bq.") + tag + "." + std::to_string(getpid());
    peer.declare(q);
    BridgeProcess bridge(chain_config(bridge_port, {a.name, q, b.name}));
    bridge.start();
    Producer producer(a.name, kMessages);
    std::atomic<int> progress{0};
    auto tally = std::async(std::launch::async, [&] { return collect(b.name, kMessages, 300, nullptr, &progress); });
    for (int third = 1; third <= 2; third++) {
        REQUIRE(eventually([&] { return progress >= third * kMessages / 3; }, 300));
        fail(bridge);
    }
    Outcome o{tally.get()};
    producer.join();
    CHECK(bridge.stop() == 0);
    o.reconnects = metric_sum(bridge.metrics(), "shmq_bridge_reconnects_total");
    return o;
}

// Each lost connection or process sends again at most what was in flight:
// max_inflight publishes out, prefetch deliveries in. One failure may cost a
// binding more than one connection (a broker that accepts, then fails while
// starting), so the bound counts the reconnects too.
void check_accounted(const Outcome &o, int failures) {
    const Tally &t = o.tally;
    CHECK(t.problem == "");
    CHECK(t.distinct() == kMessages); // none lost
    MESSAGE("duplicates: " << t.duplicates() << " after " << failures << " failures, " << o.reconnects
                           << " reconnects");
    uint64_t bound = std::max<uint64_t>(failures * (kInflight + kPrefetch), o.reconnects * std::max(kInflight, kPrefetch));
    CHECK(uint64_t(t.duplicates()) <= bound);
}

} // namespace

TEST_CASE("the bridge SIGKILLed mid-stream and restarted loses nothing") {
    Outcome o = run_with_failures("kill", broker_port(), [](BridgeProcess &bridge) {
        bridge.kill9();
        bridge.start();
    });
    check_accounted(o, 2);
}

TEST_CASE("the broker SIGKILLed mid-stream and restarted loses nothing") {
    Outcome o = run_with_failures("brokerkill", broker_port(), [](BridgeProcess &) { Broker::restart(); });
    check_accounted(o, 2);
    CHECK(o.reconnects >= 2 * 2);
}

TEST_CASE("cut TCP connections mid-stream lose nothing") {
    Proxy proxy(broker_port());
    Outcome o = run_with_failures("cut", proxy.port(), [&](BridgeProcess &) { CHECK(proxy.cut() >= 1); });
    check_accounted(o, 2);
    CHECK(o.reconnects >= 2 * 2);
    CHECK(proxy.accepted() >= 2 * 2 + 2); // both bindings connected again after each cut
}
