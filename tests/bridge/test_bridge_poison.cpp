// test_bridge_poison.cpp - messages the other side refuses for good: a
// delivery too big for the local queue (in), and a publish nobody can route
// (out). Neither blocks the messages behind it, and neither is lost silently.
// And a broker that stops reading: the bridge holds at most max_inflight.
#include <doctest/doctest.h>

#include "flow.hpp"

#include <csignal>
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>

using namespace bridge_test;

namespace {

uint64_t stats_of_dead(shmq_queue *q) {
    shmq_stats st{};
    st.struct_size = sizeof st;
    return shmq_stats_get(q, &st) == SHMQ_OK ? st.dead : UINT64_MAX;
}

// Start shmqd on `queue` (it adopts the segment) with its stores under
// `dir`, wait until its dead-letter store lists something, stop it, and
// return what `shmqctl dlq list --json` says.
std::string dead_letters_via_shmqd(const std::string &queue, const std::string &dir) {
    std::string cfg = dir + "/shmqd.toml";
    FILE *f = fopen(cfg.c_str(), "w");
    REQUIRE(f != nullptr);
    fprintf(f, "version = 1\n[daemon]\nspill_dir = \"%s/spill\"\ndead_letter_dir = \"%s/dlq\"\n"
               "metrics = \"127.0.0.1:0\"\ntick_ms = 5\n[queues.\"%s\"]\n", dir.c_str(), dir.c_str(), queue.c_str());
    fclose(f);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (freopen((dir + "/shmqd.log").c_str(), "w", stderr) == nullptr) _exit(126);
        execl(SHMQD_BIN, SHMQD_BIN, "--config", cfg.c_str(), "--foreground", (char *)nullptr);
        _exit(127);
    }
    std::string list = std::string(SHMQCTL_BIN) + " dlq list " + queue + " --dlq-dir " + dir + "/dlq --json 2>&1";
    std::string out;
    eventually([&] { return (out = capture(list)).find("\"id\"") != std::string::npos; }, 30);
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    return out;
}
} // namespace

TEST_CASE("in: a delivery too big for the local queue is rejected to the broker, one too big only with its headers goes bare; the rest flow on") {
    int port = broker_port();
    Peer peer(port);
    LocalQ b("poison", 128);
    std::string q = std::string("bq.poison.") + std::to_string(getpid());
    peer.declare(q);
    BridgeProcess bridge("version = 1\n[broker]\nport = " + std::to_string(port) + "\n[[in]]\namqp_queue = \"" + q +
                         "\"\nlocal_queue = \"" + b.name + "\"\n");
    peer.publish(q, "first");
    peer.publish(q, std::string(1000, 'x')); // slot_size is 128
    amqp_table_entry_t e{};                  // fits alone, not with its header: sent bare
    e.key = amqp_cstring_bytes("note");
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    std::string note(100, 'n');
    e.value.value.bytes = amqp_cstring_bytes(note.c_str());
    amqp_table_t headers{1, &e};
    const std::string bare(100, 'b');
    peer.publish(q, bare, &headers);
    peer.publish(q, "last");
    bridge.start();
    std::vector<std::string> got;
    REQUIRE(eventually([&] {
        shmq_msg m;
        if (shmq_recv(b.q, &m, 0) == SHMQ_OK) {
            got.emplace_back(static_cast<const char *>(m.data), m.len);
            const void *block = nullptr;
            size_t len = 1;
            CHECK(shmq_msg_headers(b.q, &m, &block, &len) == SHMQ_OK);
            CHECK(len == 0);
            shmq_ack(b.q, &m);
        }
        return got.size() == 3;
    }));
    CHECK(got == std::vector<std::string>{"first", bare, "last"});
    REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_messages_sent_local_total") == 3; }));
    CHECK(metric(bridge.metrics(), "shmq_bridge_messages_poison_total") == 1);
    CHECK(metric(bridge.metrics(), "shmq_bridge_headers_skipped_total") == 1);
    CHECK(bridge.stop() == 0);
    CHECK(peer.count(q) == 0); // rejected without requeue, not redelivered forever
}

TEST_CASE("out: an unroutable message comes back, is retried, then dead-lettered after reject_after attempts") {
    int port = broker_port();
    LocalQ a("unroutable", 256, 16, 5);
    BridgeProcess bridge("version = 1\n[broker]\nport = " + std::to_string(port) + "\n[[out]]\nlocal_queue = \"" +
                         a.name + "\"\nrouting_key = \"no.such.queue." + std::to_string(getpid()) +
                         "\"\nreject_after = 2\n");
    REQUIRE(shmq_send(a.q, "lost?", 5, 0) == SHMQ_OK);
    bridge.start();
    shmq_stats st{};
    st.struct_size = sizeof st;
    REQUIRE(eventually([&] { return shmq_stats_get(a.q, &st) == SHMQ_OK && st.rejected == 1; }));
    CHECK(st.nacked == 1); // attempt 1 came back and was nacked; attempt 2 was rejected
    CHECK(st.acked == 0);
    CHECK(st.dead == 1);   // waiting in the DEAD state for shmqd's dead-letter store
    REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_messages_local_rejected_total") == 1; }));
    CHECK(metric(bridge.metrics(), "shmq_bridge_messages_returned_total") == 2);
    CHECK(metric(bridge.metrics(), "shmq_bridge_messages_confirmed_total") == 0);
    CHECK(bridge.stop() == 0);
    // shmqd stores it with the bridge's reason, not the core's "rejected".
    std::string dl = dead_letters_via_shmqd(a.name, temp_dir());
    INFO(dl);
    CHECK(dl.find("\"bridge_rejected\"") != std::string::npos);
    CHECK(stats_of_dead(a.q) == 0); // moved out of the segment
}

TEST_CASE("out: a message the broker keeps refusing dies out of attempts with reason bridge_rejected") {
    int port = broker_port();
    LocalQ a("refused", 256, 16, 2);
    BridgeProcess bridge("version = 1\n[broker]\nport = " + std::to_string(port) + "\n[[out]]\nlocal_queue = \"" +
                         a.name + "\"\nrouting_key = \"no.such.queue." + std::to_string(getpid()) + "\"\n");
    REQUIRE(shmq_send(a.q, "refused", 7, 0) == SHMQ_OK);
    bridge.start();
    shmq_stats st{};
    st.struct_size = sizeof st;
    REQUIRE(eventually([&] { return shmq_stats_get(a.q, &st) == SHMQ_OK && st.dead == 1; }));
    CHECK(st.nacked == 2); // attempt 2 of 2 was nacked too: out of attempts
    CHECK(st.rejected == 0);
    CHECK(bridge.stop() == 0);
    std::string dl = dead_letters_via_shmqd(a.name, temp_dir());
    INFO(dl);
    CHECK(dl.find("\"bridge_rejected\"") != std::string::npos); // not max_attempts
    CHECK(dl.find("max_attempts") == std::string::npos);
}

TEST_CASE("out: a broker that stops reading (memory alarm) holds the bridge at max_inflight; all arrive after") {
    const int n = 2000, inflight = 64;
    int port = broker_port();
    Peer peer(port);
    LocalQ a("alarm", 256, 4096);
    std::string q = std::string("bq.alarm.") + std::to_string(getpid());
    peer.declare(q);
    Broker::ctl("set_vm_memory_high_watermark 0.0000001"); // every publisher is blocked from now on
    struct Alarm {
        bool on = true;
        void clear() {
            if (on) Broker::ctl("set_vm_memory_high_watermark 0.4"); // RabbitMQ's default
            on = false;
        }
        ~Alarm() { clear(); }
    } alarm;
    for (int i = 0; i < n; i++) REQUIRE(shmq_send(a.q, payload(i).data(), 64, 0) == SHMQ_OK);
    BridgeProcess bridge("version = 1\n[broker]\nport = " + std::to_string(port) + "\n[[out]]\nlocal_queue = \"" +
                         a.name + "\"\nrouting_key = \"" + q + "\"\nmax_inflight = " + std::to_string(inflight) + "\n");
    bridge.start();
    // The broker says connection.blocked (the bridge asks for it at login), and
    // the bridge then publishes nothing more: at most one window went out.
    REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_broker_blocked") == 1; }));
    CHECK(metric(bridge.metrics(), "shmq_bridge_messages_published_total") <= uint64_t(inflight));
    CHECK(shmqctl_bridge(bridge.status_path, false).find(" blocked ") != std::string::npos); // the connected column says so
    shmq_stats st{};
    st.struct_size = sizeof st;
    REQUIRE(shmq_stats_get(a.q, &st) == SHMQ_OK);
    CHECK(st.leased <= uint64_t(inflight)); // bounded: the rest wait in the local queue
    CHECK(st.ready >= uint64_t(n - inflight));
    CHECK(st.acked == 0); // nothing confirmed while the broker is blocked
    CHECK(metric(bridge.metrics(), "shmq_bridge_messages_inflight") <= uint64_t(inflight));
    REQUIRE(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_local_backlog_messages") >= uint64_t(n - inflight); }));
    alarm.clear();
    REQUIRE(eventually([&] { return shmq_stats_get(a.q, &st) == SHMQ_OK && st.acked == uint64_t(n); }, 120));
    CHECK(peer.count(q) == uint32_t(n));
    CHECK(eventually([&] { return metric(bridge.metrics(), "shmq_bridge_broker_blocked") == 0; }));
    CHECK(bridge.stop() == 0);
}
