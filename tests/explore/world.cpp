// world.cpp - scenario programs and invariants of the exploration harness.
#include "world.hpp"

#include "audit.hpp"
#include "words.hpp"

#include <cstring>

namespace explore {

using shmq::detail::ClientState;
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
    std::memcpy(&k, reinterpret_cast<char *>(q->slot(i)) + sizeof(shmq::detail::SlotHeader), sizeof k);
    return k;
}

bool holds_message(SlotState s) {
    return s == SlotState::Ready || s == SlotState::Leased || s == SlotState::Delayed || s == SlotState::Dead;
}

std::string hex(uint64_t k) { return "p" + std::to_string(k >> 32) + "#" + std::to_string(uint32_t(k)); }

} // namespace

World::World(const Scenario &sc, uint64_t serial) : sc_(sc), name_("x" + std::to_string(serial)) {
    shmq_params p;
    shmq_params_init(&p);
    p.slot_size = 16;
    p.slot_count = sc.slots;
    p.max_clients = sc.max_clients;
    p.lease_ms = 1000;
    p.max_attempts = 10;
    p.backoff_base_ms = 0;
    p.backoff_cap_ms = 0;
    p.jitter = SHMQ_JITTER_NONE;
    shmq_options o;
    shmq_options_init(&o);
    o.spin_ns = 0;
    o.prefetch = 0;
    if (shmq_create(name_.c_str(), &p, &o, &admin_) != SHMQ_OK) abort();
    core_ = core(admin_);
    led_.firsts.resize(size_t(sc.consumers));
}

World::~World() {
    for (auto &[proc, q] : handles_) { // processes that died holding a handle
        core(q)->abandon();
        shmq_close(q);
    }
    shmq_close(admin_);
    shmq_unlink(name_.c_str());
}

shmq_queue *World::open(int proc, uint32_t prefetch) {
    shmq_options o;
    shmq_options_init(&o);
    o.spin_ns = 0;
    o.prefetch = prefetch;
    o.single_thread = sc_.single_thread;
    shmq_queue *q = nullptr;
    if (shmq_open(name_.c_str(), &o, &q) != SHMQ_OK) return nullptr;
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
    if (q != nullptr && sc_.batch) { // batch scenarios send without a ttl
        std::vector<shmq_iov> iov;
        for (uint64_t &k : keys) iov.push_back(shmq_iov{&k, sizeof k});
        size_t sent = 0;
        shmq_send_batch_ex(q, iov.data(), iov.size(), &opts, ids.data(), &sent, SHMQ_FOREVER);
        for (size_t k = 0; k < sent; ++k) {
            led_.sent.insert(keys[k]);
            led_.ids[keys[k]] = ids[k];
        }
    }
    for (size_t k = 0; q != nullptr && !sc_.batch && k < keys.size(); ++k) {
        opts.ttl_ns = k == 0 ? sc_.ttl_first_ns : sc_.ttl_rest_ns;
        if (shmq_send_ex(q, &keys[k], sizeof keys[k], &opts, &ids[k], SHMQ_FOREVER) != SHMQ_OK) continue;
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

bool World::everything_acked() const {
    if (sc_.purge) return true; // purged messages are gone on purpose: the final check counts them
    for (uint64_t k : led_.sent) {
        auto it = led_.acked.find(k);
        if (it != led_.acked.end() && it->second > 0) continue;
        bool dead = false;
        for (uint32_t i = 0; i < sc_.slots && !dead; ++i)
            dead = SlotWord{peek(core_->slot(i)->state)}.state() == SlotState::Dead && key_of(core_, i) == k;
        if (!dead) return false;
    }
    return true;
}

// A delivery carries the id its send returned, comes no earlier than the
// send's delay after the send was called, and before its ttl ran out.
void World::check_delivery(uint64_t key, const shmq_msg &m) {
    auto id = led_.ids.find(key);
    if (id != led_.ids.end() && id->second != m.id && g_sim.failure.empty())
        g_sim.failure = "message " + hex(key) + " delivered with id " + std::to_string(m.id) + ", its send returned " +
                        std::to_string(id->second);
    auto nb = led_.not_before.find(key);
    if (nb != led_.not_before.end() && g_sim.now_ns < nb->second && g_sim.failure.empty())
        g_sim.failure = "message " + hex(key) + " delivered " + std::to_string((nb->second - g_sim.now_ns) / 1000) +
                        " us before its delay ended";
    auto eb = led_.expires_by.find(key);
    if (eb != led_.expires_by.end() && g_sim.now_ns >= eb->second && g_sim.failure.empty())
        g_sim.failure = "message " + hex(key) + " delivered " + std::to_string((g_sim.now_ns - eb->second) / 1000) +
                        " us after its ttl ran out";
}

// A consumer that leases up to three at a time and acks them in one call.
void World::batch_consumer(int proc, int index) {
    shmq_queue *q = open(proc, 0);
    while (q != nullptr) {
        shmq_msg m[3];
        size_t n = 0;
        int rc = shmq_recv_batch(q, m, 3, &n, 20 * 1000000LL);
        if (rc != SHMQ_OK) {
            if (led_.ended_producers == sc_.producers && everything_acked()) break;
            continue;
        }
        uint64_t keys[3] = {};
        int results[3] = {-1, -1, -1};
        for (size_t k = 0; k < n; ++k) {
            std::memcpy(&keys[k], m[k].data, sizeof keys[k]);
            check_delivery(keys[k], m[k]);
            if (m[k].attempt == 1) led_.firsts[size_t(index)].push_back(keys[k]);
            led_.acking.insert(keys[k]);
        }
        shmq_ack_batch(q, m, n, results);
        for (size_t k = 0; k < n; ++k) {
            if (results[k] == SHMQ_OK) ++led_.acked[keys[k]];
            led_.acking.erase(keys[k]);
        }
    }
    if (q != nullptr) close(proc, q);
}

void World::consumer(int proc, int index) {
    if (sc_.batch) return batch_consumer(proc, index);
    shmq_queue *q = open(proc, 0);
    while (q != nullptr) {
        shmq_msg m;
        int rc = shmq_recv(q, &m, 20 * 1000000LL);
        if (rc == SHMQ_OK) {
            uint64_t key = 0;
            std::memcpy(&key, m.data, sizeof key);
            check_delivery(key, m);
            if (m.attempt == 1) led_.firsts[size_t(index)].push_back(key);
            if (sc_.nack_first && m.attempt == 1) {
                shmq_nack(q, &m, sc_.nack_delay_ns);
                if (sc_.one_shot && index == sc_.consumers - 1) break; // leaves: only the others can take the retry
                continue;
            }
            led_.acking.insert(key); // a kill inside ack may or may not have acked it
            if (shmq_ack(q, &m) == SHMQ_OK) ++led_.acked[key];
            led_.acking.erase(key);
            if (sc_.one_shot && index == sc_.consumers - 1) break;
        } else if (led_.ended_producers == sc_.producers && everything_acked()) {
            break;
        }
    }
    if (q != nullptr) close(proc, q);
}

void World::purger(int proc) {
    shmq_queue *q = open(proc, 0);
    if (q == nullptr) return;
    core(q)->purge();
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
    for (int i = 0; i < sc_.consumers; ++i)
        s.spawn("consumer" + std::to_string(i), [this, i, n = int(s.procs.size())] { consumer(n, i); });
    if (sc_.purge) s.spawn("purger", [this, n = int(s.procs.size())] { purger(n); });
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
            return "hdr+" + std::to_string(off);
        }
        if (off < p.off_slots) {
            uint64_t r = (off - p.off_clients) / sizeof(shmq::detail::ClientRecord);
            return "client" + std::to_string(r) + "+" +
                   std::to_string((off - p.off_clients) % sizeof(shmq::detail::ClientRecord));
        }
        if (off < p.off_ready_ring) {
            uint64_t i = (off - p.off_slots) / p.slot_stride, f = (off - p.off_slots) % p.slot_stride;
            static const char *names[] = {"state", "id", "enq", "len", "attempts", "lease", "listed", "expires"};
            static const uint64_t at[] = {0, 8, 16, 24, 28, 32, 40, 48};
            std::string fname = "+" + std::to_string(f);
            for (int k = 0; k < 8; ++k)
                if (at[k] == f) fname = names[k];
            return "slot" + std::to_string(i) + "." + fname;
        }
        const char *ring = off < p.off_free_ring ? "ready" : "free";
        uint64_t roff = off - (off < p.off_free_ring ? p.off_ready_ring : p.off_free_ring);
        if (roff == 0) return std::string(ring) + ".head";
        if (roff == 64) return std::string(ring) + ".tail";
        return std::string(ring) + ".cell" + std::to_string((roff - 128) / 8);
    }
    return "?";
}

// ---- Invariants ----

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
// when nobody runs: no recv is between taking a unit and leasing).
std::string World::check_lease_counts() const {
    for (auto &[proc, rec] : record_of_) {
        const Proc &p = g_sim.procs[size_t(proc)];
        if (p.status != Status::Blocked) continue;
        uint32_t owned = 0;
        for (uint32_t i = 0; i < sc_.slots; ++i) {
            SlotWord w{peek(core_->slot(i)->state)};
            owned += w.state() == SlotState::Leased && w.owner() == rec;
        }
        uint32_t counted = peek(core_->client(rec)->leased) - peek(core_->client(rec)->returned);
        if (counted != owned)
            return p.name + " counts " + std::to_string(counted) + " leases but owns " + std::to_string(owned);
    }
    return "";
}

void World::check_step() {
    if (!g_sim.failure.empty()) return;
    uint64_t keys[8];
    uint32_t n = 0;
    for (uint32_t i = 0; i < sc_.slots && i < 8; ++i) {
        SlotWord w{peek(core_->slot(i)->state)};
        // A first lease, seen right after its CAS (the delivery count is
        // raised later): the order of these is the queue's order.
        if (w.raw != last_word_[i] && w.state() == SlotState::Leased &&
            SlotWord{last_word_[i]}.state() == SlotState::Ready && peek(core_->slot(i)->attempts) == 0)
            led_.leased_first.push_back(key_of(core_, i));
        last_word_[i] = w.raw;
        if (!holds_message(w.state())) continue;
        uint64_t k = key_of(core_, i);
        for (uint32_t j = 0; j < n; ++j)
            if (keys[j] == k) g_sim.failure = "message " + hex(k) + " held by two slots at once";
        keys[n++] = k;
    }
}

std::string World::check_quiescent(const Sim &sim) {
    int crashed = 0;
    for (auto &p : sim.procs) crashed += p.status == Status::Crashed;
    const bool recovery_owed = crashed > crashes_seen_;
    auto &hdr = *core_->header();
    bool ready_listed = false, free_listed = false, stranded = false;
    int64_t due_ns = INT64_MAX;
    for (uint32_t i = 0; i < sc_.slots; ++i) {
        SlotWord w{peek(core_->slot(i)->state)};
        bool listed = false;
        if (w.state() == SlotState::Ready)
            listed = core_->ring(shmq::detail::kReadyRing).holds(peek(core_->slot(i)->listed_pos), i);
        ready_listed = ready_listed || listed;
        stranded = stranded || (w.state() == SlotState::Ready && !listed);
        if (w.state() == SlotState::Delayed)
            due_ns = std::min<int64_t>(due_ns, hdr.epoch_mono_ns + int64_t(w.time()) * 1000000);
    }
    core_->ring(shmq::detail::kFreeRing).for_each([&](uint32_t v, uint64_t) {
        if (v < sc_.slots && SlotWord{peek(core_->slot(v)->state)}.state() == SlotState::Free) free_listed = true;
    });
    int64_t first_wake = INT64_MAX;
    bool consumer_sleeps = false;
    for (size_t k = 0; k < sim.procs.size(); ++k) {
        const Proc &p = sim.procs[k];
        if (p.status != Status::Blocked) continue;
        bool on_ready = p.wait_addr == sim.canon(core_->header()->ready_wait.raw());
        consumer_sleeps = consumer_sleeps || on_ready;
        if (p.wait_until >= 0) first_wake = std::min(first_wake, p.wait_until);
        if (on_ready && ready_listed) return "lost wake-up: " + p.name + " sleeps while a listed message is READY";
        if (!on_ready && free_listed) return "lost wake-up: " + p.name + " sleeps while a listed slot is FREE";
    }
    if (stranded && !recovery_owed && peek(hdr.relist) == 0)
        return "a READY message is in no ring and nothing will list it (stranded)";
    if (consumer_sleeps && due_ns != INT64_MAX && first_wake > due_ns + 2000000)
        return "a retry falls due " + std::to_string((first_wake - due_ns) / 1000) +
               " us before any sleeper wakes to make it ready";
    std::string s = check_owners();
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
        next->status = Status::Runnable;
        next->timed_out = true;
        next->wait_addr = nullptr;
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
// the ledger against what it found.
std::string World::drain(std::vector<uint64_t> *out) {
    for (int round = 0; round < 4; ++round) {
        g_sim.now_ns += 10 * 1000000000LL; // past every lease and retry time
        core_->recover(nullptr, 0);
        shmq_msg m;
        while (shmq_recv(admin_, &m, 0) == SHMQ_OK) {
            uint64_t key = 0;
            std::memcpy(&key, m.data, sizeof key);
            out->push_back(key);
            if (shmq_ack(admin_, &m) != SHMQ_OK) return "the harness's own ack failed";
        }
    }
    return "";
}

// With a ttl: the harness drains 10 s on, past every ttl of a scenario, so
// nothing it drained may have had one; every message left DEAD died of its
// ttl (no scenario with a ttl runs out of attempts).
std::string World::check_expired(const std::vector<uint64_t> &drained) const {
    for (uint64_t k : drained)
        if (led_.expires_by.count(k) > 0) return "message " + hex(k) + " delivered to the drain after its ttl ran out";
    if (sc_.ttl_first_ns == 0 && sc_.ttl_rest_ns == 0) return "";
    for (uint32_t i = 0; i < sc_.slots; ++i) {
        SlotWord w{peek(core_->slot(i)->state)};
        if (w.state() == SlotState::Dead && w.time() != uint32_t(shmq::detail::DeadReason::Expired))
            return "message " + hex(key_of(core_, i)) + " dead-lettered with reason " + std::to_string(w.time()) +
                   ", not expired";
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
    std::vector<uint64_t> drained;
    std::string bad = drain(&drained);
    if (bad.empty()) bad = check_expired(drained);
    if (!bad.empty()) return bad;
    std::set<uint64_t> left(drained.begin(), drained.end()), dead;
    for (uint32_t i = 0; i < sc_.slots; ++i)
        if (SlotWord{peek(core_->slot(i)->state)}.state() == SlotState::Dead) dead.insert(key_of(core_, i));
    size_t missing = 0;
    for (uint64_t k : led_.sent) {
        bool acked = led_.acked.count(k) > 0;
        if (acked && left.count(k) > 0) return "message " + hex(k) + " came back after its ack";
        if (!acked && left.count(k) == 0 && dead.count(k) == 0 && led_.acking.count(k) == 0) ++missing;
        if (!sc_.purge && missing > 0) return "message " + hex(k) + " was sent and is gone (lost)";
    }
    for (auto &[k, n] : led_.acked)
        if (n > 1) return "message " + hex(k) + " acked twice";
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
    const bool fifo = crashes_seen_ == 0 && sc_.send_delay_ns == 0;
    for (size_t c = 0; c < led_.firsts.size() && fifo; ++c)
        if (!in_order(led_.firsts[c])) return "FIFO: consumer" + std::to_string(c) + " got a message after a later one";
    if (fifo && !sc_.purge && !in_order(led_.leased_first))
        return "FIFO: a message was leased before an older one of the same producer";
    shmq::detail::Audit a = shmq::detail::audit(*core_);
    if (!a.ok() || a.by_state[uint32_t(SlotState::Free)] + a.by_state[uint32_t(SlotState::Dead)] != sc_.slots)
        return "after recovery and drain: " + std::to_string(a.free_unlisted) + " free slots unlisted, " +
               std::to_string(a.ready_unlisted) + " ready unlisted, " +
               std::to_string(sc_.slots - a.by_state[uint32_t(SlotState::Free)] - a.by_state[uint32_t(SlotState::Dead)]) +
               " slots neither free nor dead (leaked)";
    return "";
}

} // namespace explore
