// recovery.cpp - finishing or undoing the steps of processes that died.
//
// One pass: claim the records of dead clients (a CAS, so one recoverer owns
// each), finish their recorded ring pushes, then scan the slots once: free a
// dead producer's WRITING slots, take back LEASED slots whose owner is dead or
// whose deadline passed, make due DELAYED slots READY, dead-letter expired
// READY and DELAYED ones (expiry.cpp). Only then are the
// records freed. Every step is a CAS and may be repeated: a recoverer that
// dies half-way leaves work the next one finds and finishes.
#include "crashpoint.hpp"
#include "queue.hpp"
#include "sys.hpp"

#include <algorithm>
#include <climits>
#include <vector>

namespace shmq::detail {

constexpr int64_t kDaemonStaleMs = 1000; // daemon counts as absent after this

// How often clients look for dead clients while no daemon runs (tests may
// change it, e.g. to prove that no wake-up depends on this timer).
std::atomic<int64_t> g_dead_check_ms{100};

using DeadSet = uint8_t[kMaxClients / 8 + 1];

static bool in_set(const uint8_t *set, uint32_t i) { return i < kMaxClients && (set[i / 8] >> (i % 8)) & 1; }
static void add_set(uint8_t *set, uint32_t i) { set[i / 8] |= uint8_t(1u << (i % 8)); }

static ProcessId process_of(const ClientRecord *rec, ClientWord w) {
    return ProcessId{int32_t(w.value()), rec->start_time, rec->pidns};
}

// Is the process behind record i (in state w) dead? An Attaching record has
// no start time yet, so it is judged by its pid alone: dead once no process
// has that pid (or it is a zombie). A reused pid keeps it until that process
// exits; its attacher's final CAS (queue.cpp) fails if the record changed.
bool Queue::is_dead(uint32_t i, ClientWord w) const {
    switch (w.state()) {
    case ClientState::Free: return false;
    case ClientState::Attaching:
        return process_liveness(ProcessId{int32_t(w.value()), kAnyStart, 0}) == Liveness::Dead;
    case ClientState::Active:
        return i != me_ && process_liveness(process_of(client(i), w)) == Liveness::Dead;
    case ClientState::Reclaiming:
        return w.value() != me_ && recoverer_gone(uint32_t(w.value()));
    }
    return false;
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
    if (!is_dead(i, w)) return false;
    ClientWord to = ClientWord::make(ClientState::Reclaiming, w.epoch(), me_);
    if (!rec->word.compare_exchange_strong(w.raw, to.raw, std::memory_order_acq_rel)) return false;
    SHMQ_CRASH_POINT("recover.after_claim");
    return true;
}

// A dead client's threads asleep no longer count in its stats, and its
// readiness fd no longer waits. (The event counts need nothing: wait.hpp.)
void Queue::release_sleepers(ClientRecord *rec) {
    rec->sleeping.store(0, std::memory_order_relaxed);
    rec->space_sleeping.store(0, std::memory_order_relaxed);
    if (rec->fd_armed.exchange(0, std::memory_order_acq_rel) != 0)
        hdr_->fd_waiters.fetch_sub(1, std::memory_order_seq_cst);
}

void Queue::free_record(uint32_t i) {
    ClientRecord *rec = client(i);
    ClientWord w{rec->word.load(std::memory_order_acquire)};
    if (w.state() != ClientState::Reclaiming || w.value() != me_) return;
    ClientWord to = ClientWord::make(ClientState::Free, w.epoch() + 1, 0);
    if (rec->word.compare_exchange_strong(w.raw, to.raw, std::memory_order_acq_rel)) remove_fifo(i, w.epoch());
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

// For an attacher that took over dead record i (queue.cpp): do for it what
// recovery does for a dead client, with the record already ours.
void Queue::finish_previous_life(uint32_t i, shmq_recovery *rep) {
    rep->republished += redo_pending(client(i));
    release_sleepers(client(i));
    DeadSet dead = {};
    add_set(dead, i);
    scan_all(dead, rep, 0, p_.slot_count);
    wake_consumers(); // it may have died between a push and its wake-up call
    wake(Wait::Space, UINT32_MAX);
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
    lease_ended(w.owner());
    if (to.state() == SlotState::Delayed) note_due(to.time());
    ++rep->leases_reclaimed;
    if (to.state() == SlotState::Dead) ++rep->dead_lettered;
}

// One pass over `count` slots from `first`. Returns the earliest time still
// pending among those seen (a retry or a lease deadline), 0 if none.
uint32_t Queue::scan_slots(const uint8_t *dead, shmq_recovery *rep, uint32_t first, uint32_t count) {
    const uint32_t now = now_ms();
    uint32_t due = 0;
    auto pending = [&](uint32_t t) {
        if (due == 0 || int32_t(t - due) < 0) due = t;
    };
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
            else pending(w.time());
            break;
        case SlotState::Ready:
            if (expired(i, now) && expire(i, w)) ++rep->dead_lettered;
            break;
        case SlotState::Delayed:
            if (expired(i, now)) {
                if (expire(i, w)) ++rep->dead_lettered;
            } else if (!time_reached(w.time(), now)) pending(w.time());
            else if (transition_and_push(i, w, w.next(SlotState::Ready, kNoOwner, 0), kReadyRing, Points{}))
                ++rep->delayed_promoted;
            break;
        default: break;
        }
    }
    return due;
}

// List every READY slot that no valid ready-ring entry names and every FREE
// slot the free ring does not hold: after a push found a ring full, or after
// a dead process (a recoverer among them) may have died between a CAS and its
// push. A slot being pushed by a live process right now may get a second
// entry; one of the two is stale and dropped when met (ring.hpp).
void Queue::relist_unlisted(shmq_recovery *rep) {
    std::vector<bool> in_free(p_.slot_count, false);
    free_.for_each([&](uint32_t v, uint64_t) {
        if (v < p_.slot_count) in_free[v] = true;
    });
    for (uint32_t i = 0; i < p_.slot_count; ++i) {
        SlotWord w{slot(i)->state.load(std::memory_order_acquire)};
        // A group's FREE word is in no ring: the payload slot is (topic.cpp).
        bool unlisted = (w.state() == SlotState::Ready &&
                         !ready_.holds(slot(i)->listed_pos.load(std::memory_order_acquire), i)) ||
                        (w.state() == SlotState::Free && lane_ == kNoLane && !in_free[i]);
        if (!unlisted || slot(i)->state.load(std::memory_order_acquire) != w.raw) continue;
        list(i, w.state() == SlotState::Ready ? kReadyRing : kFreeRing);
        ++rep->republished;
    }
}

// next_due_ms: the earliest retry or lease deadline anyone may need to act
// on, so that sleepers without a daemon wake for it (sleep_ns) and a client
// runs recovery then (maybe_recover_at). Writers only lower it (note_due); a
// full recovery pass marks it kScanning, scans, and puts back the earliest
// time it saw, merged with what writers wrote meanwhile. All its accesses are
// relaxed: it is a hint about when to look, paired with nothing; the slot
// words it points at are read with acquire by the pass that acts on them. A
// late or lost hint costs time, never a message (the harness checks that no
// retry falls due unseen by sleepers, tests/explore).
constexpr uint32_t kScanning = 1; // ms-times start at 1000 (segment.cpp)

static bool earlier(uint32_t a, uint32_t b) { return int32_t(a - b) < 0; }

void Queue::note_due(uint32_t t) {
    if (t == 0 || t == kScanning) t = 2;
    uint32_t cur = hdr_->next_due_ms.load(std::memory_order_relaxed);
    while (cur == 0 || cur == kScanning || earlier(t, cur))
        if (hdr_->next_due_ms.compare_exchange_strong(cur, t, std::memory_order_relaxed)) return;
}

static void end_due_scan(A32 &next_due, uint32_t seen) {
    uint32_t cur = kScanning;
    if (next_due.compare_exchange_strong(cur, seen, std::memory_order_relaxed)) return;
    while (seen != 0 && (cur == 0 || cur == kScanning || earlier(seen, cur)))
        if (next_due.compare_exchange_strong(cur, seen, std::memory_order_relaxed)) return;
}

int Queue::recover(shmq_recovery *report, uint32_t budget) {
    shmq_recovery rep{};
    DeadSet dead = {};
    rep.dead_clients = claim_dead_clients(dead, &rep);
    // A dead client's slots may be anywhere: its record is freed only after
    // a full pass. Otherwise a budget bounds the cost on huge queues, and
    // successive calls sweep on from where the last one stopped.
    if (rep.dead_clients > 0 || budget == 0 || budget >= p_.slot_count) {
        hdr_->next_due_ms.store(kScanning, std::memory_order_relaxed);
        end_due_scan(hdr_->next_due_ms, scan_all(dead, &rep, 0, p_.slot_count));
        if (rep.dead_clients > 0 || hdr_->relist.exchange(0, std::memory_order_acq_rel) != 0)
            relist_all(&rep);
    } else {
        uint32_t first = scan_cursor_.fetch_add(budget, std::memory_order_relaxed) % p_.slot_count;
        scan_all(dead, &rep, first, budget);
    }
    for (uint32_t i = 0; i < p_.max_clients; ++i)
        if (in_set(dead, i)) free_record(i);
    hdr_->reclaimed.fetch_add(rep.leases_reclaimed, std::memory_order_relaxed);
    hdr_->promoted.fetch_add(rep.delayed_promoted, std::memory_order_relaxed);
    hdr_->recovery_dead.fetch_add(rep.dead_lettered, std::memory_order_relaxed);
    hdr_->dead_clients.fetch_add(rep.dead_clients, std::memory_order_relaxed);
    // A dead client may also have died between a push and its wake-up call
    // (send.cpp, wake): whoever sleeps must look again.
    if (rep.dead_clients + rep.leases_reclaimed + rep.delayed_promoted + rep.republished > 0) wake_consumers();
    if (rep.dead_clients + rep.writes_reclaimed + rep.republished > 0) wake(Wait::Space, UINT32_MAX);
    if (report != nullptr) *report = rep;
    return SHMQ_OK;
}

bool Queue::daemon_alive() const {
    int64_t hb = hdr_->daemon_heartbeat_ms.load(std::memory_order_relaxed);
    return hb != 0 && int32_t(now_ms() - uint32_t(hb)) < kDaemonStaleMs;
}

// While no daemon keeps the queue, clients run recovery themselves: when a
// retry or lease deadline comes due (next_due_ms), and every
// g_dead_check_ms to notice dead clients. At most one pass per ms.
void Queue::maybe_recover_at(uint32_t now) {
    int64_t hb = hdr_->daemon_heartbeat_ms.load(std::memory_order_relaxed);
    if (hb != 0 && int32_t(now - uint32_t(hb)) < kDaemonStaleMs) return;
    uint32_t due = hdr_->next_due_ms.load(std::memory_order_relaxed);
    int64_t last = hdr_->last_recover_ms.load(std::memory_order_relaxed);
    bool due_now = due == kScanning || (due != 0 && time_reached(due, now));
    if (!due_now && int32_t(now - uint32_t(last)) < g_dead_check_ms.load(std::memory_order_relaxed)) return;
    if (uint32_t(last) == now) return;
    if (hdr_->last_recover_ms.compare_exchange_strong(last, now, std::memory_order_relaxed)) recover(nullptr, 65536);
}

void Queue::maybe_recover() { maybe_recover_at(now_ms()); }

// How long a sleeper may sleep (at most `left`): without a daemon, until the
// next due time or the next check for dead clients; with one, until its
// heartbeat would go stale (then clients take over). These are timers for
// work that falls due, never a cover for a missed wake-up (wait.hpp).
int64_t Queue::sleep_ns(int64_t left) const {
    const uint32_t now = now_ms();
    int64_t hb = hdr_->daemon_heartbeat_ms.load(std::memory_order_relaxed);
    int64_t ms;
    if (hb != 0 && int32_t(now - uint32_t(hb)) < kDaemonStaleMs) {
        ms = kDaemonStaleMs - int32_t(now - uint32_t(hb)) + 1;
    } else {
        ms = g_dead_check_ms.load(std::memory_order_relaxed);
        uint32_t due = hdr_->next_due_ms.load(std::memory_order_relaxed);
        if (due == kScanning) ms = std::min<int64_t>(ms, 1);
        else if (due != 0) ms = std::min<int64_t>(ms, std::max<int32_t>(int32_t(due - now), 0) + 1);
    }
    return std::min(left, ms * 1000000);
}

} // namespace shmq::detail
