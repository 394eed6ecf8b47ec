// Deduplication with real processes: a producer SIGKILLed in the middle of a
// keyed send (at each step of dedup.cpp and of the publish), or between two
// sends of one key, then a new process sends the same key: exactly one
// message is stored, and it has the id the retry returned.
#include "support.hpp"

#include "crashpoint.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstring>
#include <string>
#include <vector>

using namespace testing;

namespace {

shmq_params dedup_params() {
    shmq_params p = small_params(8);
    p.dedup_window_ms = 60000;
    return p;
}

std::vector<std::pair<std::string, uint64_t>> drain(shmq_queue *q) {
    std::vector<std::pair<std::string, uint64_t>> out;
    shmq_msg m;
    while (shmq_recv(q, &m, 0) == SHMQ_OK) {
        out.emplace_back(std::string(static_cast<const char *>(m.data), m.len), m.id);
        CHECK(shmq_ack(q, &m) == SHMQ_OK);
    }
    return out;
}

} // namespace

TEST_CASE("a producer killed at any step of a keyed send, retried by a new process: one message") {
    // dedup.reserved: entry claimed, key not yet written; send.after_intent:
    // entry PENDING, slot still WRITING; send.after_ready: published, not
    // pushed; dedup.published: published, entry still PENDING.
    for (const char *point : {"dedup.reserved", "send.after_intent", "send.after_ready", "dedup.published"}) {
        CAPTURE(point);
        TestQueue t("dedup_kill", dedup_params());
        pid_t pid = spawn([&] {
            shmq_queue *q = open_queue(t.name);
            if (q == nullptr) return 90;
            shmq::detail::crash_point_arm(point, 0);
            uint64_t id = 0;
            uint8_t dup = 0;
            send_keyed(q, "first", "order-7", &id, &dup);
            return 91; // the point was not reached
        });
        REQUIRE(wait_child(pid) == -SIGKILL);
        uint64_t id = 0;
        uint8_t dup = 9;
        REQUIRE(send_keyed_in_child(t.name, "order-7", &id, &dup)); // no recovery ran: the retry settles the dead entry
        auto got = drain(t.q);
        REQUIRE(got.size() == 1);
        CHECK(got[0].second == id);
        const bool published = std::string(point) != "dedup.reserved" && std::string(point) != "send.after_intent";
        CHECK(got[0].first == (published ? "first" : "retry"));
        CHECK(dup == (published ? 1 : 0));
        shmq_recovery rep{};
        REQUIRE(shmq_recover(t.q, &rep) == SHMQ_OK);
        shmq_stats s{};
        s.struct_size = sizeof s;
        REQUIRE(shmq_stats_get(t.q, &s) == SHMQ_OK);
        CHECK(s.free == 8); // the dead producer's slot came back
    }
}

TEST_CASE("a producer SIGKILLed between two sends of one key leaves exactly one message") {
    TestQueue t("dedup_between", dedup_params());
    Pipe out;
    pid_t pid = spawn([&] {
        shmq_queue *q = open_queue(t.name);
        uint64_t id = 0;
        uint8_t dup = 9;
        if (q == nullptr || send_keyed(q, "once", "pay-1", &id, &dup) != SHMQ_OK || dup != 0) return 90;
        out.put(&id, sizeof id);
        raise(SIGKILL);
        return 91;
    });
    uint64_t first = 0;
    REQUIRE(out.get(&first, sizeof first));
    REQUIRE(wait_child(pid) == -SIGKILL);
    uint64_t id = 0;
    uint8_t dup = 9;
    REQUIRE(send_keyed_in_child(t.name, "pay-1", &id, &dup));
    CHECK(dup == 1);
    CHECK(id == first);
    auto got = drain(t.q);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == std::make_pair(std::string("once"), first));
}

TEST_CASE("many processes send the same keys at once: one message per key") {
    shmq_params p = dedup_params();
    p.slot_count = 16; // 6 stored and 4 in flight always fit
    TestQueue t("dedup_many", p);
    Pipe go;
    std::vector<pid_t> kids;
    for (int k = 0; k < 4; ++k)
        kids.push_back(spawn([&] {
            shmq_queue *q = open_queue(t.name);
            char c;
            if (q == nullptr || !go.get(&c, 1)) return 90;
            for (int n = 0; n < 6; ++n) {
                std::string key = "key-" + std::to_string(n);
                uint64_t id = 0;
                uint8_t dup = 0;
                int rc;
                rc = send_keyed(q, "m", key.c_str(), &id, &dup);
                if (rc != SHMQ_OK) return 91;
            }
            shmq_close(q);
            return 0;
        }));
    go.close_read();
    for (size_t k = 0; k < kids.size(); ++k) go.put("g", 1);
    for (pid_t p : kids) CHECK(wait_child(p) == 0);
    CHECK(drain(t.q).size() == 6);
}
