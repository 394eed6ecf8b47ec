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

// Take FREE slot v for writing (a free-ring pop's decision).
Take Queue::take_free(uint32_t v, SlotWord *got) {
    if (v >= p_.slot_count) return Take::Stale; // hostile or torn entry: drop it
    SlotWord w{slot(v)->state.load(std::memory_order_acquire)};
    if (w.state() != SlotState::Free) return Take::Stale;
    SlotWord nw = w.next(SlotState::Writing, me_, 0);
    if (!slot(v)->state.compare_exchange_strong(w.raw, nw.raw, std::memory_order_acq_rel)) return Take::Retry;
    *got = nw;
    return Take::Taken;
}

std::atomic<uint32_t> g_slot_cache_share{16};

// A slot from this producer's cache, refilled with one free-ring run (one
// head move for up to kCache + 1 slots) when empty. The cached slots are
// already WRITING(me): nothing about them is only in this process's memory
// (queue.hpp, cache_).
bool Queue::take_cached(uint32_t *out, SlotWord *word) {
    if (cached_ == 0) cached_ = try_claim_run(cache_, cache_max_ + 1);
    if (cached_ == 0) return false;
    --cached_;
    *out = cache_[cached_].slot;
    *word = cache_[cached_].word;
#ifndef SHMQ_EXPLORE
    if (cached_ > 0) prefetch_slot(cache_[cached_ - 1].slot); // our next send's slot
#endif
    return true;
}

bool Queue::try_claim_free(uint32_t *out, SlotWord *word) {
    if (cache_max_ > 0) return take_cached(out, word);
    uint32_t i = free_.pop([&](uint32_t v, uint64_t) { return take_free(v, word); });
    if (i == Ring::kEmpty) return false;
#ifndef SHMQ_EXPLORE // a hint: in the exploration build it would only add scheduling points
    prefetch_slot(free_.peek()); // the slot our next send will most likely take
#endif
    *out = i;
    return true;
}

// Up to max FREE slots, taken in one run of the free ring (one head move).
uint32_t Queue::try_claim_run(Claimed *run, uint32_t max) {
    uint32_t idx[kRun];
    uint32_t taken = 0;
    uint32_t n = free_.pop_run(idx, max < kRun ? max : uint32_t(kRun), [&](uint32_t v, uint64_t) {
        Take t = take_free(v, &run[taken].word);
        taken += t == Take::Taken;
        return t;
    });
    for (uint32_t k = 0; k < n; ++k) run[k].slot = idx[k];
    return n;
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
                   uint64_t *id, uint32_t groups, Ring::Run *run) {
    SlotHeader *s = slot(i);
    const uint64_t my_id = meta ? meta->id : hdr_->next_id.fetch_add(1, std::memory_order_relaxed);
    s->id.store(my_id, std::memory_order_relaxed);
    s->enqueued_ns.store(meta ? meta->enqueued_ns : real_ns(), std::memory_order_relaxed);
    s->len.store(uint32_t(len), std::memory_order_relaxed);
    s->attempts.store(meta ? meta->attempts : 0, std::memory_order_relaxed);
    s->expires_ms.store(expiry_of(spec, meta), std::memory_order_relaxed);
    if (spec.headers_len > 0) write_headers(spec, payload(i) + len); // headers.cpp
    s->headers_len.store(spec.headers_len, std::memory_order_relaxed);
    if (p_.durability == SHMQ_DURABILITY_DISK) seal(i); // its checksum (reboot.cpp), released by the CAS below
    // A new life starts unlisted: an entry of an earlier life, still held by
    // a slow consumer, cannot match (ring.hpp). Released by the CAS below.
    s->listed_pos.store(kUnlisted, std::memory_order_relaxed);
    SHMQ_CRASH_POINT("send.writing");
    // SYNC POINT: the release in this CAS publishes payload and header fields
    // to the consumer whose acquire CAS leases the slot.
    SlotWord ready = writing.next(SlotState::Ready, kNoOwner, 0);
    Points at{"send.after_intent", "send.after_ready", "send.after_push"};
    if (topic()) { // one payload, every group (topic.cpp)
        if (int rc = publish_topic(i, writing, groups, spec, meta); rc != SHMQ_OK) return rc;
    } else if (spec.delay_ns > 0 ? !make_delayed(i, writing, spec.delay_ns)
                                 : !transition_and_push(i, writing, ready, kReadyRing, at, run)) {
        return SHMQ_ELEASELOST;
    }
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
    wait_notify(ready ? *ready_ev_ : hdr_->space_wait, n);
}

int Queue::send(const void *data, size_t len, int64_t timeout_ns, const SendSpec &spec, uint64_t *id) {
    if ((data == nullptr && len > 0) || lane_ != kNoLane) return SHMQ_EINVAL; // a group handle only consumes
    if (len > p_.slot_size - spec.headers_len || spec.headers_len > p_.slot_size) return SHMQ_ETOOBIG;
    if (spec.dedup_key != nullptr && p_.dedup_capacity == 0) return SHMQ_EINVAL; // no window on this queue
    uint32_t i;
    SlotWord w{0};
    int rc = claim_free(&i, &w, timeout_ns);
    if (rc != SHMQ_OK) return rc;
    if (len > 0) std::memcpy(payload(i), data, len);
    return publish_one(i, w, len, spec, timeout_ns, id);
}

// Publish claimed slot i: plainly, or under a deduplication key (dedup.cpp).
int Queue::publish_one(uint32_t i, SlotWord w, size_t len, const SendSpec &spec, int64_t timeout_ns, uint64_t *id) {
    Dedup how = Dedup::Stored;
    int rc = spec.dedup_key != nullptr ? send_keyed(i, w, len, spec, timeout_ns, id, &how)
                                       : publish(i, w, len, nullptr, spec, id);
    if (rc == SHMQ_OK && how == Dedup::Stored) wake_sent(spec, 1);
    if (rc == SHMQ_OK && spec.duplicate != nullptr) *spec.duplicate = how == Dedup::Duplicate;
    return rc;
}

// A batch whose messages carry deduplication keys: one keyed send each.
int Queue::send_batch_keyed(const shmq_iov *msgs, size_t count, size_t *sent, int64_t timeout_ns,
                            const SendSpec &spec, uint64_t *ids) {
    size_t n = 0;
    int rc = p_.dedup_capacity == 0 ? SHMQ_EINVAL : SHMQ_OK;
    for (; rc == SHMQ_OK && n < count; ++n) {
        SendSpec one = spec;
        one.dedup_keys = nullptr;
        one.dedup_key = spec.dedup_keys[n].data;
        one.dedup_key_len = uint32_t(spec.dedup_keys[n].len);
        one.duplicate = spec.duplicate != nullptr ? &spec.duplicate[n] : nullptr;
        rc = send(msgs[n].data, msgs[n].len, timeout_ns, one, ids != nullptr ? &ids[n] : nullptr);
        if (rc != SHMQ_OK) break;
    }
    if (sent != nullptr) *sent = n;
    return rc;
}

// A batch goes in runs: claim up to kRun free slots, then take their ids in
// one step and publish them with one clock read; counters move once per run.
int Queue::send_batch(const shmq_iov *msgs, size_t count, size_t *sent, int64_t timeout_ns, const SendSpec &spec,
                      uint64_t *ids) {
    size_t n = 0;
    int rc = (msgs == nullptr && count > 0) || lane_ != kNoLane ? SHMQ_EINVAL : SHMQ_OK;
    if (rc == SHMQ_OK && spec.dedup_keys != nullptr) return send_batch_keyed(msgs, count, sent, timeout_ns, spec, ids);
    if (spec.duplicate != nullptr) std::memset(spec.duplicate, 0, count);
    Claimed run[kRun];
    while (rc == SHMQ_OK && n < count) {
        size_t k = 0;
        rc = claim_run(msgs + n, count - n, timeout_ns, spec.headers_len, run, &k);
        int prc = publish_run(msgs + n, run, k, spec, ids != nullptr ? ids + n : nullptr, &k);
        if (rc == SHMQ_OK) rc = prc;
        n += k;
    }
    if (n > 0) wake_sent(spec, uint32_t(n < UINT32_MAX ? n : UINT32_MAX));
    if (sent != nullptr) *sent = n;
    return rc;
}

// Claim free slots for a prefix of msgs (at most kRun) into run; waits only
// when none at all is free. A bad message is not claimed for: its error comes
// back once every message before it is.
int Queue::claim_run(const shmq_iov *msgs, size_t count, int64_t timeout_ns, uint32_t headers_len, Claimed *run,
                     size_t *claimed) {
    size_t valid = 0;
    int bad = SHMQ_OK;
    const size_t room = headers_len <= p_.slot_size ? p_.slot_size - headers_len : 0; // for the payload
    for (; valid < count && valid < kRun && bad == SHMQ_OK; ++valid) {
        const shmq_iov &m = msgs[valid];
        bad = m.len > room || headers_len > p_.slot_size ? SHMQ_ETOOBIG
              : m.data == nullptr && m.len > 0             ? SHMQ_EINVAL
                                                           : SHMQ_OK;
    }
    if (bad != SHMQ_OK) --valid;
    size_t k = 0;
    for (; k < valid && cached_ > 0; ++k) run[k] = cache_[--cached_]; // the slots we keep first
    if (k < valid) k += try_claim_run(run + k, uint32_t(valid - k));
    *claimed = 0;
    if (k == 0 && valid > 0) {
        wake(Wait::Ready, UINT32_MAX); // let consumers drain what we sent before we wait
        int rc = claim_free(&run[0].slot, &run[0].word, timeout_ns);
        if (rc != SHMQ_OK) return rc;
        k = 1;
    }
    *claimed = k;
    return k == valid ? bad : SHMQ_OK;
}

// Fill and publish the k slots of run. *published gets how many went out
// (a prefix); the rest, if one failed, are given back.
int Queue::publish_run(const shmq_iov *msgs, const Claimed *run, size_t k, const SendSpec &spec, uint64_t *ids,
                       size_t *published) {
    if (k == 0) return *published = 0, SHMQ_OK;
    MessageMeta meta{hdr_->next_id.fetch_add(k, std::memory_order_relaxed), 0, real_ns()};
    meta.fresh = true;
    size_t j = 0;
    int rc = SHMQ_OK;
    Ring::Run cells; // the ready ring's tail moves once for the run (ring.hpp, fill)
    for (; j < k; ++j, ++meta.id) {
        if (msgs[j].len > 0) std::memcpy(payload(run[j].slot), msgs[j].data, msgs[j].len);
        rc = publish(run[j].slot, run[j].word, msgs[j].len, &meta, spec, ids != nullptr ? &ids[j] : nullptr, 0,
                     &cells);
        if (rc != SHMQ_OK) break;
    }
    ready_.end(cells);
    for (size_t r = j + 1; r < k; ++r) // after a lost slot: give back what we still hold
        if (transition_and_push(run[r].slot, run[r].word, run[r].word.next(SlotState::Free, kNoOwner, 0),
                                kFreeRing, Points{}))
            wake(Wait::Space, 1);
    if (j > 0) {
        bump(kSent, j);
        mark_role(1);
    }
    *published = j;
    return rc;
}

int Queue::reserve(shmq_reservation *r, int64_t timeout_ns) {
    if (r == nullptr || lane_ != kNoLane) return SHMQ_EINVAL;
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
    if (len > p_.slot_size - spec.headers_len || spec.headers_len > p_.slot_size) return SHMQ_ETOOBIG;
    if (spec.dedup_key != nullptr && p_.dedup_capacity == 0) return SHMQ_EINVAL;
    const uint32_t i = uint32_t(r->token[0]);
    const SlotWord w{r->token[1]};
    r->token[1] = 0;
    r->data = nullptr;
    return publish_one(i, w, len, spec, SHMQ_FOREVER, id);
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
