// Dead letters of topic groups shmqd does not supervise (orphans.cpp) go to
// the right store or to none: a configured group removed by force whose lane
// is bound again under another name does not lend that group its store; and a
// group bound by hand whose store name another queue or group owns (`a` +
// `b.c` against a queue `a.b.c` or a topic `a.b`'s group `c`) keeps its dead
// letters in the segment, logged, neither mixed into that store nor dropped.
#include "harness.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace dtest;

namespace {

constexpr int64_t kSecond = 1000000000LL;

std::string topic_section(const std::string &name, const std::string &groups) {
    return "[topics.\"" + name + "\"]\nslot_count = 16\nslot_size = 64\nmax_clients = 16\nmax_groups = 2\n"
           "groups = [" + groups + "]\n";
}

void send_n(shmq_queue *t, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) REQUIRE(shmq_send(t, &i, sizeof i, kSecond) == SHMQ_OK);
}

// Receive from group `group` of `topic` until none is left, settling each with `settle`.
uint32_t settle_all(const std::string &topic, const char *group, int (*settle)(shmq_queue *, shmq_msg *)) {
    shmq_queue *g = nullptr;
    REQUIRE(shmq_open_group(topic.c_str(), group, nullptr, &g) == SHMQ_OK);
    uint32_t n = 0;
    shmq_msg m;
    while (shmq_recv(g, &m, kSecond / 5) == SHMQ_OK) n += settle(g, &m) == SHMQ_OK;
    shmq_close(g);
    return n;
}

} // namespace

TEST_CASE("a removed configured group's lane bound again under another name: its dead letters go to that name's store") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + topic_section("orders", "\"fast\", \"slow\""));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *t = open_queue("orders");
    REQUIRE(t != nullptr);
    send_n(t, 3);
    REQUIRE(shmq_group_remove(t, "slow", 1) == SHMQ_OK); // its three become dead letters (group_removed)
    REQUIRE(eventually([&] { return dead_letters(dir, "orders.slow").size() == 3; }));
    // The lane is free once its dead letters are on disk; bind it by hand.
    REQUIRE(eventually([&] { return shmq_group_add(t, "other") == SHMQ_OK; }));
    send_n(t, 2);
    CHECK(settle_all("orders", "other", shmq_reject) == 2);
    CHECK(settle_all("orders", "fast", shmq_ack) == 5);
    REQUIRE(eventually([&] { return dead_letters(dir, "orders.other").size() == 2; }));
    for (auto &dl : dead_letters(dir, "orders.other")) CHECK(dl.meta.reason == shmq::store::DeadReason::Rejected);
    CHECK(dead_letters(dir, "orders.slow").size() == 3); // the first group's store got none of other's
    for (auto &dl : dead_letters(dir, "orders.slow")) CHECK(dl.meta.reason == shmq::store::DeadReason::GroupRemoved);
    CHECK(eventually([&] { return stats_of(t).free == 16; }));
    shmq_close(t);
    CHECK(d.stop() == 0);
}

TEST_CASE("a hand-bound group whose store is a configured queue's keeps its dead letters in the segment") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("\"a.b.c\"") + topic_section("a", "\"x\""));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *t = open_queue("a");
    REQUIRE(t != nullptr);
    REQUIRE(shmq_group_add(t, "b.c") == SHMQ_OK); // store a.b.c: the queue's
    send_n(t, 2);
    CHECK(settle_all("a", "x", shmq_ack) == 2);
    REQUIRE(shmq_group_remove(t, "b.c", 1) == SHMQ_OK);
    REQUIRE(eventually([&] { return d.log_has("its dead-letter store a.b.c belongs to a configured queue or group"); }));
    CHECK(dead_letters(dir, "a.b.c").empty()); // not mixed into the queue's store
    CHECK(stats_of(t).free == 14);             // nor released: still in the segment
    shmq_close(t);
    CHECK(d.stop() == 0);
}

TEST_CASE("two topics' hand-bound groups with one store name: the store takes one topic's dead letters only") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + topic_section("a", "\"x\"") + topic_section("a.b", "\"y\""));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *a = open_queue("a"), *ab = open_queue("a.b");
    REQUIRE(a != nullptr);
    REQUIRE(ab != nullptr);
    REQUIRE(shmq_group_add(a, "b.c") == SHMQ_OK); // store a.b.c
    REQUIRE(shmq_group_add(ab, "c") == SHMQ_OK);  // store a.b.c too
    send_n(a, 1);
    send_n(ab, 2);
    CHECK(settle_all("a", "x", shmq_ack) == 1);
    CHECK(settle_all("a.b", "y", shmq_ack) == 2);
    REQUIRE(shmq_group_remove(a, "b.c", 1) == SHMQ_OK);
    REQUIRE(shmq_group_remove(ab, "c", 1) == SHMQ_OK);
    REQUIRE(eventually([&] { return d.log_has("another topic's group (its store is locked)"); }));
    size_t stored = dead_letters(dir, "a.b.c").size();
    uint32_t left_a = 16 - stats_of(a).free, left_ab = 16 - stats_of(ab).free;
    // One topic's dead letters are in the store, the other's in its segment.
    CHECK(((stored == 1 && left_a == 0 && left_ab == 2) || (stored == 2 && left_a == 1 && left_ab == 0)));
    shmq_close(a);
    shmq_close(ab);
    CHECK(d.stop() == 0);
}
