// Real processes killed with SIGKILL at a random moment while they append,
// remove (rewrite) or refill: after reopening, everything whose call returned
// is there, at most the one record in flight is cut, and nothing else is lost.
#include "store/dead_letters.hpp"
#include "store/record_log.hpp"
#include "store/spill.hpp"
#include "store_support.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <random>

using namespace shmq::store;
using namespace store_test;
using testing::Pipe;

namespace {

constexpr int kRounds = 6;

uint32_t seed() {
    static uint32_t s = std::random_device{}();
    return s;
}

size_t len_of(uint64_t i) { return 8 + (i * 7919) % (256 * 1024); }

// Reads acks (u64) from the child until `k` have come, SIGKILLs it, then
// drains the acks it wrote before it died. Returns all acks in order.
std::vector<uint64_t> kill_after(pid_t pid, Pipe &p, uint64_t k) {
    std::vector<uint64_t> acks;
    uint64_t v = 0;
    while (acks.size() < k && p.get(&v, sizeof v)) acks.push_back(v);
    kill(pid, SIGKILL);
    int status = testing::wait_child(pid);
    CHECK((status == -SIGKILL || status == 0)); // 0: it ran out of work first
    while (p.get(&v, sizeof v)) acks.push_back(v);
    return acks;
}

} // namespace

TEST_CASE("appends killed at random: every returned append survives, at most one tail is cut") {
    INFO("seed " << seed());
    std::mt19937 rng(seed());
    for (int round = 0; round < kRounds; ++round) {
        TempDir dir;
        Pipe p;
        pid_t pid = testing::spawn([&] {
            p.close_read();
            RecordLog log;
            if (log.open(dir.fd, "q.dlq", LogOptions{}, nullptr) != 0) return 3;
            for (uint64_t i = 0;; ++i) {
                if (log.append(body_for(i, len_of(i))) != 0) return 4;
                p.put(&i, sizeof i);
            }
        });
        p.close_write();
        std::vector<uint64_t> acks = kill_after(pid, p, 1 + rng() % 40);
        uint64_t acked = acks.size();
        for (uint64_t i = 0; i < acked; ++i) REQUIRE(acks[i] == i);

        RecordLog log;
        OpenReport rep;
        REQUIRE(log.open(dir.fd, "q.dlq", LogOptions{}, &rep) == 0);
        std::vector<uint64_t> got;
        REQUIRE(log.scan([&](uint64_t, std::span<const std::byte> b) {
            uint64_t n = 0;
            CHECK(body_is(b.data(), b.size(), &n));
            CHECK(b.size() == len_of(n));
            got.push_back(n);
            return true;
        }) == 0);
        INFO("round " << round << ", acked " << acked << ", found " << got.size());
        CHECK(rep.corrupt_skipped == 0);
        CHECK(rep.problems.size() <= 1);
        REQUIRE((got.size() == acked || got.size() == acked + 1));
        for (uint64_t i = 0; i < got.size(); ++i) CHECK(got[i] == i);
        if (got.size() == acked + 1) CHECK(rep.torn_bytes_truncated == 0);
        CHECK(rep.torn_bytes_truncated <= kFrameHeaderSize + len_of(acked));
    }
}

TEST_CASE("removals killed at random: the store is the old set or the new one, never a mix") {
    INFO("seed " << seed());
    std::mt19937 rng(seed() + 1);
    constexpr uint64_t N = 300;
    for (int round = 0; round < kRounds; ++round) {
        TempDir dir;
        {
            DeadLetters d;
            REQUIRE(d.open(dir.fd, "q", {}, nullptr) == 0);
            for (uint64_t id = 0; id < N; ++id) REQUIRE(d.add(DeadLetterMeta{id, 1, DeadReason::Rejected, 1, 2},
                                                              body_for(id, 100 + id)) == 0);
        }
        Pipe p;
        pid_t pid = testing::spawn([&] {
            p.close_read();
            DeadLetters d;
            if (d.open(dir.fd, "q", {}, nullptr) != 0) return 3;
            for (uint64_t id = 0; id < N; ++id) {
                uint64_t one[1] = {id};
                if (d.remove(one) != 0) return 4;
                p.put(&id, sizeof id);
            }
            return 0;
        });
        p.close_write();
        uint64_t removed = kill_after(pid, p, 1 + rng() % 60).size();

        DeadLetters d;
        OpenReport rep;
        REQUIRE(d.open(dir.fd, "q", {}, &rep) == 0);
        CHECK(rep.problems.empty());
        std::vector<uint64_t> ids;
        REQUIRE(d.list([&](const DeadLetterInfo &i) {
            CHECK(i.size == 100 + i.meta.id);
            ids.push_back(i.meta.id);
            return true;
        }) == 0);
        INFO("round " << round << ", removed " << removed << ", left " << ids.size());
        REQUIRE((ids.size() == N - removed || ids.size() == N - removed - 1));
        for (uint64_t k = 0; k < ids.size(); ++k) CHECK(ids[k] == N - ids.size() + k);
        CHECK(d.count() == ids.size());
        CHECK(access(dir.file("q.dlq.tmp").c_str(), F_OK) != 0);
    }
}

TEST_CASE("refills killed at random: nothing unsent is lost, only the last sent can repeat") {
    INFO("seed " << seed());
    std::mt19937 rng(seed() + 2);
    constexpr uint64_t N = 120; // 20 KiB each: a compaction happens half way
    constexpr uint64_t kCommitted = uint64_t(1) << 63;
    for (int round = 0; round < kRounds; ++round) {
        TempDir dir;
        {
            Spill s;
            REQUIRE(s.open(dir.fd, "q", {}, nullptr) == 0);
            for (uint64_t id = 0; id < N; ++id) REQUIRE(s.push(SpillMeta{id, 0, 0}, body_for(id, 20 * 1024)) == 0);
        }
        Pipe p;
        pid_t pid = testing::spawn([&] {
            p.close_read();
            Spill s;
            if (s.open(dir.fd, "q", {}, nullptr) != 0) return 3;
            std::vector<SpillRecord> batch;
            while (s.peek_batch(1, &batch) == 0 && !batch.empty()) {
                uint64_t id = batch[0].meta.id;
                p.put(&id, sizeof id); // "sent into the segment"
                if (s.commit(1) != 0) return 4;
                id |= kCommitted;
                p.put(&id, sizeof id);
            }
            return s.count() == 0 ? 0 : 5;
        });
        p.close_write();
        std::vector<uint64_t> acks = kill_after(pid, p, 2 * (1 + rng() % N));
        int64_t sent = -1, committed = -1;
        for (uint64_t a : acks) (a & kCommitted ? committed : sent) = int64_t(a & ~kCommitted);

        Spill s;
        OpenReport rep;
        REQUIRE(s.open(dir.fd, "q", {}, &rep) == 0);
        INFO("round " << round << ", sent " << sent << ", committed " << committed);
        std::vector<SpillRecord> rest;
        REQUIRE(s.peek_batch(N, &rest) == 0);
        uint64_t first = rest.empty() ? N : rest[0].meta.id;
        CHECK(int64_t(first) >= committed + 1); // a committed refill never comes back
        CHECK(int64_t(first) <= sent + 1);      // an unsent record is never skipped
        REQUIRE(rest.size() == N - first);
        for (uint64_t k = 0; k < rest.size(); ++k) {
            CHECK(rest[k].meta.id == first + k);
            CHECK(rest[k].payload == body_for(first + k, 20 * 1024));
        }
        CHECK(s.count() == rest.size());
        CHECK(rep.corrupt_skipped == 0);
    }
}
