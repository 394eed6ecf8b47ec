// ring.cpp - set-up and the out-of-line parts of the crash-tolerant index ring (ring.hpp).
#include "ring.hpp"

namespace shmq::detail {

void Ring::init(RingHeader *h, A64 *cells, uint32_t cap) {
    h->head.store(0, std::memory_order_relaxed);
    h->tail.store(0, std::memory_order_relaxed);
    for (uint64_t p = 0; p < cap; ++p) cells[p].store(cell(p, kEmpty), std::memory_order_relaxed);
}

bool Ring::spent(uint64_t p) const {
    if (p < head_seen_.load(std::memory_order_relaxed)) return true;
    // SYNC POINT: acquire, pairs with the acq_rel head CAS in advance_head()
    // and advance_head_to() (a run): the popper that passed p finished with
    // its entry before that CAS.
    uint64_t h = h_->head.load(std::memory_order_acquire);
    uint64_t seen = head_seen_.load(std::memory_order_relaxed);
    while (seen < h && !head_seen_.compare_exchange_weak(seen, h, std::memory_order_relaxed)) {
    }
    return p < h;
}

bool Ring::damaged_at(uint64_t h, uint64_t c) const {
    uint32_t n = empty_pops_.load(std::memory_order_relaxed) + 1; // a sampling counter: losing a count is harmless
    empty_pops_.store(n, std::memory_order_relaxed);
    if (n % 64 != 0) return false;
    // SYNC POINT: acquire, pairs with the acq_rel tail CAS in push(), which
    // follows the cell CAS: a tail past h means the cell at h was filled, so
    // the re-read below sees the entry unless the cell is damaged.
    if (h_->tail.load(std::memory_order_acquire) <= h) return false;
    return at(h).load(std::memory_order_acquire) == c && h_->head.load(std::memory_order_acquire) == h;
}

const char *Ring::shape_error() const {
    // raw(): plain reads, not scheduling points of the exploration build.
    const uint64_t h = h_->head.raw()->load(), t = h_->tail.raw()->load();
    uint64_t p = h;
    for (; p < t; ++p)
        if (!entry_at(p, cells_[p & mask_].raw()->load())) return "a cell between head and tail holds no entry";
    while (p - h <= mask_ && entry_at(p, cells_[p & mask_].raw()->load())) ++p; // the run past tail
    if (p - h > mask_) return nullptr; // full
    const uint64_t x = p;
    if (uint64_t c = cells_[x & mask_].raw()->load(); !unfilled_at(x, c) && !last_lap_at(x, c))
        return "the cell where the next push goes is in a state no ring operation writes";
    for (++p; p - h <= mask_; ++p)
        if (entry_at(p, cells_[p & mask_].raw()->load())) return "an entry past a free cell beyond tail (a gap)";
    return nullptr;
}

bool Ring::maybe_nonempty() const {
    uint64_t h = h_->head.load(std::memory_order_seq_cst);
    uint64_t c = at(h).load(std::memory_order_seq_cst);
    return !(unfilled_at(h, c) || last_lap_at(h, c));
}

} // namespace shmq::detail
