// ring.hpp - a bounded MPMC ring of slot indices that no dead process can block.
//
// Why not Boost.Lockfree or a Vyukov ring: both claim a position first and fill
// or empty its cell later, so a process killed between the two leaves a cell
// that everyone behind it waits on forever. Here the cell CAS *is* the claim:
// a push fills the cell at `tail` in one CAS and anyone may then advance `tail`;
// a pop first takes the slot the cell names (the caller's slot-state CAS), then
// advances `head` past it, and anyone who finds at head a cell naming a slot
// that is no longer takeable may advance `head` too. Entries are hints: the
// slot state word decides ownership, so a stale or duplicate entry is
// discarded, and the capacity (>= 2 x slots) leaves room for the few
// duplicates recovery makes. A push that still finds the ring full says so
// ([[nodiscard]]); the caller raises the segment's relist flag and recovery
// lists the slot later.
//
// A popper never writes a cell: head alone says which entries are spent, so
// the cell line a producer fills is not pulled back by the consumer's pop (one
// cache-line transfer per message less, issue 20). A pusher finding last lap's
// entry in its cell reuses it once head has passed that entry; it keeps the
// head it last read (a hint in its own memory: head only grows) and reads the
// shared one again only when the hint does not prove the cell free.
//
// One life, one entry: push() calls `before_fill(pos)` before the cell CAS at
// each position it tries, and the ready ring's callers record that position
// in the slot (SlotHeader::listed_pos); a popper accepts an entry only if the
// slot's listed position is the entry's own, so an entry read before the slot
// was reused can never lease its next life (queue.hpp, try_lease).
//
// Cell = seq:32 | value:32. For position p the cell reads {p, EMPTY} before
// its first fill, {p+1, v} when holding v; that entry is spent once head > p,
// and the cell is free for position p+cap from then on.
#pragma once

#include "crashpoint.hpp"
#include "layout.hpp"

#include <atomic>
#include <cstdint>

namespace shmq::detail {

enum class Take { Taken, Stale, Retry };

class Ring {
public:
    static constexpr uint32_t kEmpty = 0xFFFFFFFFu;

    Ring() = default;
    Ring(RingHeader *h, A64 *cells, uint32_t cap, const char *push_point, const char *pop_point)
        : h_(h), cells_(cells), mask_(cap - 1), push_point_(push_point), pop_point_(pop_point) {}
    Ring(const Ring &o) : Ring(o.h_, o.cells_, uint32_t(o.mask_ + 1), o.push_point_, o.pop_point_) {}
    Ring &operator=(const Ring &o) {
        h_ = o.h_, cells_ = o.cells_, mask_ = o.mask_, push_point_ = o.push_point_, pop_point_ = o.pop_point_;
        head_seen_.store(0, std::memory_order_relaxed);
        return *this;
    }

    // Lay out an empty ring in fresh shared memory.
    static void init(RingHeader *h, A64 *cells, uint32_t cap);

    // Append v. False only if the ring is full (cannot happen while it holds
    // fewer than cap entries; callers size it so, and must handle it anyway).
    template <class F> [[nodiscard]] bool push(uint32_t v, F &&before_fill);
    [[nodiscard]] bool push(uint32_t v) {
        return push(v, [](uint64_t) {});
    }

    // A run of pushes that moves tail once (issue 20). fill() puts v in the
    // first free cell at or after the run's previous one, without moving
    // tail; end() then moves tail past the whole run in one CAS. The cell CAS
    // is still the claim, so nothing is ever claimed and left unfilled:
    // between fill() and end() the run's cells are ordinary entries beyond
    // tail, which poppers take (they read cells, not tail) and other pushers
    // walk past (their own run ends past them). A pusher killed inside a run
    // leaves tail behind its entries, which the next push or run moves past.
    // Invariant: the cells filled this lap from tail on are a contiguous run
    // [tail, X), and every push fills X.
    struct Run {
        uint64_t next = 0; // past the last cell this run filled or walked over
        uint64_t from = 0; // the tail read first
        bool open = false;
    };
    template <class F> [[nodiscard]] bool fill(Run &run, uint32_t v, F &&before_fill);
    void end(Run &run) {
        uint64_t from = run.from;
        // SYNC POINT: acq_rel as in push(); damaged_at() pairs with it (every
        // cell below the new tail was filled before this CAS).
        while (run.open && from < run.next &&
               !h_->tail.compare_exchange_strong(from, run.next, std::memory_order_acq_rel)) {
        }
        run.open = false;
    }

    // Take the oldest entry whose slot `take(v, pos)` accepts. Stale entries
    // met on the way are passed over. Returns kEmpty when the ring is empty.
    template <class F> uint32_t pop(F &&take);

    // Take up to max entries in a row from head, `take(v, pos)` deciding each
    // as in pop(), into out[]; head moves once, past all of them (one shared
    // RMW per run, issue 20). The run ends at the first position without an
    // entry; with none at head at all, pop() decides (empty, or damage to
    // pass over). Returns how many were taken. A popper killed inside a run
    // has taken slots that head has not passed: others find them no longer
    // takeable and advance head past them, as after a killed pop().
    template <class F> uint32_t pop_run(uint32_t *out, uint32_t max, F &&take);

    // Is there an entry at head? Sequentially consistent, for the sleep/wake
    // handshake (pairs with the seq_cst cell CAS in push()).
    bool maybe_nonempty() const;

    // The value at head if it holds an entry now, else kEmpty: a hint for
    // prefetching, never for ownership (relaxed, may be stale at once).
    uint32_t peek() const;

    // Visit every entry (v, pos) now between head and tail (not atomic as a whole).
    template <class F> void for_each(F &&visit) const;

    // Does the cell at `pos` hold v for that position now?
    bool holds(uint64_t pos, uint32_t v) const;

    uint32_t cap() const { return mask_ + 1; }

    // For the exploration harness, while no process runs: what breaks the
    // ring's shape now, or null. From head, every cell below tail holds its
    // entry, and the cells filled past tail are one contiguous run [tail, X)
    // (fill()): no entry beyond a free cell, where no one would push next.
    const char *shape_error() const;

private:
    static constexpr uint64_t cell(uint64_t pos, uint32_t v) { return uint64_t(uint32_t(pos)) << 32 | v; }
    static constexpr uint32_t seq_of(uint64_t c) { return uint32_t(c >> 32); }
    static constexpr uint32_t val_of(uint64_t c) { return uint32_t(c); }
    A64 &at(uint64_t pos) const { return cells_[pos & mask_]; }
    // Cell c at position p: an entry for p; free for p (never filled, or last
    // lap's entry, which is spent once head has passed it).
    bool entry_at(uint64_t p, uint64_t c) const { return seq_of(c) == uint32_t(p + 1) && val_of(c) != kEmpty; }
    bool unfilled_at(uint64_t p, uint64_t c) const { return seq_of(c) == uint32_t(p) && val_of(c) == kEmpty; }
    bool last_lap_at(uint64_t p, uint64_t c) const { return entry_at(p - mask_ - 1, c); }
    // Is the empty-looking cell c at head h damage? Only if tail is past h
    // (every position below tail was filled this lap) and a second look finds
    // it unchanged. Asked on one empty pop in 64: tail is the producers'
    // line, and a consumer polling an empty ring must not pull it each time.
    bool damaged_at(uint64_t h, uint64_t c) const;
    // Has head passed position p? Asks shared memory only if the hint cannot tell.
    bool spent(uint64_t p) const;
    void advance_head(uint64_t h) { h_->head.compare_exchange_strong(h, h + 1, std::memory_order_acq_rel); }
    // Move head from `from` to `to` unless others moved it that far already
    // (acq_rel as in advance_head: spent() pairs with it).
    void advance_head_to(uint64_t from, uint64_t to) {
        while (from < to && !h_->head.compare_exchange_strong(from, to, std::memory_order_acq_rel)) {
        }
    }

    RingHeader *h_ = nullptr;
    A64 *cells_ = nullptr;
    uint64_t mask_ = 0;
    const char *push_point_ = nullptr;
    const char *pop_point_ = nullptr;
    // The highest head this process has read: head only grows, so a position
    // below it is spent. Process memory, not shared (relaxed: only a hint).
    mutable std::atomic<uint64_t> head_seen_{0};
    mutable std::atomic<uint32_t> empty_pops_{0};
};

template <class F> uint32_t Ring::pop(F &&take) {
    uint64_t last_h = ~0ULL, last_c = 0;
    for (;;) {
        uint64_t h = h_->head.load(std::memory_order_acquire);
        uint64_t c = at(h).load(std::memory_order_acquire);
        if (entry_at(h, c)) {
            Take t = take(val_of(c), h);
            if (t == Take::Retry) continue;
            if (t == Take::Taken) SHMQ_CRASH_POINT(pop_point_);
            // Taken or stale, the entry is spent: advance head past it (or
            // find that a helper did).
            advance_head(h);
            if (t == Take::Taken) return val_of(c);
        } else if (unfilled_at(h, c) || last_lap_at(h, c)) {
            if (h_->head.load(std::memory_order_acquire) != h) continue;
            if (!damaged_at(h, c)) return kEmpty;
            advance_head(h); // outside damage that looks like an empty cell
        } else if (h == last_h && c == last_c) {
            // A state no ring operation writes, seen twice with head unmoved:
            // damage from outside. Pass over it while entries follow, leaving
            // the cell free for the next lap (so that a walk behind a damaged
            // head or tail ends within a lap); at the tail it is the pushers'
            // to reset.
            if (h < h_->tail.load(std::memory_order_acquire)) {
                at(h).compare_exchange_strong(c, cell(h + mask_ + 1, kEmpty), std::memory_order_acq_rel);
                advance_head(h);
            } else if (h_->head.load(std::memory_order_acquire) == h) {
                return kEmpty;
            }
        }
        last_h = h;
        last_c = c;
    }
}

template <class F> uint32_t Ring::pop_run(uint32_t *out, uint32_t max, F &&take) {
    if (max == 0) return 0;
    for (;;) {
        const uint64_t h = h_->head.load(std::memory_order_acquire);
        uint64_t p = h;
        uint32_t n = 0;
        while (n < max && p - h <= mask_) {
            uint64_t c = at(p).load(std::memory_order_acquire);
            if (!entry_at(p, c)) break;
            Take t = take(val_of(c), p);
            if (t == Take::Retry) continue;
            if (t == Take::Taken) {
                SHMQ_CRASH_POINT(pop_point_);
                out[n++] = val_of(c);
            }
            ++p; // taken or stale, the entry is spent
        }
        if (p == h) break; // no entry at head: pop() decides
        advance_head_to(h, p);
        if (n > 0) return n; // else only stale entries: look again
    }
    uint32_t v = pop(take);
    if (v == kEmpty) return 0;
    out[0] = v;
    return 1;
}

template <class F> bool Ring::push(uint32_t v, F &&before_fill) {
    Run run;
    bool ok = fill(run, v, before_fill);
    end(run);
    return ok;
}

template <class F> bool Ring::fill(Run &run, uint32_t v, F &&before_fill) {
    uint64_t last_t = ~0ULL, last_c = 0;
    for (;;) {
        const uint64_t tail = h_->tail.load(std::memory_order_acquire);
        if (!run.open) run.open = true, run.from = run.next = tail;
        // Below tail every cell was filled this lap; our run may be ahead of it.
        const uint64_t t = run.next > tail ? run.next : tail;
        uint64_t c = at(t).load(std::memory_order_acquire);
        bool old = last_lap_at(t, c);
        if (unfilled_at(t, c) || (old && spent(t - mask_ - 1))) {
            before_fill(t);
            // SYNC POINT: this seq_cst CAS pairs with the seq_cst load of the
            // same cell in maybe_nonempty() (sleep/wake handshake) and, as a
            // release, publishes the slot state written before it to pop().
            if (at(t).compare_exchange_strong(c, cell(t + 1, v), std::memory_order_seq_cst)) {
                SHMQ_CRASH_POINT(push_point_);
                run.next = t + 1;
                return true;
            }
        } else if (entry_at(t, c)) {
            // Filled by another pusher that has not moved tail yet (or is
            // dead): walk past it; end() moves tail past it with ours.
            run.next = t + 1;
        } else if (old) {
            // Last lap's entry, not yet spent: full.
            if (h_->tail.load(std::memory_order_acquire) == tail) return false;
        } else if (t == last_t && c == last_c) {
            // A state no ring operation writes, seen twice at t with tail not
            // past it: damage from outside. Reset the cell for this lap and go on.
            at(t).compare_exchange_strong(c, cell(t, kEmpty), std::memory_order_acq_rel);
        }
        last_t = t;
        last_c = c;
    }
}

template <class F> void Ring::for_each(F &&visit) const {
    uint64_t h = h_->head.load(std::memory_order_acquire);
    uint64_t t = h_->tail.load(std::memory_order_acquire);
    // Past tail, the entries of runs whose tail move is still to come
    // (fill()): they end at the first cell without one.
    for (uint64_t p = h; p - h <= mask_; ++p) {
        uint64_t c = at(p).load(std::memory_order_acquire);
        if (entry_at(p, c))
            visit(val_of(c), p);
        else if (p >= t)
            break;
    }
}

inline uint32_t Ring::peek() const {
    uint64_t h = h_->head.load(std::memory_order_relaxed);
    uint64_t c = at(h).load(std::memory_order_relaxed);
    return entry_at(h, c) ? val_of(c) : kEmpty;
}

inline bool Ring::holds(uint64_t pos, uint32_t v) const {
    uint64_t h = h_->head.load(std::memory_order_acquire);
    if (pos < h || pos - h > mask_) return false;
    uint64_t c = at(pos).load(std::memory_order_acquire);
    return seq_of(c) == uint32_t(pos + 1) && val_of(c) == v;
}

} // namespace shmq::detail
