// topic.cpp - publish/subscribe: one payload, many consumer groups.
//
// A topic is a queue segment whose slots hold payloads (the "payload slots")
// plus one lane per consumer group: a SlotHeader per payload slot (the
// group's word for that message, its delivery count, lease and listed
// position), a ready ring and an event count. Inside a group everything is a
// queue's protocol on the group's words (recv.cpp, recovery.cpp); a group
// handle's slot(i) is its lane's header and payload(i) the shared payload.
//
//   payload:  FREE --claim--> WRITING(me) --commit CAS--> PUBLISHED(groups) --last group done--> FREE
//   group k:  FREE --stage (while WRITING)--> STAGED(due) --promote--> READY / DELAYED --> ...
//             ... LEASED --ack--> FREE, then bit k leaves the payload word (release_payload)
//
// Atomic publish. The producer stages every group's word while the payload
// slot is WRITING (nobody can reach a STAGED word: it is in no ring, and
// recovery acts on it only by the payload word), then commits with one CAS,
// WRITING -> PUBLISHED(mask of the groups staged). That CAS is the publish:
//   - killed before it, the payload slot is a dead producer's WRITING slot:
//     recovery unstages every group's word, then frees the slot. No group got it.
//   - killed after it, every group in the mask has a STAGED word and the
//     payload word says so: recovery promotes them (READY + push through an
//     intent, or DELAYED). Every group gets it.
// Release. A group that is done with a message (ack, dead letter moved to
// disk, spill) sets its word FREE, then clears its bit in the payload word;
// the group that clears the last bit frees the payload slot (with an intent
// for the free-ring push). "Bit k set and group k's word FREE" means only
// that: a release owed (a STAGED word is never FREE), and recovery finishes
// it. The clearing CAS is tied to the group's life of the slot: it is made
// only while the group's word is still the FREE word its release wrote, read
// after the payload word, so a slow releaser cannot clear the bit of the
// slot's next life (a new life restages the word, changing it).
//
// Which groups: those whose bit is in Header::groups_bound when the publish
// reads it (before staging). A group bound later starts with later publishes.
// Checked by the exploration harness (tests/explore, scenarios topic_*).
#include "crashpoint.hpp"
#include "names.hpp"
#include "queue.hpp"
#include "sys.hpp"
#include "wait.hpp"

#include <atomic>
#include <climits>
#include <cstring>

namespace shmq::detail {

// ---- Views: a topic handle sees the payload slots and every lane ----

void Queue::bind_views() {
    auto view = [&](uint32_t lane) {
        std::unique_ptr<Queue> v(new Queue());
        v->view_ = true;
        v->map_ = map_;
        v->p_ = p_;
        v->lane_ = lane;
        v->name_ = name_;
        v->owner_ = this;
        v->bind();
        return v;
    };
    if (lane_ != kNoLane) {
        pool_view_ = view(kNoLane);
        pool_ = pool_view_.get();
    }
    for (uint32_t k = 0; k < p_.groups; ++k) lanes_.push_back(view(k));
    for (auto &l : lanes_) l->pool_ = pool_;
    if (pool_view_) pool_view_->lanes_.clear();
    sync_views();
}

// Views act for this handle: same record, same handle options.
void Queue::sync_views() {
    auto sync = [&](Queue *v) {
        v->me_ = me_;
        v->rec_ = rec_;
        v->single_ = single_;
    };
    if (pool_view_) sync(pool_view_.get());
    for (auto &l : lanes_) sync(l.get());
}

// The handle whose slot(i) holds the words named by an intent's lane bits
// (intent.cpp): 0 the payload slots (or a queue's own), k + 1 group lane k.
Queue *Queue::view_of(uint32_t lane_plus_one) const {
    if (lane_plus_one == 0) return pool_;
    return lane_plus_one <= lanes_.size() ? lanes_[lane_plus_one - 1].get() : nullptr;
}

// ---- Groups ----

static LaneState state_of(uint64_t word) { return LaneState(word & 3); }
static uint64_t lane_word(LaneState s, uint64_t gen_of, uint32_t pid) {
    return (gen_of & 0xFFFFFFFCu) | uint64_t(s) | uint64_t(pid) << 32;
}
static uint64_t next_free(uint64_t word) { return ((word & 0xFFFFFFFCu) + 4) & 0xFFFFFFFFu; } // Free, next generation

// A lane's name is written by its binder while the lane is Binding and read
// by anyone: byte by byte with atomic accesses (a formal race otherwise; TSan),
// and a reader keeps a copy only if the lane word was the same before and
// after it (a seqlock on the word: a rename needs Free -> Binding, a new word).
static void store_name(LaneHeader *lh, const char *group) {
    size_t n = strnlen(group, sizeof lh->name - 1);
    for (size_t i = 0; i < sizeof lh->name; ++i)
        std::atomic_ref<char>(lh->name[i]).store(i < n ? group[i] : '\0', std::memory_order_relaxed);
}

// The name of lane k if its word is in one of the states `ok` accepts.
template <class Ok> static std::string read_name(const Queue &t, uint32_t k, Ok &&ok) {
    LaneHeader *lh = t.lane_header(k);
    for (int tries = 0; tries < 8; ++tries) {
        uint64_t before = lh->state.load(std::memory_order_acquire);
        if (!ok(state_of(before))) return {};
        char name[sizeof lh->name] = {};
        for (size_t i = 0; i + 1 < sizeof name; ++i) // SYNC POINT: acquire keeps the re-check after the copy
            name[i] = std::atomic_ref<char>(lh->name[i]).load(std::memory_order_acquire);
        if (lh->state.load(std::memory_order_relaxed) == before) return std::string(name);
    }
    return {}; // rebound under us again and again: as good as not there
}

static std::string bound_name(const Queue &t, uint32_t k) {
    return read_name(t, k, [](LaneState s) { return s == LaneState::Bound; });
}

int find_lane(const Queue &t, const char *group) {
    for (uint32_t k = 0; k < t.layout().groups; ++k)
        if (bound_name(t, k) == group) return int(k);
    return -1;
}

// Is `group` the name of a lane below k that is bound or being bound?
static bool named_below(const Queue &t, const char *group, uint32_t k) {
    for (uint32_t j = 0; j < k; ++j)
        if (read_name(t, j, [](LaneState s) { return s == LaneState::Bound || s == LaneState::Binding; }) == group)
            return true;
    return false;
}

std::vector<std::string> Queue::group_names() const {
    std::vector<std::string> out;
    for (uint32_t k = 0; k < p_.groups; ++k)
        if (std::string n = bound_name(*this, k); !n.empty()) out.push_back(std::move(n));
    return out;
}

std::string Queue::lane_name(uint32_t k, bool removing) const {
    if (k >= p_.groups) return {};
    return read_name(*this, k, [&](LaneState s) { return s == LaneState::Bound || (removing && s == LaneState::Removing); });
}

// Take a free lane, name it, let publishes include it (its bit), and only
// then call it bound: a bound lane always has its bit. Two binders of one
// name at once: the lower lane wins, the other gives its lane back (before
// setting a bit). A binder that dies leaves a Binding lane, perhaps with its
// bit set and messages in it: whoever finds it (tidy_lane) removes it.
int Queue::group_add(const char *group) {
    if (!topic() || lane_ != kNoLane) return SHMQ_EINVAL;
    if (int rc = check_name(group); rc != SHMQ_OK) return rc;
    if (find_lane(*this, group) >= 0) return SHMQ_EEXIST;
    const uint32_t pid = uint32_t(self_process().pid);
    for (uint32_t k = 0; k < p_.groups; ++k) {
        LaneHeader *lh = lane_header(k);
        uint64_t st = lh->state.load(std::memory_order_acquire);
        if (state_of(st) != LaneState::Free) continue;
        const uint64_t binding = lane_word(LaneState::Binding, st, pid);
        if (!lh->state.compare_exchange_strong(st, binding, std::memory_order_acq_rel)) continue;
        store_name(lh, group);
        uint64_t expect = binding;
        if (named_below(*this, group, k)) { // the same name is being bound at once, below us
            lh->state.compare_exchange_strong(expect, next_free(binding), std::memory_order_acq_rel);
            return SHMQ_EEXIST;
        }
        hdr_->groups_bound.fetch_or(1u << k, std::memory_order_seq_cst);
        // A CAS: only if nobody judged us dead and removed the lane meanwhile.
        if (!lh->state.compare_exchange_strong(expect, lane_word(LaneState::Bound, binding, pid),
                                               std::memory_order_acq_rel))
            return SHMQ_ENOTFOUND;
        return SHMQ_OK;
    }
    return SHMQ_EFULL;
}

// Remove a group: no new publish includes it, its READY and DELAYED messages
// become dead letters (reason group_removed), and its handles get
// SHMQ_ECLOSED. Leased ones finish with their consumers (an ack frees them,
// a nack or a reclaim makes them dead letters too). The lane is free for a
// new group once every word of it is FREE (recovery, drop_removed). Without
// `force`, a group that holds any message is refused (SHMQ_EBUSY).
int Queue::group_remove(const char *group, bool force) {
    if (!topic() || lane_ != kNoLane) return SHMQ_EINVAL;
    if (int rc = check_name(group); rc != SHMQ_OK) return rc;
    int k = find_lane(*this, group);
    if (k < 0) return SHMQ_ENOTFOUND;
    Queue *l = lanes_[uint32_t(k)].get();
    if (!force && l->holds_any()) return SHMQ_EBUSY;
    LaneHeader *lh = lane_header(uint32_t(k));
    uint64_t st = lh->state.load(std::memory_order_acquire);
    if (state_of(st) != LaneState::Bound ||
        !lh->state.compare_exchange_strong(st, lane_word(LaneState::Removing, st, 0), std::memory_order_acq_rel))
        return SHMQ_ENOTFOUND; // removed meanwhile
    hdr_->groups_bound.fetch_and(~(1u << k), std::memory_order_acq_rel);
    shmq_recovery rep{};
    l->drop_removed(&rep);
    l->wake(Wait::Ready, UINT32_MAX); // its consumers look again and find it closed
    return SHMQ_OK;
}

bool Queue::holds_any() const {
    for (uint32_t i = 0; i < p_.slot_count; ++i)
        if (SlotWord{slot(i)->state.load(std::memory_order_acquire)}.state() != SlotState::Free) return true;
    return false;
}

// In a removed group's lane: its bit is cleared (again: a remover may have
// died before), READY and DELAYED words become dead letters, and a lane whose
// words are all FREE becomes free (next generation). A publish that read the
// bit before it was cleared takes the group back out (publish_topic) or has
// staged already, and then the word keeps the lane. A lane whose binder died
// is removed the same way.
void Queue::drop_removed(shmq_recovery *rep) {
    LaneHeader *lh = lane_header(lane_);
    uint64_t st = lh->state.load(std::memory_order_acquire);
    if (state_of(st) == LaneState::Binding &&
        process_liveness(ProcessId{int32_t(st >> 32), kAnyStart, 0}) == Liveness::Dead &&
        lh->state.compare_exchange_strong(st, lane_word(LaneState::Removing, st, 0), std::memory_order_acq_rel))
        st = lane_word(LaneState::Removing, st, 0);
    if (state_of(st) != LaneState::Removing) return;
    hdr_->groups_bound.fetch_and(~(1u << lane_), std::memory_order_seq_cst);
    bool empty = true;
    for (uint32_t i = 0; i < p_.slot_count; ++i) {
        SlotWord w{slot(i)->state.load(std::memory_order_seq_cst)}; // pairs with publish_topic's re-check
        if ((w.state() == SlotState::Ready || w.state() == SlotState::Delayed) &&
            slot(i)->state.compare_exchange_strong(
                w.raw, w.next(SlotState::Dead, kNoOwner, uint32_t(DeadReason::GroupRemoved)).raw,
                std::memory_order_acq_rel)) {
            ++rep->dead_lettered;
            w = SlotWord{slot(i)->state.load(std::memory_order_acquire)};
        }
        empty = empty && w.state() == SlotState::Free;
    }
    if (empty) lh->state.compare_exchange_strong(st, next_free(st), std::memory_order_acq_rel);
}

// ---- Publishing ----

// WRITING payload slot i (its header written) becomes PUBLISHED to `groups`
// (0: every bound group), as described at the top of this file.
int Queue::publish_topic(uint32_t i, SlotWord writing, uint32_t groups, const SendSpec &spec,
                         const MessageMeta *meta) {
    // The lane views are the handle's (a pool view's owner's: restore into one group).
    const auto &lanes = owner_->lanes_;
    if (groups == 0) groups = hdr_->groups_bound.load(std::memory_order_acquire);
    groups &= (1u << p_.groups) - 1;
    const SlotHeader *s = slot(i);
    const uint32_t due = spec.delay_ns > 0 ? due_after(epoch_, spec.delay_ns) : 0;
    uint32_t staged = 0;
    SlotWord words[kMaxGroups];
    for (uint32_t k = 0; k < p_.groups; ++k) {
        if ((groups >> k & 1) == 0) continue;
        SlotHeader *g = lanes[k]->slot(i);
        SlotWord w{g->state.load(std::memory_order_acquire)};
        if (w.state() != SlotState::Free) continue; // cannot be (a FREE payload slot has FREE words); skip it
        g->id.store(s->id.load(std::memory_order_relaxed), std::memory_order_relaxed);
        g->enqueued_ns.store(s->enqueued_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
        g->len.store(s->len.load(std::memory_order_relaxed), std::memory_order_relaxed);
        g->attempts.store(s->attempts.load(std::memory_order_relaxed), std::memory_order_relaxed);
        g->expires_ms.store(s->expires_ms.load(std::memory_order_relaxed), std::memory_order_relaxed);
        g->headers_len.store(s->headers_len.load(std::memory_order_relaxed), std::memory_order_relaxed);
        g->listed_pos.store(kUnlisted, std::memory_order_relaxed);
        words[k] = w.next(SlotState::Staged, kNoOwner, due);
        if (g->state.compare_exchange_strong(w.raw, words[k].raw, std::memory_order_seq_cst)) staged |= 1u << k;
    }
    SHMQ_CRASH_POINT("topic.after_stage");
    // A group removed since we read the mask: take it back out. Its remover
    // clears the bit and then looks at the lane's words (drop_removed), we
    // stage and then look at the bit, all seq_cst: either it sees our word
    // (and keeps the lane until the message is gone) or we see the bit gone.
    // (explore: topic_remove_group found a message staged into a lane
    // already freed without this.)
    const uint32_t gone = staged & ~hdr_->groups_bound.load(std::memory_order_seq_cst);
    for (uint32_t k = 0; k < p_.groups; ++k)
        if ((gone >> k & 1) != 0 &&
            lanes[k]->slot(i)->state.compare_exchange_strong(words[k].raw, words[k].next(SlotState::Free, kNoOwner, 0).raw,
                                                            std::memory_order_acq_rel))
            staged &= ~(1u << k);
    if (staged == 0) { // no group to hand it to: nothing was sent
        // A keyed publish's entry reads a moved-on slot as published: void it first (dedup.cpp).
        if (meta != nullptr && meta->dedup_entry != ~0u) dedup_void(meta->dedup_entry, meta->dedup_word);
        (void)free_slot(i, writing);
        return SHMQ_ENOTFOUND;
    }
    // SYNC POINT: the release in this CAS publishes the payload and every
    // staged group header to whoever acts on the PUBLISHED word.
    // The owner stays ours: only our death lets recovery promote for us
    // (a recoverer promoting a live publisher's words races its next push).
    SlotWord published = writing.next(SlotState::Published, me_, staged);
    if (!slot(i)->state.compare_exchange_strong(writing.raw, published.raw, std::memory_order_acq_rel))
        return SHMQ_ELEASELOST; // recovery took the slot (it judged us dead) and unstaged the groups
    SHMQ_CRASH_POINT("topic.after_commit");
    for (uint32_t k = 0; k < p_.groups; ++k)
        if (staged >> k & 1) lanes[k]->promote_staged(i, words[k]);
    return SHMQ_OK;
}

// STAGED -> READY (pushed, consumers woken) or DELAYED until its due time.
// Either the publisher or a recoverer does it; one CAS wins.
void Queue::promote_staged(uint32_t i, SlotWord staged) {
    const uint32_t due = staged.time();
    if (due != 0 && !time_reached(due, now_ms())) {
        SlotWord to = staged.next(SlotState::Delayed, kNoOwner, due);
        if (slot(i)->state.compare_exchange_strong(staged.raw, to.raw, std::memory_order_acq_rel))
            note_due_waking(due);
        return;
    }
    if (transition_and_push(i, staged, staged.next(SlotState::Ready, kNoOwner, 0), kReadyRing, Points{}))
        wake(Wait::Ready, 1);
}

// ---- Releasing ----

// End a life with FREE: a queue's slot goes back to the free ring; a group's
// word goes FREE and the group's hold on the payload is released.
bool Queue::free_slot(uint32_t i, SlotWord from, const Points &at, Ring::Run *run) {
    SlotWord to = from.next(SlotState::Free, kNoOwner, 0);
    if (lane_ == kNoLane) return transition_and_push(i, from, to, kFreeRing, at, run);
    if (!slot(i)->state.compare_exchange_strong(from.raw, to.raw, std::memory_order_acq_rel)) return false;
    SHMQ_CRASH_POINT(at.cas);
    release_payload(i, to);
    return true;
}

// Clear this group's bit in payload slot i's word, freeing the slot if it
// was the last, while our word is still `lane_free` (see the top of the file).
void Queue::release_payload(uint32_t i, SlotWord lane_free) {
    const uint32_t bit = 1u << lane_;
    SlotHeader *ps = pool_->slot(i);
    for (;;) {
        SlotWord w{ps->state.load(std::memory_order_acquire)};
        if (w.state() != SlotState::Published || (w.time() & bit) == 0) return; // done by someone else
        if (slot(i)->state.load(std::memory_order_acquire) != lane_free.raw) return; // not our life any more
        if (w.time() == bit) {
            if (pool_->transition_and_push(i, w, w.next(SlotState::Free, kNoOwner, 0), kFreeRing, Points{})) {
                pool_->wake(Wait::Space, 1);
                return;
            }
            continue;
        }
        SlotWord to = w.next(SlotState::Published, w.owner(), w.time() & ~bit);
        if (ps->state.compare_exchange_strong(w.raw, to.raw, std::memory_order_acq_rel)) return;
    }
}

// ---- Recovery ----

// Payload slots: a dead producer's WRITING slot is unstaged and freed; a
// PUBLISHED one gets its staged groups promoted and its owed releases done.
// Payload slot i is PUBLISHED as `w`: promote the staged groups of a dead
// publisher, finish owed releases. False if the slot's word moved meanwhile
// (a release by someone, or a new life): the caller looks again.
bool Queue::settle_published(uint32_t i, SlotWord w, const uint8_t *dead, shmq_recovery *rep) {
    // Its publisher promotes its staged groups unless it died (then us).
    // (explore topic_groups: a recoverer promoting for a live publisher
    // pushed a message behind the publisher's next one: FIFO broken.)
    const bool owner_dead = w.owner() < kMaxClients && (dead[w.owner() / 8] >> (w.owner() % 8) & 1);
    for (uint32_t k = 0; k < lanes_.size(); ++k) {
        if ((w.time() >> k & 1) == 0) continue;
        Queue *l = lanes_[k].get();
        SlotWord g{l->slot(i)->state.load(std::memory_order_acquire)};
        // The group's word must be of the life the payload word names: if
        // the slot was freed and taken by a new publish since we read it, g
        // may be that publish's STAGED word, not committed yet.
        if (pool_->slot(i)->state.load(std::memory_order_acquire) != w.raw) return false;
        if (g.state() == SlotState::Staged && owner_dead) {
            l->promote_staged(i, g);
            ++rep->republished;
        } else if (g.state() == SlotState::Free) {
            l->release_payload(i, g);
        }
    }
    return true;
}

// Payload slots: a dead producer's WRITING slot is unstaged and freed; a
// PUBLISHED one gets its staged groups promoted and its owed releases done.
void Queue::scan_payload(const uint8_t *dead, shmq_recovery *rep, uint32_t first, uint32_t count) {
    for (uint32_t n = 0; n < count; ++n) {
        uint32_t i = (first + n) % p_.slot_count;
        SlotWord w{pool_->slot(i)->state.load(std::memory_order_acquire)};
        if (w.state() == SlotState::Writing && w.owner() < kMaxClients && (dead[w.owner() / 8] >> (w.owner() % 8) & 1)) {
            for (auto &l : lanes_) {
                SlotWord g{l->slot(i)->state.load(std::memory_order_acquire)};
                if (g.state() == SlotState::Staged)
                    l->slot(i)->state.compare_exchange_strong(g.raw, g.next(SlotState::Free, kNoOwner, 0).raw,
                                                              std::memory_order_acq_rel);
            }
            if (pool_->transition_and_push(i, w, w.next(SlotState::Free, kNoOwner, 0), kFreeRing, Points{}))
                ++rep->writes_reclaimed;
            continue;
        }
        // Each retry follows a change of the word: a release (at most one per
        // group) or a new life. Bounded, so a busy slot cannot hold the pass.
        for (int tries = 0; w.state() == SlotState::Published && tries <= int(kMaxGroups); ++tries) {
            if (settle_published(i, w, dead, rep)) break;
            w = SlotWord{pool_->slot(i)->state.load(std::memory_order_acquire)};
        }
    }
}

uint32_t Queue::scan_all(const uint8_t *dead, shmq_recovery *rep, uint32_t first, uint32_t count) {
    bool any_dead = false;
    for (uint32_t b = 0; b <= kMaxClients / 8; ++b) any_dead = any_dead || dead[b] != 0;
    if (any_dead && p_.dedup_capacity > 0) dedup_sweep(dead); // before their WRITING slots are freed (dedup.cpp)
    if (!topic()) return scan_slots(dead, rep, first, count);
    scan_payload(dead, rep, first, count);
    uint32_t due = 0;
    for (auto &l : lanes_) {
        uint32_t t = l->scan_slots(dead, rep, first, count);
        if (t != 0 && (due == 0 || int32_t(t - due) < 0)) due = t;
        l->drop_removed(rep); // a removed group's lane (a no-op for bound ones)
    }
    return due;
}

void Queue::relist_all(shmq_recovery *rep) {
    pool_->relist_unlisted(rep);
    for (auto &l : lanes_) l->relist_unlisted(rep);
}

void Queue::wake_consumers() {
    if (!topic()) return wake(Wait::Ready, UINT32_MAX);
    for (auto &l : lanes_) l->wake(Wait::Ready, UINT32_MAX);
}

} // namespace shmq::detail
