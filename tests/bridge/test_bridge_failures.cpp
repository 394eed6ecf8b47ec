// test_bridge_failures.cpp - at-least-once across the boundary: the bridge
// SIGKILLed, the broker SIGKILLed and restarted, the TCP connection cut, all
// mid-stream under load. Every message arrives; duplicates stay within what
// was in flight at each failure (max_inflight out + prefetch in).
#include <doctest/doctest.h>

#include "flow.hpp"
#include "proxy.hpp"

#include <functional>
#include <future>
#include <unistd.h>

using namespace bridge_test;

namespace {

constexpr int kMessages = 20000;
constexpr int kInflight = 128, kPrefetch = 128; // chain_config's settings

int broker_port() {
    std::string why;
    return *Broker::port(&why);
}

// A -> RabbitMQ queue -> B through one bridge; `fail` is called (with the
// bridge) each time a third of the messages arrived in B. Returns the tally.
Tally run_with_failures(const char *tag, int bridge_port, const std::function<void(BridgeProcess &)> &fail) {
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
    Tally t = tally.get();
    producer.join();
    CHECK(bridge.stop() == 0);
    return t;
}

void check_accounted(const Tally &t, int failures) {
    CHECK(t.problem == "");
    CHECK(t.distinct() == kMessages); // none lost
    MESSAGE("duplicates: " << t.duplicates() << " after " << failures << " failures");
    CHECK(t.duplicates() <= failures * (kInflight + kPrefetch));
}

} // namespace

TEST_CASE("the bridge SIGKILLed mid-stream and restarted loses nothing") {
    Tally t = run_with_failures("kill", broker_port(), [](BridgeProcess &bridge) {
        bridge.kill9();
        bridge.start();
    });
    check_accounted(t, 2);
}

TEST_CASE("the broker SIGKILLed mid-stream and restarted loses nothing") {
    Tally t = run_with_failures("brokerkill", broker_port(), [](BridgeProcess &) { Broker::restart(); });
    check_accounted(t, 2);
}

TEST_CASE("cut TCP connections mid-stream lose nothing") {
    Proxy proxy(broker_port());
    Tally t = run_with_failures("cut", proxy.port(), [&](BridgeProcess &) { CHECK(proxy.cut() >= 1); });
    check_accounted(t, 2);
    CHECK(proxy.accepted() >= 2 * 2 + 2); // both bindings connected again after each cut
}
