// world.cpp - scenario programs and invariants of the exploration harness.
#include "world.hpp"

#include "audit.hpp"
#include "words.hpp"

#include <cstring>

namespace explore {

using shmq::detail::ClientState;
using shmq::detail::DeadReason;
using shmq::detail::MessageMeta;
using shmq::detail::Outgoing;
using shmq::detail::ClientWord;
using shmq::detail::Queue;
using shmq::detail::SlotState;
using shmq::detail::SlotWord;

namespace {

Queue *core(shmq_queue *q) { return reinterpret_cast<Queue *>(q); }

// Reads for the checks bypass the scheduling points (Atomic::raw()).
template <class A> auto peek(A &a) { return a.raw()->load(std::memory_order_seq_cst); }

uint64_t key_of(Queue *q, uint32_t i) {
    uint64_t k = 0;
    std::memcpy(&k, q->payload_of(i), sizeof k);
    return k;
}

bool holds_message(SlotState s) {
    return s == SlotState::Ready || s == SlotState::Leased || s == SlotState::Delayed || s == SlotState::Dead;
}

// The event count consumers of queue or group lane `l` sleep on.
const void *ready_event(Queue *l) {
    if (l->lane() == shmq::detail::kNoLane) return l->header()->ready_wait.raw();
    return l->lane_header(l->lane())->ready_wait.raw();
}

// A ledger key for `key` in group g alone (keys use the low 48 bits).
uint64_t in_group(uint64_t key, uint32_t g) { return key | uint64_t(g + 1) << 56; }

std::string hex(uint64_t k) { return "p" + std::to_string(k >> 32) + "#" + std::to_string(uint32_t(k)); }

constexpr int64_t kMs = 1000000;
// Marks the payload of a reservation that is aborted: it must never be delivered.
constexpr uint64_t kAborted = 1ULL << 31;

// Sleep `ns` of virtual time (a process working, or a daemon's tick): a futex
// wait on a word nobody wakes, which the harness ends when nobody else can run.
void nap(int64_t ns) {
    uint32_t word = 0;
    g_sim.futex_wait(&word, 0, ns);
}

void fail(const std::string &what) {
    if (g_sim.failure.empty()) g_sim.failure = what;
}

uint64_t key_at(const void *data) {
    uint64_t k = 0;
    std::memcpy(&k, data, sizeof k);
    return k;
}

// The headers a scenario with headers sends with message `key`: its name (a
// batch shares one set of options, so there its producer's), and a constant.
std::string header_value(uint64_t key, bool batch) { return hex(batch ? key >> 32 << 32 : key); }

// A send without a timeout returns only OK (a kill never returns): anything
// else is a broken scenario (one whose messages do not fit, say), which
// would otherwise pass with nothing sent. True if it failed.
bool refused(int rc) {
    if (rc != SHMQ_OK && g_sim.failure.empty()) g_sim.failure = std::string("a send returned ") + shmq_strerror(rc);
    return rc != SHMQ_OK;
}

} // namespace

World::World(const Scenario &sc, uint64_t serial) : sc_(sc), name_("x" + std::to_string(serial)) {
    // Read at attach: off (slot_count / 0) unless the scenario explores the slot cache.
    shmq::detail::g_slot_cache_share.store(sc.slot_cache ? 1 : 0);
    shmq_params p;
    shmq_params_init(&p);
    p.slot_size = sc.headers ? 128 : 16; // 8-byte keys, and about 80 bytes of headers
    p.slot_count = sc.slots;
    p.max_clients = sc.max_clients;
    p.lease_ms = sc.lease_ms;
    p.max_attempts = sc.reject_by_nack ? 1 : 10;
    p.backoff_base_ms = 0;
    p.backoff_cap_ms = 0;
    p.jitter = SHMQ_JITTER_NONE;
    shmq_options o;
    shmq_options_init(&o);
    o.spin_ns = 0;
    o.prefetch = 0;
    p.max_groups = sc.groups;
    p.dedup_window_ms = sc.dedup_window_ms;
    p.dedup_capacity = sc.dedup_window_ms != 0 ? 4 : 0; // a capacity needs a window (shmq_create)
    if (sc.reboot) {
        p.durability = SHMQ_DURABILITY_DISK;
        setenv("SHMQ_BOOT_ID", "0123456789abcdef0123456789abcdef", 1); // the old boot
    }
    if (shmq_create(name_.c_str(), &p, &o, &admin_) != SHMQ_OK) abort();
    core_ = core(admin_);
    led_.firsts.resize(size_t(sc.consumers + (sc.add_group_live ? 1 : 0)));
    led_.acked.resize(group_count());
    led_.acking.resize(group_count());
    led_.leased_first.resize(group_count());
    led_.seen.resize(group_count());
    led_.observed_in.resize(group_count());
    if (sc.groups == 0) lanes_.push_back(core_);
    for (uint32_t g = 0; g < sc.groups; ++g) {
        lanes_.push_back(core_->lane_view(g));
        bool live = sc.add_group_live && g == sc.groups - 1; // bound later, by a simulated process
        if (!live && shmq_group_add(admin_, ("g" + std::to_string(g)).c_str()) != SHMQ_OK) abort();
    }
    if (sc.reboot) before_reboot();
}

// The world a reboot leaves, built by the harness alone: keys 1-5 sent, key 1
// LEASED, key 4 DELAYED (5 ms), key 5's payload damaged past its key (to be
// quarantined: DEAD, reason invalid), a reservation WRITING (an aborted key),
// then every process of that boot gone (the harness's handle dropped as a
// kill would, its record still naming pid 1, which is alive) and a new boot id.
void World::before_reboot() {
    auto send = [&](uint32_t seq, int64_t delay) {
        uint64_t key = 1ULL << 32 | seq, id = 0, body[2] = {key, ~key}; // 16 bytes: byte 12 is checksummed
        shmq_send_opts o;
        shmq_send_opts_init(&o);
        o.delay_ns = delay;
        if (shmq_send_ex(admin_, body, sizeof body, &o, &id, 0) != SHMQ_OK) abort();
        led_.sent.insert(key);
        led_.ids[key] = id;
        led_.not_before[key] = g_sim.now_ns + delay;
    };
    for (uint32_t seq = 1; seq <= 5; ++seq) send(seq, seq == 4 ? 5 * kMs : 0);
    shmq_msg m;
    if (shmq_recv(admin_, &m, 0) != SHMQ_OK || key_at(m.data) != (1ULL << 32 | 1)) abort();
    for (uint32_t i = 0; i < sc_.slots; ++i)
        if (SlotWord{peek(core_->slot(i)->state)}.state() == SlotState::Ready && key_of(core_, i) == (1ULL << 32 | 5))
            const_cast<char *>(core_->payload_of(i))[12] ^= 1;
    shmq_reservation r;
    if (shmq_reserve(admin_, &r, 0) != SHMQ_OK) abort();
    const uint64_t aborted = kAborted | 1ULL << 32 | 6;
    std::memcpy(r.data, &aborted, sizeof aborted);
    core_->abandon();
    shmq_close(admin_);
    admin_ = nullptr;
    setenv("SHMQ_BOOT_ID", "fedcba9876543210fedcba9876543210", 1); // the new boot
    if (Queue::inspect(name_.c_str(), &view_) != SHMQ_OK) abort();
    core_ = view_;
    lanes_ = {view_};
}

// After the run (reboot): key 5 quarantined (DEAD, invalid), counted once (or
// not at all if a kill fell between its CAS and the count: Known limits); no
// other message dead; the boot id is the new one.
std::string World::check_reboot() const {
    if (!sc_.reboot) return "";
    uint32_t invalid = 0;
    for (uint32_t i = 0; i < sc_.slots; ++i) {
        SlotWord w{peek(core_->slot(i)->state)};
        if (w.state() != SlotState::Dead) continue;
        if (key_of(core_, i) != (1ULL << 32 | 5) || w.time() != uint32_t(DeadReason::Invalid))
            return "message " + hex(key_of(core_, i)) + " dead after the rebuild with reason " + std::to_string(w.time());
        ++invalid;
    }
    const uint64_t counted = peek(core_->header()->quarantined);
    if (invalid != 1 || counted > 1 || (counted == 0 && crashes_seen_ == 0))
        return "damaged message: " + std::to_string(invalid) + " dead slots, quarantined counted " + std::to_string(counted);
    return std::memcmp(core_->header()->boot_id, "\xfe\xdc\xba\x98", 4) == 0 ? "" : "boot id not the new one";
}

World::~World() {
    for (auto &[proc, q] : handles_) { // processes that died holding a handle
        core(q)->abandon();
        shmq_close(q);
    }
    for (shmq_queue *q : drainers_) shmq_close(q);
    shmq_close(admin_);
    delete view_;
    if (sc_.reboot) unsetenv("SHMQ_BOOT_ID");
    shmq_unlink(name_.c_str());
}

shmq_queue *World::open(int proc, uint32_t prefetch, int group) {
    shmq_options o;
    shmq_options_init(&o);
    o.spin_ns = 0;
    o.prefetch = prefetch;
    o.single_thread = sc_.single_thread;
    shmq_queue *q = nullptr;
    int rc = group < 0 || sc_.groups == 0
                 ? shmq_open(name_.c_str(), &o, &q)
                 : shmq_open_group(name_.c_str(), ("g" + std::to_string(group)).c_str(), &o, &q);
    if (rc != SHMQ_OK) return nullptr;
    handles_[proc] = q;
    record_of_[proc] = core(q)->self_index();
    return q;
}

void World::close(int proc, shmq_queue *q) {
    record_of_.erase(proc);
    shmq_close(q);
    handles_.erase(proc);
}

void World::producer(int proc, int index) {
    shmq_queue *q = open(proc, 0);
    shmq_send_opts opts;
    shmq_send_opts_init(&opts);
    opts.delay_ns = sc_.send_delay_ns;
    std::vector<uint64_t> keys, ids(size_t(sc_.per_producer));
    for (int seq = 1; seq <= sc_.per_producer; ++seq) {
        keys.push_back(uint64_t(index + 1) << 32 | uint32_t(seq));
        led_.not_before[keys.back()] = g_sim.now_ns + sc_.send_delay_ns;
    }
    std::string value;
    shmq_header hdrs[2] = {{"key", ""}, {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
    if (sc_.headers) opts.headers = hdrs, opts.header_count = 2;
    if (q != nullptr && sc_.batch) { // batch scenarios send without a ttl
        value = header_value(keys[0], true);
        hdrs[0].value = value.c_str();
        std::vector<shmq_iov> iov;
        for (uint64_t &k : keys) iov.push_back(shmq_iov{&k, sizeof k});
        size_t sent = 0;
        refused(shmq_send_batch_ex(q, iov.data(), iov.size(), &opts, ids.data(), &sent, SHMQ_FOREVER));
        for (size_t k = 0; k < sent; ++k) {
            led_.sent.insert(keys[k]);
            led_.ids[keys[k]] = ids[k];
        }
    }
    for (size_t k = 0; q != nullptr && !sc_.batch && k < keys.size(); ++k) {
        opts.ttl_ns = k == 0 ? sc_.ttl_first_ns : sc_.ttl_rest_ns;
        if (led_.added) led_.after_add.insert(keys[k]); // the live group was bound before this send began
        value = header_value(keys[k], false);
        hdrs[0].value = value.c_str();
        if (k > 0 && sc_.dedup_gap_ns > 0) nap(sc_.dedup_gap_ns);
        int rc = sc_.reserve ? reserve_send(q, keys[k], &opts, &ids[k])
                 : sc_.dedup_window_ms > 0 ? dedup_send(q, keys[k], &opts, &ids[k])
                                           : shmq_send_ex(q, &keys[k], sizeof keys[k], &opts, &ids[k], SHMQ_FOREVER);
        if (rc == -1) continue; // a duplicate: nothing stored under this message's key
        if (refused(rc)) continue;
        led_.sent.insert(keys[k]);
        led_.ids[keys[k]] = ids[k];
        // Stored before the send returned, its expiry rounded down to the ms:
        // it expires no later than this (expiry.cpp).
        if (opts.ttl_ns > 0) {
            const int64_t epoch = core_->header()->epoch_mono_ns, ms = 1000000;
            led_.expires_by[keys[k]] = epoch + (g_sim.now_ns - epoch + sc_.send_delay_ns + opts.ttl_ns) / ms * ms;
        }
    }
    ++led_.ended_producers;
    if (q != nullptr) close(proc, q);
}

// Send `key` with deduplication key "k<seq>" (seq: its low half, the same
// across producers). Returns -1 for a duplicate (OK, nothing stored).
int World::dedup_send(shmq_queue *q, uint64_t key, shmq_send_opts *opts, uint64_t *id) {
    const std::string dk = sc_.dedup_gap_ns > 0 ? "k" : "k" + std::to_string(uint32_t(key));
    uint8_t dup = 7;
    opts->dedup_key = dk.data();
    opts->dedup_key_len = dk.size();
    opts->duplicate_out = &dup;
    int rc = shmq_send_ex(q, &key, sizeof key, opts, id, SHMQ_FOREVER);
    if (rc != SHMQ_OK) return rc;
    if (dup > 1) fail("a keyed send returned OK without saying whether it was a duplicate");
    led_.key_ids[sc_.dedup_gap_ns > 0 ? 0 : uint32_t(key)].insert(*id);
    ++(dup == 1 ? led_.dup_sends : led_.fresh_sends);
    return dup == 1 ? -1 : SHMQ_OK;
}

// Abort a first reservation (its payload marked: a delivery of it is caught),
// then reserve again and commit the message.
int World::reserve_send(shmq_queue *q, uint64_t key, const shmq_send_opts *opts, uint64_t *id) {
    shmq_reservation r;
    int rc = shmq_reserve(q, &r, SHMQ_FOREVER);
    if (rc != SHMQ_OK) return rc;
    const uint64_t marked = key | kAborted;
    std::memcpy(r.data, &marked, sizeof marked);
    if (shmq_abort(q, &r) != SHMQ_OK) fail("the abort of a live reservation failed");
    if (shmq_abort(q, &r) != SHMQ_EINVAL) fail("a spent reservation was aborted again");
    rc = shmq_reserve(q, &r, SHMQ_FOREVER);
    if (rc != SHMQ_OK) return rc;
    std::memcpy(r.data, &key, sizeof key);
    return shmq_commit_ex(q, &r, sizeof key, opts, id);
}

// Has `group` acked (or dead-lettered) everything it must get? (A live
// group must get only what was sent after it was bound.)
bool World::everything_acked(uint32_t group) const {
    if (sc_.purge) return true; // purged messages are gone on purpose: the final check counts them
    const bool live = sc_.add_group_live && group == sc_.groups - 1;
    if (sc_.remove_group && group == sc_.groups - 1) return true; // removed: owed nothing
    for (uint64_t k : led_.sent) {
        if (live && led_.after_add.count(k) == 0) continue;
        auto it = led_.acked[group].find(k);
        if (it != led_.acked[group].end() && it->second > 0) continue;
        if (led_.dead_store.count(k) > 0 || led_.rejected.count(k) > 0) continue;
        bool dead = false;
        Queue *l = lanes_[group];
        for (uint32_t i = 0; i < sc_.slots && !dead; ++i)
            dead = SlotWord{peek(l->slot(i)->state)}.state() == SlotState::Dead && key_of(l, i) == k;
        if (!dead) return false;
    }
    return true;
}

// With sc_.headers, "" if m carries exactly the headers its send gave, else
// what it carries instead.
std::string World::check_headers(uint64_t key, shmq_queue *q, const shmq_msg &m) const {
    if (!sc_.headers || !led_.ids.count(key)) return ""; // a send killed before it returned: no promise
    const char *v = nullptr;
    size_t n = 0, len = 0;
    const void *block = nullptr;
    int rc = shmq_msg_header(q, &m, "key", &v, &n);
    if (rc != SHMQ_OK) return std::string("no header \"key\" (") + shmq_strerror(rc) + ")";
    if (std::string(v, n) != header_value(key, sc_.batch)) return "header key=" + std::string(v, n);
    if (shmq_msg_headers(q, &m, &block, &len) != SHMQ_OK || len != 2 * 3 + 3 + 11 + n + 55)
        return "a header block of " + std::to_string(len) + " bytes";
    return "";
}

// A delivery carries the id and headers its send gave, comes no earlier than
// the send's delay after the send was called, and before its ttl ran out.
void World::check_delivery(uint64_t key, shmq_queue *q, const shmq_msg &m, uint32_t group) {
    led_.seen[group].insert(key);
    led_.observed[m.id] = key;
    led_.observed_in[group][m.id] = key;
    if ((key & kAborted) != 0) fail("message " + hex(key & ~kAborted) + "'s aborted reservation was delivered");
    if (led_.rejected.count(key) > 0) fail("message " + hex(key) + " delivered after its reject returned");
    if (std::string got = check_headers(key, q, m); !got.empty() && g_sim.failure.empty())
        g_sim.failure = "message " + hex(key) + " delivered with " + got + ", its send gave key=" +
                        header_value(key, sc_.batch);
    auto id = led_.ids.find(key);
    if (id != led_.ids.end() && id->second != m.id && g_sim.failure.empty())
        g_sim.failure = "message " + hex(key) + " delivered with id " + std::to_string(m.id) + ", its send returned " +
                        std::to_string(id->second);
    for (uint64_t k : {key, in_group(key, group)}) { // the send's delay, and this group's retries
        auto nb = led_.not_before.find(k);
        if (nb != led_.not_before.end() && g_sim.now_ns < nb->second && g_sim.failure.empty())
            g_sim.failure = "message " + hex(key) + " delivered " + std::to_string((nb->second - g_sim.now_ns) / 1000) +
                            " us before its delay ended";
    }
    auto eb = led_.expires_by.find(key);
    if (eb != led_.expires_by.end() && g_sim.now_ns >= eb->second && g_sim.failure.empty())
        g_sim.failure = "message " + hex(key) + " delivered " + std::to_string((g_sim.now_ns - eb->second) / 1000) +
                        " us after its ttl ran out";
}

// A consumer that leases up to three at a time and acks them in one call.
void World::batch_consumer(int proc, int index) {
    const uint32_t g = group_of(index);
    shmq_queue *q = open(proc, 0, int(g));
    while (q != nullptr) {
        shmq_msg m[3];
        size_t n = 0;
        int rc = shmq_recv_batch(q, m, 3, &n, 20 * 1000000LL);
        if (rc != SHMQ_OK) {
            if (rc == SHMQ_ECLOSED || (led_.ended_producers == sc_.producers && everything_acked(g))) break;
            continue;
        }
        uint64_t keys[3] = {};
        int results[3] = {-1, -1, -1};
        for (size_t k = 0; k < n; ++k) {
            std::memcpy(&keys[k], m[k].data, sizeof keys[k]);
            check_delivery(keys[k], q, m[k], g);
            if (m[k].attempt == 1) led_.firsts[size_t(index)].push_back(keys[k]);
            led_.acking[g].insert(keys[k]);
        }
        shmq_ack_batch(q, m, n, results);
        for (size_t k = 0; k < n; ++k) {
            if (results[k] == SHMQ_OK) ++led_.acked[g][keys[k]];
            led_.acking[g].erase(led_.acking[g].find(keys[k]));
        }
    }
    if (q != nullptr) close(proc, q);
}

// A reject scenario's end of a first delivery (reject_first): a reject, with
// the scenario's reason or the default, or a nack out of attempts.
int World::end_as_dead(shmq_queue *q, shmq_msg *m) const {
    shmq_dead_reason r = shmq_dead_reason(sc_.dead_reason);
    if (sc_.reject_by_nack) return shmq_nack_ex(q, m, -1, r);
    return sc_.dead_reason != 0 ? shmq_reject_ex(q, m, r) : shmq_reject(q, m);
}

void World::consumer(int proc, int index) {
    if (sc_.batch) return batch_consumer(proc, index);
    const uint32_t g = group_of(index);
    shmq_queue *q = open(proc, 0, int(g));
    while (q != nullptr) {
        shmq_msg m;
        // From this consumer's view its lease runs lease_ms from this call on.
        led_.lease_until[proc] = g_sim.now_ns + int64_t(sc_.lease_ms) * kMs;
        int rc = shmq_recv(q, &m, 20 * 1000000LL);
        if (rc == SHMQ_OK) {
            uint64_t key = key_at(m.data);
            check_delivery(key, q, m, g);
            if (m.attempt == 1) led_.firsts[size_t(index)].push_back(key);
            if (m.attempt == 1 && (sc_.work_ns > 0 || sc_.race_deadline) && !work(proc, q, &m))
                continue; // lost: it comes back
            if (sc_.reject_first && m.attempt == 1) {
                ++led_.rejecting; // a kill inside reject may or may not have counted it
                led_.ending.insert(proc);
                rc = end_as_dead(q, &m);
                led_.ending.erase(proc);
                --led_.rejecting;
                if (rc == SHMQ_OK) led_.rejected.insert(key);
                else if (rc != SHMQ_ELEASELOST) fail("reject returned " + std::to_string(rc));
                continue;
            }
            if (sc_.nack_first && m.attempt == 1) {
                const int64_t called = g_sim.now_ns;
                // Its retry may come no earlier than the delay after the call.
                led_.ending.insert(proc);
                rc = shmq_nack(q, &m, sc_.nack_delay_ns);
                led_.ending.erase(proc);
                if (rc == SHMQ_OK) // a retry in this group only (topics): keyed by group
                    led_.not_before[in_group(key, g)] = std::max(led_.not_before[in_group(key, g)], called + sc_.nack_delay_ns);
                if (sc_.one_shot && index == sc_.consumers - 1) break; // leaves: only the others can take the retry
                continue;
            }
            led_.acking[g].insert(key); // a kill inside ack may or may not have acked it
            led_.ending.insert(proc);
            if (shmq_ack(q, &m) == SHMQ_OK) ++led_.acked[g][key];
            led_.ending.erase(proc);
            led_.acking[g].erase(led_.acking[g].find(key));
            if (sc_.one_shot && index == sc_.consumers - 1) break;
        } else if (rc == SHMQ_ECLOSED || (led_.ended_producers == sc_.producers && everything_acked(g))) {
            break;
        }
    }
    if (q != nullptr) close(proc, q);
}

// Work on a first delivery for work_ns; then, with extend_ms, extend the
// lease; then, with race_deadline, work until the deadline its word names, so
// that the ack races a reaper's reclaim. False if the lease was lost before
// the ack: the message comes back.
bool World::work(int proc, shmq_queue *q, shmq_msg *m) {
    nap(sc_.work_ns);
    if (sc_.extend_ms > 0 && !extend(proc, q, m)) return false;
    if (!sc_.race_deadline) return true;
    const int64_t deadline = core_->header()->epoch_mono_ns + int64_t(SlotWord{m->receipt[1]}.time()) * kMs;
    if (deadline > g_sim.now_ns) nap(deadline - g_sim.now_ns);
    return true;
}

bool World::extend(int proc, shmq_queue *q, shmq_msg *m) {
    const int64_t called = g_sim.now_ns;
    led_.ending.insert(proc);
    int rc = shmq_extend(q, m, sc_.extend_ms);
    led_.ending.erase(proc);
    if (rc == SHMQ_ELEASELOST) return false;
    if (rc != SHMQ_OK) {
        fail("extend returned " + std::to_string(rc));
        return false;
    }
    led_.lease_until[proc] = std::max(led_.lease_until[proc], called + int64_t(sc_.extend_ms) * kMs);
    return true;
}

void World::purger(int proc) {
    shmq_queue *q = open(proc, 0);
    if (q == nullptr) return;
    led_.purged = core(q)->purge();
    close(proc, q);
}

// Binds the last group while the producers send (add_group_live).
void World::group_adder(int proc) {
    shmq_queue *q = open(proc, 0);
    if (q == nullptr) return;
    bool ok = shmq_group_add(q, ("g" + std::to_string(sc_.groups - 1)).c_str()) == SHMQ_OK;
    close(proc, q);
    if (!ok) return;
    led_.added = true;
    consumer(proc, sc_.consumers); // and then consumes it
}

bool World::consumers_finished() const {
    for (int c : consumer_procs_)
        if (g_sim.procs[size_t(c)].status != Status::Done && g_sim.procs[size_t(c)].status != Status::Crashed)
            return false;
    return true;
}

// A recovery pass every ms while consumers run, as shmqd's tick does (it
// reclaims leases whose deadline passed from owners that are alive).
void World::reaper(int proc) {
    shmq_queue *q = open(proc, 0);
    while (q != nullptr && !consumers_finished()) {
        nap(kMs);
        core(q)->recover(nullptr, 0);
    }
    if (q != nullptr) close(proc, q);
}

// shmqd's spill moves (admin.cpp): lease the oldest READY message and find
// the disk write failed (make it READY again); then lease the oldest again,
// write it to the simulated disk and free its slot.
void World::spill_one(Queue *q) {
    for (int k = 0; k < 2; ++k) {
        led_.lease_until[daemon_proc_] = g_sim.now_ns + 599 * 1000 * kMs; // the spill lease is 600 s
        Outgoing out{};
        if (!q->take_for_spill(&out)) return;
        uint64_t key = key_at(out.data);
        led_.ending.insert(daemon_proc_);
        if (k == 0) {
            if (!q->return_spilled(out)) fail("return_spilled lost a live daemon's lease on " + hex(key));
        } else {
            led_.spilled[key] = out.meta;
            if (!q->release_spilled(out)) fail("release_spilled lost a live daemon's lease on " + hex(key));
        }
        led_.ending.erase(daemon_proc_);
    }
}

// shmqd, simulated: each round a spill move, the dead letters to their store
// (drain_dead, release_dead), and whatever is on disk back into the queue
// (restore, keeping its id, attempts and expiry). Until consumers finish.
// On a topic it works on the last group through a group handle (shmqd's
// spill of a lagging group): a release clears only that group's reference.
void World::daemon(int proc) {
    shmq_queue *q = open(proc, 0, sc_.groups > 0 ? int(sc_.groups) - 1 : -1);
    while (q != nullptr && !consumers_finished()) {
        spill_one(core(q));
        core(q)->drain_dead([&](const Outgoing &o) {
            led_.dead_store[key_at(o.data)] = o.reason;
            return true;
        });
        for (auto it = led_.spilled.begin(); it != led_.spilled.end();) {
            uint64_t key = it->first;
            if (core(q)->restore(it->second, &key, sizeof key) != SHMQ_OK) break; // no room: next round
            it = led_.spilled.erase(it);
        }
        nap(kMs);
    }
    if (q != nullptr) close(proc, q);
}

// Removes the last group, forced, while messages flow (remove_group).
void World::group_remover(int proc) {
    shmq_queue *q = open(proc, 0);
    if (q == nullptr) return;
    shmq_group_remove(q, ("g" + std::to_string(sc_.groups - 1)).c_str(), 1);
    close(proc, q);
}

void World::attacher(int proc) {
    shmq_queue *q = open(proc, 0);
    if (q != nullptr) close(proc, q);
}

void World::recoverer(int proc) {
    shmq_queue *q = open(proc, 0);
    if (q == nullptr) return;
    core(q)->recover(nullptr, 0);
    close(proc, q);
}

void World::spawn_all() {
    Sim &s = g_sim;
    for (int i = 0; i < sc_.producers; ++i)
        s.spawn("producer" + std::to_string(i), [this, i, n = int(s.procs.size())] { producer(n, i); });
    for (int i = 0; i < sc_.consumers; ++i) {
        consumer_procs_.push_back(int(s.procs.size()));
        s.spawn("consumer" + std::to_string(i), [this, i, n = int(s.procs.size())] { consumer(n, i); });
    }
    if (sc_.reaper) s.spawn("reaper", [this, n = int(s.procs.size())] { reaper(n); });
    if (sc_.spill) {
        daemon_proc_ = int(s.procs.size());
        s.spawn("daemon", [this, n = int(s.procs.size())] { daemon(n); });
    }
    if (sc_.purge) s.spawn("purger", [this, n = int(s.procs.size())] { purger(n); });
    if (sc_.add_group_live) s.spawn("group_adder", [this, n = int(s.procs.size())] { group_adder(n); });
    if (sc_.remove_group) s.spawn("group_remover", [this, n = int(s.procs.size())] { group_remover(n); });
    for (int i = 0; sc_.attach_race && i < 2; ++i)
        s.spawn("attacher" + std::to_string(i), [this, n = int(s.procs.size())] { attacher(n); });
}

// Name the field at `addr` in whichever process's mapping it lies.
std::string World::describe(const void *addr) const {
    std::vector<shmq::detail::Queue *> maps{core_};
    for (auto &[proc, q] : handles_) maps.push_back(core(q));
    for (Queue *q : maps) {
        const char *base = reinterpret_cast<const char *>(q->header());
        const char *a = static_cast<const char *>(addr);
        const auto &p = q->layout();
        if (a < base || a >= base + p.total_size) continue;
        uint64_t off = uint64_t(a - base);
        auto *h = q->header();
        auto field = [&](const void *f) { return static_cast<const char *>(f) == a; };
        if (off < p.off_clients) {
            if (field(&h->ready_wait)) return "hdr.ready_wait";
            if (field(&h->space_wait)) return "hdr.space_wait";
            if (field(&h->next_id)) return "hdr.next_id";
            if (field(&h->next_due_ms)) return "hdr.next_due";
            if (field(&h->groups_bound)) return "hdr.groups_bound";
            if (field(&h->dedup_probe)) return "hdr.dedup_probe";
            return "hdr+" + std::to_string(off);
        }
        if (off < p.off_slots) {
            uint64_t r = (off - p.off_clients) / sizeof(shmq::detail::ClientRecord);
            return "client" + std::to_string(r) + "+" +
                   std::to_string((off - p.off_clients) % sizeof(shmq::detail::ClientRecord));
        }
        auto slot_field = [](uint64_t i, uint64_t f) {
            static const char *names[] = {"state", "id", "enq", "len", "attempts", "lease", "listed", "expires"};
            static const uint64_t at[] = {0, 8, 16, 24, 28, 32, 40, 48};
            std::string fname = "+" + std::to_string(f);
            for (int k = 0; k < 8; ++k)
                if (at[k] == f) fname = names[k];
            return "slot" + std::to_string(i) + "." + fname;
        };
        auto ring_field = [](const char *ring, uint64_t roff) {
            if (roff == 0) return std::string(ring) + ".head";
            if (roff == 64) return std::string(ring) + ".tail";
            return std::string(ring) + ".cell" + std::to_string((roff - 128) / 8);
        };
        if (off < p.off_ready_ring) return slot_field((off - p.off_slots) / p.slot_stride, (off - p.off_slots) % p.slot_stride);
        // The table sits after the lanes: named before them.
        if (p.dedup_capacity > 0 && off >= p.off_dedup) { // the deduplication table (dedup.cpp)
            uint64_t e = (off - p.off_dedup) / sizeof(shmq::detail::DedupEntry), f = (off - p.off_dedup) % sizeof(shmq::detail::DedupEntry);
            static const char *names[] = {"word", "life", "id", "expires"};
            return "dedup" + std::to_string(e) + "." + (f < 32 && f % 8 == 0 ? names[f / 8] : "+" + std::to_string(f));
        }
        if (p.groups > 0 && off >= p.off_lanes) { // a topic's group lane
            uint64_t k = (off - p.off_lanes) / p.lane_stride, lo = (off - p.off_lanes) % p.lane_stride;
            std::string g = "g" + std::to_string(k) + ".";
            const uint64_t hs = sizeof(shmq::detail::LaneHeader), ss = sizeof(shmq::detail::SlotHeader);
            if (lo < hs) return g + (lo == offsetof(shmq::detail::LaneHeader, ready_wait) ? "ready_wait" : "hdr+" + std::to_string(lo));
            if (lo < hs + p.slot_count * ss) return g + slot_field((lo - hs) / ss, (lo - hs) % ss);
            return g + ring_field("ready", lo - hs - p.slot_count * ss);
        }
        if (p.groups == 0 && off >= p.off_lanes) return "hdr?";
        if (off < p.off_free_ring) return ring_field("ready", off - p.off_ready_ring);
        return ring_field("free", off - p.off_free_ring);
    }
    return "?";
}

// ---- Invariants ----

// A WRITING slot (a send in progress, a reservation, a producer's slot cache)
// names a client record held by a live process: a dead one's come back
// through recovery, a closed one's at its detach (checked while nobody runs
// and no recovery is owed).
std::string World::check_writing() const {
    for (uint32_t i = 0; i < sc_.slots; ++i) {
        SlotWord w{peek(core_->slot(i)->state)};
        if (w.state() != SlotState::Writing) continue;
        bool held = false;
        for (auto &[proc, rec] : record_of_)
            held = held || (rec == w.owner() && g_sim.procs[size_t(proc)].status != Status::Crashed &&
                            g_sim.procs[size_t(proc)].status != Status::Done);
        if (!held) return "slot " + std::to_string(i) + " is WRITING for a record no live process holds (leaked)";
    }
    return "";
}

std::string World::check_owners() const {
    std::map<uint32_t, int> owner;
    for (auto &[proc, rec] : record_of_) {
        const Proc &p = g_sim.procs[size_t(proc)];
        if (p.status == Status::Crashed || p.status == Status::Done) continue;
        auto [it, fresh] = owner.emplace(rec, proc);
        if (!fresh)
            return "client record " + std::to_string(rec) + " owned by two live processes: " +
                   g_sim.procs[size_t(it->second)].name + " and " + p.name;
        ClientWord w{peek(core_->client(rec)->word)};
        if (w.state() != ClientState::Active || int(w.value()) != p.pid)
            return "client record " + std::to_string(rec) + " of live " + p.name + " no longer names it";
    }
    return "";
}

// Every live client's lease count equals the LEASED slots it owns (checked
// when nobody runs: no recv is between taking a unit and leasing), or exceeds
// it by at most one per kill: a reclaimer killed between its CAS on a live
// client's expired lease and counting it returned leaves the count one high
// (a known limit, docs/core.md; found by lease_expiry_live).
std::string World::check_lease_counts() const {
    for (auto &[proc, rec] : record_of_) {
        const Proc &p = g_sim.procs[size_t(proc)];
        if (p.status != Status::Blocked) continue;
        uint32_t owned = 0;
        for (Queue *l : lanes_)
            for (uint32_t i = 0; i < sc_.slots; ++i) {
                SlotWord w{peek(l->slot(i)->state)};
                owned += w.state() == SlotState::Leased && w.owner() == rec;
            }
        uint32_t counted = peek(core_->client(rec)->leased) - peek(core_->client(rec)->returned);
        if (counted < owned || counted > owned + uint32_t(crashes_seen_))
            return p.name + " counts " + std::to_string(counted) + " leases but owns " + std::to_string(owned);
    }
    return "";
}

// A lease that anyone but its owner ends (a reclaim) while the owner lives
// must have run its course from the owner's view: lease_ms after the owner
// called recv, or the extension after it called extend. So no message is
// delivered twice while a lease on it is valid, and an ack that fails with
// SHMQ_ELEASELOST came after the lease ran out. (The change seen at a step is
// the running process's: each step is one access. The owner's own recovery
// is held to the same rule.)
void World::check_reclaim(uint32_t slot, uint64_t was) const {
    const uint32_t owner = SlotWord{was}.owner();
    for (auto &[proc, rec] : record_of_) {
        const Proc &p = g_sim.procs[size_t(proc)];
        if (rec != owner || (proc == g_sim.current && led_.ending.count(proc) > 0) || p.status == Status::Crashed || p.status == Status::Done) continue;
        auto until = led_.lease_until.find(proc);
        if (until != led_.lease_until.end() && g_sim.now_ns < until->second)
            fail("the lease of " + p.name + " on slot" + std::to_string(slot) + " was ended by " +
                 g_sim.procs[size_t(g_sim.current)].name + " " + std::to_string((until->second - g_sim.now_ns) / 1000) +
                 " us before it ran out");
    }
}

void World::check_step() {
    if (!g_sim.failure.empty()) return;
    // Rings: a run's cells past tail (Ring::fill) are contiguous, so every
    // entry is reached by a pop and seen by recovery's walk (Ring::for_each).
    // A rebuild (reboot) re-initialises them under the file lock, and nobody
    // reads them before its last step, the new boot id: shapes count from then.
    const bool rebuilding = sc_.reboot && std::memcmp(core_->header()->boot_id, "\xfe\xdc\xba\x98", 4) != 0;
    for (size_t g = 0; g <= lanes_.size() && !rebuilding; ++g) {
        Queue *l = g < lanes_.size() ? lanes_[g] : core_;
        const char *bad = l->ring(g < lanes_.size() ? shmq::detail::kReadyRing : shmq::detail::kFreeRing).shape_error();
        if (bad != nullptr) return void(g_sim.failure = std::string(g < lanes_.size() ? "ready" : "free") + " ring: " + bad);
    }
    for (uint32_t g = 0; g < lanes_.size() && g < 4; ++g) {
        Queue *l = lanes_[g];
        uint64_t keys[8];
        uint32_t n = 0;
        for (uint32_t i = 0; i < sc_.slots && i < 8; ++i) {
            SlotWord w{peek(l->slot(i)->state)};
            // A first lease, seen right after its CAS (the delivery count is
            // raised later): the order of these is the group's order.
            if (w.raw != last_word_[g][i] && w.state() == SlotState::Leased &&
                SlotWord{last_word_[g][i]}.state() == SlotState::Ready && peek(l->slot(i)->attempts) == 0)
                led_.leased_first[g].push_back(key_of(l, i));
            if (sc_.groups == 0 && w.raw != last_word_[g][i] && SlotWord{last_word_[g][i]}.state() == SlotState::Leased)
                check_reclaim(i, last_word_[g][i]);
            last_word_[g][i] = w.raw;
            if (!holds_message(w.state())) continue;
            uint64_t k = key_of(l, i);
            for (uint32_t j = 0; j < n; ++j)
                if (keys[j] == k) g_sim.failure = "message " + hex(k) + " held by two slots at once";
            keys[n++] = k;
        }
    }
}

std::string World::check_quiescent(const Sim &sim) {
    int crashed = 0;
    for (auto &p : sim.procs) crashed += p.status == Status::Crashed;
    const bool recovery_owed = crashed > crashes_seen_;
    auto &hdr = *core_->header();
    bool free_listed = false, stranded = false;
    std::vector<bool> ready_listed(lanes_.size(), false); // per group
    int64_t due_ns = INT64_MAX;
    for (size_t g = 0; g < lanes_.size(); ++g) {
        Queue *l = lanes_[g];
        for (uint32_t i = 0; i < sc_.slots; ++i) {
            SlotWord w{peek(l->slot(i)->state)};
            bool listed = false;
            if (w.state() == SlotState::Ready)
                listed = l->ring(shmq::detail::kReadyRing).holds(peek(l->slot(i)->listed_pos), i);
            ready_listed[g] = ready_listed[g] || listed;
            stranded = stranded || (w.state() == SlotState::Ready && !listed);
            if (w.state() == SlotState::Delayed)
                due_ns = std::min<int64_t>(due_ns, hdr.epoch_mono_ns + int64_t(w.time()) * 1000000);
        }
    }
    core_->ring(shmq::detail::kFreeRing).for_each([&](uint32_t v, uint64_t) {
        if (v < sc_.slots && SlotWord{peek(core_->slot(v)->state)}.state() == SlotState::Free) free_listed = true;
    });
    int64_t first_wake = INT64_MAX;
    bool consumer_sleeps = false;
    for (size_t k = 0; k < sim.procs.size(); ++k) {
        const Proc &p = sim.procs[k];
        if (p.status != Status::Blocked) continue;
        int on_group = -1; // the group whose event count it sleeps on
        for (size_t g = 0; g < lanes_.size(); ++g)
            if (p.wait_addr == sim.canon(ready_event(lanes_[g]))) on_group = int(g);
        const bool on_ready = on_group >= 0;
        bool on_space = p.wait_addr == sim.canon(core_->header()->space_wait.raw()); // else a nap (world.cpp)
        consumer_sleeps = consumer_sleeps || on_ready;
        if (p.wait_until >= 0) first_wake = std::min(first_wake, p.wait_until);
        if (on_ready && ready_listed[size_t(on_group)])
            return "lost wake-up: " + p.name + " sleeps while a listed message is READY";
        if (on_space && free_listed) return "lost wake-up: " + p.name + " sleeps while a listed slot is FREE";
    }
    if (stranded && !recovery_owed && peek(hdr.relist) == 0)
        return "a READY message is in no ring and nothing will list it (stranded)";
    if (consumer_sleeps && due_ns != INT64_MAX && first_wake > due_ns + 2000000)
        return "a retry falls due " + std::to_string((first_wake - due_ns) / 1000) +
               " us before any sleeper wakes to make it ready";
    std::string s = check_owners();
    if (s.empty() && !recovery_owed && sc_.groups == 0) s = check_writing();
    return s.empty() ? check_lease_counts() : s;
}

bool World::at_quiescence(Sim &sim) {
    // A kill is first answered by a recoverer (as shmqd or the next client
    // would); the invariants hold for the world after it.
    int crashed = 0;
    for (auto &p : sim.procs) crashed += p.status == Status::Crashed;
    if (crashed > crashes_seen_ && recoverers_ < 3) {
        crashes_seen_ = crashed;
        ++recoverers_;
        sim.spawn("recoverer" + std::to_string(recoverers_), [this, n = int(sim.procs.size())] { recoverer(n); });
        return true;
    }
    std::string bad = check_quiescent(sim); // runs outside any fiber: no scheduling points
    if (!bad.empty()) {
        sim.failure = bad;
        return false;
    }
    Proc *next = nullptr;
    for (auto &p : sim.procs)
        if (p.status == Status::Blocked && p.wait_until >= 0 && (next == nullptr || p.wait_until < next->wait_until))
            next = &p;
    if (next != nullptr && timer_fires_ < 200) {
        ++timer_fires_;
        sim.now_ns = std::max(sim.now_ns, next->wait_until);
        // In scenarios that race a deadline, timers due within the kernel's
        // default timer slack (50 us) of each other expire together, and their
        // processes then race (elsewhere this would multiply the schedules).
        const int64_t slack_end = next->wait_until + (sc_.race_deadline ? 50000 : 0);
        for (auto &p : sim.procs)
            if (p.status == Status::Blocked && p.wait_until >= 0 && p.wait_until <= slack_end) {
                p.status = Status::Runnable;
                p.timed_out = true;
                p.wait_addr = nullptr;
            }
        return true;
    }
    for (auto &p : sim.procs)
        if (p.status == Status::Blocked && timer_fires_ < 200) {
            sim.failure = "deadlock: " + p.name + " sleeps with no timeout and nothing can wake it";
            return false;
        }
    return false;
}

// After the run: the harness recovers and takes everything left, then holds
// the ledger against what it found. out[g]: what group g still had.
std::string World::drain(std::vector<std::vector<uint64_t>> *out) {
    out->assign(group_count(), {});
    std::vector<shmq_queue *> from{admin_};
    if (sc_.groups > 0) {
        from.clear();
        for (uint32_t g = 0; g < sc_.groups; ++g) {
            shmq_queue *q = nullptr;
            if (shmq_open_group(name_.c_str(), ("g" + std::to_string(g)).c_str(), nullptr, &q) != SHMQ_OK) {
                if (!fixed_group(g)) { // never bound (a kill stopped its adder), or removed
                    from.push_back(nullptr);
                    continue;
                }
                return "the harness cannot open group g" + std::to_string(g);
            }
            drainers_.push_back(q);
            from.push_back(q);
        }
    }
    for (int round = 0; round < 4; ++round) {
        g_sim.now_ns += 10 * 1000000000LL; // past every lease and retry time
        core_->recover(nullptr, 0);
        for (size_t g = 0; g < from.size(); ++g) {
            shmq_msg m;
            while (from[g] != nullptr && shmq_recv(from[g], &m, 0) == SHMQ_OK) {
                uint64_t key = 0;
                std::memcpy(&key, m.data, sizeof key);
                (*out)[g].push_back(key);
                led_.observed[m.id] = key;
                led_.observed_in[g][m.id] = key;
                if (shmq_ack(from[g], &m) != SHMQ_OK) return "the harness's own ack failed";
            }
        }
    }
    return "";
}

// With a ttl: the harness drains 10 s on, past every ttl of a scenario, so
// nothing it drained may have had one; every message left DEAD died of its
// ttl (no scenario with a ttl runs out of attempts).
std::string World::check_expired(const std::vector<std::vector<uint64_t>> &drained) const {
    for (auto &keys : drained)
        for (uint64_t k : keys)
            if (led_.expires_by.count(k) > 0) return "message " + hex(k) + " delivered to the drain after its ttl ran out";
    if (sc_.ttl_first_ns == 0 && sc_.ttl_rest_ns == 0) return "";
    for (Queue *l : lanes_)
        for (uint32_t i = 0; i < sc_.slots; ++i) {
            SlotWord w{peek(l->slot(i)->state)};
            if (w.state() == SlotState::Dead && w.time() != uint32_t(shmq::detail::DeadReason::Expired))
                return "message " + hex(key_of(l, i)) + " dead-lettered with reason " + std::to_string(w.time()) +
                       ", not expired";
        }
    return "";
}

// Topics, after recovery and drain: a payload slot is FREE with every group's
// word FREE, or PUBLISHED to exactly the groups whose word is DEAD (held for
// the dead-letter store). Anything else leaks it.
std::string World::check_payload_slots() const {
    for (uint32_t i = 0; i < sc_.slots; ++i) {
        SlotWord w{peek(core_->slot(i)->state)};
        uint32_t dead = 0, other = 0;
        std::string words;
        for (uint32_t g = 0; g < lanes_.size(); ++g) {
            SlotState s = SlotWord{peek(lanes_[g]->slot(i)->state)}.state();
            words += " g" + std::to_string(g) + "=" + std::to_string(uint32_t(s)) + "/lane" +
                     std::to_string(peek(core_->lane_header(g)->state) & 3);
            dead |= uint32_t(s == SlotState::Dead) << g;
            other |= uint32_t(s != SlotState::Dead && s != SlotState::Free) << g;
        }
        bool ok = other == 0 && ((w.state() == SlotState::Free && dead == 0) ||
                                 (w.state() == SlotState::Published && w.time() == dead && dead != 0));
        if (!ok)
            return "payload slot " + std::to_string(i) + " in state " + std::to_string(uint32_t(w.state())) +
                   " (groups " + std::to_string(w.time()) + "), groups' words dead " + std::to_string(dead) +
                   " other " + std::to_string(other) + " (states" + words + ") after recovery and drain (leaked)";
    }
    for (auto &[k, reason] : led_.dead_store)
        if (reason != uint32_t(DeadReason::Expired))
            return "message " + hex(k) + " stored as a dead letter with reason " + std::to_string(reason) + ", not expired";
    return "";
}

// Rejects are counted once: the rejected counter (nacked, for reject_by_nack)
// is at least the rejects that returned SHMQ_OK and at most those plus the
// ones a kill interrupted; every DEAD slot of a reject scenario holds its
// reason (rejected, or the scenario's dead_reason).
std::string World::check_counts() const {
    if (!sc_.reject_first) return "";
    shmq_stats st{};
    st.struct_size = sizeof st;
    if (shmq_stats_get(admin_, &st) != SHMQ_OK) return "stats failed";
    uint64_t ended = sc_.reject_by_nack ? st.nacked : st.rejected;
    if (ended < led_.rejected.size() || ended > led_.rejected.size() + size_t(led_.rejecting))
        return "rejected counted " + std::to_string(ended) + " times for " + std::to_string(led_.rejected.size()) +
               " rejects (" + std::to_string(led_.rejecting) + " interrupted)";
    const uint32_t want = sc_.dead_reason != 0 ? sc_.dead_reason : uint32_t(DeadReason::Rejected);
    for (uint32_t i = 0; i < sc_.slots; ++i) {
        SlotWord w{peek(core_->slot(i)->state)};
        // By nack, a lease reclaimed from a killed consumer dies out of attempts
        // (max_attempts 1); a nack that returned OK must have left its reason.
        bool reclaimed = sc_.reject_by_nack && w.time() == uint32_t(DeadReason::MaxAttempts) &&
                         led_.rejected.count(key_of(core_, i)) == 0;
        if (w.state() == SlotState::Dead && w.time() != want && !reclaimed)
            return "message " + hex(key_of(core_, i)) + " dead with reason " + std::to_string(w.time()) +
                   ", not " + std::to_string(want);
    }
    return "";
}

// A removed group (remove_group): after recovery its lane holds only dead
// letters (reason group_removed, or the reasons any group has), and is free
// again once it holds none; a removal that never ran leaves it bound.
std::string World::check_removed_lane() const {
    if (!sc_.remove_group) return "";
    const uint32_t g = sc_.groups - 1;
    const uint32_t st = uint32_t(peek(core_->lane_header(g)->state) & 3);
    uint32_t dead = 0;
    for (uint32_t i = 0; i < sc_.slots; ++i) {
        SlotWord w{peek(lanes_[g]->slot(i)->state)};
        if (w.state() == SlotState::Dead) ++dead;
        else if (w.state() != SlotState::Free && st != uint32_t(shmq::detail::LaneState::Bound))
            return "a removed group's lane still has a word in state " + std::to_string(uint32_t(w.state()));
    }
    if (st == uint32_t(shmq::detail::LaneState::Removing) && dead == 0)
        return "a removed group's lane is empty but not free";
    return "";
}

// One group's ledger against what it had left.
// `spilled`: the group the daemon spills (its disk counts as holding them);
// `daemon_died`: a message may then be on disk and in the group both.
static std::string check_group(const Ledger &led, uint32_t g, const std::vector<uint64_t> &drained,
                               const std::set<uint64_t> &dead, bool purge, bool only_after_add, bool spilled,
                               bool daemon_died) {
    std::set<uint64_t> left(drained.begin(), drained.end());
    size_t missing = 0;
    for (uint64_t k : led.sent) {
        bool acked = led.acked[g].count(k) > 0, on_disk = spilled && led.spilled.count(k) > 0;
        if (acked && left.count(k) > 0) return "message " + hex(k) + " came back after its ack";
        if (on_disk && !daemon_died && (acked || left.count(k) > 0 || dead.count(k) > 0))
            return "message " + hex(k) + " is on the spill disk and in the group, and the daemon lives";
        if (only_after_add && led.after_add.count(k) == 0) continue; // sent before the group was bound: may be absent
        if (!acked && left.count(k) == 0 && dead.count(k) == 0 && !on_disk && led.acking[g].count(k) == 0) ++missing;
        if (!purge && missing > 0) return "message " + hex(k) + " was sent and is gone (lost)";
    }
    for (auto &[k, n] : led.acked[g])
        if (n > 1) return "message " + hex(k) + " acked twice";
    return "";
}

// Topics: a message any group got (delivered, left at the end, or dead) every
// group bound from the start got too: a publish is in all groups or in none.
std::string World::check_all_or_none(const std::vector<std::vector<uint64_t>> &drained) const {
    const uint32_t fixed = fixed_group(sc_.groups - 1) ? sc_.groups : sc_.groups - 1;
    std::vector<std::set<uint64_t>> got(fixed);
    std::set<uint64_t> any;
    for (uint32_t g = 0; g < fixed; ++g) {
        got[g] = led_.seen[g];
        got[g].insert(drained[g].begin(), drained[g].end());
        for (uint32_t i = 0; i < sc_.slots; ++i)
            if (SlotWord{peek(lanes_[g]->slot(i)->state)}.state() == SlotState::Dead) got[g].insert(key_of(lanes_[g], i));
        if (spilled_group(g)) { // the daemon's disks hold the rest of this group's
            for (auto &entry : led_.spilled) got[g].insert(entry.first);
            for (auto &entry : led_.dead_store) got[g].insert(entry.first);
        }
        any.insert(got[g].begin(), got[g].end());
    }
    for (uint64_t k : any)
        for (uint32_t g = 0; g < fixed; ++g)
            if (got[g].count(k) == 0) return "message " + hex(k) + " reached some groups but not g" + std::to_string(g);
    return "";
}

// Deduplication, after recovery and drain: every OK send of one key returned
// the same id; in each group (a queue is one), a message with that id was
// stored (delivered, drained or dead) and at most one message per key was
// ever stored; no entry is left RESERVED or PENDING, and every COMMITTED one
// names a stored message of its key (in every group: a topic's key is
// committed by the publish that reaches them all).
std::string World::check_dedup() const {
    if (sc_.dedup_window_ms == 0) return "";
    if (sc_.dedup_gap_ns > 0) { // sends further apart than the window: each stores its own
        if (led_.dup_sends > 0) return "a send after the window ran out was taken for a duplicate";
        return "";
    }
    for (auto &[seq, ids] : led_.key_ids)
        if (ids.size() > 1) return "sends of key k" + std::to_string(seq) + " returned different ids";
    for (uint32_t g = 0; g < group_count(); ++g)
        if (std::string bad = check_dedup_group(g); !bad.empty())
            return sc_.groups > 0 ? "group g" + std::to_string(g) + ": " + bad : bad;
    for (uint32_t e = 0; e < core_->layout().dedup_capacity; ++e) {
        auto *d = core_->dedup_at(e);
        uint64_t w = peek(d->word);
        if ((w & 7) == 1 || (w & 7) == 2) return "a deduplication entry is left in flight after recovery";
    }
    return "";
}

// Group g's part of check_dedup (a queue: g 0, its own slots).
std::string World::check_dedup_group(uint32_t g) const {
    Queue *l = lanes_[g];
    std::map<uint64_t, uint64_t> stored = led_.observed_in[g]; // id -> message key
    for (uint32_t i = 0; i < sc_.slots; ++i)
        if (SlotWord{peek(l->slot(i)->state)}.state() == SlotState::Dead) stored[peek(l->slot(i)->id)] = key_of(l, i);
    for (auto &[seq, ids] : led_.key_ids)
        if (stored.count(*ids.begin()) == 0)
            return "key k" + std::to_string(seq) + "'s send returned OK and no message with its id was stored";
    std::map<uint32_t, std::set<uint64_t>> per_key; // seq -> message keys stored
    for (auto &[id, key] : stored) per_key[uint32_t(key)].insert(key);
    for (auto &[seq, keys] : per_key)
        if (keys.size() > 1) return "key k" + std::to_string(seq) + " stored twice within its window";
    for (uint32_t e = 0; e < core_->layout().dedup_capacity; ++e) {
        auto *d = core_->dedup_at(e);
        if ((peek(d->word) & 7) != 3) continue;
        auto it = stored.find(peek(d->id));
        char k[17] = {};
        uint64_t kw[2] = {peek(d->key[0]), peek(d->key[1])};
        std::memcpy(k, kw, 16);
        if (it == stored.end() || "k" + std::to_string(uint32_t(it->second)) != std::string(k))
            return "a committed deduplication entry (" + std::string(k) + ") names no stored message of its key";
    }
    return "";
}

std::string World::final_check() {
    for (auto it = handles_.begin(); it != handles_.end();) { // crashed holders
        core(it->second)->abandon();
        shmq_close(it->second);
        it = handles_.erase(it);
    }
    record_of_.clear();
    // A reboot's harness handle: opened now (it rebuilds if no process finished).
    if (sc_.reboot) {
        if (shmq_open(name_.c_str(), nullptr, &admin_) != SHMQ_OK) return "the harness cannot open the queue";
        core_ = core(admin_);
        lanes_ = {core_};
    }
    std::string bad = check_counts();
    if (bad.empty()) bad = check_reboot();
    std::vector<std::vector<uint64_t>> drained;
    if (bad.empty()) bad = drain(&drained);
    if (bad.empty()) bad = check_expired(drained);
    if (bad.empty()) bad = check_dedup();
    if (bad.empty() && sc_.groups > 0) bad = check_all_or_none(drained);
    if (!bad.empty()) return bad;
    if (sc_.groups > 0) {
        for (uint32_t g = 0; g < group_count(); ++g) {
            std::set<uint64_t> dead;
            for (uint32_t i = 0; i < sc_.slots; ++i)
                if (SlotWord{peek(lanes_[g]->slot(i)->state)}.state() == SlotState::Dead) dead.insert(key_of(lanes_[g], i));
            if (sc_.remove_group && g == sc_.groups - 1) continue; // removed: checked by check_removed_lane
            const bool live = sc_.add_group_live && g == sc_.groups - 1;
            if (spilled_group(g))
                for (auto &entry : led_.dead_store) dead.insert(entry.first);
            bad = check_group(led_, g, drained[g], dead, sc_.purge, live, spilled_group(g), daemon_died());
            if (!bad.empty()) return "group g" + std::to_string(g) + ": " + bad;
        }
    } else { // a queue
        std::set<uint64_t> left(drained[0].begin(), drained[0].end()), dead;
        for (uint64_t k : drained[0])
            if ((k & kAborted) != 0) return "message " + hex(k & ~kAborted) + "'s aborted reservation reached the drain";
        for (uint32_t i = 0; i < sc_.slots; ++i)
            if (SlotWord{peek(core_->slot(i)->state)}.state() == SlotState::Dead) dead.insert(key_of(core_, i));
        for (auto &[k, reason] : led_.dead_store) dead.insert(k);
        // A daemon killed between its disk write and freeing the slot leaves a
        // message on disk and in memory: a duplicate only after a kill.
        const bool daemon_died = this->daemon_died();
        size_t missing = 0;
        for (uint64_t k : led_.sent) {
            bool acked = led_.acked[0].count(k) > 0, on_disk = led_.spilled.count(k) > 0;
            if (acked && left.count(k) > 0) return "message " + hex(k) + " came back after its ack";
            if (on_disk && !daemon_died && (acked || left.count(k) > 0 || dead.count(k) > 0))
                return "message " + hex(k) + " is on the spill disk and in the queue, and the daemon lives";
            if (led_.rejected.count(k) > 0 && (acked || left.count(k) > 0 || dead.count(k) == 0))
                return "message " + hex(k) + " was rejected and is not a dead letter";
            if (!acked && left.count(k) == 0 && dead.count(k) == 0 && !on_disk && led_.acking[0].count(k) == 0) ++missing;
            if (!sc_.purge && missing > 0) return "message " + hex(k) + " was sent and is gone (lost)";
        }
        if (led_.purged >= 0 && missing > size_t(led_.purged))
            return std::to_string(missing) + " messages gone, and the purge dropped " + std::to_string(led_.purged);
        for (auto &[k, n] : led_.acked[0])
            if (n > 1) return "message " + hex(k) + " acked twice";
    }
    // FIFO per producer, on first deliveries, in executions without kills (a
    // consumer killed between its lease and the delivery count hands a
    // message back as a first delivery, after later ones).
    auto in_order = [](const std::vector<uint64_t> &keys) {
        std::map<uint32_t, uint32_t> last;
        for (uint64_t k : keys) {
            if (last[uint32_t(k >> 32)] > uint32_t(k)) return false;
            last[uint32_t(k >> 32)] = uint32_t(k);
        }
        return true;
    };
    // Delayed messages come in order of due time, and those due in the same
    // ms in any order: no FIFO to check there.
    // A spilled message comes back behind those sent after it: no FIFO there either.
    const bool fifo = crashes_seen_ == 0 && sc_.send_delay_ns == 0 && !sc_.spill;
    for (size_t c = 0; c < led_.firsts.size() && fifo; ++c)
        if (!in_order(led_.firsts[c])) return "FIFO: consumer" + std::to_string(c) + " got a message after a later one";
    for (size_t g = 0; g < led_.leased_first.size() && fifo && !sc_.purge; ++g)
        if (!in_order(led_.leased_first[g])) return "FIFO: a message was leased before an older one of the same producer";
    if (sc_.groups > 0) {
        if (std::string p = check_payload_slots(); !p.empty()) return p;
        if (std::string r = check_removed_lane(); !r.empty()) return r;
        for (Queue *l : lanes_) {
            shmq::detail::Audit a = shmq::detail::audit(*l);
            if (!a.ok() || a.by_state[uint32_t(SlotState::Free)] + a.by_state[uint32_t(SlotState::Dead)] != sc_.slots)
                return "after recovery and drain: a group's word is neither free nor dead, or a ready one unlisted";
        }
    }
    shmq::detail::Audit a = shmq::detail::audit(*core_);
    const uint32_t held = a.by_state[uint32_t(SlotState::Published)]; // topics: held by dead letters (checked above)
    if (!a.ok() || a.by_state[uint32_t(SlotState::Free)] + a.by_state[uint32_t(SlotState::Dead)] + held != sc_.slots)
        return "after recovery and drain: " + std::to_string(a.free_unlisted) + " free slots unlisted, " +
               std::to_string(a.ready_unlisted) + " ready unlisted, " +
               std::to_string(sc_.slots - a.by_state[uint32_t(SlotState::Free)] - a.by_state[uint32_t(SlotState::Dead)]) +
               " slots neither free nor dead (leaked)";
    return "";
}

} // namespace explore
