// Delayed send between processes, with no shmqd: a consumer process already
// asleep in recv is woken for a delayed message when it falls due (not
// before), although the producer that sent it died right after the send.
// The consumer's dead-client timer is turned off, so only the producer's
// wake-up can make it look at the new due time (without it: 20 s timeout).
#include "support.hpp"

#include "queue.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <unistd.h>

using namespace testing;

namespace {

constexpr int64_t kMs = 1000000LL;

uint32_t sleepers(shmq_queue *q) {
    shmq_client_stats c[8];
    shmq_stats s{};
    s.struct_size = sizeof s;
    s.client = c;
    s.client_cap = 8;
    REQUIRE(shmq_stats_get(q, &s) == SHMQ_OK);
    uint32_t n = 0;
    for (uint32_t i = 0; i < s.clients && i < 8; ++i) n += c[i].sleeping;
    return n;
}

// A consumer process asleep in recv with no timer but due times (its
// dead-client timer off); it sends back when and what it leased. Returns
// once it sleeps.
pid_t sleeping_consumer(TestQueue &t, Pipe &got) {
    pid_t pid = spawn([&] {
        shmq::detail::g_dead_check_ms = 3600 * 1000; // no timer but the due time
        shmq_queue *q = open_queue(t.name);
        shmq_msg m;
        if (q == nullptr || shmq_recv(q, &m, 20 * 1000 * kMs) != SHMQ_OK) return 90;
        int64_t at = mono_ns();
        got.put(&at, sizeof at);
        got.put(&m.id, sizeof m.id);
        return shmq_ack(q, &m);
    });
    int64_t deadline = mono_ns() + 10 * 1000 * kMs;
    while (sleepers(t.q) == 0 && mono_ns() < deadline) usleep(1000); // polls a condition
    REQUIRE(sleepers(t.q) == 1);
    return pid;
}

} // namespace

TEST_CASE("no daemon: a sleeping consumer process gets a delayed message on time from a producer killed after it") {
    TestQueue t("delay_mp");
    Pipe got;
    pid_t consumer = sleeping_consumer(t, got); // asleep before the send

    Pipe sent;
    const int64_t delay = 150 * kMs;
    pid_t producer = spawn([&] {
        shmq_queue *q = open_queue(t.name);
        shmq_send_opts o;
        shmq_send_opts_init(&o);
        o.delay_ns = delay;
        int64_t before = mono_ns();
        uint64_t id = 0;
        if (q == nullptr || shmq_send_ex(q, "later", 5, &o, &id, 0) != SHMQ_OK) return 90;
        sent.put(&before, sizeof before);
        sent.put(&id, sizeof id);
        raise(SIGKILL);
        return 91;
    });
    int64_t before = 0, at = 0;
    uint64_t id = 0, leased_id = 0;
    REQUIRE(sent.get(&before, sizeof before));
    REQUIRE(sent.get(&id, sizeof id));
    CHECK(wait_child(producer) == -SIGKILL);
    REQUIRE(got.get(&at, sizeof at));
    REQUIRE(got.get(&leased_id, sizeof leased_id));
    CHECK(wait_child(consumer) == SHMQ_OK);
    CHECK(leased_id == id);
    CHECK(at >= before + delay);
    double late_ms = double(at - before - delay) / double(kMs);
    MESSAGE("leased " << late_ms << " ms after its time, no daemon");
    CHECK(late_ms < 1000); // generous on a shared machine; ~1-2 ms when idle
}

TEST_CASE("no daemon: a nack with a delay wakes another consumer process already asleep, on time") {
    // The same shape for a retry: B holds the message, A falls asleep, B
    // nacks it with a delay and is killed. Only B's nack can tell A the new
    // due time (before the fix A slept until its 20 s timeout).
    TestQueue t("nack_mp");
    REQUIRE(shmq_send(t.q, "again", 5, 0) == SHMQ_OK);
    Pipe leased, go, nacked;
    const int64_t delay = 150 * kMs;
    pid_t b = spawn([&] {
        shmq_queue *q = open_queue(t.name);
        shmq_msg m;
        if (q == nullptr || shmq_recv(q, &m, 0) != SHMQ_OK) return 90;
        leased.put(&m.id, sizeof m.id);
        char c;
        if (!go.get(&c, 1)) return 91;
        int64_t before = mono_ns();
        if (shmq_nack(q, &m, delay) != SHMQ_OK) return 92;
        nacked.put(&before, sizeof before);
        raise(SIGKILL);
        return 93;
    });
    uint64_t id = 0;
    REQUIRE(leased.get(&id, sizeof id));
    Pipe got;
    pid_t a = sleeping_consumer(t, got);
    go.put("g", 1);
    int64_t before = 0, at = 0;
    uint64_t leased_id = 0;
    REQUIRE(nacked.get(&before, sizeof before));
    CHECK(wait_child(b) == -SIGKILL);
    REQUIRE(got.get(&at, sizeof at));
    REQUIRE(got.get(&leased_id, sizeof leased_id));
    CHECK(wait_child(a) == SHMQ_OK);
    CHECK(leased_id == id);
    CHECK(at >= before + delay);
    double late_ms = double(at - before - delay) / double(kMs);
    MESSAGE("retry leased " << late_ms << " ms after its time, no daemon");
    CHECK(late_ms < 1000);
}
