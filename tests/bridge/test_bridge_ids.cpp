// test_bridge_ids.cpp - a foreign publisher's AMQP message_id across the
// bridge: kept locally (header x-shmq-message-id) and published under it
// again; and, with a deduplication window on the local queue, the key of the
// local send, so a broker redelivery of a message already sent (the
// connection cut after the send, before the ack reached the broker) is not
// stored twice.
#include <doctest/doctest.h>

#include "flow.hpp"
#include "proxy.hpp"

#include <map>
#include <unistd.h>

using namespace bridge_test;

namespace {


std::string header_of(shmq_queue *q, const shmq_msg &m, const char *key) {
    const char *v = nullptr;
    size_t n = 0;
    return shmq_msg_header(q, &m, key, &v, &n) == SHMQ_OK ? std::string(v, n) : "<none>";
}

std::string in_config(int port, const std::string &amqp_queue, const std::string &local) {
    return "version = 1\n[broker]\nport = " + std::to_string(port) + "\n[[in]]\n"
           "amqp_queue = \"" + amqp_queue + "\"\nlocal_queue = \"" + local + "\"\nprefetch = 256\nack_batch = 128\n";
}

uint64_t ready_in(shmq_queue *q) {
    shmq_stats st{};
    st.struct_size = sizeof st;
    return shmq_stats_get(q, &st) == SHMQ_OK ? st.ready : 0;
}

} // namespace

TEST_CASE("a foreign message_id is kept locally and published again when the message crosses out") {
    int port = broker_port();
    Peer peer(port);
    LocalQ b("fid");
    std::string q1 = amqp_name("fid1"), q2 = amqp_name("fid2");
    peer.declare(q1);
    peer.declare(q2);
    peer.publish(q1, "foreign", nullptr, "order-42");
    peer.publish(q1, "no id");
    {
        BridgeProcess in(in_config(port, q1, b.name));
        in.start();
        std::map<std::string, std::string> mid; // body -> its x-shmq-message-id
        shmq_msg m[2];
        for (shmq_msg &x : m) {
            REQUIRE(shmq_recv(b.q, &x, 30 * 1000000000LL) == SHMQ_OK);
            std::string body(static_cast<const char *>(x.data), x.len);
            mid[body] = header_of(b.q, x, "x-shmq-message-id");
            CHECK(header_of(b.q, x, "x-shmq-queue") == "<none>"); // no identity invented
        }
        CHECK(mid["foreign"] == "order-42");
        CHECK(mid["no id"] == "<none>"); // a delivery without one gets none
        for (shmq_msg &x : m) CHECK(shmq_nack(b.q, &x, 0) == SHMQ_OK); // back, for the out binding below
        CHECK(in.stop() == 0);
    }
    BridgeProcess out("version = 1\n[broker]\nport = " + std::to_string(port) + "\n[[out]]\nlocal_queue = \"" +
                      b.name + "\"\nrouting_key = \"" + q2 + "\"\n");
    out.capture_log = true;
    out.start();
    bool arrived = eventually([&] { return peer.count(q2) == 2; });
    if (!arrived) MESSAGE(out.log());
    REQUIRE(arrived);
    std::map<std::string, Peer::Got> by_body;
    for (int i = 0; i < 2; i++) {
        std::optional<Peer::Got> g = peer.get(q2);
        REQUIRE(g);
        by_body[g->body] = *g;
    }
    CHECK(by_body["foreign"].message_id == "order-42"); // the foreign publisher's id, kept
    CHECK(by_body["foreign"].texts["x-shmq-queue"] == b.name); // the local identity beside it
    CHECK(by_body["foreign"].texts.count("x-shmq-message-id") == 0); // the property carries it, not a header
    CHECK(by_body["no id"].message_id == b.name + ":" + std::to_string(by_body["no id"].ints["x-shmq-id"]));
    CHECK(out.stop() == 0);
}

// The redelivery is made by holding the bridge's acks in a proxy and then
// cutting the connection: the broker requeues every delivery the bridge had
// sent locally. Without a window each is stored twice (the case checks that,
// so it shows the redelivery happened); with one, once.
TEST_CASE("a broker redelivery of messages already sent is stored once when the queue has a dedup window") {
    const int n = 50;
    for (bool window : {false, true}) {
        CAPTURE(window);
        int port = broker_port();
        Peer peer(port);
        Proxy proxy(port);
        shmq_params p;
        shmq_params_init(&p);
        p.slot_size = 512;
        p.slot_count = 256;
        p.dedup_window_ms = window ? 600000 : 0;
        LocalQ b(window ? "dedup" : "nodedup", p);
        std::string q = amqp_name(window ? "dedup" : "nodedup");
        peer.declare(q);
        BridgeProcess bridge(in_config(proxy.port(), q, b.name));
        bridge.start();
        peer.publish(q, "warm-up", nullptr, "warm-up");
        REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_messages_acked_broker_total") == 1; }));
        proxy.hold_upstream(); // from here the bridge's acks never reach the broker
        for (int i = 0; i < n; i++) peer.publish(q, payload(i), nullptr, "id-" + std::to_string(i));
        REQUIRE(eventually([&] { return ready_in(b.q) == uint64_t(1 + n); }));
        CHECK(proxy.cut() >= 1); // the broker requeues the n unacked deliveries
        uint64_t want = window ? uint64_t(1 + n) : uint64_t(1 + 2 * n);
        // Acks are counted when written: the held ones too. So 1 + 2n once
        // every redelivery was sent (or found a duplicate) and acked.
        REQUIRE(eventually([&] {
            return metric(bridge.metrics(), "shmq_bridge_messages_acked_broker_total") == uint64_t(1 + 2 * n);
        }));
        CHECK(ready_in(b.q) == want);
        CHECK(metric(bridge.metrics(), "shmq_bridge_duplicates_total") == (window ? uint64_t(n) : 0));
        CHECK(peer.count(q) == 0);
        CHECK(bridge.stop() == 0);
    }
}
