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
int redrive_batch(shmq::detail::Queue &q, shmq::store::DeadLetters &dlq, const std::vector<uint64_t> &ids,
                  size_t max, shmq::store::RedriveResult *res);

} // namespace shmqd
