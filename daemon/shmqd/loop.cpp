// loop.cpp - one tick of one queue (loop.hpp). Recovery comes first, so a dead
// consumer's lease is back in the queue within one tick of its death; the
// moves to and from disk follow, each bounded by kMoveBatch.
#include "loop.hpp"

#include "moves.hpp"
#include "sys.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>

namespace shmqd {

namespace {

void retry_stores(Supervised &s, const StoreDirs &dirs, int64_t now_ms) {
    std::string why;
    // Reopening is not working: the failure ends at the first write that works.
    if (!s.dlq_health.ok && now_ms >= s.dlq_health.retry_ms) {
        int rc = reopen_dlq(&s, dirs.dlq, &why);
        if (rc == 0) s.dlq_health.ok = true;
        else store_failed(&s, &s.dlq_health, "dead-letter store", rc, why);
    }
    if (!s.spill_health.ok && now_ms >= s.spill_health.retry_ms) {
        int rc = reopen_spill(&s, dirs.spill, &why);
        if (rc == 0) s.spill_health.ok = true;
        else store_failed(&s, &s.spill_health, "spill store", rc, why);
    }
}

void take_stats(Supervised &s) {
    s.stats.struct_size = sizeof(shmq_stats);
    s.stats.client = s.clients.data();
    s.stats.client_cap = s.clients.size();
    s.q->stats(&s.stats);
}

// The first enqueue time of the oldest spilled message, looked up at most once a second.
void update_spill_head(Supervised &s, int64_t now_ms) {
    if (s.spill.count() == 0) {
        s.spill_head_ns = 0;
        return;
    }
    if (now_ms < s.spill_head_check_ms || !s.spill_health.ok) return;
    s.spill_head_check_ms = now_ms + 1000;
    if (s.spill.peek_batch(1, &s.refill_batch) == 0 && !s.refill_batch.empty())
        s.spill_head_ns = s.refill_batch[0].meta.first_enqueue_ns;
    s.spill.commit(0); // forget the peek
}

// The time of death of the oldest dead letter (the store's first record),
// looked up at most once a second.
void update_dlq_head(Supervised &s, int64_t now_ms) {
    if (s.dlq.count() == 0) {
        s.dlq_head_ns = 0;
        return;
    }
    if (now_ms < s.dlq_head_check_ms || !s.dlq_health.ok) return;
    s.dlq_head_check_ms = now_ms + 1000;
    s.dlq.list([&](const shmq::store::DeadLetterInfo &i) {
        s.dlq_head_ns = i.meta.died_ns;
        return false; // records are in order of death: the first is the oldest
    });
}

void flush_stores(Supervised &s) {
    if (!s.dlq_health.ok) {
    } else if (int rc = s.dlq.flush_if_due(); rc != 0) {
        store_failed(&s, &s.dlq_health, "dead-letter store", rc, s.dlq.error());
    }
    if (!s.spill_health.ok) {
    } else if (int rc = s.spill.flush_if_due(); rc != 0) {
        store_failed(&s, &s.spill_health, "spill store", rc, s.spill.error());
    }
}

// A topic's group: its dead letters to its store, spill and refill by its
// backlog, redrive into the group, syncs. Recovery and heartbeat are the
// topic's (they cover every group).
// A group removed (by force) under shmqd is left alone (`bound` false): its
// handle still names the lane, which may be bound again under another name,
// and moving through it would act on that group (orphans.cpp drains it).
bool tick_group(Supervised &g, const StoreDirs &dirs, uint32_t pool_free, int64_t now_ms, bool bound) {
    retry_stores(g, dirs, now_ms);
    if (!bound) {
        g.stats = shmq_stats{}; // not the lane's new group's numbers
        flush_stores(g);
        update_dlq_head(g, now_ms);
        enforce_retention(g, now_ms);
        return false;
    }
    take_stats(g);
    g.pool_free = pool_free;
    uint32_t dead = g.stats.dead > 0 ? drain_dead_letters(g) : 0;
    uint32_t out = spill_out(g);
    uint32_t in = refill(g);
    uint32_t back = redrive_step(g, dirs.dlq, now_ms);
    flush_stores(g);
    update_spill_head(g, now_ms);
    update_dlq_head(g, now_ms);
    enforce_retention(g, now_ms);
    if (dead + out + in + back > 0) take_stats(g);
    return dead >= kMoveBatch || out >= kMoveBatch || in >= kMoveBatch;
}

} // namespace

bool tick_queue(Supervised &s, const StoreDirs &dirs, int64_t now_ms) {
    retry_stores(s, dirs, now_ms);
    s.q->heartbeat();
    s.q->recover(nullptr, kRecoverBudget);
    take_stats(s);
    uint32_t dead = s.stats.dead > 0 ? drain_dead_letters(s) : 0;
    uint32_t out = spill_out(s);
    uint32_t in = refill(s);
    uint32_t back = redrive_step(s, dirs.dlq, now_ms);
    flush_stores(s);
    uint64_t spilled = s.spill.count();
    for (auto &g : s.groups) spilled += g->spill.count(); // a topic's: all its groups'
    s.q->set_spilled(spilled); // for shmq_stats readers (shmqctl), not only metrics
    update_spill_head(s, now_ms);
    update_dlq_head(s, now_ms);
    enforce_retention(s, now_ms);
    if (dead + out + in + back > 0) take_stats(s); // the sample shows the result
    bool busy = false;
    for (auto &g : s.groups) busy |= tick_group(*g, dirs, s.stats.free, now_ms, still_bound(s, *g));
    busy |= drain_orphan_groups(s, dirs, now_ms) >= kMoveBatch;
    serve_orphan_requests(s, dirs, now_ms);
    return busy || dead >= kMoveBatch || out >= kMoveBatch || in >= kMoveBatch;
}

QueueSample sample_queue(const Supervised &s) {
    QueueSample q;
    q.name = s.group.empty() ? s.cfg.name : s.topic;
    q.group = s.group;
    q.stats = s.stats;
    q.stats.client = nullptr;
    q.stats.client_cap = 0;
    q.spilled = s.spill.count();
    q.spill_bytes = s.spill.bytes();
    q.dead_letters = s.dlq.count();
    q.dead_letter_bytes = s.dlq.bytes();
    int64_t spill_age = s.spill_head_ns > 0 ? shmq::detail::real_ns() - s.spill_head_ns : 0;
    q.oldest_age_ns = std::max(s.stats.oldest_ready_age_ns, spill_age);
    q.dead_lettered = s.dead_lettered;
    q.spilled_total = s.spilled_total;
    q.refilled_total = s.refilled_total;
    q.redriven_total = s.redriven_total;
    q.dlq_dropped_total = s.dlq_dropped_total;
    q.spill_full = s.spill_full;
    q.oldest_dead_letter_age_ns = s.dlq_head_ns > 0 ? std::max<int64_t>(0, shmq::detail::real_ns() - s.dlq_head_ns) : 0;
    q.dlq_failing = s.dlq_health.failing;
    q.spill_failing = s.spill_health.failing;
    q.dlq_errors = s.dlq_health.errors;
    q.spill_errors = s.spill_health.errors;
    size_t n = std::min<size_t>(s.stats.clients, s.clients.size());
    for (size_t i = 0; i < n; ++i) {
        const shmq_client_stats &c = s.clients[i];
        // A consumer: has received (role bit 1; the core does not set it yet,
        // so a delivery count or a lease counts too), is not us, is alive.
        bool received = (c.role & 2) != 0 || c.delivered > 0 || c.leased > 0;
        if (!received || (c.role & 4) != 0 || c.alive == 0) continue;
        ++q.consumers;
        q.per_consumer.push_back(ConsumerSample{c.pid, c.delivered, c.acked, c.leased});
    }
    return q;
}

} // namespace shmqd
