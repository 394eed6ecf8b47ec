// The _ex send calls: every form hands back the id the consumer will see, a
// delay keeps a message DELAYED (never leased early), and bad options are
// refused before anything is written.
#include "support.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

using namespace testing;

namespace {

std::string text(const shmq_msg &m) { return std::string(static_cast<const char *>(m.data), m.len); }

shmq_stats stats_of(shmq_queue *q) {
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(q, &s) == SHMQ_OK);
    return s;
}

shmq_send_opts delayed(int64_t ns) {
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.delay_ns = ns;
    return o;
}

// Lease one message (waiting up to 10 s), check its id and payload, ack it.
// Returns when it was leased (CLOCK_MONOTONIC ns).
int64_t take(shmq_queue *q, uint64_t id, const std::string &payload) {
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 10 * 1000000000LL) == SHMQ_OK);
    int64_t at = mono_ns();
    CHECK(m.id == id);
    CHECK(text(m) == payload);
    CHECK(shmq_ack(q, &m) == SHMQ_OK);
    return at;
}

} // namespace

TEST_CASE("send_ex, send_batch_ex and commit_ex return the ids that consumers see") {
    TestQueue t("ids", small_params(16));
    uint64_t a = 0, b[3] = {}, c = 0;
    REQUIRE(shmq_send_ex(t.q, "a", 1, nullptr, &a, 0) == SHMQ_OK);
    shmq_iov iov[3] = {{"b0", 2}, {"b1", 2}, {"b2", 2}};
    size_t sent = 0;
    REQUIRE(shmq_send_batch_ex(t.q, iov, 3, nullptr, b, &sent, 0) == SHMQ_OK);
    CHECK(sent == 3);
    shmq_reservation r;
    REQUIRE(shmq_reserve(t.q, &r, 0) == SHMQ_OK);
    std::memcpy(r.data, "c", 1);
    REQUIRE(shmq_commit_ex(t.q, &r, 1, nullptr, &c) == SHMQ_OK);
    REQUIRE(shmq_send(t.q, "d", 1, 0) == SHMQ_OK); // the old call still works, no id out

    take(t.q, a, "a");
    for (int k = 0; k < 3; ++k) take(t.q, b[k], "b" + std::to_string(k));
    take(t.q, c, "c");
    CHECK(a != 0);
    CHECK(b[0] > a);
    CHECK(c > b[2]);
}

TEST_CASE("a batch that stops part-way gives the ids of the messages it sent") {
    shmq_params p = small_params(2);
    p.overflow = SHMQ_OVERFLOW_FAIL;
    TestQueue t("ids_part", p);
    shmq_iov iov[3] = {{"x", 1}, {"y", 1}, {"z", 1}};
    uint64_t ids[3] = {0, 0, 777};
    size_t sent = 9;
    CHECK(shmq_send_batch_ex(t.q, iov, 3, nullptr, ids, &sent, 0) == SHMQ_EFULL);
    CHECK(sent == 2);
    CHECK(ids[2] == 777); // not written for the message that was not sent
    take(t.q, ids[0], "x");
    take(t.q, ids[1], "y");
}

TEST_CASE("bad send options are refused before anything is claimed or written") {
    TestQueue t("bad_opts", small_params(4));
    uint64_t id = 0;
    shmq_send_opts o = delayed(-1);
    CHECK(shmq_send_ex(t.q, "x", 1, &o, &id, 0) == SHMQ_EINVAL);
    o = delayed(SHMQ_MAX_DELAY_NS + 1);
    CHECK(shmq_send_ex(t.q, "x", 1, &o, &id, 0) == SHMQ_ERANGE);
    CHECK(std::string(shmq_strerror(SHMQ_ERANGE)).find("delay") != std::string::npos);
    o = delayed(0);
    o.struct_size = 4; // a struct older than its first field
    CHECK(shmq_send_ex(t.q, "x", 1, &o, &id, 0) == SHMQ_EINVAL);
    o = delayed(0);
    o.flags = 2; // no such flag
    CHECK(shmq_send_ex(t.q, "x", 1, &o, &id, 0) == SHMQ_EINVAL);
    o = delayed(INT64_MAX);
    shmq_iov iov[1] = {{"x", 1}};
    size_t sent = 9;
    CHECK(shmq_send_batch_ex(t.q, iov, 1, &o, nullptr, &sent, 0) == SHMQ_ERANGE);
    CHECK(sent == 0);
    CHECK(shmq_send_ex(nullptr, "x", 1, nullptr, &id, 0) == SHMQ_EINVAL);
    CHECK(id == 0);
    shmq_stats s = stats_of(t.q);
    CHECK(s.free == 4); // nothing half-written
    CHECK(s.enqueued == 0);

    // A refused commit leaves the reservation valid.
    shmq_reservation r;
    REQUIRE(shmq_reserve(t.q, &r, 0) == SHMQ_OK);
    std::memcpy(r.data, "r", 1);
    CHECK(shmq_commit_ex(t.q, &r, 1, &o, &id) == SHMQ_ERANGE);
    REQUIRE(shmq_commit_ex(t.q, &r, 1, nullptr, &id) == SHMQ_OK);
    take(t.q, id, "r");
}

TEST_CASE("a delayed message is DELAYED, not leased before its time, then delivered") {
    TestQueue t("delay", small_params(8));
    const int64_t delay = 200 * 1000000LL;
    shmq_send_opts o = delayed(delay);
    uint64_t id = 0;
    int64_t sent_at = mono_ns();
    REQUIRE(shmq_send_ex(t.q, "later", 5, &o, &id, 0) == SHMQ_OK);
    REQUIRE(shmq_send(t.q, "now", 3, 0) == SHMQ_OK);
    shmq_stats s = stats_of(t.q);
    CHECK(s.delayed == 1);
    CHECK(s.ready == 1);
    CHECK(s.enqueued == 2);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    CHECK(text(m) == "now"); // the later one does not block the queue
    REQUIRE(shmq_ack(t.q, &m) == SHMQ_OK);
    // Leased early or not at all: a recv that wins must come after the delay.
    int64_t got = 0;
    if (shmq_recv(t.q, &m, 0) == SHMQ_OK) {
        got = mono_ns();
        CHECK(m.id == id);
        CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
    } else {
        got = take(t.q, id, "later");
    }
    CHECK(got - sent_at >= delay);
    MESSAGE("delayed 200 ms, leased after ", (got - sent_at) / 1000, " us");
}

TEST_CASE("delays reach 14 days; the zero-copy and batch paths delay too") {
    TestQueue t("delay_paths", small_params(8));
    shmq_send_opts week = delayed(7 * 24 * 3600 * 1000000000LL), most = delayed(SHMQ_MAX_DELAY_NS);
    REQUIRE(shmq_send_ex(t.q, "w", 1, &week, nullptr, 0) == SHMQ_OK);
    REQUIRE(shmq_send_ex(t.q, "m", 1, &most, nullptr, 0) == SHMQ_OK);
    shmq_reservation r;
    REQUIRE(shmq_reserve(t.q, &r, 0) == SHMQ_OK);
    REQUIRE(shmq_commit_ex(t.q, &r, 0, &week, nullptr) == SHMQ_OK);
    shmq_iov iov[2] = {{"b0", 2}, {"b1", 2}};
    REQUIRE(shmq_send_batch_ex(t.q, iov, 2, &week, nullptr, nullptr, 0) == SHMQ_OK);
    CHECK(shmq_recover(t.q, nullptr) == SHMQ_OK); // not due: recovery leaves them DELAYED
    shmq_stats s = stats_of(t.q);
    CHECK(s.delayed == 5);
    shmq_msg m;
    CHECK(shmq_recv(t.q, &m, 0) == SHMQ_EEMPTY);

    const int64_t short_delay = 50 * 1000000LL;
    shmq_send_opts soon = delayed(short_delay);
    uint64_t ids[2] = {}, zc = 0;
    int64_t sent_at = mono_ns();
    REQUIRE(shmq_send_batch_ex(t.q, iov, 2, &soon, ids, nullptr, 0) == SHMQ_OK);
    REQUIRE(shmq_reserve(t.q, &r, 0) == SHMQ_OK);
    std::memcpy(r.data, "zc", 2);
    REQUIRE(shmq_commit_ex(t.q, &r, 2, &soon, &zc) == SHMQ_OK);
    std::string seen;
    for (int k = 0; k < 3; ++k) {
        REQUIRE(shmq_recv(t.q, &m, 10 * 1000000000LL) == SHMQ_OK);
        CHECK(mono_ns() - sent_at >= short_delay);
        CHECK((m.id == ids[0] || m.id == ids[1] || m.id == zc));
        seen += text(m) + " ";
        REQUIRE(shmq_ack(t.q, &m) == SHMQ_OK);
    }
    CHECK(seen.size() == 9); // b0, b1 and zc, in an order fixed by due time and then slot
    CHECK(stats_of(t.q).delayed == 5);
}
