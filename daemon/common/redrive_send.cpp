// redrive_send.cpp - redrive_batch() (redrive_send.hpp). Sending first and
// removing after means a crash in between leaves a record in the queue and
// in the store: redriven twice at worst, never lost.
#include "redrive_send.hpp"

namespace shmqd {

namespace store = shmq::store;

int redrive_batch(shmq::detail::Queue &q, store::DeadLetters &dlq, const std::vector<uint64_t> &ids, size_t max,
                  store::RedriveResult *res) {
    auto send = [&](const store::DeadLetterView &v) {
        shmq::detail::MessageMeta meta{v.meta.id, 0, v.meta.first_enqueue_ns};
        int rc = q.restore(meta, v.payload.data(), v.payload.size());
        if (rc == SHMQ_OK) return store::RedriveStep::Sent;
        return rc == SHMQ_EFULL ? store::RedriveStep::Stop : store::RedriveStep::Keep;
    };
    if (ids.empty()) return dlq.redrive_all(max, send, res);
    return dlq.redrive(ids, max, send, res);
}

} // namespace shmqd
