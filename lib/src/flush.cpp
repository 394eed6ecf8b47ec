// flush.cpp - writing a DISK queue back to its file, and waiting for it.
//
// Generations, no lock and no daemon needed: a flush takes g = ++flush_started,
// msyncs the whole mapping, and on success raises flush_done to at least g.
// A flush numbered g started after every call that read flush_started < g,
// so it covers every write that completed before such a call: shmq_sync
// reads s = flush_started and is done once flush_done > s. Syncers that
// arrive while a flush runs wait for it to end and then share one flush
// (group commit); one that finds none to wait for, or a failed one, or waits
// longer than kPatienceNs (its flusher may be dead: a killed flusher never
// raises flush_done), flushes itself.
//
// Durable lag: before its msync a flush reads the sends counted so far (the
// sum of every record's kSent, bumped after each send's slot is published),
// and once written back raises Header::durable_sent to it. Sends now less
// durable_sent is the lag. A flusher killed between msync and that store
// leaves the lag larger than it is, never smaller.
#include "crashpoint.hpp"
#include "queue.hpp"
#include "sys.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <sys/mman.h>

namespace shmq::detail {

constexpr int64_t kPatienceNs = 200000000; // how long a syncer trusts another's flush

// One flush, generation g.
// Every send counted so far, by any client (records keep their counts when
// freed, so the sum only grows).
uint64_t Queue::sends_total() const {
    uint64_t n = 0;
    // SYNC POINT: acquire pairs with bump's release: a counted send's slot
    // was written before the msync that follows.
    for (uint32_t i = 0; i < p_.max_clients; ++i) n += client(i)->count[kSent].load(std::memory_order_acquire);
    return n;
}

// Raise *a to at least v (flushes may end out of order).
static void raise_to(A64 &a, uint64_t v) {
    uint64_t cur = a.load(std::memory_order_relaxed);
    while (cur < v && !a.compare_exchange_strong(cur, v, std::memory_order_seq_cst)) {
    }
}

int Queue::flush_once() {
    const uint64_t g = hdr_->flush_started.fetch_add(1, std::memory_order_seq_cst) + 1;
    SHMQ_CRASH_POINT("flush.after_started"); // syncers waiting for g give up on it after kPatienceNs
    const uint64_t sent = sends_total();
    const int64_t t0 = mono_ns();
    // SYNC POINT: the seq_cst increment above orders every store that
    // completed before it ahead of the write-back below.
    if (msync(map_.base, map_.size, MS_SYNC) != 0) {
        hdr_->flush_error.store(uint32_t(errno), std::memory_order_relaxed);
        if (hdr_->flush_waiters.load(std::memory_order_seq_cst) != 0) // they flush themselves now
            futex_wake(hdr_->flush_done.raw(), INT32_MAX);
        return SHMQ_EFLUSH;
    }
    SHMQ_CRASH_POINT("flush.after_msync"); // written back, not published: the lag only looks larger
    hdr_->last_flush_dur_ns.store(mono_ns() - t0, std::memory_order_relaxed);
    hdr_->last_flush_ns.store(real_ns(), std::memory_order_relaxed);
    hdr_->flush_error.store(0, std::memory_order_relaxed);
    hdr_->flushes.fetch_add(1, std::memory_order_relaxed);
    raise_to(hdr_->durable_sent, sent);
    raise_to(hdr_->flush_done, g);
    // SYNC POINT: pairs with the waiter's seq_cst flush_waiters increment
    // before its futex_wait, which compares flush_done with what it read.
    if (hdr_->flush_waiters.load(std::memory_order_seq_cst) != 0) futex_wake(hdr_->flush_done.raw(), INT32_MAX);
    return SHMQ_OK;
}

int Queue::flush() {
    if (p_.durability != SHMQ_DURABILITY_DISK) return SHMQ_OK;
    return flush_once();
}

// Wait for another's flush numbered above s: true once flush_done passed s.
// Returns early (false) at the deadline, after kPatienceNs, or on a failure.
static bool await_flush(Header *h, uint64_t s, int64_t until) {
    const int64_t give_up = std::min(until, mono_ns() + kPatienceNs);
    for (;;) {
        uint64_t d = h->flush_done.load(std::memory_order_seq_cst);
        if (d > s) return true;
        int64_t left = give_up - mono_ns();
        if (left <= 0 || h->flush_error.load(std::memory_order_relaxed) != 0) return false;
        h->flush_waiters.fetch_add(1, std::memory_order_seq_cst);
        futex_wait(h->flush_done.raw(), uint32_t(d), left);
        h->flush_waiters.fetch_sub(1, std::memory_order_relaxed);
    }
}

int Queue::sync(int64_t timeout_ns) {
    if (p_.durability != SHMQ_DURABILITY_DISK) return SHMQ_OK;
    const uint64_t s = hdr_->flush_started.load(std::memory_order_seq_cst);
    const int64_t until = timeout_ns < 0 ? INT64_MAX : mono_ns() + timeout_ns;
    // A flush numbered s in progress started before this call and may miss
    // our writes; the next one will not. Wait for it to end, so that every
    // caller arriving meanwhile shares that next one (group commit).
    // The timeout bounds only these waits for another's flush: a caller that
    // has none to wait for flushes at once, whatever its timeout (even 0).
    bool timed_out = false;
    if (hdr_->flush_done.load(std::memory_order_seq_cst) < s)
        timed_out = !await_flush(hdr_, s - 1, until) && mono_ns() >= until;
    if (hdr_->flush_done.load(std::memory_order_seq_cst) > s) return SHMQ_OK;
    if (!timed_out && hdr_->flush_started.load(std::memory_order_seq_cst) > s) {
        if (await_flush(hdr_, s, until)) return SHMQ_OK;
        timed_out = mono_ns() >= until;
    }
    if (timed_out) return SHMQ_ETIMEDOUT;
    // None in progress, a failed one, or one we stopped trusting: our own
    // (numbered above s) answers for us. It is not cut short by the timeout.
    return flush_once();
}

} // namespace shmq::detail
