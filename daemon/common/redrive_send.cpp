// redrive_send.cpp - redrive_batch() and its commit (redrive_send.hpp).
// Sending first and removing after means a crash in between leaves a record
// in the queue and in the store: redriven twice at worst, never lost.
#include "redrive_send.hpp"

namespace shmqd {

namespace store = shmq::store;

int redrive_batch(shmq::detail::Queue &q, store::DeadLetters &dlq, const std::vector<uint64_t> &ids, size_t max,
                  store::RedriveCursor *cursor, store::RedriveResult *res, uint32_t groups) {
    auto send = [&](const store::DeadLetterView &v) {
        shmq::detail::MessageMeta meta{v.meta.id, 0, v.meta.first_enqueue_ns};
        shmq::detail::SendSpec spec;
        int rc = shmq::detail::read_header_block(v.headers.data(), v.headers.size(), &spec);
        if (rc == SHMQ_OK) rc = q.restore(meta, v.payload.data(), v.payload.size(), spec, groups);
        if (rc == SHMQ_OK) return store::RedriveStep::Sent;
        return rc == SHMQ_EFULL ? store::RedriveStep::Stop : store::RedriveStep::Keep;
    };
    return dlq.redrive_from(cursor, ids, max, send, res);
}

bool redrive_commit_due(const store::RedriveCursor &c, bool finished, int64_t ms_since_commit) {
    return finished || c.sent.size() >= kCommitRecords || (!c.sent.empty() && ms_since_commit >= kCommitMs);
}

int redrive_commit(store::DeadLetters &dlq, store::RedriveCursor *cursor) { return dlq.commit_redrive(cursor); }

} // namespace shmqd
