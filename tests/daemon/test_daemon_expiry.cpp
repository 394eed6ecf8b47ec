// Expiry under shmqd: a message not leased within its ttl (its own, or the
// queue's ttl_ms from the config) lands in the dead-letter store with
// reason "expired", its slot freed, counted in stats and metrics; a message
// leased before its ttl ran out is acked as usual, even after it.
#include "harness.hpp"
#include "store/dead_letters.hpp"
#include "store/fsutil.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstring>

using namespace dtest;
namespace store = shmq::store;

namespace {

constexpr int64_t kMs = 1000000LL;

// A producer process sends `payload` with `ttl_ns` (0: the queue's) and dies
// by SIGKILL. Returns the id.
uint64_t send_and_die(const std::string &queue, const char *payload, int64_t ttl_ns) {
    testing::Pipe out;
    pid_t pid = testing::spawn([&] {
        shmq_queue *q = open_queue(queue);
        shmq_send_opts o;
        shmq_send_opts_init(&o);
        o.ttl_ns = ttl_ns;
        uint64_t id = 0;
        if (q == nullptr || shmq_send_ex(q, payload, strlen(payload), &o, &id, 0) != SHMQ_OK) return 90;
        out.put(&id, sizeof id);
        raise(SIGKILL);
        return 91;
    });
    uint64_t id = 0;
    REQUIRE(out.get(&id, sizeof id));
    REQUIRE(testing::wait_child(pid) == -SIGKILL);
    return id;
}

bool expired_in_store(const TempDir &dir, const std::string &queue, uint64_t id) {
    for (const auto &i : dead_letters(dir, queue))
        if (i.meta.id == id) return i.meta.reason == store::DeadReason::Expired;
    return false;
}

} // namespace

TEST_CASE("with shmqd: a message not leased within its ttl lands in the dead-letter store as expired; one "
          "leased in time does not") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    uint64_t kept = send_and_die("q", "kept", 60000 * kMs);
    uint64_t gone = send_and_die("q", "gone", 100 * kMs);
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 5000 * kMs) == SHMQ_OK); // FIFO: "kept", leased in time
    CHECK(m.id == kept);
    // Held while the other expires and shmqd moves it to the store.
    REQUIRE(eventually([&] { return expired_in_store(dir, "q", gone); }));
    CHECK(shmq_ack(q, &m) == SHMQ_OK);
    CHECK(dead_letters(dir, "q").size() == 1);
    REQUIRE(eventually([&] { return stats_of(q).free == stats_of(q).slot_count; }));
    shmq_stats s = stats_of(q);
    CHECK(s.expired == 1);
    CHECK(s.delivered == 1);
    std::string body;
    REQUIRE(eventually([&] {
        return http_get(d.metrics_port(), "/metrics", &body) == 200 &&
               metric(body, "shmq_messages_expired_total{queue=\"q\"}") == 1 &&
               metric(body, "shmq_messages_dead_lettered_total{queue=\"q\",reason=\"expired\"}") == 1;
    }));
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("with shmqd: the queue's ttl_ms from the config applies to sends without a ttl") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "ttl_ms = 50"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    shmq_params p;
    REQUIRE(shmq_get_params(q, &p) == SHMQ_OK);
    CHECK(p.ttl_ms == 50);
    uint64_t gone = send_and_die("q", "default ttl", 0);
    REQUIRE(eventually([&] { return expired_in_store(dir, "q", gone); }));
    shmq_msg m;
    CHECK(shmq_recv(q, &m, 0) == SHMQ_EEMPTY);
    shmq_close(q);
    CHECK(d.stop() == 0);
}
