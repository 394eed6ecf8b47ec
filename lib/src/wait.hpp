// wait.hpp - blocking without burning a core: spin for the handle's budget
// (spin.hpp), then sleep on an event count in the segment until `try_op`
// succeeds.
//
// An event count is one 64-bit word: the low half is an epoch (the futex
// word), the high half counts registered sleepers. A sleeper registers (adds
// one sleeper, reading the epoch in the same RMW), looks at the ring once
// more, and sleeps only while the epoch is unchanged. A waker, after its
// push, reads the word and, only if sleepers are registered, takes up to n
// of them off the count and bumps the epoch in one CAS, then calls
// FUTEX_WAKE. So:
//  - no lost wake-up: registration and push are both seq_cst RMWs, so either
//    the waker sees the registration or the sleeper's second look sees the
//    push; a sleeper whose registration a waker took sees a new epoch and
//    does not sleep (or is woken);
//  - one system call per wake-up: wakers after the first see no registered
//    sleeper until someone registers again (a cost claim: the harness does
//    not count system calls; the benchmarks show it);
//  - a sleeper that wakes without being taken (timeout, signal) takes its own
//    registration back only if the epoch is unchanged; otherwise the count
//    may stay one too high, which costs a later waker one needless system
//    call and then heals. A sleeper killed while registered does the same.
// Nothing here needs recovery. The exploration harness checks the no-lost-
// wake-up claim: it fails any state where a consumer sleeps, nobody can run,
// and a listed READY message waits (tests/explore).
#pragma once

#include "queue.hpp"
#include "sys.hpp"

#include <algorithm>
#include <climits>

namespace shmq::detail {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the futex word is the low half of the event count");

constexpr uint64_t kSleeper = 1ULL << 32;

// Register as a sleeper; returns the epoch to sleep on.
inline uint32_t wait_prepare(A64 &ev) { return uint32_t(ev.fetch_add(kSleeper, std::memory_order_seq_cst)); }

// Take our registration back, unless a waker already took it (new epoch).
// Relaxed: it only lowers a count, and a count one too high costs a needless
// system call, never a lost wake-up.
inline void wait_cancel(A64 &ev, uint32_t epoch) {
    uint64_t v = ev.load(std::memory_order_relaxed);
    while (uint32_t(v) == epoch && (v >> 32) != 0)
        if (ev.compare_exchange_strong(v, v - kSleeper, std::memory_order_relaxed)) return;
}

// Wake up to n registered sleepers. No system call while none is registered.
// SYNC POINT: the seq_cst load pairs with wait_prepare's RMW; the caller's
// push before it is a seq_cst RMW too.
inline void wait_notify(A64 &ev, uint32_t n) {
    uint64_t v = ev.load(std::memory_order_seq_cst);
    for (;;) {
        uint32_t sleepers = uint32_t(v >> 32);
        if (sleepers == 0) return;
        uint32_t take = std::min(n, sleepers);
        uint64_t to = uint64_t(sleepers - take) << 32 | uint32_t(uint32_t(v) + 1);
        if (ev.compare_exchange_strong(v, to, std::memory_order_seq_cst)) break;
    }
    futex_wake(ev.raw(), int(std::min<uint32_t>(n, INT_MAX)));
}

// Spin for the handle's budget (spin.hpp); true if try_op succeeded.
template <class F> bool Queue::spin(SpinBudget &b, int64_t start, int64_t deadline, F &&try_op) {
    const int64_t limit = std::min(deadline, start + b.get());
    for (int64_t prev = start, now = start; now < limit; prev = now) {
        for (int k = 0; k < 32; ++k) {
            if (try_op()) {
                b.spun_ok(mono_ns() - start);
                return true;
            }
            cpu_relax();
        }
        now = mono_ns();
        if (now - prev > SpinBudget::kPreemptedNs) {
            b.preempted(); // we were off the CPU: spinning steals it from the side we wait for
            return false;
        }
    }
    b.spun_out();
    return false;
}

template <class F> int Queue::wait_for(Wait what, int64_t timeout_ns, F &&try_op) {
    const int64_t start = mono_ns();
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : start + timeout_ns;
    const bool ready = what == Wait::Ready;
    SpinBudget &budget = spin_[ready ? 0 : 1];
    if (spin(budget, start, deadline, try_op)) return SHMQ_OK;
    A64 &ev = ready ? *ready_ev_ : hdr_->space_wait;
    A32 &mine = ready ? rec_->sleeping : rec_->space_sleeping;
    Ring &watched = ring(ready ? kReadyRing : kFreeRing);
    for (int64_t slept_at = -1;;) {
        if (closed()) return SHMQ_ECLOSED;
        maybe_recover();
        if (try_op()) {
            if (slept_at >= 0) budget.slept_ok(mono_ns() - slept_at);
            return SHMQ_OK;
        }
        int64_t now = mono_ns();
        if (now >= deadline) return SHMQ_ETIMEDOUT;
        if (slept_at < 0) slept_at = now;
        uint32_t epoch = wait_prepare(ev);
        mine.fetch_add(1, std::memory_order_relaxed);
        if (!watched.maybe_nonempty() && !closed()) futex_wait(ev.raw(), epoch, sleep_ns(deadline - now));
        mine.fetch_sub(1, std::memory_order_relaxed);
        wait_cancel(ev, epoch);
    }
}

} // namespace shmq::detail
