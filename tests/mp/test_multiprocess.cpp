// Real processes: a million messages across a process boundary, several
// producers and consumers at once, a consumer killed with SIGKILL while it
// holds leases, and a stopped consumer whose leases expire.
#include "support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <sys/mman.h>
#include <vector>

using namespace testing;

namespace {

// Memory shared with forked children, for their reports.
template <class T> T *shared_array(size_t n) {
    void *p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    return new (p) T[n]();
}

shmq_queue *open_spinning(const std::string &name) {
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    shmq_queue *q = nullptr;
    return shmq_open(name.c_str(), &o, &q) == SHMQ_OK ? q : nullptr;
}

int produce(const std::string &name, uint32_t producer, uint32_t count) {
    shmq_queue *q = open_spinning(name);
    if (q == nullptr) return 10;
    for (uint32_t i = 0; i < count; ++i) {
        uint64_t v = uint64_t(producer) << 32 | i;
        if (shmq_send(q, &v, sizeof v, 10 * 1000000000LL) != SHMQ_OK) return 11;
    }
    shmq_close(q);
    return 0;
}

constexpr int64_t kPatience = 30 * 1000000000LL; // a stuck transfer fails, it does not hang

} // namespace

TEST_CASE("one million messages from a producer process to a consumer process: all arrive, in order, none twice") {
    const uint32_t n = 1000000;
    TestQueue t("million", small_params(1024, 16));
    pid_t pid = spawn([&] { return produce(t.name, 0, n); });
    shmq_queue *c = open_spinning(t.name);
    REQUIRE(c != nullptr);
    uint32_t expected = 0, bad = 0;
    uint64_t last_id = 0;
    for (uint32_t k = 0; k < n; ++k) {
        shmq_msg m;
        if (shmq_recv(c, &m, kPatience) != SHMQ_OK) break;
        uint64_t v;
        std::memcpy(&v, m.data, sizeof v);
        if (m.len != sizeof v || uint32_t(v) != expected || m.attempt != 1 || m.id <= last_id) ++bad;
        last_id = m.id; // one producer: ids grow, so none repeats
        ++expected;
        shmq_ack(c, &m);
    }
    CHECK(expected == n);
    CHECK(bad == 0);
    CHECK(wait_child(pid) == 0);
    shmq_msg extra;
    CHECK(shmq_recv(c, &extra, 0) == SHMQ_EEMPTY);
    shmq_close(c);
}

TEST_CASE("three producers and three consumers at once: every message exactly once") {
    const uint32_t producers = 3, consumers = 3, per = 100000;
    TestQueue t("many", small_params(256, 16));
    auto *seen = shared_array<std::atomic<uint8_t>>(producers * per);
    auto *done = shared_array<std::atomic<uint32_t>>(1);
    std::vector<pid_t> kids;
    for (uint32_t p = 0; p < producers; ++p) kids.push_back(spawn([&, p] { return produce(t.name, p, per); }));
    for (uint32_t c = 0; c < consumers; ++c) {
        kids.push_back(spawn([&] {
            shmq_queue *q = open_spinning(t.name);
            if (q == nullptr) return 20;
            while (done->load() < producers * per) {
                shmq_msg m;
                int rc = shmq_recv(q, &m, 50 * 1000000LL);
                if (rc == SHMQ_ETIMEDOUT) continue;
                if (rc != SHMQ_OK) return 21;
                uint64_t v;
                std::memcpy(&v, m.data, sizeof v);
                uint64_t idx = (v >> 32) * per + uint32_t(v);
                if (idx >= producers * per) return 22;
                seen[idx].fetch_add(1);
                if (shmq_ack(q, &m) != SHMQ_OK) return 23;
                done->fetch_add(1);
            }
            shmq_close(q);
            return 0;
        }));
    }
    for (pid_t k : kids) CHECK(wait_child(k) == 0);
    uint32_t missing = 0, twice = 0;
    for (uint32_t i = 0; i < producers * per; ++i) {
        missing += seen[i].load() == 0;
        twice += seen[i].load() > 1;
    }
    CHECK(missing == 0);
    CHECK(twice == 0);
}

TEST_CASE("a consumer killed with SIGKILL while holding leases: each message comes back with attempt 2") {
    TestQueue t("killed", small_params(16));
    for (int i = 0; i < 5; ++i) REQUIRE(shmq_send(t.q, &i, sizeof i, 0) == SHMQ_OK);
    Pipe ids;
    pid_t pid = spawn([&] {
        shmq_queue *q = open_queue(t.name);
        for (int i = 0; i < 5; ++i) {
            shmq_msg m;
            if (q == nullptr || shmq_recv(q, &m, 0) != SHMQ_OK) return 1;
            ids.put(&m.id, sizeof m.id);
        }
        pause(); // holds the leases until killed
        return 2;
    });
    ids.close_write();
    std::vector<uint64_t> held(5);
    for (auto &id : held) REQUIRE(ids.get(&id, sizeof id));
    kill(pid, SIGKILL);
    CHECK(wait_child(pid) == -SIGKILL);

    shmq_recovery r{};
    REQUIRE(shmq_recover(t.q, &r) == SHMQ_OK);
    CHECK(r.dead_clients == 1);
    CHECK(r.leases_reclaimed == 5);
    for (uint64_t id : held) {
        shmq_msg m;
        REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
        CHECK(m.id == id);
        CHECK(m.attempt == 2);
        CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
    }
}

TEST_CASE("a stopped consumer is alive: only its deadline costs it the lease, and its late ack is refused") {
    shmq_params p = small_params(16);
    p.lease_ms = 100;
    TestQueue t("stopped", p);
    REQUIRE(shmq_send(t.q, "job", 3, 0) == SHMQ_OK);
    Pipe leased, go, result;
    pid_t pid = spawn([&] {
        shmq_queue *q = open_queue(t.name);
        shmq_msg m;
        if (q == nullptr || shmq_recv(q, &m, 0) != SHMQ_OK) return 1;
        leased.put("L", 1);
        char c;
        go.get(&c, 1);
        int rc = shmq_ack(q, &m);
        result.put(&rc, sizeof rc);
        shmq_close(q);
        return 0;
    });
    char c;
    REQUIRE(leased.get(&c, 1));
    kill(pid, SIGSTOP);
    shmq_recovery r{};
    REQUIRE(shmq_recover(t.q, &r) == SHMQ_OK);
    CHECK(r.dead_clients == 0); // stopped is not dead
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 5 * 1000000000LL) == SHMQ_OK); // after the deadline
    CHECK(m.attempt == 2);
    CHECK(shmq_ack(t.q, &m) == SHMQ_OK);
    kill(pid, SIGCONT);
    go.put("G", 1);
    int rc = -1;
    REQUIRE(result.get(&rc, sizeof rc));
    CHECK(rc == SHMQ_ELEASELOST);
    CHECK(wait_child(pid) == 0);
}

TEST_CASE("a sleeping consumer in another process is woken by a send") {
    TestQueue t("wake");
    Pipe ready;
    pid_t pid = spawn([&] {
        shmq_queue *q = open_queue(t.name); // spin_ns 0: goes straight to the futex
        ready.put("R", 1);
        shmq_msg m;
        if (q == nullptr || shmq_recv(q, &m, kPatience) != SHMQ_OK) return 1;
        int ok = m.len == 4 && std::memcmp(m.data, "ping", 4) == 0;
        shmq_ack(q, &m);
        return ok ? 0 : 2;
    });
    char c;
    REQUIRE(ready.get(&c, 1));
    REQUIRE(shmq_send(t.q, "ping", 4, 0) == SHMQ_OK);
    CHECK(wait_child(pid) == 0);
}
