// recv.cpp - the consumer's side: lease a READY slot, then ack, nack, reject
// or extend it. Every step names its receipt (slot, state word): a consumer
// whose lease was reclaimed fails its CAS and gets SHMQ_ELEASELOST, so it
// never touches a slot that is no longer its own.
//
//   READY --(pop ready ring, CAS)--> LEASED(me, deadline) --ack--> FREE --> free ring
//                                        |--nack--> DELAYED(until) or READY --> ready ring
//                                        `--reject / out of attempts--> DEAD
#include "crashpoint.hpp"
#include "queue.hpp"
#include "sys.hpp"
#include "wait.hpp"

#include <algorithm>
#include <climits>

namespace shmq::detail {

constexpr uint32_t kMaxTimeMs = 86400000;

// Lease READY slot v listed at ring position pos (a ready-ring pop's
// decision). *now is the base of the deadline, read on first need.
Take Queue::take_ready(uint32_t v, uint64_t pos, uint32_t *now, SlotWord *got) {
    if (v >= p_.slot_count) return Take::Stale;
    SlotWord w{slot(v)->state.load(std::memory_order_acquire)};
    if (w.state() != SlotState::Ready) return Take::Stale;
    // The entry must be this life's (ring.hpp), else FIFO breaks.
    if (slot(v)->listed_pos.load(std::memory_order_acquire) != pos) return Take::Stale;
    if (*now == 0) *now = deadline_base_ms();
    if (expired_now(v)) return expire_popped(v, w); // never lease at or after the expiry
    SlotWord nw = w.next(SlotState::Leased, me_, *now + p_.lease_ms);
    if (!slot(v)->state.compare_exchange_strong(w.raw, nw.raw, std::memory_order_acq_rel)) return Take::Retry;
    *got = nw;
    return Take::Taken;
}

// Lease the oldest READY message. *now_ms gets the time read for
// its deadline, 0 if nothing was found.
bool Queue::try_lease(shmq_msg *msg, uint32_t *now_ms) {
    *now_ms = 0;
    for (;;) {
        uint32_t now = 0; // read the clock only once there is something to lease
        SlotWord got{0};
        uint32_t i = ready_.pop([&](uint32_t v, uint64_t pos) { return take_ready(v, pos, &now, &got); });
        if (i == Ring::kEmpty) return false;
        *now_ms = now;
        // Dying here: LEASED by a dead owner, delivery count not yet raised
        // (the message never reached the caller). Recovery redelivers it.
        SHMQ_CRASH_POINT("recv.after_lease");
        note_due(got.time());
        if (fill_message(i, got, msg)) return true;
    }
}

// Lease up to max READY messages in one run of the ready ring (one head
// move), as many as the prefetch limit allows. Returns how many.
size_t Queue::lease_run(shmq_msg *msgs, size_t max) {
    uint32_t want = take_prefetch_n(uint32_t(max < kRun ? max : kRun));
    uint32_t idx[kRun];
    SlotWord words[kRun];
    uint32_t now = 0, taken = 0;
    uint32_t got = want == 0 ? 0 : ready_.pop_run(idx, want, [&](uint32_t v, uint64_t pos) {
        Take t = take_ready(v, pos, &now, &words[taken]);
        taken += t == Take::Taken;
        return t;
    });
    size_t n = 0;
    if (got > 0) note_due(words[0].time()); // one deadline for the run
    for (uint32_t k = 0; k < got; ++k) {
        SHMQ_CRASH_POINT("recv.after_lease");
        n += fill_message(idx[k], words[k], &msgs[n]);
    }
    if (n < want) add_own(rec_->leased, 0u - (want - uint32_t(n))); // the units not used, in one step
    return n;
}

// Describe leased slot i in *msg. A length beyond the slot size can only come
// from a broken or hostile writer: that message goes to DEAD (invalid).
bool Queue::fill_message(uint32_t i, SlotWord leased, shmq_msg *msg) {
    SlotHeader *s = slot(i);
    uint32_t len = s->len.load(std::memory_order_relaxed);
    if (headers_len_of(i, len) == ~0u) { // payload or headers past the slot (headers.cpp)
        SlotWord dead = leased.next(SlotState::Dead, kNoOwner, uint32_t(DeadReason::Invalid));
        if (s->state.compare_exchange_strong(leased.raw, dead.raw, std::memory_order_acq_rel)) bump(kDead, 1);
        return false; // the caller's prefetch unit goes on to the next message
    }
    uint32_t attempt = s->attempts.load(std::memory_order_relaxed) + 1;
    s->attempts.store(attempt, std::memory_order_relaxed);
    s->lease_ms.store(p_.lease_ms, std::memory_order_relaxed);
    msg->data = payload(i);
    msg->len = len;
    msg->id = s->id.load(std::memory_order_relaxed);
    msg->attempt = attempt;
    msg->lease_ms = p_.lease_ms;
    msg->enqueued_ns = s->enqueued_ns.load(std::memory_order_relaxed);
    msg->receipt[0] = tag_ | i;
    msg->receipt[1] = leased.raw;
    bump(kDelivered, 1);
    if (attempt > 1) bump(kRedelivered, 1);
    mark_role(2);
    return true;
}

// Take one unit of this handle's prefetch allowance; false if none is left.
bool Queue::take_prefetch() { return take_prefetch_n(1) == 1; }

// Take up to n units; returns how many. A single-threaded handle checks
// before it takes; a shared one takes first and gives back the excess, so
// that two threads cannot both take the last unit.
uint32_t Queue::take_prefetch_n(uint32_t n) {
    if (single_) {
        uint32_t held = held_leases();
        if (prefetch_ != 0) n = held >= prefetch_ ? 0 : std::min(n, prefetch_ - held);
        if (n > 0) add_own(rec_->leased, n);
        return n;
    }
    uint32_t held = rec_->leased.fetch_add(n, std::memory_order_relaxed) - rec_->returned.load(std::memory_order_relaxed);
    if (prefetch_ == 0) return n;
    uint32_t ok = held >= prefetch_ ? 0 : std::min(n, prefetch_ - held);
    if (ok < n) rec_->leased.fetch_sub(n - ok, std::memory_order_relaxed);
    return ok;
}

uint32_t Queue::held_leases() const {
    return rec_->leased.load(std::memory_order_relaxed) - rec_->returned.load(std::memory_order_relaxed);
}

void Queue::release_lease() { add_own(rec_->leased, ~0u); }

// A lease of client `owner` ended by our CAS (ack, nack, reject, reclaim):
// exactly one party wins that CAS, so exactly one gives the unit back: the
// owner from its own count, anyone else by counting it returned (the owner's
// count is the owner's alone to write). A spent receipt (a copy acked twice)
// fails its CAS and changes no count.
void Queue::lease_ended(uint32_t owner) {
    if (owner == me_)
        release_lease();
    else if (owner < p_.max_clients)
        client(owner)->returned.fetch_add(1, std::memory_order_relaxed);
}

int Queue::recv(shmq_msg *msg, int64_t timeout_ns) {
    if (msg == nullptr || (topic() && lane_ == kNoLane)) return SHMQ_EINVAL; // a topic is read through a group
    if (!take_prefetch()) return SHMQ_EPREFETCH;
    uint32_t now = 0;
    if (try_lease(msg, &now)) {
        maybe_recover_at(now); // due retries and dead consumers' leases, also while a backlog lasts
        return SHMQ_OK;
    }
    // Waiting holds no prefetch unit, so that observers (stats, metrics) do
    // not count a consumer idle in recv as holding a lease.
    release_lease();
    maybe_recover(); // due retries become ready even for pollers
    if (closed()) return SHMQ_ECLOSED;
    bool over_limit = false; // other threads of this handle took the last unit
    auto attempt = [&] {
        if (!take_prefetch()) return over_limit = true;
        uint32_t t;
        if (try_lease(msg, &t)) return true;
        release_lease();
        return false;
    };
    int rc = SHMQ_OK;
    if (timeout_ns == 0) {
        rc = attempt() ? SHMQ_OK : SHMQ_EEMPTY;
        if (rc == SHMQ_EEMPTY) arm_fd();
    } else {
        rc = wait_for(Wait::Ready, timeout_ns, attempt);
    }
    return rc == SHMQ_OK && over_limit ? SHMQ_EPREFETCH : rc;
}

int Queue::recv_batch(shmq_msg *msgs, size_t max, size_t *count, int64_t timeout_ns) {
    if (count != nullptr) *count = 0;
    if (msgs == nullptr || count == nullptr) return SHMQ_EINVAL;
    if (max == 0) return SHMQ_OK;
    int rc = recv(&msgs[0], timeout_ns);
    if (rc != SHMQ_OK) return rc;
    size_t n = 1;
    while (n < max) {
        size_t got = lease_run(msgs + n, max - n);
        if (got == 0) break;
        n += got;
    }
    *count = n;
    return SHMQ_OK;
}

// The receipt of a message this handle leased and has not finished, or false.
bool Queue::receipt(const shmq_msg *msg, uint32_t *i, SlotWord *w) const {
    if (msg == nullptr || (msg->receipt[0] & ~0xFFFFFFFFULL) != tag_ || uint32_t(msg->receipt[0]) >= p_.slot_count)
        return false; // not a message of this queue (its tag names another segment)
    *i = uint32_t(msg->receipt[0]);
    *w = SlotWord{msg->receipt[1]};
    return w->state() == SlotState::Leased && w->owner() == me_;
}

// End a lease by moving the slot from its receipt state to `to`, pushing it
// to ring `r` if `to` is FREE or READY. The receipt is spent either way.
int Queue::finish(shmq_msg *msg, SlotWord to, const Points &at, bool wake_now, Ring::Run *run) {
    uint32_t i;
    SlotWord from{0};
    if (!receipt(msg, &i, &from)) return SHMQ_EINVAL;
    msg->receipt[1] = 0;
    bool ok;
    if (to.state() == SlotState::Free) {
        ok = free_slot(i, from, at, run);
        if (ok && wake_now) wake(Wait::Space, 1);
    } else if (to.state() == SlotState::Ready) {
        ok = transition_and_push(i, from, to, kReadyRing, at);
        if (ok && wake_now) wake(Wait::Ready, 1);
    } else {
        ok = slot(i)->state.compare_exchange_strong(from.raw, to.raw, std::memory_order_acq_rel);
        SHMQ_CRASH_POINT(at.cas);
        if (ok && to.state() == SlotState::Delayed) note_due_waking(to.time()); // a nack with a delay
    }
    if (ok) lease_ended(me_);
    return ok ? SHMQ_OK : SHMQ_ELEASELOST;
}

int Queue::ack(shmq_msg *msg) {
    int rc = end_with_free(msg, true);
    if (rc == SHMQ_OK) bump(kAcked, 1);
    return rc;
}

int Queue::end_with_free(shmq_msg *msg, bool wake_now, Ring::Run *run) {
    SlotWord from{msg != nullptr ? msg->receipt[1] : 0};
    return finish(msg, from.next(SlotState::Free, kNoOwner, 0), Points{nullptr, "ack.after_free", nullptr}, wake_now,
                  run);
}

// Each message is acked on its own (one lease each); producers waiting for
// room are woken once, for all the slots freed. A process killed part-way
// has acked a prefix; recovery of a dead client wakes every sleeper.
int Queue::ack_batch(shmq_msg *msgs, size_t count, int *results) {
    if (msgs == nullptr && count > 0) return SHMQ_EINVAL;
    int first_error = SHMQ_OK;
    uint32_t freed = 0;
    Ring::Run run; // the freed slots go on the free ring with one tail move
    for (size_t k = 0; k < count; ++k) {
        int rc = end_with_free(&msgs[k], false, &run);
        freed += rc == SHMQ_OK;
        if (results != nullptr) results[k] = rc;
        if (first_error == SHMQ_OK) first_error = rc;
    }
    free_.end(run);
    if (freed > 0) {
        bump(kAcked, freed);
        wake(Wait::Space, freed);
    }
    return first_error;
}

uint32_t Queue::backoff_ms(uint32_t attempts) {
    uint32_t shift = attempts > 1 ? attempts - 1 : 0;
    uint64_t d = shift >= 32 ? UINT64_MAX : uint64_t(p_.backoff_base_ms) << shift;
    if (d > p_.backoff_cap_ms) d = p_.backoff_cap_ms;
    // splitmix64 over a per-handle counter: cheap, good enough for jitter.
    uint64_t z = rng_.fetch_add(0x9E3779B97F4A7C15ULL, std::memory_order_relaxed);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    if (p_.jitter == SHMQ_JITTER_FULL) return uint32_t(z % (d + 1));
    if (p_.jitter == SHMQ_JITTER_EQUAL) return uint32_t(d / 2 + z % (d - d / 2 + 1));
    return uint32_t(d);
}

// Where a message goes when its lease ends without an ack: DEAD once it has
// used max_attempts deliveries, else READY now (delay 0) or DELAYED.
// The reason is in the word, so the CAS that publishes DEAD writes it too.
SlotWord Queue::retry_word(SlotWord from, uint32_t attempts, int64_t delay_ns, uint32_t now, DeadReason dead) {
    if (attempts >= p_.max_attempts) return from.next(SlotState::Dead, kNoOwner, uint32_t(dead));
    uint64_t ms = delay_ns < 0 ? backoff_ms(attempts) : (uint64_t(delay_ns) + 999999) / 1000000;
    if (ms > kMaxTimeMs) ms = kMaxTimeMs;
    if (ms == 0) return from.next(SlotState::Ready, kNoOwner, 0);
    return from.next(SlotState::Delayed, kNoOwner, now + uint32_t(ms));
}

int Queue::nack(shmq_msg *msg, int64_t delay_ns, DeadReason dead) {
    uint32_t i;
    SlotWord from{0};
    if (!receipt(msg, &i, &from)) return SHMQ_EINVAL;
    // Rounded up: now_ms() would let the retry come up to a ms early (explore nack_tick).
    SlotWord to =
        retry_word(from, slot(i)->attempts.load(std::memory_order_relaxed), delay_ns, deadline_base_ms(), dead);
    const char *point = to.state() == SlotState::Delayed ? "nack.after_delayed" : "nack.after_ready";
    int rc = finish(msg, to, Points{nullptr, point, nullptr});
    if (rc == SHMQ_OK) bump(kNacked, 1);
    if (rc == SHMQ_OK && to.state() == SlotState::Dead) bump(kDead, 1);
    return rc;
}

int Queue::reject(shmq_msg *msg, DeadReason dead) {
    SlotWord from{msg != nullptr ? msg->receipt[1] : 0};
    int rc = finish(msg, from.next(SlotState::Dead, kNoOwner, uint32_t(dead)), Points{});
    if (rc == SHMQ_OK) {
        bump(kRejected, 1);
        bump(kDead, 1);
    }
    return rc;
}

int Queue::extend(shmq_msg *msg, uint32_t lease_ms) {
    uint32_t i;
    SlotWord from{0};
    if (!receipt(msg, &i, &from) || lease_ms == 0 || lease_ms > kMaxTimeMs) return SHMQ_EINVAL;
    // Rounded up: now_ms() would end the lease up to a ms early (explore extend_expire).
    SlotWord to = from.next(SlotState::Leased, me_, deadline_base_ms() + lease_ms);
    if (!slot(i)->state.compare_exchange_strong(from.raw, to.raw, std::memory_order_acq_rel)) {
        msg->receipt[1] = 0; // spent; whoever ended the lease gave its unit back
        return SHMQ_ELEASELOST;
    }
    note_due(to.time());
    slot(i)->lease_ms.store(lease_ms, std::memory_order_relaxed);
    msg->receipt[1] = to.raw;
    msg->lease_ms = lease_ms;
    return SHMQ_OK;
}

} // namespace shmq::detail
