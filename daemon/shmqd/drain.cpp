// drain.cpp - DEAD slots to the dead-letter store. The core's drain_dead()
// frees a slot only when our persist callback returns true, and that happens
// only after DeadLetters::add() succeeded: a crash in between leaves the
// message both on disk and in its slot (written twice later), never lost.
// Also the dead-letter store's retention (enforce_retention).
#include "moves.hpp"

#include "sys.hpp"

#include <spdlog/spdlog.h>

namespace shmqd {

namespace store = shmq::store;

static store::DeadReason reason_of(uint32_t core_reason) {
    if (core_reason >= 1 && core_reason < kReasonNames.size()) return store::DeadReason(core_reason);
    return store::DeadReason::Invalid; // a reason word we do not know: damaged or hostile
}

uint32_t drain_dead_letters(Supervised &s, shmq::detail::Queue *from) {
    if (!s.dlq_health.ok) return 0;
    const int64_t died = shmq::detail::real_ns();
    bool failed = false;
    uint32_t written = 0; // at most a batch per tick: each may cost an fdatasync
    auto persist = [&](const shmq::detail::Outgoing &o) {
        if (failed || written == kMoveBatch) return false;
        // Copy out first: the record's checksum must cover what is written.
        const auto *p = static_cast<const std::byte *>(o.data);
        s.buf.assign(p, p + o.len + o.meta.headers_len); // the header block follows the payload
        store::DeadReason reason = reason_of(o.reason);
        store::DeadLetterMeta m{o.meta.id, o.meta.attempts, reason, o.meta.enqueued_ns, died};
        std::span<const std::byte> all(s.buf);
        if (int rc = s.dlq.add(m, all.first(o.len), all.subspan(o.len)); rc != 0) {
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
    return (from != nullptr ? from : s.q.get())->drain_dead(persist);
}

void enforce_retention(Supervised &s, int64_t now_ms) {
    const QueueConfig &c = s.cfg;
    if ((c.dlq_max_records == 0 && c.dlq_max_age_ms == 0) || now_ms < s.retention_check_ms) return;
    s.retention_check_ms = now_ms + 1000;
    if (!s.dlq_health.ok || s.redrive.active || s.dlq.count() == 0) return;
    int64_t cutoff = c.dlq_max_age_ms == 0 ? 0 : shmq::detail::real_ns() - int64_t(c.dlq_max_age_ms) * 1000000;
    bool over = c.dlq_max_records != 0 && s.dlq.count() > c.dlq_max_records;
    bool aged = cutoff > 0 && s.dlq_head_ns > 0 && s.dlq_head_ns < cutoff;
    if (!over && !aged) return;
    uint64_t dropped = 0;
    if (int rc = s.dlq.trim(c.dlq_max_records, cutoff, &dropped); rc != 0) {
        store_failed(&s, &s.dlq_health, "dead-letter store (retention)", rc, s.dlq.error());
        return;
    }
    s.dlq_dropped_total += dropped;
    s.dlq_head_check_ms = 0; // the oldest changed
    spdlog::info("queue {}: retention dropped {} dead letters (cap {} records, {} ms)", c.name, dropped,
                 c.dlq_max_records, c.dlq_max_age_ms);
}

} // namespace shmqd
