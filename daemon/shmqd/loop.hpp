// loop.hpp - one supervision tick of one queue, and the metrics sample taken
// from it. The daemon (daemon.cpp) runs tick_queue() over all its queues every
// tick_ms, or at once again while a queue still has work queued up.
#pragma once

#include "metrics.hpp"
#include "supervised.hpp"

#include <cstdint>

namespace shmqd {

// Slots one recovery pass scans for expired leases and due retries (a full
// pass whenever a client died); bounds a tick on very large queues.
constexpr uint32_t kRecoverBudget = 65536;

// heartbeat, recover, dead letters to disk, spill out or refill, redrive,
// periodic syncs. True if it moved a full batch (more work is waiting).
bool tick_queue(Supervised &s, const StoreDirs &dirs, int64_t now_ms);
// A topic's group's sample has the topic's name and the group (a label).
QueueSample sample_queue(const Supervised &s);

} // namespace shmqd
