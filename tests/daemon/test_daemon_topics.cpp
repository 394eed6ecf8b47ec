// shmqd and topics (issue 16): a [topics.NAME] table makes shmqd create the
// topic and bind its groups (again at a restart: binding is idempotent), and
// supervise it: a group member killed with a lease gets its message back into
// that group through shmqd's recovery of the topic, while the other group is
// untouched; a group's dead letters go to that group's store (TOPIC.GROUP),
// and its metrics carry a `group` label.
#include "harness.hpp"
#include "support.hpp"

#include "ops.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <string>

using namespace dtest;

namespace {

constexpr int64_t kSecond = 1000000000LL;

std::string topic_section(const std::string &name, const std::string &extra = "") {
    return "[topics." + name + "]\nslot_count = 16\nslot_size = 64\nmax_clients = 16\n" + extra + "\n";
}

shmq_queue *open_group(const std::string &topic, const std::string &group) {
    shmq_queue *g = nullptr;
    int rc = shmq_open_group(topic.c_str(), group.c_str(), nullptr, &g);
    INFO("shmq_open_group(" << topic << ", " << group << "): " << shmq_strerror(rc));
    CHECK(rc == SHMQ_OK);
    return g;
}

} // namespace

TEST_CASE("shmqd creates a configured topic and binds its groups; a restart binds them again without error") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + topic_section("orders", "groups = [\"email\", \"inventory\"]"));
    {
        Shmqd d(dir);
        REQUIRE(d.wait_ready());
        CHECK(d.log_has("bound group email"));
        CHECK(d.log_has("bound group inventory"));
        shmq_queue *t = open_queue("orders");
        REQUIRE(t != nullptr);
        shmq_params p;
        REQUIRE(shmq_get_params(t, &p) == SHMQ_OK);
        CHECK(p.max_groups == 4); // the default: room for as many again, at least 4
        CHECK(shmq_group_add(t, "email") == SHMQ_EEXIST);
        shmq_close(t);
        CHECK(d.stop() == 0);
    }
    Shmqd again(dir);
    REQUIRE(again.wait_ready());
    CHECK(again.log_has("adopted the existing segment"));
    CHECK(!again.log_has("bound group")); // both were bound already
    for (const char *g : {"email", "inventory"}) {
        shmq_queue *h = open_group("orders", g);
        if (h != nullptr) shmq_close(h);
    }
    CHECK(again.stop() == 0);
}

TEST_CASE("a group member killed with a lease: shmqd gives the message back to that group only") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + topic_section("orders", "groups = [\"email\", \"inventory\"]\n"
                                                                          "lease_ms = 60000\nbackoff_base_ms = 0\n"
                                                                          "backoff_cap_ms = 0"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *t = open_queue("orders");
    REQUIRE(t != nullptr);
    REQUIRE(shmq_send(t, "order-1", 7, 0) == SHMQ_OK);
    testing::Pipe leased;
    pid_t child = testing::spawn([&] {
        shmq_queue *g = nullptr;
        shmq_msg m;
        if (shmq_open_group("orders", "email", nullptr, &g) != SHMQ_OK || shmq_recv(g, &m, 5 * kSecond) != SHMQ_OK)
            return 90;
        leased.put("L", 1);
        pause();
        return 91;
    });
    char c;
    REQUIRE(leased.get(&c, 1));
    kill(child, SIGKILL);
    REQUIRE(testing::wait_child(child) == -SIGKILL);
    shmq_queue *email = open_group("orders", "email");
    shmq_queue *inventory = open_group("orders", "inventory");
    REQUIRE(email != nullptr);
    REQUIRE(inventory != nullptr);
    // The lease is 60 s and no one here recovers: only shmqd can bring it back this soon.
    CHECK(eventually([&] { return stats_of(email).ready == 1; }, 10s));
    shmq_msg m;
    REQUIRE(shmq_recv(email, &m, 5 * kSecond) == SHMQ_OK);
    CHECK(m.attempt == 2);
    CHECK(shmq_ack(email, &m) == SHMQ_OK);
    REQUIRE(shmq_recv(inventory, &m, 5 * kSecond) == SHMQ_OK);
    CHECK(m.attempt == 1);
    CHECK(std::string(static_cast<const char *>(m.data), m.len) == "order-1");
    CHECK(shmq_ack(inventory, &m) == SHMQ_OK);
    CHECK(eventually([&] { return stats_of(t).free == 16; })); // both done: the payload slot is free
    shmq_close(email);
    shmq_close(inventory);
    shmq_close(t);
    CHECK(d.stop() == 0);
}

TEST_CASE("a poison message in one group lands in that group's dead letters; the other acks it; the slot is freed") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + topic_section("orders", "groups = [\"email\", \"inventory\"]\n"
                                                                          "max_attempts = 1"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *t = open_queue("orders");
    REQUIRE(t != nullptr);
    REQUIRE(shmq_send(t, "poison", 6, 0) == SHMQ_OK);
    pid_t child = testing::spawn([&] { // email's consumer, another process, rejects it
        shmq_queue *g = nullptr;
        shmq_msg m;
        if (shmq_open_group("orders", "email", nullptr, &g) != SHMQ_OK || shmq_recv(g, &m, 5 * kSecond) != SHMQ_OK)
            return 90;
        return shmq_reject(g, &m) == SHMQ_OK ? 0 : 91;
    });
    REQUIRE(testing::wait_child(child) == 0);
    shmq_queue *inventory = open_group("orders", "inventory");
    REQUIRE(inventory != nullptr);
    shmq_msg m;
    REQUIRE(shmq_recv(inventory, &m, 5 * kSecond) == SHMQ_OK);
    const uint64_t id = m.id;
    CHECK(shmq_ack(inventory, &m) == SHMQ_OK);
    REQUIRE(eventually([&] { return dead_letters(dir, "orders.email").size() == 1; }));
    auto dl = dead_letters(dir, "orders.email");
    CHECK(dl[0].meta.id == id);
    CHECK(dl[0].meta.reason == shmq::store::DeadReason::Rejected);
    CHECK(dl[0].size == 6);
    CHECK(dead_letters(dir, "orders.inventory").empty());
    CHECK(dead_letters(dir, "orders").empty());
    // Both groups done (one acked, one dead letter on disk): the payload slot is free again.
    CHECK(eventually([&] { return stats_of(t).free == 16; }));
    std::string body;
    // A scrape shows what shmqd sampled at a tick: the dead letter and the ack
    // may reach it in different ticks (seen under ASan), so wait for both.
    CHECK(eventually([&] {
        return http_get(d.metrics_port(), "/metrics", &body) == 200 &&
               metric(body, "shmq_queue_dead_letters{queue=\"orders\",group=\"email\"}") == 1 &&
               metric(body, "shmq_messages_acked_total{queue=\"orders\",group=\"inventory\"}") == 1;
    }));
    CHECK(metric(body, "shmq_queue_dead_letters{queue=\"orders\",group=\"inventory\"}") == 0);
    // Redrive through shmqd: back into email only, a fresh delivery.
    shmqd::ops::RedriveOptions o;
    o.queue = "orders.email";
    o.topic = "orders";
    o.group = "email";
    o.dead_letter_dir = dir.file("dlq");
    o.rate = 1000;
    shmqd::ops::RedriveReport rep;
    REQUIRE_MESSAGE(shmqd::ops::redrive(o, &rep) == 0, rep.error);
    CHECK(rep.via_daemon);
    shmq_queue *email = open_group("orders", "email");
    REQUIRE(email != nullptr);
    REQUIRE(shmq_recv(email, &m, 5 * kSecond) == SHMQ_OK);
    CHECK(m.id == id);
    CHECK(m.attempt == 1);
    CHECK(shmq_ack(email, &m) == SHMQ_OK);
    CHECK(stats_of(inventory).ready == 0); // not redriven into the group that acked it
    CHECK(eventually([&] { return stats_of(t).free == 16; }));
    shmq_close(email);
    shmq_close(inventory);
    shmq_close(t);
    CHECK(d.stop() == 0);
}

TEST_CASE("a group bound by hand: shmqd carries out a redrive and a purge of its dead letters") {
    // shmqd holds the writer lock of such a group's store (TOPIC.GROUP, opened
    // when its first dead letter came), so shmqctl hands requests to it; they
    // used to stay pending for ever, since only configured groups served them.
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + topic_section("orders", "groups = [\"email\"]\nmax_attempts = 1"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *t = open_queue("orders");
    REQUIRE(t != nullptr);
    REQUIRE(shmq_group_add(t, "extra") == SHMQ_OK);
    shmq_queue *extra = open_group("orders", "extra");
    REQUIRE(extra != nullptr);
    shmq_queue *email = open_group("orders", "email");
    REQUIRE(email != nullptr);
    shmq_msg m;
    for (const char *data : {"first", "second"}) {
        REQUIRE(shmq_send(t, data, 5, 0) == SHMQ_OK);
        REQUIRE(shmq_recv(email, &m, 5 * kSecond) == SHMQ_OK);
        CHECK(shmq_ack(email, &m) == SHMQ_OK);
        REQUIRE(shmq_recv(extra, &m, 5 * kSecond) == SHMQ_OK);
        CHECK(shmq_reject(extra, &m) == SHMQ_OK);
    }
    REQUIRE(eventually([&] { return dead_letters(dir, "orders.extra").size() == 2; }));
    const uint64_t first = dead_letters(dir, "orders.extra")[0].meta.id;
    shmqd::ops::RedriveOptions o;
    o.queue = "orders.extra";
    o.topic = "orders";
    o.group = "extra";
    o.dead_letter_dir = dir.file("dlq");
    o.rate = 1000;
    o.timeout_ms = 10000;
    o.ids = {first};
    shmqd::ops::RedriveReport rep;
    REQUIRE_MESSAGE(shmqd::ops::redrive(o, &rep) == 0, rep.error);
    CHECK(rep.via_daemon);
    REQUIRE(shmq_recv(extra, &m, 5 * kSecond) == SHMQ_OK); // back into that group only
    CHECK(m.id == first);
    CHECK(m.attempt == 1);
    CHECK(shmq_ack(extra, &m) == SHMQ_OK);
    CHECK(shmq_recv(email, &m, 0) == SHMQ_EEMPTY);
    o.ids.clear();
    shmqd::ops::RedriveReport purged;
    REQUIRE_MESSAGE(shmqd::ops::purge(o, &purged) == 0, purged.error);
    CHECK(dead_letters(dir, "orders.extra").empty());
    // A redrive shmqd drops is an error, not "done": into a queue that does
    // not exist, and into the group once it was removed. The record stays.
    REQUIRE(shmq_send(t, "third", 5, 0) == SHMQ_OK);
    REQUIRE(shmq_recv(email, &m, 5 * kSecond) == SHMQ_OK);
    CHECK(shmq_ack(email, &m) == SHMQ_OK);
    REQUIRE(shmq_recv(extra, &m, 5 * kSecond) == SHMQ_OK);
    CHECK(shmq_reject(extra, &m) == SHMQ_OK);
    REQUIRE(eventually([&] { return dead_letters(dir, "orders.extra").size() == 1; }));
    o.to = "no-such-queue";
    shmqd::ops::RedriveReport bad;
    CHECK(shmqd::ops::redrive(o, &bad) != 0);
    CHECK_MESSAGE(bad.error.find("no-such-queue") != std::string::npos, bad.error);
    o.to.clear();
    shmq_close(extra);
    REQUIRE(shmq_group_remove(t, "extra", 1) == SHMQ_OK);
    shmqd::ops::RedriveReport unbound;
    CHECK(shmqd::ops::redrive(o, &unbound) != 0);
    CHECK_MESSAGE(unbound.error.find("not bound") != std::string::npos, unbound.error);
    CHECK(dead_letters(dir, "orders.extra").size() == 1);
    CHECK(eventually([&] { return stats_of(t).free == 16; }));
    shmq_close(email);
    shmq_close(t);
    CHECK(d.stop() == 0);
}
