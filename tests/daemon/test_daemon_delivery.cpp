// Delivery under shmqd: a consumer killed with SIGKILL loses its lease within
// a tick, a stopped one only by its deadline, and nacked messages come back
// after delays that grow, are capped, and stay within the jitter's bounds.
#include "harness.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace dtest;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kSecond = 1000000000LL;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// A child that leases one message, reports its id on `out`, then waits for a
// byte on `go` and acks: its exit code is the ack's result.
int lease_then_ack(const std::string &queue, testing::Pipe &out, testing::Pipe &go) {
    shmq_queue *q = open_queue(queue);
    shmq_msg m;
    if (q == nullptr || shmq_recv(q, &m, 5 * kSecond) != SHMQ_OK) return 90;
    out.put(&m.id, sizeof m.id);
    char c;
    if (!go.get(&c, 1)) return 91;
    return shmq_ack(q, &m);
}

} // namespace

TEST_CASE("a consumer killed with SIGKILL: its message is redelivered within a tick or two, attempt 2") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "lease_ms = 60000\nbackoff_base_ms = 0\n"
                                                                     "backoff_cap_ms = 0"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    REQUIRE(shmq_send(q, "job", 3, 0) == SHMQ_OK);
    testing::Pipe out, go;
    pid_t child = testing::spawn([&] { return lease_then_ack("q", out, go); });
    uint64_t id = 0;
    REQUIRE(out.get(&id, sizeof id));
    kill(child, SIGKILL);
    CHECK(testing::wait_child(child) == -SIGKILL);
    auto t0 = Clock::now(); // the lease is 60 s: only the death can bring it back this soon
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK);
    double waited = ms_since(t0);
    MESSAGE("redelivered " << waited << " ms after the kill");
    CHECK(waited < 500);
    CHECK(m.id == id);
    CHECK(m.attempt == 2);
    CHECK(shmq_ack(q, &m) == SHMQ_OK);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("a stopped consumer keeps its lease until the deadline; after SIGCONT its ack is SHMQ_ELEASELOST") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q", "lease_ms = 300\nbackoff_base_ms = 0\n"
                                                                     "backoff_cap_ms = 0"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    REQUIRE(shmq_send(q, "job", 3, 0) == SHMQ_OK);
    testing::Pipe out, go;
    auto leased_at = Clock::now();
    pid_t child = testing::spawn([&] { return lease_then_ack("q", out, go); });
    uint64_t id = 0;
    REQUIRE(out.get(&id, sizeof id));
    kill(child, SIGSTOP);
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 5 * kSecond) == SHMQ_OK); // another consumer gets it
    double waited = ms_since(leased_at);
    MESSAGE("taken over " << waited << " ms after the stopped consumer leased it");
    CHECK(waited >= 290); // alive (stopped): only the deadline applies
    CHECK(m.id == id);
    CHECK(m.attempt == 2);
    CHECK(shmq_ack(q, &m) == SHMQ_OK);
    kill(child, SIGCONT);
    go.put("x", 1);
    CHECK(testing::wait_child(child) == SHMQ_ELEASELOST);
    shmq_close(q);
    CHECK(d.stop() == 0);
}

namespace {

struct Backoff {
    const char *queue;
    double low_factor; // the smallest delay, as a fraction of the backoff
};

// Nack one message `rounds` times with the queue's backoff and measure how
// long each redelivery took. Runs in its own thread with its own handle.
std::vector<double> redelivery_times(const char *queue, int rounds) {
    std::vector<double> out;
    shmq_queue *q = open_queue(queue);
    if (q == nullptr || shmq_send(q, "retry me", 8, 0) != SHMQ_OK) return out;
    shmq_msg m;
    if (shmq_recv(q, &m, 5 * kSecond) != SHMQ_OK) return out;
    for (int i = 0; i < rounds; ++i) {
        auto t0 = Clock::now();
        if (shmq_nack(q, &m, -1) != SHMQ_OK || shmq_recv(q, &m, 5 * kSecond) != SHMQ_OK) break;
        out.push_back(ms_since(t0));
    }
    shmq_ack(q, &m);
    shmq_close(q);
    return out;
}

} // namespace

TEST_CASE("backoff: delays grow, are capped, and stay within the jitter's bounds") {
    const double base = 50, cap = 200, slack = 150; // slack: a tick, scheduling, sanitizers
    const int rounds = 8;
    TempDir dir;
    std::string common = "backoff_base_ms = 50\nbackoff_cap_ms = 200\nmax_attempts = 20\nlease_ms = 60000\n";
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("none", common + "jitter = \"none\"") +
                                queue_section("full", common + "jitter = \"full\"") +
                                queue_section("equal", common + "jitter = \"equal\""));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    const Backoff kinds[] = {{"none", 1.0}, {"full", 0.0}, {"equal", 0.5}};
    std::vector<double> times[3];
    std::vector<std::thread> threads;
    for (int k = 0; k < 3; ++k) threads.emplace_back([&, k] { times[k] = redelivery_times(kinds[k].queue, rounds); });
    for (auto &t : threads) t.join();
    for (int k = 0; k < 3; ++k) {
        INFO("jitter " << kinds[k].queue);
        REQUIRE(times[k].size() == size_t(rounds));
        bool below_max = false;
        for (int i = 0; i < rounds; ++i) {
            double d_ms = std::min(cap, base * double(1 << i)); // attempt i+1
            INFO("round " << i << ": " << times[k][i] << " ms, backoff " << d_ms);
            CHECK(times[k][i] >= d_ms * kinds[k].low_factor - 2);
            CHECK(times[k][i] <= d_ms + slack);
            below_max |= times[k][i] < 0.9 * d_ms;
        }
        if (kinds[k].low_factor < 1) CHECK(below_max); // jitter shows (odds of a false alarm < 1e-5)
    }
    // Without jitter: growing, then flat at the cap (uncapped would be 400, 800, ... ms).
    CHECK(times[0][1] > times[0][0]);
    CHECK(times[0][2] > times[0][1]);
    CHECK(times[0][rounds - 1] < 2 * cap);
    CHECK(d.stop() == 0);
}
