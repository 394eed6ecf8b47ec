// wait.hpp - blocking without burning a core: spin for the handle's budget,
// then sleep on the segment's futex word until `try_op` succeeds.
//
// Sleeper: waiters++ (seq_cst), read the futex word, look at the ring (seq_cst),
// sleep if still empty. Waker: push (seq_cst), then read waiters (seq_cst) and
// bump + wake only if someone sleeps. Either the waker sees the sleeper or the
// sleeper sees the push: no lost wake-up, and no system call when nobody sleeps.
// A wake-pending flag makes it one system call per wake-up: wakers skip the
// call while it is set; a sleeper clears it (seq_cst) on waking, before its
// next look at the ring, so a send it would miss makes the next waker call.
#pragma once

#include "queue.hpp"
#include "sys.hpp"

#include <algorithm>
#include <climits>

namespace shmq::detail {

// Longest single sleep: bounds the damage of anything unforeseen, and lets a
// sleeper run recovery itself while no daemon does (maybe_recover).
constexpr int64_t kMaxSleepNs = 100 * 1000000LL;

template <class F> int Queue::wait_for(Wait what, int64_t timeout_ns, F &&try_op) {
    const int64_t start = mono_ns();
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : start + timeout_ns;
    for (int64_t now = start; now - start < int64_t(spin_ns_) && now < deadline; now = mono_ns()) {
        for (int k = 0; k < 64; ++k) {
            if (try_op()) return SHMQ_OK;
            cpu_relax();
        }
    }
    const bool ready = what == Wait::Ready;
    A32 &waiters = ready ? hdr_->ready_waiters : hdr_->space_waiters;
    A32 &futex = ready ? hdr_->ready_futex : hdr_->space_futex;
    A32 &mine = ready ? rec_->sleeping : rec_->space_sleeping;
    A32 &pending = ready ? hdr_->ready_wake_pending : hdr_->space_wake_pending;
    RingId ring_id = ready ? kReadyRing : kFreeRing;
    for (bool slept = false;; slept = true) {
        if (closed()) return SHMQ_ECLOSED;
        maybe_recover();
        if (try_op()) {
            // Woken while wakers skipped their calls for us: if more is
            // waiting, pass the wake-up on to the next sleeper.
            if (slept && ring(ring_id).maybe_nonempty()) wake(what, 1);
            return SHMQ_OK;
        }
        int64_t now = mono_ns();
        if (now >= deadline) return SHMQ_ETIMEDOUT;
        // Order matters for recovery: a crash between these two increments
        // (or the two decrements below) over-counts waiters, which costs
        // producers a system call, never a lost wake-up.
        waiters.fetch_add(1, std::memory_order_seq_cst);
        mine.fetch_add(1, std::memory_order_relaxed);
        uint32_t seen = futex.load(std::memory_order_seq_cst);
        if (!ring(ring_id).maybe_nonempty() && !closed())
            futex_wait(&futex, seen, std::min(deadline - now, kMaxSleepNs));
        mine.fetch_sub(1, std::memory_order_relaxed);
        waiters.fetch_sub(1, std::memory_order_seq_cst);
        // Awake (woken, timed out or never slept): let the next send wake
        // again. A crash before this store leaves the flag set; recovery
        // clears it, and until then sleepers wake on their 100 ms cap.
        pending.store(0, std::memory_order_seq_cst);
    }
}

} // namespace shmq::detail
