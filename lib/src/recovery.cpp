// recovery.cpp - finishing or undoing the steps of processes that died.
//
// One pass: claim the records of dead clients (a CAS, so one recoverer owns
// each), finish their recorded ring pushes, then scan the slots once: free a
// dead producer's WRITING slots, take back LEASED slots whose owner is dead or
// whose deadline passed, make due DELAYED slots READY. Only then are the
// records freed. Every step is a CAS and may be repeated: a recoverer that
// dies half-way leaves work the next one finds and finishes.
#include "crashpoint.hpp"
#include "queue.hpp"
#include "sys.hpp"

#include <climits>

namespace shmq::detail {

constexpr int64_t kDaemonStaleMs = 1000; // daemon counts as absent after this
constexpr int64_t kClientRecoverMs = 100; // clients recover at most this often

using DeadSet = uint8_t[kMaxClients / 8 + 1];

static bool in_set(const uint8_t *set, uint32_t i) { return i < kMaxClients && (set[i / 8] >> (i % 8)) & 1; }
static void add_set(uint8_t *set, uint32_t i) { set[i / 8] |= uint8_t(1u << (i % 8)); }

static ProcessId process_of(const ClientRecord *rec, ClientWord w) {
    return ProcessId{int32_t(w.value()), rec->start_time, rec->pidns};
}

// May we take over the record of a recoverer that claimed it before us?
bool Queue::recoverer_gone(uint32_t x) const {
    if (x >= p_.max_clients) return true;
    const ClientRecord *rec = client(x);
    ClientWord w{rec->word.load(std::memory_order_acquire)};
    if (w.state() != ClientState::Active) return true;
    return process_liveness(process_of(rec, w)) == Liveness::Dead;
}

// Claim client i's record if its process is dead. True if we now own it.
bool Queue::claim_if_dead(uint32_t i) {
    ClientRecord *rec = client(i);
    ClientWord w{rec->word.load(std::memory_order_acquire)};
    ClientWord to = ClientWord::make(ClientState::Reclaiming, w.epoch(), me_);
    switch (w.state()) {
    case ClientState::Free: return false;
    case ClientState::Attaching: {
        ProcessId id{int32_t(w.value()), -1, 0};
        if (process_liveness(id) != Liveness::Dead) return false;
        break;
    }
    case ClientState::Active:
        if (i == me_ || process_liveness(process_of(rec, w)) != Liveness::Dead) return false;
        break;
    case ClientState::Reclaiming:
        if (w.value() == me_ || !recoverer_gone(uint32_t(w.value()))) return false;
        break;
    }
    if (!rec->word.compare_exchange_strong(w.raw, to.raw, std::memory_order_acq_rel)) return false;
    SHMQ_CRASH_POINT("recover.after_claim");
    return true;
}

// A dead client's sleeping threads still count in the header's waiters.
// A dead sleeper may also have died between being woken and clearing the
// wake-pending flag: clear it, at worst costing one extra system call.
void Queue::release_sleepers(ClientRecord *rec) {
    uint32_t n = rec->sleeping.exchange(0, std::memory_order_acq_rel);
    if (n != 0) hdr_->ready_waiters.fetch_sub(n, std::memory_order_seq_cst);
    if (n != 0) hdr_->ready_wake_pending.store(0, std::memory_order_seq_cst);
    n = rec->space_sleeping.exchange(0, std::memory_order_acq_rel);
    if (n != 0) hdr_->space_waiters.fetch_sub(n, std::memory_order_seq_cst);
    if (n != 0) hdr_->space_wake_pending.store(0, std::memory_order_seq_cst);
    if (rec->fd_armed.exchange(0, std::memory_order_acq_rel) != 0)
        hdr_->fd_waiters.fetch_sub(1, std::memory_order_seq_cst);
}

void Queue::free_record(uint32_t i) {
    ClientRecord *rec = client(i);
    ClientWord w{rec->word.load(std::memory_order_acquire)};
    if (w.state() != ClientState::Reclaiming || w.value() != me_) return;
    ClientWord to = ClientWord::make(ClientState::Free, w.epoch() + 1, 0);
    rec->word.compare_exchange_strong(w.raw, to.raw, std::memory_order_acq_rel);
}

uint32_t Queue::claim_dead_clients(uint8_t *dead, shmq_recovery *rep) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < p_.max_clients; ++i) {
        if (!claim_if_dead(i)) continue;
        rep->republished += redo_pending(client(i));
        release_sleepers(client(i));
        add_set(dead, i);
        ++n;
    }
    return n;
}

void Queue::recover_records_only() {
    // Used while attaching, before this handle has a record of its own: only
    // records still Attaching or of which no slot can hold (none) are freed.
    // A full sweep needs a record (to claim with); it runs once attached.
    for (uint32_t i = 0; i < p_.max_clients; ++i) {
        ClientRecord *rec = client(i);
        ClientWord w{rec->word.load(std::memory_order_acquire)};
        if (w.state() != ClientState::Attaching) continue;
        if (process_liveness(ProcessId{int32_t(w.value()), -1, 0}) != Liveness::Dead) continue;
        ClientWord to = ClientWord::make(ClientState::Free, w.epoch() + 1, 0);
        rec->word.compare_exchange_strong(w.raw, to.raw, std::memory_order_acq_rel);
    }
}

// Take back one LEASED slot (dead owner or deadline passed).
void Queue::reclaim_lease(uint32_t i, SlotWord w, uint32_t now, shmq_recovery *rep) {
    SlotWord to = retry_word(w, slot(i)->attempts.load(std::memory_order_relaxed), -1, now);
    bool ok;
    if (to.state() == SlotState::Ready)
        ok = transition_and_push(i, w, to, kReadyRing, Points{nullptr, "recover.after_reclaim", nullptr});
    else
        ok = slot(i)->state.compare_exchange_strong(w.raw, to.raw, std::memory_order_acq_rel);
    if (!ok) return;
    ++rep->leases_reclaimed;
    if (to.state() == SlotState::Dead) ++rep->dead_lettered;
}

void Queue::scan_slots(const uint8_t *dead, shmq_recovery *rep, uint32_t first, uint32_t count) {
    const uint32_t now = now_ms();
    for (uint32_t k = 0; k < count; ++k) {
        uint32_t i = (first + k) % p_.slot_count;
        SlotWord w{slot(i)->state.load(std::memory_order_acquire)};
        switch (w.state()) {
        case SlotState::Writing:
            if (in_set(dead, w.owner()) &&
                transition_and_push(i, w, w.next(SlotState::Free, kNoOwner, 0), kFreeRing, Points{}))
                ++rep->writes_reclaimed;
            break;
        case SlotState::Leased:
            if (in_set(dead, w.owner()) || time_reached(w.time(), now)) reclaim_lease(i, w, now, rep);
            break;
        case SlotState::Delayed:
            if (time_reached(w.time(), now) &&
                transition_and_push(i, w, w.next(SlotState::Ready, kNoOwner, 0), kReadyRing, Points{}))
                ++rep->delayed_promoted;
            break;
        default: break;
        }
    }
}

int Queue::recover(shmq_recovery *report, uint32_t budget) {
    shmq_recovery rep{};
    DeadSet dead = {};
    rep.dead_clients = claim_dead_clients(dead, &rep);
    // A dead client's slots may be anywhere: its record is freed only after
    // a full pass. Otherwise a budget bounds the cost on huge queues, and
    // successive calls sweep on from where the last one stopped.
    if (rep.dead_clients > 0 || budget == 0 || budget >= p_.slot_count) {
        scan_slots(dead, &rep, 0, p_.slot_count);
    } else {
        uint32_t first = scan_cursor_.fetch_add(budget, std::memory_order_relaxed) % p_.slot_count;
        scan_slots(dead, &rep, first, budget);
    }
    for (uint32_t i = 0; i < p_.max_clients; ++i)
        if (in_set(dead, i)) free_record(i);
    hdr_->reclaimed.fetch_add(rep.leases_reclaimed, std::memory_order_relaxed);
    hdr_->promoted.fetch_add(rep.delayed_promoted, std::memory_order_relaxed);
    hdr_->recovery_dead.fetch_add(rep.dead_lettered, std::memory_order_relaxed);
    hdr_->dead_clients.fetch_add(rep.dead_clients, std::memory_order_relaxed);
    if (rep.leases_reclaimed + rep.delayed_promoted + rep.republished > 0) wake(Wait::Ready, INT_MAX);
    if (rep.writes_reclaimed + rep.republished > 0) wake(Wait::Space, INT_MAX);
    if (report != nullptr) *report = rep;
    return SHMQ_OK;
}

bool Queue::daemon_alive() const {
    int64_t hb = hdr_->daemon_heartbeat_ms.load(std::memory_order_relaxed);
    return hb != 0 && int32_t(now_ms() - uint32_t(hb)) < kDaemonStaleMs;
}

// While no daemon keeps the queue, clients about to sleep take turns running
// recovery, so retries come due and dead consumers' messages come back.
void Queue::maybe_recover() {
    if (daemon_alive()) return;
    int64_t now = now_ms();
    int64_t last = hdr_->last_recover_ms.load(std::memory_order_relaxed);
    if (int32_t(uint32_t(now) - uint32_t(last)) < kClientRecoverMs) return;
    if (hdr_->last_recover_ms.compare_exchange_strong(last, now, std::memory_order_relaxed)) recover(nullptr, 65536);
}

} // namespace shmq::detail
