// spilling.cpp - overflow to disk and back. Out: take the oldest READY
// messages (the core leases them to the daemon), append them to the spill,
// sync once per batch when the policy says "always", and only then free
// their slots. Back: peek the oldest spilled records, restore each into a
// free slot with its id, attempts and enqueue time, then commit the cursor.
// Either way a crash in the middle duplicates messages and never loses one.
#include "moves.hpp"

#include "sys.hpp"

#include <algorithm>
#include <cerrno>
#include <spdlog/spdlog.h>

namespace shmqd {

namespace store = shmq::store;
using shmq::detail::MessageMeta;
using shmq::detail::Outgoing;

namespace {

// Copy a payload and its header block (right after it) out of shared
// memory: what is written must not change under us.
void copy_payload(Supervised &s, const Outgoing &o) {
    const auto *p = static_cast<const std::byte *>(o.data);
    s.buf.assign(p, p + o.len + o.meta.headers_len);
}

// Put back a message taken for spilling whose write failed: READY again as
// it was (same slot, same delivery count).
void give_back(Supervised &s, const Outgoing &o) {
    if (s.q->return_spilled(o))
        spdlog::debug("queue {}: put back message {} after a failed spill", s.cfg.name, o.meta.id);
    else
        spdlog::error("queue {}: could not put back message {} after a failed spill", s.cfg.name, o.meta.id);
}

// Append one taken message to the spill. False (message given back) on failure.
bool push_one(Supervised &s, const Outgoing &o) {
    copy_payload(s, o);
    std::span<const std::byte> all(s.buf);
    int rc = s.spill.push(store::SpillMeta{o.meta.id, o.meta.attempts, o.meta.enqueued_ns, o.meta.expires_ns},
                          all.first(o.len), all.subspan(o.len));
    if (rc == 0) {
        store_worked(&s, &s.spill_health, "spill store");
        return true;
    }
    give_back(s, o);
    if (rc == EDQUOT) {
        if (!s.spill_full) spdlog::warn("queue {}: spill store full: {}; senders now get SHMQ_EFULL", s.cfg.name,
                                        s.spill.error());
        s.spill_full = true;
        s.q->set_spill_full(true);
    } else {
        store_failed(&s, &s.spill_health, "spill store", rc, s.spill.error());
    }
    return false;
}

// Under fsync "always" the batch is synced before any of its slots is freed.
// If that fails, the messages stay in memory too (and may come back twice).
bool sync_batch(Supervised &s, std::vector<Outgoing> &taken) {
    if (s.cfg.spill_fsync != FsyncPolicy::Always) return true;
    int rc = s.spill.sync();
    if (rc == 0) return true;
    store_failed(&s, &s.spill_health, "spill store", rc, s.spill.error());
    for (const Outgoing &o : taken) {
        copy_payload(s, o);
        give_back(s, o);
    }
    return false;
}

} // namespace

// A queue spills under its overflow "spill"; a topic's group under its own
// option (its READY are its own words; the payload slot is freed by the last
// group to release it); a topic's own entry holds no READY messages.
static bool spills(const Supervised &s) {
    if (!s.group.empty()) return s.spills;
    return !s.cfg.topic() && s.params.overflow == SHMQ_OVERFLOW_SPILL;
}

uint32_t spill_out(Supervised &s) {
    if (!spills(s) || s.spill_full || !s.spill_health.ok) return 0;
    if (s.stats.ready <= s.marks.high) return 0;
    uint64_t want = std::min<uint64_t>(s.stats.ready - s.marks.mid, kMoveBatch);
    std::vector<Outgoing> taken;
    taken.reserve(want);
    Outgoing o;
    while (taken.size() < want && s.q->take_for_spill(&o)) {
        if (!push_one(s, o)) break;
        taken.push_back(o);
    }
    if (taken.empty() || !sync_batch(s, taken)) return 0;
    uint32_t n = 0;
    for (const Outgoing &t : taken) n += s.q->release_spilled(t) ? 1 : 0;
    s.spilled_total += n;
    return n;
}

namespace {

// A spilled record that no longer fits a slot (the queue was re-created with
// smaller slots), or whose header block breaks the encoding, cannot go back:
// it becomes a dead letter instead.
bool dead_letter_unfit(Supervised &s, const store::SpillRecord &r, int why) {
    store::DeadLetterMeta m{r.meta.id, r.meta.attempts, store::DeadReason::Invalid, r.meta.first_enqueue_ns,
                            shmq::detail::real_ns()};
    if (s.dlq.add(m, r.payload, r.headers) != 0) return false;
    spdlog::warn("queue {}: spilled message {} ({} bytes, {} of headers) cannot go back ({}; slots of {} bytes): "
                 "dead-lettered",
                 s.cfg.name, r.meta.id, r.payload.size(), r.headers.size(), shmq_strerror(why), s.params.slot_size);
    ++s.dead_lettered[uint32_t(store::DeadReason::Invalid)];
    return true;
}

// Restore records of the last peek in order; how many are done with.
size_t restore_batch(Supervised &s) {
    size_t done = 0;
    for (const store::SpillRecord &r : s.refill_batch) {
        MessageMeta meta{r.meta.id, r.meta.attempts, r.meta.first_enqueue_ns, r.meta.expires_ns};
        shmq::detail::SendSpec spec;
        int rc = shmq::detail::read_header_block(r.headers.data(), r.headers.size(), &spec);
        if (rc == SHMQ_OK) rc = s.q->restore(meta, r.payload.data(), r.payload.size(), spec);
        if ((rc == SHMQ_ETOOBIG || rc == SHMQ_ECORRUPT) && dead_letter_unfit(s, r, rc)) rc = SHMQ_OK;
        if (rc != SHMQ_OK) break; // SHMQ_EFULL: producers took the free slots first
        ++done;
    }
    return done;
}

} // namespace

uint32_t refill(Supervised &s) {
    if (s.spill.count() == 0 || !s.spill_health.ok || s.stats.ready > s.marks.low) return 0;
    // A group's message needs a free payload slot, not a free word of its own.
    uint64_t free = s.group.empty() ? s.stats.free : s.pool_free;
    uint64_t want = std::min<uint64_t>({s.marks.mid - s.stats.ready, free, kMoveBatch});
    if (want == 0) return 0;
    if (int rc = s.spill.peek_batch(want, &s.refill_batch); rc != 0) {
        store_failed(&s, &s.spill_health, "spill store", rc, s.spill.error());
        return 0;
    }
    size_t done = restore_batch(s);
    // A failed commit that lowered count() stands (only compaction failed, and
    // is tried again later); otherwise the cursor was not saved and those
    // records will come again (duplicates): reopen to start clean.
    uint64_t before = s.spill.count();
    if (int rc = s.spill.commit(done); rc != 0) {
        if (done > 0 && s.spill.count() < before) spdlog::warn("queue {}: spill compaction: {}", s.cfg.name, s.spill.error());
        else store_failed(&s, &s.spill_health, "spill store", rc, s.spill.error());
    }
    s.refilled_total += done;
    if (done > 0 && s.spill_full) {
        s.spill_full = false; // room again, or at least worth another try
        s.q->set_spill_full(false);
    }
    s.spill_head_check_ms = 0; // the head moved: look again
    return uint32_t(done);
}

} // namespace shmqd
