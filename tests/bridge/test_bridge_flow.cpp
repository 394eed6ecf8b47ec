// test_bridge_flow.cpp - messages through shmq-bridge and a real RabbitMQ:
// out and in with identities checked, crossing twice, and the AMQP properties.
#include <doctest/doctest.h>

#include "flow.hpp"

#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <unistd.h>

using namespace bridge_test;

namespace {

// The number after "key": in JSON text (-1 if absent).
double json_number(const std::string &text, const std::string &key) {
    size_t at = text.find("\"" + key + "\": ");
    return at == std::string::npos ? -1 : std::strtod(text.c_str() + at + key.size() + 4, nullptr);
}

} // namespace

TEST_CASE("out publishes with the message's identity in AMQP properties and acks after the confirm") {
    int port = broker_port();
    Peer peer(port);
    LocalQ a("props");
    std::string q = amqp_name("props");
    peer.declare(q);
    for (int i = 0; i < 10; i++) REQUIRE(shmq_send(a.q, payload(i).data(), 64, 0) == SHMQ_OK);
    BridgeProcess bridge(chain_config(port, {a.name, q}));
    bridge.start();
    REQUIRE(eventually([&] { return peer.count(q) == 10; }));
    shmq_stats st{};
    st.struct_size = sizeof st;
    REQUIRE(eventually([&] { return shmq_stats_get(a.q, &st) == SHMQ_OK && st.acked == 10; }));
    CHECK(st.free == st.slot_count); // every local message acked, none left leased
    for (int i = 0; i < 10; i++) {
        std::optional<Peer::Got> g = peer.get(q);
        REQUIRE(g);
        CHECK(g->body == payload(i)); // FIFO, payload unchanged (not an envelope: it was never one)
        CHECK(g->texts["x-shmq-queue"] == a.name);
        CHECK(g->message_id == a.name + ":" + std::to_string(g->ints["x-shmq-id"]));
        CHECK(g->ints["x-shmq-attempt"] == 1);
        CHECK(g->ints["x-shmq-enqueued-ns"] > 0);
        CHECK(g->timestamp == uint64_t(g->ints["x-shmq-enqueued-ns"] / 1000000000));
    }
    CHECK(bridge.stop() == 0);
}

TEST_CASE("messages cross out and in twice and keep their first identity") {
    const int n = 20000;
    int port = broker_port();
    Peer peer(port);
    LocalQ a("a"), b("b"), c("c");
    std::string q1 = amqp_name("q1"), q2 = amqp_name("q2");
    peer.declare(q1);
    peer.declare(q2);
    BridgeProcess bridge(chain_config(port, {a.name, q1, b.name, q2, c.name}));
    bridge.start();
    Producer producer(a.name, n);
    Tally t = collect(c.name, n, 240);
    producer.join();
    CHECK(t.problem == "");
    CHECK(t.distinct() == n);
    CHECK(t.duplicates() == 0); // no failure injected: nothing is sent twice
    std::set<uint64_t> ids;
    for (auto &[seq, s] : t.by_seq) {
        CHECK(s.id.queue == a.name); // the origin survived two crossings
        ids.insert(s.id.id);
    }
    CHECK(int(ids.size()) == n);
    CHECK(bridge.stop() == 0);
    CHECK(peer.count(q1) == 0);
    CHECK(peer.count(q2) == 0);
}

TEST_CASE("in: a full local queue stops consumption; the broker keeps the rest, and nothing is dropped") {
    const int n = 300;
    int port = broker_port();
    Peer peer(port);
    LocalQ b("full", 256, 16);
    std::string q = amqp_name("full");
    peer.declare(q);
    for (int i = 0; i < n; i++) peer.publish(q, payload(i));
    BridgeProcess bridge("version = 1\n[broker]\nport = " + std::to_string(port) + "\n[[in]]\namqp_queue = \"" + q +
                         "\"\nlocal_queue = \"" + b.name + "\"\nprefetch = 32\nsend_timeout_ms = 50\n");
    bridge.start();
    shmq_stats st{};
    st.struct_size = sizeof st;
    REQUIRE(eventually([&] { return shmq_stats_get(b.q, &st) == SHMQ_OK && st.ready == 16; }));
    REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_backpressure_waits_total") > 0; }));
    CHECK(peer.count(q) >= uint32_t(n - 16 - 32)); // at most the prefetch left the broker's ready list
    // The lag, read by the bridge while it is blocked: what the broker still holds.
    REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_broker_backlog_messages") >= uint64_t(n - 16 - 32); }));
    // shmqctl reads the same file: the binding, connected, its lag.
    std::string ctl = shmqctl_bridge(bridge.status_path, true);
    CHECK(ctl.find("\"binding\": \"in:" + q + "\"") != std::string::npos);
    CHECK(json_number(ctl, "connected") == 1);
    CHECK(json_number(ctl, "broker_backlog_messages") >= double(n - 16 - 32));
    std::set<std::string> got;
    int total = 0;
    REQUIRE(eventually([&] {
        shmq_msg m;
        while (shmq_recv(b.q, &m, 0) == SHMQ_OK) {
            got.emplace(static_cast<const char *>(m.data), m.len);
            total++;
            shmq_ack(b.q, &m);
        }
        return int(got.size()) == n;
    }));
    CHECK(total == n); // no failure: no duplicates either
    CHECK(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_broker_backlog_messages") == 0; }));
    CHECK(bridge.stop() == 0);
    CHECK(peer.count(q) == 0);
}

TEST_CASE("declare_queue: the bridge declares a durable queue on connect, so nothing comes back unroutable") {
    int port = broker_port();
    Peer peer(port);
    LocalQ a("declare");
    std::string q = amqp_name("declare"); // not declared by the test
    for (int i = 0; i < 10; i++) REQUIRE(shmq_send(a.q, payload(i).data(), 64, 0) == SHMQ_OK);
    BridgeProcess bridge("version = 1\n[broker]\nport = " + std::to_string(port) + "\n[[out]]\nlocal_queue = \"" +
                         a.name + "\"\nrouting_key = \"" + q + "\"\ndeclare_queue = \"" + q + "\"\n");
    bridge.start();
    REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_messages_confirmed_total") == 10; }));
    CHECK(peer.count(q) == 10); // the queue exists (a passive declare would fail) and holds them all
    CHECK(metric(bridge.metrics(), "shmq_bridge_messages_returned_total") == 0);
    CHECK(bridge.stop() == 0);
}

TEST_CASE("out from a topic's consumer group: that group's messages cross, the other group keeps its own") {
    int port = broker_port();
    Peer peer(port);
    std::string topic = "b.topic." + std::to_string(getpid());
    shmq_params p;
    shmq_params_init(&p);
    p.slot_size = 256;
    p.slot_count = 64;
    p.max_groups = 2;
    shmq_queue *t = nullptr;
    REQUIRE(shmq_create(topic.c_str(), &p, nullptr, &t) == SHMQ_OK);
    REQUIRE(shmq_group_add(t, "bridged") == SHMQ_OK);
    REQUIRE(shmq_group_add(t, "local") == SHMQ_OK);
    for (int i = 0; i < 10; i++) REQUIRE(shmq_send(t, payload(i).data(), 64, 0) == SHMQ_OK);
    std::string q = amqp_name("group");
    BridgeProcess bridge("version = 1\n[broker]\nport = " + std::to_string(port) + "\n[[out]]\nlocal_queue = \"" +
                         topic + "\"\ngroup = \"bridged\"\nrouting_key = \"" + q + "\"\ndeclare_queue = \"" + q + "\"\n");
    bridge.start();
    REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_messages_confirmed_total") == 10; }));
    CHECK(peer.count(q) == 10);
    for (int i = 0; i < 10; i++) {
        std::optional<Peer::Got> g = peer.get(q);
        REQUIRE(g);
        CHECK(g->body == payload(i)); // FIFO within the group
    }
    CHECK(bridge.stop() == 0);
    shmq_queue *local = nullptr; // the other group lost nothing to the bridge
    REQUIRE(shmq_open_group(topic.c_str(), "local", nullptr, &local) == SHMQ_OK);
    shmq_msg m;
    int got = 0;
    while (shmq_recv(local, &m, 0) == SHMQ_OK) {
        CHECK(std::string(static_cast<const char *>(m.data), m.len) == payload(got++));
        shmq_ack(local, &m);
    }
    CHECK(got == 10);
    shmq_stats st{};
    st.struct_size = sizeof st;
    REQUIRE(shmq_stats_get(t, &st) == SHMQ_OK);
    CHECK(st.free == st.slot_count); // both groups acked: every payload slot released
    shmq_close(local);
    shmq_close(t);
    shmq_unlink(topic.c_str());
}

namespace {
const char *kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// Header `key` of a leased message ("<none>" if it has none).
std::string local_header(shmq_queue *q, const shmq_msg &m, const char *key) {
    const char *v = nullptr;
    size_t n = 0;
    return shmq_msg_header(q, &m, key, &v, &n) == SHMQ_OK ? std::string(v, n) : "<none>";
}

int send_with_headers(shmq_queue *q, int seq, uint64_t *id = nullptr) {
    std::string n = std::to_string(seq);
    shmq_header h[2] = {{"traceparent", kTrace}, {"n", n.c_str()}};
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.headers = h;
    o.header_count = 2;
    return shmq_send_ex(q, payload(seq).data(), 64, &o, id, 0);
}
} // namespace

TEST_CASE("out publishes a message's own headers as AMQP headers beside its identity") {
    int port = broker_port();
    Peer peer(port);
    LocalQ a("hdrout");
    std::string q = amqp_name("hdrout");
    peer.declare(q);
    for (int i = 0; i < 5; i++) REQUIRE(send_with_headers(a.q, i) == SHMQ_OK);
    BridgeProcess bridge(chain_config(port, {a.name, q}, false));
    bridge.start();
    REQUIRE(eventually([&] { return peer.count(q) == 5; }));
    for (int i = 0; i < 5; i++) {
        std::optional<Peer::Got> g = peer.get(q);
        REQUIRE(g);
        CHECK(g->body == payload(i));
        CHECK(g->texts["traceparent"] == kTrace);
        CHECK(g->texts["n"] == std::to_string(i));
        CHECK(g->texts["x-shmq-queue"] == a.name); // the identity is the local one: it had none
        CHECK(g->message_id == a.name + ":" + std::to_string(g->ints["x-shmq-id"]));
    }
    CHECK(bridge.stop() == 0);
}

// Without the envelope: the identity crosses each local hop in the message's
// headers (x-shmq-queue, x-shmq-id, x-shmq-enqueued-ns), and the message's own
// headers cross every hop both ways.
TEST_CASE("messages cross out and in twice keeping their identity and headers in shmq headers") {
    const int n = 2000;
    int port = broker_port();
    Peer peer(port);
    LocalQ a("ha", 512, 2048), b("hb", 512), c("hc", 512);
    std::string q1 = amqp_name("hq1"), q2 = amqp_name("hq2");
    peer.declare(q1);
    peer.declare(q2);
    std::map<int, uint64_t> origin; // seq -> its id in a
    for (int i = 0; i < n; i++) REQUIRE(send_with_headers(a.q, i, &origin[i]) == SHMQ_OK);
    BridgeProcess bridge(chain_config(port, {a.name, q1, b.name, q2, c.name}, false));
    bridge.start();
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    shmq_queue *cq = nullptr;
    REQUIRE(shmq_open(c.name.c_str(), &o, &cq) == SHMQ_OK);
    std::set<int> seqs;
    int bad = 0;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (int(seqs.size()) < n && std::chrono::steady_clock::now() < end) {
        shmq_msg m;
        if (shmq_recv(cq, &m, 100000000) != SHMQ_OK) continue;
        std::string body(static_cast<const char *>(m.data), m.len);
        int seq = std::atoi(body.c_str() + 1);
        bool ok = body == payload(seq) && local_header(cq, m, "traceparent") == kTrace &&
                  local_header(cq, m, "n") == std::to_string(seq) && local_header(cq, m, "x-shmq-queue") == a.name &&
                  local_header(cq, m, "x-shmq-id") == std::to_string(origin[seq]) &&
                  local_header(cq, m, "x-shmq-enqueued-ns") != "<none>" &&
                  local_header(cq, m, "x-shmq-attempt") == "<none>" && // the hop's own, dropped
                  local_header(cq, m, "x-shmq-local-id") == "<none>";
        if (!ok && bad++ == 0)
            MESSAGE("message " << seq << ": traceparent " << local_header(cq, m, "traceparent") << ", x-shmq-queue "
                                << local_header(cq, m, "x-shmq-queue") << ", x-shmq-attempt "
                                << local_header(cq, m, "x-shmq-attempt"));
        seqs.insert(seq);
        shmq_ack(cq, &m);
    }
    shmq_close(cq);
    CHECK(int(seqs.size()) == n);
    CHECK(bad == 0); // each kept its first id (in a) and its headers through both crossings
    CHECK(bridge.stop() == 0);
}

TEST_CASE("in: a foreign publisher's AMQP headers become shmq headers; what shmq cannot carry is counted") {
    int port = broker_port();
    Peer peer(port);
    LocalQ b("hin");
    std::string q = amqp_name("hin");
    peer.declare(q);
    amqp_table_entry_t e[7]{};
    auto text = [](amqp_table_entry_t &x, const char *k, const char *v) {
        x.key = amqp_cstring_bytes(k);
        x.value.kind = AMQP_FIELD_KIND_UTF8;
        x.value.value.bytes = amqp_cstring_bytes(v);
    };
    text(e[0], "tenant", "acme");
    text(e[1], "note", "caf\xc3\xa9");
    e[2].key = amqp_cstring_bytes("retries");
    e[2].value.kind = AMQP_FIELD_KIND_I32;
    e[2].value.value.i32 = -3;
    e[3].key = amqp_cstring_bytes("urgent");
    e[3].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    e[3].value.value.boolean = 1;
    text(e[4], "bad key", "spaces are not allowed in shmq keys"); // skipped
    text(e[5], "latin1", "caf\xe9");                               // not UTF-8: skipped
    e[6].key = amqp_cstring_bytes("ratio");                         // a float: no text form, skipped
    e[6].value.kind = AMQP_FIELD_KIND_F64;
    e[6].value.value.f64 = 0.5;
    amqp_table_t t{7, e};
    peer.publish(q, "foreign", &t);
    BridgeProcess bridge("version = 1\n[broker]\nport = " + std::to_string(port) + "\n[[in]]\namqp_queue = \"" + q +
                         "\"\nlocal_queue = \"" + b.name + "\"\n");
    bridge.start();
    shmq_msg m;
    REQUIRE(shmq_recv(b.q, &m, 30 * 1000000000LL) == SHMQ_OK);
    CHECK(std::string(static_cast<const char *>(m.data), m.len) == "foreign");
    CHECK(local_header(b.q, m, "tenant") == "acme");
    CHECK(local_header(b.q, m, "note") == "caf\xc3\xa9");
    CHECK(local_header(b.q, m, "retries") == "-3");
    CHECK(local_header(b.q, m, "urgent") == "true");
    CHECK(local_header(b.q, m, "latin1") == "<none>");
    CHECK(local_header(b.q, m, "ratio") == "<none>");
    CHECK(local_header(b.q, m, "x-shmq-queue") == "<none>"); // no identity: none invented
    CHECK(shmq_ack(b.q, &m) == SHMQ_OK);
    REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_headers_skipped_total") == 3; }));
    CHECK(bridge.stop() == 0);
}
