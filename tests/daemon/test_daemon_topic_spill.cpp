// A lagging consumer group under shmqd (issue 16 item 3): a group whose
// overflow is "spill" has its oldest ready messages moved to its own spill
// store (TOPIC.GROUP) above its backlog, which releases its references to the
// payload slots, so the publisher and the other group never wait for it; the
// lagging group gets every message once it reads again. A shmqd killed between
// writing a group's spill and releasing its references loses nothing. And the
// dead letters of groups shmqd does not supervise (bound by hand, removed by
// force) go to their stores instead of holding payload slots for ever.
#include "harness.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstring>
#include <map>

using namespace dtest;

namespace {

constexpr int64_t kSecond = 1000000000LL;
constexpr uint32_t kMessages = 160; // 10 x the 16 payload slots

std::string topic_config(const TempDir &dir, const std::string &extra = "") {
    return daemon_section(dir) +
           "[topics.orders]\nslot_count = 16\nslot_size = 64\nmax_clients = 16\ngroups = [\"fast\", \"slow\"]\n"
           "backoff_base_ms = 0\nbackoff_cap_ms = 0\n" + extra +
           "\n[topics.orders.group_options.slow]\nbacklog = 4\noverflow = \"spill\"\n";
}

uint32_t value_of(const shmq_msg &m) {
    uint32_t v = UINT32_MAX;
    if (m.len == sizeof v) std::memcpy(&v, m.data, sizeof v);
    return v;
}

shmq_queue *open_group(const char *group) {
    shmq_queue *g = nullptr;
    int rc = shmq_open_group("orders", group, nullptr, &g);
    INFO("shmq_open_group(orders, " << group << "): " << shmq_strerror(rc));
    CHECK(rc == SHMQ_OK);
    return g;
}

// Publish 0..n-1, each send waiting up to `timeout` for a payload slot.
int publish(uint32_t n, int64_t timeout) {
    shmq_queue *t = open_queue("orders");
    if (t == nullptr) return 90;
    for (uint32_t i = 0; i < n; ++i)
        if (int rc = shmq_send(t, &i, sizeof i, timeout); rc != SHMQ_OK) return 91;
    shmq_close(t);
    return 0;
}

// Group `fast`'s consumer: every value, in order, exactly once (it never spills).
int consume_in_order(uint32_t n) {
    shmq_queue *g = nullptr;
    if (shmq_open_group("orders", "fast", nullptr, &g) != SHMQ_OK) return 80;
    shmq_msg m;
    for (uint32_t i = 0; i < n; ++i) {
        if (shmq_recv(g, &m, 20 * kSecond) != SHMQ_OK) return 81;
        if (value_of(m) != i) return 82;
        if (shmq_ack(g, &m) != SHMQ_OK) return 83;
    }
    return shmq_recv(g, &m, kSecond / 5) == SHMQ_ETIMEDOUT ? 0 : 84; // and nothing twice
}

// Receive until every value in [0, n) was seen and nothing more comes.
std::map<uint32_t, int> consume_all(shmq_queue *q, uint32_t n) {
    std::map<uint32_t, int> seen;
    shmq_msg m;
    for (;;) {
        int64_t timeout = seen.size() < n ? 10 * kSecond : kSecond / 5; // then drain duplicates
        if (shmq_recv(q, &m, timeout) != SHMQ_OK) break;
        ++seen[value_of(m)];
        shmq_ack(q, &m);
    }
    return seen;
}

uint64_t spilled_of(shmq_queue *t) {
    shmq_stats st{};
    st.struct_size = sizeof st;
    return shmq_stats_get(t, &st) == SHMQ_OK ? st.spilled : UINT64_MAX;
}

} // namespace

TEST_CASE("a lagging group spills to its own store; the publisher and the other group never wait for it") {
    TempDir dir;
    dir.write("shmqd.toml", topic_config(dir, "spill_fsync = \"always\""));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    // Nobody reads `slow`: without its spill, 16 publishes would hold every
    // payload slot and the 17th would wait 10 s and fail (the topic blocks).
    pid_t fast = testing::spawn([] { return consume_in_order(kMessages); });
    pid_t producer = testing::spawn([] { return publish(kMessages, 10 * kSecond); });
    CHECK(testing::wait_child(producer) == 0);
    CHECK(testing::wait_child(fast) == 0);
    std::string body;
    CHECK(eventually([&] {
        return http_get(d.metrics_port(), "/metrics", &body) == 200 &&
               metric(body, "shmq_messages_spilled_total{queue=\"orders\",group=\"slow\"}") >= kMessages - 16;
    }));
    CHECK(metric(body, "shmq_messages_spilled_total{queue=\"orders\",group=\"fast\"}") == 0);
    shmq_queue *t = open_queue("orders");
    REQUIRE(t != nullptr);
    CHECK(spilled_of(t) >= kMessages - 16); // the topic's segment shows what its groups' spills hold
    shmq_queue *slow = open_group("slow");
    REQUIRE(slow != nullptr);
    std::map<uint32_t, int> seen = consume_all(slow, kMessages);
    CHECK(seen.size() == kMessages);
    for (auto &[v, times] : seen) {
        INFO("value " << v);
        CHECK(v < kMessages);
        CHECK(times == 1);
    }
    // Everything done by both groups: no payload slot is held, nothing spilled.
    CHECK(eventually([&] { return stats_of(t).free == 16 && spilled_of(t) == 0; }));
    shmq_close(slow);
    shmq_close(t);
    CHECK(d.stop() == 0);
}

TEST_CASE("shmqd killed between writing a group's spill and releasing its references: nothing lost") {
    TempDir dir;
    dir.write("shmqd.toml", topic_config(dir));
    pid_t fast, producer;
    {
        Shmqd d(dir, Binary::Testing, {"SHMQ_CRASH_AT=spill.after_write:20"});
        REQUIRE(d.wait_ready());
        fast = testing::spawn([] { return consume_in_order(kMessages); });
        producer = testing::spawn([] { return publish(kMessages, 30 * kSecond); });
        CHECK(d.wait_exit() == -SIGKILL); // a batch on disk, its references not released yet
    }
    Shmqd d(dir); // the producer, blocked meanwhile, carries on
    REQUIRE(d.wait_ready());
    CHECK(testing::wait_child(producer) == 0);
    CHECK(testing::wait_child(fast) == 0); // the other group: each message once, in order
    shmq_queue *slow = open_group("slow");
    REQUIRE(slow != nullptr);
    std::map<uint32_t, int> seen = consume_all(slow, kMessages);
    CHECK(seen.size() == kMessages);
    int duplicates = 0;
    for (auto &[v, times] : seen) {
        INFO("value " << v);
        CHECK(v < kMessages);
        CHECK(times >= 1);
        duplicates += times - 1;
    }
    MESSAGE(duplicates << " duplicates after the crash");
    CHECK(duplicates <= 16); // at most the batch in flight: the group cannot hold more than the slots
    shmq_queue *t = open_queue("orders");
    REQUIRE(t != nullptr);
    CHECK(eventually([&] { return stats_of(t).free == 16; }));
    shmq_close(t);
    shmq_close(slow);
    CHECK(d.stop() == 0);
}

TEST_CASE("dead letters of a group bound by hand and of a group removed by force go to their stores") {
    TempDir dir;
    dir.write("shmqd.toml", topic_config(dir, "max_attempts = 1\nmax_groups = 4"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *t = open_queue("orders");
    REQUIRE(t != nullptr);
    REQUIRE(shmq_group_add(t, "audit") == SHMQ_OK); // not in shmqd's config
    REQUIRE(shmq_group_add(t, "gone") == SHMQ_OK);
    for (uint32_t i = 0; i < 3; ++i) REQUIRE(shmq_send(t, &i, sizeof i, kSecond) == SHMQ_OK);
    pid_t rejecter = testing::spawn([] { // audit's consumer, another process, rejects all three
        shmq_queue *g = nullptr;
        shmq_msg m;
        if (shmq_open_group("orders", "audit", nullptr, &g) != SHMQ_OK) return 90;
        for (int i = 0; i < 3; ++i)
            if (shmq_recv(g, &m, 5 * kSecond) != SHMQ_OK || shmq_reject(g, &m) != SHMQ_OK) return 91;
        return 0;
    });
    REQUIRE(testing::wait_child(rejecter) == 0);
    REQUIRE(shmq_group_remove(t, "gone", 1) == SHMQ_OK); // its three become dead letters (group_removed)
    for (const char *g : {"fast", "slow"}) {
        shmq_queue *h = open_group(g);
        REQUIRE(h != nullptr);
        CHECK(consume_all(h, 3).size() == 3);
        shmq_close(h);
    }
    REQUIRE(eventually([&] {
        return dead_letters(dir, "orders.audit").size() == 3 && dead_letters(dir, "orders.gone").size() == 3;
    }));
    for (auto &dl : dead_letters(dir, "orders.audit")) CHECK(dl.meta.reason == shmq::store::DeadReason::Rejected);
    for (auto &dl : dead_letters(dir, "orders.gone")) CHECK(dl.meta.reason == shmq::store::DeadReason::GroupRemoved);
    // Nothing holds a payload slot: fast and slow acked, audit's and gone's are on disk.
    CHECK(eventually([&] { return stats_of(t).free == 16; }));
    CHECK(d.log_has("group audit is not in the config"));
    shmq_close(t);
    CHECK(d.stop() == 0);
}
