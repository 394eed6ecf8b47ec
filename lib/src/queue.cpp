// queue.cpp - a handle's life: create or open the segment, take a client
// record, give it back. Also the publish-with-intent step every ring push uses.
#include "queue.hpp"

#include "crashpoint.hpp"
#include "names.hpp"
#include "sys.hpp"

#include <cstring>
#include <memory>
#include <new>
#include <unistd.h>

namespace shmq::detail {

static void options_or_default(const shmq_options *in, shmq_options *out) {
    shmq_options_init(out);
    if (in != nullptr) {
        out->prefetch = in->prefetch;
        out->spin_ns = in->spin_ns;
    }
}

static int check_options(const shmq_options *o) {
    return o == nullptr || o->struct_size >= sizeof(shmq_options) ? SHMQ_OK : SHMQ_EINVAL;
}

// Validate the name, make a handle, run `setup` on it, and hand it out only
// if that succeeded.
template <class F> int Queue::build(const char *name, Queue **out, F &&setup) {
    if (out == nullptr) return SHMQ_EINVAL;
    int rc = check_name(name);
    if (rc != SHMQ_OK) return rc;
    std::unique_ptr<Queue> q(new (std::nothrow) Queue());
    if (q == nullptr) return SHMQ_ENOSPACE;
    q->name_ = name;
    if ((rc = setup(*q)) != SHMQ_OK) return rc;
    *out = q.release();
    return SHMQ_OK;
}

int Queue::create(const char *name, const shmq_params *params, const shmq_options *opts, Queue **out) {
    if (check_options(opts) != SHMQ_OK) return SHMQ_EINVAL;
    shmq_params defaults;
    shmq_params_init(&defaults);
    return build(name, out, [&](Queue &q) {
        int rc = compute_layout(params != nullptr ? *params : defaults, q.p_);
        if (rc == SHMQ_OK) rc = segment_create(name, q.p_, &q.map_);
        return rc == SHMQ_OK ? q.attach(opts) : rc;
    });
}

int Queue::open(const char *name, const shmq_options *opts, Queue **out) {
    if (check_options(opts) != SHMQ_OK) return SHMQ_EINVAL;
    return build(name, out, [&](Queue &q) {
        int rc = segment_open(name, &q.map_, &q.p_);
        return rc == SHMQ_OK ? q.attach(opts) : rc;
    });
}

int Queue::inspect(const char *name, Queue **out) {
    return build(name, out, [&](Queue &q) {
        int rc = segment_open(name, &q.map_, &q.p_);
        if (rc == SHMQ_OK) q.bind();
        return rc;
    });
}

Queue::~Queue() {
    if (rec_ != nullptr) close_fds();
    if (rec_ != nullptr) detach();
    segment_unmap(&map_);
}

// Wrapping on purpose: ms-times are compared with time_reached().
uint32_t Queue::now_ms() const { return uint32_t(uint64_t(mono_ns() - epoch_) / 1000000); }

uint32_t Queue::deadline_base_ms() const {
    return uint32_t((uint64_t(mono_ns_not_before() - epoch_) + 999999) / 1000000);
}

void Queue::params(shmq_params *out) const {
    shmq_params_init(out);
    out->slot_size = p_.slot_size;
    out->slot_count = p_.slot_count;
    out->max_clients = p_.max_clients;
    out->lease_ms = p_.lease_ms;
    out->max_attempts = p_.max_attempts;
    out->backoff_base_ms = p_.backoff_base_ms;
    out->backoff_cap_ms = p_.backoff_cap_ms;
    out->jitter = p_.jitter;
    out->overflow = p_.overflow;
    out->mode = p_.mode;
}

// Fill in a record we hold in state Attaching, then make it Active.
void Queue::fill_record(ClientRecord *rec, uint32_t epoch, const ProcessId &me) {
    rec->start_time = me.start_time;
    rec->pidns = me.pidns;
    rec->attached_ns = real_ns();
    rec->role.store(0, std::memory_order_relaxed);
    rec->prefetch.store(prefetch_, std::memory_order_relaxed);
    rec->leased.store(0, std::memory_order_relaxed);
    rec->sleeping.store(0, std::memory_order_relaxed);
    rec->space_sleeping.store(0, std::memory_order_relaxed);
    rec->fd_armed.store(0, std::memory_order_relaxed);
    for (auto &pd : rec->pending) pd.target.store(0, std::memory_order_relaxed);
    for (uint32_t k = 0; k < kCounters; ++k) rec->base[k] = rec->count[k].load(std::memory_order_relaxed);
    rec->word.store(ClientWord::make(ClientState::Active, epoch, uint32_t(me.pid)).raw,
                    std::memory_order_release);
}

bool Queue::try_attach(const ProcessId &me) {
    for (uint32_t i = 0; i < p_.max_clients; ++i) {
        ClientRecord *rec = client(i);
        ClientWord w{rec->word.load(std::memory_order_acquire)};
        if (w.state() != ClientState::Free) continue;
        ClientWord claim = ClientWord::make(ClientState::Attaching, w.epoch(), uint32_t(me.pid));
        if (!rec->word.compare_exchange_strong(w.raw, claim.raw, std::memory_order_acq_rel)) continue;
        // Dying here leaves an Attaching record with our pid: recovery frees it.
        SHMQ_CRASH_POINT("attach.after_claim");
        me_ = i;
        rec_ = rec;
        fill_record(rec, w.epoch(), me);
        return true;
    }
    return false;
}

// Point the header and ring views at the mapped segment.
void Queue::bind() {
    hdr_ = static_cast<Header *>(map_.base);
    // Our own copy, clamped: a damaged header must not make time overflow.
    int64_t now = mono_ns(), e = hdr_->epoch_mono_ns;
    epoch_ = e > 0 && e <= now ? e : now - 1000000000;
    char *b = base();
    auto *rr = reinterpret_cast<RingHeader *>(b + p_.off_ready_ring);
    auto *fr = reinterpret_cast<RingHeader *>(b + p_.off_free_ring);
    ready_ = Ring(rr, reinterpret_cast<A64 *>(rr + 1), p_.ring_cap, "ready.push.after_cell",
                  "ready.pop.after_take");
    free_ = Ring(fr, reinterpret_cast<A64 *>(fr + 1), p_.ring_cap, "free.push.after_cell",
                 "free.pop.after_take");
}

int Queue::attach(const shmq_options *opts) {
    bind();
    shmq_options o;
    options_or_default(opts, &o);
    prefetch_ = o.prefetch;
    spin_ns_ = o.spin_ns;
    ProcessId me = self_process();
    rng_.store(uint64_t(me.pid) << 32 ^ uint64_t(real_ns()));
    if (try_attach(me)) return SHMQ_OK;
    // The table is full: records of dead processes may be holding it.
    me_ = kNoOwner;
    recover_records_only();
    return try_attach(me) ? SHMQ_OK : SHMQ_ECLIENTS;
}

// Give back everything this handle holds, as if it had died, then free the
// record. Leases go back to the queue (counting the attempt), reservations
// are freed.
void Queue::detach() {
    uint8_t self[kMaxClients / 8 + 1] = {};
    self[me_ / 8] |= uint8_t(1u << (me_ % 8));
    shmq_recovery rep{};
    scan_slots(self, &rep, 0, p_.slot_count);
    release_sleepers(rec_);
    ClientWord w{rec_->word.load(std::memory_order_acquire)};
    rec_->word.store(ClientWord::make(ClientState::Free, w.epoch() + 1, 0).raw, std::memory_order_release);
    rec_ = nullptr;
}

Pending *Queue::claim_pending() {
    for (int spins = 0;; ++spins) {
        for (auto &pd : rec_->pending) {
            uint64_t expected = 0;
            if (pd.target.compare_exchange_strong(expected, kPendingClaimed, std::memory_order_acquire))
                return &pd;
        }
        // All taken: more threads publishing on this handle at once than
        // there are entries, or our record was scribbled on from outside.
        // Past a bound, share entry 0 rather than hang: the cost is only that
        // a crash in that window could leave one message unlisted.
        if (spins > 100000) return &rec_->pending[0];
        cpu_relax();
    }
}

bool Queue::transition_and_push(uint32_t i, SlotWord from, SlotWord to, RingId r, const Points &at) {
    Pending *pd = claim_pending();
    pd->state.store(to.raw, std::memory_order_relaxed);
    pd->target.store(kPendingUsed | uint64_t(r) << 32 | i, std::memory_order_release);
    SHMQ_CRASH_POINT(at.intent);
    // The intent is in shared memory before the CAS: from here on, a
    // recoverer that finds this process dead finishes the push.
    bool ok = slot(i)->state.compare_exchange_strong(from.raw, to.raw, std::memory_order_acq_rel);
    if (ok) {
        SHMQ_CRASH_POINT(at.cas);
        ring(r).push(i);
        SHMQ_CRASH_POINT(at.push);
    }
    pd->target.store(0, std::memory_order_release);
    return ok;
}

uint32_t Queue::redo_pending(ClientRecord *dead) {
    uint32_t redone = 0;
    for (auto &pd : dead->pending) {
        uint64_t t = pd.target.load(std::memory_order_acquire);
        if (t == 0) continue;
        uint32_t i = uint32_t(t), r = uint32_t(t >> 32) & 1;
        // Push again only if the slot is still in the state the push was for;
        // if it was pushed already, the duplicate entry is harmless (ring.hpp).
        if (t != kPendingClaimed && i < p_.slot_count &&
            slot(i)->state.load(std::memory_order_acquire) == pd.state.load(std::memory_order_relaxed)) {
            ring(RingId(r)).push(i);
            ++redone;
        }
        pd.target.compare_exchange_strong(t, 0, std::memory_order_acq_rel);
    }
    return redone;
}

// A locked add even though only this handle writes the counter: a handle may
// be shared by threads (Go's Consume does), and metrics must not lose counts.
void Queue::bump(Counter c, uint64_t n) { rec_->count[c].fetch_add(n, std::memory_order_relaxed); }

// Mark this client a producer (bit 0) or consumer (bit 1), once.
void Queue::mark_role(uint32_t bit) {
    if ((rec_->role.load(std::memory_order_relaxed) & bit) == 0) rec_->role.fetch_or(bit, std::memory_order_relaxed);
}

} // namespace shmq::detail
