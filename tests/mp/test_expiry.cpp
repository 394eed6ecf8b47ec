// Expiry without shmqd, with real processes: a producer process sends one
// message that expires and one that does not, and dies; a consumer in
// another process never gets the expired one (its pop dead-letters it as
// expired), gets the other, and the expired one stays DEAD for shmqd.
#include "support.hpp"

#include <doctest/doctest.h>

#include <csignal>
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

// A child that sends "short" (ttl 50 ms) then "long" (ttl 60 s), reports
// when the first send was called, and dies by SIGKILL.
int64_t send_two_and_die(const std::string &queue) {
    Pipe out;
    pid_t pid = spawn([&] {
        shmq_queue *q = open_queue(queue);
        shmq_send_opts o;
        shmq_send_opts_init(&o);
        int64_t before = mono_ns();
        o.ttl_ns = 50 * kMs;
        if (q == nullptr || shmq_send_ex(q, "short", 5, &o, nullptr, 0) != SHMQ_OK) return 90;
        o.ttl_ns = 60000 * kMs;
        if (shmq_send_ex(q, "long", 4, &o, nullptr, 0) != SHMQ_OK) return 91;
        out.put(&before, sizeof before);
        raise(SIGKILL);
        return 92;
    });
    int64_t before = 0;
    REQUIRE(out.get(&before, sizeof before));
    REQUIRE(wait_child(pid) == -SIGKILL);
    return before;
}

} // namespace

TEST_CASE("without shmqd: an expired message from a dead producer is never delivered, the other is") {
    TestQueue t("ttl_mp", small_params(4));
    int64_t sent = send_two_and_die(t.name);
    // Let the short ttl run out (waiting for a time, not for another process).
    while (mono_ns() - sent < 100 * kMs) {
        timespec ts{0, 5 * kMs};
        nanosleep(&ts, nullptr);
    }
    Pipe result;
    pid_t consumer = spawn([&] {
        shmq_queue *q = open_queue(t.name);
        shmq_msg m;
        if (q == nullptr || shmq_recv(q, &m, 5000 * kMs) != SHMQ_OK) return 80;
        std::string got(static_cast<const char *>(m.data), m.len);
        if (shmq_ack(q, &m) != SHMQ_OK) return 81;
        int more = shmq_recv(q, &m, 0);
        result.put(got.data(), got.size());
        shmq_close(q);
        return more == SHMQ_EEMPTY ? 0 : 82;
    });
    char got[8] = {};
    REQUIRE(result.get(got, 4));
    CHECK(std::string(got) == "long");
    CHECK(wait_child(consumer) == 0);
    shmq_stats s = stats_of(t.q);
    CHECK(s.dead == 1); // kept for shmqd's dead-letter store
    CHECK(s.expired == 1);
    CHECK(s.delivered == 1);
    CHECK(s.acked == 1);
}
