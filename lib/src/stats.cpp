// stats.cpp - a snapshot of one queue read straight from its segment.
#include "queue.hpp"
#include "sys.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace shmq::detail {

static int alive_of(const ClientRecord *rec, ClientWord w) {
    Liveness l = process_liveness(ProcessId{int32_t(w.value()), rec->start_time, rec->pidns});
    return l == Liveness::Alive ? 1 : l == Liveness::Dead ? 0 : -1;
}

static void fill_client(const ClientRecord *rec, ClientWord w, shmq_client_stats *c) {
    uint64_t v[kCounters];
    for (uint32_t k = 0; k < kCounters; ++k) v[k] = rec->count[k].load(std::memory_order_relaxed) - rec->base[k];
    *c = shmq_client_stats{};
    c->pid = int32_t(w.value());
    c->role = rec->role.load(std::memory_order_relaxed);
    c->prefetch = rec->prefetch.load(std::memory_order_relaxed);
    c->leased = rec->leased.load(std::memory_order_relaxed) - rec->returned.load(std::memory_order_relaxed);
    c->sleeping = rec->sleeping.load(std::memory_order_relaxed);
    c->alive = alive_of(rec, w);
    c->sent = v[kSent];
    c->delivered = v[kDelivered];
    c->acked = v[kAcked];
    c->nacked = v[kNacked];
    c->rejected = v[kRejected];
    c->attached_ns = rec->attached_ns;
}

void Queue::count_slots(shmq_stats *out) const {
    const int64_t now = real_ns();
    int64_t oldest = 0;
    for (uint32_t i = 0; i < p_.slot_count; ++i) {
        SlotWord w{slot(i)->state.load(std::memory_order_acquire)};
        switch (w.state()) {
        case SlotState::Free: ++out->free; break;
        case SlotState::Writing: ++out->writing; break;
        case SlotState::Ready: {
            ++out->ready;
            // A time from shared memory is not trusted: one in the future
            // or before the epoch (a broken writer's) counts as no age.
            int64_t enq = slot(i)->enqueued_ns.load(std::memory_order_relaxed);
            if (enq > 0 && enq <= now && now - enq > oldest) oldest = now - enq;
            break;
        }
        case SlotState::Leased: ++out->leased; break;
        case SlotState::Delayed: ++out->delayed; break;
        case SlotState::Dead: ++out->dead; break;
        case SlotState::Staged: ++out->writing; break; // a group's message not yet committed (topic.cpp)
        case SlotState::Published: ++out->leased; break; // a topic's payload, held by its groups
        }
    }
    out->oldest_ready_age_ns = oldest;
}

void Queue::count_clients(shmq_stats *out) const {
    uint64_t total[kCounters] = {};
    for (uint32_t i = 0; i < p_.max_clients; ++i) {
        const ClientRecord *rec = client(i);
        for (uint32_t k = 0; k < kCounters; ++k) total[k] += rec->count[k].load(std::memory_order_relaxed);
        ClientWord w{rec->word.load(std::memory_order_acquire)};
        if (w.state() != ClientState::Active) continue;
        if (out->client != nullptr && out->clients < out->client_cap)
            fill_client(rec, w, &out->client[out->clients]);
        ++out->clients;
    }
    out->enqueued = total[kSent];
    out->delivered = total[kDelivered];
    out->acked = total[kAcked];
    out->nacked = total[kNacked];
    out->rejected = total[kRejected];
    out->redelivered = total[kRedelivered];
    out->dead_lettered = total[kDead] + hdr_->recovery_dead.load(std::memory_order_relaxed);
}

// The caller's struct may be 0.1's, which ends before `spilled`: fill a whole
// one and copy what fits.
int Queue::stats(shmq_stats *out) {
    constexpr size_t kOldest = offsetof(shmq_stats, spilled);
    if (out == nullptr || out->struct_size < kOldest) return SHMQ_EINVAL;
    shmq_stats s{};
    s.struct_size = uint32_t(std::min<size_t>(out->struct_size, sizeof s));
    s.client = out->client;
    s.client_cap = out->client_cap;
    s.slot_count = p_.slot_count;
    s.clients_max = p_.max_clients;
    count_slots(&s);
    count_clients(&s);
    s.reclaimed = hdr_->reclaimed.load(std::memory_order_relaxed);
    int64_t hb = hdr_->daemon_heartbeat_ms.load(std::memory_order_relaxed);
    int64_t age_ms = int32_t(now_ms() - uint32_t(hb));
    s.daemon_heartbeat_age_ns = hb == 0 ? -1 : (age_ms > 0 ? age_ms : 0) * 1000000;
    int64_t spilled = hdr_->spilled.load(std::memory_order_relaxed);
    s.spilled = spilled > 0 ? uint64_t(spilled) : 0; // a scribbled negative is no count
    s.expired = hdr_->expired.load(std::memory_order_relaxed);
    s.durability = p_.durability;
    s.not_durable = not_durable_ ? 1 : 0;
    s.quarantined = hdr_->quarantined.load(std::memory_order_relaxed);
    s.flushes = hdr_->flushes.load(std::memory_order_relaxed);
    s.last_flush_ns = hdr_->last_flush_ns.load(std::memory_order_relaxed);
    s.last_flush_duration_ns = hdr_->last_flush_dur_ns.load(std::memory_order_relaxed);
    s.flush_error = int32_t(hdr_->flush_error.load(std::memory_order_relaxed));
    // Read after the sends (count_clients): a flush ending in between may
    // pass them, which reads as no lag, never as a negative one.
    const uint64_t durable = hdr_->durable_sent.load(std::memory_order_relaxed);
    if (p_.durability == SHMQ_DURABILITY_DISK && s.enqueued > durable) s.durable_lag = s.enqueued - durable;
    std::memcpy(out, &s, s.struct_size);
    return SHMQ_OK;
}

} // namespace shmq::detail
