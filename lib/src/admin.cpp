// admin.cpp - what shmqd does to a queue beyond recovery: its heartbeat, and
// moving messages between shared memory and disk (dead letters, spill).
//
// Disk first, then the slot: a message is written and synced before its slot
// is freed, so a daemon killed in between leaves it in memory *and* on disk
// (a duplicate), never in neither.
#include "crashpoint.hpp"
#include "queue.hpp"
#include "sys.hpp"
#include "wait.hpp"

#include <climits>
#include <cstring>
#include <unistd.h>

namespace shmq::detail {

// Spilling holds a lease for as long as a disk write may take.
constexpr uint32_t kSpillLeaseMs = 600000;

void Queue::heartbeat() {
    hdr_->daemon_pid.store(uint32_t(getpid()), std::memory_order_relaxed);
    uint32_t now = now_ms();
    hdr_->daemon_heartbeat_ms.store(now != 0 ? now : 1, std::memory_order_relaxed); // 0 means "never"
    rec_->role.fetch_or(SHMQ_ROLE_DAEMON, std::memory_order_relaxed);
}

bool Queue::release_dead(uint32_t i, SlotWord w) {
    SHMQ_CRASH_POINT("dlq.after_write");
    bool ok = free_slot(i, w);
    if (ok) wake(Wait::Space, 1);
    return ok;
}

bool Queue::take_for_spill(Outgoing *out) {
    for (;;) {
        uint32_t deadline = now_ms() + kSpillLeaseMs;
        SlotWord got{0};
        uint32_t i = ready_.pop([&](uint32_t v, uint64_t pos) {
            if (v >= p_.slot_count) return Take::Stale;
            SlotWord w{slot(v)->state.load(std::memory_order_acquire)};
            if (w.state() != SlotState::Ready) return Take::Stale;
            if (slot(v)->listed_pos.load(std::memory_order_acquire) != pos) return Take::Stale;
            if (expired(v, now_ms())) return expire_popped(v, w); // to the dead letters, not to disk
            SlotWord nw = w.next(SlotState::Leased, me_, deadline);
            if (!slot(v)->state.compare_exchange_strong(w.raw, nw.raw, std::memory_order_acq_rel)) return Take::Retry;
            got = nw;
            return Take::Taken;
        });
        if (i == Ring::kEmpty) return false;
        rec_->leased.fetch_add(1, std::memory_order_relaxed); // given back by whoever ends the lease
        // Dying here: LEASED by a dead owner with its delivery count unchanged;
        // recovery makes it READY again (after the backoff for its attempts).
        SlotHeader *s = slot(i);
        uint32_t len = s->len.load(std::memory_order_relaxed);
        uint32_t hlen = headers_len_of(i, len);
        if (hlen == ~0u) { // a broken writer's message: dead, as in drain_dead
            SlotWord dead = got.next(SlotState::Dead, kNoOwner, uint32_t(DeadReason::Invalid));
            if (s->state.compare_exchange_strong(got.raw, dead.raw, std::memory_order_acq_rel)) lease_ended(me_);
            continue;
        }
        *out = Outgoing{{s->id.load(std::memory_order_relaxed), s->attempts.load(std::memory_order_relaxed),
                         s->enqueued_ns.load(std::memory_order_relaxed), expiry_real_ns(i)},
                        0, payload(i), len, i, got.raw};
        out->meta.headers_len = hlen;
        return true;
    }
}

bool Queue::return_spilled(const Outgoing &out) {
    SlotWord w{out.word};
    if (out.slot >= p_.slot_count || w.state() != SlotState::Leased || w.owner() != me_) return false;
    bool ok = transition_and_push(out.slot, w, w.next(SlotState::Ready, kNoOwner, 0), kReadyRing, Points{});
    if (ok) lease_ended(me_);
    if (ok) wake(Wait::Ready, 1);
    return ok;
}

bool Queue::release_spilled(const Outgoing &out) {
    SHMQ_CRASH_POINT("spill.after_write");
    SlotWord w{out.word};
    if (out.slot >= p_.slot_count || w.state() != SlotState::Leased || w.owner() != me_) return false;
    bool ok = free_slot(out.slot, w);
    if (ok) lease_ended(me_);
    if (ok) wake(Wait::Space, 1);
    return ok;
}

// A message that comes back keeps its id, so ids taken from now on must be
// above it: a segment created again after a reboot starts at 1, and its
// snapshot's messages would otherwise share ids with new ones. A monotone
// maximum: killed before it, nothing was published; after it, a gap.
void Queue::raise_next_id(uint64_t id) {
    uint64_t cur = hdr_->next_id.load(std::memory_order_relaxed);
    while (cur <= id && !hdr_->next_id.compare_exchange_strong(cur, id + 1, std::memory_order_relaxed)) {
    }
}

int Queue::restore(const MessageMeta &meta, const void *data, size_t len, const SendSpec &spec, uint32_t groups) {
    if (lane_ != kNoLane) return pool_->restore(meta, data, len, spec, 1u << lane_); // back into this group only
    if (spec.headers_len > p_.slot_size || len > p_.slot_size - spec.headers_len) return SHMQ_ETOOBIG;
    if (data == nullptr && len > 0) return SHMQ_EINVAL;
    uint32_t i;
    SlotWord w{0};
    if (!try_claim_free(&i, &w)) return SHMQ_EFULL;
    raise_next_id(meta.id);
    if (len > 0) std::memcpy(payload(i), data, len);
    int rc = publish(i, w, len, &meta, spec, nullptr, groups);
    if (rc == SHMQ_OK) wake_sent(spec, 1);
    return rc;
}

// Racy by design (peek reads a slot it does not own); the caller re-checks
// the state word afterwards and discards the copy if it changed. Atomic byte
// loads keep that race defined; acquire keeps the re-check after them.
void Queue::copy_payload(char *to, uint32_t i, uint32_t len) const {
    const char *from = payload(i);
    for (uint32_t k = 0; k < len; ++k)
        to[k] = std::atomic_ref<char>(const_cast<char &>(from[k])).load(std::memory_order_acquire);
}

// Purge takes READY messages through the ready ring, as consumers do, so it
// leaves no stale entries behind; DELAYED ones are found by a scan.
uint32_t Queue::purge() {
    uint32_t n = 0;
    for (;;) {
        uint32_t i = ready_.pop([&](uint32_t v, uint64_t pos) {
            if (v >= p_.slot_count) return Take::Stale;
            SlotWord w{slot(v)->state.load(std::memory_order_acquire)};
            if (w.state() != SlotState::Ready || slot(v)->listed_pos.load(std::memory_order_acquire) != pos)
                return Take::Stale;
            return free_slot(v, w) ? Take::Taken : Take::Retry;
        });
        if (i == Ring::kEmpty) break;
        ++n;
    }
    for (uint32_t i = 0; i < p_.slot_count; ++i) {
        SlotWord w{slot(i)->state.load(std::memory_order_acquire)};
        if (w.state() != SlotState::Delayed) continue;
        if (free_slot(i, w)) ++n;
    }
    if (n > 0) wake(Wait::Space, UINT32_MAX);
    return n;
}

void Queue::set_spill_full(bool full) { hdr_->spill_full.store(full ? 1 : 0, std::memory_order_relaxed); }

void Queue::set_spilled(uint64_t n) { hdr_->spilled.store(int64_t(n), std::memory_order_relaxed); }

} // namespace shmq::detail
