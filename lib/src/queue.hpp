// queue.hpp - one process's handle on one queue: the core behind shmq.h.
//
// A handle maps the segment, holds a validated copy of its parameters and one
// record in the client table. Every operation is a sequence of CASes on slot
// state words and ring cells; the comment at each step says what recovery does
// if the process dies right there (see recovery.cpp for the other side).
#pragma once

#include "layout.hpp"
#include "ring.hpp"
#include "segment.hpp"
#include "shmq/shmq.h"
#include "spin.hpp"
#include "sys.hpp"
#include "words.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace shmq::detail {

// Options of 0.3 callers end at spin_ns: they get the default wait policy.
constexpr size_t kOptionsV3 = offsetof(shmq_options, wait);
// Options of 0.4.0 callers end at wait: their handles are shared by threads.
constexpr size_t kOptionsV4 = offsetof(shmq_options, single_thread);
// Params of 0.3 callers end at mode: they get no default ttl.
constexpr size_t kParamsV3 = offsetof(shmq_params, ttl_ms);

enum RingId : uint32_t { kReadyRing = 0, kFreeRing = 1 };

// Period of the dead-client check clients run while no daemon does (recovery.cpp).
extern std::atomic<int64_t> g_dead_check_ms;
// A single-threaded producer keeps at most slot_count / this many free slots
// across calls (send.cpp; 0: none). The exploration harness lowers it.
extern std::atomic<uint32_t> g_slot_cache_share;

// The identity of a message that leaves shared memory for disk and comes back.
struct MessageMeta {
    uint64_t id;
    uint32_t attempts;   // deliveries so far
    int64_t enqueued_ns; // first enqueue, CLOCK_REALTIME
    int64_t expires_ns = 0; // CLOCK_REALTIME from which it may not be leased, 0 = never (expiry.cpp)
    bool fresh = false;     // a new message whose id and time the sender took (a batch run):
                            // its expiry comes from the send spec, its count from the sender
    uint32_t headers_len = 0; // peek: bytes of encoded headers copied right after the payload (headers.cpp)
    // A keyed send's PENDING deduplication entry (dedup.cpp), ~0u for none:
    // a publish that frees its WRITING slot instead voids it first.
    uint32_t dedup_entry = ~0u;
    uint64_t dedup_word = 0;
};

// A message taken out of shared memory by shmqd (admin.cpp): a DEAD slot on
// its way to the dead-letter store, or a READY one on its way to spill.
struct Outgoing {
    MessageMeta meta;
    uint32_t reason;       // DeadReason, for dead letters
    const void *data;      // in shared memory; valid until released
    uint32_t len;          // of the payload; meta.headers_len bytes of encoded headers follow it at data + len
    uint32_t slot;
    uint64_t word;         // the state word we hold it in
};

// What a producer's shmq_send_opts asked for, validated (send_opts.cpp).
struct SendSpec {
    int64_t delay_ns = 0; // > 0: store the message DELAYED until this long after it is stored (delay.cpp)
    int64_t ttl_ns = 0;   // > 0: expires this long after it is due; 0: the queue's ttl_ms;
                          // SHMQ_TTL_NEVER: never (expiry.cpp)
    // Headers (headers.cpp): pairs to encode, or an encoded block (a message
    // back from disk); headers_len is the encoded size, checked.
    const shmq_header *headers = nullptr;
    size_t header_count = 0;
    const void *header_block = nullptr;
    uint32_t headers_len = 0;
    // Deduplication (dedup.cpp): one key (a single send), or one per message
    // of a batch (keys[k].len 0: none); duplicate[k] set per message if not null.
    const void *dedup_key = nullptr;
    uint32_t dedup_key_len = 0;
    const shmq_iov *dedup_keys = nullptr;
    uint8_t *duplicate = nullptr;
    bool sync = false; // SHMQ_SEND_SYNC: shmq_sync after the send (send_opts.cpp)
};

// The lane of topic t's bound group `group`, or -1 (topic.cpp).
class Queue;
int find_lane(const Queue &t, const char *group);

// The ms-time at which a message stored now with `delay_ns` may be delivered (delay.cpp).
uint32_t due_after(int64_t epoch, int64_t delay_ns);

// Check and size the pairs of a send (SHMQ_EINVAL / SHMQ_ETOOBIG) or an
// encoded block (SHMQ_ECORRUPT / SHMQ_ETOOBIG) into spec (headers.cpp).
int read_headers(const shmq_header *h, size_t count, SendSpec *spec);
int read_header_block(const void *block, size_t len, SendSpec *spec);
// Write spec's headers (encoded) to `to`: spec.headers_len bytes.
void write_headers(const SendSpec &spec, char *to);

// `opts` (NULL: defaults) as a SendSpec, or the error that refuses them.
int read_send_opts(const shmq_send_opts *opts, SendSpec *out);

// Crash points around a transition_and_push (any may be null).
struct Points {
    const char *intent = nullptr; // intent recorded, slot CAS not done
    const char *cas = nullptr;    // slot CAS done, not pushed
    const char *push = nullptr;   // pushed, intent not cleared
};

class Queue {
public:
    static int create(const char *name, const shmq_params *params, const shmq_options *opts, Queue **out);
    static int open(const char *name, const shmq_options *opts, Queue **out);
    // Map and validate without attaching (no client record): for observers
    // such as shmqctl list/stat/peek. Only stats(), peek() and the read-only
    // accessors may be used on such a handle.
    static int inspect(const char *name, Queue **out);
    // At open, before attaching (reboot.cpp): a DISK segment of another boot
    // is rebuilt under a lock on `fd`; a MEMORY one is SHMQ_EREBOOTED.
    int check_boot(int fd);
    // A consumer handle on group `group` of topic `name` (topic.cpp).
    static int open_group(const char *name, const char *group, const shmq_options *opts, Queue **out);
    // Bind a consumer group on this topic (topic.cpp).
    int group_add(const char *group);
    int group_remove(const char *group, bool force);
    // Names of the bound groups, lane order (topic.cpp).
    std::vector<std::string> group_names() const;
    // Lane k's group name while it is bound (or, with `removing`, also while
    // being removed); empty otherwise. A copy consistent with the lane word.
    std::string lane_name(uint32_t k, bool removing = false) const;
    bool topic() const { return p_.groups > 0; }
    uint32_t lane() const { return lane_; } // kNoLane: a queue, or a topic's publisher
    DedupEntry *dedup_at(uint32_t e) const { return dedup_entry(e); } // for the harness and tests
    // Group lane k's view of this topic's segment (for recovery, the harness).
    Queue *lane_view(uint32_t k) const { return k < lanes_.size() ? lanes_[k].get() : nullptr; }
    LaneHeader *lane_header(uint32_t k) const {
        return reinterpret_cast<LaneHeader *>(base() + p_.off_lanes + uint64_t(k) * p_.lane_stride);
    }
    const char *payload_of(uint32_t i) const { return payload(i); }
    bool attached() const { return rec_ != nullptr; }
    // For the exploration harness: drop the mapping without detaching, as
    // the death of this process would. The handle may then only be deleted.
    void abandon();
    ~Queue();
    Queue(const Queue &) = delete;
    Queue &operator=(const Queue &) = delete;

    // `id` / `ids` (may be null) get the id of each message sent.
    int send(const void *data, size_t len, int64_t timeout_ns, const SendSpec &spec = {}, uint64_t *id = nullptr);
    int send_batch(const shmq_iov *msgs, size_t count, size_t *sent, int64_t timeout_ns, const SendSpec &spec = {},
                   uint64_t *ids = nullptr);
    int reserve(shmq_reservation *r, int64_t timeout_ns);
    int commit(shmq_reservation *r, size_t len, const SendSpec &spec = {}, uint64_t *id = nullptr);
    int abort(shmq_reservation *r);

    int recv(shmq_msg *msg, int64_t timeout_ns);
    int recv_batch(shmq_msg *msgs, size_t max, size_t *count, int64_t timeout_ns);
    int ack(shmq_msg *msg);
    int ack_batch(shmq_msg *msgs, size_t count, int *results);
    // `dead`: the reason a message out of attempts (nack) or rejected dies with.
    int nack(shmq_msg *msg, int64_t delay_ns, DeadReason dead = DeadReason::MaxAttempts);
    int reject(shmq_msg *msg, DeadReason dead = DeadReason::Rejected);
    int extend(shmq_msg *msg, uint32_t lease_ms);
    // The encoded headers of a message this handle holds (headers.cpp).
    int msg_headers(const shmq_msg *msg, const void **block, size_t *len) const;

    int ready_fd(int *fd);
    int stats(shmq_stats *out);
    // Durability (flush.cpp): write the segment back to its file; wait until
    // what was sent before the call is on disk. MEMORY queues: SHMQ_OK.
    int flush();
    int sync(int64_t timeout_ns);
    // One recovery pass. `budget` > 0 scans at most that many slots for
    // expired leases and due retries (a full pass whenever a dead client is
    // found); 0 scans all.
    int recover(shmq_recovery *report, uint32_t budget = 0);
    void params(shmq_params *out) const;

    // For shmqd (admin.cpp). Call with one daemon per queue (shmqd's lock).
    void heartbeat();
    // Visit each DEAD slot; when `persist` returns true (written and synced)
    // the slot is freed. A crash in between writes it twice, never loses it.
    template <class F> uint32_t drain_dead(F &&persist);
    // Lease the oldest READY message for spilling (no delivery counted).
    bool take_for_spill(Outgoing *out);
    // The spilled message is on disk: free its slot.
    bool release_spilled(const Outgoing &out);
    // The disk write failed: make the message READY again, untouched.
    bool return_spilled(const Outgoing &out);
    // Put a message back (spill refill, dead-letter redrive), keeping its id.
    // A message back from disk with its identity; `spec` may delay it (a
    // snapshot's message not yet due) and carries its headers (an encoded
    // block checked by read_header_block).
    // `groups` (topics): the groups to put it back into, 0 = every bound one.
    int restore(const MessageMeta &meta, const void *data, size_t len, const SendSpec &spec = {},
                uint32_t groups = 0);
    void raise_next_id(uint64_t id); // ids taken from now on are above `id` (admin.cpp)
    void set_spill_full(bool full);
    void set_spilled(uint64_t n);
    // Copy up to `max` READY messages, oldest first, without leasing them.
    // A message leased while being copied is skipped (its word changed).
    template <class F> uint32_t peek(uint32_t max, F &&visit);
    // Drop every READY and DELAYED message (operator's purge). Returns how many.
    uint32_t purge();

    // For the daemon, doctor and tests.
    bool unlinked() const { return hdr_->unlinked.load(std::memory_order_acquire) != 0; } // shmq_unlink ran: a new segment may take the name
    Header *header() const { return hdr_; }
    const Params &layout() const { return p_; }
    // Slot i's header: this queue's, a topic's payload slot (publisher), or
    // the group's word and delivery state for it (a group handle, topic.cpp).
    SlotHeader *slot(uint32_t i) const { return reinterpret_cast<SlotHeader *>(slots_ + uint64_t(i) * slot_step_); }
    ClientRecord *client(uint32_t i) const {
        return reinterpret_cast<ClientRecord *>(base() + p_.off_clients + uint64_t(i) * sizeof(ClientRecord));
    }
    Ring &ring(RingId id) { return id == kReadyRing ? ready_ : free_; }
    uint32_t self_index() const { return me_; }
    uint32_t now_ms() const; // ms since the segment's epoch, wrapping
    // The same, rounded up: the base of a lease deadline or retry time, which
    // may then run up to a ms long, never short.
    uint32_t deadline_base_ms() const;

private:
    enum class Wait { Ready, Space };

    Queue() = default;
    template <class F> static int build(const char *name, Queue **out, F &&setup);
    char *base() const { return static_cast<char *>(map_.base); }
    char *payload(uint32_t i) const {
        return base() + p_.off_slots + uint64_t(i) * p_.slot_stride + sizeof(SlotHeader);
    }
    // Start moving slot i's header and first payload line to this CPU, for
    // writing, while the current message is handled: the next message's
    // cache-line transfer overlaps this one's work (issue 20: about +10 % on
    // 1->1 here). A hint, no effect on state.
    void prefetch_slot(uint32_t i) const {
#if defined(__x86_64__) || defined(__i386__)
        if (i >= p_.slot_count) return;
        // prefetchw, not __builtin_prefetch: without -mprfchw GCC emits a
        // read prefetch, which fetches the line shared and then needs a
        // second transfer for the write (measured slower than none).
        asm volatile("prefetchw %0" ::"m"(*reinterpret_cast<const char *>(slot(i))));
        asm volatile("prefetchw %0" ::"m"(*payload(i)));
#else
        (void)i;
#endif
    }
    // Unlinked, or (a group handle) its group was removed (topic.cpp).
    bool closed() const {
        return unlinked() ||
               (lane_ != kNoLane && !view_ && lane_header(lane_)->state.load(std::memory_order_acquire) != lane_word_);
    }
    bool daemon_alive() const;
    void bump(Counter c, uint64_t n);
    // Add n (modulo 2^bits) to a word of our own record that only this
    // handle writes: plain load and store when single-threaded.
    template <class A, class T> void add_own(A &a, T n, std::memory_order mo = std::memory_order_relaxed) {
        if (single_)
            a.store(a.load(std::memory_order_relaxed) + n, mo);
        else
            a.fetch_add(n, mo);
    }
    // Leases this handle holds: its own count less those others ended.
    uint32_t held_leases() const;
    void mark_role(uint32_t bit);

    // Attaching and detaching (queue.cpp).
    void bind();
    int attach(const shmq_options *opts);
    bool fill_record(ClientRecord *rec, ClientWord claimed, const ProcessId &me);
    bool claim_record(uint32_t i, const ProcessId &me, bool take_dead);
    void detach();

    // Publishing with a recorded intent (queue.cpp): CAS slot i from `from`
    // to `to`, then push it to ring r. If this process dies in between, a
    // recoverer finds the intent and pushes. False if the CAS failed.
    // (intent.cpp)
    Pending *claim_pending();
    // With `run`, the push is part of a run on ring r that moves tail once
    // (Ring::fill); the caller ends the run (Ring::end).
    bool transition_and_push(uint32_t i, SlotWord from, SlotWord to, RingId r, const Points &at,
                             Ring::Run *run = nullptr);
    uint32_t redo_pending(ClientRecord *dead);
    void list(uint32_t i, RingId r, Ring::Run *run = nullptr);

    // Topics (topic.cpp).
    void bind_views();
    void sync_views();
    int publish_topic(uint32_t slot, SlotWord writing, uint32_t groups, const SendSpec &spec, const MessageMeta *meta);
    void promote_staged(uint32_t slot, SlotWord staged);
    bool free_slot(uint32_t slot, SlotWord from, const Points &at = Points{}, Ring::Run *run = nullptr);
    void release_payload(uint32_t slot, SlotWord lane_free);
    uint32_t scan_all(const uint8_t *dead, shmq_recovery *rep, uint32_t first, uint32_t count);
    void scan_payload(const uint8_t *dead, shmq_recovery *rep, uint32_t first, uint32_t count);
    bool settle_published(uint32_t slot, SlotWord w, const uint8_t *dead, shmq_recovery *rep);
    void relist_all(shmq_recovery *rep);
    void wake_consumers();
    bool holds_any() const;
    void drop_removed(shmq_recovery *rep);
    Queue *view_of(uint32_t lane_plus_one) const;

    // Sending (send.cpp).
    bool try_claim_free(uint32_t *slot, SlotWord *word);
    // A batch send's run of claimed slots (send.cpp).
    struct Claimed {
        uint32_t slot;
        SlotWord word;
    };
    static constexpr size_t kRun = 64;
    static constexpr uint32_t kCache = 8; // most free slots a producer keeps across calls
    bool take_cached(uint32_t *slot, SlotWord *word);
    Take take_free(uint32_t v, SlotWord *got);
    uint32_t try_claim_run(Claimed *run, uint32_t max);
    int claim_run(const shmq_iov *msgs, size_t count, int64_t timeout_ns, uint32_t headers_len, Claimed *run,
                  size_t *claimed);
    int publish_run(const shmq_iov *msgs, const Claimed *run, size_t k, const SendSpec &spec, uint64_t *ids,
                    size_t *published);
    int claim_free(uint32_t *slot, SlotWord *word, int64_t timeout_ns);
    int publish(uint32_t slot, SlotWord writing, size_t len, const MessageMeta *meta, const SendSpec &spec = {},
                uint64_t *id = nullptr, uint32_t groups = 0, Ring::Run *run = nullptr);
    // Deduplication (dedup.cpp).
    enum class Dedup { Stored, Duplicate };
    int publish_one(uint32_t slot, SlotWord writing, size_t len, const SendSpec &spec, int64_t timeout_ns,
                    uint64_t *id);
    int send_batch_keyed(const shmq_iov *msgs, size_t count, size_t *sent, int64_t timeout_ns, const SendSpec &spec,
                         uint64_t *ids);
    int send_keyed(uint32_t slot, SlotWord writing, size_t len, const SendSpec &spec, int64_t timeout_ns,
                   uint64_t *id, Dedup *how);
    int dedup_reserve(const void *key, uint32_t key_len, uint32_t slot, SlotWord writing, uint64_t id,
                      int64_t deadline, uint32_t *entry, uint64_t *word);
    int dedup_lookup(const void *key, uint32_t key_len, uint64_t hash, int64_t deadline, uint32_t *place,
                     uint64_t *dup_id);
    bool dedup_conflict(const void *key, uint32_t key_len, uint64_t hash, uint32_t mine, int64_t deadline);
    int dedup_settle(uint32_t e, uint64_t word, int64_t deadline);
    bool dedup_same_key(uint32_t e, uint64_t word, const void *key, uint32_t key_len) const;
    void dedup_sweep(const uint8_t *dead);
    void dedup_void(uint32_t e, uint64_t pending);
    DedupEntry *dedup_entry(uint32_t e) const {
        return reinterpret_cast<DedupEntry *>(base() + p_.off_dedup + uint64_t(e) * sizeof(DedupEntry));
    }
    int64_t now_ms64() const { return (mono_ns() - epoch_) / 1000000; }
    // Delayed send (delay.cpp).
    bool make_delayed(uint32_t slot, SlotWord writing, int64_t delay_ns);
    void wake_sent(const SendSpec &spec, uint32_t n);
    // Expiry (expiry.cpp).
    uint32_t expiry_of(const SendSpec &spec, const MessageMeta *meta) const;
    bool expired_now(uint32_t slot) const;
    bool expired(uint32_t slot, uint32_t now) const;
    int64_t expiry_real_ns(uint32_t slot) const;
    bool expire(uint32_t slot, SlotWord from);
    Take expire_popped(uint32_t slot, SlotWord from);
    bool valid_reservation(const shmq_reservation *r) const;
    void wake(Wait what, uint32_t n);

    // Receiving (recv.cpp).
    Take take_ready(uint32_t v, uint64_t pos, uint32_t *now, SlotWord *got);
    size_t lease_run(shmq_msg *msgs, size_t max);
    uint32_t take_prefetch_n(uint32_t n);
    bool try_lease(shmq_msg *msg, uint32_t *now_ms);
    bool fill_message(uint32_t i, SlotWord leased, shmq_msg *msg);
    bool take_prefetch();
    void release_lease();
    void lease_ended(uint32_t owner);
    bool receipt(const shmq_msg *msg, uint32_t *i, SlotWord *w) const;
    int end_with_free(shmq_msg *msg, bool wake_now, Ring::Run *run = nullptr); // ack without counting it
    int finish(shmq_msg *msg, SlotWord to, const Points &at, bool wake_now = true, Ring::Run *run = nullptr);
    uint32_t backoff_ms(uint32_t attempts);
    SlotWord retry_word(SlotWord from, uint32_t attempts, int64_t delay_ns, uint32_t now,
                        DeadReason dead = DeadReason::MaxAttempts);

    // Waiting (wait.hpp).
    template <class F> int wait_for(Wait what, int64_t timeout_ns, F &&try_op);
    template <class F> bool spin(SpinBudget &b, int64_t start, int64_t deadline, F &&try_op);

    // Recovery (recovery.cpp).
    void maybe_recover();
    void maybe_recover_at(uint32_t now);
    int64_t sleep_ns(int64_t left) const;
    void note_due(uint32_t t);
    void note_due_waking(uint32_t t);
    bool is_dead(uint32_t i, ClientWord w) const;
    bool recoverer_gone(uint32_t x) const;
    bool claim_if_dead(uint32_t i);
    uint32_t claim_dead_clients(uint8_t *dead, shmq_recovery *rep);
    void finish_previous_life(uint32_t i, shmq_recovery *rep);
    void release_sleepers(ClientRecord *rec);
    void free_record(uint32_t i);
    void reclaim_lease(uint32_t i, SlotWord w, uint32_t now, shmq_recovery *rep);
    uint32_t scan_slots(const uint8_t *dead, shmq_recovery *rep, uint32_t first, uint32_t count);
    void relist_unlisted(shmq_recovery *rep);

    // Durability (reboot.cpp, flush.cpp).
    void rebuild();
    void rebase_epoch();
    void forget_processes();
    SlotWord judge(uint32_t i, SlotWord w, uint32_t now);
    bool slot_crc(uint32_t i, uint32_t *out) const;
    void seal(uint32_t i);
    bool sound(uint32_t i) const;
    int flush_once();
    uint64_t sends_total() const;

    // Readiness fd (notify.cpp).
    std::string fifo_path(uint32_t idx, uint32_t epoch) const;
    void drain_fd();
    void arm_fd();
    void notify_one(uint32_t idx);
    void notify_fd_waiters();
    void close_fds();
    void remove_fifo(uint32_t idx, uint32_t epoch) const;

    // Stats (stats.cpp).
    void count_slots(shmq_stats *out) const;
    void count_clients(shmq_stats *out) const;

    bool release_dead(uint32_t i, SlotWord w);
    void copy_payload(char *to, uint32_t i, uint32_t len) const;
    // Encoded headers of slot i whose payload is `len` bytes: their length, or
    // ~0u when they do not fit the slot (a broken writer).
    uint32_t headers_len_of(uint32_t i, uint32_t len) const;

    Mapping map_;
    Params p_{};
    // Where slot(i) points (bind): stride and base of this handle's slot headers.
    char *slots_ = nullptr;
    uint64_t slot_step_ = 0;
    A64 *ready_ev_ = nullptr; // the event count consumers of this handle sleep on
    // Topics (topic.cpp): a group handle's lane; views of the payload slots
    // and of every lane, sharing this handle's mapping and record.
    uint32_t lane_ = kNoLane;
    uint64_t lane_word_ = 0; // a group handle: its lane's state word when it opened
    bool view_ = false; // owns neither mapping nor record
    Queue *pool_ = this;
    Queue *owner_ = this; // a view's handle: the one holding the lane views
    std::unique_ptr<Queue> pool_view_;
    std::vector<std::unique_ptr<Queue>> lanes_;
    Header *hdr_ = nullptr;
    int64_t epoch_ = 0; // the header's epoch_mono_ns, read once
    Ring ready_, free_;
    uint32_t me_ = kNoOwner;
    ClientRecord *rec_ = nullptr;
    uint32_t prefetch_ = 0;
    bool single_ = false; // shmq_options.single_thread: plain stores on our own record
    // Free slots this producer holds across calls (send.cpp): WRITING(me)
    // slots taken in one free-ring run. Their words name us, so a recoverer
    // that finds us dead frees them as any dead producer's WRITING slots,
    // and detach() gives them back the same way.
    Claimed cache_[kCache + 1]; // a refill takes one more than it keeps
    uint32_t cached_ = 0, cache_max_ = 0;
    SpinBudget spin_[2]; // [0] waiting for messages, [1] for room
    std::atomic<uint64_t> rng_{0};
    uint64_t tag_ = 0;     // the segment's tag, in the top half of receipt[0]
    bool not_durable_ = false; // a DISK queue in a tmpfs directory (reboot.cpp)
    std::atomic<uint32_t> scan_cursor_{0};
    std::string name_;
    // Readiness fd: ours, and those of consumers we wake (by record index).
    struct PeerFd {
        uint32_t epoch;
        int fd;
    };
    std::mutex fd_mu_;
    int fd_ = -1;
    std::vector<PeerFd> peer_fd_;
};

template <class F> uint32_t Queue::peek(uint32_t max, F &&visit) {
    uint32_t n = 0;
    std::vector<char> buf(p_.slot_size);
    ready_.for_each([&](uint32_t i, uint64_t pos) {
        if (n >= max || i >= p_.slot_count) return;
        SlotHeader *s = slot(i);
        if (s->listed_pos.load(std::memory_order_acquire) != pos) return; // a stale or duplicate entry
        uint64_t before = s->state.load(std::memory_order_acquire);
        if (SlotWord{before}.state() != SlotState::Ready) return;
        uint32_t len = s->len.load(std::memory_order_relaxed);
        uint32_t hlen = headers_len_of(i, len);
        if (hlen == ~0u) return;
        MessageMeta meta{s->id.load(std::memory_order_relaxed), s->attempts.load(std::memory_order_relaxed),
                         s->enqueued_ns.load(std::memory_order_relaxed)};
        meta.headers_len = hlen; // copied after the payload
        // SYNC POINT: the copy's acquire loads keep the re-check after them; an
        // unchanged word means no one leased (and rewrote) the slot meanwhile.
        copy_payload(buf.data(), i, len + hlen);
        if (s->state.load(std::memory_order_relaxed) != before) return;
        visit(static_cast<const MessageMeta &>(meta), static_cast<const void *>(buf.data()), len);
        ++n;
    });
    return n;
}

template <class F> uint32_t Queue::drain_dead(F &&persist) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < p_.slot_count; ++i) {
        SlotWord w{slot(i)->state.load(std::memory_order_acquire)};
        if (w.state() != SlotState::Dead) continue;
        SlotHeader *s = slot(i);
        uint32_t len = s->len.load(std::memory_order_relaxed);
        uint32_t hlen = headers_len_of(i, len);
        Outgoing out{{s->id.load(std::memory_order_relaxed), s->attempts.load(std::memory_order_relaxed),
                      s->enqueued_ns.load(std::memory_order_relaxed)},
                     w.time(), payload(i), len <= p_.slot_size ? len : 0, i, w.raw};
        out.meta.headers_len = hlen != ~0u ? hlen : 0; // broken headers are dropped, a sound payload kept
        if (hlen == ~0u) out.reason = uint32_t(DeadReason::Invalid);
        if (persist(static_cast<const Outgoing &>(out)) && release_dead(i, w)) ++n;
    }
    return n;
}

} // namespace shmq::detail
