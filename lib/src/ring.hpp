// ring.hpp - a bounded MPMC ring of slot indices that no dead process can block.
//
// Why not Boost.Lockfree or a Vyukov ring: both claim a position first and fill
// or empty its cell later, so a process killed between the two leaves a cell
// that everyone behind it waits on forever. Here the cell CAS *is* the claim:
// a push fills the cell at `tail` in one CAS and anyone may then advance `tail`;
// a pop first takes the slot the cell names (the caller's slot-state CAS), then
// empties the cell, and anyone who finds the cell naming a slot that is no
// longer takeable may empty it and advance `head`. Entries are hints: the slot
// state word decides ownership, so a stale or duplicate entry is discarded, and
// the capacity (>= 2 x slots) leaves room for the few duplicates recovery makes.
// A push that still finds the ring full says so ([[nodiscard]]); the caller
// raises the segment's relist flag and recovery lists the slot later.
//
// One life, one entry: push() calls `before_fill(pos)` before the cell CAS at
// each position it tries, and the ready ring's callers record that position
// in the slot (SlotHeader::listed_pos); a popper accepts an entry only if the
// slot's listed position is the entry's own, so an entry read before the slot
// was reused can never lease its next life (queue.hpp, try_lease).
//
// Cell = seq:32 | value:32. For position p the cell reads {p, EMPTY} when free
// for this lap, {p+1, v} when holding v, and {p+cap, EMPTY} once emptied.
#pragma once

#include "crashpoint.hpp"
#include "layout.hpp"

#include <cstdint>

namespace shmq::detail {

enum class Take { Taken, Stale, Retry };

class Ring {
public:
    static constexpr uint32_t kEmpty = 0xFFFFFFFFu;

    Ring() = default;
    Ring(RingHeader *h, A64 *cells, uint32_t cap, const char *push_point, const char *pop_point)
        : h_(h), cells_(cells), mask_(cap - 1), push_point_(push_point), pop_point_(pop_point) {}

    // Lay out an empty ring in fresh shared memory.
    static void init(RingHeader *h, A64 *cells, uint32_t cap);

    // Append v. False only if the ring is full (cannot happen while it holds
    // fewer than cap entries; callers size it so, and must handle it anyway).
    template <class F> [[nodiscard]] bool push(uint32_t v, F &&before_fill);
    [[nodiscard]] bool push(uint32_t v) {
        return push(v, [](uint64_t) {});
    }

    // Take the oldest entry whose slot `take(v, pos)` accepts. Stale entries
    // met on the way are removed. Returns kEmpty when the ring is empty.
    template <class F> uint32_t pop(F &&take);

    // Is there an entry at head? Sequentially consistent, for the sleep/wake
    // handshake (pairs with the seq_cst cell CAS in push()).
    bool maybe_nonempty() const;

    // Visit every entry (v, pos) now between head and tail (not atomic as a whole).
    template <class F> void for_each(F &&visit) const;

    // Does the cell at `pos` hold v for that position now?
    bool holds(uint64_t pos, uint32_t v) const;

    uint32_t cap() const { return mask_ + 1; }

private:
    static constexpr uint64_t cell(uint64_t pos, uint32_t v) { return uint64_t(uint32_t(pos)) << 32 | v; }
    static constexpr uint32_t seq_of(uint64_t c) { return uint32_t(c >> 32); }
    static constexpr uint32_t val_of(uint64_t c) { return uint32_t(c); }
    A64 &at(uint64_t pos) const { return cells_[pos & mask_]; }
    void remove(uint64_t h, uint64_t c);

    RingHeader *h_ = nullptr;
    A64 *cells_ = nullptr;
    uint64_t mask_ = 0;
    const char *push_point_ = nullptr;
    const char *pop_point_ = nullptr;
};

template <class F> uint32_t Ring::pop(F &&take) {
    uint64_t last_h = ~0ULL, last_c = 0;
    for (;;) {
        uint64_t h = h_->head.load(std::memory_order_acquire);
        uint64_t c = at(h).load(std::memory_order_acquire);
        uint32_t seq = seq_of(c), v = val_of(c);
        if (seq == uint32_t(h + 1) && v != kEmpty) {
            Take t = take(v, h);
            if (t == Take::Retry) continue;
            if (t == Take::Taken) SHMQ_CRASH_POINT(pop_point_);
            // Taken or stale, the entry is spent: empty the cell (or find that a
            // helper did) and advance head.
            remove(h, c);
            if (t == Take::Taken) return v;
        } else if ((seq == uint32_t(h + mask_ + 1) && v == kEmpty) ||
                   (seq == uint32_t(h + mask_ + 2) && v != kEmpty)) {
            // Emptied (and maybe refilled a lap later), head not yet advanced: help.
            h_->head.compare_exchange_strong(h, h + 1, std::memory_order_acq_rel);
        } else if (seq == uint32_t(h) && v == kEmpty) {
            if (h_->head.load(std::memory_order_acquire) == h) return kEmpty;
        } else if (h == last_h && c == last_c) {
            // A state no ring operation writes, seen twice with head unmoved:
            // damage from outside. Discard the cell rather than spin forever.
            remove(h, c);
        }
        last_h = h;
        last_c = c;
    }
}

template <class F> bool Ring::push(uint32_t v, F &&before_fill) {
    uint64_t last_t = ~0ULL, last_c = 0;
    for (;;) {
        uint64_t t = h_->tail.load(std::memory_order_acquire);
        uint64_t c = at(t).load(std::memory_order_acquire);
        uint32_t seq = seq_of(c), val = val_of(c);
        if (seq == uint32_t(t) && val == kEmpty) {
            before_fill(t);
            // SYNC POINT: this seq_cst CAS pairs with the seq_cst load of the
            // same cell in maybe_nonempty() (sleep/wake handshake) and, as a
            // release, publishes the slot state written before it to pop().
            if (at(t).compare_exchange_strong(c, cell(t + 1, v), std::memory_order_seq_cst)) {
                SHMQ_CRASH_POINT(push_point_);
                h_->tail.compare_exchange_strong(t, t + 1, std::memory_order_acq_rel);
                return true;
            }
        } else if ((seq == uint32_t(t + 1) && val != kEmpty) ||
                   (seq == uint32_t(t + mask_ + 1) && val == kEmpty)) {
            // The cell at tail was filled (and maybe already emptied) by a
            // pusher that has not advanced tail yet: help it.
            h_->tail.compare_exchange_strong(t, t + 1, std::memory_order_acq_rel);
        } else if (seq == uint32_t(t - mask_) && val != kEmpty) {
            // Still holding the entry from one lap ago: full.
            if (h_->tail.load(std::memory_order_acquire) == t) return false;
        } else if (t == last_t && c == last_c) {
            // A state no ring operation writes, seen twice with tail unmoved:
            // damage from outside. Reset the cell for this lap and go on.
            at(t).compare_exchange_strong(c, cell(t, kEmpty), std::memory_order_acq_rel);
        }
        last_t = t;
        last_c = c;
    }
}

template <class F> void Ring::for_each(F &&visit) const {
    uint64_t h = h_->head.load(std::memory_order_acquire);
    uint64_t t = h_->tail.load(std::memory_order_acquire);
    for (uint64_t p = h; p != t + 1 && p - h <= mask_; ++p) {
        uint64_t c = at(p).load(std::memory_order_acquire);
        if (seq_of(c) == uint32_t(p + 1) && val_of(c) != kEmpty) visit(val_of(c), p);
    }
}

inline bool Ring::holds(uint64_t pos, uint32_t v) const {
    uint64_t h = h_->head.load(std::memory_order_acquire);
    if (pos < h || pos - h > mask_) return false;
    uint64_t c = at(pos).load(std::memory_order_acquire);
    return seq_of(c) == uint32_t(pos + 1) && val_of(c) == v;
}

} // namespace shmq::detail
