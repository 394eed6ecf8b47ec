// test_bridge_topic_in.cpp - an [[in]] binding whose local_queue is a topic:
// each delivery goes to every bound group, as a local send would; with no
// group bound, or with the topic full, the bridge holds the delivery (the
// broker keeps the rest) and acks nothing it has not sent.
#include <doctest/doctest.h>

#include "flow.hpp"

#include <set>
#include <unistd.h>

using namespace bridge_test;

namespace {


shmq_params topic_params(uint32_t slots) {
    shmq_params p;
    shmq_params_init(&p);
    p.slot_size = 256;
    p.slot_count = slots;
    p.max_groups = 2;
    return p;
}

shmq_queue *open_group(const std::string &topic, const char *group) {
    shmq_queue *g = nullptr;
    return shmq_open_group(topic.c_str(), group, nullptr, &g) == SHMQ_OK ? g : nullptr;
}

} // namespace

TEST_CASE("in into a topic: every group gets each delivery once, in order; none bound or full holds them") {
    const int n = 200;
    int port = broker_port();
    Peer peer(port);
    LocalQ topic("tin", topic_params(16)); // 16 payload slots: the groups must read for 200 to fit
    std::string q = "bq.tin." + std::to_string(getpid());
    peer.declare(q);
    for (int i = 0; i < n; i++) peer.publish(q, payload(i));
    BridgeProcess bridge("version = 1\n[broker]\nport = " + std::to_string(port) + "\n[[in]]\namqp_queue = \"" + q +
                         "\"\nlocal_queue = \"" + topic.name + "\"\nprefetch = 32\nsend_timeout_ms = 50\n");
    bridge.capture_log = true;
    bridge.start();
    // No group bound: a send would reach nobody, so it waits; nothing is acked.
    REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_backpressure_waits_total") > 0; }));
    CHECK(metric(bridge.metrics(), "shmq_bridge_messages_sent_local_total") == 0);
    CHECK(metric(bridge.metrics(), "shmq_bridge_messages_acked_broker_total") == 0);
    CHECK(peer.count(q) >= uint32_t(n - 32)); // at most the prefetch left the broker's ready list
    CHECK(bridge.log().find("a topic with no consumer group bound") != std::string::npos);
    REQUIRE(shmq_group_add(topic.q, "g1") == SHMQ_OK);
    REQUIRE(shmq_group_add(topic.q, "g2") == SHMQ_OK);
    shmq_queue *g[2] = {open_group(topic.name, "g1"), open_group(topic.name, "g2")};
    REQUIRE(g[0] != nullptr);
    REQUIRE(g[1] != nullptr);
    // g2 reads nothing until the topic is full: the bridge must wait, not drop.
    REQUIRE(eventually([&] {
        shmq_stats st{};
        st.struct_size = sizeof st;
        return shmq_stats_get(topic.q, &st) == SHMQ_OK && st.free == 0;
    }));
    uint64_t waits = metric(bridge.metrics(), "shmq_bridge_backpressure_waits_total");
    REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_backpressure_waits_total") > waits; }));
    std::vector<std::string> got[2];
    REQUIRE(eventually([&] {
        for (int k = 0; k < 2; k++) {
            shmq_msg m;
            while (shmq_recv(g[k], &m, 0) == SHMQ_OK) {
                got[k].emplace_back(static_cast<const char *>(m.data), m.len);
                shmq_ack(g[k], &m);
            }
        }
        return got[0].size() >= size_t(n) && got[1].size() >= size_t(n);
    }, 120));
    for (int k = 0; k < 2; k++) {
        CHECK(got[k].size() == size_t(n)); // no failure: none twice
        for (int i = 0; i < n && i < int(got[k].size()); i++) CHECK(got[k][size_t(i)] == payload(i));
        shmq_close(g[k]);
    }
    CHECK(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_messages_acked_broker_total") == uint64_t(n); }));
    CHECK(bridge.stop() == 0);
    CHECK(peer.count(q) == 0);
}
