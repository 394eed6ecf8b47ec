// layout.hpp - the bytes of one queue's shared-memory segment.
//
// A segment is [Header][client records][slots][ready ring][free ring], each part
// cache-line aligned and addressed by offsets, never pointers (every process maps
// it at another address). Changing any struct here changes the layout
// fingerprint, so an old process refuses a new segment instead of misreading it.
#pragma once

#include "atomic.hpp"

#include <cstddef>
#include <cstdint>

namespace shmq::detail {

constexpr std::size_t kLine = 64;
constexpr uint64_t kMagic = 0x3147455351484d53ULL; // "SMHQSEG1" little-endian
constexpr uint32_t kLayoutVersion = 8; // 2: event-count waits, listed positions, queue tags; 3: poppers never write ring cells;
                                       // 4: owner-only lease counts (ClientRecord::returned), expiry (Params::ttl_ms,
                                       //    SlotHeader::expires_ms, Header::expired);
                                       // 5: topics (Params::groups, LaneHeader, Header::groups_bound); SlotHeader::headers_len
                                       // 6: deduplication (Params::dedup_*, DedupEntry, Header::dedup_probe)
                                       // 7: durability (Params::durability, Header::boot_id, quarantined, flush_*,
                                       //    SlotHeader::crc; reboot.cpp, flush.cpp)
                                       // 8: durable lag (Header::durable_sent, flush.cpp)
constexpr uint32_t kMaxClients = 500;              // owner field has 9 bits, 511 = none
constexpr uint32_t kMaxSlots = 1u << 24;
constexpr uint32_t kMaxSlotSize = 1u << 30;
constexpr uint32_t kPendingPerClient = 4;          // concurrent publishes per client
constexpr uint32_t kMaxGroups = 16;                // consumer groups of one topic (topic.cpp)
constexpr uint32_t kNoLane = 0xFFFFFFFFu;          // a queue's own slots, or a topic's payload slots

using A64 = Atomic<uint64_t>;
using A32 = Atomic<uint32_t>;
using AI64 = Atomic<int64_t>;

// Parameters fixed at creation. Each process validates them once at open and
// then uses its own copy, so later writes into shared memory cannot steer it.
struct Params {
    uint32_t slot_size, slot_count, max_clients, lease_ms;
    uint32_t max_attempts, backoff_base_ms, backoff_cap_ms, jitter;
    uint32_t overflow, mode, ring_cap, slot_stride;
    uint64_t off_clients, off_slots, off_ready_ring, off_free_ring, total_size;
    uint32_t ttl_ms; // default time to live, 0 = none (expiry.cpp)
    uint32_t groups; // 0: a queue; else a topic with this many group lanes (topic.cpp)
    uint64_t off_lanes, lane_stride;
    uint32_t dedup_window_ms, dedup_capacity; // 0 = no table (dedup.cpp); capacity a power of two
    uint64_t off_dedup;
    uint32_t durability; // shmq_durability (reboot.cpp, flush.cpp)
    uint32_t unused;
};

struct alignas(kLine) Header {
    // Identity, written once. `magic` is stored last (release) by the creator.
    A64 magic;
    uint32_t layout_version, header_size;
    uint64_t fingerprint;
    int64_t created_ns;    // CLOCK_REALTIME
    int64_t epoch_mono_ns; // lease and retry times are ms since this
    int32_t creator_pid;
    uint32_t tag;          // random at creation: receipts name their queue with it
    uint8_t boot_id[16];   // the kernel's boot id when the segment was created or last
                           // rebuilt (reboot.cpp); written last by a rebuild
    alignas(kLine) Params params;
    // Liveness and control.
    alignas(kLine) AI64 daemon_heartbeat_ms; // ms since epoch, 0 = never
    AI64 last_recover_ms;                   // rate-limits client-driven checks for dead clients
    A32 unlinked;                           // set by shmq_unlink before the name goes
    A32 daemon_pid;
    A32 spill_full;                         // set by shmqd when its spill store is at its cap
    A32 next_due_ms;                        // earliest retry or lease deadline known, 0 = none (recovery.cpp)
    AI64 spilled;                           // messages in shmqd's spill store, written each tick
    A32 relist;                             // a ring push failed: recovery must re-list (recovery.cpp)
    // Waiting (wait.hpp): event counts, epoch in the low half (the futex
    // word), registered sleepers in the high half. Consumers wait on
    // ready_wait, producers on space_wait.
    alignas(kLine) A64 ready_wait;
    alignas(kLine) A64 space_wait;
    // Consumers waiting on a readiness fd (notify.cpp), not on the futex.
    alignas(kLine) A32 fd_waiters;
    alignas(kLine) A64 next_id;
    // Totals of work done by recovery (clients count their own work).
    alignas(kLine) A64 reclaimed, promoted, recovery_dead, dead_clients;
    A64 expired; // messages dead-lettered as expired, by anyone (expiry.cpp)
    // Topics: bit k set while group lane k takes new publishes (topic.cpp).
    alignas(kLine) A32 groups_bound;
    // Deduplication (dedup.cpp): the longest probe any key was placed at.
    alignas(kLine) A32 dedup_probe;
    // Durability (flush.cpp): flush generations (a flush takes g = ++started
    // and, once written back, raises done to g; done's low half is a futex
    // word), the last flush's end, length and error, and the messages a
    // rebuild quarantined (reboot.cpp). durable_sent: the sends counted (the
    // sum of every record's kSent) before the latest flush that worked began,
    // so all on disk; raised only, by that flush (flush.cpp).
    alignas(kLine) A64 flush_started;
    alignas(kLine) A64 flush_done;
    AI64 last_flush_ns, last_flush_dur_ns;
    A32 flush_error, flush_waiters;
    A64 flushes, quarantined;
    A64 durable_sent;
};

// One key of the deduplication table (dedup.cpp). `word` is the CAS word:
// DedupState:3 | slot:24 | hash:16 | generation:21; the other fields are
// written while RESERVED and published by the CAS to PENDING.
struct alignas(kLine) DedupEntry {
    A64 word;
    A64 life;       // the WRITING word of the slot the key's message is written in
    A64 id;         // that message's id
    AI64 expires;   // ms since the epoch (64-bit): the end of the key's window
    A32 key_len;
    A32 unused;
    A64 key[16];    // the key's bytes (SHMQ_MAX_DEDUP_KEY), zero-padded
};

// One pending ring publish, recorded before the slot CAS it follows, so that a
// recoverer can finish the push if this process dies between the two.
struct Pending {
    A64 target; // 0 = unused; else kPendingUsed | ring << 32 | slot
    A64 state;  // the slot state word that the push belongs to
};
constexpr uint64_t kPendingUsed = 1ULL << 63;
constexpr uint64_t kPendingClaimed = kPendingUsed | 0xFFFFFFFFULL; // claimed, not yet filled

struct alignas(kLine) ClientRecord {
    A64 word;           // ClientWord: state | epoch | pid or recoverer
    int64_t start_time; // /proc/PID/stat field 22, clock ticks since boot
    uint64_t pidns;     // inode of the process's pid namespace
    int64_t attached_ns;
    A32 role, prefetch;
    A32 leased;         // +1 by the owner's lease, -1 when the owner ends one (owner only)
    A32 returned;       // +1 when another client ends one of the owner's leases (held = leased - returned)
    A32 sleeping;       // owner's threads asleep on ready_wait (for stats)
    A32 space_sleeping; // owner's threads asleep on space_wait (for stats)
    A32 fd_armed;       // 1 while the owner waits on its readiness fd
    alignas(kLine) Pending pending[kPendingPerClient];
    // Cumulative counters (enum Counter): never reset, so totals = the sum
    // over records and a reused record goes on counting; per-client = count - base.
    alignas(kLine) A64 count[8];
    uint64_t base[8];
};

enum Counter : uint32_t { kSent, kDelivered, kAcked, kNacked, kRejected, kRedelivered, kDead, kCounters };

constexpr uint64_t kUnlisted = ~0ULL; // SlotHeader::listed_pos of a life not (yet) in the ready ring

struct alignas(kLine) SlotHeader {
    A64 state;            // SlotWord: the truth about this slot
    A64 id;
    AI64 enqueued_ns;     // CLOCK_REALTIME of the first enqueue
    A32 len;
    A32 attempts;         // deliveries so far
    A32 lease_ms;
    A32 crc;              // DISK queues: CRC-32C of the message (reboot.cpp, slot_crc), written
                          // before the CAS that makes it READY or DELAYED
    A64 listed_pos;       // ready-ring position of this life's entry (ring.hpp); ~0 while unlisted
    A32 expires_ms;       // ms-time from which this message may not be leased, 0 = never (expiry.cpp)
    A32 headers_len;      // bytes of encoded headers right after the payload, 0 = none (headers.cpp)
};

// A topic's consumer group (topic.cpp): its name, its own event count, then
// (at the lane's offset + sizeof(LaneHeader)) a SlotHeader per payload slot and
// its ready ring. A group's word for slot i is that SlotHeader's state.
// LaneHeader::state is `LaneState:2 | generation:30 | binder pid:32`; the
// generation grows when a lane becomes free again, so a handle on a removed
// group never mistakes the lane's next group for its own; the pid names the
// process binding it (Binding), judged dead as a client would be.
enum class LaneState : uint32_t { Free = 0, Binding = 1, Bound = 2, Removing = 3 };
struct alignas(kLine) LaneHeader {
    A64 state;        // LaneState | generation << 2 | binder pid << 32
    char name[72];    // NUL-terminated group name, written while Binding
    alignas(kLine) A64 ready_wait; // the group's consumers sleep here (wait.hpp)
};

struct alignas(kLine) RingHeader {
    A64 head;
    alignas(kLine) A64 tail;
};

constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

constexpr uint32_t next_pow2(uint32_t v) {
    uint32_t p = 1;
    while (p < v) p <<= 1;
    return p;
}

// Sizes and offsets of every shared struct, hashed (FNV-1a). A process opening
// a segment whose fingerprint differs from its own refuses it.
constexpr uint64_t layout_fingerprint() {
    const uint64_t parts[] = {
        kLayoutVersion,
        sizeof(Header),
        offsetof(Header, params),
        offsetof(Header, daemon_heartbeat_ms),
        offsetof(Header, ready_wait),
        offsetof(Header, space_wait),
        offsetof(Header, relist),
        offsetof(Header, next_id),
        offsetof(Header, fd_waiters),
        offsetof(Header, reclaimed),
        offsetof(Header, expired),
        offsetof(Header, groups_bound),
        offsetof(Header, dedup_probe),
        offsetof(Header, boot_id),
        offsetof(Header, flush_started),
        offsetof(Header, flush_done),
        offsetof(Header, quarantined),
        offsetof(Header, durable_sent),
        offsetof(Params, durability),
        sizeof(DedupEntry),
        offsetof(Params, off_dedup),
        sizeof(Params),
        offsetof(Params, ttl_ms),
        offsetof(Params, groups),
        sizeof(LaneHeader),
        kMaxGroups,
        sizeof(ClientRecord),
        offsetof(ClientRecord, pending),
        offsetof(ClientRecord, count),
        sizeof(SlotHeader),
        offsetof(SlotHeader, attempts),
        offsetof(SlotHeader, crc),
        offsetof(SlotHeader, listed_pos),
        offsetof(SlotHeader, expires_ms),
        offsetof(SlotHeader, headers_len),
        sizeof(RingHeader),
        kPendingPerClient,
        kMaxClients,
    };
    uint64_t h = 1469598103934665603ULL;
    for (uint64_t p : parts) {
        for (int i = 0; i < 8; ++i) {
            h ^= (p >> (8 * i)) & 0xff;
            h *= 1099511628211ULL;
        }
    }
    return h;
}

static_assert(sizeof(A64) == 8 && A64::is_always_lock_free, "64-bit atomics must be lock-free");
static_assert(sizeof(SlotHeader) == kLine);
static_assert(sizeof(DedupEntry) == 3 * kLine);

} // namespace shmq::detail
