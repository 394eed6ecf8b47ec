// Every named crash point: a child process SIGKILLs itself there, then
// recovery runs and we prove no message was lost, none delivered twice after
// its ack, no slot leaked, and the dead client's record was freed.
#include "support.hpp"

#include "audit.hpp"
#include "crashpoint.hpp"
#include "queue.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstring>
#include <map>
#include <string>

using namespace testing;

namespace {

constexpr int kParentMsgs = 6;

shmq_params crash_params() {
    shmq_params p = small_params(16, 32);
    p.max_attempts = 100;
    p.lease_ms = 60000; // only death, never a deadline, reclaims here
    return p;
}

bool is_recovery_point(const std::string &point) { return point.rfind("recover.", 0) == 0; }

// A grandchild leases one message and dies holding it, so the child has a
// dead client to recover.
void leave_dead_lessee(const std::string &name) {
    pid_t pid = spawn([&] {
        shmq_queue *q = open_queue(name);
        shmq_msg m;
        if (q == nullptr || shmq_recv(q, &m, 0) != SHMQ_OK) return 1;
        raise(SIGKILL);
        return 2;
    });
    wait_child(pid);
}

// The daemon's moves to disk: the "disk" is a pipe to the parent. For the
// dead-letter point a message is rejected first; for spill, the oldest ready
// message is taken. The child dies after writing, before freeing the slot.
int daemon_script(const std::string &name, const std::string &point, Pipe &disk) {
    shmq_queue *q = open_queue(name);
    if (q == nullptr) return 10;
    auto &core = *reinterpret_cast<shmq::detail::Queue *>(q);
    shmq::detail::crash_point_arm(point.c_str(), 0);
    auto write_out = [&](const shmq::detail::Outgoing &o) {
        disk.put(o.data, o.len);
        disk.put("\n", 1);
        return true;
    };
    if (point == "dlq.after_write") {
        shmq_msg m;
        if (shmq_recv(q, &m, 0) != SHMQ_OK || shmq_reject(q, &m) != SHMQ_OK) return 11;
        core.drain_dead(write_out);
    } else {
        shmq::detail::Outgoing o;
        if (!core.take_for_spill(&o)) return 12;
        write_out(o);
        core.release_spilled(o);
    }
    return 7;
}

bool is_daemon_point(const std::string &point) { return point == "dlq.after_write" || point == "spill.after_write"; }

// The child's script touches every transition once. It reports each call that
// completed through `done`, so the parent knows what must have taken effect.
int child_script(const std::string &name, const std::string &point, Pipe &done) {
    if (point == "attach.after_claim") shmq::detail::crash_point_arm(point.c_str(), 0);
    shmq_queue *q = open_queue(name);
    if (q == nullptr) return 10;
    if (!is_recovery_point(point)) shmq::detail::crash_point_arm(point.c_str(), 0);
    if (shmq_send(q, "c0", 2, 0) != SHMQ_OK) return 11;
    done.put("S", 1);
    shmq_msg m;
    if (shmq_recv(q, &m, 0) != SHMQ_OK) return 12;
    if (shmq_ack(q, &m) != SHMQ_OK) return 13;
    done.put("A", 1);
    if (shmq_recv(q, &m, 0) != SHMQ_OK || shmq_nack(q, &m, 0) != SHMQ_OK) return 14;
    if (shmq_recv(q, &m, 0) != SHMQ_OK || shmq_nack(q, &m, 50 * 1000000LL) != SHMQ_OK) return 15;
    shmq_send_opts later;
    shmq_send_opts_init(&later);
    later.delay_ns = 20 * 1000000LL;
    if (shmq_send_ex(q, "c1", 2, &later, nullptr, 0) != SHMQ_OK) return 16;
    if (is_recovery_point(point)) {
        leave_dead_lessee(name);
        shmq::detail::crash_point_arm(point.c_str(), 0);
        shmq_recover(q, nullptr);
    }
    return 7; // the point was never reached
}

bool drained(shmq_queue *q) {
    shmq_stats s{};
    s.struct_size = sizeof s;
    shmq_stats_get(q, &s);
    return s.ready + s.delayed + s.leased + s.writing == 0;
}

// Receive and ack everything the queue still holds, recovering as we go.
std::map<std::string, int> drain(shmq_queue *q) {
    std::map<std::string, int> seen;
    for (int rounds = 0; rounds < 200 && !drained(q); ++rounds) {
        shmq_recover(q, nullptr);
        shmq_msg m;
        while (shmq_recv(q, &m, 50 * 1000000LL) == SHMQ_OK) {
            ++seen[std::string(static_cast<const char *>(m.data), m.len)];
            REQUIRE(shmq_ack(q, &m) == SHMQ_OK);
        }
    }
    return seen;
}

// The message the dead daemon wrote to "disk" is still in shared memory too
// (a duplicate at worst); a second daemon finishes the move.
void check_daemon_point(shmq_queue *q, const std::string &point, Pipe &disk) {
    char buf[16] = {};
    REQUIRE(disk.get(buf, 3));
    std::string written(buf, 2);
    CHECK(written == "p0");
    auto &core = *reinterpret_cast<shmq::detail::Queue *>(q);
    shmq_recover(q, nullptr);
    if (point == "dlq.after_write") {
        std::string again;
        CHECK(core.drain_dead([&](const shmq::detail::Outgoing &o) {
            again.assign(static_cast<const char *>(o.data), o.len);
            return true;
        }) == 1);
        CHECK(again == "p0");
    }
    std::map<std::string, int> seen = drain(q);
    CHECK(seen.count("p0") == (point == "spill.after_write" ? 1 : 0));
    for (int i = 1; i < kParentMsgs; ++i) CHECK(seen.count("p" + std::to_string(i)) == 1);
    CHECK(shmq::detail::audit(core).by_state[0] == 16);
}

void check_point(const std::string &point) {
    CAPTURE(point);
    TestQueue t("crash", crash_params());
    for (int i = 0; i < kParentMsgs; ++i) {
        std::string p = "p" + std::to_string(i);
        REQUIRE(shmq_send(t.q, p.data(), p.size(), 0) == SHMQ_OK);
    }
    Pipe done;
    pid_t pid = spawn([&] {
        done.close_read();
        return is_daemon_point(point) ? daemon_script(t.name, point, done) : child_script(t.name, point, done);
    });
    done.close_write();
    REQUIRE(wait_child(pid) == -SIGKILL);
    if (is_daemon_point(point)) {
        check_daemon_point(t.q, point, done);
        return;
    }
    char progress[8] = {};
    for (int n = 0; n < 2 && done.get(&progress[n], 1); ++n) {
    }
    bool sent = progress[0] == 'S', acked = progress[1] == 'A';

    std::map<std::string, int> seen = drain(t.q);
    for (auto &[payload, count] : seen) {
        CAPTURE(payload);
        CHECK(count == 1); // redelivered at most once, and never after an ack
    }
    if (sent) CHECK(seen.count("c0") == 1);
    if (point == "send.after_delayed") CHECK(seen.count("c1") == 1); // DELAYED when killed: delivered later
    if (acked) CHECK(seen.count("p0") == 0);
    for (int i = 1; i < kParentMsgs; ++i) CHECK(seen.count("p" + std::to_string(i)) == 1);

    auto &core = *reinterpret_cast<shmq::detail::Queue *>(t.q);
    shmq::detail::Audit a = shmq::detail::audit(core);
    CHECK(a.ok());
    CHECK(a.by_state[0] == 16); // every slot FREE again
    shmq_stats s{};
    s.struct_size = sizeof s;
    REQUIRE(shmq_stats_get(t.q, &s) == SHMQ_OK);
    CHECK(s.clients == 1); // the dead clients' records were freed
    CHECK(s.dead == 0);
}

} // namespace

TEST_CASE("a process killed at any crash point loses nothing and leaks nothing") {
    int n = 0;
    for (const char *const *p = shmq::detail::kCrashPoints; *p != nullptr; ++p) {
        if (std::string(*p) == "create.before_link") continue; // test_bad_input covers it
        if (std::string(*p) == "flush.after_started") continue; // DISK queues only: test_disk covers it
        if (std::string(*p) == "flush.after_msync") continue;   // the same
        SUBCASE(*p) { check_point(*p); }
        ++n;
    }
    CHECK(n >= 15);
}
