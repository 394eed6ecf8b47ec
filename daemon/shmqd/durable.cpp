// durable.cpp - snapshot at stop, restore at start (durable.hpp). Taking
// reads the slots like `shmqctl peek` reads the ready ring: copy, then check
// that the state word did not change, so no client's message is leased or
// moved. Restoring keeps id, delivery count and first-enqueue time through
// the core's restore (as a spill refill does); a delayed message that is not
// yet due is restored DELAYED for the time it has left (docs/durability.md).
#include "durable.hpp"

#include "snapshot.hpp"
#include "store/fsutil.hpp"
#include "sys.hpp"
#include "words.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace shmqd {

namespace {

using shmq::detail::Queue;
using shmq::detail::SlotHeader;
using shmq::detail::SlotState;
using shmq::detail::SlotWord;

SegmentIdentity identity_of(const Queue &q) { return {q.header()->created_ns, q.header()->tag}; }

bool kind_of(SlotState st, SnapKind *kind) {
    switch (st) {
    case SlotState::Ready: *kind = SnapKind::Ready; return true;
    case SlotState::Delayed: *kind = SnapKind::Delayed; return true;
    case SlotState::Leased: *kind = SnapKind::Leased; return true;
    default: return false;
    }
}

// Copy slot i's message if it holds one. A copy is kept only if the state
// word is unchanged after it (the payload was not rewritten meanwhile); a
// slot that keeps changing is tried three times, then reported as skipped.
enum class Copy { Empty, Taken, Busy };
Copy copy_slot(const Queue &q, uint32_t i, uint32_t now_ms, int64_t now_ns, SnapMessage *m) {
    SlotHeader *sh = q.slot(i);
    for (int tries = 0; tries < 3; ++tries) {
        SlotWord w{sh->state.load(std::memory_order_acquire)};
        uint32_t len = sh->len.load(std::memory_order_relaxed);
        if (!kind_of(w.state(), &m->kind) || len > q.layout().slot_size) return Copy::Empty;
        m->id = sh->id.load(std::memory_order_relaxed);
        m->attempts = sh->attempts.load(std::memory_order_relaxed);
        m->enqueued_ns = sh->enqueued_ns.load(std::memory_order_relaxed);
        int64_t left_ms = std::max<int32_t>(0, int32_t(w.time() - now_ms)); // wrap-around, as the core compares
        m->due_ns = m->kind == SnapKind::Delayed ? now_ns + left_ms * 1000000 : 0;
        uint32_t e = sh->expires_ms.load(std::memory_order_relaxed); // an ms-time, 0: never (expiry.cpp)
        m->expires_ns = e == 0 ? 0 : std::max<int64_t>(now_ns + int64_t(int32_t(e - now_ms)) * 1000000, 1);
        uint32_t hlen = sh->headers_len.load(std::memory_order_relaxed); // its block follows the payload
        if (hlen > q.layout().slot_size - len) return Copy::Empty;
        m->payload.resize(len);
        m->headers.resize(hlen);
        const char *from = q.payload_of(i); // a group's header is in its lane, the payload in the pool
        for (uint32_t k = 0; k < len + hlen; ++k) // racy by design, as Queue::copy_payload
            (k < len ? m->payload[k] : m->headers[k - len]) =
                std::byte(std::atomic_ref<char>(const_cast<char &>(from[k])).load(std::memory_order_acquire));
        if (sh->state.load(std::memory_order_relaxed) == w.raw) return Copy::Taken;
    }
    return Copy::Busy;
}

// Oldest first, as the queue would have delivered them.
void sort_messages(std::vector<SnapMessage> &ms) {
    std::stable_sort(ms.begin(), ms.end(), [](const SnapMessage &a, const SnapMessage &b) {
        return a.enqueued_ns != b.enqueued_ns ? a.enqueued_ns < b.enqueued_ns : a.id < b.id;
    });
}

QueueSnapshot take(const Supervised &s, uint32_t *busy) {
    QueueSnapshot snap{s.cfg.name, current_boot_id(), identity_of(*s.q), shmq::detail::real_ns(), {}};
    uint32_t now_ms = s.q->now_ms();
    for (uint32_t i = 0; i < s.q->layout().slot_count; ++i) {
        SnapMessage m;
        Copy c = copy_slot(*s.q, i, now_ms, snap.taken_ns, &m);
        if (c == Copy::Taken) snap.messages.push_back(std::move(m));
        *busy += c == Copy::Busy ? 1 : 0;
    }
    sort_messages(snap.messages);
    return snap;
}

bool snapshot_one(Supervised &s, int dirfd) {
    if (!s.q) {
        spdlog::error("queue {}: no segment at stop (it was deleted): no snapshot written", s.cfg.name);
        return false;
    }
    uint32_t busy = 0;
    QueueSnapshot snap = take(s, &busy);
    if (busy > 0)
        spdlog::warn("queue {}: {} messages changed while being copied (clients still running) and are not in the "
                     "snapshot", s.cfg.name, busy);
    std::string why;
    if (write_snapshot(dirfd, snap, &why) != 0) {
        spdlog::error("queue {}: snapshot: {}; its {} messages will not survive a reboot", s.cfg.name, why,
                      snap.messages.size());
        return false;
    }
    spdlog::info("queue {}: snapshot of {} messages written (durability reboot)", s.cfg.name, snap.messages.size());
    return true;
}

// Groups bound by hand (not in the config) have no entry, so no snapshot.
void warn_unconfigured_groups(const Supervised &topic) {
    for (const std::string &g : topic.q->group_names())
        if (std::find(topic.cfg.groups.begin(), topic.cfg.groups.end(), g) == topic.cfg.groups.end())
            spdlog::warn("topic {}: group {} is not in the config: its messages are in no snapshot and will not "
                         "survive a reboot", topic.cfg.name, g);
}

bool is_topic(const Supervised &s) { return !s.groups.empty() || (s.q && s.q->topic()); }

} // namespace

bool snapshot_queue(Supervised &s, int dirfd) {
    if (!is_topic(s)) return snapshot_one(s, dirfd);
    bool ok = true;
    for (auto &g : s.groups) ok &= snapshot_one(*g, dirfd);
    if (s.q) warn_unconfigured_groups(s);
    return ok;
}

namespace {

// Into the segment, or (no room, or larger than its slots) the spill store.
// 0, or the spill's errno value.
int put_back(Supervised &s, const SnapMessage &m, int64_t now_ns, uint32_t *spilled) {
    shmq::detail::SendSpec spec;
    if (m.kind == SnapKind::Delayed && m.due_ns > now_ns)
        spec.delay_ns = std::min<int64_t>(m.due_ns - now_ns, SHMQ_MAX_DELAY_NS);
    int rc = shmq::detail::read_header_block(m.headers.data(), m.headers.size(), &spec);
    if (rc == SHMQ_OK) rc = s.q->restore({m.id, m.attempts, m.enqueued_ns, m.expires_ns}, m.payload.data(), m.payload.size(), spec);
    if (rc == SHMQ_OK) return 0;
    ++*spilled; // a broken header block too: the refill dead-letters it (spilling.cpp)
    return s.spill.push(shmq::store::SpillMeta{m.id, m.attempts, m.enqueued_ns, m.expires_ns}, m.payload, m.headers);
}

void remove_file(Supervised &s, int dirfd, const std::string &file) {
    if (unlinkat(dirfd, file.c_str(), 0) != 0 && errno != ENOENT)
        spdlog::error("queue {}: cannot remove {}: {}", s.cfg.name, file, strerror(errno));
    shmq::store::sync_dir(dirfd);
}

void refuse(Supervised &s, int dirfd, const std::string &why) {
    std::string file = snapshot_file(s.cfg.name), bad = file + ".bad-" + std::to_string(time(nullptr));
    bool moved = renameat(dirfd, file.c_str(), dirfd, bad.c_str()) == 0;
    spdlog::error("queue {}: snapshot refused: {}; nothing of it restored, {}", s.cfg.name, why,
                  moved ? "moved it aside as " + bad : "left in place");
}

void restore(Supervised &s, int dirfd, const QueueSnapshot &snap) {
    bool rebooted = snap.boot_id != current_boot_id();
    spdlog::info("queue {}: restoring {} messages from the snapshot taken at unix time {} ({})", s.cfg.name, snap.messages.size(),
                 snap.taken_ns / 1000000000,
                 rebooted ? "the host rebooted" : "same boot: the segment was deleted while shmqd was stopped");
    int64_t now_ns = shmq::detail::real_ns();
    uint32_t spilled = 0;
    int rc = 0;
    for (const SnapMessage &m : snap.messages)
        if (rc = put_back(s, m, now_ns, &spilled); rc != 0) break;
    if (rc == 0 && spilled > 0) rc = s.spill.sync();
    if (rc != 0) {
        spdlog::error("queue {}: snapshot: no room in the segment and the spill store fails ({}); snapshot kept, "
                      "so a restart restores it again (duplicates)", s.cfg.name, s.spill.error());
        return;
    }
    if (spilled > 0) spdlog::warn("queue {}: {} restored messages did not fit the segment: spilled", s.cfg.name, spilled);
    remove_file(s, dirfd, snapshot_file(s.cfg.name));
}

void restore_one(Supervised &s, int dirfd) {
    const std::string name = s.cfg.name;
    if (unlinkat(dirfd, snapshot_tmp_file(name).c_str(), 0) == 0)
        spdlog::warn("queue {}: removed {}, left by a snapshot write that did not finish", name, snapshot_tmp_file(name));
    QueueSnapshot snap;
    std::string why;
    int rc = read_snapshot(dirfd, name, &snap, &why);
    if (rc == ENOENT) return;
    if (rc == EBADMSG) return refuse(s, dirfd, why);
    if (rc != 0) {
        spdlog::error("queue {}: snapshot: {}: {}; left in place", name, why, strerror(rc));
        return;
    }
    if (snap.segment == identity_of(*s.q)) {
        spdlog::info("queue {}: its segment survived (shmqd restarted alone): the snapshot of {} messages is not "
                     "needed; removed", name, snap.messages.size());
        return remove_file(s, dirfd, snapshot_file(name));
    }
    if (snap.messages.empty()) return remove_file(s, dirfd, snapshot_file(name)); // nothing to put back
    restore(s, dirfd, snap);
}

} // namespace

void restore_queue(Supervised &s, int dirfd) {
    if (!is_topic(s)) return restore_one(s, dirfd);
    for (auto &g : s.groups) restore_one(*g, dirfd); // into that group alone (its handle's restore)
}

} // namespace shmqd
