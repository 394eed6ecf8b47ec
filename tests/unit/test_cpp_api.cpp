// The C++ API: RAII handles, errors as exceptions on open, and a dropped
// message going back to the queue instead of leaking its lease.
#include "shmq/shmq.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;

TEST_CASE("C++: create, send, receive, ack") {
    std::string name = testing::unique_name("cpp");
    shmq::Queue q = shmq::Queue::create(name);
    REQUIRE(q.send("hello", 0ns) == SHMQ_OK);
    auto m = q.recv(0ns);
    REQUIRE(m.has_value());
    CHECK(m->data() == "hello");
    CHECK(m->attempt() == 1);
    CHECK(m->ack() == SHMQ_OK);
    int status = SHMQ_OK;
    CHECK_FALSE(q.recv(0ns, &status).has_value());
    CHECK(status == SHMQ_EEMPTY);
    shmq::Queue::unlink(name);
}

TEST_CASE("C++: opening a missing queue throws an Error with the code") {
    try {
        shmq::Queue::open("no.such.queue");
        FAIL("expected shmq::Error");
    } catch (const shmq::Error &e) {
        CHECK(e.code() == SHMQ_ENOTFOUND);
    }
}

TEST_CASE("C++: a message dropped without ack comes back") {
    std::string name = testing::unique_name("cppdrop");
    shmq_params p = testing::small_params();
    shmq::Queue q = shmq::Queue::create(name, p);
    REQUIRE(q.send("x", 0ns) == SHMQ_OK);
    uint64_t id = 0;
    {
        auto m = q.recv(0ns);
        REQUIRE(m.has_value());
        id = m->id();
    } // dropped: nacked with the backoff (0 in small_params)
    auto again = q.recv(1s);
    REQUIRE(again.has_value());
    CHECK(again->id() == id);
    CHECK(again->attempt() == 2);
    CHECK(again->ack() == SHMQ_OK);
    shmq::Queue::unlink(name);
}

TEST_CASE("C++: send returns the id, and SendOptions delays a message") {
    std::string name = testing::unique_name("cppid");
    shmq::Queue q = shmq::Queue::create(name, testing::small_params());
    uint64_t now_id = 0, later_id = 0;
    int64_t sent_at = testing::mono_ns();
    REQUIRE(q.send("later", shmq::SendOptions{100ms}, 0ns, &later_id) == SHMQ_OK);
    REQUIRE(q.send("now", 0ns, &now_id) == SHMQ_OK);
    CHECK(q.send("x", shmq::SendOptions{-1ns}, 0ns) == SHMQ_EINVAL);
    auto m = q.recv(0ns);
    REQUIRE(m.has_value());
    CHECK(m->data() == "now");
    CHECK(m->id() == now_id);
    CHECK(m->ack() == SHMQ_OK);
    auto l = q.recv(10s);
    REQUIRE(l.has_value());
    CHECK(testing::mono_ns() - sent_at >= 100'000'000);
    CHECK(l->id() == later_id);
    CHECK(l->ack() == SHMQ_OK);
    shmq::Queue::unlink(name);
}

TEST_CASE("C++: SendOptions::ttl expires a message not leased in time") {
    std::string name = testing::unique_name("cppttl");
    shmq::Queue q = shmq::Queue::create(name, testing::small_params());
    shmq::SendOptions o;
    o.ttl = 1ns; // rounded down to the ms: expired as it is stored
    REQUIRE(q.send("gone", o, 0ns) == SHMQ_OK);
    o.ttl = 10s;
    REQUIRE(q.send("kept", o, 0ns) == SHMQ_OK);
    o.ttl = shmq::SendOptions::never_expires;
    REQUIRE(q.send("never", o, 0ns) == SHMQ_OK);
    o.ttl = -2ns;
    CHECK(q.send("x", o, 0ns) == SHMQ_EINVAL);
    auto m = q.recv(0ns);
    REQUIRE(m.has_value());
    CHECK(m->data() == "kept");
    CHECK(m->ack() == SHMQ_OK);
    m = q.recv(0ns);
    REQUIRE(m.has_value());
    CHECK(m->data() == "never");
    CHECK(m->ack() == SHMQ_OK);
    shmq::Queue::unlink(name);
}

TEST_CASE("C++: SendOptions::dedup_key stores a key once within the window") {
    std::string name = testing::unique_name("cppdedup");
    shmq_params p = testing::small_params();
    p.dedup_window_ms = 60000;
    shmq::Queue q = shmq::Queue::create(name, p);
    shmq::SendOptions o;
    o.dedup_key = "order-42";
    uint64_t a = 0, b = 0;
    bool dup = true;
    REQUIRE(q.send("one", o, 0ns, &a, &dup) == SHMQ_OK);
    CHECK_FALSE(dup);
    REQUIRE(q.send("two", o, 0ns, &b, &dup) == SHMQ_OK);
    CHECK(dup);
    CHECK(b == a);
    auto m = q.recv(0ns);
    REQUIRE(m.has_value());
    CHECK(m->data() == "one");
    CHECK(m->ack() == SHMQ_OK);
    CHECK_FALSE(q.recv(0ns).has_value());
    shmq::Queue::unlink(name);
}

TEST_CASE("C++: a topic publishes once to each group; open_group throws for an unknown group") {
    std::string name = testing::unique_name("cpptopic");
    shmq_params p = shmq::default_params();
    p.max_groups = 2;
    shmq::Queue t = shmq::Queue::create(name, p);
    REQUIRE(t.add_group("email") == SHMQ_OK);
    REQUIRE(t.add_group("inventory") == SHMQ_OK);
    CHECK(t.add_group("email") == SHMQ_EEXIST);
    shmq::Queue email = shmq::Queue::open_group(name, "email");
    shmq::Queue inv = shmq::Queue::open_group(name, "inventory");
    REQUIRE(t.send("order", 0ns) == SHMQ_OK);
    for (shmq::Queue *g : {&email, &inv}) {
        auto m = g->recv(0ns);
        REQUIRE(m.has_value());
        CHECK(m->data() == "order");
        CHECK(m->ack() == SHMQ_OK);
    }
    try {
        shmq::Queue::open_group(name, "analytics");
        FAIL("expected shmq::Error");
    } catch (const shmq::Error &e) {
        CHECK(e.code() == SHMQ_ENOTFOUND);
    }
    shmq::Queue::unlink(name);
}

TEST_CASE("C++: flush and sync (a memory queue: at once; a DISK queue: flushed)") {
    std::string name = testing::unique_name("cppsync");
    shmq::Queue q = shmq::Queue::create(name);
    CHECK(q.flush() == SHMQ_OK);
    CHECK(q.sync(0ns) == SHMQ_OK);
    shmq::Queue::unlink(name);
    shmq_params p = shmq::default_params();
    p.durability = SHMQ_DURABILITY_DISK;
    shmq::Queue d = shmq::Queue::create(name, p);
    REQUIRE(d.send("hello", 0ns) == SHMQ_OK);
    CHECK(d.sync(1s) == SHMQ_OK);
    CHECK(d.stats().flushes == 1);
    CHECK(d.flush() == SHMQ_OK);
    CHECK(d.stats().flushes == 2);
    shmq::Queue::unlink(name);
}
