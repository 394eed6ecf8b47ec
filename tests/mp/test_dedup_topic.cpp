// Deduplication on a topic with real processes: a publisher SIGKILLed in the
// middle of a keyed publish (at each step of dedup.cpp and of the topic's
// publish), or between two publishes of one key, then a new process
// publishes the same key: each group gets exactly one message, with the id
// the retry returned. (The protocol itself: explore, dedup_topic_*.)
#include "support.hpp"

#include "crashpoint.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstring>
#include <string>
#include <vector>

using namespace testing;

namespace {

const char *const kGroups[] = {"billing", "shipping"};

// A topic with a window and both groups bound.
struct Topic : TestQueue {
    Topic(const char *tag) : TestQueue(tag, params()) {
        for (const char *g : kGroups) REQUIRE(shmq_group_add(q, g) == SHMQ_OK);
    }
    static shmq_params params() {
        shmq_params p = small_params(8);
        p.max_groups = 2;
        p.dedup_window_ms = 60000;
        return p;
    }
};

// Everything group `group` has ready now, acked: payloads and ids.
std::vector<std::pair<std::string, uint64_t>> drain(const std::string &topic, const char *group) {
    shmq_queue *g = nullptr;
    REQUIRE(shmq_open_group(topic.c_str(), group, nullptr, &g) == SHMQ_OK);
    std::vector<std::pair<std::string, uint64_t>> out;
    shmq_msg m;
    while (shmq_recv(g, &m, 0) == SHMQ_OK) {
        out.emplace_back(std::string(static_cast<const char *>(m.data), m.len), m.id);
        CHECK(shmq_ack(g, &m) == SHMQ_OK);
    }
    shmq_close(g);
    return out;
}

} // namespace

TEST_CASE("a publisher killed at any step of a keyed publish, retried by a new process: one message per group") {
    // dedup.reserved: entry claimed, key not yet written; send.writing: entry
    // PENDING, slot WRITING; topic.after_stage: both groups staged, slot still
    // WRITING; topic.after_commit: published, groups not yet promoted;
    // dedup.published: published and promoted, entry still PENDING.
    for (const char *point :
         {"dedup.reserved", "send.writing", "topic.after_stage", "topic.after_commit", "dedup.published"}) {
        CAPTURE(point);
        Topic t("dedup_topic_kill");
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
        shmq_recovery rep{}; // a dead publisher's staged groups are promoted (or unstaged) by recovery
        REQUIRE(shmq_recover(t.q, &rep) == SHMQ_OK);
        const bool published = std::string(point) == "topic.after_commit" || std::string(point) == "dedup.published";
        for (const char *g : kGroups) {
            CAPTURE(g);
            auto got = drain(t.name, g);
            REQUIRE(got.size() == 1);
            CHECK(got[0].second == id);
            CHECK(got[0].first == (published ? "first" : "retry"));
        }
        CHECK(dup == (published ? 1 : 0));
        shmq_stats s{};
        s.struct_size = sizeof s;
        REQUIRE(shmq_stats_get(t.q, &s) == SHMQ_OK);
        CHECK(s.free == 8); // the dead publisher's slot came back, the message's after both acks
    }
}

TEST_CASE("a publisher SIGKILLed between two publishes of one key leaves exactly one message per group") {
    Topic t("dedup_topic_between");
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
    for (const char *g : kGroups) {
        CAPTURE(g);
        auto got = drain(t.name, g);
        REQUIRE(got.size() == 1);
        CHECK(got[0] == std::make_pair(std::string("once"), first));
    }
}
