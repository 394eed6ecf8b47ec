// intent.cpp - publish intents: a slot transition that must be followed by a
// ring push survives the death of the process making it.
//
// The crash story. A transition such as WRITING->READY is one CAS on the slot
// word, and the push that lists the slot is another step on the ring. A
// process killed between the two would leave a READY slot that no ring names.
// So, before the CAS, the process records in its own client record the
// intent (ring, slot, target word); then it CASes, pushes, and clears the
// intent. A recoverer that finds the process dead (recovery.cpp) looks at
// each recorded intent: if the slot still holds exactly the target word, the
// push may not have happened, so it pushes (a duplicate entry at worst, which
// the ring's listed position makes stale, ring.hpp); if the word moved on,
// someone has taken the slot since, so nothing is owed. The exploration
// harness kills processes at every access of this protocol (tests/explore).
#include "crashpoint.hpp"
#include "queue.hpp"
#include "sys.hpp"

namespace shmq::detail {

Pending *Queue::claim_pending() {
    // A single-threaded handle has no one to share its entries with.
    if (single_) return &rec_->pending[0];
    for (int spins = 0;; ++spins) {
        for (auto &pd : rec_->pending) {
            uint64_t expected = 0;
            if (pd.target.compare_exchange_strong(expected, kPendingClaimed, std::memory_order_acquire))
                return &pd;
        }
        // All taken: more threads publishing on this handle at once than
        // there are entries, or our record was scribbled on from outside.
        // Past a bound, share entry 0 rather than hang: the cost is only that
        // a crash in that window could leave one message unlisted.
        if (spins > 100000) return &rec_->pending[0];
        cpu_relax();
    }
}

// List slot i on ring r. For the ready ring, the position is written into the
// slot before the cell is filled (ring.hpp: one life, one entry). A full ring
// cannot lose the slot: the relist flag makes the next recovery list it.
void Queue::list(uint32_t i, RingId r, Ring::Run *run) {
    auto note = [&](uint64_t pos) {
        // SYNC POINT: relaxed, published by the seq_cst cell CAS right after
        // it (ring.hpp, fill), which pairs with the popper's acquire load of
        // the cell before it loads listed_pos (recv.cpp, try_lease).
        if (r == kReadyRing) slot(i)->listed_pos.store(pos, std::memory_order_relaxed);
    };
    Ring &ring = r == kReadyRing ? ready_ : free_;
    bool ok = run != nullptr ? ring.fill(*run, i, note) : ring.push(i, note);
    if (!ok) hdr_->relist.store(1, std::memory_order_release);
}

bool Queue::transition_and_push(uint32_t i, SlotWord from, SlotWord to, RingId r, const Points &at, Ring::Run *run) {
    Pending *pd = claim_pending();
    pd->state.store(to.raw, std::memory_order_relaxed);
    // Bits 40-47 name the slots the word is in: 0 a queue's or a topic's
    // payload slots, k + 1 group lane k's (topic.cpp).
    const uint64_t lane = lane_ == kNoLane ? 0 : lane_ + 1;
    pd->target.store(kPendingUsed | lane << 40 | uint64_t(r) << 32 | i, std::memory_order_release);
    SHMQ_CRASH_POINT(at.intent);
    // The intent is in shared memory before the CAS: from here on, a
    // recoverer that finds this process dead finishes the push.
    bool ok = slot(i)->state.compare_exchange_strong(from.raw, to.raw, std::memory_order_acq_rel);
    if (ok) {
        SHMQ_CRASH_POINT(at.cas);
        list(i, r, run);
        SHMQ_CRASH_POINT(at.push);
    }
    pd->target.store(0, std::memory_order_release);
    return ok;
}

uint32_t Queue::redo_pending(ClientRecord *dead) {
    uint32_t redone = 0;
    for (auto &pd : dead->pending) {
        uint64_t t = pd.target.load(std::memory_order_acquire);
        if (t == 0) continue;
        uint32_t i = uint32_t(t), r = uint32_t(t >> 32) & 1;
        Queue *in = view_of(uint32_t(t >> 40) & 0xFF);
        // Push again only if the slot is still in the state the push was for.
        if (t != kPendingClaimed && in != nullptr && i < p_.slot_count &&
            in->slot(i)->state.load(std::memory_order_acquire) == pd.state.load(std::memory_order_relaxed)) {
            in->list(i, RingId(r));
            ++redone;
        }
        pd.target.compare_exchange_strong(t, 0, std::memory_order_acq_rel);
    }
    return redone;
}

} // namespace shmq::detail
