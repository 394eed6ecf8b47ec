// Overflow under shmqd: a burst of ten times a queue's capacity is absorbed
// by the spill and delivered in full; the fail policy refuses it instead; and
// a daemon killed in the middle of spilling loses nothing when restarted.
#include "harness.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstring>
#include <map>

using namespace dtest;

namespace {

constexpr int64_t kSecond = 1000000000LL;
constexpr uint32_t kBurst = 320; // 10 x the 32 slots of the test queues

uint32_t value_of(const shmq_msg &m) {
    uint32_t v = UINT32_MAX;
    if (m.len == sizeof v) std::memcpy(&v, m.data, sizeof v);
    return v;
}

// Receive until every value in [0, n) was seen and nothing more comes;
// returns how often each value arrived.
std::map<uint32_t, int> consume_all(shmq_queue *q, uint32_t n) {
    std::map<uint32_t, int> seen;
    shmq_msg m;
    for (;;) {
        int64_t timeout = seen.size() < n ? 5 * kSecond : kSecond / 5; // then drain duplicates
        if (shmq_recv(q, &m, timeout) != SHMQ_OK) break;
        ++seen[value_of(m)];
        shmq_ack(q, &m);
    }
    return seen;
}

int produce(const std::string &queue, uint32_t n, int64_t timeout) {
    shmq_queue *q = open_queue(queue);
    if (q == nullptr) return 90;
    for (uint32_t i = 0; i < n; ++i)
        if (shmq_send(q, &i, sizeof i, timeout) != SHMQ_OK) return 91;
    shmq_close(q);
    return 0;
}

} // namespace

TEST_CASE("a burst of 10x capacity with no consumer is spilled, then delivered in full, each message once") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "overflow = \"spill\"\nspill_fsync = \"always\""));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    REQUIRE(produce("q", kBurst, 10 * kSecond) == 0);
    std::string body; // at most the high-water mark (24 slots) stays in memory
    CHECK(eventually([&] {
        return http_get(d.metrics_port(), "/metrics", &body) == 200 &&
               metric(body, "shmq_messages_spilled_total{queue=\"q\"}") >= kBurst - 24;
    }));
    CHECK(metric(body, "shmq_queue_messages_spilled{queue=\"q\"}") >= kBurst - 24);
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    shmq_stats st{}; // the segment says what the spill holds too (shmqctl list shows it)
    st.struct_size = sizeof st;
    CHECK(eventually([&] { return shmq_stats_get(q, &st) == SHMQ_OK && st.spilled + st.ready == kBurst; }));
    std::map<uint32_t, int> seen = consume_all(q, kBurst);
    CHECK(seen.size() == kBurst);
    for (auto &[v, times] : seen) {
        INFO("value " << v);
        CHECK(v < kBurst);
        CHECK(times == 1);
    }
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("the same burst under the fail policy: the queue's capacity is taken, the rest get SHMQ_EFULL") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "overflow = \"fail\""));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    uint32_t ok = 0, full = 0;
    for (uint32_t i = 0; i < kBurst; ++i) {
        int rc = shmq_send(q, &i, sizeof i, kSecond);
        ok += rc == SHMQ_OK;
        full += rc == SHMQ_EFULL;
    }
    CHECK(ok == 32);
    CHECK(full == kBurst - 32);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("shmqd killed in the middle of spilling, then restarted: nothing lost, duplicates bounded") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "overflow = \"spill\"\nbackoff_base_ms = 0\n"
                                                                     "backoff_cap_ms = 0"));
    pid_t producer;
    {
        Shmqd d(dir, Binary::Testing, {"SHMQ_CRASH_AT=spill.after_write:20"});
        REQUIRE(d.wait_ready());
        producer = testing::spawn([] { return produce("q", kBurst, 30 * kSecond); });
        CHECK(d.wait_exit() == -SIGKILL); // between syncing a batch and freeing its slots
    }
    Shmqd d(dir); // the producer, blocked meanwhile, carries on
    REQUIRE(d.wait_ready());
    CHECK(testing::wait_child(producer) == 0);
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    std::map<uint32_t, int> seen = consume_all(q, kBurst);
    CHECK(seen.size() == kBurst);
    int duplicates = 0;
    for (auto &[v, times] : seen) {
        INFO("value " << v);
        CHECK(v < kBurst);
        CHECK(times >= 1);
        duplicates += times - 1;
    }
    MESSAGE(duplicates << " duplicates after the crash");
    CHECK(duplicates <= 32); // at most one batch: it cannot exceed the queue's slots
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("a spill at its disk cap makes senders get SHMQ_EFULL; nothing sent is lost, and a refill makes room") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "overflow = \"spill\"\nspill_max_bytes = 4096"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    uint32_t sent = 0;
    int rc = SHMQ_OK;
    while (sent < 10 * kBurst && (rc = shmq_send(q, &sent, sizeof sent, 5 * kSecond)) == SHMQ_OK) ++sent;
    CHECK(rc == SHMQ_EFULL);
    CHECK(sent > 32); // the cap holds about 90 of these records
    CHECK(d.log_has("spill store full"));
    CHECK(d.log_has("put back message")); // the one taken when the cap was hit
    std::map<uint32_t, int> seen = consume_all(q, sent);
    CHECK(seen.size() == sent);
    for (auto &[v, times] : seen) {
        INFO("value " << v);
        CHECK(v < sent);
        CHECK(times == 1);
    }
    CHECK(shmq_send(q, &sent, sizeof sent, 5 * kSecond) == SHMQ_OK); // room again
    shmq_close(q);
    CHECK(d.stop() == 0);
}
