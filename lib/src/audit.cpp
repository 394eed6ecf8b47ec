// audit.cpp - segment consistency check (audit.hpp).
#include "audit.hpp"

#include <vector>

namespace shmq::detail {

static std::vector<bool> listed(Queue &q, RingId r, uint32_t *bad) {
    std::vector<bool> seen(q.layout().slot_count, false);
    q.ring(r).for_each([&](uint32_t v, uint64_t pos) {
        if (v >= seen.size()) ++*bad;
        else if (r == kFreeRing || q.slot(v)->listed_pos.load(std::memory_order_acquire) == pos) seen[v] = true;
    });
    return seen;
}

Audit audit(Queue &q) {
    Audit a;
    std::vector<bool> in_free = listed(q, kFreeRing, &a.bad_entries);
    std::vector<bool> in_ready = listed(q, kReadyRing, &a.bad_entries);
    for (uint32_t i = 0; i < q.layout().slot_count; ++i) {
        SlotWord w{q.slot(i)->state.load(std::memory_order_acquire)};
        ++a.by_state[uint32_t(w.state())];
        if (w.state() == SlotState::Free && q.lane() == kNoLane && !in_free[i]) ++a.free_unlisted; // a group's FREE word is in no ring
        if (w.state() == SlotState::Ready && !in_ready[i]) ++a.ready_unlisted;
    }
    return a;
}

} // namespace shmq::detail
