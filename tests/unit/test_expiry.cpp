// Time to live: a message not leased within its ttl of becoming deliverable
// is dead-lettered with reason "expired" and never delivered (here by the
// consumer's pop, without shmqd); one leased in time is not touched; the
// queue's default applies when a send gives none; bad ttls are refused
// before anything is written.
#include "support.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstring>
#include <ctime>
#include <string>

using namespace testing;

namespace {

constexpr int64_t kMs = 1000000LL;

shmq_stats stats_of(shmq_queue *q) {
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(q, &s) == SHMQ_OK);
    return s;
}

shmq_send_opts with_ttl(int64_t ttl_ns, int64_t delay_ns = 0) {
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.ttl_ns = ttl_ns;
    o.delay_ns = delay_ns;
    return o;
}

// Wait until `ns` of CLOCK_MONOTONIC have passed since `from` (a wait for a
// time to pass, which is what a ttl is, not a synchronisation).
void pass(int64_t from, int64_t ns) {
    while (mono_ns() - from < ns) {
        timespec t{0, 1 * kMs};
        nanosleep(&t, nullptr);
    }
}

} // namespace

TEST_CASE("a batch send carries its ttl too: every message of the run expires, a batch lease meets none") {
    TestQueue t("ttl_batch", small_params(8));
    shmq_send_opts o = with_ttl(20 * kMs);
    shmq_iov iov[3] = {{"a", 1}, {"b", 1}, {"c", 1}};
    size_t sent = 0;
    int64_t at = mono_ns();
    REQUIRE(shmq_send_batch_ex(t.q, iov, 3, &o, nullptr, &sent, 0) == SHMQ_OK);
    REQUIRE(sent == 3);
    pass(at, 40 * kMs);
    shmq_msg m[3];
    size_t n = 9;
    CHECK(shmq_recv_batch(t.q, m, 3, &n, 0) == SHMQ_EEMPTY);
    CHECK(n == 0);
    CHECK(stats_of(t.q).expired == 3);
}

TEST_CASE("a message not leased within its ttl is never delivered: the consumer's pop dead-letters it") {
    TestQueue t("ttl_pop", small_params(4));
    shmq_send_opts o = with_ttl(20 * kMs);
    int64_t sent = mono_ns();
    REQUIRE(shmq_send_ex(t.q, "old", 3, &o, nullptr, 0) == SHMQ_OK);
    pass(sent, 40 * kMs);
    shmq_msg m;
    CHECK(shmq_recv(t.q, &m, 0) == SHMQ_EEMPTY);
    shmq_stats s = stats_of(t.q);
    CHECK(s.dead == 1);
    CHECK(s.expired == 1);
    CHECK(s.dead_lettered == 1);
    CHECK(s.ready == 0);
    CHECK(s.delivered == 0);
}

TEST_CASE("a message leased before its ttl ran out is acked as usual, after it") {
    TestQueue t("ttl_leased", small_params(4));
    shmq_send_opts o = with_ttl(30 * kMs);
    int64_t sent = mono_ns();
    REQUIRE(shmq_send_ex(t.q, "in time", 7, &o, nullptr, 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    pass(sent, 60 * kMs);
    CHECK(shmq_recover(t.q, nullptr) == SHMQ_OK); // a recovery pass does not touch a lease
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
    shmq_stats s = stats_of(t.q);
    CHECK(s.expired == 0);
    CHECK(s.acked == 1);
    CHECK(s.free == 4);
}

TEST_CASE("recovery dead-letters expired READY and DELAYED messages; a nacked retry past its ttl expires") {
    shmq_params p = small_params(4);
    p.backoff_base_ms = 0;
    p.backoff_cap_ms = 0;
    TestQueue t("ttl_recover", p);
    shmq_send_opts o = with_ttl(20 * kMs);
    int64_t sent = mono_ns();
    REQUIRE(shmq_send_ex(t.q, "ready", 5, &o, nullptr, 0) == SHMQ_OK);
    REQUIRE(shmq_send_ex(t.q, "nacked", 6, &o, nullptr, 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK); // "ready" stays READY: lease it and put it back
    shmq_msg n;
    REQUIRE(shmq_recv(t.q, &n, 0) == SHMQ_OK);
    REQUIRE(shmq_nack(t.q, &m, 0) == SHMQ_OK);
    REQUIRE(shmq_nack(t.q, &n, 500 * kMs) == SHMQ_OK); // due after its expiry
    pass(sent, 40 * kMs);
    shmq_recovery r{};
    REQUIRE(shmq_recover(t.q, &r) == SHMQ_OK);
    CHECK(r.dead_lettered == 2);
    shmq_stats s = stats_of(t.q);
    CHECK(s.dead == 2);
    CHECK(s.expired == 2);
    CHECK(s.delayed == 0);
    CHECK(s.ready == 0);
    CHECK(shmq_recv(t.q, &m, 0) == SHMQ_EEMPTY);
}

TEST_CASE("the queue's ttl_ms applies to sends without one; a message's own ttl overrides it") {
    shmq_params p = small_params(4);
    p.ttl_ms = 20;
    TestQueue t("ttl_default", p);
    shmq_params got;
    REQUIRE(shmq_get_params(t.q, &got) == SHMQ_OK);
    CHECK(got.ttl_ms == 20);
    shmq_send_opts longer = with_ttl(10000 * kMs), never = with_ttl(SHMQ_TTL_NEVER);
    int64_t sent = mono_ns();
    REQUIRE(shmq_send(t.q, "default", 7, 0) == SHMQ_OK);
    REQUIRE(shmq_send_ex(t.q, "own", 3, &longer, nullptr, 0) == SHMQ_OK);
    REQUIRE(shmq_send_ex(t.q, "never", 5, &never, nullptr, 0) == SHMQ_OK);
    pass(sent, 40 * kMs);
    for (const char *want : {"own", "never"}) {
        shmq_msg m;
        REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
        CHECK(std::string(static_cast<const char *>(m.data), m.len) == want);
        CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
    }
    CHECK(stats_of(t.q).expired == 1);
}

TEST_CASE("a ttl counts from the end of the message's delay") {
    TestQueue t("ttl_delay", small_params(4));
    // Counted from the send, it would expire (500 ms) before it is due (1 s).
    shmq_send_opts o = with_ttl(500 * kMs, 1000 * kMs);
    int64_t sent = mono_ns();
    REQUIRE(shmq_send_ex(t.q, "later", 5, &o, nullptr, 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 10000 * kMs) == SHMQ_OK);
    CHECK(mono_ns() - sent >= 1000 * kMs);
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
    CHECK(stats_of(t.q).expired == 0);
}

TEST_CASE("bad ttls are refused before anything is written; older structs are read as no ttl") {
    TestQueue t("ttl_bad", small_params(4));
    shmq_send_opts o = with_ttl(-2); // -1 is SHMQ_TTL_NEVER
    CHECK(shmq_send_ex(t.q, "x", 1, &o, nullptr, 0) == SHMQ_EINVAL);
    o = with_ttl(SHMQ_MAX_TTL_NS + 1);
    CHECK(shmq_send_ex(t.q, "x", 1, &o, nullptr, 0) == SHMQ_ERANGE);
    CHECK(std::string(shmq_strerror(SHMQ_ERANGE)).find("ttl") != std::string::npos);
    CHECK(stats_of(t.q).free == 4);
    o = with_ttl(SHMQ_MAX_TTL_NS, SHMQ_MAX_DELAY_NS); // the longest of both: not expired at once
    REQUIRE(shmq_send_ex(t.q, "far", 3, &o, nullptr, 0) == SHMQ_OK);
    CHECK(shmq_recover(t.q, nullptr) == SHMQ_OK);
    CHECK(stats_of(t.q).delayed == 1);

    // A send_opts struct from before ttl_ns: its ttl_ns is not read.
    o = with_ttl(-5);
    o.struct_size = offsetof(shmq_send_opts, ttl_ns);
    CHECK(shmq_send_ex(t.q, "old", 3, &o, nullptr, 0) == SHMQ_OK);
    shmq_send_opts small;
    std::memset(&small, 0x5a, sizeof small);
    shmq_send_opts_init_sized(&small, offsetof(shmq_send_opts, ttl_ns));
    CHECK(small.struct_size == offsetof(shmq_send_opts, ttl_ns));
    CHECK(small.ttl_ns == 0x5a5a5a5a5a5a5a5a); // not written past the caller's struct

    // Params: a ttl above 7 days is refused; 0.3's struct (no ttl_ms) is accepted.
    shmq_params p = small_params(4);
    p.ttl_ms = uint32_t(SHMQ_MAX_TTL_NS / kMs) + 1;
    shmq_queue *q = nullptr;
    std::string name = unique_name("ttl_params");
    CHECK(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_EINVAL);
    p.ttl_ms = 12345;
    p.struct_size = offsetof(shmq_params, ttl_ms);
    REQUIRE(shmq_create(name.c_str(), &p, nullptr, &q) == SHMQ_OK);
    shmq_params got;
    REQUIRE(shmq_get_params(q, &got) == SHMQ_OK);
    CHECK(got.ttl_ms == 0);
    std::memset(&got, 0x5a, sizeof got);
    REQUIRE(shmq_get_params_sized(q, &got, offsetof(shmq_params, ttl_ms)) == SHMQ_OK);
    CHECK(got.ttl_ms == 0x5a5a5a5a); // not written past the caller's struct
    CHECK(got.struct_size == offsetof(shmq_params, ttl_ms));
    CHECK(shmq_get_params_sized(q, &got, 8) == SHMQ_EINVAL);
    shmq_close(q);
    shmq_unlink(name.c_str());
}
