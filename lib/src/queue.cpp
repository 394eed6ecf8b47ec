// queue.cpp - a handle's life: create or open the segment, take a client
// record, give it back.
#include "queue.hpp"

#include "crashpoint.hpp"
#include "names.hpp"
#include "sys.hpp"

#include <algorithm>
#include <cstddef>
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
        if (in->struct_size > kOptionsV3) out->wait = in->wait;
        if (in->struct_size > kOptionsV4) out->single_thread = in->single_thread;
    }
}

static int check_options(const shmq_options *o) {
    if (o == nullptr) return SHMQ_OK;
    if (o->struct_size < kOptionsV3) return SHMQ_EINVAL;
    if (o->struct_size > kOptionsV3 && o->wait > SHMQ_WAIT_SPIN) return SHMQ_EINVAL;
    return o->struct_size <= kOptionsV4 || o->single_thread <= 1 ? SHMQ_OK : SHMQ_EINVAL;
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

// The caller's params may be 0.3's, which end before ttl_ms: read what its
// struct_size covers over the defaults.
static int params_or_default(const shmq_params *in, shmq_params *out) {
    shmq_params_init(out);
    if (in == nullptr) return SHMQ_OK;
    if (in->struct_size < kParamsV3) return SHMQ_EINVAL;
    std::memcpy(out, in, std::min<size_t>(in->struct_size, sizeof *out));
    out->struct_size = sizeof *out;
    return SHMQ_OK;
}

int Queue::create(const char *name, const shmq_params *params, const shmq_options *opts, Queue **out) {
    if (check_options(opts) != SHMQ_OK) return SHMQ_EINVAL;
    shmq_params in;
    if (params_or_default(params, &in) != SHMQ_OK || check_new_params(in) != SHMQ_OK) return SHMQ_EINVAL;
    return build(name, out, [&](Queue &q) {
        int rc = compute_layout(in, q.p_);
        if (rc == SHMQ_OK) rc = segment_create(name, q.p_, &q.map_);
        return rc == SHMQ_OK ? q.attach(opts) : rc;
    });
}

// Map and validate `name`, then judge its boot (reboot.cpp): a DISK segment
// of another boot is rebuilt, a MEMORY one refused.
static int open_checked(Queue &q, const char *name, Mapping *map, Params *p) {
    int fd = -1;
    int rc = segment_open(name, map, p, &fd);
    if (rc != SHMQ_OK) return rc;
    rc = q.check_boot(fd);
    close(fd);
    return rc;
}

int Queue::open(const char *name, const shmq_options *opts, Queue **out) {
    if (check_options(opts) != SHMQ_OK) return SHMQ_EINVAL;
    return build(name, out, [&](Queue &q) {
        int rc = open_checked(q, name, &q.map_, &q.p_);
        return rc == SHMQ_OK ? q.attach(opts) : rc;
    });
}

int Queue::open_group(const char *name, const char *group, const shmq_options *opts, Queue **out) {
    if (check_options(opts) != SHMQ_OK) return SHMQ_EINVAL;
    if (int rc = check_name(group); rc != SHMQ_OK) return rc;
    return build(name, out, [&](Queue &q) -> int {
        int rc = open_checked(q, name, &q.map_, &q.p_);
        if (rc != SHMQ_OK) return rc;
        if (!q.topic()) return SHMQ_EINVAL;
        int k = find_lane(q, group);
        if (k < 0) return SHMQ_ENOTFOUND;
        q.lane_ = uint32_t(k);
        q.lane_word_ = q.lane_header(uint32_t(k))->state.load(std::memory_order_acquire);
        if ((q.lane_word_ & 3) != uint64_t(LaneState::Bound)) return SHMQ_ENOTFOUND; // removed meanwhile
        return q.attach(opts);
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
    if (view_) return; // the mapping and the record are its owner's
    if (rec_ != nullptr) close_fds();
    if (rec_ != nullptr) detach();
    segment_unmap(&map_);
}

void Queue::abandon() {
    rec_ = nullptr;
    sync_views();
    segment_unmap(&map_);
}

// Wrapping on purpose: ms-times are compared with time_reached().
uint32_t Queue::now_ms() const { return uint32_t(uint64_t(mono_ns() - epoch_) / 1000000); }

// Rounded up from the precise clock: a deadline `deadline_base_ms() + n` is
// reached (now_ms() rounds down) no sooner than n ms after the call. It read
// CLOCK_MONOTONIC_COARSE + its resolution before, which lagged by up to 12 ms
// here (20 ms seen), so leases were reclaimed that much early from a live
// consumer (explore scenarios extend_expire, lease_expiry_live).
uint32_t Queue::deadline_base_ms() const { return uint32_t((uint64_t(mono_ns() - epoch_) + 999999) / 1000000); }

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
    out->ttl_ms = p_.ttl_ms;
    out->max_groups = p_.groups;
    out->dedup_window_ms = p_.dedup_window_ms;
    out->durability = p_.durability;
    out->dedup_capacity = p_.dedup_capacity;
}

// Fill in the record we claimed (Attaching, our pid), then make it Active
// with a CAS from exactly the word we claimed: if anything changed the record
// meanwhile, we do not own it and try another.
bool Queue::fill_record(ClientRecord *rec, ClientWord claimed, const ProcessId &me) {
    rec->start_time = me.start_time;
    rec->pidns = me.pidns;
    rec->attached_ns = real_ns();
    rec->role.store(0, std::memory_order_relaxed);
    rec->prefetch.store(prefetch_, std::memory_order_relaxed);
    rec->leased.store(0, std::memory_order_relaxed);
    rec->returned.store(0, std::memory_order_relaxed);
    rec->sleeping.store(0, std::memory_order_relaxed);
    rec->space_sleeping.store(0, std::memory_order_relaxed);
    rec->fd_armed.store(0, std::memory_order_relaxed);
    for (auto &pd : rec->pending) pd.target.store(0, std::memory_order_relaxed);
    for (uint32_t k = 0; k < kCounters; ++k) rec->base[k] = rec->count[k].load(std::memory_order_relaxed);
    uint64_t expected = claimed.raw;
    ClientWord active = ClientWord::make(ClientState::Active, claimed.epoch(), claimed.value());
    return rec->word.compare_exchange_strong(expected, active.raw, std::memory_order_acq_rel);
}

// Claim record i: a Free one, or (take_dead) one whose process is dead. A dead
// one's previous life is finished first, as a recoverer would (recovery.cpp):
// its slots name this index, so they must be given back before we use it.
// Dying anywhere here leaves an Attaching record with our (dead) pid, which
// the next recoverer or attacher finishes the same way.
bool Queue::claim_record(uint32_t i, const ProcessId &me, bool take_dead) {
    ClientRecord *rec = client(i);
    ClientWord w{rec->word.load(std::memory_order_acquire)};
    const bool fresh = w.state() == ClientState::Free;
    if (!fresh && !(take_dead && is_dead(i, w))) return false;
    ClientWord claim = ClientWord::make(ClientState::Attaching, w.epoch() + (fresh ? 0 : 1), uint32_t(me.pid));
    if (!rec->word.compare_exchange_strong(w.raw, claim.raw, std::memory_order_acq_rel)) return false;
    SHMQ_CRASH_POINT("attach.after_claim");
    me_ = i;
    rec_ = rec;
    sync_views();
    if (!fresh) {
        shmq_recovery rep{};
        finish_previous_life(i, &rep);
        remove_fifo(i, w.epoch());
    }
    if (fill_record(rec, claim, me)) return true;
    me_ = kNoOwner;
    rec_ = nullptr;
    sync_views();
    return false;
}

// Point the header and ring views at the mapped segment.
void Queue::bind() {
    hdr_ = static_cast<Header *>(map_.base);
    // Our own copy, clamped: a damaged header must not make time overflow.
    // A rebuilt DISK segment's epoch may be negative (reboot.cpp, rebase_epoch).
    int64_t now = mono_ns(), e = hdr_->epoch_mono_ns;
    epoch_ = e <= now && e > now - (int64_t(1) << 62) ? e : now - 1000000000;
    char *b = base();
    auto *rr = reinterpret_cast<RingHeader *>(b + p_.off_ready_ring);
    auto *fr = reinterpret_cast<RingHeader *>(b + p_.off_free_ring);
    tag_ = uint64_t(hdr_->tag) << 32;
    not_durable_ = p_.durability == SHMQ_DURABILITY_DISK && on_tmpfs(segment_dir());
    ready_ = Ring(rr, reinterpret_cast<A64 *>(rr + 1), p_.ring_cap, "ready.push.after_cell",
                  "ready.pop.after_take");
    free_ = Ring(fr, reinterpret_cast<A64 *>(fr + 1), p_.ring_cap, "free.push.after_cell",
                 "free.pop.after_take");
    slots_ = b + p_.off_slots;
    slot_step_ = p_.slot_stride;
    ready_ev_ = &hdr_->ready_wait;
    if (lane_ != kNoLane) { // a group: its own slot headers, ring and event count (topic.cpp)
        LaneHeader *lh = lane_header(lane_);
        slots_ = reinterpret_cast<char *>(lh + 1);
        slot_step_ = sizeof(SlotHeader);
        auto *lr = reinterpret_cast<RingHeader *>(slots_ + uint64_t(p_.slot_count) * sizeof(SlotHeader));
        ready_ = Ring(lr, reinterpret_cast<A64 *>(lr + 1), p_.ring_cap, "ready.push.after_cell",
                      "ready.pop.after_take");
        ready_ev_ = &lh->ready_wait;
    }
    if (topic() && !view_) bind_views();
}

int Queue::attach(const shmq_options *opts) {
    bind();
    shmq_options o;
    options_or_default(opts, &o);
    prefetch_ = o.prefetch;
    spin_[0].init(o.spin_ns, o.wait == SHMQ_WAIT_ADAPTIVE);
    spin_[1].init(o.spin_ns, o.wait == SHMQ_WAIT_ADAPTIVE);
    single_ = o.single_thread == 1;
    // The slot cache (send.cpp) is process memory: a single-threaded queue
    // producer's only (a topic's payload slots are not cached).
    const uint32_t share = g_slot_cache_share.load(std::memory_order_relaxed);
    cache_max_ = single_ && !topic() && share > 0 ? std::min<uint32_t>(kCache, p_.slot_count / share) : 0;
    ProcessId me = self_process();
    rng_.store(uint64_t(me.pid) << 32 ^ uint64_t(real_ns()));
    for (uint32_t i = 0; i < p_.max_clients; ++i)
        if (claim_record(i, me, false)) return SHMQ_OK;
    // The table is full: take over the record of a dead process, if any
    // (no daemon needed: the attacher finishes the dead one's work itself).
    for (uint32_t i = 0; i < p_.max_clients; ++i)
        if (claim_record(i, me, true)) return SHMQ_OK;
    return SHMQ_ECLIENTS;
}

// Give back everything this handle holds, as if it had died, then free the
// record. Leases go back to the queue (counting the attempt), reservations
// are freed.
void Queue::detach() {
    uint8_t self[kMaxClients / 8 + 1] = {};
    self[me_ / 8] |= uint8_t(1u << (me_ % 8));
    shmq_recovery rep{};
    scan_all(self, &rep, 0, p_.slot_count);
    // What we gave back may be what others sleep for: slots we held (a
    // reservation, the slot cache) and leases made ready again.
    if (rep.writes_reclaimed > 0) wake(Wait::Space, UINT32_MAX);
    if (rep.leases_reclaimed > 0) wake_consumers();
    cached_ = 0;
    release_sleepers(rec_);
    ClientWord w{rec_->word.load(std::memory_order_acquire)};
    rec_->word.store(ClientWord::make(ClientState::Free, w.epoch() + 1, 0).raw, std::memory_order_release);
    rec_ = nullptr;
    sync_views();
}

// Only this handle writes its counters. A locked add unless the handle is
// single-threaded: a handle may be shared by threads (Go's Consume does), and
// metrics must not lose counts.
// SYNC POINT: the release orders the counted work (for kSent, the slot's
// READY or DELAYED CAS and its bytes) before the count; pairs with the
// acquire loads of sends_total (flush.cpp), so a flush never counts as
// durable a send whose slot it may not have written back. Free on x86.
void Queue::bump(Counter c, uint64_t n) { add_own(rec_->count[c], n, std::memory_order_release); }

// Mark this client a producer (bit 0) or consumer (bit 1), once.
void Queue::mark_role(uint32_t bit) {
    if ((rec_->role.load(std::memory_order_relaxed) & bit) == 0) rec_->role.fetch_or(bit, std::memory_order_relaxed);
}

} // namespace shmq::detail
