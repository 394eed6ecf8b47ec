// dedup.cpp - the deduplication window: a table of keys in the segment that
// makes a second send of a key within the queue's window return the first
// message's id and store nothing (docs/core.md, "Deduplication").
//
// On a topic the same steps run around the topic's publish (topic.cpp): the
// payload slot's WRITING -> PUBLISHED CAS is the commit point, so a key is in
// every group or in none; `slot` names a payload slot, read through pool_
// (a group handle's own slot(i) is its lane's word).
//
// Open addressing over a hash of the key; an entry's word is
// DedupState:3 | slot:24 | hash:16 | generation:21. A keyed send holds its
// slot WRITING, then claims an entry (RESERVED), writes key, id, window end
// and the slot's WRITING word (`life`), makes it PENDING, checks that no
// other entry claims the key, and publishes the slot: that slot CAS is the
// commit point of the key too. While PENDING, the slot's word says what
// happened: still `life` means not published (its owner decides, or, dead,
// anyone voids the entry); moved on means published (anyone may mark the
// entry COMMITTED). That reading holds because every path that frees a
// WRITING slot voids its entry first (recovery's dedup_sweep; the sender
// itself when it backs off).
#include "crashpoint.hpp"
#include "queue.hpp"
#include "sys.hpp"

#include <climits>
#include <cstring>
#include <thread>

namespace shmq::detail {

namespace {

enum class DState : uint64_t { Empty = 0, Reserved = 1, Pending = 2, Committed = 3, Void = 4 };
constexpr uint32_t kNoEntry = ~0u;

struct DWord {
    uint64_t raw;
    DState state() const { return DState(raw & 7); }
    uint32_t slot() const { return uint32_t(raw >> 3) & 0xFFFFFF; }
    uint32_t hash() const { return uint32_t(raw >> 27) & 0xFFFF; }
    // The same entry's next word: every transition takes a new generation,
    // so a CAS from a word read before the entry was reused fails.
    DWord next(DState s) const {
        uint64_t gen = ((raw >> 43) + 1) & ((1ULL << 21) - 1);
        return DWord{uint64_t(s) | (raw & (0xFFFFFFULL << 3 | 0xFFFFULL << 27)) | gen << 43};
    }
    DWord claim(uint32_t slot, uint32_t hash) const {
        DWord n = next(DState::Reserved);
        return DWord{(n.raw & ~(0xFFFFFFULL << 3 | 0xFFFFULL << 27)) | uint64_t(slot & 0xFFFFFF) << 3 |
                     uint64_t(hash & 0xFFFF) << 27};
    }
};

// FNV-1a over the key, seeded with the segment's tag, then mixed (the low
// bits pick the bucket, the top 16 go into the word).
uint64_t key_hash(const void *key, uint32_t len, uint64_t tag) {
    uint64_t h = 1469598103934665603ULL ^ tag;
    for (uint32_t i = 0; i < len; ++i) {
        h ^= static_cast<const unsigned char *>(key)[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

uint32_t hash16(uint64_t h) { return uint32_t(h >> 48); }

} // namespace

// A key as its entry stores it: 16 zero-padded words.
struct DedupKey {
    uint64_t w[16] = {};
    uint32_t len = 0;
    uint64_t hash = 0;
};

static DedupKey make_key(const void *key, uint32_t len, uint64_t tag) {
    DedupKey k;
    std::memcpy(k.w, key, len);
    k.len = len;
    k.hash = key_hash(key, len, tag);
    return k;
}

// Entry e, read at `word` (PENDING or COMMITTED): is it key k? Its id and
// window end come out if so. False if the entry changed meanwhile.
bool Queue::dedup_same_key(uint32_t e, uint64_t word, const void *key, uint32_t key_len) const {
    const DedupKey &k = *static_cast<const DedupKey *>(key);
    DedupEntry *d = dedup_entry(e);
    if (d->key_len.load(std::memory_order_relaxed) != key_len) return false;
    for (uint32_t i = 0; i < (key_len + 7) / 8; ++i)
        if (d->key[i].load(std::memory_order_relaxed) != k.w[i]) return false;
    // SYNC POINT: the acquire load of `word` by our caller pairs with the
    // writer's release CAS to PENDING; an unchanged word now means the fields
    // we read were that life's (a reuser changes the word first).
    return d->word.load(std::memory_order_acquire) == word;
}

// Entry e was RESERVED or PENDING at `word`: move it on if its fate is known
// (published: COMMITTED; its writer dead: VOID), else wait until its word
// changes. SHMQ_OK to look again, SHMQ_ETIMEDOUT past the deadline.
int Queue::dedup_settle(uint32_t e, uint64_t word, int64_t deadline) {
    DedupEntry *d = dedup_entry(e);
    for (uint32_t spins = 0;; ++spins) {
        DWord w{word};
        const uint64_t life = d->life.load(std::memory_order_relaxed);
        if (d->word.load(std::memory_order_acquire) != word) return SHMQ_OK;
        if (w.slot() >= p_.slot_count) { // outside damage: drop the entry
            d->word.compare_exchange_strong(word, w.next(DState::Void).raw, std::memory_order_acq_rel);
            return SHMQ_OK;
        }
        SlotWord s{pool_->slot(w.slot())->state.load(std::memory_order_acquire)};
        if (w.state() == DState::Pending && s.raw != life) {
            // The slot left its WRITING life: only by the publish (a free
            // voids the entry first). The message exists: commit the key.
            d->word.compare_exchange_strong(word, w.next(DState::Committed).raw, std::memory_order_acq_rel);
            return SHMQ_OK;
        }
        if (s.state() == SlotState::Writing && s.owner() < p_.max_clients) {
            ClientWord cw{client(s.owner())->word.load(std::memory_order_acquire)};
            // Read the slot again once its writer is known dead: it may have
            // published and then died after our first read.
            if ((cw.state() == ClientState::Free || is_dead(s.owner(), cw)) &&
                pool_->slot(w.slot())->state.load(std::memory_order_acquire) == s.raw) {
                d->word.compare_exchange_strong(word, w.next(DState::Void).raw, std::memory_order_acq_rel);
                return SHMQ_OK;
            }
        }
        if (deadline != INT64_MAX && mono_ns() >= deadline) return SHMQ_ETIMEDOUT;
        cpu_relax();
#ifndef SHMQ_EXPLORE
        if (spins % 64 == 63) std::this_thread::yield(); // its writer may need this CPU
#endif
    }
}

// Look key k up. Out: a duplicate's id (place kNoEntry, *dup_id set), or the
// entry to claim for it (*place, its word in *dup_id). Waits on entries whose
// fate decides the answer.
int Queue::dedup_lookup(const void *key, uint32_t key_len, uint64_t hash, int64_t deadline, uint32_t *place,
                        uint64_t *dup_id) {
    const DedupKey &k = *static_cast<const DedupKey *>(key);
    const uint32_t cap = p_.dedup_capacity, start = uint32_t(hash) & (cap - 1), h16 = hash16(hash);
again:
    const uint32_t probe = hdr_->dedup_probe.load(std::memory_order_seq_cst);
    const int64_t now = now_ms64();
    uint32_t at = kNoEntry, at_d = 0;
    uint64_t at_word = 0;
    for (uint32_t dist = 0; dist < cap; ++dist) {
        if (dist > probe && at != kNoEntry) break; // no key was ever placed this far
        const uint32_t e = (start + dist) & (cap - 1);
        DedupEntry *d = dedup_entry(e);
        DWord w{d->word.load(std::memory_order_acquire)};
        const bool live = w.state() == DState::Committed && d->expires.load(std::memory_order_relaxed) > now;
        if (w.state() == DState::Empty || w.state() == DState::Void || (w.state() == DState::Committed && !live)) {
            if (at == kNoEntry) at = e, at_d = dist, at_word = w.raw;
            if (w.state() == DState::Empty) break; // nothing was ever placed beyond an empty entry
            continue;
        }
        if (w.hash() != h16 || dist > probe) continue;
        if (w.state() != DState::Reserved && !dedup_same_key(e, w.raw, &k, key_len)) continue;
        if (w.state() == DState::Committed) {
            uint64_t id = d->id.load(std::memory_order_relaxed);
            if (d->word.load(std::memory_order_acquire) != w.raw) goto again;
            *place = kNoEntry;
            *dup_id = id;
            return SHMQ_OK;
        }
        if (int rc = dedup_settle(e, w.raw, deadline); rc != SHMQ_OK) return rc;
        goto again; // it moved on: committed (our duplicate), or void
    }
    if (at == kNoEntry) return SHMQ_EDEDUPFULL;
    // Lookups stop at dedup_probe: raise it before the entry is claimed.
    for (uint32_t p = probe; p < at_d;)
        if (hdr_->dedup_probe.compare_exchange_strong(p, at_d, std::memory_order_seq_cst)) break;
    *place = at;
    *dup_id = at_word;
    return SHMQ_OK;
}

// After our entry `mine` became PENDING: does another entry claim key k? A
// COMMITTED one, or a PENDING one at a lower index, wins (we back off); one
// at a higher index, or a RESERVED one that may be k, is waited for. Two
// senders of k each claim an entry and then scan (seq_cst), so at least one
// sees the other: never both publish. True: back off.
bool Queue::dedup_conflict(const void *key, uint32_t key_len, uint64_t hash, uint32_t mine, int64_t deadline) {
    const DedupKey &k = *static_cast<const DedupKey *>(key);
    const uint32_t cap = p_.dedup_capacity, start = uint32_t(hash) & (cap - 1), h16 = hash16(hash);
again:
    const uint32_t probe = hdr_->dedup_probe.load(std::memory_order_seq_cst);
    const int64_t now = now_ms64();
    for (uint32_t dist = 0; dist <= probe && dist < cap; ++dist) {
        const uint32_t e = (start + dist) & (cap - 1);
        if (e == mine) continue;
        DedupEntry *d = dedup_entry(e);
        DWord w{d->word.load(std::memory_order_seq_cst)};
        if (w.state() == DState::Empty) break;
        if (w.state() == DState::Void || w.hash() != h16) continue;
        if (w.state() == DState::Committed && d->expires.load(std::memory_order_relaxed) <= now) continue;
        if (w.state() != DState::Reserved && !dedup_same_key(e, w.raw, &k, key_len)) continue;
        if (w.state() == DState::Committed || (w.state() == DState::Pending && e < mine)) return true;
        if (dedup_settle(e, w.raw, deadline) != SHMQ_OK) return true; // timed out: give up ours
        goto again;
    }
    return false;
}

// Claim an entry for key k naming WRITING slot `slot`. Out: *entry and its
// PENDING word (*word), or *entry = kNoEntry and the duplicate's id in *word.
int Queue::dedup_reserve(const void *key, uint32_t key_len, uint32_t slot_i, SlotWord writing, uint64_t id,
                         int64_t deadline, uint32_t *entry, uint64_t *word) {
    const DedupKey &k = *static_cast<const DedupKey *>(key);
    for (;;) {
        uint32_t at;
        uint64_t got;
        if (int rc = dedup_lookup(&k, key_len, k.hash, deadline, &at, &got); rc != SHMQ_OK) return rc;
        if (at == kNoEntry) return *entry = kNoEntry, *word = got, SHMQ_OK;
        DedupEntry *d = dedup_entry(at);
        DWord was{got};
        DWord res = was.claim(slot_i, hash16(k.hash));
        if (!d->word.compare_exchange_strong(was.raw, res.raw, std::memory_order_acq_rel)) continue;
        SHMQ_CRASH_POINT("dedup.reserved");
        d->life.store(writing.raw, std::memory_order_relaxed);
        d->id.store(id, std::memory_order_relaxed);
        d->expires.store(now_ms64() + p_.dedup_window_ms, std::memory_order_relaxed);
        d->key_len.store(key_len, std::memory_order_relaxed);
        for (uint32_t i = 0; i < 16; ++i) d->key[i].store(k.w[i], std::memory_order_relaxed);
        // SYNC POINT: this release CAS publishes the fields above to whoever
        // reads the word PENDING or COMMITTED with acquire.
        DWord pend = res.next(DState::Pending);
        if (!d->word.compare_exchange_strong(res.raw, pend.raw, std::memory_order_seq_cst)) continue;
        if (dedup_conflict(&k, key_len, k.hash, at, deadline)) {
            uint64_t p = pend.raw; // back off: void ours (we still hold the slot), look again
            d->word.compare_exchange_strong(p, pend.next(DState::Void).raw, std::memory_order_acq_rel);
            if (deadline != INT64_MAX && mono_ns() >= deadline) return SHMQ_ETIMEDOUT;
            continue;
        }
        *entry = at;
        *word = pend.raw;
        return SHMQ_OK;
    }
}

// Send WRITING slot i (payload written) under spec's key: store it and
// record the key, or, a duplicate, give the slot back and return the first
// message's id.
int Queue::send_keyed(uint32_t i, SlotWord w, size_t len, const SendSpec &spec, int64_t timeout_ns, uint64_t *id,
                      Dedup *how) {
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : mono_ns() + timeout_ns;
    const DedupKey k = make_key(spec.dedup_key, spec.dedup_key_len, tag_);
    MessageMeta meta{hdr_->next_id.fetch_add(1, std::memory_order_relaxed), 0, real_ns()};
    meta.fresh = true;
    uint32_t e;
    uint64_t word;
    int rc = dedup_reserve(&k, k.len, i, w, meta.id, deadline, &e, &word);
    if (rc != SHMQ_OK || e == kNoEntry) { // a duplicate, or no entry: we hold no entry, give the slot back
        if (transition_and_push(i, w, w.next(SlotState::Free, kNoOwner, 0), kFreeRing, Points{}))
            wake(Wait::Space, 1);
        if (rc == SHMQ_OK && id != nullptr) *id = word;
        *how = Dedup::Duplicate;
        return rc;
    }
    meta.dedup_entry = e; // a topic with no group bound frees the slot: it voids the entry first
    meta.dedup_word = word;
    rc = publish(i, w, len, &meta, spec, id);
    SHMQ_CRASH_POINT("dedup.published");
    DedupEntry *d = dedup_entry(e);
    DWord pend{word};
    d->word.compare_exchange_strong(word, pend.next(rc == SHMQ_OK ? DState::Committed : DState::Void).raw,
                                    std::memory_order_acq_rel);
    if (rc == SHMQ_OK) {
        bump(kSent, 1);
        mark_role(1);
    }
    *how = Dedup::Stored;
    return rc;
}

// Our PENDING entry e (its word `pending`), whose slot is about to be freed
// unpublished: VOID, so that nobody reads the freed slot as a publish.
void Queue::dedup_void(uint32_t e, uint64_t pending) {
    DWord pend{pending};
    dedup_entry(e)->word.compare_exchange_strong(pending, pend.next(DState::Void).raw, std::memory_order_acq_rel);
}

// Recovery, before a dead client's WRITING slots are freed (scan_all): void
// the entries those slots hold, commit PENDING ones whose slot was published.
void Queue::dedup_sweep(const uint8_t *dead) {
    for (uint32_t e = 0; e < p_.dedup_capacity; ++e) {
        DedupEntry *d = dedup_entry(e);
        DWord w{d->word.load(std::memory_order_acquire)};
        if (w.state() != DState::Reserved && w.state() != DState::Pending) continue;
        const uint64_t life = d->life.load(std::memory_order_relaxed);
        if (d->word.load(std::memory_order_acquire) != w.raw || w.slot() >= p_.slot_count) continue;
        SlotWord s{pool_->slot(w.slot())->state.load(std::memory_order_acquire)};
        uint64_t was = w.raw;
        if (w.state() == DState::Pending && s.raw != life)
            d->word.compare_exchange_strong(was, w.next(DState::Committed).raw, std::memory_order_acq_rel);
        else if (s.state() == SlotState::Writing && s.owner() < kMaxClients &&
                 (dead[s.owner() / 8] >> (s.owner() % 8) & 1) != 0)
            d->word.compare_exchange_strong(was, w.next(DState::Void).raw, std::memory_order_acq_rel);
    }
}

} // namespace shmq::detail
