// Send, lease, ack: payloads, ids, attempts, order and the zero-copy and batch paths.
#include "support.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <set>
#include <string>

using namespace testing;

static std::string text(const shmq_msg &m) { return std::string(static_cast<const char *>(m.data), m.len); }

TEST_CASE("a sent message is leased with its payload, a fresh id and attempt 1, then acked") {
    TestQueue t("basic");
    REQUIRE(shmq_send(t.q, "hello", 5, 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(text(m) == "hello");
    CHECK(m.attempt == 1);
    CHECK(m.id != 0);
    CHECK(m.enqueued_ns > 0);
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
    CHECK(shmq_ack(t.q, &m) == SHMQ_EINVAL); // the receipt is spent
    CHECK(shmq_recv(t.q, &m, 0) == SHMQ_EEMPTY);
}

TEST_CASE("messages come out in the order they went in, with distinct ids") {
    TestQueue t("order", small_params(64));
    for (int i = 0; i < 50; ++i) REQUIRE(shmq_send(t.q, &i, sizeof i, 0) == SHMQ_OK);
    std::set<uint64_t> ids;
    for (int i = 0; i < 50; ++i) {
        shmq_msg m;
        REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
        int v;
        std::memcpy(&v, m.data, sizeof v);
        CHECK(v == i);
        ids.insert(m.id);
        REQUIRE(shmq_ack(t.q, &m) == SHMQ_OK);
    }
    CHECK(ids.size() == 50);
}

TEST_CASE("the queue cycles through its slots many times without losing one") {
    TestQueue t("cycle", small_params(4));
    for (int i = 0; i < 10000; ++i) {
        REQUIRE(shmq_send(t.q, &i, sizeof i, 0) == SHMQ_OK);
        shmq_msg m;
        REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
        int v;
        std::memcpy(&v, m.data, sizeof v);
        REQUIRE(v == i);
        REQUIRE(shmq_ack(t.q, &m) == SHMQ_OK);
    }
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(t.q, &s) == SHMQ_OK);
    CHECK(s.free == 4);
    CHECK(s.enqueued == 10000);
    CHECK(s.acked == 10000);
}

TEST_CASE("empty payloads and payloads of exactly the slot size are fine; one byte more is refused") {
    TestQueue t("sizes", small_params(4, 100));
    std::string full(100, 'x');
    CHECK(shmq_send(t.q, nullptr, 0, 0) == SHMQ_OK);
    CHECK(shmq_send(t.q, full.data(), 100, 0) == SHMQ_OK);
    CHECK(shmq_send(t.q, full.data(), 101, 0) == SHMQ_ETOOBIG);
    CHECK(shmq_send(t.q, nullptr, 3, 0) == SHMQ_EINVAL);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(m.len == 0);
    REQUIRE(shmq_ack(t.q, &m) == SHMQ_OK);
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(text(m) == full);
    REQUIRE(shmq_ack(t.q, &m) == SHMQ_OK);
}

TEST_CASE("zero-copy: reserve, write in place, commit; abort gives the slot back") {
    TestQueue t("zerocopy", small_params(2, 32));
    shmq_reservation r;
    REQUIRE(shmq_reserve(t.q, &r, 0) == SHMQ_OK);
    CHECK(r.capacity == 32);
    std::memcpy(r.data, "in place", 8);
    CHECK(shmq_commit(t.q, &r, 33) == SHMQ_ETOOBIG);
    REQUIRE(shmq_commit(t.q, &r, 8) == SHMQ_OK);
    CHECK(shmq_commit(t.q, &r, 8) == SHMQ_EINVAL); // already committed

    REQUIRE(shmq_reserve(t.q, &r, 0) == SHMQ_OK);
    shmq_reservation r2;
    CHECK(shmq_reserve(t.q, &r2, 0) == SHMQ_EFULL); // 2 slots: one ready, one reserved
    REQUIRE(shmq_abort(t.q, &r) == SHMQ_OK);
    REQUIRE(shmq_reserve(t.q, &r2, 0) == SHMQ_OK);
    REQUIRE(shmq_abort(t.q, &r2) == SHMQ_OK);

    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(text(m) == "in place");
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
    CHECK(shmq_recv(t.q, &m, 0) == SHMQ_EEMPTY);
}

TEST_CASE("batch send and batch receive") {
    TestQueue t("batch", small_params(8));
    const char *words[] = {"a", "bb", "ccc", "dddd", "eeeee"};
    shmq_iov iov[5];
    for (int i = 0; i < 5; ++i) iov[i] = shmq_iov{words[i], std::strlen(words[i])};
    size_t sent = 0;
    REQUIRE(shmq_send_batch(t.q, iov, 5, &sent, 0) == SHMQ_OK);
    CHECK(sent == 5);
    shmq_msg m[8];
    size_t n = 0;
    REQUIRE(shmq_recv_batch(t.q, m, 8, &n, 0) == SHMQ_OK);
    REQUIRE(n == 5);
    for (int i = 0; i < 5; ++i) {
        CHECK(text(m[i]) == words[i]);
        CHECK(shmq_ack(t.q, &m[i]) == SHMQ_OK);
    }
    // A batch larger than the free space stops where the queue is full.
    shmq_iov many[10];
    for (auto &v : many) v = shmq_iov{"x", 1};
    shmq_params p;
    REQUIRE(shmq_get_params(t.q, &p) == SHMQ_OK);
    CHECK(shmq_send_batch(t.q, many, 10, &sent, 0) == SHMQ_EFULL);
    CHECK(sent == p.slot_count);
}

TEST_CASE("ack_batch acks each message on its own: a lost lease fails only its own entry") {
    TestQueue t("ackbatch");
    for (int i = 0; i < 3; ++i) REQUIRE(shmq_send(t.q, &i, sizeof i, 0) == SHMQ_OK);
    shmq_msg m[3];
    size_t n = 0;
    REQUIRE(shmq_recv_batch(t.q, m, 3, &n, 0) == SHMQ_OK);
    REQUIRE(n == 3);
    shmq_msg spent = m[1];
    REQUIRE(shmq_ack(t.q, &spent) == SHMQ_OK); // m[1]'s lease is now over
    int results[3] = {-1, -1, -1};
    CHECK(shmq_ack_batch(t.q, m, 3, results) == SHMQ_ELEASELOST);
    CHECK(results[0] == SHMQ_OK);
    CHECK(results[1] == SHMQ_ELEASELOST);
    CHECK(results[2] == SHMQ_OK);
    CHECK(shmq_ack_batch(t.q, m, 3, nullptr) == SHMQ_EINVAL); // all spent now
    CHECK(shmq_ack_batch(t.q, nullptr, 0, nullptr) == SHMQ_OK);
    CHECK(shmq_ack_batch(nullptr, m, 3, results) == SHMQ_EINVAL);
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(t.q, &s) == SHMQ_OK);
    CHECK(s.acked == 3);
    CHECK(s.free == s.slot_count);
}
