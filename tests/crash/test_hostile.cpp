// A hostile client scribbles over a segment's slots, rings and client table
// while honest producers and consumers run: they may lose the messages it
// broke, but none of them crashes or hangs, and recovery and stats still work.
#include "support.hpp"

#include "daemon/harness.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <random>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace testing;

namespace {

constexpr int64_t kMs = 1000000;

// Honest loops run for at most this long (or their count), whichever is first.
bool time_left(const std::chrono::steady_clock::time_point &end) { return std::chrono::steady_clock::now() < end; }
auto two_seconds() { return std::chrono::steady_clock::now() + std::chrono::seconds(2); }

// Honest children get an alarm: a hang becomes SIGALRM, which fails the test.
int honest_producer(const std::string &name) {
    alarm(30);
    shmq_queue *q = open_queue(name);
    if (q == nullptr) return 10;
    auto end = two_seconds();
    for (int i = 0; i < 20000 && time_left(end); ++i) shmq_send(q, &i, sizeof i, 5 * kMs);
    shmq_close(q);
    return 0;
}

int honest_consumer(const std::string &name) {
    alarm(30);
    shmq_queue *q = open_queue(name);
    if (q == nullptr) return 10;
    auto end = two_seconds();
    for (int i = 0; i < 20000 && time_left(end); ++i) {
        shmq_msg m;
        int rc = shmq_recv(q, &m, 5 * kMs);
        if (rc == SHMQ_OK && m.len <= 64) shmq_ack(q, &m);
        if (rc == SHMQ_OK && m.len > 64) return 11; // would be out of bounds: must never happen
    }
    shmq_close(q);
    return 0;
}

// Write random words at random places past the header, many times.
int hostile(const std::string &path, unsigned seed) {
    int fd = open(path.c_str(), O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return 20;
    auto *base = static_cast<uint64_t *>(mmap(nullptr, size_t(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    if (base == MAP_FAILED) return 21;
    std::mt19937_64 rng(seed);
    size_t words = size_t(st.st_size) / 8, header_words = 4096 / 8;
    auto end = two_seconds();
    for (int i = 0; time_left(end); ++i) { // all the while the honest ones run
        size_t at = header_words + rng() % (words - header_words);
        __atomic_store_n(&base[at], rng() % 3 == 0 ? rng() % 64 : rng(), __ATOMIC_RELAXED);
        if (i % 64 == 0) sched_yield();
    }
    return 0;
}

} // namespace

TEST_CASE("a client writing garbage into the segment crashes and hangs no one else") {
    shmq_params p = small_params(64, 64);
    p.lease_ms = 20;
    TestQueue t("hostile", p);
    std::string path = std::string(getenv("SHMQ_DIR")) + "/shmq." + t.name;
    for (unsigned round = 0; round < 3; ++round) {
        CAPTURE(round);
        pid_t prod = spawn([&] { return honest_producer(t.name); });
        pid_t cons = spawn([&] { return honest_consumer(t.name); });
        pid_t bad = spawn([&] { return hostile(path, round); });
        CHECK(wait_child(bad) == 0);
        CHECK(wait_child(prod) == 0);
        CHECK(wait_child(cons) == 0);
        shmq_recovery r;
        CHECK(shmq_recover(t.q, &r) == SHMQ_OK);
        shmq_stats s{};
        s.struct_size = sizeof s;
        CHECK(shmq_stats_get(t.q, &s) == SHMQ_OK);
    }
}

TEST_CASE("shmqd supervising a segment under attack keeps running and stops cleanly") {
    dtest::TempDir dir;
    dir.write("shmqd.toml", dtest::daemon_section(dir) + dtest::queue_section("victim", "lease_ms = 20\n"));
    dtest::Shmqd d(dir);
    REQUIRE(d.wait_ready());
    std::string path = dir.shm + "/shmq.victim";
    for (unsigned round = 0; round < 2; ++round) {
        CAPTURE(round);
        pid_t prod = spawn([&] { return honest_producer("victim"); });
        pid_t cons = spawn([&] { return honest_consumer("victim"); });
        pid_t bad = spawn([&] { return hostile(path, 100 + round); });
        CHECK(wait_child(bad) == 0);
        CHECK(wait_child(prod) == 0);
        CHECK(wait_child(cons) == 0);
        CHECK(d.running()); // the daemon survived the garbage
    }
    CHECK(d.stop() == 0);
}
