// Without shmqd, clients keep the queue working among themselves: a table
// full of dead processes' records does not lock new clients out, a retry and
// a dead consumer's lease are made ready again while a backlog lasts (not
// only when a consumer would sleep; they then queue behind the backlog), and
// a killed consumer's readiness FIFO is removed.
#include "support.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstring>
#include <dirent.h>
#include <string>
#include <time.h>

using namespace testing;

namespace {


// Work for `ns` on the CPU, as a consumer handling a message would.
void busy(int64_t ns) {
    int64_t until = mono_ns() + ns;
    while (mono_ns() < until) {
    }
}

shmq_stats stats_of(shmq_queue *q) {
    shmq_stats s{};
    s.struct_size = sizeof s;
    shmq_stats_get(q, &s);
    return s;
}

// A child that attaches, does `then`, and dies by SIGKILL.
void die_attached(const std::string &name, const std::function<void(shmq_queue *)> &then) {
    pid_t pid = spawn([&] {
        shmq_queue *q = open_queue(name);
        if (q == nullptr) return 1;
        then(q);
        raise(SIGKILL);
        return 2;
    });
    REQUIRE(wait_child(pid) == -SIGKILL);
}

int fifo_count(const std::string &name) {
    int n = 0;
    std::string prefix = ".shmq." + name + ".fd.";
    DIR *d = opendir(getenv("SHMQ_DIR"));
    while (dirent *e = readdir(d)) n += std::string(e->d_name).rfind(prefix, 0) == 0;
    closedir(d);
    return n;
}

} // namespace

TEST_CASE("a client table full of dead processes lets a new client in, with no daemon and no recover call") {
    shmq_params p = small_params(8);
    p.max_clients = 4;
    TestQueue t("fulldead", p);
    REQUIRE(shmq_send(t.q, "m", 1, 0) == SHMQ_OK);
    die_attached(t.name, [](shmq_queue *q) {
        shmq_msg m;
        shmq_recv(q, &m, 0); // dies holding the lease
    });
    for (int i = 0; i < 2; ++i) die_attached(t.name, [](shmq_queue *) {});
    pid_t pid = spawn([&] {
        shmq_queue *q = open_queue(t.name); // the table holds us and three dead records
        if (q == nullptr) return 1;
        shmq_msg m;
        if (shmq_recv(q, &m, 0) != SHMQ_OK || m.attempt != 2) return 2; // the dead one's lease came back
        return shmq_ack(q, &m) == SHMQ_OK ? 0 : 3;
    });
    CHECK(wait_child(pid) == 0);
}

// Take the backlog with `work_ns` of work per message; returns after how many
// messages `happened` first held (-1: never).
template <class F> int drain_until(shmq_queue *q, int64_t work_ns, F &&happened) {
    shmq_msg m;
    int taken = 0, at = -1;
    while (shmq_recv(q, &m, 0) == SHMQ_OK) { // never sleeps: the backlog is always there
        REQUIRE(shmq_ack(q, &m) == SHMQ_OK);
        ++taken;
        busy(work_ns);
        if (at < 0 && taken % 16 == 0 && happened()) at = taken;
    }
    return at;
}

TEST_CASE("a retry falls due and is made ready while a backlog lasts, not after it") {
    TestQueue t("backlogretry", small_params(4096));
    REQUIRE(shmq_send(t.q, "retry", 5, 0) == SHMQ_OK);
    shmq_msg m;
    REQUIRE(shmq_recv(t.q, &m, 0) == SHMQ_OK);
    REQUIRE(shmq_nack(t.q, &m, 5 * 1000000LL) == SHMQ_OK); // due in 5 ms
    const int backlog = 3000;
    for (int i = 0; i < backlog; ++i) REQUIRE(shmq_send(t.q, &i, sizeof i, 0) == SHMQ_OK);
    // 3000 x 20 us = 60 ms of work, far past the 5 ms.
    int at = drain_until(t.q, 20000, [&] { return stats_of(t.q).delayed == 0; });
    CHECK(at >= 0);
    CHECK(at < backlog / 2);
}

TEST_CASE("a dead consumer's lease is reclaimed while a backlog lasts") {
    TestQueue t("backlogdead", small_params(4096));
    REQUIRE(shmq_send(t.q, "held", 4, 0) == SHMQ_OK);
    die_attached(t.name, [](shmq_queue *q) {
        shmq_msg m;
        shmq_recv(q, &m, 0);
    });
    const int backlog = 3000;
    for (int i = 0; i < backlog; ++i) REQUIRE(shmq_send(t.q, &i, sizeof i, 0) == SHMQ_OK);
    // 300 ms of work: clients look for dead clients every 100 ms.
    int at = drain_until(t.q, 100000, [&] { return stats_of(t.q).reclaimed == 1; });
    CHECK(at >= 0);
    CHECK(at < backlog / 2);
}

TEST_CASE("a consumer killed while waiting on its readiness fd leaves no FIFO behind once recovered") {
    TestQueue t("fifo");
    die_attached(t.name, [](shmq_queue *q) {
        int fd = -1;
        shmq_msg m;
        if (shmq_ready_fd(q, &fd) == SHMQ_OK) shmq_recv(q, &m, 0); // arms the fd
    });
    CHECK(fifo_count(t.name) == 1);
    shmq_recovery r{};
    REQUIRE(shmq_recover(t.q, &r) == SHMQ_OK);
    CHECK(r.dead_clients == 1);
    CHECK(fifo_count(t.name) == 0);
}
