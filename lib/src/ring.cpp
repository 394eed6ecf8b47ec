// ring.cpp - push and cell removal of the crash-tolerant index ring (ring.hpp).
#include "ring.hpp"

namespace shmq::detail {

void Ring::init(RingHeader *h, A64 *cells, uint32_t cap) {
    h->head.store(0, std::memory_order_relaxed);
    h->tail.store(0, std::memory_order_relaxed);
    for (uint64_t p = 0; p < cap; ++p) cells[p].store(cell(p, kEmpty), std::memory_order_relaxed);
}

bool Ring::push(uint32_t v) {
    uint64_t last_t = ~0ULL, last_c = 0;
    for (;;) {
        uint64_t t = h_->tail.load(std::memory_order_acquire);
        uint64_t c = at(t).load(std::memory_order_acquire);
        uint32_t seq = seq_of(c), val = val_of(c);
        if (seq == uint32_t(t) && val == kEmpty) {
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

void Ring::remove(uint64_t h, uint64_t c) {
    at(h).compare_exchange_strong(c, cell(h + mask_ + 1, kEmpty), std::memory_order_acq_rel);
    h_->head.compare_exchange_strong(h, h + 1, std::memory_order_acq_rel);
}

bool Ring::maybe_nonempty() const {
    uint64_t h = h_->head.load(std::memory_order_seq_cst);
    uint64_t c = at(h).load(std::memory_order_seq_cst);
    return !(seq_of(c) == uint32_t(h) && val_of(c) == kEmpty);
}

} // namespace shmq::detail
