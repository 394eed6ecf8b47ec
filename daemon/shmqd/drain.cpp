// drain.cpp - DEAD slots to the dead-letter store. The core's drain_dead()
// frees a slot only when our persist callback returns true, and that happens
// only after DeadLetters::add() succeeded: a crash in between leaves the
// message both on disk and in its slot (written twice later), never lost.
#include "moves.hpp"

#include "sys.hpp"

#include <spdlog/spdlog.h>

namespace shmqd {

namespace store = shmq::store;

static store::DeadReason reason_of(uint32_t core_reason) {
    if (core_reason >= 1 && core_reason <= 4) return store::DeadReason(core_reason);
    return store::DeadReason::Invalid; // a reason word we do not know: damaged or hostile
}

uint32_t drain_dead_letters(Supervised &s) {
    if (!s.dlq_health.ok) return 0;
    const int64_t died = shmq::detail::real_ns();
    bool failed = false;
    uint32_t written = 0; // at most a batch per tick: each may cost an fdatasync
    auto persist = [&](const shmq::detail::Outgoing &o) {
        if (failed || written == kMoveBatch) return false;
        // Copy out first: the record's checksum must cover what is written.
        const auto *p = static_cast<const std::byte *>(o.data);
        s.buf.assign(p, p + o.len);
        store::DeadReason reason = reason_of(o.reason);
        store::DeadLetterMeta m{o.meta.id, o.meta.attempts, reason, o.meta.enqueued_ns, died};
        if (int rc = s.dlq.add(m, s.buf); rc != 0) {
            store_failed(&s, &s.dlq_health, "dead-letter store", rc, s.dlq.error());
            failed = true;
            return false;
        }
        store_worked(&s, &s.dlq_health, "dead-letter store");
        if (s.dlq_head_ns == 0) s.dlq_head_ns = died;
        ++s.dead_lettered[uint32_t(reason)];
        ++written;
        spdlog::debug("queue {}: message {} dead-lettered ({}, {} attempts)", s.cfg.name, m.id,
                      store::dead_reason_name(reason), m.attempts);
        return true;
    };
    return s.q->drain_dead(persist);
}

} // namespace shmqd
