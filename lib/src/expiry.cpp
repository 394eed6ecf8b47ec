// expiry.cpp - time to live: a message not leased before its expiry is
// dead-lettered with reason "expired", never delivered.
//
//   READY or DELAYED --(one CAS, once expires_ms is reached)--> DEAD(expired)
//
// The expiry is an ms-time in the slot header (expires_ms), written while the
// slot is WRITING and published by the CAS that makes it READY or DELAYED, so
// whoever acquires that state reads this life's expiry. Two parties apply it:
// a consumer whose pop meets an expired READY slot dead-letters it in place
// instead of leasing it (recv.cpp), so no lease ever begins at or after the
// expiry; and recovery's slot scan dead-letters expired READY and DELAYED
// slots, so that shmqd's tick moves them to the dead-letter store even when
// no consumer runs. Both are one CAS from the state word they read: a kill
// before it leaves the message where it was, after it the message is DEAD
// and its ring entry, if any, is stale (ring.hpp). A lease taken before the
// expiry runs its course; a nack or a reclaim after the expiry puts the
// message back, and the next pop or scan dead-letters it. Nobody needs to be
// woken for an expiry, so it does not touch next_due_ms.
#include "queue.hpp"
#include "sys.hpp"

#include <algorithm>

namespace shmq::detail {

// The expiry of a message stored now: with `spec`, its ttl (or the queue's)
// after it becomes deliverable (its delay over); coming back from disk
// (`meta`), the instant it had when it left (a spilled message; a redriven
// dead letter has none). Rounded down, so that it expires early rather than
// late. 0 = never.
uint32_t Queue::expiry_of(const SendSpec &spec, const MessageMeta *meta) const {
    int64_t after_ns; // from now
    if (meta != nullptr && !meta->fresh) {
        if (meta->expires_ns == 0) return 0;
        after_ns = std::max<int64_t>(meta->expires_ns - real_ns(), 0); // past: expires at once
    } else {
        if (spec.ttl_ns == SHMQ_TTL_NEVER) return 0;
        int64_t ttl = spec.ttl_ns > 0 ? spec.ttl_ns : int64_t(p_.ttl_ms) * 1000000;
        if (ttl <= 0) return 0;
        after_ns = spec.delay_ns + ttl;
    }
    uint32_t t = uint32_t(uint64_t(mono_ns() - epoch_ + after_ns) / 1000000);
    return t != 0 ? t : 1; // 0 means never (after the ms-time wraps, 49 days on)
}

// Slot i's expiry as a CLOCK_REALTIME instant (0: none), for a message
// leaving shared memory for disk (spill): ms-times mean nothing outside it.
int64_t Queue::expiry_real_ns(uint32_t i) const {
    uint32_t e = slot(i)->expires_ms.load(std::memory_order_relaxed);
    if (e == 0) return 0;
    int64_t left = int64_t(int32_t(e - now_ms())) * 1000000;
    int64_t at = real_ns() + left;
    return at != 0 ? at : 1;
}

// Has slot i's message reached its expiry at ms-time `now`? Call with the
// slot's state word loaded (acquire): the CAS that acts on it checks the life.
bool Queue::expired(uint32_t i, uint32_t now) const {
    uint32_t e = slot(i)->expires_ms.load(std::memory_order_relaxed);
    return e != 0 && time_reached(e, now);
}

// The same at now_ms(), read only for a message that has an expiry (the
// pop's deadline base is rounded up, and a pop must never lease at or after
// the expiry).
bool Queue::expired_now(uint32_t i) const {
    uint32_t e = slot(i)->expires_ms.load(std::memory_order_relaxed);
    return e != 0 && time_reached(e, now_ms());
}

// READY or DELAYED `from` -> DEAD(expired). False if the slot moved on.
bool Queue::expire(uint32_t i, SlotWord from) {
    SlotWord dead = from.next(SlotState::Dead, kNoOwner, uint32_t(DeadReason::Expired));
    if (!slot(i)->state.compare_exchange_strong(from.raw, dead.raw, std::memory_order_acq_rel)) return false;
    hdr_->expired.fetch_add(1, std::memory_order_relaxed);
    return true;
}

// For a pop that met expired READY slot i in `from`: dead-letter it instead
// of taking it. Its ring entry is spent either way (a DEAD slot's is stale);
// Retry if the slot moved on meanwhile, so that the pop looks again.
Take Queue::expire_popped(uint32_t i, SlotWord from) {
    if (!expire(i, from)) return Take::Retry;
    bump(kDead, 1);
    return Take::Stale;
}

} // namespace shmq::detail
