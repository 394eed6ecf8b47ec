// delay.cpp - delayed send: a new message stored DELAYED until its time.
//
//   WRITING(me) --(one CAS)--> DELAYED(due)  ...at due, recovery: --> READY --> ready ring
//
// There is no ring push here: recovery's slot scan (shmqd's tick, or clients
// at next_due_ms while no daemon runs) makes a due DELAYED slot READY through
// a publish intent, exactly as it does a nacked message's retry. Killed before
// the CAS, the slot is WRITING by a dead owner and recovery frees it (the send
// never returned OK). Killed after it, the message is safe in DELAYED; the
// recovery that the death triggers scans every slot and lowers next_due_ms
// for it, so a note_due that never ran costs nothing.
#include "crashpoint.hpp"
#include "queue.hpp"
#include "sys.hpp"

namespace shmq::detail {

// The ms-time (since the segment's epoch) at which a message stored now with
// `delay_ns` may be delivered: rounded up, so it is never early (now_ms()
// rounds down, so promotion happens at or after it).
uint32_t due_after(int64_t epoch, int64_t delay_ns) {
    return uint32_t((uint64_t(mono_ns() - epoch) + uint64_t(delay_ns) + 999999) / 1000000);
}

// WRITING -> DELAYED(due).
bool Queue::make_delayed(uint32_t i, SlotWord writing, int64_t delay_ns) {
    uint32_t due = due_after(epoch_, delay_ns);
    SlotWord to = writing.next(SlotState::Delayed, kNoOwner, due);
    // SYNC POINT: the release in this CAS publishes payload and header fields
    // to the recoverer whose acquire load finds the slot DELAYED.
    if (!slot(i)->state.compare_exchange_strong(writing.raw, to.raw, std::memory_order_acq_rel)) return false;
    SHMQ_CRASH_POINT("send.after_delayed");
    note_due_waking(to.time());
    return true;
}

// A message became DELAYED until t (a delayed send, a nack with a delay).
// While no daemon runs (its tick promotes and wakes sleepers), a consumer
// asleep now computed its sleep from an older next_due_ms (sleep_ns): if t
// became the earliest, wake every sleeper to look again. (Later messages of
// a batch, due at the same time or after, do not wake anyone again.)
// next_due_ms is a relaxed hint (recovery.cpp): on a weakly ordered machine a
// sleeper may miss the change and wake at its dead-client timer instead,
// which costs time, never the message.
void Queue::note_due_waking(uint32_t t) {
    uint32_t before = hdr_->next_due_ms.load(std::memory_order_relaxed);
    note_due(t);
    if (before != t && hdr_->next_due_ms.load(std::memory_order_seq_cst) == t && !daemon_alive())
        wake(Wait::Ready, UINT32_MAX);
}

// After n messages were sent with `spec`: wake consumers for the ready ones
// (delayed ones woke sleepers in make_delayed if they had to).
void Queue::wake_sent(const SendSpec &spec, uint32_t n) {
    if (spec.delay_ns <= 0) wake(Wait::Ready, n);
}

} // namespace shmq::detail
