// Delayed send under shmqd: a producer process sends with a delay and exits;
// shmqd's tick makes the message ready on time (not before, a tick or so
// after), also when shmqd is killed and restarted while it waits.
#include "harness.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstring>
#include <memory>

using namespace dtest;

namespace {

constexpr int64_t kMs = 1000000LL;

// A child that sends `payload` with `delay_ns`, reports when it sent (after
// the call returned, CLOCK_MONOTONIC ns) and the id, then dies by SIGKILL.
void send_delayed_and_die(const std::string &queue, const char *payload, int64_t delay_ns, int64_t *sent_before,
                          uint64_t *id) {
    testing::Pipe out;
    pid_t pid = testing::spawn([&] {
        shmq_queue *q = open_queue(queue);
        shmq_send_opts o;
        shmq_send_opts_init(&o);
        o.delay_ns = delay_ns;
        int64_t before = testing::mono_ns();
        uint64_t got = 0;
        if (q == nullptr || shmq_send_ex(q, payload, strlen(payload), &o, &got, 0) != SHMQ_OK) return 90;
        out.put(&before, sizeof before);
        out.put(&got, sizeof got);
        raise(SIGKILL);
        return 91;
    });
    REQUIRE(out.get(sent_before, sizeof *sent_before));
    REQUIRE(out.get(id, sizeof *id));
    REQUIRE(testing::wait_child(pid) == -SIGKILL);
}

// Lease one message; CHECK it is `id` and came no earlier than `due`.
// Returns how late it was, in ms.
double lease_due(shmq_queue *q, uint64_t id, int64_t due) {
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 10 * 1000 * kMs) == SHMQ_OK);
    int64_t at = testing::mono_ns();
    CHECK(m.id == id);
    CHECK(at >= due);
    CHECK(shmq_ack(q, &m) == SHMQ_OK);
    return double(at - due) / double(kMs);
}

} // namespace

TEST_CASE("with shmqd: a delayed message from a killed producer is leased on time, not before") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    int64_t sent = 0;
    uint64_t id = 0;
    send_delayed_and_die("q", "later", 200 * kMs, &sent, &id);
    double late = lease_due(q, id, sent + 200 * kMs);
    MESSAGE("leased " << late << " ms after its time (shmqd tick 5 ms)");
    CHECK(late < 1000); // generous: the machine is shared; the tick makes it ~5 ms
    shmq_close(q);
    CHECK(d.stop() == 0);
}

TEST_CASE("with shmqd killed and restarted while a message waits: delivered after its time") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + queue_section("q"));
    auto d = std::make_unique<Shmqd>(dir);
    REQUIRE(d->wait_ready());
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    int64_t sent = 0;
    uint64_t id = 0;
    send_delayed_and_die("q", "later", 500 * kMs, &sent, &id);
    d->signal(SIGKILL);
    CHECK(d->wait_exit() == -SIGKILL);
    d = std::make_unique<Shmqd>(dir);
    REQUIRE(d->wait_ready());
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(q, &s) == SHMQ_OK);
    if (testing::mono_ns() < sent + 500 * kMs) CHECK(s.delayed == 1); // still waiting, kept across the restart
    double late = lease_due(q, id, sent + 500 * kMs);
    MESSAGE("leased " << late << " ms after its time, across a shmqd restart");
    CHECK(late < 1000);
    shmq_close(q);
    CHECK(d->stop() == 0);
}
