// send.cpp - the producer's side: take a FREE slot, write it, make it READY.
//
//   FREE --(pop free ring, CAS)--> WRITING(me) --(write, CAS)--> READY --> ready ring
//                                                          `--(CAS)--> DELAYED(until)   (with a delay: delay.cpp)
//
// Die after the first CAS and the slot is WRITING by a dead owner: recovery
// frees it. Die after the second and the publish intent tells recovery to push.
#include "crashpoint.hpp"
#include "queue.hpp"
#include "sys.hpp"
#include "wait.hpp"

#include <climits>
#include <cstring>

namespace shmq::detail {

bool Queue::try_claim_free(uint32_t *out, SlotWord *word) {
    SlotWord got{0};
    uint32_t i = free_.pop([&](uint32_t v, uint64_t) {
        if (v >= p_.slot_count) return Take::Stale; // hostile or torn entry: drop it
        SlotWord w{slot(v)->state.load(std::memory_order_acquire)};
        if (w.state() != SlotState::Free) return Take::Stale;
        SlotWord nw = w.next(SlotState::Writing, me_, 0);
        if (!slot(v)->state.compare_exchange_strong(w.raw, nw.raw, std::memory_order_acq_rel))
            return Take::Retry;
        got = nw;
        return Take::Taken;
    });
    if (i == Ring::kEmpty) return false;
#ifndef SHMQ_EXPLORE // a hint: in the exploration build it would only add scheduling points
    prefetch_slot(free_.peek()); // the slot our next send will most likely take
#endif
    *out = i;
    *word = got;
    return true;
}

int Queue::claim_free(uint32_t *out, SlotWord *word, int64_t timeout_ns) {
    if (closed()) return SHMQ_ECLOSED;
    if (try_claim_free(out, word)) return SHMQ_OK;
    if (p_.overflow == SHMQ_OVERFLOW_FAIL) return SHMQ_EFULL;
    if (p_.overflow == SHMQ_OVERFLOW_SPILL && hdr_->spill_full.load(std::memory_order_relaxed) != 0 &&
        daemon_alive())
        return SHMQ_EFULL; // shmqd's spill store reached its disk cap (a dead daemon's flag is ignored)
    if (timeout_ns == 0) return SHMQ_EFULL;
    return wait_for(Wait::Space, timeout_ns, [&] { return try_claim_free(out, word); });
}

// Make WRITING slot i READY. `meta` carries the id, attempts and enqueue
// time of a message coming back from disk; null means a new message.
// `spec` may ask for a delay (delay.cpp); `id` gets the message's id.
int Queue::publish(uint32_t i, SlotWord writing, size_t len, const MessageMeta *meta, const SendSpec &spec,
                   uint64_t *id) {
    SlotHeader *s = slot(i);
    const uint64_t my_id = meta ? meta->id : hdr_->next_id.fetch_add(1, std::memory_order_relaxed);
    s->id.store(my_id, std::memory_order_relaxed);
    s->enqueued_ns.store(meta ? meta->enqueued_ns : real_ns(), std::memory_order_relaxed);
    s->len.store(uint32_t(len), std::memory_order_relaxed);
    s->attempts.store(meta ? meta->attempts : 0, std::memory_order_relaxed);
    s->expires_ms.store(expiry_of(spec, meta), std::memory_order_relaxed);
    // A new life starts unlisted: an entry of an earlier life, still held by
    // a slow consumer, cannot match (ring.hpp). Released by the CAS below.
    s->listed_pos.store(kUnlisted, std::memory_order_relaxed);
    SHMQ_CRASH_POINT("send.writing");
    // SYNC POINT: the release in this CAS publishes payload and header fields
    // to the consumer whose acquire CAS leases the slot.
    SlotWord ready = writing.next(SlotState::Ready, kNoOwner, 0);
    Points at{"send.after_intent", "send.after_ready", "send.after_push"};
    if (spec.delay_ns > 0 ? !make_delayed(i, writing, spec.delay_ns)
                          : !transition_and_push(i, writing, ready, kReadyRing, at))
        return SHMQ_ELEASELOST;
    if (id != nullptr) *id = my_id;
    if (meta == nullptr) {
        bump(kSent, 1);
        mark_role(1);
    }
    return SHMQ_OK;
}

void Queue::wake(Wait what, uint32_t n) {
    const bool ready = what == Wait::Ready;
    // SYNC POINT: this seq_cst load pairs with the consumer's seq_cst
    // fd_waiters increment, as wait_notify's load pairs with wait_prepare.
    if (ready && hdr_->fd_waiters.load(std::memory_order_seq_cst) != 0) notify_fd_waiters();
    wait_notify(ready ? hdr_->ready_wait : hdr_->space_wait, n);
}

int Queue::send(const void *data, size_t len, int64_t timeout_ns, const SendSpec &spec, uint64_t *id) {
    if (data == nullptr && len > 0) return SHMQ_EINVAL;
    if (len > p_.slot_size) return SHMQ_ETOOBIG;
    uint32_t i;
    SlotWord w{0};
    int rc = claim_free(&i, &w, timeout_ns);
    if (rc != SHMQ_OK) return rc;
    if (len > 0) std::memcpy(payload(i), data, len);
    rc = publish(i, w, len, nullptr, spec, id);
    if (rc == SHMQ_OK) wake_sent(spec, 1);
    return rc;
}

int Queue::send_batch(const shmq_iov *msgs, size_t count, size_t *sent, int64_t timeout_ns, const SendSpec &spec,
                      uint64_t *ids) {
    size_t n = 0;
    int rc = SHMQ_OK;
    if (msgs == nullptr && count > 0) rc = SHMQ_EINVAL;
    for (; rc == SHMQ_OK && n < count; ++n) {
        const shmq_iov &m = msgs[n];
        if ((m.data == nullptr && m.len > 0) || m.len > p_.slot_size) {
            rc = m.len > p_.slot_size ? SHMQ_ETOOBIG : SHMQ_EINVAL;
            break;
        }
        uint32_t i;
        SlotWord w{0};
        if (!try_claim_free(&i, &w)) {
            wake(Wait::Ready, UINT32_MAX); // let consumers drain what we sent before we wait
            rc = claim_free(&i, &w, timeout_ns);
            if (rc != SHMQ_OK) break;
        }
        if (m.len > 0) std::memcpy(payload(i), m.data, m.len);
        rc = publish(i, w, m.len, nullptr, spec, ids != nullptr ? &ids[n] : nullptr);
        if (rc != SHMQ_OK) break;
    }
    if (n > 0) wake_sent(spec, uint32_t(n < UINT32_MAX ? n : UINT32_MAX));
    if (sent != nullptr) *sent = n;
    return rc;
}

int Queue::reserve(shmq_reservation *r, int64_t timeout_ns) {
    if (r == nullptr) return SHMQ_EINVAL;
    uint32_t i;
    SlotWord w{0};
    int rc = claim_free(&i, &w, timeout_ns);
    if (rc != SHMQ_OK) return rc;
    r->data = payload(i);
    r->capacity = p_.slot_size;
    r->token[0] = tag_ | i;
    r->token[1] = w.raw;
    return SHMQ_OK;
}

// Is `r` a live reservation of this handle? (Its slot is WRITING by us.)
bool Queue::valid_reservation(const shmq_reservation *r) const {
    if (r == nullptr || (r->token[0] & ~0xFFFFFFFFULL) != tag_ || uint32_t(r->token[0]) >= p_.slot_count)
        return false;
    SlotWord w{r->token[1]};
    return w.state() == SlotState::Writing && w.owner() == me_;
}

int Queue::commit(shmq_reservation *r, size_t len, const SendSpec &spec, uint64_t *id) {
    if (!valid_reservation(r)) return SHMQ_EINVAL;
    if (len > p_.slot_size) return SHMQ_ETOOBIG;
    int rc = publish(uint32_t(r->token[0]), SlotWord{r->token[1]}, len, nullptr, spec, id);
    r->token[1] = 0;
    r->data = nullptr;
    if (rc == SHMQ_OK) wake_sent(spec, 1);
    return rc;
}

int Queue::abort(shmq_reservation *r) {
    if (!valid_reservation(r)) return SHMQ_EINVAL;
    SlotWord w{r->token[1]};
    uint32_t i = uint32_t(r->token[0]);
    r->token[1] = 0;
    r->data = nullptr;
    if (!transition_and_push(i, w, w.next(SlotState::Free, kNoOwner, 0), kFreeRing, Points{}))
        return SHMQ_ELEASELOST;
    wake(Wait::Space, 1);
    return SHMQ_OK;
}

} // namespace shmq::detail
