// ring.cpp - push and cell removal of the crash-tolerant index ring (ring.hpp).
#include "ring.hpp"

namespace shmq::detail {

void Ring::init(RingHeader *h, A64 *cells, uint32_t cap) {
    h->head.store(0, std::memory_order_relaxed);
    h->tail.store(0, std::memory_order_relaxed);
    for (uint64_t p = 0; p < cap; ++p) cells[p].store(cell(p, kEmpty), std::memory_order_relaxed);
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
