// Topics with real processes: a publisher hands each message once to every
// bound group, groups consume independently, a publisher killed at any
// moment leaves each message in every group or in none, and no payload slot
// leaks. (The protocol itself is explored by tests/explore, scenarios topic_*.)
#include "support.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstring>
#include <set>
#include <string>
#include <vector>

using namespace testing;

namespace {

constexpr int64_t kMs = 1000000LL;

shmq_params topic_params(uint32_t slots, uint32_t groups) {
    shmq_params p = small_params(slots);
    p.max_groups = groups;
    return p;
}

shmq_queue *open_group(const std::string &topic, const char *group) {
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    o.spin_ns = 0;
    shmq_queue *q = nullptr;
    return shmq_open_group(topic.c_str(), group, &o, &q) == SHMQ_OK ? q : nullptr;
}

shmq_stats stats_of(shmq_queue *q) {
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(q, &s) == SHMQ_OK);
    return s;
}

// Receive until `timeout_ms` passes without a message; ack each. Returns the
// payloads (as uint32 sequence numbers) in delivery order.
std::vector<uint32_t> drain(shmq_queue *g, int64_t timeout_ms) {
    std::vector<uint32_t> got;
    shmq_msg m;
    while (shmq_recv(g, &m, timeout_ms * kMs) == SHMQ_OK) {
        uint32_t v = 0;
        std::memcpy(&v, m.data, sizeof v);
        got.push_back(v);
        REQUIRE(shmq_ack(g, &m) == SHMQ_OK);
    }
    return got;
}

} // namespace

TEST_CASE("a topic refuses what it cannot do, with the documented errors") {
    TestQueue t("topic_bad", topic_params(4, 2));
    shmq_msg m;
    CHECK(shmq_recv(t.q, &m, 0) == SHMQ_EINVAL); // a topic is read through a group
    CHECK(shmq_send(t.q, "x", 1, 0) == SHMQ_ENOTFOUND); // no group bound: nothing sent
    CHECK(stats_of(t.q).free == 4);                    // and nothing held
    CHECK(shmq_group_add(t.q, "../etc") == SHMQ_EBADNAME);
    CHECK(shmq_group_add(t.q, "a") == SHMQ_OK);
    CHECK(shmq_group_add(t.q, "a") == SHMQ_EEXIST);
    CHECK(shmq_group_add(t.q, "b") == SHMQ_OK);
    CHECK(shmq_group_add(t.q, "c") == SHMQ_EFULL);
    shmq_queue *g = nullptr;
    CHECK(shmq_open_group(t.name.c_str(), "nope", nullptr, &g) == SHMQ_ENOTFOUND);
    CHECK(shmq_open_group(t.name.c_str(), "", nullptr, &g) == SHMQ_EBADNAME);
    g = open_group(t.name, "a");
    REQUIRE(g != nullptr);
    CHECK(shmq_send(g, "x", 1, 0) == SHMQ_EINVAL); // a group handle only consumes
    CHECK(shmq_group_add(g, "d") == SHMQ_EINVAL);
    shmq_close(g);

    TestQueue plain("topic_plain", small_params(4));
    CHECK(shmq_open_group(plain.name.c_str(), "a", nullptr, &g) == SHMQ_EINVAL);
    CHECK(shmq_group_add(plain.q, "a") == SHMQ_EINVAL);
    shmq_params p = topic_params(4, SHMQ_MAX_GROUPS + 1);
    shmq_queue *q = nullptr;
    CHECK(shmq_create(unique_name("topic_big").c_str(), &p, nullptr, &q) == SHMQ_EINVAL);
}

TEST_CASE("every group gets every message once, in order, with the same id; nacks stay in their group") {
    TestQueue t("topic_fan", topic_params(8, 3));
    REQUIRE(shmq_group_add(t.q, "email") == SHMQ_OK);
    REQUIRE(shmq_group_add(t.q, "inventory") == SHMQ_OK);
    shmq_queue *email = open_group(t.name, "email");
    shmq_queue *inv = open_group(t.name, "inventory");
    REQUIRE(email != nullptr);
    REQUIRE(inv != nullptr);
    uint64_t id = 0;
    REQUIRE(shmq_send_ex(t.q, "order-1", 7, nullptr, &id, 0) == SHMQ_OK);
    shmq_msg a, b;
    REQUIRE(shmq_recv(email, &a, 0) == SHMQ_OK);
    REQUIRE(shmq_recv(inv, &b, 0) == SHMQ_OK);
    CHECK(std::string(static_cast<const char *>(a.data), a.len) == "order-1");
    CHECK(std::string(static_cast<const char *>(b.data), b.len) == "order-1");
    CHECK(a.id == id);
    CHECK(b.id == id);
    // email nacks: only email sees it again; inventory's ack does not free the payload.
    REQUIRE(shmq_nack(email, &a, 0) == SHMQ_OK);
    REQUIRE(shmq_ack(inv, &b) == SHMQ_OK);
    CHECK(shmq_recv(inv, &b, 0) == SHMQ_EEMPTY);
    CHECK(stats_of(t.q).free == 7);
    REQUIRE(shmq_recv(email, &a, 0) == SHMQ_OK);
    CHECK(a.attempt == 2);
    CHECK(std::string(static_cast<const char *>(a.data), a.len) == "order-1");
    REQUIRE(shmq_ack(email, &a) == SHMQ_OK);
    CHECK(stats_of(t.q).free == 8); // the last group done frees the payload slot
    CHECK(shmq_ack(email, &a) == SHMQ_EINVAL); // a spent receipt
    // A group bound now gets what is sent from now on.
    REQUIRE(shmq_group_add(t.q, "analytics") == SHMQ_OK);
    shmq_queue *an = open_group(t.name, "analytics");
    REQUIRE(an != nullptr);
    REQUIRE(shmq_send(t.q, "order-2", 7, 0) == SHMQ_OK);
    for (shmq_queue *g : {email, inv, an}) {
        shmq_msg m;
        REQUIRE(shmq_recv(g, &m, 0) == SHMQ_OK);
        CHECK(std::string(static_cast<const char *>(m.data), m.len) == "order-2");
        CHECK(shmq_ack(g, &m) == SHMQ_OK);
    }
    CHECK(shmq_recv(an, &a, 0) == SHMQ_EEMPTY);
    CHECK(stats_of(t.q).free == 8);
    shmq_close(an);
    shmq_close(inv);
    shmq_close(email);
}

TEST_CASE("two consumer processes, one per group, each get all 2000 messages of a producer process in order") {
    const uint32_t n = 2000;
    TestQueue t("topic_mp", topic_params(16, 2));
    REQUIRE(shmq_group_add(t.q, "g1") == SHMQ_OK);
    REQUIRE(shmq_group_add(t.q, "g2") == SHMQ_OK);
    auto consumer = [&](const char *group) {
        return spawn([&t, group, n] {
            shmq_queue *g = open_group(t.name, group);
            if (g == nullptr) return 70;
            for (uint32_t want = 0; want < n; ++want) {
                shmq_msg m;
                if (shmq_recv(g, &m, 10000 * kMs) != SHMQ_OK) return 71;
                uint32_t v = 0;
                std::memcpy(&v, m.data, sizeof v);
                if (v != want || m.len != 64) return 72;
                if (shmq_ack(g, &m) != SHMQ_OK) return 73;
            }
            shmq_close(g);
            return 0;
        });
    };
    pid_t c1 = consumer("g1"), c2 = consumer("g2");
    pid_t producer = spawn([&t, n] {
        shmq_queue *q = open_queue(t.name);
        char buf[64] = {};
        for (uint32_t i = 0; i < n; ++i) {
            std::memcpy(buf, &i, sizeof i);
            if (shmq_send(q, buf, sizeof buf, 10000 * kMs) != SHMQ_OK) return 60;
        }
        shmq_close(q);
        return 0;
    });
    CHECK(wait_child(producer) == 0);
    CHECK(wait_child(c1) == 0);
    CHECK(wait_child(c2) == 0);
    shmq_stats s = stats_of(t.q);
    CHECK(s.free == 16); // no payload slot leaked
    CHECK(s.enqueued == n);
}

TEST_CASE("a publisher SIGKILLed while sending leaves each message in both groups or in neither") {
    TestQueue t("topic_kill", topic_params(32, 2));
    REQUIRE(shmq_group_add(t.q, "g1") == SHMQ_OK);
    REQUIRE(shmq_group_add(t.q, "g2") == SHMQ_OK);
    shmq_queue *g1 = open_group(t.name, "g1");
    shmq_queue *g2 = open_group(t.name, "g2");
    REQUIRE(g1 != nullptr);
    REQUIRE(g2 != nullptr);
    uint32_t sent_ok = 0;
    for (int round = 0; round < 20; ++round) {
        Pipe ok;
        pid_t producer = spawn([&] {
            shmq_queue *q = open_queue(t.name);
            ok.close_read();
            char buf[32] = {};
            for (uint32_t i = 0;; ++i) { // until killed (or blocked on a full topic, then killed)
                uint32_t v = uint32_t(round) << 16 | i;
                std::memcpy(buf, &v, sizeof v);
                if (shmq_send(q, buf, sizeof buf, 10000 * kMs) != SHMQ_OK) return 60;
                ok.put(&v, sizeof v); // it returned OK: it must be in both groups
            }
        });
        ok.close_write();
        // Let it send some, then kill it wherever it is.
        std::set<uint32_t> confirmed;
        uint32_t v = 0;
        for (int k = 0; k < 4 + (round % 8) * 3; ++k) { // fewer than the 32 slots: nobody consumes yet
            REQUIRE(ok.get(&v, sizeof v));
            confirmed.insert(v);
        }
        kill(producer, SIGKILL);
        CHECK(wait_child(producer) == -SIGKILL);
        while (ok.get(&v, sizeof v)) confirmed.insert(v);
        sent_ok += uint32_t(confirmed.size());
        shmq_recovery rep{};
        REQUIRE(shmq_recover(t.q, &rep) == SHMQ_OK);
        std::vector<uint32_t> a = drain(g1, 0), b = drain(g2, 0);
        CHECK(a == b); // the same messages, in the same order: all or none
        std::set<uint32_t> got(a.begin(), a.end());
        for (uint32_t c : confirmed) CHECK(got.count(c) == 1);
        CHECK(stats_of(t.q).free == 32); // nothing leaked, whatever the kill interrupted
    }
    CHECK(sent_ok > 0);
    shmq_close(g2);
    shmq_close(g1);
}

TEST_CASE("a group consumer SIGKILLed holding a lease: its group gets the message again, the other group is untouched") {
    TestQueue t("topic_ckill", topic_params(4, 2));
    REQUIRE(shmq_group_add(t.q, "g1") == SHMQ_OK);
    REQUIRE(shmq_group_add(t.q, "g2") == SHMQ_OK);
    REQUIRE(shmq_send(t.q, "job", 3, 0) == SHMQ_OK);
    Pipe leased;
    pid_t victim = spawn([&] {
        shmq_queue *g = open_group(t.name, "g1");
        shmq_msg m;
        if (g == nullptr || shmq_recv(g, &m, 0) != SHMQ_OK) return 50;
        leased.put("L", 1);
        pause();
        return 51;
    });
    char c;
    REQUIRE(leased.get(&c, 1));
    kill(victim, SIGKILL);
    CHECK(wait_child(victim) == -SIGKILL);
    shmq_queue *g2 = open_group(t.name, "g2");
    shmq_msg m;
    REQUIRE(shmq_recv(g2, &m, 0) == SHMQ_OK);
    CHECK(m.attempt == 1);
    REQUIRE(shmq_ack(g2, &m) == SHMQ_OK);
    CHECK(stats_of(t.q).free == 3); // g1 still holds it
    shmq_recovery rep{};
    REQUIRE(shmq_recover(t.q, &rep) == SHMQ_OK);
    CHECK(rep.dead_clients == 1);
    CHECK(rep.leases_reclaimed == 1);
    shmq_queue *g1 = open_group(t.name, "g1");
    // The reclaim counts the attempt: the retry waits out the backoff.
    REQUIRE(shmq_recv(g1, &m, 5000 * kMs) == SHMQ_OK);
    CHECK(m.attempt == 2);
    CHECK(std::string(static_cast<const char *>(m.data), m.len) == "job");
    REQUIRE(shmq_ack(g1, &m) == SHMQ_OK);
    CHECK(stats_of(t.q).free == 4);
    shmq_close(g1);
    shmq_close(g2);
}

TEST_CASE("removing a group: refused while it holds messages, forced drops them as dead letters, its handles close") {
    TestQueue t("topic_rm", topic_params(4, 2));
    REQUIRE(shmq_group_add(t.q, "keep") == SHMQ_OK);
    REQUIRE(shmq_group_add(t.q, "drop") == SHMQ_OK);
    char names[2][SHMQ_NAME_MAX + 1];
    size_t n = 0;
    REQUIRE(shmq_groups(t.q, names, 2, &n) == SHMQ_OK);
    CHECK(n == 2);
    CHECK(std::set<std::string>{names[0], names[1]} == std::set<std::string>{"keep", "drop"});
    CHECK(shmq_groups(t.q, names, 1, &n) == SHMQ_EFULL);
    CHECK(n == 2);
    shmq_queue *drop = open_group(t.name, "drop");
    shmq_queue *keep = open_group(t.name, "keep");
    REQUIRE(drop != nullptr);
    REQUIRE(keep != nullptr);
    REQUIRE(shmq_send(t.q, "a", 1, 0) == SHMQ_OK);
    CHECK(shmq_group_remove(t.q, "drop", 0) == SHMQ_EBUSY); // it holds "a": nothing changes
    shmq_msg m;
    REQUIRE(shmq_recv(drop, &m, 0) == SHMQ_OK);
    REQUIRE(shmq_ack(drop, &m) == SHMQ_OK);
    REQUIRE(shmq_send(t.q, "b", 1, 0) == SHMQ_OK);
    CHECK(shmq_group_remove(t.q, "nope", 1) == SHMQ_ENOTFOUND);
    CHECK(shmq_group_remove(drop, "drop", 1) == SHMQ_EINVAL); // not a topic handle
    REQUIRE(shmq_group_remove(t.q, "drop", 1) == SHMQ_OK);
    CHECK(shmq_recv(drop, &m, 0) == SHMQ_ECLOSED);
    shmq_stats s = stats_of(drop);
    CHECK(s.dead == 1); // "b", reason group_removed, for shmqd's dead-letter store
    REQUIRE(shmq_groups(t.q, names, 2, &n) == SHMQ_OK);
    CHECK(n == 1);
    CHECK(std::string(names[0]) == "keep");
    // Publishing goes on to the other group only.
    REQUIRE(shmq_send(t.q, "c", 1, 0) == SHMQ_OK);
    for (const char *want : {"a", "b", "c"}) {
        REQUIRE(shmq_recv(keep, &m, 0) == SHMQ_OK);
        CHECK(std::string(static_cast<const char *>(m.data), m.len) == want);
        REQUIRE(shmq_ack(keep, &m) == SHMQ_OK);
    }
    shmq_queue *again = nullptr;
    CHECK(shmq_open_group(t.name.c_str(), "drop", nullptr, &again) == SHMQ_ENOTFOUND);
    CHECK(stats_of(t.q).free == 3); // "b" is held by the removed group's dead letter
    shmq_close(keep);
    shmq_close(drop);
}
