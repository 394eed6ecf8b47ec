// The index ring on its own: order, laps, full, stale entries, and finishing
// the half-done steps of a pusher or popper that stopped between its CASes.
#include "ring.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using shmq::detail::A64;
using shmq::detail::Ring;
using shmq::detail::RingHeader;
using shmq::detail::Take;

namespace {

struct TestRing {
    explicit TestRing(uint32_t cap) : cells(new A64[cap]) {
        Ring::init(&hdr, cells.get(), cap);
        ring = Ring(&hdr, cells.get(), cap, nullptr, nullptr);
    }
    uint32_t pop() {
        return ring.pop([](uint32_t, uint64_t) { return Take::Taken; });
    }
    RingHeader hdr;
    std::unique_ptr<A64[]> cells;
    Ring ring;
};

uint64_t cell(uint64_t pos, uint32_t v) { return uint64_t(uint32_t(pos)) << 32 | v; }

} // namespace

TEST_CASE("ring: first in, first out, over many laps") {
    TestRing r(512); // holds at most ~340 at once
    uint32_t next_out = 0;
    for (uint32_t i = 0; i < 1000; ++i) {
        REQUIRE(r.ring.push(i));
        if (i % 3 == 2) {
            CHECK(r.pop() == next_out++);
            CHECK(r.pop() == next_out++);
        }
    }
    while (next_out < 1000) REQUIRE(r.pop() == next_out++);
    CHECK(r.pop() == Ring::kEmpty);
    CHECK_FALSE(r.ring.maybe_nonempty());
}

TEST_CASE("ring: a full ring refuses a push and accepts again after a pop") {
    TestRing r(4);
    for (uint32_t i = 0; i < 4; ++i) REQUIRE(r.ring.push(i));
    CHECK_FALSE(r.ring.push(9));
    CHECK(r.pop() == 0);
    CHECK(r.ring.push(9));
}

TEST_CASE("ring: entries the caller finds stale are dropped on the way") {
    TestRing r(8);
    for (uint32_t i = 0; i < 5; ++i) REQUIRE(r.ring.push(i));
    uint32_t got = r.ring.pop([](uint32_t v, uint64_t) { return v < 3 ? Take::Stale : Take::Taken; });
    CHECK(got == 3);
    CHECK(r.pop() == 4);
    CHECK(r.pop() == Ring::kEmpty);
}

TEST_CASE("ring: a pusher that filled its cell but never advanced tail is helped") {
    TestRing r(8);
    REQUIRE(r.ring.push(1));
    r.cells[1].store(cell(2, 42)); // filled position 1, tail still 1
    REQUIRE(r.hdr.tail.load() == 1);
    CHECK(r.ring.maybe_nonempty());
    REQUIRE(r.ring.push(2)); // helps tail past 1, lands at 2
    CHECK(r.pop() == 1);
    CHECK(r.pop() == 42);
    CHECK(r.pop() == 2);
    CHECK(r.pop() == Ring::kEmpty);
}

TEST_CASE("ring: a popper that took its entry but never advanced head is passed over") {
    TestRing r(8);
    REQUIRE(r.ring.push(1));
    REQUIRE(r.ring.push(2));
    // Entry 1 was taken by a popper that stopped before advancing head: its
    // slot is no longer takeable, so the next popper finds it stale.
    uint32_t got = r.ring.pop([](uint32_t v, uint64_t) { return v == 1 ? Take::Stale : Take::Taken; });
    CHECK(got == 2);
    CHECK(r.hdr.head.load() == 2);
}

TEST_CASE("ring: pops never write a cell, and a push reuses last lap's entry only once head has passed it") {
    TestRing r(4);
    for (uint32_t i = 0; i < 4; ++i) REQUIRE(r.ring.push(i));
    std::vector<uint64_t> before(4);
    for (uint32_t k = 0; k < 4; ++k) before[k] = r.cells[k].load();
    CHECK(r.pop() == 0);
    CHECK(r.pop() == 1);
    for (uint32_t k = 0; k < 4; ++k) CHECK(r.cells[k].load() == before[k]);
    CHECK(r.ring.push(10)); // position 4 reuses cell 0 (head 2 > 0)
    CHECK(r.ring.push(11)); // position 5 reuses cell 1
    CHECK_FALSE(r.ring.push(12)); // cell 2 still holds an unspent entry
    CHECK(r.cells[0].load() == cell(5, 10));
    CHECK(r.pop() == 2);
    CHECK(r.pop() == 3);
    CHECK(r.pop() == 10);
    CHECK(r.pop() == 11);
    CHECK(r.pop() == Ring::kEmpty);
    CHECK_FALSE(r.ring.maybe_nonempty());
}

TEST_CASE("ring: a popper that emptied the cell at a lagging tail does not stall pushers") {
    TestRing r(4);
    r.cells[0].store(cell(1, 7)); // pushed at 0, tail not advanced
    CHECK(r.pop() == 7);          // popped: head 1, tail still 0
    REQUIRE(r.hdr.tail.load() == 0);
    REQUIRE(r.ring.push(8));
    CHECK(r.pop() == 8);
}

TEST_CASE("ring: four threads pushing and popping lose and duplicate nothing") {
    // As in the queue, taking an entry is a CAS on what it names (here a
    // flag per value): two poppers reading the same cell cannot both win.
    const uint32_t per = 50000, threads = 4;
    TestRing r(1024);
    std::vector<std::atomic<uint8_t>> owned(per * threads), seen(per * threads);
    auto take = [&](uint32_t v, uint64_t) { return owned[v].exchange(1) == 0 ? Take::Taken : Take::Stale; };
    std::atomic<uint32_t> popped{0};
    std::vector<std::thread> ts;
    for (uint32_t t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            for (uint32_t i = 0; i < per; ++i) {
                while (!r.ring.push(t * per + i)) std::this_thread::yield();
                uint32_t v = r.ring.pop(take);
                if (v != Ring::kEmpty) {
                    seen[v].fetch_add(1);
                    popped.fetch_add(1);
                }
            }
        });
    }
    for (auto &t : ts) t.join();
    for (uint32_t v; (v = r.ring.pop(take)) != Ring::kEmpty; popped.fetch_add(1)) seen[v].fetch_add(1);
    CHECK(popped.load() == per * threads);
    uint32_t bad = 0;
    for (auto &s : seen) bad += s.load() != 1;
    CHECK(bad == 0);
    CHECK(r.hdr.head.load() == r.hdr.tail.load());
}

TEST_CASE("ring: a cell damaged from outside is discarded, neither pop nor push spins forever") {
    TestRing r(8);
    REQUIRE(r.ring.push(1));
    REQUIRE(r.ring.push(2));
    r.cells[0].store(cell(12345, 99)); // garbage at head
    CHECK(r.pop() == 2);
    r.cells[r.hdr.tail.load() & 7].store(cell(777, 5)); // garbage at tail
    CHECK(r.ring.push(3));
    CHECK(r.pop() == 3);
}

TEST_CASE("ring: damage that looks like an empty cell below tail is passed over, not taken for an empty ring") {
    TestRing r(8);
    REQUIRE(r.ring.push(1));
    REQUIRE(r.ring.push(2));
    // Garbage at head that reads as last lap's spent entry (seq = head+1-cap):
    // without a look at tail the ring would seem empty forever.
    r.cells[0].store(cell(0 + 1 - 8, 5));
    uint32_t got = Ring::kEmpty;
    for (int k = 0; k < 200 && got == Ring::kEmpty; ++k) got = r.pop();
    CHECK(got == 2);
    CHECK(r.pop() == Ring::kEmpty);
    CHECK(r.ring.push(3));
    CHECK(r.pop() == 3);
}
