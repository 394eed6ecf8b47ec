// durable.hpp - the `reboot` durability of a queue (issue 17; the file is
// snapshot.hpp). At a clean stop shmqd copies every message of a `reboot`
// queue (ready, delayed, leased) out of its segment without taking it; at the
// next start, a snapshot whose segment is gone (a reboot cleared /dev/shm) is
// restored into the new segment, and one whose segment survived (shmqd alone
// restarted) is discarded, so nothing is delivered twice for that.
//
// Clients still running while the snapshot is taken are not stopped: a
// message acked after its copy comes back after a reboot (a duplicate), and
// one sent after the copy is in the segment only (lost to a reboot, kept by
// a restart of shmqd alone). The unit orders clients to stop first.
#pragma once

#include "supervised.hpp"

namespace shmqd {

// Write the snapshot of `s` into `dirfd`; of a topic, one per configured
// group (TOPIC.GROUP.snapshot: what that group still has to handle). False
// (logged) if one could not be written: those messages then survive a
// restart of shmqd, not a reboot.
bool snapshot_queue(Supervised &s, int dirfd);
// At start, with the segment open: restore the queue's snapshot from `dirfd`
// into it, or discard it if it is of this very segment. A torn or corrupt
// snapshot is refused whole and moved aside (logged); the queue goes on as
// it is. Messages that do not fit the segment go to the spill store. A
// topic's group snapshots go back into their group alone.
void restore_queue(Supervised &s, int dirfd);

} // namespace shmqd
