// redrive_send.hpp - one step of a redrive, shared by the daemon and by
// ops::redrive (which runs it without a daemon): offer up to `max` selected
// dead letters to the queue, remove the ones that went in.
#pragma once

#include "store/dead_letters.hpp"
#include "queue.hpp"

#include <cstdint>
#include <vector>

namespace shmqd {

// A record goes back with its id and first-enqueue time and a delivery count
// of 0 (its next delivery is attempt 1). A full queue stops the step (the
// rest waits); a record larger than a slot stays a dead letter. Returns 0 or
// the store's errno (its error() says what).
// The step moves `cursor` on (DeadLetters::redrive_from): the records sent
// stay in the file until redrive_commit(). `groups` (a topic handle `q`):
// the bits of the groups to put them into (0: every bound group).
int redrive_batch(shmq::detail::Queue &q, shmq::store::DeadLetters &dlq, const std::vector<uint64_t> &ids,
                  size_t max, shmq::store::RedriveCursor *cursor, shmq::store::RedriveResult *res,
                  uint32_t groups = 0);

// When to remove the records sent so far (one rewrite of the dead-letter
// file): at the end, or once kCommitRecords were sent or kCommitMs passed
// since the last commit. This bounds what a crash redrives twice.
constexpr size_t kCommitRecords = 1024;
constexpr int64_t kCommitMs = 1000;
bool redrive_commit_due(const shmq::store::RedriveCursor &c, bool finished, int64_t ms_since_commit);
// Remove the sent records: 0 or the store's errno.
int redrive_commit(shmq::store::DeadLetters &dlq, shmq::store::RedriveCursor *cursor);

} // namespace shmqd
