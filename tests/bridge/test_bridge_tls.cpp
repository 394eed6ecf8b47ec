// test_bridge_tls.cpp - shmq-bridge over TLS to the test broker's AMQPS
// listener (broker.sh makes a throwaway CA and certificates): messages cross
// out and in with a client certificate; a wrong CA, a wrong host name or a
// client certificate the broker does not trust is refused, logged with its
// reason and counted, and the bridge keeps retrying with backoff.
#include <doctest/doctest.h>

#include "flow.hpp"

#include <set>
#include <unistd.h>

using namespace bridge_test;

namespace {
int plain_port() {
    std::string why;
    return *Broker::port(&why);
}
int tls_port() {
    std::string why;
    return *Broker::tls_port(&why);
}
std::string cert(const char *file) { return Broker::tls_dir() + "/" + file; }

// `config` (from chain_config) pointed at `host` over TLS with `tls` lines.
std::string over_tls(std::string config, const std::string &host, const std::string &tls) {
    config.insert(config.find("[[out]]"), "[broker.tls]\nenabled = true\n" + tls);
    config.insert(config.find("[broker]\n") + 9, "host = \"" + host + "\"\n");
    return config;
}
std::string ca(const char *file) { return "ca_file = \"" + cert(file) + "\"\n"; }
std::string client(const char *name) {
    return "cert_file = \"" + cert((std::string(name) + ".pem").c_str()) + "\"\nkey_file = \"" +
           cert((std::string(name) + ".key").c_str()) + "\"\n";
}

// A bridge whose TLS connection is refused: it stays up, not connected,
// counting and logging each failure with a growing delay (`reason` must be
// in the log: OpenSSL does not always have it, so not on every line), and
// publishes nothing.
void refused(const std::string &q, const std::string &host, const std::string &tls, const std::string &reason) {
    LocalQ a("tlsbad");
    for (int i = 0; i < 5; i++) REQUIRE(shmq_send(a.q, payload(i).data(), 64, 0) == SHMQ_OK);
    BridgeProcess bridge(over_tls(chain_config(tls_port(), {a.name, q}), host, tls));
    bridge.capture_log = true;
    bridge.start();
    bool logged = eventually([&] {
        return metric(bridge.metrics(), "shmq_bridge_broker_errors_total") >= 3 &&
               bridge.log().find(reason) != std::string::npos;
    });
    std::string m = bridge.metrics(), log = bridge.log();
    INFO("bridge log: " << log);
    REQUIRE(logged);
    CHECK(metric(m, "shmq_bridge_connected") == 0);
    CHECK(metric(m, "shmq_bridge_messages_published_total") == 0);
    CHECK(log.find("reconnecting in 100 ms") != std::string::npos); // the backoff doubles from 50 ms
    CHECK(log.find("reconnecting in 200 ms") != std::string::npos);
    CHECK(bridge.alive());
    CHECK(bridge.stop() == 0);
    shmq_stats st{};
    st.struct_size = sizeof st;
    REQUIRE(shmq_stats_get(a.q, &st) == SHMQ_OK);
    CHECK(st.ready == 5); // nothing left the queue
}
} // namespace

TEST_CASE("1000 messages cross out and in over TLS with a client certificate, ids checked") {
    const int n = 1000;
    Peer peer(plain_port());
    LocalQ a("tlsa"), b("tlsb");
    std::string q = "bq.tls." + std::to_string(getpid());
    peer.declare(q);
    BridgeProcess bridge(over_tls(chain_config(tls_port(), {a.name, q, b.name}), "localhost", ca("ca.pem") + client("client")));
    bridge.start();
    Producer producer(a.name, n);
    Tally t = collect(b.name, n, 240);
    producer.join();
    CHECK(t.problem == "");
    CHECK(t.distinct() == n);
    CHECK(t.duplicates() == 0);
    std::set<uint64_t> ids;
    for (auto &[seq, s] : t.by_seq) {
        CHECK(s.id.queue == a.name);
        ids.insert(s.id.id);
    }
    CHECK(int(ids.size()) == n);
    // The status file is rewritten on the bridge's tick: wait for one that
    // shows both bindings connected (1000 messages can cross before the first).
    CHECK(eventually([&] { return metric_sum(bridge.metrics(), "shmq_bridge_connected") == 2; }, 30));
    CHECK(metric_sum(bridge.metrics(), "shmq_bridge_broker_errors_total") == 0);
    CHECK(bridge.stop() == 0);
    CHECK(peer.count(q) == 0);
}

TEST_CASE("a broker certificate from another CA is refused: logged, counted, retried with backoff") {
    Peer peer(plain_port());
    std::string q = "bq.tlsca." + std::to_string(getpid());
    peer.declare(q);
    refused(q, "localhost", ca("other-ca.pem"),
            "TLS to localhost:" + std::to_string(tls_port()) + ": the broker's certificate failed verification against ca_file");
}

TEST_CASE("a broker certificate for another host name is refused unless verify_hostname = false") {
    Peer peer(plain_port());
    std::string q = "bq.tlshost." + std::to_string(getpid());
    peer.declare(q);
    // The certificate names "localhost"; the bridge connects to 127.0.0.1.
    refused(q, "127.0.0.1", ca("ca.pem"),
            "TLS to 127.0.0.1:" + std::to_string(tls_port()) + ": the broker's certificate does not name 127.0.0.1");
    LocalQ a("tlsnohost");
    REQUIRE(shmq_send(a.q, payload(0).data(), 64, 0) == SHMQ_OK);
    BridgeProcess bridge(
        over_tls(chain_config(tls_port(), {a.name, q}), "127.0.0.1", ca("ca.pem") + "verify_hostname = false\n"));
    bridge.start();
    CHECK(eventually([&] { return peer.count(q) == 1; }));
    CHECK(bridge.stop() == 0);
}

TEST_CASE("a client certificate the broker does not trust is refused") {
    Peer peer(plain_port());
    std::string q = "bq.tlsrogue." + std::to_string(getpid());
    peer.declare(q);
    refused(q, "localhost", ca("ca.pem") + client("rogue"),
            "login: a SSL error occurred (tlsv1 alert unknown ca)"); // TLS 1.3: refused after the handshake
}
