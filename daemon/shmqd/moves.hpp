// moves.hpp - what one tick does to one queue besides recovery: moving dead
// letters to disk, spilling overflow out, refilling from the spill, and
// carrying out a redrive request. Each returns how many messages it moved.
#pragma once

#include "supervised.hpp"

#include <cstdint>

namespace shmqd {

// Most messages one tick moves per queue and direction; a tick that hits it
// is followed by another at once.
constexpr uint32_t kMoveBatch = 256;

// Write DEAD slots (a batch at most) to the dead-letter store; each slot is
// freed only after its record was added (and synced, under fsync "always").
// `from`: another handle on the same segment whose DEAD slots go to s's store
// (a topic's lane view: a group shmqd has no entry for).
uint32_t drain_dead_letters(Supervised &s, shmq::detail::Queue *from = nullptr);
// A topic's groups that shmqd does not supervise (bound by hand, or removed):
// at most once a second, their dead letters go to stores TOPIC.GROUP too, so
// none holds a payload slot forever (orphans.cpp).
uint32_t drain_orphan_groups(Supervised &topic, const StoreDirs &dirs, int64_t now_ms);
// Whether configured group g's lane is bound under its name: false once it
// was removed (the lane then holds its dead letters, or a group bound since
// under another name: drain_orphan_groups moves those, shmqd does nothing
// else through g's handle).
bool still_bound(const Supervised &topic, const Supervised &g);
// Redrive and purge requests for those groups' stores (shmqd holds their
// writer locks, so no tool can carry them out): a redrive goes into the lane
// bound under the group's name now, and fails if none is.
uint32_t serve_orphan_requests(Supervised &topic, const StoreDirs &dirs, int64_t now_ms);
// READY above the high-water mark (overflow "spill"): move the oldest ready
// messages to the spill store, down to the middle mark.
uint32_t spill_out(Supervised &s);
// READY at or below the low-water mark: bring spilled messages back, oldest
// first, up to the middle mark, then commit the spill's cursor.
uint32_t refill(Supervised &s);
// Retention (dlq_max_records, dlq_max_age_ms): at most once a second, drop
// the dead letters beyond the caps in one rewrite. Not while a redrive runs
// (its cursor would lose the records it sent but has not removed yet).
void enforce_retention(Supervised &s, int64_t now_ms);
// Look for a redrive request and carry it out at its rate.
uint32_t redrive_step(Supervised &s, int dlq_dirfd, int64_t now_ms);

} // namespace shmqd
