// orphans.cpp - the dead letters of a topic's groups that shmqd has no entry
// for: a group bound by hand (shmqctl group add) and not in the config, or a
// group removed by force (its messages became dead letters, reason
// group_removed). Left alone they would stay DEAD in the segment, each
// holding its payload slot, for ever. At most once a second each lane that is
// not a configured group's is looked at; one with dead letters gets a store
// TOPIC.GROUP (the name its lane holds; a configured group's store if the
// name is one) and they move there as a configured group's do: written (and
// synced) first, released after. A lane whose name gives no usable store name
// (longer than 64 characters) has its dead letters released with a logged
// count. A store name that another queue or group owns (a configured one's,
// `a.b` + `c` against a queue `a.b.c`, or another topic's hand-bound group,
// `a` + `b.c` against `a.b` + `c`: the store's lock says so) is refused:
// those dead letters stay in the segment, logged once. A store's redrive and
// purge requests (shmqctl dlq ... TOPIC --group GROUP) are served here too,
// since shmqd holds its writer lock: a redrive goes into the lane bound under
// that name now.
#include "moves.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>

namespace shmqd {

using shmq::detail::Queue;

namespace {

bool configured_lane(const Supervised &t, uint32_t k) {
    for (const auto &g : t.groups)
        if (g->q && g->q->lane() == k && still_bound(t, *g)) return true;
    return false;
}

uint64_t dead_in(Queue &lane) {
    shmq_stats st{};
    st.struct_size = sizeof st;
    return lane.stats(&st) == SHMQ_OK ? st.dead : 0;
}

// Another queue or group owns the store `name` would use: its dead letters
// stay in the segment (holding their payload slots) rather than be mixed
// into another's store or dropped. Logged once while it lasts.
void refuse(Supervised &t, const std::string &name, const std::string &store, const char *owner) {
    if (!t.orphan_refused.insert(store).second) return;
    spdlog::error("topic {}: group {} is not in the config and its dead-letter store {} belongs to {}: its dead "
                  "letters stay in the segment, holding payload slots, until the group is removed and they are "
                  "purged, or it is configured under a name that does not collide",
                  t.cfg.name, name, store, owner);
}

// The entry whose store takes group `name`'s dead letters, or null (none can
// now: refused, or its store failed to open; tried again in a second).
Supervised *store_for(Supervised &t, const std::string &name, const StoreDirs &dirs) {
    for (auto &g : t.groups)
        if (g->group == name) return g.get(); // a configured group's name, on another lane (re-bound by hand)
    const std::string store = group_store_name(t.cfg.name, name);
    if (dirs.configured.count(store) > 0) {
        refuse(t, name, store, "a configured queue or group");
        return nullptr;
    }
    if (auto it = t.orphans.find(store); it != t.orphans.end()) return it->second.get();
    auto o = std::make_unique<Supervised>();
    std::string why;
    if (int rc = supervise_orphan(t, name, dirs, o.get(), &why); rc == EWOULDBLOCK) {
        refuse(t, name, store, "another topic's group (its store is locked)");
        return nullptr;
    } else if (rc != 0) {
        spdlog::error("{} (group {} is not in the config; tried again in a second)", why, name);
        return nullptr;
    }
    t.orphan_refused.erase(store);
    spdlog::info("topic {}: group {} is not in the config: its dead letters go to the store {}", t.cfg.name, name,
                 store);
    return t.orphans.emplace(store, std::move(o)).first->second.get();
}

// No store can exist for them: free their payload slots, saying how many.
uint32_t release_unstorable(Supervised &t, Queue &lane, uint32_t k) {
    uint32_t n = lane.drain_dead([](const shmq::detail::Outgoing &) { return true; });
    if (n > 0)
        spdlog::warn("topic {}: lane {} holds a group whose store name is too long: "
                     "released {} of its dead letters without keeping them",
                     t.cfg.name, k, n);
    return n;
}

// The lane bound under `group` now, not a configured group's; max_groups if none.
uint32_t bound_lane(const Supervised &t, const std::string &group) {
    for (uint32_t k = 0; k < t.params.max_groups; ++k)
        if (!configured_lane(t, k) && t.q->lane_name(k) == group) return k;
    return t.params.max_groups;
}

} // namespace

bool still_bound(const Supervised &topic, const Supervised &g) {
    return g.q && topic.q->lane_name(g.q->lane()) == g.group;
}

uint32_t serve_orphan_requests(Supervised &t, const StoreDirs &dirs, int64_t now_ms) {
    uint32_t sent = 0;
    for (auto &entry : t.orphans) {
        Supervised &o = *entry.second;
        if (!o.redrive.active && now_ms < o.redrive.next_check_ms) continue; // nothing to look at yet
        uint32_t k = bound_lane(t, o.group); // again at each step: the group may be removed meanwhile
        o.publisher = k < t.params.max_groups ? t.q.get() : nullptr;
        o.lane_mask = k < t.params.max_groups ? 1u << k : 0;
        sent += redrive_step(o, dirs.dlq, now_ms);
    }
    return sent;
}

uint32_t drain_orphan_groups(Supervised &t, const StoreDirs &dirs, int64_t now_ms) {
    if (!t.cfg.topic() || now_ms < t.orphan_check_ms) return 0;
    t.orphan_check_ms = now_ms + 1000;
    uint32_t moved = 0;
    for (uint32_t k = 0; k < t.params.max_groups; ++k) {
        Queue *lane = t.q->lane_view(k);
        if (lane == nullptr || configured_lane(t, k) || dead_in(*lane) == 0) continue;
        std::string name = t.q->lane_name(k, true);
        if (name.empty() || shmq_name_check(group_store_name(t.cfg.name, name).c_str()) != SHMQ_OK) {
            moved += release_unstorable(t, *lane, k);
            continue;
        }
        Supervised *s = store_for(t, name, dirs);
        if (s == nullptr) continue;
        moved += drain_dead_letters(*s, lane);
        if (s->dlq_health.ok)
            if (int rc = s->dlq.flush_if_due(); rc != 0)
                store_failed(s, &s->dlq_health, "dead-letter store", rc, s->dlq.error());
    }
    return moved;
}

} // namespace shmqd
